"""``python -m cv_textbook bench``: the report has every figure and a chart; speeds are never asserted.

Speed depends on the machine and on whatever else it is doing, so the tests only check that
each figure is there and is a positive number.
"""

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cv_textbook import bench, cli, config, device, models

ROOT = Path(__file__).resolve().parent.parent
REQUIRED = ("examples_per_second", "baseline_examples_per_second", "speedup", "test_accuracy",
            "baseline_test_accuracy", "peak_memory_mb")
SPEEDS = ("examples_per_second", "baseline_examples_per_second", "speedup", "input_pipeline_examples_per_second")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def positive(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


def check_model_report(result):
    for key in REQUIRED:
        assert key in result, key
    for key in SPEEDS:
        assert positive(result[key]), f"{key}: {result[key]!r}"
    assert positive(result["peak_memory_mb"])
    for key in ("test_accuracy", "baseline_test_accuracy"):
        assert 0.0 <= result[key] <= 1.0
    # smoke: one epoch of the 512 images less the 10 % that `train` holds out for validation
    assert result["epochs"] == 1 and result["test_examples"] == 256
    assert result["train_examples"] == 512 - round(512 * config.VALIDATION_FRACTION)
    for key in result["ways"]:  # a test accuracy after each epoch, and the training seconds up to it
        assert len(result["test_accuracy_per_epoch"][key]) == 1 == len(result["training_seconds_per_epoch"][key])
        assert positive(result["training_seconds_per_epoch"][key][0])
    assert result["test_accuracy_per_epoch"]["package"][-1] == result["test_accuracy"]
    assert result["test_accuracy_per_epoch"]["baseline"][-1] == result["baseline_test_accuracy"]
    difference = 100 * (result["test_accuracy"] - result["baseline_test_accuracy"])
    assert result["accuracy_difference_points"] == pytest.approx(difference)
    assert result["accuracy_within_0.3_points"] is (difference >= -0.3)


def test_smoke_benchmark_writes_every_figure_and_a_chart(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CV_TEXTBOOK_SMOKE", "1")
    path = tmp_path / "bench" / "report.json"
    assert cli.main(["bench", "--model", "lenet5", "--target", "0.05", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    assert "speed-up" in out and "Keras defaults, NumPy arrays" in out and f"wrote {path}" in out

    report = json.loads(path.read_text())
    assert report["budget"] == "smoke" and report["device"] and list(report["models"]) == ["lenet5"]
    result = report["models"]["lenet5"]
    check_model_report(result)
    assert result["batch_size"] == 64  # the lenet5 recipe's
    assert result["baseline_batch_size"] == 32  # Keras's default: what a student's first model.fit uses

    comparison = result["precision_comparison"]
    precisions = {result["precision"], bench.other_precision(result["precision"])}
    assert precisions <= set(comparison) and "mixed_bfloat16" in precisions
    for precision in precisions:
        assert positive(comparison[precision]["examples_per_second"])
        assert 0.0 <= comparison[precision]["test_accuracy"] <= 1.0
    assert isinstance(report["bfloat16"]["recommend_bfloat16_default"], bool)

    timing = result["time_to_accuracy"]  # a target every run reaches, to see it recorded
    assert timing["target"] == 0.05 and timing["reached"] and timing["epochs_to_target"] == 1
    assert timing["seconds_to_target"] == result["training_seconds_per_epoch"]["package"][0]
    assert timing["epoch_cap"] == 1 and timing["baseline"]["reached"]
    assert "time to 0.05 test accuracy: cv_textbook reached 0.05 after 1 epoch(s)" in out

    chart = bench.chart_path(path)
    assert chart == tmp_path / "bench" / "report.png"
    assert chart.read_bytes()[:8] == PNG_MAGIC


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed (`make test` installs it)")
def test_smoke_benchmark_runs_on_jax_with_numpy_batches(tmp_path):
    path = tmp_path / "report.json"
    env = {**os.environ, "KERAS_BACKEND": "jax", "CV_TEXTBOOK_SMOKE": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "cv_textbook", "bench", "--model", "lenet5", "--no-compare-precision",
         "--baseline-batch-size", "64", "--json", str(path)],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(path.read_text())
    assert report["backend"] == "jax"
    lenet = report["models"]["lenet5"]
    check_model_report(lenet)
    assert lenet["baseline_batch_size"] == 64 == lenet["batch_size"]
    assert "precision_comparison" not in lenet and list(lenet["ways"]) == ["baseline", "package"]
    assert lenet["time_to_accuracy"]["target"] == 0.91  # LeNet-5's own; one smoke epoch does not reach it
    assert bench.chart_path(path).read_bytes()[:8] == PNG_MAGIC


@pytest.mark.parametrize(
    "text, expected",
    [
        ("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 avx512_vnni\n", True),  # AMD Zen 4
        ("flags\t\t: fpu sse2 avx512f amx_bf16 amx_tile amx_int8\n", True),  # Intel Sapphire Rapids
        ("flags\t\t: fpu sse2 avx2 avx512f avx512_vnni\n", False),  # AVX-512 without bfloat16
        ("processor\t: 0\nFeatures\t: fp asimd sve bf16 i8mm\n", True),  # Arm (Graviton 3)
        ("Features\t: fp asimd evtstrm aes\n", False),
    ],
)
def test_bfloat16_support_comes_from_the_cpu_flags(tmp_path, text, expected):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(text)
    assert device.cpu_supports_bfloat16(cpuinfo) is expected


def test_no_cpuinfo_means_no_bfloat16(tmp_path, monkeypatch):
    monkeypatch.setattr(device.platform, "system", lambda: "Linux")
    assert device.cpu_supports_bfloat16(tmp_path / "missing") is False


def test_steady_speed_leaves_the_warm_up_epoch_out():
    assert bench.steady_examples_per_second([10.0, 1.0, 2.0, 1.0], 100) == 100  # median of 1, 2, 1
    assert bench.steady_examples_per_second([4.0], 100) == 25  # one epoch: all there is


def way_with(accuracies, epoch_seconds):
    clock = bench.EpochClock()
    clock.seconds = list(epoch_seconds)
    return bench.Way("package", "cv_textbook", None, None, clock, "float32", False, list(accuracies))


def test_time_to_target_is_the_first_epoch_that_reaches_it_with_all_training_seconds_until_then():
    way = way_with([0.50, 0.80, 0.93, 0.91, 0.95], [12.0, 5.0, 5.0, 5.0, 5.0])  # the first epoch compiles
    assert bench.time_to_target(way, 0.90) == {"reached": True, "epochs_to_target": 3, "seconds_to_target": 22.0}
    assert bench.time_to_target(way, 0.96) == {"reached": False, "epochs_to_target": None, "seconds_to_target": None}


def test_time_to_accuracy_reports_the_package_and_the_baseline():
    ways = {"package": way_with([0.90, 0.94], [20.0, 10.0]), "baseline": way_with([0.91, 0.92], [30.0, 25.0])}
    report = bench.time_to_accuracy_report(ways, 0.93, epochs=2)
    assert report["epochs_to_target"] == 2 and report["seconds_to_target"] == 30.0
    assert report["summary"] == "reached 0.93 after 2 epoch(s), 30 s of training"
    assert report["baseline"]["summary"] == "not reached in 2 epoch(s) (best 0.9200)"
    assert bench.time_to_accuracy_report(ways, None, epochs=2)["target"] is None


def test_targets_of_the_issue_sit_in_the_specs():
    targets = {spec.name: spec.bench_target for spec in models.specs() if spec.bench_target is not None}
    assert targets == {"lenet5": 0.91, "resnet20": 0.93}
    assert bench.DEFAULT_MODELS == ("lenet5", "resnet20")
    assert bench.ACCURACY_TOLERANCE == pytest.approx(0.003)  # 0.3 points, for the baseline and for bfloat16


def comparison(ratio, points):
    return {"bfloat16_speed_ratio": ratio, "bfloat16_accuracy_difference_points": points}


@pytest.mark.parametrize(
    "supported, kind, ratio, points, expected",
    [
        (True, "cpu", 1.4, -0.2, True),
        (True, "cpu", 1.4, -0.5, False),  # loses more than 0.3 points
        (True, "cpu", 0.8, 0.1, False),  # slower
        (False, "cpu", 1.4, 0.0, False),  # emulated bfloat16
        (True, "gpu", 1.4, 0.0, False),  # the rule is about CPUs
    ],
)
def test_bfloat16_becomes_the_default_only_when_supported_faster_and_as_accurate(supported, kind, ratio, points,
                                                                                 expected):
    report = {"cpu_supports_bfloat16": supported, "device_kind": kind,
              "models": {"lenet5": {"precision_comparison": comparison(ratio, points)},
                         "resnet20": {"precision_comparison": comparison(1.2, 0.0)}}}
    assert bench.bfloat16_verdict(report)["recommend_bfloat16_default"] is expected


@pytest.mark.parametrize(
    "argv, message",
    [
        (["bench", "--model", "alexnet9"], "unknown model 'alexnet9'"),
        (["bench", "--model", "unet_xception"], "unet_xception is a segmentation model"),
        (["bench", "--epochs", "0"], "--epochs: must be at least 1"),
        (["bench", "--target", "1.5"], "--target is a test accuracy between 0 and 1"),
        (["bench", "--precision", "int8"], "--precision: invalid choice: 'int8'"),
    ],
)
def test_bench_mistakes_end_in_one_line(argv, message, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err
