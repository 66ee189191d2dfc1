"""The 1998 LeNet-5 as the paper built it (LeCun, Bottou, Bengio & Haffner 1998, §II.B, Table I,
Appendix A): C3's connection table, trainable subsampling, the scaled tanh, their parameter
counts, and the layers that make them (models/layers.py), checked against NumPy and Keras."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from cv_textbook import models
from cv_textbook.models.layers import ConnectionTableConv2D, TrainableSubsampling, scaled_tanh
from cv_textbook.models.lenet import C3_CONNECTIONS, lenet5

ROOT = Path(__file__).resolve().parent.parent

# Table I of the paper as printed: a row per S2 map, a column per C3 map, X where they connect.
PAPER_TABLE_I = [
    "X...XXX..XXXX.XX",
    "XX...XXX..XXXX.X",
    "XXX...XXX..X.XXX",
    ".XXX..XXXX..X.XX",
    "..XXX..XXXX.XX.X",
    "...XXX..XXXX.XXX",
]

# Parameters of the 1998 variant at 28×28×1, C1 padding 'same', 10 classes (§II.B gives C1-F6):
PAPER_COUNTS = {
    "c1_conv": 5 * 5 * 1 * 6 + 6,  # 156: six 5×5 kernels on the one input map, a bias each
    "s2_pool": 2 * 6,  # 12: one coefficient and one bias per S2 map
    "c3_conv": 60 * 5 * 5 + 16,  # 1,516: 60 connected 5×5 kernels (Table I), 16 biases
    "s4_pool": 2 * 16,  # 32
    "c5_dense": 5 * 5 * 16 * 120 + 120,  # 48,120: C5's 5×5 kernels cover all of S4's 5×5×16 maps
    "f6_dense": 120 * 84 + 84,  # 10,164
    "output": 84 * 10 + 10,  # 850: a softmax Dense layer where the paper had fixed RBF units
}
PAPER_TOTAL = 60_850  # 156 + 12 + 1,516 + 32 + 48,120 + 10,164 + 850
LAYER_NAMES = ["image", "c1_conv", "s2_pool", "c3_conv", "s4_pool", "flatten", "c5_dense", "f6_dense",
               "output"]


def random_like(rng, weights):
    return [rng.normal(0.0, 0.5, w.shape).astype("float32") for w in weights]


def correlate_valid(image, kernel):
    """Cross-correlation of one 2-D map with one 2-D kernel, no padding (what Conv2D computes)."""
    kh, kw = kernel.shape
    out = np.zeros((image.shape[0] - kh + 1, image.shape[1] - kw + 1))
    for dy in range(kh):
        for dx in range(kw):
            out += kernel[dy, dx] * image[dy : dy + out.shape[0], dx : dx + out.shape[1]]
    return out


# ------------------------------------------------------------------ the network and its counts


def test_c3_connections_are_the_papers_table_one():
    from_paper = tuple(
        tuple(row for row in range(6) if PAPER_TABLE_I[row][column] == "X") for column in range(16)
    )
    assert C3_CONNECTIONS == from_paper
    assert sum(len(inputs) for inputs in C3_CONNECTIONS) == 60
    assert [len(inputs) for inputs in C3_CONNECTIONS] == [3] * 6 + [4] * 9 + [6]


def test_lenet5_1998_has_the_papers_parameter_counts():
    assert sum(PAPER_COUNTS.values()) == PAPER_TOTAL
    # The paper's "60,000 trainable parameters" are C1 to F6: its output units were fixed.
    assert PAPER_TOTAL - PAPER_COUNTS["output"] == 60_000
    model = lenet5(variant="1998")
    assert [layer.name for layer in model.layers] == LAYER_NAMES
    assert {name: model.get_layer(name).count_params() for name in PAPER_COUNTS} == PAPER_COUNTS
    assert model.count_params() == PAPER_TOTAL
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == PAPER_TOTAL
    shapes = [tuple(model.get_layer(name).output.shape[1:]) for name in LAYER_NAMES[1:5]]
    assert shapes == [(28, 28, 6), (14, 14, 6), (10, 10, 16), (5, 5, 16)]  # the paper's figure 2
    # The paper's own layout, 32×32 and a 'valid' C1, has the same sizes from C1 on.
    assert lenet5(input_shape=(32, 32, 1), variant="1998", c1_padding="valid").count_params() == PAPER_TOTAL
    backbone = lenet5(variant="1998", include_top=False)
    assert backbone.count_params() == 156 + 12 + 1_516 + 32 and backbone.output_shape == (None, 5, 5, 16)


def test_lenet5_1998_uses_the_papers_layers_and_squashing():
    model = models.build("lenet5", variant="1998")
    assert model.name == "lenet5_1998"
    assert isinstance(model.get_layer("s2_pool"), TrainableSubsampling)
    assert isinstance(model.get_layer("s4_pool"), TrainableSubsampling)
    assert isinstance(model.get_layer("c3_conv"), ConnectionTableConv2D)
    for name in ("c1_conv", "s2_pool", "c3_conv", "s4_pool", "c5_dense", "f6_dense"):
        assert model.get_layer(name).activation is scaled_tanh, name
    assert model.get_layer("output").activation.__name__ == "softmax"
    assert lenet5(input_shape=(12, 12, 1), variant="1998").output_shape == (None, 10)  # S4 down to 1×1


def test_the_simplified_and_modern_variants_keep_full_c3_and_plain_pooling():
    simplified, modern = lenet5(variant="1998_simplified"), lenet5(variant="modern")
    assert simplified.name == "lenet5_1998_simplified" and modern.name == "lenet5"
    for model, pooling, activation in [(simplified, keras.layers.AveragePooling2D, "tanh"),
                                       (modern, keras.layers.MaxPooling2D, "relu")]:
        assert [layer.name for layer in model.layers] == LAYER_NAMES
        assert type(model.get_layer("s2_pool")) is pooling and type(model.get_layer("s4_pool")) is pooling
        assert type(model.get_layer("c3_conv")) is keras.layers.Conv2D
        assert model.get_layer("c3_conv").count_params() == 5 * 5 * 6 * 16 + 16
        assert model.get_layer("c1_conv").activation.__name__ == activation


# ------------------------------------------------------------------ ConnectionTableConv2D


def test_connection_table_conv_equals_a_numpy_correlation_over_the_connected_maps():
    rng = np.random.default_rng(0)
    images = rng.normal(size=(2, 9, 8, 6)).astype("float32")
    layer = ConnectionTableConv2D(C3_CONNECTIONS, 5)
    layer.build(images.shape)
    kernel, bias = random_like(rng, layer.get_weights())
    layer.set_weights([kernel, bias])
    assert kernel.shape == (5, 5, 60) and bias.shape == (16,)

    expected = np.zeros((2, 5, 4, 16))
    connection = 0  # the kernel's slices follow the table: output map 0's inputs first
    for output_map, input_maps in enumerate(C3_CONNECTIONS):
        for input_map in input_maps:
            for example in range(2):
                expected[example, :, :, output_map] += correlate_valid(
                    images[example, :, :, input_map].astype("float64"), kernel[:, :, connection]
                )
            connection += 1
    expected += bias
    np.testing.assert_allclose(np.asarray(layer(images)), expected, atol=1e-4)


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_a_full_connection_table_computes_what_conv2d_computes(padding):
    rng = np.random.default_rng(1)
    images = rng.normal(size=(2, 7, 7, 4)).astype("float32")
    inputs, outputs = 4, 3
    ours = ConnectionTableConv2D([range(inputs)] * outputs, (3, 2), padding=padding, activation="tanh")
    conv = keras.layers.Conv2D(outputs, (3, 2), padding=padding, activation="tanh")
    ours.build(images.shape)
    conv.build(images.shape)
    kernel, bias = random_like(rng, ours.get_weights())
    ours.set_weights([kernel, bias])
    # Our slice o * inputs + i (output map o's i-th input) is Conv2D's kernel[:, :, i, o].
    conv.set_weights([kernel.reshape(3, 2, outputs, inputs).transpose(0, 1, 3, 2), bias])
    np.testing.assert_allclose(np.asarray(ours(images)), np.asarray(conv(images)), atol=1e-5)
    assert ours.compute_output_shape(images.shape) == conv.compute_output_shape(images.shape)


def test_missing_connections_are_zeros_of_the_full_kernel():
    layer = ConnectionTableConv2D(C3_CONNECTIONS, 5)
    layer.build((None, 14, 14, 6))
    layer.set_weights(random_like(np.random.default_rng(2), layer.get_weights()))
    full, kernel = np.asarray(layer.full_kernel()), layer.get_weights()[0]
    connection = 0
    for output_map in range(16):
        for input_map in range(6):
            if PAPER_TABLE_I[input_map][output_map] == "X":
                np.testing.assert_array_equal(full[:, :, input_map, output_map], kernel[:, :, connection])
                connection += 1
            else:
                assert not full[:, :, input_map, output_map].any(), (input_map, output_map)


def test_connected_kernels_start_as_conv2d_would_draw_them():
    seeded = keras.initializers.GlorotUniform(seed=7)
    layer = ConnectionTableConv2D([[0, 2], [1]], 3, kernel_initializer=seeded)
    layer.build((None, 8, 8, 3))
    # Glorot over the full 3×3×3×2 kernel, as Conv2D(2, 3) draws it: fan-in 27, fan-out 18.
    full = np.asarray(keras.initializers.GlorotUniform(seed=7)((3, 3, 3, 2)))
    kernel = layer.get_weights()[0]
    connected = [full[:, :, 0, 0], full[:, :, 2, 0], full[:, :, 1, 1]]  # (input, output) pairs in table order
    np.testing.assert_array_equal(kernel, np.stack(connected, axis=-1))


# ------------------------------------------------------------------ TrainableSubsampling, scaled tanh


def test_trainable_subsampling_is_a_window_sum_times_a_coefficient_plus_a_bias():
    rng = np.random.default_rng(3)
    images = rng.normal(size=(2, 7, 9, 3)).astype("float32")  # odd sides: the last row/column is dropped
    layer = TrainableSubsampling(2)
    layer.build(images.shape)
    coefficient, bias = random_like(rng, layer.get_weights())
    layer.set_weights([coefficient, bias])
    window_sums = images[:, :6, :8].reshape(2, 3, 2, 4, 2, 3).sum(axis=(2, 4))
    expected = window_sums * coefficient + bias
    got = np.asarray(layer(images))
    np.testing.assert_allclose(got, expected, atol=1e-5)
    # ...which is 4 × Keras's average pooling × the coefficient + the bias.
    average = np.asarray(keras.layers.AveragePooling2D(2)(images))
    np.testing.assert_allclose(got, 4 * average * coefficient + bias, atol=1e-5)
    squashed = TrainableSubsampling(2, activation=scaled_tanh)
    squashed.build(images.shape)
    squashed.set_weights([coefficient, bias])
    np.testing.assert_allclose(np.asarray(squashed(images)), 1.7159 * np.tanh(2 / 3 * expected), atol=1e-5)


def test_untrained_subsampling_is_average_pooling():
    images = np.random.default_rng(4).normal(size=(1, 6, 6, 2)).astype("float32")
    layer = TrainableSubsampling(3)
    average = np.asarray(keras.layers.AveragePooling2D(3)(images))
    np.testing.assert_allclose(np.asarray(layer(images)), average, atol=1e-6)
    assert layer.count_params() == 2 * 2


def test_scaled_tanh_is_the_papers_squashing_function():
    # Appendix A: f(a) = A tanh(S a), A = 1.7159, S = 2/3, so that f(1) = 1 and f(-1) = -1.
    a = np.array([-1.0, 0.0, 1.0, 50.0], dtype="float32")
    f = np.asarray(scaled_tanh(a))
    assert f[1] == 0.0
    np.testing.assert_allclose(f[2], 1.7159 * np.tanh(2 / 3), rtol=1e-6)
    np.testing.assert_allclose(f[[0, 2]], [-1.0, 1.0], atol=1e-4)
    np.testing.assert_allclose(f[3], 1.7159, rtol=1e-6)  # saturates at ±A
    assert keras.activations.get(keras.activations.serialize(scaled_tanh)) is scaled_tanh


# ------------------------------------------------------------------ saving, backends, precision


SAVED_MODEL_CHECK = r"""
import sys
import numpy as np
from cv_textbook import models

