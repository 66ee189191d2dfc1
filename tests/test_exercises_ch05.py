"""Chapter 05 exercise checks: the reference answers pass, typical mistakes get their own hint,
placeholders ask to fill in, and no wrong answer raises."""

import pytest
from keras import layers

from cv_textbook.exercises import ch05
from exercise_feedback import assert_correct, assert_fill_in, assert_hint

# Szegedy et al. (2014), Table 1, row 3a: #1×1 64, #3×3 reduce 96, #3×3 128, #5×5 reduce 16, #5×5 32,
# pool proj 32, on a 28×28×192 input; its output is 28×28×256 (the table's "output size").
ONES, REDUCE3, THREES, REDUCE5, FIVES, POOL_PROJ = 64, 96, 128, 16, 32, 32
DEPTH_3A = 256

# ---------------------------------------------------------------------------
# Exercise 1: the output depth of 3a
# ---------------------------------------------------------------------------


def test_output_depth_reference(capsys):
    assert ONES + THREES + FIVES + POOL_PROJ == DEPTH_3A
    assert_correct(capsys, ch05.check_output_depth, DEPTH_3A)
    assert_correct(capsys, ch05.check_output_depth, float(DEPTH_3A))


@pytest.mark.parametrize(
    "answer, expected",
    [
        (ONES + REDUCE3 + THREES + REDUCE5 + FIVES + POOL_PROJ, "all six numbers"),
        (ONES + THREES + FIVES + 192, "pool proj"),
        (ONES + THREES + FIVES, "four branches"),
        (THREES, "concatenated along the channels"),
        (192, "input's depth"),
        (28 * 28 * DEPTH_3A, "number of values"),
        (100, "add up the channels"),
        ("256", "one whole number"),
    ],
)
def test_output_depth_mistakes(capsys, answer, expected):
    assert_hint(capsys, ch05.check_output_depth, answer, expected)


def test_output_depth_fill_in(capsys):
    assert_fill_in(capsys, ch05.check_output_depth, None)


# ---------------------------------------------------------------------------
# Exercise 2: the 5×5 branch of 3a without and with its 1×1 reduction
# ---------------------------------------------------------------------------

# By hand: naive 5·5·192·32 + 32 = 153,632; reduced 1·1·192·16 + 16 + 5·5·16·32 + 32 = 3,088 + 12,832
# = 15,920 (about 9.7 times fewer).
NAIVE, REDUCED = 153_632, 15_920


def test_reduction_savings_reference(capsys):
    assert 5 * 5 * 192 * FIVES + FIVES == NAIVE
    assert 192 * REDUCE5 + REDUCE5 + 5 * 5 * REDUCE5 * FIVES + FIVES == REDUCED
    assert_correct(capsys, ch05.check_reduction_savings, (NAIVE, REDUCED))
    assert_correct(capsys, ch05.check_reduction_savings, [float(NAIVE), REDUCED])


@pytest.mark.parametrize(
    "answer, expected",
    [
        ((REDUCED, NAIVE), "swapped"),
        ((NAIVE - FIVES, REDUCED - REDUCE5 - FIVES), "biases"),
        ((NAIVE, 5 * 5 * REDUCE5 * FIVES + FIVES), "count the 1x1 reduction"),
        ((NAIVE, 192 * REDUCE5 + REDUCE5), "1x1 reduction alone"),
        ((NAIVE, 12345), "naive count is right"),
        ((5 * 5 * 192 * FIVES, REDUCED), "reduced count is right"),
        ((1, 2), "k*k*c_in*c_out"),
        (NAIVE, "pair of two whole numbers"),
        ((NAIVE, "x"), "whole number for the reduced branch"),
    ],
)
def test_reduction_savings_mistakes(capsys, answer, expected):
    assert_hint(capsys, ch05.check_reduction_savings, answer, expected)


def test_reduction_savings_fill_in(capsys):
    assert_fill_in(capsys, ch05.check_reduction_savings, None)


# ---------------------------------------------------------------------------
# Exercise 3: build the Inception module
# ---------------------------------------------------------------------------


def inception(x, widths, *, bias=True, reduce=True, relu="relu", pool=layers.MaxPooling2D, order=(0, 1, 2, 3),
              pool_proj=True, five=5, pool_stride=1, concat=True, swap_kernels=False):
    """The module of Fig. 2(b) (Szegedy et al. 2014), written here independently of the package, with
    switches for the typical mistakes."""
    ones, reduce3, threes, reduce5, fives, proj = widths

    def conv(t, filters, kernel):
        return layers.Conv2D(filters, kernel, padding="same", activation=relu, use_bias=bias)(t)

    k3, k5 = (five, 3) if swap_kernels else (3, five)
    branch3 = conv(conv(x, reduce3, 1) if reduce else x, threes, k3)
    branch5 = conv(conv(x, reduce5, 1) if reduce else x, fives, k5)
    pooled = pool(3, strides=pool_stride, padding="same")(x)
    branches = [conv(x, ones, 1), branch3, branch5, conv(pooled, proj, 1) if pool_proj else pooled]
    branches = [branches[i] for i in order]
    return layers.Concatenate()(branches) if concat else layers.Add()(branches)


def test_inception_module_reference(capsys):
    assert_correct(capsys, ch05.check_inception_module, inception)


def _returns_model(x, widths):
    import keras

    return keras.Model(x, inception(x, widths))


@pytest.mark.parametrize(
    "build, expected",
    [
        (lambda x, w: inception(x, w, order=(3, 2, 1, 0)), "another order"),
        (lambda x, w: inception(x, w, relu=None), "followed by a relu"),
        (lambda x, w: inception(x, w, pool=layers.AveragePooling2D), "not average pooling"),
        (lambda x, w: inception(x, w, bias=False), "has a bias"),
        (lambda x, w: inception(x, w, reduce=False), "naive module"),
        (lambda x, w: inception(x, w, five=3), "torchvision's known bug"),
        (lambda x, w: inception(x, w, swap_kernels=True), "kernel sizes of the two middle branches"),
        (lambda x, w: inception(x, w, pool_proj=False), "pool_proj"),
        (lambda x, w: inception(x, w, pool_stride=2), "padding='same'"),
        (lambda x, w: inception(x, w, concat=False), "concatenates them"),
        (_returns_model, "output tensor"),
        (lambda x, w: 1 / 0, "ZeroDivisionError"),
        ("inception", "pass the function itself"),
    ],
)
def test_inception_module_mistakes(capsys, build, expected):
    assert_hint(capsys, ch05.check_inception_module, build, expected)


def test_inception_module_fill_in(capsys):
    assert_fill_in(capsys, ch05.check_inception_module, None)
    assert_fill_in(capsys, ch05.check_inception_module, lambda x, widths: None)
