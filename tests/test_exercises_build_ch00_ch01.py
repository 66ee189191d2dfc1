"""The exercises where the student builds something in chapters 00 and 01: the check builds the
student's thing and compares it with a reference. Chapter 00's normalise() is compared output by
output on real images; chapter 01's network with a global-average-pooling head is compared by
parameter count and, with the reference's weights copied in, by its outputs on fixed inputs."""

import keras
import numpy as np
import pytest
from keras import layers

from cv_textbook.exercises import ch00, ch01
from exercise_feedback import assert_correct, assert_fill_in, assert_hint

# ---------------------------------------------------------------------------
# Chapter 00: normalise(images), compared output by output
# ---------------------------------------------------------------------------


def test_ch00_normalise_is_compared_value_by_value_not_only_by_dtype_and_range(capsys):
    def mirrored(images):  # float32, [0, 1], the right shape: only the pixels' places are wrong
        return images[:, :, ::-1].astype("float32") / 255.0

    def first_image_only(images):
        scaled = images.astype("float32") / 255.0
        return np.broadcast_to(scaled[:1], scaled.shape).copy()

    assert_correct(capsys, ch00.check_normalise, lambda images: images.astype("float32") / 255.0)
    assert_hint(capsys, ch00.check_normalise, mirrored, "expected values from 0.0")
    assert_hint(capsys, ch00.check_normalise, first_image_only, "expected values from 0.0")


# ---------------------------------------------------------------------------
# Chapter 01: a CNN with a global-average-pooling head, built with the functional API
# ---------------------------------------------------------------------------

# The question's network, counted by hand: 3x3x1x16 + 16, 3x3x16x32 + 32, then a Dense layer on the
# 32 channel averages: 32x10 + 10.
EXPECTED_PARAMS = (3 * 3 * 1 * 16 + 16) + (3 * 3 * 16 * 32 + 32) + (32 * 10 + 10)
assert EXPECTED_PARAMS == 5_130


def student_cnn(input_shape=(None, None, 1), filters=(16, 32), kernel_size=3, padding="same",
                activation="relu", pool="max", head="gap", output_activation="softmax", use_bias=True,
                units=10, pool_first=False, hidden=None):
    """What a student writes, written here independently of the check, with the usual slips."""
    inputs = keras.Input(input_shape)
    x = inputs
    for n in filters:
        pooling = {"max": layers.MaxPooling2D(2), "average": layers.AveragePooling2D(2), None: None}[pool]
        if pool_first and pooling is not None:
            x = pooling(x)
        x = layers.Conv2D(n, kernel_size, padding=padding, activation=activation, use_bias=use_bias)(x)
        if not pool_first and pooling is not None:
            x = pooling(x)
    pooled = {"gap": layers.GlobalAveragePooling2D, "gmp": layers.GlobalMaxPooling2D}
    x = pooled[head]()(x) if head in pooled else layers.Flatten()(x)
    if hidden:
        x = layers.Dense(hidden, activation="relu")(x)
    outputs = layers.Dense(units, activation=output_activation)(x)
    return keras.Model(inputs, outputs)


def test_ch01_gap_cnn_the_question_s_network_is_correct_and_has_5130_parameters(capsys):
    model = student_cnn()
    assert model.count_params() == EXPECTED_PARAMS
    result = ch01.check_gap_cnn(model)
    out = capsys.readouterr().out
    assert result is True and out.startswith("Correct!"), out
    assert "5,130 parameters" in out
    # The head: 32 x 10 + 10 = 330; a Flatten head on the 7x7x32 map: 7*7*32*10 + 10 = 15,690.
    assert "330" in out and "15,690" in out


def test_ch01_gap_cnn_accepts_other_spellings_of_the_same_network(capsys):
    inputs = keras.Input((None, None, 1))
    x = layers.Conv2D(16, (3, 3), padding="same")(inputs)
    x = layers.ReLU()(x)
    x = layers.MaxPooling2D(pool_size=(2, 2))(x)
    x = layers.Conv2D(32, 3, padding="same")(x)
    x = layers.Activation("relu")(x)
    x = layers.MaxPooling2D()(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(10)(x)
    separate = keras.Model(inputs, layers.Softmax()(x))
    assert_correct(capsys, ch01.check_gap_cnn, separate)
    sequential = keras.Sequential([
        keras.Input((None, None, 1)),
        layers.Conv2D(16, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(2),
        layers.Conv2D(32, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(2),
        layers.GlobalAveragePooling2D(),
        layers.Dense(10, activation="softmax"),
    ])
    assert_correct(capsys, ch01.check_gap_cnn, sequential)
    assert_correct(capsys, ch01.check_gap_cnn, student_cnn)  # a function that builds it


def test_ch01_gap_cnn_leaves_the_student_s_weights_alone(capsys):
    model = student_cnn()
    before = [w.copy() for w in model.get_weights()]
    assert_correct(capsys, ch01.check_gap_cnn, model)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        # wrong parameter counts
        ({"input_shape": (28, 28, 1), "head": "flatten"}, "you flattened"),
        ({"filters": (32, 16)}, "the first block has 32 filters; the question asks for 16 in the first"),
        ({"kernel_size": 5}, "5x5 kernels"),
        ({"input_shape": (None, None, 3)}, "3 channels"),
        ({"use_bias": False}, "no biases"),
        ({"units": 5}, "5 units"),
        ({"hidden": 64}, "layers with weights"),
        # the right count, the wrong outputs with the reference's weights copied
        ({"activation": None}, "no ReLU"),
        ({"padding": "valid"}, "padding='valid'"),
        ({"pool": None}, "max-pooling layers are missing"),
        ({"pool": "average"}, "AveragePooling2D"),
        ({"head": "gmp"}, "GlobalMaxPooling2D"),
        ({"output_activation": None}, "not probabilities"),
        ({"output_activation": "sigmoid"}, "not probabilities"),
        ({"pool_first": True}, "check the order"),
        # right everywhere at 28x28, but not for other sizes
        ({"input_shape": (28, 28, 1)}, "fixed at 28x28"),
    ],
)
def test_ch01_gap_cnn_mistakes_get_their_hint(capsys, kwargs, expected):
    assert_hint(capsys, ch01.check_gap_cnn, student_cnn(**kwargs), expected)


def test_ch01_gap_cnn_answers_that_are_not_a_model(capsys):
    inputs = keras.Input((None, None, 1))
    output = layers.Dense(10)(layers.GlobalAveragePooling2D()(layers.Conv2D(16, 3)(inputs)))
    assert_hint(capsys, ch01.check_gap_cnn, output, "output tensor")
    assert_hint(capsys, ch01.check_gap_cnn, layers.Conv2D(16, 3), "pass the keras.Model itself")
    assert_hint(capsys, ch01.check_gap_cnn, "gap_cnn", "pass the keras.Model itself")
    assert_hint(capsys, ch01.check_gap_cnn, lambda: 1 / 0, "ZeroDivisionError")


def test_ch01_gap_cnn_fill_in(capsys):
    assert_fill_in(capsys, ch01.check_gap_cnn, None)
    assert_fill_in(capsys, ch01.check_gap_cnn, lambda: None)
