"""Chapter 06 exercise checks: the reference answers pass, typical mistakes get their own hint,
placeholders ask to fill in, and no wrong answer raises."""

import functools

import keras
import numpy as np
import pytest

from cv_textbook import models
from cv_textbook.exercises import ch06
from cv_textbook.models.layers import ZeroPadShortcut
from exercise_feedback import assert_correct, assert_fill_in, assert_hint


@functools.lru_cache(maxsize=None)
def _resnet20_option_b():
    return models.build("resnet20", input_shape=(28, 28, 1), option="B")


def _resnet20_layer(name):
    """The exercises' block is conv3_block1 of ResNet-20 at 28x28x1 (option B there)."""
    return _resnet20_option_b().get_layer(name)


# ---------------------------------------------------------------------------
# Exercise 1: output shape of the stride-2 block
# ---------------------------------------------------------------------------


def test_block_shape_reference_is_resnet20_conv3_block1(capsys):
    # He et al. 2016, Sec. 4.2: three stages of 16, 32 and 64 filters, the map halved by a stride-2
    # convolution at the start of stages 2 and 3. At 28x28 the first stage keeps 28x28x16, and the
    # first block of the second stage turns it into 14x14x32.
    assert tuple(_resnet20_layer("conv2_block3_out").output.shape[1:]) == (28, 28, 16)
    assert tuple(_resnet20_layer("conv3_block1_out").output.shape[1:]) == (14, 14, 32)
    assert_correct(capsys, ch06.check_block_shape, (14, 14, 32))
    assert_correct(capsys, ch06.check_block_shape, [14, 14, 32])
    assert_correct(capsys, ch06.check_block_shape, (None, 14, 14, 32))


@pytest.mark.parametrize(
    "answer, expected",
    [
        ((28, 28, 32), "stride 2"),
        ((14, 14, 16), "one channel per filter"),
        ((28, 28, 16), "input's shape"),
        ((7, 7, 32), "only the first"),
        ((13, 13, 32), "padded"),
        ((32, 14, 14), "channels-last"),
        (14 * 14 * 32, "number of values"),
        ((14, 14), "three numbers"),
        ("14x14x32", "tuple of whole numbers"),
        ((10, 10, 10), "divides height and width"),
    ],
)
def test_block_shape_mistakes(capsys, answer, expected):
    assert_hint(capsys, ch06.check_block_shape, answer, expected)


def test_block_shape_fill_in(capsys):
    assert_fill_in(capsys, ch06.check_block_shape, None)


# ---------------------------------------------------------------------------
# Exercise 2: trainable parameters with a projection shortcut
# ---------------------------------------------------------------------------

# The block's trainable parameters, by hand (convolutions without bias; gamma and beta per channel
# of each BatchNormalization): 3x3x16x32 + 3x3x32x32 + 1x1x16x32 projection (option B, He et al.
# 2016, Sec. 3.3) + 3 x 2 x 32 = 4,608 + 9,216 + 512 + 192 = 14,528.
C_IN, C_OUT = 16, 32
CONV1 = 3 * 3 * C_IN * C_OUT
CONV2 = 3 * 3 * C_OUT * C_OUT
PROJECTION = 1 * 1 * C_IN * C_OUT
BN = 3 * 2 * C_OUT
BLOCK_PARAMS = 14_528


def _block_trainable():
    names = [
        "conv3_block1_0_conv", "conv3_block1_0_bn", "conv3_block1_1_conv", "conv3_block1_1_bn",
        "conv3_block1_2_conv", "conv3_block1_2_bn",
    ]
    layers = [_resnet20_layer(name) for name in names]
    return sum(int(np.prod(w.shape)) for layer in layers for w in layer.trainable_weights)


def test_block_params_reference(capsys):
    assert CONV1 + CONV2 + PROJECTION + BN == BLOCK_PARAMS
    assert _block_trainable() == BLOCK_PARAMS  # ResNet-20 (option B) holds the same block
    assert_correct(capsys, ch06.check_block_params, BLOCK_PARAMS)
    assert_correct(capsys, ch06.check_block_params, float(BLOCK_PARAMS))
    assert_correct(capsys, ch06.check_block_params, np.int64(BLOCK_PARAMS))


