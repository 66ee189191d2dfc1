"""Squeeze-and-excitation: the block against its formula, its parameters 2·C·(C//r) + C//r + C, its
place in SE-ResNet (after the branch's last BN, before the Add), SE-ResNet-50's count and MACs
against the paper and timm, the CIFAR SE-ResNets, clear errors."""

import keras
import numpy as np
import pytest

from cv_textbook import models
from cv_textbook.analysis import count_macs
from cv_textbook.models.blocks import squeeze_excite
from test_resnet import CIFAR_OPTION_A_TRAINABLE, TORCHVISION_TRAINABLE, trainable

# timm's seresnet50 (r = 16, FC biases, no convolution biases): 28,088,024 (shared/REFERENCE.md).
SE_RESNET50_TRAINABLE = 28_088_024
RESNET50_STAGES = ((256, 3, 56), (512, 4, 28), (1024, 6, 14), (2048, 3, 7))  # (channels, blocks, side)
CIFAR_STAGES = ((16, 28), (32, 14), (64, 7))  # (channels, side) of ResNet-20 at 28x28x1


def se_parameters(channels, ratio=16):
    """Dense C -> C//r and C//r -> C with biases (Hu et al. 2018, §3.2), one hidden unit at least."""
    hidden = max(1, channels // ratio)
    return channels * hidden + hidden + hidden * channels + channels


def test_squeeze_excite_computes_the_papers_formula():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 5, 4, 32)).astype("float32")
    inputs = keras.Input((5, 4, 32))
    model = keras.Model(inputs, squeeze_excite(inputs, ratio=8, name="se_test"))
    w1, b1, w2, b2 = [rng.normal(0, 0.3, w.shape).astype("float32") for w in model.weights]
    model.set_weights([w1, b1, w2, b2])
    squeezed = x.mean(axis=(1, 2))  # (2, 32)
    excitation = 1 / (1 + np.exp(-(np.maximum(squeezed @ w1 + b1, 0) @ w2 + b2)))
    expected = x * excitation[:, None, None, :]
    np.testing.assert_allclose(np.asarray(model(x)), expected, rtol=1e-5, atol=1e-6)
    assert [layer.name for layer in model.layers[1:]] == [
        "se_test_se_squeeze", "se_test_se_reduce", "se_test_se_expand", "se_test_se_scale"
    ]


@pytest.mark.parametrize(("channels", "ratio"), [(64, 16), (2048, 16), (16, 16), (8, 16), (96, 4)])
def test_squeeze_excite_has_2c_squared_over_r_plus_biases_parameters(channels, ratio):
    inputs = keras.Input((3, 3, channels))
    model = keras.Model(inputs, squeeze_excite(inputs, ratio))
    assert model.count_params() == se_parameters(channels, ratio)
    assert model.output_shape == (None, 3, 3, channels)


def test_squeeze_excite_without_a_name_can_be_used_twice():
    inputs = keras.Input((4, 4, 32))
    model = keras.Model(inputs, squeeze_excite(squeeze_excite(inputs), ratio=4))
    assert model.count_params() == se_parameters(32) + se_parameters(32, 4)


@pytest.mark.parametrize(
    ("shape", "ratio", "message"),
    [((4, 4, 8), 0, "ratio must be an integer of at least 1"), ((8,), 16, "needs a 4-D feature map")],
)
def test_squeeze_excite_refuses_bad_arguments(shape, ratio, message):
    with pytest.raises(ValueError, match=message):
        squeeze_excite(keras.Input(shape), ratio)


# ------------------------------------------------------------------ SE-ResNet-50 against the paper


@pytest.fixture(scope="module")
def resnet50_pair():
    return models.build("resnet50", use_bias=False), models.build("se_resnet50", use_bias=False)


def test_se_resnet50_has_timms_parameter_count(resnet50_pair):
    plain, se = resnet50_pair
    se_total = sum(blocks * se_parameters(channels) for channels, blocks, _ in RESNET50_STAGES)
    assert se_total == 2_530_992
    assert trainable(plain) == TORCHVISION_TRAINABLE[50]
    assert trainable(se) == SE_RESNET50_TRAINABLE == TORCHVISION_TRAINABLE[50] + se_total
    assert se.name == "se_resnet50"


def test_se_resnet50_macs_are_the_papers_3_87_against_3_86_g(resnet50_pair):
    plain, se = resnet50_pair
    # count_macs counts the two Dense layers of each SE block: C·C/16 multiply-accumulates each.
    dense_macs = sum(blocks * 2 * channels * (channels // 16) for channels, blocks, _ in RESNET50_STAGES)
    assert count_macs(se) - count_macs(plain) == dense_macs == 2_514_944
    # The paper's FLOPs also hold the pooling's additions and the scaling: H·W·C each per block.
    map_ops = sum(blocks * side * side * channels for channels, blocks, side in RESNET50_STAGES)
    assert round(count_macs(plain) / 1e9, 2) == 3.86  # Table 2: ResNet-50 3.86 GFLOPs
    assert round((count_macs(se) + 2 * map_ops) / 1e9, 2) == 3.87  # Table 2: SE-ResNet-50 3.87


def test_se_block_sits_after_the_last_bn_and_before_the_add(resnet50_pair):
    _, se = resnet50_pair
    scale = se.get_layer("conv4_block2_se_scale")
    assert [t.name for t in scale.input] == [se.get_layer("conv4_block2_3_bn").output.name,
                                              se.get_layer("conv4_block2_se_expand").output.name]
    add_inputs = [t.name for t in se.get_layer("conv4_block2_add").input]
    assert scale.output.name in add_inputs
    assert se.get_layer("conv4_block2_se_reduce").units == 1024 // 16
    assert se.get_layer("conv4_block2_se_expand").activation.__name__ == "sigmoid"


def test_se_ratio_none_builds_the_plain_resnet():
    assert [layer.name for layer in models.build("resnet20", se_ratio=None).layers] == [
        layer.name for layer in models.build("resnet20").layers
    ]


# ------------------------------------------------------------------ CIFAR layout


@pytest.mark.parametrize("depth", [32, 56])
def test_cifar_se_resnets_add_one_se_block_per_residual_block(depth):
    n = (depth - 2) // 6
    model = models.build(f"se_resnet{depth}")
    added = sum(n * se_parameters(channels) for channels, _ in CIFAR_STAGES)
    assert trainable(model) == CIFAR_OPTION_A_TRAINABLE[depth] + added
    assert len([layer for layer in model.layers if layer.name.endswith("_se_scale")]) == 3 * n


def test_se_resnet20_has_the_documented_count_and_hidden_units():
    model = models.build("se_resnet20")
    assert trainable(model) == 269_722 + 3 * (49 + 162 + 580) == 272_095  # 16 -> 1, 32 -> 2, 64 -> 4 units
    assert [model.get_layer(f"conv{s}_block1_se_reduce").units for s in (2, 3, 4)] == [1, 2, 4]


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("se_resnet20", {"se_ratio": 0}, "se_ratio must be an integer of at least 1"),
        ("se_resnet50", {"se_ratio": 1.5}, "se_ratio must be an integer"),
        ("resnet18", {"se_ratio": "16"}, "se_ratio must be an integer"),
        ("se_resnet32", {"option": "D"}, "option must be one of"),
    ],
)
def test_bad_arguments_raise_errors_that_name_them(name, kwargs, message):
    with pytest.raises(ValueError, match=message):
        models.build(name, **kwargs)
