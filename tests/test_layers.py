"""The package's BatchNormalization: Keras's layer, trained with TensorFlow's fused kernel.

It must compute what keras.layers.BatchNormalization computes (outputs, gradients, moving
statistics), in float32 and in mixed bfloat16, and it must really use the fused kernel when
training on TensorFlow (the speed it exists for).
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from cv_textbook.models.layers import BatchNormalization

CHANNELS = 5


def _twin_layers(kwargs, dtype):
    """Keras's layer and ours, built alike, with distinct gamma and beta per channel."""
    pair = []
    for cls in (keras.layers.BatchNormalization, BatchNormalization):
        layer = cls(dtype=dtype, **kwargs)
        layer.build((None, 7, 7, CHANNELS))
        if layer.scale:
            layer.gamma.assign(np.linspace(0.5, 1.5, CHANNELS))
        if layer.center:
            layer.beta.assign(np.linspace(-1.0, 1.0, CHANNELS))
        pair.append(layer)
    return pair


def _training_step(layer, images):
    """Outputs, gradients (input, then each trainable weight) and moving statistics, as float32."""
    inputs = tf.cast(images, layer.compute_dtype)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        outputs = layer(inputs, training=True)
        # a loss that weights every position differently, so no gradient is trivially zero
        weights = tf.reshape(tf.range(tf.size(outputs), dtype="float32") % 7.0, outputs.shape)
        loss = tf.reduce_sum(tf.cast(outputs, "float32") * weights)
    gradients = tape.gradient(loss, [inputs, *layer.trainable_weights])
    values = [outputs, *gradients, layer.moving_mean, layer.moving_variance]
    return [np.asarray(tf.cast(value, "float32")) for value in values]


@pytest.mark.parametrize("dtype", ["float32", "mixed_bfloat16"])
@pytest.mark.parametrize(
    "kwargs",
    [{}, {"epsilon": 1.001e-5, "momentum": 0.9}, {"center": False}, {"scale": False}],
    ids=["defaults", "resnet_epsilon", "no_beta", "no_gamma"],
)
def test_training_step_equals_keras_batch_normalization(dtype, kwargs):
    images = np.random.default_rng(0).normal(2.0, 3.0, (8, 7, 7, CHANNELS)).astype("float32")
    keras_layer, ours = _twin_layers(kwargs, dtype)
    expected, got = _training_step(keras_layer, images), _training_step(ours, images)
    names = ["outputs", "input gradient", *[f"{w.name} gradient" for w in ours.trainable_weights],
             "moving mean", "moving variance"]
    assert len(expected) == len(got) == len(names)
    # The kernel sums the 8·7·7 = 392 positions of a channel in another order than Keras: float32
    # rounding may then differ by up to 392 · 2**-23 ≈ 4.7e-5 of the largest value (1.9e-5 seen on
    # an AVX2 CPU; 1e-5 had passed on an AVX-512 one). In mixed bfloat16 a value's last rounding to
    # bfloat16 may also land one step apart: one unit in its last place, 2**-7 of it at most.
    rtol = 2.0**-7 if dtype == "mixed_bfloat16" else 0.0
    for name, want, have in zip(names, expected, got):
        scale = max(1.0, float(np.abs(want).max()))
        np.testing.assert_allclose(have, want, atol=5e-5 * scale, rtol=rtol, err_msg=name)


def test_inference_is_keras_code_exactly():
    images = np.random.default_rng(1).normal(0.0, 2.0, (4, 7, 7, CHANNELS)).astype("float32")
    keras_layer, ours = _twin_layers({}, "float32")
    for layer in (keras_layer, ours):
        layer.moving_mean.assign(np.linspace(-0.3, 0.3, CHANNELS))
        layer.moving_variance.assign(np.linspace(0.5, 2.0, CHANNELS))
    np.testing.assert_array_equal(
        np.asarray(ours(images, training=False)), np.asarray(keras_layer(images, training=False))
    )


def _operation_types(layer, shape, training=True):
    function = tf.function(lambda x: layer(x, training=training))
    graph = function.get_concrete_function(tf.TensorSpec(shape, layer.compute_dtype)).graph
    return {operation.type for operation in graph.get_operations()}


@pytest.mark.parametrize("dtype", ["float32", "mixed_bfloat16"])
def test_training_on_tensorflow_runs_the_fused_kernel(dtype):
    layer = BatchNormalization(dtype=dtype)
    layer.build((None, 7, 7, CHANNELS))
    assert "FusedBatchNormV3" in _operation_types(layer, (8, 7, 7, CHANNELS))
    assert "FusedBatchNormV3" not in _operation_types(layer, (8, 7, 7, CHANNELS), training=False)


@pytest.mark.parametrize(
    "kwargs, shape",
    [({}, (8, CHANNELS)), ({"axis": 1}, (8, CHANNELS, 7, 7))],
    ids=["rank_2", "channels_first"],
)
def test_other_layouts_fall_back_to_keras_code(kwargs, shape):
    layer = BatchNormalization(**kwargs)
    layer.build((None, *shape[1:]))
    assert "FusedBatchNormV3" not in _operation_types(layer, shape)
    images = np.random.default_rng(2).normal(1.0, 2.0, shape).astype("float32")
    reference = keras.layers.BatchNormalization(**kwargs)
    reference.build((None, *shape[1:]))
    np.testing.assert_allclose(np.asarray(layer(images, training=True)),
                               np.asarray(reference(images, training=True)), atol=1e-5)


def test_one_value_per_channel_gives_no_nan():
    # A 1x1 feature map of a single image: the batch variance is 0 and its Bessel correction
    # n/(n-1) would divide by zero.
    keras_layer, ours = _twin_layers({}, "float32")
    single = np.full((1, 1, 1, CHANNELS), 3.0, "float32")
    expected, got = _training_step(keras_layer, single), _training_step(ours, single)
    for want, have in zip(expected, got):
        assert np.isfinite(have).all()
        np.testing.assert_allclose(have, want, atol=1e-5)
