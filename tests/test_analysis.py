"""Tests for cv_textbook.analysis: the lecture-note formulas and model measurements."""

import keras
import pytest

from cv_textbook.analysis import (
    conv_output_size,
    conv_params,
    count_macs,
    count_macs_by_layer,
    count_params,
    format_count,
    receptive_field,
    receptive_field_of_model,
)

layers = keras.layers


def _model(input_shape, *stack):
    """A functional model: keras.Input(input_shape) followed by the given layers."""
    inputs = keras.Input(input_shape)
    x = inputs
    for layer in stack:
        x = layer(x)
    return keras.Model(inputs, x)


@pytest.fixture(scope="module")
def vgg16():
    return keras.applications.VGG16(weights=None)


@pytest.fixture(scope="module")
def resnet50():
    return keras.applications.ResNet50(weights=None)


# --- conv_output_size ------------------------------------------------------


def test_same_padding_keeps_size_at_stride_one():
    assert conv_output_size(28, 5, padding="same") == 28


def test_valid_5x5_shrinks_32_to_28():
    assert conv_output_size(32, 5) == 28
    assert conv_output_size(32, 5, padding="valid") == 28


def test_stride_two_halves_with_and_without_padding():
    assert conv_output_size(32, 3, stride=2, padding=1) == 16
    assert conv_output_size(32, 2, stride=2) == 16
    assert conv_output_size(7, 3, stride=2, padding="same") == 4  # ceil(7 / 2)
    assert conv_output_size(7, 3, stride=2, padding="valid") == 3  # floor(4 / 2) + 1


def test_explicit_padding_matches_formula():
    # (224 + 2*3 - 7) // 2 + 1 = 112: ResNet's stem
    assert conv_output_size(224, 7, stride=2, padding=3) == 112


def test_conv_output_size_rejects_bad_input_size():
    with pytest.raises(ValueError, match="`input_size` must be an integer of at least 1.*e.g. input_size=3"):
        conv_output_size(0, 3)


def test_conv_output_size_rejects_kernel_larger_than_input():
    with pytest.raises(ValueError, match="`input_size`=3 is too small.*padding='same'"):
        conv_output_size(3, 5)


def test_conv_output_size_rejects_unknown_padding():
    with pytest.raises(ValueError, match="`padding` must be .*'valid' or 'same'"):
        conv_output_size(8, 3, padding="full")


def test_conv_output_size_rejects_zero_stride():
    with pytest.raises(ValueError, match="`stride` must be an integer of at least 1"):
        conv_output_size(8, 3, stride=0)


# --- conv_params ------------------------------------------------------------


def test_lenet_first_conv_has_156_params():
    assert conv_params(5, 1, 6) == 156  # 5*5*1*6 + 6


def test_conv_params_rectangular_kernel_without_bias():
    assert conv_params((3, 5), 2, 4, use_bias=False) == 3 * 5 * 2 * 4


def test_conv_params_groups_divide_input_channels():
    assert conv_params(3, 8, 4, use_bias=False, groups=4) == 3 * 3 * 2 * 4


def test_conv_params_matches_keras_layer():
    model = _model((9, 9, 6), layers.Conv2D(9, (3, 2), groups=3))
    assert conv_params((3, 2), 6, 9, groups=3) == model.count_params()


def test_conv_params_rejects_groups_not_dividing_channels():
    with pytest.raises(ValueError, match="`in_channels`=6 is not divisible by groups=4"):
        conv_params(3, 6, 8, groups=4)


def test_conv_params_rejects_bad_kernel_size():
    with pytest.raises(ValueError, match="`kernel_size` must be an int or a pair"):
        conv_params((3, 3, 3), 1, 1)


# --- receptive_field --------------------------------------------------------


def test_three_3x3_convs_see_7x7_with_fewer_weights():
    channels = 64
    assert receptive_field([(3, 1)] * 3) == 7
    stacked = 3 * conv_params(3, channels, channels, use_bias=False)
    single = conv_params(7, channels, channels, use_bias=False)
    assert stacked == 27 * channels**2
    assert single == 49 * channels**2