model = models.load_model(sys.argv[1])  # keras.models.load_model under the default safe_mode
batch, expected = np.load(sys.argv[2]), np.load(sys.argv[3])
print("DIFFERENCE", float(np.abs(model.predict(batch, verbose=0) - expected).max()))
"""


def test_lenet5_1998_saves_and_loads_in_safe_mode_in_a_fresh_process(tmp_path):
    model = lenet5(variant="1998")
    rng = np.random.default_rng(5)
    model.set_weights(random_like(rng, model.get_weights()))  # subsampling coefficients too, not 1/4
    batch = rng.random((3, 28, 28, 1), dtype=np.float32)
    model.save(tmp_path / "lenet5_1998.keras")
    np.save(tmp_path / "batch.npy", batch)
    np.save(tmp_path / "expected.npy", model.predict(batch, verbose=0))
    result = subprocess.run(
        [sys.executable, "-c", SAVED_MODEL_CHECK, *(str(tmp_path / f) for f in
                                                     ("lenet5_1998.keras", "batch.npy", "expected.npy"))],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    difference = float(result.stdout.split("DIFFERENCE")[-1])
    assert difference < 1e-6


TRAIN_ON_JAX = r"""
import json
import keras
import numpy as np
from cv_textbook.models.lenet import lenet5

