"""Chapter 04 exercise checks: the reference answers pass, typical mistakes get their own hint,
placeholders ask to fill in, and no wrong answer raises."""

import functools

import keras
import numpy as np
import pytest

from cv_textbook.exercises import ch04
from exercise_feedback import assert_correct, assert_fill_in, assert_hint

# ---------------------------------------------------------------------------
# Exercise 1: three 3x3 convolutions against one 7x7
# ---------------------------------------------------------------------------

# Simonyan & Zisserman 2015, §2.3: three 3x3 layers of C channels hold 3(3²C²) = 27C² weights, one
# 7x7 layer 7²C² = 49C². With C = 256: 27 x 65,536 = 1,769,472 and 49 x 65,536 = 3,211,264.
C = 256
STACK = 1_769_472
SEVEN = 3_211_264
assert STACK == 27 * C * C and SEVEN == 49 * C * C


def test_stack_weights_reference(capsys):
    assert_correct(capsys, ch04.check_stack_weights, STACK)
    assert_correct(capsys, ch04.check_stack_weights, float(STACK))
    assert_correct(capsys, ch04.check_stack_weights, np.int64(STACK))


@pytest.mark.parametrize(
    "answer, expected",
    [
        (SEVEN, "one 7x7 convolution"),
        (9 * C * C, "there are three of them"),
        (STACK + 3 * C, "leave the biases out"),
        (27 * C, "for each of the c input channels"),
        (27, "multiply by c twice"),
        (54 * C, "not by 2c"),
        (12345, "3x3xcxc weights"),
        ("1769472", "one whole number"),
    ],
)
def test_stack_weights_mistakes(capsys, answer, expected):
    assert_hint(capsys, ch04.check_stack_weights, answer, expected)


def test_stack_weights_fill_in(capsys):
    assert_fill_in(capsys, ch04.check_stack_weights, None)


# ---------------------------------------------------------------------------
# Exercise 2: build a VGG block
# ---------------------------------------------------------------------------

# The check's two blocks, counted by hand (3x3 kernels with biases, Simonyan & Zisserman 2015, §2.1):
# 32x32x16, three convolutions of 32: (3x3x16x32 + 32) + 2 x (3x3x32x32 + 32) = 4,640 + 2 x 9,248
# = 23,136; 16x16x32, one convolution of 64: 3x3x32x64 + 64 = 18,496. Outputs 16x16x32 and 8x8x64.
PINNED = {((32, 32, 16), 3, 32): (23_136, (16, 16, 32)), ((16, 16, 32), 1, 64): (18_496, (8, 8, 64))}


def _student_block(x, num_convs, filters, *, kernel=3, padding="same", relu="all", bias=True,
                   pooling="max", pool_size=2, pool_stride=2, pool_each=False, extra_conv=False,
                   all_on_input=False, channels_of_input=False):
    """A VGG block built independently of the package, with one switch per typical mistake."""
    count = num_convs + (1 if extra_conv else 0)
    width = x.shape[-1] if channels_of_input else filters
    h = x
    for index in range(count):
        activation = "relu" if relu == "all" or (relu == "last" and index == count - 1) else None
        source = x if all_on_input else h
        h = keras.layers.Conv2D(width, kernel, padding=padding, activation=activation, use_bias=bias)(source)
        if pool_each:
            h = keras.layers.MaxPooling2D(2, strides=2)(h)
    if pool_each or pooling is None:
        return h
    layer = keras.layers.MaxPooling2D if pooling == "max" else keras.layers.AveragePooling2D
    return layer(pool_size, strides=pool_stride)(h)


def _student(**mistake):
    return functools.partial(_student_block, **mistake)


def test_student_blocks_have_the_pinned_parameters():
    # The test's own block (not the check's reference) has the counts and shapes worked out above.
    for case, (params, output_shape) in PINNED.items():
        inputs = keras.Input(shape=case[0])
        block = keras.Model(inputs, _student_block(inputs, case[1], case[2]))
        assert sum(int(np.prod(w.shape)) for w in block.trainable_weights) == params
        assert tuple(block.output.shape[1:]) == output_shape


