"""More than one device: one CPU split in two trains like one device, through the package.

TensorFlow accepts a logical-device split only before it first uses its devices, so the
two-replica runs happen in a fresh interpreter.
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import keras
import pytest

from cv_textbook import distribute

ROOT = Path(__file__).resolve().parent.parent

TWO_REPLICAS = r"""
import dataclasses, json, os, sys
from cv_textbook.quiet import import_tensorflow_quietly
import_tensorflow_quietly()
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
)
from cv_textbook import device, distribute, models, train
from cv_textbook.data import load_fashion_mnist, subset

report = {}
chosen = distribute.choose_strategy()  # what run_experiment picks on this split CPU
report["chosen"] = type(chosen).__name__
report["chosen_replicas"] = distribute.replicas(chosen)

(x_train, y_train), (x_test, y_test) = load_fashion_mnist(download=False)
x, y = subset(x_train, y_train, 2048, seed=0)
x_test, y_test = subset(x_test, y_test, 1000, seed=0)
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
report["replicas"] = strategy.num_replicas_in_sync
for name, run_strategy in (("two", strategy), ("one", None)):
    replicas = distribute.replicas(run_strategy)
    train.seed_everything(0)
    with distribute.scope(run_strategy):  # build, compile and train as run_experiment does
        model = models.build("lenet5")
        result = train.fit(model, (x, y), epochs=2, batch_size=128, seed=0, run_dir=f"{sys.argv[1]}/{name}",
                           verbose=0)
    report[name] = {"loss": result.history["loss"], **train.evaluate(model, x_test, y_test)}
    report[name]["variable"] = type(model.trainable_variables[0].value).__name__

# A GPU's setup asks for XLA, which Keras cannot run under a strategy: compile leaves it off.
gpu_setup = dataclasses.replace(device.training_setup(), jit_compile=True)
with strategy.scope():
    model = models.build("lenet5")
    result = train.fit(model, (x, y), epochs=1, batch_size=128, seed=0, run_dir=f"{sys.argv[1]}/xla", verbose=0,
                       setup=gpu_setup)
report["xla_asked"] = {"jit_compile": model.jit_compile, "loss": result.history["loss"]}

os.environ["CV_TEXTBOOK_SMOKE"] = "1"
metrics = train.run_experiment("lenet5", out=f"{sys.argv[1]}/experiment", verbose=0)
report["experiment"] = {key: metrics[key] for key in ("replicas", "batch_size", "global_batch_size", "test_accuracy",
                                                     "jit_compile")}
print("REPORT" + json.dumps(report))
"""

ONE_WORKER_CLUSTER = r"""
import json, os, sys
from cv_textbook.quiet import import_tensorflow_quietly
import_tensorflow_quietly()
import tensorflow as tf
from cv_textbook import distribute, train

strategy = distribute.choose_strategy()
metrics = train.run_experiment("lenet5", out=sys.argv[1], verbose=0)
print("REPORT" + json.dumps({"multi_worker": isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy),
                             "replicas": metrics["replicas"], "test_accuracy": metrics["test_accuracy"]}))
"""


def run_script(script, *args, env=None):
    result = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True, text=True, cwd=ROOT, timeout=600,
        env={**os.environ, "KERAS_BACKEND": "tensorflow", **(env or {})},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(line for line in result.stdout.splitlines() if line.startswith("REPORT"))
    return json.loads(line[len("REPORT"):])


def test_one_device_needs_no_strategy(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        if len(tf.config.list_logical_devices("GPU")) > 1 or len(tf.config.list_logical_devices("CPU")) > 1:
            pytest.skip("this process sees more than one device")
    strategy = distribute.choose_strategy()
    assert strategy is None
    assert distribute.replicas(strategy) == 1
    with distribute.scope(strategy):  # a no-op block
        pass


def test_other_backends_get_no_tf_strategy(monkeypatch):
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    monkeypatch.setenv("TF_CONFIG", '{"cluster": {"worker": ["localhost:1"]}, "task": {"type": "worker", "index": 0}}')
    assert distribute.choose_strategy() is None


def test_two_cpu_replicas_train_like_one_device(tmp_path):
    report = run_script(TWO_REPLICAS, str(tmp_path), env={"CV_TEXTBOOK_SMOKE": ""})
    assert report["chosen"] == "MirroredStrategy" and report["chosen_replicas"] == 2
    assert report["replicas"] == 2
    two, one = report["two"], report["one"]
    assert two["variable"] == "MirroredVariable" and one["variable"] != "MirroredVariable"
    assert two["loss"][1] < two["loss"][0]
    # Same global batch, same data, same seed: the same learning, up to the order of sums.
    assert two["test_accuracy"] > 0.5
    assert abs(two["test_accuracy"] - one["test_accuracy"]) < 0.1
    assert report["xla_asked"]["jit_compile"] is False
    assert all(loss == loss for loss in report["xla_asked"]["loss"])  # trained, and not to NaN
    experiment = report["experiment"]
    assert experiment["replicas"] == 2 and experiment["jit_compile"] is False
    assert experiment["global_batch_size"] == 2 * experiment["batch_size"]


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf.distribute is for the TensorFlow backend")
def test_a_cluster_of_several_workers_is_refused_with_a_clear_message(monkeypatch):
    """Keras 3.15 + TensorFlow 2.21: model.fit fails under MultiWorkerMirroredStrategy with two
    workers (checked with two processes on one machine), so the run stops before it starts."""
    cluster = {"cluster": {"worker": ["host-a:12345", "host-b:12345"]}, "task": {"type": "worker", "index": 0}}
    monkeypatch.setenv("TF_CONFIG", json.dumps(cluster))
    assert distribute.cluster_workers() == 2
    with pytest.raises(ValueError, match="cluster of 2 workers.*keras-team/keras/issues/20585"):
        distribute.choose_strategy()
    monkeypatch.setenv("TF_CONFIG", "not json")
    with pytest.raises(ValueError, match="TF_CONFIG must be a JSON object"):
        distribute.cluster_workers()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("localhost", 0))
        return sock.getsockname()[1]


def test_tf_config_gives_a_multi_worker_run(tmp_path):
    """A one-worker cluster: the same code path as two machines, without the second machine."""
    tf_config = {"cluster": {"worker": [f"localhost:{free_port()}"]}, "task": {"type": "worker", "index": 0}}
    report = run_script(
        ONE_WORKER_CLUSTER, str(tmp_path / "run"), env={"TF_CONFIG": json.dumps(tf_config), "CV_TEXTBOOK_SMOKE": "1"}
    )
    assert report["multi_worker"]
    assert report["replicas"] == 1
    assert 0.0 <= report["test_accuracy"] <= 1.0
    assert (tmp_path / "run" / "metrics.json").is_file()
