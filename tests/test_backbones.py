"""Backbones: include_top/pooling on every classifier as keras.applications, feature extractors,
and the shared blocks that ResNet, the U-Net and Xception are built from."""

import inspect

import keras
import numpy as np
import pytest

from cv_textbook import models
from cv_textbook.models.blocks import ConvSettings, LayerNames, conv_bn, separable_block
from cv_textbook.models.features import feature_extractor
from cv_textbook.models.lenet import lenet5
from cv_textbook.models.resnet import resnet18, resnet20, resnet50, resnet_cifar
from test_resnet import randomize_weights

CLASSIFIERS = [spec.name for spec in models.specs() if spec.task == "classification"]

# /work/shared/REFERENCE.md: keras.applications.ResNet50(include_top=False, weights=None), 224×224×3.
RESNET50_WITHOUT_TOP = 23_587_712
# ResNet-18 without biases has torchvision's 11,689,512 trainable parameters (REFERENCE.md); its top
# is a 512 → 1000 dense layer: 512 × 1000 + 1000 = 513,000.
RESNET18_NO_BIAS_WITHOUT_TOP_TRAINABLE = 11_689_512 - 513_000
# ResNet-20 (He et al. 2015, Table 6) has 269,722 trainable parameters; its top is 64 → 10 dense:
# 64 × 10 + 10 = 650.
RESNET20_WITHOUT_TOP_TRAINABLE = 269_722 - 650
# LeNet-5 without its top: C1 5·5·1·6 + 6 = 156 and C3 5·5·6·16 + 16 = 2,416.
LENET5_WITHOUT_TOP = 156 + 2_416


def trainable(model) -> int:
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def layer_names(model) -> list[str]:
    return [layer.name for layer in model.layers]


# ------------------------------------------------------------------ include_top and pooling


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_every_classifier_takes_include_top_and_pooling_as_keras_applications(name):
    parameters = inspect.signature(models.builder(name)).parameters
    assert parameters["include_top"].default is True
    assert parameters["pooling"].default is None


def test_resnet50_without_top_has_keras_applications_parameter_count():
    model = resnet50(include_top=False)
    assert model.count_params() == RESNET50_WITHOUT_TOP
    assert model.output_shape == (None, 7, 7, 2048)
    assert layer_names(model)[-1] == "conv5_block3_out"


def test_resnet50_without_top_matches_keras_applications_outputs():
    reference = keras.applications.ResNet50(include_top=False, weights=None)
    randomize_weights(reference)
    ours = models.transfer_weights(reference, resnet50(include_top=False))
    assert layer_names(ours)[1:] == layer_names(reference)[1:]
    batch = np.random.default_rng(1).random((2, 224, 224, 3), dtype=np.float32) * 255.0 - 127.5
    expected = np.asarray(reference(batch, training=False))
    assert np.abs(np.asarray(ours(batch, training=False)) - expected).max() < 1e-5


@pytest.mark.parametrize(
    "pooling, layer_class, name",
    # keras.applications' ResNet names them "avg_pool" and "max_pool" (keras/src/applications/resnet.py).
    [
        ("avg", keras.layers.GlobalAveragePooling2D, "avg_pool"),
        ("max", keras.layers.GlobalMaxPooling2D, "max_pool"),
    ],
)
def test_pooling_reduces_the_last_map_to_one_value_per_channel(pooling, layer_class, name):
    model = resnet18(input_shape=(32, 32, 3), use_bias=False, include_top=False, pooling=pooling)
    assert isinstance(model.layers[-1], layer_class) and model.layers[-1].name == name
    assert model.output_shape == (None, 512)
    assert trainable(model) == RESNET18_NO_BIAS_WITHOUT_TOP_TRAINABLE  # pooling has no weights


def test_pooling_is_ignored_with_the_top_as_keras_applications():
    with_pooling = resnet20(input_shape=(28, 28, 1), pooling="max")
    assert with_pooling.output_shape == (None, 10)
    assert layer_names(with_pooling)[-2:] == ["avg_pool", "predictions"]


