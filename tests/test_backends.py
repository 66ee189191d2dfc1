"""Model code is backend-neutral: every model also builds, trains, saves and loads on JAX.

JAX is a test-only dependency (``make test`` installs it); students need only TensorFlow.
The check runs in a subprocess because a Keras backend is chosen once per process.
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cv_textbook import models

CHECK_ON_BACKEND = r"""
import json, sys
import keras
import numpy as np
from cv_textbook import models, tasks, train

assert keras.backend.backend() == sys.argv[1], keras.backend.backend()
rng = np.random.default_rng(0)
report = {}
for name, plan in json.loads(sys.argv[2]).items():
    spec = models.spec(name)
    model = models.build(name, **plan["kwargs"])
    height, width, channels = model.input_shape[1:]
    images = rng.integers(0, 256, (16, height, width, channels), dtype=np.uint8)
    loss = None
    if plan["train"]:
        classes = model.output_shape[-1]
        label_shape = (16,) if len(model.output_shape) == 2 else (16, height, width)  # classes or pixels
        labels = rng.integers(0, classes, label_shape)
        result = train.fit(model, (images, labels), epochs=1, batch_size=8, run_dir=f"{sys.argv[3]}/{name}",
                           resume=False, verbose=0, task=tasks.for_spec(spec))
        loss = result.history["loss"][-1]
    model.save(f"{sys.argv[3]}/{name}.keras")
    loaded = models.load_model(f"{sys.argv[3]}/{name}.keras")
    batch = images[:2].astype("float32") / 255.0
    difference = float(np.max(np.abs(model.predict(batch, verbose=0) - loaded.predict(batch, verbose=0))))
    report[name] = {"loss": loss, "difference": difference}
print("REPORT" + json.dumps(report))
"""


def run_on_backend(backend, plans, tmp_path):
    env = {**os.environ, "KERAS_BACKEND": backend}
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run(
        [sys.executable, "-c", CHECK_ON_BACKEND, backend, json.dumps(plans), str(tmp_path)],
        capture_output=True, text=True, env=env, cwd=root, timeout=1500,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(line for line in result.stdout.splitlines() if line.startswith("REPORT"))
    return json.loads(line[len("REPORT"):])


def builder_module(spec) -> str:
    return spec.builder.split(":")[0] if isinstance(spec.builder, str) else spec.name


# The models that also train an epoch on JAX, each for the package's own layers or blocks whose
# gradients it runs (LeNet-5 of 1998, with its subsampling and connection-table layers, trains on JAX
# in test_lenet.py). The other models are stock Keras layers in other arrangements: they build,
# predict, save and reload. Training one model of every family took 1,419 s of this test on the
# loaded 2-core CPU, GoogLeNet's 3.9 min and DenseNet's 2.6 min of it compiling their steps.
TRAINED_ON_JAX = {
    "lenet5": "the benchmarked model: convolutions, pooling, dense layers, the classification task",
    "alexnet": "LocalResponseNormalization and grouped convolutions",
    "resnet20": "the fused BatchNormalization and the zero-padding shortcut",
    "se_resnet20": "squeeze-and-excitation blocks",
    "unet_xception": "separable convolutions, upsampling, concatenation and the segmentation task",
}


def jax_plans() -> dict:
    """Every quick model builds, predicts, saves and reloads on JAX; those of ``TRAINED_ON_JAX`` also
    train an epoch."""
    quick = [spec for spec in models.specs() if spec.quick_tests]
    return {spec.name: {"kwargs": spec.test_kwargs, "train": spec.name in TRAINED_ON_JAX} for spec in quick}


# One JAX subprocess per builder module, so that `make test`'s two processes share them out: all of
# them in one subprocess took 1,115 s of CI's 1,879 s on one of its two processes.
MODULES = sorted({builder_module(spec) for spec in models.specs() if spec.quick_tests})


def test_the_models_trained_on_jax_are_quick_registered_models():
    plans = jax_plans()
    assert {name for name, plan in plans.items() if plan["train"]} == set(TRAINED_ON_JAX)


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed (`make test` installs it)")
@pytest.mark.parametrize("module", MODULES)
def test_every_model_runs_saves_and_loads_on_jax(module, tmp_path):
    plans = {name: plan for name, plan in jax_plans().items() if builder_module(models.spec(name)) == module}
    report = run_on_backend("jax", plans, tmp_path)
    assert sorted(report) == sorted(plans)
    for name, outcome in report.items():
        if plans[name]["train"]:
            assert outcome["loss"] == outcome["loss"] and outcome["loss"] > 0, f"{name}: loss {outcome['loss']}"
        assert outcome["difference"] < 1e-5, f"{name}: reloaded model differs by {outcome['difference']}"