def test_receptive_field_per_layer_grows_faster_after_stride():
    # conv3 -> pool2/2 -> conv3: 3, 4, 4 + 2*2 = 8
    assert receptive_field([(3, 1), (2, 2), (3, 1)], per_layer=True) == [3, 4, 8]


def test_receptive_field_accepts_dicts_and_dilation():
    assert receptive_field([{"kernel_size": 3, "dilation": 2}]) == 5
    assert receptive_field([(3, 1, 2), {"kernel_size": 3, "stride": 1}]) == 7


def test_receptive_field_of_nothing_is_one_pixel():
    assert receptive_field([]) == 1


def test_receptive_field_rejects_zero_stride_naming_the_entry():
    with pytest.raises(ValueError, match=r"`layers\[1\]\.stride` must be an integer of at least 1"):
        receptive_field([(3, 1), (3, 0)])


def test_receptive_field_rejects_unknown_dict_keys():
    with pytest.raises(ValueError, match=r"`layers\[0\]` must have the key 'kernel_size'"):
        receptive_field([{"size": 3}])


def test_receptive_field_of_model_matches_recurrence_on_a_chain():
    model = _model(
        (32, 32, 3),
        layers.Conv2D(4, 3, name="c1"),
        layers.MaxPooling2D(name="p1"),
        layers.Conv2D(4, 3, dilation_rate=2, name="c2"),
        layers.ReLU(name="relu"),
    )
    expected = receptive_field([(3, 1), (2, 2), (3, 1, 2)], per_layer=True)
    assert receptive_field_of_model(model) == list(zip(["c1", "p1", "c2"], expected))


def test_receptive_field_of_model_takes_widest_branch_and_enters_nested_models():
    inputs = keras.Input((32, 32, 3))
    wide = layers.Conv2D(4, 5, padding="same", name="wide")(inputs)
    narrow = layers.Conv2D(4, 1, name="narrow")(inputs)
    merged = layers.Add(name="add")([narrow, wide])  # shortcut first, as in ResNet
    inner = keras.Sequential([layers.Conv2D(4, 3, name="after")], name="inner")
    model = keras.Model(inputs, inner(merged))
    rows = dict(receptive_field_of_model(model))
    assert rows == {"wide": 5, "narrow": 1, "inner/after": 7}


def test_receptive_field_of_vgg16_is_212(vgg16):
    rows = receptive_field_of_model(vgg16)
    assert rows[0] == ("block1_conv1", 3)
    assert rows[-1] == ("block5_pool", 212)


def test_receptive_field_of_resnet50_follows_main_path(resnet50):
    assert receptive_field_of_model(resnet50)[-1] == ("conv5_block3_3_conv", 483)


def test_receptive_field_of_model_rejects_upsampling():
    model = _model((8, 8, 1), layers.Conv2DTranspose(1, 3, strides=2))
    with pytest.raises(ValueError, match="`model` contains Conv2DTranspose.*encoder"):
        receptive_field_of_model(model)


# --- count_params -----------------------------------------------------------


def test_count_params_splits_batchnorm_statistics():
    model = _model(
        (8, 8, 1),
        layers.Conv2D(4, 3),  # 3*3*1*4 + 4 = 40
        layers.BatchNormalization(),  # gamma, beta trainable; mean, var not: 8 + 8
        layers.Dropout(0.5),
        layers.Flatten(),
        layers.Dense(10),  # 6*6*4*10 + 10 = 1450
    )
    assert count_params(model) == {"total": 1506, "trainable": 1498, "non_trainable": 8}
    assert count_params(model)["total"] == model.count_params()


def test_count_params_respects_frozen_layers():
    model = _model((4,), layers.Dense(3, name="frozen"), layers.Dense(2))
    model.get_layer("frozen").trainable = False
    assert count_params(model) == {"total": 23, "trainable": 8, "non_trainable": 15}


def test_count_params_rejects_unbuilt_model():
    with pytest.raises(ValueError, match="`model` .* is not built.*keras.Input"):
        count_params(keras.Sequential([layers.Dense(2)]))


# --- count_macs -------------------------------------------------------------