def test_cifar_resnet_without_top_returns_the_last_map():
    model = resnet20(include_top=False)
    assert trainable(model) == RESNET20_WITHOUT_TOP_TRAINABLE
    assert model.output_shape == (None, 8, 8, 64)
    assert "predictions" not in layer_names(model) and "avg_pool" not in layer_names(model)
    plain = models.build("plain20", include_top=False, pooling="avg")
    assert trainable(plain) == RESNET20_WITHOUT_TOP_TRAINABLE and plain.output_shape == (None, 64)
    assert resnet_cifar(depth=8, include_top=False, input_shape=(28, 28, 1)).output_shape == (None, 7, 7, 64)


# The paper's variant "1998" has 1,716 without its top (tests/test_lenet.py): trainable S2, S4, sparse C3.
@pytest.mark.parametrize("variant", ["modern", "1998_simplified"])
def test_lenet5_without_top_returns_s4_maps(variant):
    model = lenet5(variant=variant, include_top=False)
    assert layer_names(model) == ["image", "c1_conv", "s2_pool", "c3_conv", "s4_pool"]
    assert model.output_shape == (None, 5, 5, 16)
    assert model.count_params() == LENET5_WITHOUT_TOP
    assert lenet5(variant=variant, include_top=False, pooling="avg").output_shape == (None, 16)


@pytest.mark.parametrize(
    "name, kwargs, message",
    [
        ("lenet5", {"include_top": "no"}, r"include_top must be True or False, got 'no'"),
        ("resnet18", {"include_top": False, "pooling": "mean"}, r"pooling must be one of \(None, 'avg'"),
        ("resnet20", {"pooling": "average"}, r"pooling must be one of"),
        ("plain18", {"include_top": 0}, r"include_top must be True or False"),
    ],
)
def test_bad_include_top_or_pooling_raise_errors_that_name_them(name, kwargs, message):
    with pytest.raises(ValueError, match=message):
        models.build(name, **kwargs)


def test_weight_decay_message_names_the_papers_value():
    with pytest.raises(ValueError, match=r"weight_decay must be None or a number of at least 0 .*used 1e-4"):
        resnet20(weight_decay=-1.0)


# ------------------------------------------------------------------ feature_extractor


@pytest.fixture(scope="module")
def small_resnet():
    model = resnet20(input_shape=(28, 28, 1))
    randomize_weights(model)
    return model


def test_feature_extractor_returns_the_named_maps_in_order(small_resnet):
    names = ["conv2_block3_out", "conv3_block3_out", "conv4_block3_out"]
    extractor = feature_extractor(small_resnet, names)
    assert [tuple(shape[1:]) for shape in extractor.output_shape] == [(28, 28, 16), (14, 14, 32), (7, 7, 64)]
    single = feature_extractor(small_resnet, "conv3_block1_add")
    assert single.output_shape == (None, 14, 14, 32)  # one name: one output, not a list
    assert isinstance(feature_extractor(small_resnet, ["conv3_block1_add"]).output, list)


def test_feature_extractor_at_the_last_block_equals_the_model_without_top(small_resnet):
    extractor = feature_extractor(small_resnet, "conv4_block3_out")
    backbone = resnet20(input_shape=(28, 28, 1), include_top=False)
    for layer in backbone.layers:  # the same layer names, without the top
        layer.set_weights(small_resnet.get_layer(layer.name).get_weights())
    batch = np.random.default_rng(2).random((2, 28, 28, 1), dtype=np.float32)
    np.testing.assert_array_equal(extractor(batch, training=False), backbone(batch, training=False))


def test_feature_extractor_shares_the_weights(small_resnet):
    extractor = feature_extractor(small_resnet, "conv1_relu")
    assert extractor.get_layer("conv1_conv") is small_resnet.get_layer("conv1_conv")
    batch = np.ones((1, 28, 28, 1), dtype=np.float32)
    kernel = small_resnet.get_layer("conv1_conv").kernel
    saved = np.asarray(kernel).copy()
    try:
        kernel.assign(np.zeros_like(saved))  # every conv1 output is then BN's constant: all pixels equal
        maps = np.asarray(extractor(batch, training=False))[0]
        assert np.ptp(maps, axis=(0, 1)).max() == 0.0 and np.ptp(maps) > 0.0  # channels still differ
    finally:
        kernel.assign(saved)


def test_feature_extractor_misspelt_name_lists_the_closest_layers(small_resnet):
    message = r"no layer named 'conv2_block1_ot'; closest layer names: conv2_block1_out"
    with pytest.raises(ValueError, match=message):
        feature_extractor(small_resnet, ["conv2_block1_out", "conv2_block1_ot"])
    with pytest.raises(ValueError, match=r"layer_names is empty"):
        feature_extractor(small_resnet, [])