model = lenet5(variant="1998")
rng = np.random.default_rng(0)
images, labels = rng.random((64, 28, 28, 1), dtype=np.float32), rng.integers(0, 10, 64)
before = {layer: [w.copy() for w in model.get_layer(layer).get_weights()] for layer in ("s2_pool", "c3_conv")}
model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
history = model.fit(images, labels, epochs=1, batch_size=32, verbose=0)
after = {layer: model.get_layer(layer).get_weights() for layer in before}
kernel_change = np.abs(after["c3_conv"][0] - before["c3_conv"][0]).max(axis=(0, 1))
print("REPORT" + json.dumps({
    "backend": keras.backend.backend(),
    "loss": history.history["loss"][-1],
    "connected_kernels_that_moved": int((kernel_change > 0).sum()),
    "subsampling_moved": all(bool((a != b).any()) for a, b in zip(after["s2_pool"], before["s2_pool"])),
}))
"""


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed")
def test_lenet5_1998_trains_on_jax():
    result = subprocess.run(
        [sys.executable, "-c", TRAIN_ON_JAX], capture_output=True, text=True, cwd=ROOT, timeout=300,
        env={**os.environ, "KERAS_BACKEND": "jax"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.split("REPORT")[-1])
    assert report["backend"] == "jax"
    assert np.isfinite(report["loss"]) and report["loss"] > 0
    assert report["connected_kernels_that_moved"] == 60  # every connected kernel gets a gradient
    assert report["subsampling_moved"]


def test_lenet5_1998_runs_in_mixed_precision():
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        model = lenet5(variant="1998")
        probabilities = np.asarray(model(np.random.default_rng(6).random((2, 28, 28, 1), dtype=np.float32)))
    finally:
        keras.config.set_dtype_policy(previous)
    c3 = model.get_layer("c3_conv")
    assert c3.compute_dtype == "bfloat16" and c3.kernel.dtype == "float32"
    assert probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


# ------------------------------------------------------------------ arguments


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"connections": 5}, r"connections must be a sequence with one entry per output map"),
        ({"connections": []}, r"connections must list at least one output map"),
        ({"connections": [[0], []]}, r"connections\[1\] is empty.*smallest valid entry"),
        ({"connections": [[0, 1, 0]]}, r"connections\[0\] = \(0, 1, 0\) reads an input map twice"),
        ({"connections": [[0, -1]]}, r"connections\[0\]\[1\] must be an integer of at least 0"),
        ({"connections": [[0.5]]}, r"connections\[0\]\[0\] must be an integer"),
        ({"kernel_size": 0}, r"kernel_size must be an integer of at least 1"),
        ({"kernel_size": (5, 0)}, r"kernel_size\[1\] must be an integer of at least 1"),
        ({"padding": "full"}, r"padding must be one of \('valid', 'same'\)"),
        ({"use_bias": "yes"}, r"use_bias must be True or False"),
    ],
)
def test_bad_connection_table_arguments_raise_errors_that_name_them(kwargs, message):
    arguments = {"connections": C3_CONNECTIONS, "kernel_size": 5, **kwargs}
    with pytest.raises(ValueError, match=message):
        ConnectionTableConv2D(**arguments)


def test_a_table_that_reads_a_missing_input_map_is_refused_at_build():
    with pytest.raises(ValueError, match=r"connections\[2\] = \(2, 3, 4\) reads input map 4, but the "
                                         r"input has 4 maps, numbered 0 to 3"):
        ConnectionTableConv2D(C3_CONNECTIONS, 5)(keras.Input((14, 14, 4)))


def test_bad_subsampling_and_variant_arguments_raise_errors_that_name_them():
    with pytest.raises(ValueError, match=r"pool_size must be an integer of at least 1.*S2 and S4 use 2"):
        TrainableSubsampling(0)
    with pytest.raises(ValueError, match=r"variant must be one of \('modern', '1998', '1998_simplified'\)"):
        lenet5(variant="1989")