@pytest.mark.parametrize("build", [_student(), _student(pool_stride=None)])  # strides default to the pool
def test_vgg_block_correct(capsys, build):
    assert_correct(capsys, ch04.check_vgg_block, build)


def test_vgg_block_correct_names_both_counts(capsys):
    assert ch04.check_vgg_block(_student()) is True
    out = " ".join(capsys.readouterr().out.split())
    assert "23,136" in out and "18,496" in out


@pytest.mark.parametrize(
    "mistake, expected",
    [
        ({"pooling": None}, "is missing at the end"),
        ({"pool_each": True}, "not after every convolution"),
        ({"padding": "valid"}, "padding='same'"),
        ({"pool_size": 3}, "not alexnet's overlapping"),
        ({"pool_stride": 1}, "stride 2"),
        ({"channels_of_input": True}, "has 32 filters"),
        ({"bias": False}, "have biases"),
        ({"kernel": 5}, "not 5x5"),
        ({"kernel": 1}, "not 1x1"),
        ({"extra_conv": True}, "has 4 (one more"),
        ({"all_on_input": True}, "previous layer's output"),
        ({"relu": "none"}, "no activation"),
        ({"relu": "last"}, "only your last convolution"),
        ({"pooling": "average"}, "maximum"),
    ],
)
def test_vgg_block_mistakes(capsys, mistake, expected):
    assert_hint(capsys, ch04.check_vgg_block, _student(**mistake), expected)


def _fixed_three(x, num_convs, filters):
    """Three convolutions whatever num_convs says: right for the first case only."""
    return _student_block(x, 3, filters)


def _returns_model(x, num_convs, filters):
    return keras.Model(x, _student_block(x, num_convs, filters))


def _raises(x, num_convs, filters):
    raise KeyError("filters")


@pytest.mark.parametrize(
    "build, expected",
    [
        (_fixed_three, "has 3 (one more"),  # the one-convolution case gets 3
        (_returns_model, "output tensor"),
        (_raises, "raised keyerror"),
        (_student_block(keras.Input(shape=(32, 32, 16)), 3, 32), "pass the function itself"),
    ],
)
def test_vgg_block_other_mistakes(capsys, build, expected):
    assert_hint(capsys, ch04.check_vgg_block, build, expected)


def test_vgg_block_fill_in(capsys):
    assert_fill_in(capsys, ch04.check_vgg_block, None)
    assert_fill_in(capsys, ch04.check_vgg_block, lambda x, num_convs, filters: None)

    def stub(x, num_convs, filters):
        raise NotImplementedError

    assert_fill_in(capsys, ch04.check_vgg_block, stub)


# ---------------------------------------------------------------------------
# Exercise 3: the parameters of fc1
# ---------------------------------------------------------------------------

# VGG-16's fc1 (Simonyan & Zisserman 2015, Table 1, config. D; keras.applications' fc1): 7x7x512 =
# 25,088 inputs x 4,096 units + 4,096 biases = 102,764,544.
FC1 = 102_764_544
assert FC1 == 7 * 7 * 512 * 4096 + 4096


def test_fc1_params_reference(capsys):
    assert_correct(capsys, ch04.check_fc1_params, FC1)


@pytest.mark.parametrize(
    "answer, expected",
    [
        (FC1 - 4096, "add the 4,096 biases"),
        (512 * 4096 + 4096, "the whole 7x7x512 map"),
        (4096 * 4096 + 4096, "that is fc2"),
        (7 * 7 * 4096 + 4096, "has 512 channels"),
        (1000, "n x m weights"),
    ],
)
def test_fc1_params_mistakes(capsys, answer, expected):
    assert_hint(capsys, ch04.check_fc1_params, answer, expected)


def test_fc1_params_fill_in(capsys):
    assert_fill_in(capsys, ch04.check_fc1_params, None)