def test_count_macs_conv_and_dense_by_hand():
    model = _model(
        (8, 8, 1),
        layers.Conv2D(4, 3, name="conv"),  # 6*6 outputs * 3*3*1*4 = 1296
        layers.BatchNormalization(),
        layers.ReLU(),
        layers.MaxPooling2D(),  # 3x3x4 = 36 features
        layers.Flatten(),
        layers.Dense(10, name="fc"),  # 36*10 = 360
    )
    assert count_macs_by_layer(model) == [("conv", "Conv2D", 1296), ("fc", "Dense", 360)]
    assert count_macs(model) == 1296 + 360


def test_count_macs_separable_is_depthwise_plus_pointwise():
    model = _model((10, 10, 3), layers.SeparableConv2D(8, 3, padding="same", depth_multiplier=2))
    depthwise = 10 * 10 * 3 * 3 * 3 * 2
    pointwise = 10 * 10 * (3 * 2) * 8
    assert count_macs(model) == depthwise + pointwise == 10200


def test_count_macs_depthwise_uses_depth_multiplier_and_stride():
    depthwise = layers.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2)
    model = _model((10, 10, 3), depthwise)
    assert count_macs(model) == 5 * 5 * 3 * 3 * 3 * 2


def test_count_macs_transposed_conv_scatters_from_each_input_pixel():
    model = _model((4, 4, 8), layers.Conv2DTranspose(2, 3, strides=2, padding="same"))
    assert count_macs(model) == 4 * 4 * 3 * 3 * 8 * 2


def test_count_macs_grouped_conv_divides_input_channels():
    model = _model((6, 6, 8), layers.Conv2D(4, 3, groups=4, use_bias=False))
    assert count_macs(model) == 4 * 4 * 3 * 3 * (8 // 4) * 4
    assert count_macs(model) == 4 * 4 * conv_params(3, 8, 4, use_bias=False, groups=4)


def test_count_macs_conv1d_and_dense_on_sequences():
    model = _model((20, 2), layers.Conv1D(4, 5), layers.Dense(3))
    # Conv1D: 16 positions * 5*2*4; Dense runs at each of the 16 positions: 16*4*3
    assert count_macs(model) == 16 * 5 * 2 * 4 + 16 * 4 * 3


def test_count_macs_enters_nested_models():
    inner = keras.Sequential([layers.Conv2D(2, 1, name="pointwise")], name="block")
    model = _model((5, 5, 3), inner, layers.Flatten(), layers.Dense(1, name="head"))
    assert count_macs_by_layer(model) == [
        ("block/pointwise", "Conv2D", 5 * 5 * 3 * 2),
        ("head", "Dense", 50),
    ]


def test_count_macs_needs_fixed_input_size():
    model = _model((None, None, 3), layers.Conv2D(2, 3))
    with pytest.raises(ValueError, match="unknown sizes.*fixed input size"):
        count_macs(model)


def test_count_macs_vgg16_matches_paper(vgg16):
    assert count_macs(vgg16) == pytest.approx(15.47e9, rel=0.01)


def test_count_macs_resnet50_matches_paper(resnet50):
    assert count_macs(resnet50) == pytest.approx(3.86e9, rel=0.02)


def test_count_macs_resnet50_table_covers_every_conv_and_the_head(resnet50):
    rows = count_macs_by_layer(resnet50)
    convs = [layer for layer in resnet50.layers if isinstance(layer, layers.Conv2D)]
    assert len(rows) == len(convs) + 1
    assert rows[-1] == ("predictions", "Dense", 2048 * 1000)
    assert sum(macs for _, _, macs in rows) == count_macs(resnet50)


# --- format_count -----------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "text"),
    [
        (156, "156"),
        (61706, "61.7 K"),
        (15.47e9, "15.47 G"),
        (138_357_544, "138.4 M"),
        (999_960, "1 M"),
        (2e12, "2 T"),
    ],
)
def test_format_count_uses_units_and_few_decimals(count, text):
    assert format_count(count) == text


def test_format_count_rejects_text():
    with pytest.raises(ValueError, match="`n` must be a number"):
        format_count("61706")
