"""Chapter 10 exercise checks: the reference answers pass, typical mistakes get their own hint,
placeholders ask to fill in, and no wrong answer raises."""

import functools
from fractions import Fraction

import numpy as np
import pytest

from cv_textbook import models
from cv_textbook.exercises import ch10
from exercise_feedback import assert_correct, assert_fill_in, assert_hint


@functools.lru_cache(maxsize=None)
def _unet():
    return models.build("unet_xception", input_shape=(128, 128, 1), num_classes=3)


# ---------------------------------------------------------------------------
# Exercise 1: shape after the first down block
# ---------------------------------------------------------------------------


def test_down_block_shape_reference_is_the_models_down1(capsys):
    # 128 -entry conv, stride 2-> 64 -'same' separable convolutions-> 64 -3x3 pool, stride 2,
    # 'same'-> ceil(64 / 2) = 32, with the block's 64 filters.
    shape = (32, 32, 64)
    assert tuple(_unet().get_layer("down1_add").output.shape[1:]) == shape
    assert_correct(capsys, ch10.check_down_block_shape, shape)
    assert_correct(capsys, ch10.check_down_block_shape, list(shape))
    assert_correct(capsys, ch10.check_down_block_shape, (None, *shape))
    assert_correct(capsys, ch10.check_down_block_shape, (np.int64(32), 32.0, 64))


@pytest.mark.parametrize(
    "answer, expected",
    [
        ((64, 64, 64), "before the max-pooling"),
        ((64, 64, 32), "block's input"),
        ((32, 32, 32), "64 channels"),
        ((31, 31, 64), "padding='valid'"),
        ((16, 16, 64), "only the pooling has a stride"),
        ((64, 32, 32), "channels-last"),
        (32 * 32 * 64, "number of values"),
        ((32, 32), "three numbers"),
        ("32x32x64", "tuple of whole numbers"),
        ((10, 10, 10), "follow the canvas"),
    ],
)
def test_down_block_shape_mistakes(capsys, answer, expected):
    assert_hint(capsys, ch10.check_down_block_shape, answer, expected)


def test_down_block_shape_fill_in(capsys):
    assert_fill_in(capsys, ch10.check_down_block_shape, None)
    assert_fill_in(capsys, ch10.check_down_block_shape, ...)


# ---------------------------------------------------------------------------
# Exercise 2: parameters of a SeparableConv2D
# ---------------------------------------------------------------------------


def test_separable_params_reference_is_keras_count(capsys):
    # Depthwise 3x3 per input channel + pointwise 64 -> 128 + 128 biases (Chollet 2017, Xception):
    # 576 + 8,192 + 128 = 8,896.
    separable_params = 3 * 3 * 64 + 64 * 128 + 128
    assert _unet().get_layer(ch10.SEPARABLE_LAYER).count_params() == separable_params
    assert_correct(capsys, ch10.check_separable_params, separable_params)
    assert_correct(capsys, ch10.check_separable_params, float(separable_params))


@pytest.mark.parametrize(
    "answer, expected",
    [
        (3 * 3 * 64 * 128 + 128, "plain 3x3 conv2d"),
        (3 * 3 * 64 * 128, "plain conv2d without its biases"),
        (3 * 3 * 64 + 64 * 128, "forgot the bias"),
        (3 * 3 * 64 + 64 + 64 * 128 + 128, "single bias vector"),
        (3 * 3 * 64 + 64 * 128 + 64, "not to the 64 input channels"),
        (3 * 3 * 128 + 128 * 128 + 128, "sepconv2"),
        (3 * 3 * 64 * 128 + 64 * 128 + 128, "one 3x3 filter per input channel"),
        (32 * 32 * (3 * 3 * 64 + 64 * 128), "multiply-accumulates"),
        (12345, "depthwise step"),
        ("8896", "one whole number"),
        (8896.5, "one whole number"),
    ],
)
def test_separable_params_mistakes(capsys, answer, expected):
    assert_hint(capsys, ch10.check_separable_params, answer, expected)


def test_separable_params_fill_in(capsys):
    assert_fill_in(capsys, ch10.check_separable_params, None)


# ---------------------------------------------------------------------------
# Exercise 3: IoU by hand
# ---------------------------------------------------------------------------


def test_iou_reference_is_five_eighths(capsys):
    # Counted by hand on the 6x6 masks: 6 true item pixels, 7 predicted, 5 in both: 5 / (6 + 7 - 5).
    assert ch10.iou_reference() == pytest.approx(5 / 8)
    for answer in (5 / 8, 0.625, 0.62, Fraction(5, 8), np.float32(0.625), np.array(0.625)):
        assert_correct(capsys, ch10.check_iou_by_hand, answer)


def test_iou_mistakes_are_distinct_from_the_answer_and_each_other():
    values = [ch10.iou_reference()] + [value for value, _ in ch10.iou_mistakes()]
    gaps = [abs(a - b) for i, a in enumerate(values) for b in values[i + 1 :]]
    assert min(gaps) > 2 * ch10.IOU_TOLERANCE


