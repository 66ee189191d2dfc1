"""``python -m cv_textbook``: useful output, one-line errors, non-zero exits."""

import json
import os
import subprocess
import sys

import pytest

from cv_textbook import cli


def run_cli(*args):
    """The real entry point in a fresh interpreter, as a student would call it."""
    env = {**os.environ, "CV_TEXTBOOK_SMOKE": "1"}
    return subprocess.run([sys.executable, "-m", "cv_textbook", *args], capture_output=True, text=True, env=env,
                          timeout=300)


def test_list_groups_the_models_by_chapter_with_their_task(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    assert "Chapter 02: LeNet-5" in out and "Chapter 06: ResNet" in out
    assert out.index("Chapter 02") < out.index("lenet5") < out.index("Chapter 06") < out.index("resnet20")
    assert any(line.split()[:2] == ["unet_xception", "segmentation"] for line in out.splitlines())


def test_summary_prints_parameters_and_macs(capsys):
    assert cli.main(["summary", "lenet5"]) == 0
    out = capsys.readouterr().out
    assert "c1_conv" in out and "parameters: 61,706" in out and "multiply-accumulates" in out


def test_data_reports_where_the_files_are(capsys):
    assert cli.main(["data"]) == 0
    assert "60,000 training and 10,000 test images" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["summary", "alexnet9"], "unknown model 'alexnet9'"),
        (["train", "lenet5", "--epochs", "0"], "--epochs: must be at least 1"),
        (["train", "lenet5", "--batch-size", "many"], "--batch-size: expected a whole number"),
        (["fly"], "invalid choice: 'fly'"),
        (["train", "lenet5", "--labels", "semantic"], "is for segmentation models; lenet5 is a classifier"),
        (["train", "unet_xception", "--labels", "instance"], "--labels: invalid choice: 'instance'"),
        (["evaluate", "/nonexistent/run"], "model.keras does not exist"),
    ],
)
def test_mistakes_end_in_one_line_and_exit_status_2(argv, message, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_train_then_evaluate_through_the_real_entry_point(tmp_path):
    out = tmp_path / "run"
    trained = run_cli("train", "lenet5", "--out", str(out))
    assert trained.returncode == 0, trained.stderr
    assert "test accuracy" in trained.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("test_accuracy", "test_loss", "epochs", "examples_per_second", "device", "dataset_source"):
        assert key in metrics
    assert (out / "history.png").stat().st_size > 0

    evaluated = run_cli("evaluate", str(out))
    assert evaluated.returncode == 0, evaluated.stderr
    assert "on all 10,000 Fashion-MNIST test images" in evaluated.stdout


def test_unknown_model_through_the_real_entry_point_has_no_traceback():
    result = run_cli("train", "resnet9000")
    assert result.returncode == 2
    # The name is checked before TensorFlow is imported, so nothing else is printed.
    assert result.stderr.strip().startswith("cv_textbook: error: unknown model 'resnet9000'")
    assert "Traceback" not in result.stderr


def test_train_unet_xception_reports_mean_iou_and_evaluates_again(tmp_path):
    out = tmp_path / "unet"
    trained = run_cli("train", "unet_xception", "--out", str(out))
    assert trained.returncode == 0, trained.stderr
    assert "test mean IoU" in trained.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["task"] == "segmentation" and metrics["dataset"].startswith("fashion_mnist_canvases_trimap")
    assert len(metrics["test_iou_per_class"]) == 3

    evaluated = run_cli("evaluate", str(out))
    assert evaluated.returncode == 0, evaluated.stderr
    assert f"metrics.json claims test mean IoU {metrics['test_mean_iou']:.4f}" in evaluated.stdout
    assert f"test mean IoU {metrics['test_mean_iou']:.4f}" in evaluated.stdout


def test_train_unet_xception_on_semantic_labels(tmp_path):
    out = tmp_path / "semantic"
    trained = run_cli("train", "unet_xception", "--labels", "semantic", "--out", str(out))
    assert trained.returncode == 0, trained.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["labels"] == "semantic" and metrics["dataset"].startswith("fashion_mnist_canvases_semantic")
    assert metrics["classes"][0] == "background" and len(metrics["test_iou_per_class"]) == 11
