"""U-Net builders: the keras-io and the 2015 paper's exact sizes, ablations, clear errors, safe saving."""

import collections

import keras
import numpy as np
import pytest

from cv_textbook import models
from cv_textbook.models.unet import classic_output_side, unet_classic, unet_xception


def _layer_types(model):
    return collections.Counter(type(layer).__name__ for layer in model.layers)


def _trainable(model):
    return sum(int(np.prod(weight.shape)) for weight in model.trainable_weights)


@pytest.fixture(scope="module")
def keras_io_unet():
    return unet_xception()


def test_registry_builds_both_unets():
    assert {"unet_xception", "unet_classic"} <= set(models.available())
    assert models.builder("unet_xception") is unet_xception
    assert models.builder("unet_classic") is unet_classic
    assert "keras-io" in models.describe("unet_xception")
    assert "Ronneberger" in models.describe("unet_classic")


def test_unet_xception_matches_the_keras_io_example_exactly(keras_io_unet):
    model = keras_io_unet
    assert model.count_params() == 2_058_979
    assert _trainable(model) == 2_055_203
    assert model.count_params() - _trainable(model) == 3_776
    assert len(model.layers) == 72
    assert _layer_types(model) == {
        "InputLayer": 1,
        "Conv2D": 9,
        "BatchNormalization": 15,
        "Activation": 15,
        "SeparableConv2D": 6,
        "MaxPooling2D": 3,
        "Add": 7,
        "Conv2DTranspose": 8,
        "UpSampling2D": 8,
    }
    assert model.output_shape == (None, 160, 160, 3)


def test_unet_xception_layer_names_and_shapes_follow_the_structure(keras_io_unet):
    model = keras_io_unet
    assert model.get_layer("entry_conv").output.shape[1:] == (80, 80, 32)
    assert [model.get_layer(f"down{i}_add").output.shape[1:] for i in (1, 2, 3)] == [
        (40, 40, 64),
        (20, 20, 128),
        (10, 10, 256),
    ]
    assert [model.get_layer(f"up{i}_add").output.shape[1:] for i in (1, 2, 3, 4)] == [
        (20, 20, 256),
        (40, 40, 128),
        (80, 80, 64),
        (160, 160, 32),
    ]
    assert model.get_layer("down1_project").strides == (2, 2)
    assert model.get_layer("down1_sepconv1").kernel_size == (3, 3)
    assert isinstance(model.get_layer("up1_convT2"), keras.layers.Conv2DTranspose)
    output = model.get_layer("output")
    assert output.activation.__name__ == "softmax" and output.dtype_policy.name == "float32"


def test_ablation_without_residual_projection_drops_adds_and_projections(keras_io_unet):
    plain = unet_xception(residual_projection=False)
    types = _layer_types(plain)
    assert "Add" not in types
    assert types["Conv2D"] == 2  # entry and output only: no 1×1 projections
    assert types["UpSampling2D"] == 4  # no residual upsampling
    assert len(plain.layers) == 72 - 7 - 7 - 4
    assert plain.count_params() < keras_io_unet.count_params()
    assert plain.output_shape == keras_io_unet.output_shape


def test_skip_connections_add_concatenations_and_keep_the_output_shape(keras_io_unet):
    skips = unet_xception(skip_connections=True)
    types = _layer_types(skips)
    assert types["Concatenate"] == 3
    assert types - collections.Counter({"Concatenate": 3}) == _layer_types(keras_io_unet)
    assert skips.output_shape == keras_io_unet.output_shape
    # up2 meets the last-but-one down block (20×20), up4 the entry block (80×80).
    assert skips.get_layer("up2_concat").output.shape[1:] == (20, 20, 256 + 128)
    assert skips.get_layer("up4_concat").output.shape[1:] == (80, 80, 64 + 32)
    both_off = unet_xception(skip_connections=True, residual_projection=False)
    assert "Add" not in _layer_types(both_off) and _layer_types(both_off)["Concatenate"] == 3


