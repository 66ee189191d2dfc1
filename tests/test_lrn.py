"""AlexNet's local response normalisation: the paper's formula, TensorFlow's op, safe saving, JAX."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from cv_textbook.models.layers import LocalResponseNormalization


def paper_formula(a, n=5, k=2.0, alpha=1e-4, beta=0.75):
    """Krizhevsky et al. (2012), §3.3, transcribed: b[x,y,i] = a[x,y,i] / (k + α Σ_j a[x,y,j]²)^β,
    j from max(0, i − n/2) to min(N − 1, i + n/2)."""
    channels = a.shape[-1]
    b = np.empty_like(a, dtype=np.float64)
    for i in range(channels):
        low, high = max(0, i - n // 2), min(channels - 1, i + n // 2)
        b[..., i] = a[..., i] / (k + alpha * np.sum(a[..., low : high + 1].astype(np.float64) ** 2, axis=-1)) ** beta
    return b


def activations(shape=(2, 5, 5, 11), scale=40.0):
    # ReLU outputs large enough that the normalisation bites (α Σ a² comparable to k)
    return np.abs(np.random.default_rng(0).normal(0.0, scale, shape)).astype("float32")


def test_lrn_is_the_papers_formula():
    a = activations()
    got = keras.ops.convert_to_numpy(LocalResponseNormalization()(a))
    np.testing.assert_allclose(got, paper_formula(a), rtol=1e-5)
    assert np.max(np.abs(got - a / 2.0**0.75)) > 1e-2  # the sum of squares matters, not only k


@pytest.mark.parametrize("size, k, alpha, beta", [(5, 2.0, 1e-4, 0.75), (3, 1.0, 1e-3, 0.5)])
def test_lrn_equals_tensorflows_op_with_radius_n_minus_1_over_2(size, k, alpha, beta):
    a = activations()
    ours = LocalResponseNormalization(size=size, k=k, alpha=alpha, beta=beta)(a)
    # TensorFlow sums over depth_radius channels on each side and does not divide alpha by n
    theirs = tf.nn.local_response_normalization(a, depth_radius=(size - 1) // 2, bias=k, alpha=alpha, beta=beta)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(ours), theirs.numpy(), rtol=1e-5)


def test_lrn_has_no_weights_and_keeps_the_shape_and_the_policy():
    layer = LocalResponseNormalization(dtype="mixed_bfloat16")
    outputs = layer(activations())
    assert layer.count_params() == 0 and tuple(outputs.shape) == (2, 5, 5, 11)
    assert keras.backend.standardize_dtype(outputs.dtype) == "bfloat16"


def test_lrn_saves_and_loads_in_safe_mode_in_a_fresh_process(tmp_path):
    inputs = keras.Input((5, 5, 11))
    model = keras.Model(inputs, LocalResponseNormalization(size=3, alpha=2e-4, name="norm1")(inputs))
    path = tmp_path / "lrn.keras"
    model.save(path)
    a = activations()
    np.save(tmp_path / "a.npy", a)
    script = ("import sys, numpy as np; from cv_textbook import models; m = models.load_model(sys.argv[1]); "
              "print(float(np.max(np.abs(m.predict(np.load(sys.argv[2]), verbose=0)))), m.get_layer('norm1').size)")
    result = subprocess.run([sys.executable, "-c", script, str(path), str(tmp_path / "a.npy")], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    largest, size = result.stdout.split()[-2:]
    assert size == "3"
    assert float(largest) == pytest.approx(float(np.max(np.abs(model.predict(a, verbose=0)))), rel=1e-6)


def test_lrn_runs_on_jax():
    script = ("import numpy as np, keras; from cv_textbook.models.layers import LocalResponseNormalization as L; "
              "a = np.abs(np.random.default_rng(0).normal(0, 40, (2, 5, 5, 11))).astype('float32'); "
              "print(keras.backend.backend(), float(keras.ops.convert_to_numpy(L()(a)).sum()))")
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    backend, total = result.stdout.split()[-2:]
    assert backend == "jax" and float(total) == pytest.approx(paper_formula(activations()).sum(), rel=1e-5)


@pytest.mark.parametrize("kwargs, message", [
    ({"size": 4}, "size must be odd"),
    ({"size": 0}, "size must be an integer of at least 1"),
    ({"k": -1}, "k must be a number of at least 0"),
    ({"beta": "3/4"}, "beta must be a number"),
])
def test_lrn_refuses_bad_arguments_by_name(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LocalResponseNormalization(**kwargs)