@pytest.mark.parametrize(
    "answer, expected",
    [
        (CONV1 + CONV2 + BN - 2 * C_OUT, "option a"),  # no projection, no projection BN
        (CONV1 + CONV2 + PROJECTION + 2 * BN, "moving mean and variance"),
        (CONV1 + CONV2 + PROJECTION + BN + 3 * C_OUT, "no bias"),
        (CONV1 + CONV2 + PROJECTION, "gamma and beta"),
        (2 * CONV1 + PROJECTION + BN, "first one's 32 channels"),
        (CONV1 + CONV2 + 9 * PROJECTION + BN, "1x1"),
        (CONV1 + CONV2 + PROJECTION + 2 * 2 * C_OUT, "three batchnormalizations"),
        (CONV1 + CONV2 + PROJECTION + 3 * C_OUT, "gamma (scale) and beta (shift)"),
        (12345, "add up three convolutions"),
        (1.5, "one whole number"),
        ("14528", "one whole number"),
    ],
)
def test_block_params_mistakes(capsys, answer, expected):
    assert_hint(capsys, ch06.check_block_params, answer, expected)


def test_block_params_fill_in(capsys):
    assert_fill_in(capsys, ch06.check_block_params, None)


# ---------------------------------------------------------------------------
# Exercise 3: depth formula
# ---------------------------------------------------------------------------


def _weighted_layers(model):
    return sum(isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)) for layer in model.layers)


def test_depth_formula_reference(capsys):
    def depth(n):
        return 6 * n + 2

    # The names of the registered models agree with the formula the check accepts.
    assert _weighted_layers(models.build("plain20", input_shape=(28, 28, 1))) == depth(3)
    assert _weighted_layers(models.build("resnet20", input_shape=(28, 28, 1))) == depth(3)
    assert_correct(capsys, ch06.check_depth_formula, depth)
    assert_correct(capsys, ch06.check_depth_formula, lambda n: float(6 * n + 2))


def _raises(n):
    raise KeyError("blocks")


@pytest.mark.parametrize(
    "answer, expected",
    [
        (lambda n: 6 * n, "first 3x3 convolution (the stem) and the dense classifier"),
        (lambda n: 6 * n + 1, "one layer outside the stages is missing"),
        (lambda n: 3 * n + 2, "two 3x3 convolutions, not one"),
        (lambda n: 2 * n + 2, "three stages"),
        (lambda n: 4 * n + 2, "three stages, each with n blocks of two"),
        (lambda n: 6 * n + 4, "does not count shortcuts"),
        (lambda n: 6 * n + 3, "pooling layers"),
        (lambda n: (n - 2) / 6, "inverse"),
        (_raises, "raised KeyError"),
        (lambda n: "twenty", "whole number"),
        (lambda n: 7 * n, "for n = 1"),
        (20, "pass the function itself"),
    ],
)
def test_depth_formula_mistakes(capsys, answer, expected):
    assert_hint(capsys, ch06.check_depth_formula, answer, expected)


def test_depth_formula_fill_in(capsys):
    assert_fill_in(capsys, ch06.check_depth_formula, None)
    assert_fill_in(capsys, ch06.check_depth_formula, lambda n: None)

    def stub(n):
        raise NotImplementedError

    assert_fill_in(capsys, ch06.check_depth_formula, stub)


# ---------------------------------------------------------------------------
# Exercise 3: build the basic block
# ---------------------------------------------------------------------------

# Trainable parameters of the two blocks the check builds, by hand (He et al. 2016, Sec. 3.3 and
# 4.2; convolutions without bias, gamma and beta per channel of each BatchNormalization):
# 28x28x16 -> 32 filters, stride 2, projection (option B): 14,528 (as in exercise 2);
# 28x28x16 -> 16 filters, stride 1, identity shortcut: 3x3x16x16 + 3x3x16x16 + 2 x 2 x 16 = 4,672.
IDENTITY_BLOCK_PARAMS = 2 * 3 * 3 * 16 * 16 + 2 * 2 * 16
assert IDENTITY_BLOCK_PARAMS == 4_672


def _conv(x, filters, kernel, stride, bias=False, same_padding=False):
    """A convolution as a student writes it: explicit one-pixel padding where a 3x3 one strides."""
    if kernel > 1 and stride > 1 and not same_padding:
        x = keras.layers.ZeroPadding2D(1)(x)
        return keras.layers.Conv2D(filters, kernel, strides=stride, use_bias=bias)(x)
    return keras.layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=bias)(x)


def _student_block(x, filters, stride, *, shortcut_first=False, project="needed", projection_bn=True,
                   projection_kernel=1, projection_stride=True, bias=False, relu_on_f=False,
                   final_relu=True, stride_in_second=False, same_padding=False, epsilon=1e-3):
    """The block built independently of the package, with one switch per typical mistake."""
    def shortcut():
        reshapes = stride != 1 or x.shape[-1] != filters
        if project == "never" or (project == "needed" and not reshapes):
            return x
        s = _conv(x, filters, projection_kernel, stride if projection_stride else 1, bias)
        return keras.layers.BatchNormalization(epsilon=epsilon)(s) if projection_bn else s

    s = shortcut() if shortcut_first else None
    first, second = (1, stride) if stride_in_second else (stride, 1)
    f = _conv(x, filters, 3, first, bias, same_padding)
    f = keras.layers.Activation("relu")(keras.layers.BatchNormalization(epsilon=epsilon)(f))
    f = keras.layers.BatchNormalization(epsilon=epsilon)(_conv(f, filters, 3, second, bias, same_padding))
    if relu_on_f:
        f = keras.layers.Activation("relu")(f)
    s = s if shortcut_first else shortcut()
    h = f if project == "none" else keras.layers.Add()([f, s])
    return keras.layers.Activation("relu")(h) if final_relu else h


