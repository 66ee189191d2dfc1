"""Chapter 07's exercise checks: a right answer is "Correct!", each typical mistake gets its hint,
a placeholder asks to fill in. Expected values are counted by hand from the paper's layer, never
read from the package."""

import functools

import keras
import numpy as np
import pytest

from cv_textbook import models
from cv_textbook.exercises import ch07
from exercise_feedback import assert_correct, assert_fill_in, assert_hint

# ---------------------------------------------------------------------------
# Exercise 1: the channels of densenet_classroom's first dense block
# ---------------------------------------------------------------------------

# Huang et al. 2017, Sec. 3: layer l of a block receives k0 + k(l - 1) maps, so a block of L layers
# outputs k0 + L k. The classroom block: k0 = 2k = 24 (the stem), L = 8, k = 12: 24 + 96 = 120.
BLOCK_OUT = 24 + 8 * 12
assert BLOCK_OUT == 120


def test_block_channels_correct(capsys):
    # The registered classroom model holds that block: its last layer's concatenation has 120 maps.
    model = models.build("densenet_classroom")
    assert model.get_layer("conv2_block8_concat").output.shape[-1] == BLOCK_OUT
    assert_correct(capsys, ch07.check_block_channels, BLOCK_OUT)
    assert_correct(capsys, ch07.check_block_channels, np.int64(BLOCK_OUT))


@pytest.mark.parametrize(
    "answer, expected",
    [
        (96, "only the new maps"),
        (24 + 8 * 48, "internal to a layer"),
        (24 + 8 * 60, "only the 3x3 convolution's"),
        (36, "output of the first layer"),
        (108, "one layer short"),
        (60, "after the transition"),
        (24 * 2**8, "do not double"),
        (12, "one layer's new maps"),
        (100, "start from the block's input channels"),
        ("120", "one whole number"),
    ],
)
def test_block_channels_mistakes(capsys, answer, expected):
    assert_hint(capsys, ch07.check_block_channels, answer, expected)


def test_block_channels_fill_in(capsys):
    assert_fill_in(capsys, ch07.check_block_channels, None)


# ---------------------------------------------------------------------------
# Exercise 2: build a dense layer
# ---------------------------------------------------------------------------

# Trainable parameters of the two layers the check builds, by hand (Huang et al. 2017, Sec. 3,
# DenseNet-B: BN-ReLU-Conv(1x1, 4k)-BN-ReLU-Conv(3x3, k), no biases; gamma and beta per channel):
# 28x28x24, k = 12: 2*24 + 24*48 + 2*48 + 9*48*12 = 48 + 1,152 + 96 + 5,184 = 6,480
# 7x7x20,   k = 8:  2*20 + 20*32 + 2*32 + 9*32*8  = 40 + 640 + 64 + 2,304   = 3,048
PINNED = {((28, 28, 24), 12): 6_480, ((7, 7, 20), 8): 3_048}


def _student_layer(x, growth_rate, *, bias=False, bottleneck=4, first_kernel=1, first_bn=True,
                   second_bn=True, post_activation=False, relus=(True, True), combine="concat",
                   new_first=False, only_new=False):
    """A dense layer written independently of the package, with one switch per typical mistake."""
    L = keras.layers

    def bn_relu(t, use_relu, use_bn=True):
        t = L.BatchNormalization()(t) if use_bn else t
        return L.Activation("relu")(t) if use_relu else t

    if post_activation:  # conv-BN-ReLU, as ResNet's blocks
        new = bn_relu(L.Conv2D(bottleneck * growth_rate, first_kernel, padding="same", use_bias=bias)(x),
                      relus[0])
        new = bn_relu(L.Conv2D(growth_rate, 3, padding="same", use_bias=bias)(new), relus[1])
    else:
        new = bn_relu(x, relus[0], first_bn)
        new = L.Conv2D(bottleneck * growth_rate, first_kernel, padding="same", use_bias=bias)(new)
        new = bn_relu(new, relus[1], second_bn)
        new = L.Conv2D(growth_rate, 3, padding="same", use_bias=bias)(new)
    if only_new:
        return new
    if combine == "add":
        return L.Add()([x, new])
    return L.Concatenate()([new, x] if new_first else [x, new])


def _student(**mistake):
    return functools.partial(_student_layer, **mistake)


def test_student_layers_have_the_pinned_parameters():
    assert tuple(PINNED) == ch07.BUILD_CASES
    for (input_shape, k), expected in PINNED.items():
        inputs = keras.Input(shape=input_shape)
        layer = keras.Model(inputs, _student_layer(inputs, k))
        assert sum(int(np.prod(w.shape)) for w in layer.trainable_weights) == expected
        assert layer.output.shape[-1] == input_shape[-1] + k


def test_dense_layer_correct(capsys):
    assert_correct(capsys, ch07.check_dense_layer, _student())


def test_dense_layer_correct_names_both_counts(capsys):
    assert ch07.check_dense_layer(_student()) is True
    out = " ".join(capsys.readouterr().out.split())
    assert "6,480" in out and "3,048" in out


