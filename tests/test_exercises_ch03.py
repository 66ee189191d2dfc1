"""Chapter 03 exercise checks: the reference answers pass, typical mistakes get their own hint,
placeholders ask to fill in, and no wrong answer raises."""

import keras
import pytest
from keras import layers

from cv_textbook.exercises import ch03
from exercise_feedback import assert_correct, assert_fill_in, assert_hint

# ---------------------------------------------------------------------------
# Exercise 1: the fully connected layers' share of AlexNet's parameters
# ---------------------------------------------------------------------------

# By hand (Krizhevsky et al. 2012, Fig. 2; pool5 gives 6x6x256 = 9,216 values): inputs x units + units.
FC6 = 9216 * 4096 + 4096  # 37,752,832
FC7 = 4096 * 4096 + 4096  # 16,781,312
FC8 = 4096 * 1000 + 1000  # 4,097,000
TOTAL = 60_965_224  # the two-tower network (shared/REFERENCE.md)
ONE_TOWER = 62_378_344
FC = FC6 + FC7 + FC8


def test_fc_share_reference(capsys):
    assert FC == 58_631_144  # shared/REFERENCE.md: "the FC layers hold 58,631,144"
    assert_correct(capsys, ch03.check_fc_share, FC / TOTAL)
    assert_correct(capsys, ch03.check_fc_share, round(100 * FC / TOTAL, 2))
    assert_correct(capsys, ch03.check_fc_share, 0.9617)


@pytest.mark.parametrize(
    "answer, expected",
    [
        ((9216 * 4096 + 4096 * 4096 + 4096 * 1000) / TOTAL, "biases"),
        ((FC6 + FC7) / TOTAL, "fc8"),
        (FC / ONE_TOWER, "one-tower"),
        (FC / 60e6, "exact count"),
        (FC / 600e6, "600 million"),
        (1 - FC / TOTAL, "convolutions' share"),
        ((13 * 13 * 256 * 4096 + 4096 + FC7 + FC8) / TOTAL, "6x6x256"),
        (0.5, "divide by 60,965,224"),
        (0.96, "four decimals"),
        ("96 %", "one number"),
    ],
)
def test_fc_share_mistakes(capsys, answer, expected):
    assert_hint(capsys, ch03.check_fc_share, answer, expected)


def test_fc_share_fill_in(capsys):
    assert_fill_in(capsys, ch03.check_fc_share, None)


# ---------------------------------------------------------------------------
# Exercise 2: a grouped convolution as two towers
# ---------------------------------------------------------------------------