def _student(**mistake):
    return functools.partial(_student_block, **mistake)


def test_student_blocks_have_the_pinned_parameters():
    # The test's own block (not the check's reference) has the parameters counted by hand above.
    for (filters, stride), expected in [((32, 2), BLOCK_PARAMS), ((16, 1), IDENTITY_BLOCK_PARAMS)]:
        inputs = keras.Input(shape=(28, 28, 16))
        block = keras.Model(inputs, _student_block(inputs, filters, stride))
        assert sum(int(np.prod(w.shape)) for w in block.trainable_weights) == expected


@pytest.mark.parametrize(
    "build",
    [
        _student(),
        _student(shortcut_first=True),  # Keras then lists the layers in another order
        _student(epsilon=1.001e-5),  # the package's epsilon: no note about it
    ],
)
def test_residual_block_correct(capsys, build):
    assert_correct(capsys, ch06.check_residual_block, build)


def test_residual_block_correct_names_both_counts(capsys):
    assert ch06.check_residual_block(_student()) is True
    out = " ".join(capsys.readouterr().out.split())
    assert "14,528" in out and "4,672" in out and "epsilon 0.001" in out


@pytest.mark.parametrize(
    "mistake, expected",
    [
        ({"project": "never"}, "keras cannot add x (28x28x16)"),
        ({"projection_stride": False}, "give the 1x1 projection stride 2"),
        ({"relu_on_f": True}, "relu to f(x) before the addition"),
        ({"relu_on_f": True, "final_relu": False}, "instead of after it"),
        ({"final_relu": False}, "ends with a relu after the addition"),
        ({"stride_in_second": True}, "first 3x3 convolution"),
        ({"same_padding": True}, "zeropadding2d(1)"),
        ({"bias": True}, "use_bias=false"),
        ({"projection_bn": False}, "its own batchnormalization"),
        ({"projection_kernel": 3}, "not 3x3"),
        ({"project": "always"}, "option c"),
        ({"project": "none"}, "needs a projection (option b)"),
    ],
)
def test_residual_block_mistakes(capsys, mistake, expected):
    assert_hint(capsys, ch06.check_residual_block, _student(**mistake), expected)


def _zero_pad_shortcut(x, filters, stride):
    """Option A (parameter-free zero-padding) where the exercise asks for a projection."""
    f = _conv(x, filters, 3, stride)
    f = keras.layers.Activation("relu")(keras.layers.BatchNormalization()(f))
    f = keras.layers.BatchNormalization()(_conv(f, filters, 3, 1))
    s = ZeroPadShortcut(filters, stride)(x) if stride != 1 or x.shape[-1] != filters else x
    return keras.layers.Activation("relu")(keras.layers.Add()([s, f]))


def _plain_identity_case(x, filters, stride):
    """Right for the stride-2 block, but no shortcut where the shape stays."""
    if stride != 1:
        return _student_block(x, filters, stride)
    return _student_block(x, filters, stride, project="none")


def _no_stride(x, filters, stride):
    return _student_block(x, filters, 1)


def _returns_model(x, filters, stride):
    return keras.Model(x, _student_block(x, filters, stride))


def _raises(x, filters, stride):
    raise KeyError("filters")


@pytest.mark.parametrize(
    "build, expected",
    [
        (_zero_pad_shortcut, "zero-padding (option a)"),
        (_plain_identity_case, "no shortcut"),
        (_no_stride, "the stride 2 is missing"),
        (_returns_model, "output tensor"),
        (_raises, "raised keyerror"),
        (_student_block(keras.Input(shape=(28, 28, 16)), 32, 2), "pass the function itself"),
    ],
)
def test_residual_block_other_mistakes(capsys, build, expected):
    assert_hint(capsys, ch06.check_residual_block, build, expected)


def test_residual_block_fill_in(capsys):
    assert_fill_in(capsys, ch06.check_residual_block, None)
    assert_fill_in(capsys, ch06.check_residual_block, lambda x, filters, stride: None)

    def stub(x, filters, stride):
        raise NotImplementedError

    assert_fill_in(capsys, ch06.check_residual_block, stub)
