"""A run killed with SIGKILL and started again with the same command ends exactly where the
uninterrupted run ends: same weights, same test accuracy (same seed, one device)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from cv_textbook import models

EPOCHS = 4
ROOT = Path(__file__).resolve().parent.parent


def train_command(out: Path) -> list[str]:
    # Enough images that an epoch takes a few seconds, so the kill lands inside a later epoch.
    return [sys.executable, "-m", "cv_textbook", "train", "lenet5", "--epochs", str(EPOCHS), "--train-examples",
            "12000", "--out", str(out)]


def run(out: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "CV_TEXTBOOK_SMOKE": "0"}
    return subprocess.run(train_command(out), capture_output=True, text=True, env=env, cwd=ROOT, timeout=900)


def kill_after_epoch(out: Path, epoch: int) -> int:
    """Start the run and SIGKILL it as soon as its backup says ``epoch`` epochs are done."""
    env = {**os.environ, "CV_TEXTBOOK_SMOKE": "0"}
    process = subprocess.Popen(train_command(out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                               cwd=ROOT)
    metadata = out / "backup" / "training_metadata.json"
    deadline = time.monotonic() + 900
    try:
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if json.loads(metadata.read_text())["epoch"] >= epoch:
                    process.send_signal(signal.SIGKILL)
                    break
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.02)
        return process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()


def weights(run_dir: Path) -> list[np.ndarray]:
    return models.load_model(run_dir / "model.keras").get_weights()


def test_a_killed_run_resumes_to_the_same_weights_and_accuracy(tmp_path):
    straight = run(tmp_path / "straight")
    assert straight.returncode == 0, straight.stderr[-3000:]

    interrupted = tmp_path / "interrupted"
    assert kill_after_epoch(interrupted, 2) == -signal.SIGKILL
    done = json.loads((interrupted / "backup" / "training_metadata.json").read_text())["epoch"]
    assert 2 <= done < EPOCHS  # killed inside a later epoch, with its backup on disk
    resumed = run(interrupted)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"Resuming the interrupted run in {interrupted} after epoch {done} of {EPOCHS}" in resumed.stdout

    expected = json.loads((tmp_path / "straight" / "metrics.json").read_text())
    got = json.loads((interrupted / "metrics.json").read_text())
    assert got["test_accuracy"] == expected["test_accuracy"]
    assert got["epochs"] == EPOCHS
    for mine, theirs in zip(weights(interrupted), weights(tmp_path / "straight")):
        np.testing.assert_array_equal(mine, theirs)