def two_towers(x, filters, kernel_size):
    half = x.shape[-1] // 2
    first = layers.Conv2D(filters // 2, kernel_size, padding="same")(x[..., :half])
    second = layers.Conv2D(filters // 2, kernel_size, padding="same")(x[..., half:])
    return layers.Concatenate()([first, second])


def second_tower_built_first(x, filters, kernel_size):
    half = x.shape[-1] // 2
    second = layers.Conv2D(filters // 2, kernel_size, padding="same")(x[..., half:])
    first = layers.Conv2D(filters // 2, kernel_size, padding="same")(x[..., :half])
    return layers.Concatenate()([first, second])


def split_with_ops(x, filters, kernel_size):
    first, second = keras.ops.split(x, 2, axis=-1)
    towers = [layers.Conv2D(filters // 2, kernel_size, padding="same")(t) for t in (first, second)]
    return layers.Concatenate(axis=-1)(towers)


def test_two_towers_reference(capsys):
    assert_correct(capsys, ch03.check_two_towers, two_towers)
    assert_correct(capsys, ch03.check_two_towers, second_tower_built_first)
    assert_correct(capsys, ch03.check_two_towers, split_with_ops)


def test_two_towers_checks_the_classroom_alexnets_grouped_layers():
    # alexnet_classroom (models/alexnet.py): pool1 gives 7x7x24 to conv2 (64 filters, 5x5); pool2
    # gives 4x4x64 to conv3, whose 96 maps go to conv4 (96 filters, 3x3).
    cases = [(shape, config["filters"], config["kernel_size"][0], config["groups"])
             for shape, config in ch03._reference_layers()]
    assert cases == [((7, 7, 24), 64, 5, 2), ((4, 4, 96), 96, 3, 2)]


def ungrouped(x, filters, kernel_size):
    return layers.Conv2D(filters, kernel_size, padding="same")(x)


def grouped_layer(x, filters, kernel_size):
    return layers.Conv2D(filters, kernel_size, padding="same", groups=2)(x)


def towers_read_everything(x, filters, kernel_size):
    first = layers.Conv2D(filters // 2, kernel_size, padding="same")(x)
    second = layers.Conv2D(filters // 2, kernel_size, padding="same")(x)
    return layers.Concatenate()([first, second])


def full_filters_each(x, filters, kernel_size):
    half = x.shape[-1] // 2
    first = layers.Conv2D(filters, kernel_size, padding="same")(x[..., :half])
    second = layers.Conv2D(filters, kernel_size, padding="same")(x[..., half:])
    return layers.Concatenate()([first, second])


def swapped(x, filters, kernel_size):
    half = x.shape[-1] // 2
    first = layers.Conv2D(filters // 2, kernel_size, padding="same")(x[..., :half])
    second = layers.Conv2D(filters // 2, kernel_size, padding="same")(x[..., half:])
    return layers.Concatenate()([second, first])


def with_relu(x, filters, kernel_size):
    half = x.shape[-1] // 2
    first = layers.Conv2D(filters // 2, kernel_size, padding="same", activation="relu")(x[..., :half])
    second = layers.Conv2D(filters // 2, kernel_size, padding="same", activation="relu")(x[..., half:])
    return layers.Concatenate()([first, second])


def valid_padding(x, filters, kernel_size):
    half = x.shape[-1] // 2
    first = layers.Conv2D(filters // 2, kernel_size)(x[..., :half])
    second = layers.Conv2D(filters // 2, kernel_size)(x[..., half:])
    return layers.Concatenate()([first, second])


def no_bias(x, filters, kernel_size):
    half = x.shape[-1] // 2
    first = layers.Conv2D(filters // 2, kernel_size, padding="same", use_bias=False)(x[..., :half])
    second = layers.Conv2D(filters // 2, kernel_size, padding="same", use_bias=False)(x[..., half:])
    return layers.Concatenate()([first, second])


def not_concatenated(x, filters, kernel_size):
    half = x.shape[-1] // 2
    first = layers.Conv2D(filters // 2, kernel_size, padding="same")(x[..., :half])
    second = layers.Conv2D(filters // 2, kernel_size, padding="same")(x[..., half:])
    return first, second


def one_tower_only(x, filters, kernel_size):
    return layers.Conv2D(filters // 2, kernel_size, padding="same")(x[..., : x.shape[-1] // 2])


def same_half_twice(x, filters, kernel_size):
    half = x.shape[-1] // 2
    first = layers.Conv2D(filters // 2, kernel_size, padding="same")(x[..., :half])
    second = layers.Conv2D(filters // 2, kernel_size, padding="same")(x[..., :half])
    return layers.Concatenate()([first, second])


def raises(x, filters, kernel_size):
    return layers.Conv2D(filters, kernel_size, padding="nonsense")(x)


@pytest.mark.parametrize(
    "build, expected",
    [
        (ungrouped, "ungrouped convolution"),
        (grouped_layer, "two ordinary convolutions"),
        (towers_read_everything, "split x first"),
        (full_filters_each, "half the filters"),
        (swapped, "wrong order"),
        (with_relu, "no activation"),
        (valid_padding, "padding='same'"),
        (no_bias, "no bias"),
        (not_concatenated, "concatenate"),
        (one_tower_only, "one tower's"),
        (same_half_twice, "second tower the second"),
        (raises, "your function raised"),
        (42, "pass the function itself"),
    ],
)
def test_two_towers_mistakes(capsys, build, expected):
    assert_hint(capsys, ch03.check_two_towers, build, expected)


def test_two_towers_fill_in(capsys):
    assert_fill_in(capsys, ch03.check_two_towers, None)
    assert_fill_in(capsys, ch03.check_two_towers, lambda x, filters, kernel_size: None)


# ---------------------------------------------------------------------------
# Exercise 3: AlexNet fed the 224x224 image of the paper's text
# ---------------------------------------------------------------------------

# By hand, each size rounded down: conv1 (224 - 11) / 4 + 1 = 54.25 -> 54, pool1 (54 - 3) / 2 + 1 = 26.5
# -> 26, pool2 12.5 -> 12, pool5 5.5 -> 5; fc6 5 * 5 * 256 * 4096 + 4096 = 26,218,496 (at 227: 6x6 maps,
# 9,216 * 4,096 + 4,096 = 37,752,832).
SIDE_224, FC6_224 = 5, 5 * 5 * 256 * 4096 + 4096
FC6_227 = 6 * 6 * 256 * 4096 + 4096


def test_224_input_reference(capsys):
    assert FC6_224 == 26_218_496 and FC6_227 == 37_752_832
    assert_correct(capsys, ch03.check_224_input, (SIDE_224, FC6_224))
    assert_correct(capsys, ch03.check_224_input, [5.0, float(FC6_224)])
    ch03.check_224_input((SIDE_224, FC6_224))
    out = " ".join(capsys.readouterr().out.split())
    assert "(224 - 11) / 4 + 1 = 54.25 -> 54" in out and "37,752,832 at 227" in out


@pytest.mark.parametrize(
    "answer, expected",
    [
        ((6, FC6_227), "227x227 network's numbers"),  # every size rounded up
        ((5.5, FC6_224), "whole number of pixels"),
        ((4, 4 * 4 * 256 * 4096 + 4096), "add 1 in each size"),  # 53 -> 25 -> 11 -> 4
        ((5, FC6_224 - 4096), "4,096 biases"),
        ((5, FC6_227), "not the 6x6x256"),
        ((5, 5 * 5 * 4096 + 4096), "holds 256 channels"),
        ((5, 123), "pool5's side is right"),
        ((7, 7 * 7 * 256 * 4096 + 4096), "fc6 follows from your side"),
        ((3, 5), "layer by layer"),
        ((5,), "a pair of two numbers"),
        ("5, 26218496", "a pair of two numbers"),
    ],
)
def test_224_input_mistakes(capsys, answer, expected):
    assert_hint(capsys, ch03.check_224_input, answer, expected)


def test_224_input_fill_in(capsys):
    assert_fill_in(capsys, ch03.check_224_input, None)
    assert_fill_in(capsys, ch03.check_224_input, (None, None))