@pytest.mark.parametrize(
    "answer, expected",
    [
        (10 / 13, "dice"),
        (5 / 13, "counts the overlapping pixels once"),
        (5 / 7, "precision"),
        (5 / 6, "recall"),
        (5, "intersection, a count"),
        (8, "the union, a count"),
        (62.5, "percentage"),
        (1.7, "between 0 and 1"),
        (0.1, "count the pixels"),
        ("5/8", "one number"),
        (True, "one number"),
        (float("nan"), "finite"),
    ],
)
def test_iou_mistakes(capsys, answer, expected):
    assert_hint(capsys, ch10.check_iou_by_hand, answer, expected)


# Counted by hand on the 6x6 masks: background 16 true, 16 predicted, 13 in both; border 14 true,
# 13 predicted, 9 in both; 5 + 13 + 9 = 27 of the 36 pixels right.
BACKGROUND_IOU = 13 / (16 + 16 - 13)
BORDER_IOU = 9 / (14 + 13 - 9)


@pytest.mark.parametrize(
    "answer, expected",
    [
        ((5 / 8 + BACKGROUND_IOU + BORDER_IOU) / 3, "mean IoU"),
        (BACKGROUND_IOU, "background"),
        (BORDER_IOU, "border"),
        (27 / 36, "pixel accuracy"),
    ],
)
def test_iou_mistakes_for_other_classes_and_the_mean(capsys, answer, expected):
    assert_hint(capsys, ch10.check_iou_by_hand, answer, expected)


def test_iou_fill_in(capsys):
    assert_fill_in(capsys, ch10.check_iou_by_hand, None)


def test_questions_are_printable_text():
    for question in (ch10.DOWN_BLOCK_SHAPE_QUESTION, ch10.SEPARABLE_PARAMS_QUESTION, ch10.IOU_QUESTION):
        assert isinstance(question, str) and question.endswith(("?", "."))


# ---------------------------------------------------------------------------
# Exercise 3: build the down block
# ---------------------------------------------------------------------------

from keras import layers  # noqa: E402  (the students' blocks below are written with Keras layers)


def _down_block(x, filters, relu_first=True, separable=True, projection="1x1", pool_padding="same"):
    """A down block as a student writes it, with switches for the typical mistakes."""
    block_input = x
    for _ in (1, 2):
        if relu_first:
            x = layers.Activation("relu")(x)
        conv = layers.SeparableConv2D if separable else layers.Conv2D
        x = conv(filters, 3, padding="same")(x)
        x = layers.BatchNormalization()(x)
        if not relu_first:
            x = layers.Activation("relu")(x)
    x = layers.MaxPooling2D(3, strides=2, padding=pool_padding)(x)
    if projection == "1x1":
        x = layers.add([x, layers.Conv2D(filters, 1, strides=2, padding="same")(block_input)])
    elif projection == "3x3":
        x = layers.add([x, layers.Conv2D(filters, 3, strides=2, padding="same")(block_input)])
    elif projection == "stride 1":
        x = layers.add([x, layers.Conv2D(filters, 1, padding="same")(block_input)])
    return x


def test_down_block_reference_answer(capsys):
    # 32 -> 64 channels (down1's input is the entry block's 32 channels): sepconv1 3*3*32 + 32*64 + 64
    # = 2,400; sepconv2 3*3*64 + 64*64 + 64 = 4,736; two BNs 2 * 4 * 64 = 512; projection 32*64 + 64
    # = 2,112; total 9,760 (the down1 row of the notebook's table, by hand).
    assert 2400 + 4736 + 512 + 2112 == 9760
    assert_correct(capsys, ch10.check_down_block, _down_block)


def test_down_block_reference_parameter_count():
    import keras

    inputs = keras.Input(shape=ch10.DOWN_BLOCK_INPUT_SHAPE)
    assert keras.Model(inputs, _down_block(inputs, ch10.DOWN_BLOCK_FILTERS)).count_params() == 9760


@pytest.mark.parametrize(
    "options, expected",
    [
        ({"projection": None}, "shortcut is missing"),
        ({"projection": "3x3"}, "1x1 convolution"),
        ({"projection": "stride 1"}, "cannot be added"),
        ({"separable": False}, "SeparableConv2D"),
        ({"relu_first": False}, "ReLU first"),
        ({"pool_padding": "valid"}, "cannot be added"),
    ],
)
def test_down_block_mistakes(capsys, options, expected):
    assert_hint(capsys, ch10.check_down_block, functools.partial(_down_block, **options), expected)


def test_down_block_fill_in(capsys):
    def build_down_block(x, filters):
        raise NotImplementedError

    assert_fill_in(capsys, ch10.check_down_block, None)
    assert_fill_in(capsys, ch10.check_down_block, build_down_block)
    assert_hint(capsys, ch10.check_down_block, 42, "pass the function itself")