def test_unet_xception_grayscale_any_classes_and_custom_filters():
    model = unet_xception(input_shape=(64, 96, 1), num_classes=11, filters=(8, 16, 32))
    assert model.output_shape == (None, 64, 96, 11)  # three halvings: multiples of 8 suffice
    assert unet_xception((48, 48, 1), num_classes=2, filters=(8, 16, 32)).output_shape == (None, 48, 48, 2)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"input_shape": (150, 150, 3)}, r"input_shape \(150, 150, 3\): height and width must be multiples of 16 for this network, e\.g\. 144 or 160"),
        ({"input_shape": (160, 100, 3)}, r"multiples of 16 .*96 or 112 for the width"),
        ({"input_shape": (8, 8, 1)}, r"too small for unet_xception.*smallest valid value: 16"),
        ({"input_shape": (36, 36, 1), "filters": (8, 16, 32)}, r"multiples of 8 for this network, e\.g\. 32 or 40"),
        ({"num_classes": 1}, r"num_classes must be an integer of at least 2"),
        ({"filters": (32,)}, r"filters must be a sequence of at least 2 positive integers"),
        ({"residual_projection": "yes"}, r"residual_projection must be True or False, got 'yes'"),
    ],
)
def test_unet_xception_bad_arguments_raise_helpful_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        unet_xception(**kwargs)


def test_unet_classic_matches_the_paper():
    model = unet_classic()
    assert model.count_params() == 31_030_658
    assert model.output_shape == (None, 388, 388, 2)
    assert model.get_layer("bottom_conv2").output.shape[1:] == (28, 28, 1024)
    assert model.get_layer("dec4_upconv").output.shape[1:] == (56, 56, 512)
    assert model.get_layer("dec4_crop").output.shape[1:] == (56, 56, 512)  # 64×64 cropped by 4 each side
    assert model.get_layer("dec1_crop").output.shape[1:] == (392, 392, 64)  # 568 → 392
    assert _layer_types(model)["Cropping2D"] == 4 and _layer_types(model)["Concatenate"] == 4
    assert model.get_layer("output").dtype_policy.name == "float32"


def test_unet_classic_same_padding_keeps_the_size_without_crops():
    model = unet_classic(input_shape=(64, 48, 1), num_classes=3, padding="same", base_filters=8, depth=3)
    assert model.output_shape == (None, 64, 48, 3)
    assert "Cropping2D" not in _layer_types(model)


def test_classic_output_side():
    assert classic_output_side(572) == 388
    assert classic_output_side(570) is None
    assert classic_output_side(64, padding="same") == 64
    assert classic_output_side(60, padding="same") is None


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"input_shape": (570, 570, 1)}, r"height 570 does not work for unet_classic.*Nearest sizes that work: 556 or 572"),
        ({"input_shape": (572, 100, 1)}, r"width 100 does not work.*smallest valid value: 188"),
        ({"input_shape": (100, 100, 1), "padding": "same"}, r"multiple of 16\. Nearest sizes that work: 96 or 112"),
        ({"padding": "full"}, r"padding must be one of \('valid', 'same'\)"),
        ({"depth": 0}, r"depth must be an integer of at least 1"),
        ({"num_classes": 1}, r"num_classes must be an integer of at least 2"),
    ],
)
def test_unet_classic_bad_arguments_raise_helpful_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        unet_classic(**kwargs)


@pytest.mark.parametrize("skip_connections", [False, True])
def test_unet_xception_saves_and_loads_safely_with_the_same_outputs(tmp_path, skip_connections):
    model = unet_xception(input_shape=(64, 64, 1), num_classes=3, skip_connections=skip_connections)
    path = tmp_path / "unet.keras"
    model.save(path)
    loaded = keras.models.load_model(path)  # default safe_mode=True
    batch = np.random.default_rng(0).random((2, 64, 64, 1), dtype=np.float32)
    np.testing.assert_allclose(model.predict(batch, verbose=0), loaded.predict(batch, verbose=0), atol=1e-6)
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]


def test_unet_classic_small_saves_and_loads_safely(tmp_path):
    model = unet_classic(input_shape=(44, 44, 1), num_classes=2, base_filters=4, depth=2)
    assert model.output_shape == (None, 4, 4, 2)
    path = tmp_path / "classic.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    batch = np.random.default_rng(1).random((2, 44, 44, 1), dtype=np.float32)
    np.testing.assert_allclose(model.predict(batch, verbose=0), loaded.predict(batch, verbose=0), atol=1e-6)