@pytest.mark.parametrize(
    "mistake, expected",
    [
        ({"only_new": True}, "only the 12 new maps"),
        ({"combine": "add"}, "concatenates along the channels"),
        ({"bottleneck": 1}, "4 x growth_rate = 48 filters"),
        ({"bias": True}, "use_bias=false"),
        ({"first_kernel": 3}, "first convolution is 1x1"),
        ({"first_bn": False}, "batchnormalization on the input x is missing"),
        ({"second_bn": False}, "between the two convolutions is missing"),
        ({"post_activation": True}, "before each convolution"),
        ({"new_first": True}, "order of the concatenation"),
        ({"relus": (False, False)}, "there is no relu"),
        ({"relus": (False, True)}, "after the first batchnormalization is missing"),
        ({"relus": (True, False)}, "after the second batchnormalization is missing"),
    ],
)
def test_dense_layer_mistakes(capsys, mistake, expected):
    assert_hint(capsys, ch07.check_dense_layer, _student(**mistake), expected)


def _hard_coded_k(x, growth_rate):
    return _student_layer(x, 12)


def _concatenates_bottleneck(x, growth_rate):
    L = keras.layers
    wide = L.Conv2D(4 * growth_rate, 1, use_bias=False)(L.Activation("relu")(L.BatchNormalization()(x)))
    return L.Concatenate()([x, wide])


def _returns_model(x, growth_rate):
    return keras.Model(x, _student_layer(x, growth_rate))


def _raises(x, growth_rate):
    raise KeyError("growth_rate")


@pytest.mark.parametrize(
    "build, expected",
    [
        (_hard_coded_k, "7x7x20 input with growth_rate=8"),
        (_concatenates_bottleneck, "you concatenated the 1x1 convolution's 48 maps"),
        (_returns_model, "output tensor"),
        (_raises, "raised keyerror"),
        (_student_layer(keras.Input(shape=(28, 28, 24)), 12), "pass the function itself"),
    ],
)
def test_dense_layer_other_mistakes(capsys, build, expected):
    assert_hint(capsys, ch07.check_dense_layer, build, expected)


def test_dense_layer_fill_in(capsys):
    assert_fill_in(capsys, ch07.check_dense_layer, None)
    assert_fill_in(capsys, ch07.check_dense_layer, lambda x, growth_rate: None)

    def stub(x, growth_rate):
        raise NotImplementedError

    assert_fill_in(capsys, ch07.check_dense_layer, stub)


# ---------------------------------------------------------------------------
# Exercise 3: the channels through DenseNet-BC (L = 100, k = 12)
# ---------------------------------------------------------------------------

# Huang et al. 2017, §3 and §4.1: 2k = 24 maps from the first convolution, n = (100 - 4) / 6 = 16 layers
# per block adding k = 12 each, transitions with theta = 0.5 after blocks 1 and 2:
# 24 + 192 = 216 -> 108; 108 + 192 = 300 -> 150; 150 + 192 = 342 into the final BN.
BC_EXPECTED = (108, 150, 342)


def test_bc_channels_reference(capsys):
    assert (ch07.BC_DEPTH, ch07.BC_GROWTH_RATE, ch07.BC_COMPRESSION) == (100, 12, 0.5)
    # The package's network has exactly these channels where the blocks begin and end.
    net = models.build("densenet_bc", depth=100, growth_rate=12, input_shape=(32, 32, 3))
    assert net.get_layer("conv3_block1_0_bn").input.shape[-1] == 108
    assert net.get_layer("conv4_block1_0_bn").input.shape[-1] == 150
    assert net.get_layer("bn").input.shape[-1] == 342
    del net
    assert_correct(capsys, ch07.check_bc_channels, BC_EXPECTED)
    assert_correct(capsys, ch07.check_bc_channels, [108.0, 150, 342])


@pytest.mark.parametrize(
    "answer, expected",
    [
        ((216, 408, 600), "no compression"),  # 24 + 192, + 192, + 192
        ((108, 150, 171), "no transition after it"),  # 342 halved once more
        ((96, 144, 336), "also holds its input"),  # 0 + 192 -> 96, ...
        ((102, 147, 339), "makes 2k = 24 maps, not k"),  # 12 + 192 -> 102, ...
        ((396, 582, 1350), "stay inside the layer"),  # 24 + 16 * 48 = 792 -> 396, ...
        ((204, 294, 678), "not (l - 4) / 3"),  # n = 32: 24 + 384 = 408 -> 204, ...
        ((108, 300, 492), "then the transition halves them"),
        ((100, 200, 300), "follow the channels"),
        ((108, 150), "tuple of three whole numbers"),
        ("108, 150, 342", "tuple of three whole numbers"),
        ((108, 150.5, 342), "three whole numbers"),
    ],
)
def test_bc_channels_mistakes(capsys, answer, expected):
    assert_hint(capsys, ch07.check_bc_channels, answer, expected)


def test_bc_channels_fill_in(capsys):
    assert_fill_in(capsys, ch07.check_bc_channels, None)
    assert_fill_in(capsys, ch07.check_bc_channels, (None, None, None))