# ------------------------------------------------------------------ shared blocks

# keras.applications.Xception's layer names (its stem and entry blocks; the residual branch is unnamed).
XCEPTION_CONV = LayerNames(conv="{block}", bn="{block}_bn", activation="{block}_act")
XCEPTION_SEPARABLE = LayerNames(
    conv="{block}_sepconv{i}",
    bn="{block}_sepconv{i}_bn",
    activation="{block}_sepconv{i}_act",
    project=None,
    project_bn=None,
    add=None,
)


def test_xception_entry_block_is_the_unet_down_block_with_other_options():
    """The separable block with Xception's options rebuilds keras.applications.Xception up to its
    first Add (stem and block2): same layers in the same order, same weights, same outputs."""
    reference = keras.applications.Xception(include_top=False, weights=None)
    first_add = next(layer for layer in reference.layers if isinstance(layer, keras.layers.Add))
    reference = keras.Model(reference.input, first_add.output)
    randomize_weights(reference)

    settings = ConvSettings(use_bias=False)  # Xception's convolutions have no bias
    inputs = keras.Input((299, 299, 3))
    x = conv_bn(inputs, 32, 3, 2, "block1_conv1", settings, padding="valid", names=XCEPTION_CONV)
    x = conv_bn(x, 64, 3, 1, "block1_conv2", settings, padding="valid", names=XCEPTION_CONV)
    # Xception's block2 follows the stem's ReLU and normalises its projection.
    x = separable_block(
        x, 128, "block2", settings, names=XCEPTION_SEPARABLE, first_relu=False, project_bn=True
    )
    ours = models.transfer_weights(reference, keras.Model(inputs, x))

    assert len(ours.layers) == len(reference.layers)
    for mine, theirs in zip(ours.layers[1:], reference.layers[1:]):
        assert isinstance(mine, type(theirs)), (mine.name, theirs.name)  # BN: the package's subclass
    named = [name for name in layer_names(reference) if name.startswith("block")]
    assert named == [name for name in layer_names(ours) if name.startswith("block")]
    assert "block2_sepconv2_act" in named and "block2_sepconv1_act" not in named  # no leading ReLU
    assert ours.count_params() == reference.count_params()
    batch = np.random.default_rng(3).random((1, 299, 299, 3), dtype=np.float32)
    expected = np.asarray(reference(batch, training=False))
    assert np.abs(np.asarray(ours(batch, training=False)) - expected).max() < 1e-5


def test_unet_down_block_names_are_the_blocks_defaults():
    inputs = keras.Input((16, 16, 8))
    block = keras.Model(inputs, separable_block(inputs, 12, "down1"))
    assert layer_names(block)[1:] == [
        "down1_relu1", "down1_sepconv1", "down1_bn1", "down1_relu2", "down1_sepconv2", "down1_bn2",
        "down1_pool", "down1_project", "down1_add",
    ]  # fmt: skip
    assert block.output_shape == (None, 8, 8, 12)
    # separable 3×3: 9·8 depthwise + 8·12 + 12 pointwise; then 9·12 + 12·12 + 12; BN 4·12 each;
    # projection 8·12 + 12.
    assert block.count_params() == (72 + 96 + 12) + (108 + 144 + 12) + 2 * 48 + (96 + 12)


def test_separable_block_identity_residual_and_one_width_per_convolution():
    inputs = keras.Input((8, 8, 16))
    middle = separable_block(inputs, (16, 16, 16), "block5", pool=False, residual="identity")
    assert tuple(middle.shape[1:]) == (8, 8, 16)  # Xception's middle flow keeps the map
    exit_block = keras.Model(inputs, separable_block(inputs, (24, 32), "block13"))
    assert exit_block.get_layer("block13_sepconv2").filters == 32
    assert exit_block.get_layer("block13_project").filters == 32  # the residual matches the last width
    assert exit_block.output_shape == (None, 4, 4, 32)
    with pytest.raises(ValueError, match=r"filters must be an integer of at least 1.*one width per"):
        separable_block(inputs, (16, 0), "bad")
    with pytest.raises(ValueError, match=r"residual must be one of \('project', 'identity', None\)"):
        separable_block(inputs, 16, "bad", residual="add")
