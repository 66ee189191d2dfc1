"""AlexNet and ZFNet: the papers' parameter counts and map sizes, the towers, the normalisation,
pooling and dropout options, refused small inputs, and the classroom versions' own counts."""

import keras
import numpy as np
import pytest

from cv_textbook import models
from cv_textbook.checks import smallest_input_side
from cv_textbook.models.alexnet import alexnet, alexnet_classroom, zfnet, zfnet_classroom
from cv_textbook.models.layers import BatchNormalization, LocalResponseNormalization

# REFERENCE.md, "Classic networks" (Keras count of each paper's layer table, biases, 1000 classes);
# the AlexNet paper says "60 million parameters".
ALEXNET_TWO_TOWERS = 60_965_224
ALEXNET_ONE_TOWER = 62_378_344
ZFNET = 62_357_608


def conv(kernel, channels_in, filters, groups=1):
    """Weights of a convolution whose filters each see ``channels_in / groups`` maps, plus biases."""
    return kernel * kernel * channels_in // groups * filters + filters


def dense(units_in, units):
    return units_in * units + units


# AlexNet, Krizhevsky et al. (2012), Fig. 2 and §3.5: filters 96, 256, 384, 384, 256 of 11×11×3,
# 5×5×48, 3×3×256, 3×3×192, 3×3×192; 6×6×256 → 4096 → 4096 → 1000.
ALEXNET_DENSE = dense(6 * 6 * 256, 4096) + dense(4096, 4096) + dense(4096, 1000)
ALEXNET_CONV_WIDTHS = (96, 256, 384, 384, 256)


def trainable(model) -> int:
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def map_sizes(model, names) -> list[int]:
    return [model.get_layer(name).output.shape[1] for name in names]


def layer_names_of(model, cls) -> list[str]:
    return [layer.name for layer in model.layers if isinstance(layer, cls)]


@pytest.fixture(scope="module")
def paper_alexnet():
    return alexnet()


def test_alexnet_two_towers_has_the_papers_count_layer_by_layer(paper_alexnet):
    convs = (conv(11, 3, 96) + conv(5, 96, 256, groups=2) + conv(3, 256, 384) + conv(3, 384, 384, groups=2)
             + conv(3, 384, 256, groups=2))
    assert convs + ALEXNET_DENSE == ALEXNET_TWO_TOWERS
    assert paper_alexnet.count_params() == ALEXNET_TWO_TOWERS
    assert ALEXNET_DENSE == 58_631_144  # REFERENCE.md: the FC layers hold 58.6 M of the 61 M
    assert [paper_alexnet.get_layer(f"conv{i}").groups for i in range(1, 6)] == [1, 2, 1, 2, 2]


def test_alexnet_maps_follow_the_paper_at_227(paper_alexnet):
    # (227 − 11) / 4 + 1 = 55; overlapping 3×3/2 pooling: 55 → 27 → 13 → 6 (the paper's Fig. 2)
    names = ["conv1", "pool1", "conv2", "pool2", "conv3", "conv4", "conv5", "pool5"]
    assert map_sizes(paper_alexnet, names) == [55, 27, 27, 13, 13, 13, 13, 6]
    assert paper_alexnet.get_layer("pool5").output.shape[1:] == (6, 6, 256)
    assert paper_alexnet.get_layer("fc6").units == 4096
    assert paper_alexnet.output_shape == (None, 1000)


def test_alexnet_layers_in_the_papers_order(paper_alexnet):
    # LRN after the ReLU of conv1 and conv2, before their pooling (§3.3, §3.4); dropout in fc6, fc7 (§4.2)
    names = [layer.name for layer in paper_alexnet.layers]
    assert names == [
        "image", "conv1", "relu1", "norm1", "pool1", "conv2", "relu2", "norm2", "pool2", "conv3", "relu3",
        "conv4", "relu4", "conv5", "relu5", "pool5", "flatten", "fc6", "drop6", "fc7", "drop7", "fc8",
    ]
    assert [paper_alexnet.get_layer(n).rate for n in ("drop6", "drop7")] == [0.5, 0.5]
    norm = paper_alexnet.get_layer("norm1")
    assert isinstance(norm, LocalResponseNormalization)
    assert paper_alexnet.get_layer("pool1").pool_size == (3, 3)
    assert paper_alexnet.get_layer("pool1").strides == (2, 2)
    assert paper_alexnet.get_layer("fc8").dtype_policy.compute_dtype == "float32"


def test_alexnet_one_tower_has_the_single_tower_count():
    convs = (conv(11, 3, 96) + conv(5, 96, 256) + conv(3, 256, 384) + conv(3, 384, 384) + conv(3, 384, 256))
    assert convs + ALEXNET_DENSE == ALEXNET_ONE_TOWER
    assert alexnet(towers=1).count_params() == ALEXNET_ONE_TOWER


def test_grouping_saves_half_the_weights_of_the_grouped_convolutions():
    # conv2, conv4, conv5 each lose half their kernel weights:
    # (5·5·96·256 + 3·3·384·384 + 3·3·384·256) / 2
    saved = (5 * 5 * 96 * 256 + 3 * 3 * 384 * 384 + 3 * 3 * 384 * 256) // 2
    assert ALEXNET_ONE_TOWER - ALEXNET_TWO_TOWERS == saved == 1_413_120


def test_zfnet_has_figure_3s_maps_and_count():
    model = zfnet()
    # Zeiler & Fergus (2014), Fig. 3: 224 → 110 → 55 → 26 → 13 → 13 → 13 → 6
    names = ["conv1", "pool1", "conv2", "pool2", "conv3", "conv4", "conv5", "pool5"]
    assert map_sizes(model, names) == [110, 55, 26, 13, 13, 13, 13, 6]
    assert model.get_layer("conv1").kernel_size == (7, 7) and model.get_layer("conv1").strides == (2, 2)
    assert model.get_layer("conv2").strides == (2, 2)
    convs = conv(7, 3, 96) + conv(5, 96, 256) + conv(3, 256, 384) + conv(3, 384, 384) + conv(3, 384, 256)
    assert convs + ALEXNET_DENSE == ZFNET
    assert model.count_params() == ZFNET
    # ZFNet normalises the pooled maps ("max pooled ... and contrast normalized", Fig. 3)
    names = [layer.name for layer in model.layers]
    assert names.index("norm1") == names.index("pool1") + 1


def test_batch_normalization_replaces_lrn_and_adds_two_weights_per_channel():
    model = alexnet(input_shape=(67, 67, 3), num_classes=10, normalization="batch")
    reference = alexnet(input_shape=(67, 67, 3), num_classes=10, normalization=None)
    assert layer_names_of(model, LocalResponseNormalization) == []
    assert layer_names_of(model, BatchNormalization) == [f"bn{i}" for i in range(1, 6)]
    channels = sum(ALEXNET_CONV_WIDTHS)  # 1,376
    assert trainable(model) - trainable(reference) == 2 * channels
    assert model.count_params() - reference.count_params() == 4 * channels
    assert layer_names_of(reference, LocalResponseNormalization) == []
    names = [layer.name for layer in model.layers]
    assert names.index("bn1") == names.index("conv1") + 1 and names.index("relu1") == names.index("bn1") + 1


def test_two_by_two_pooling_keeps_the_map_sizes_and_counts():
    overlapping = alexnet(input_shape=(67, 67, 3), num_classes=10)
    plain = alexnet(input_shape=(67, 67, 3), num_classes=10, max_pooling="2x2")
    assert plain.get_layer("pool1").pool_size == (2, 2)
    assert plain.count_params() == overlapping.count_params()
    # at the paper's size both give 27, 13, 6 (§3.4 compares them at equal output sizes)
    full = alexnet(max_pooling="2x2", towers=1, include_top=False)
    assert map_sizes(full, ["pool1", "pool2", "pool5"]) == [27, 13, 6]


def test_dropout_zero_leaves_the_dropout_layers_out():
    model = alexnet_classroom(dropout=0)
    assert layer_names_of(model, keras.layers.Dropout) == []
    assert model.count_params() == alexnet_classroom().count_params()


def test_without_top_the_model_ends_at_pool5_or_its_global_pooling():
    features = alexnet(include_top=False)
    assert features.output_shape == (None, 6, 6, 256)
    assert features.count_params() == ALEXNET_TWO_TOWERS - ALEXNET_DENSE
    assert alexnet(input_shape=(96, 96, 3), include_top=False, pooling="avg").output_shape == (None, 256)
    assert zfnet(input_shape=(96, 96, 3), include_top=False, pooling="max").output_shape == (None, 256)


@pytest.mark.parametrize(
    "build, smallest",
    [
        # (67 − 11) / 4 + 1 = 15 → 7 → 3 → 1 with three valid 3×3/2 poolings
        (lambda side: alexnet(input_shape=(side, side, 3), num_classes=10), 67),
        # 2×2/2 poolings: 8 → 4 → 2 → 1 after a conv1 of (39 − 11) / 4 + 1 = 8
        (lambda side: alexnet(input_shape=(side, side, 3), num_classes=10, max_pooling="2x2"), 39),
        # (53 + 2 − 7) / 2 + 1 = 25 → 13 (same pooling) → 5 (valid 5×5/2) → 3 → 1
        (lambda side: zfnet(input_shape=(side, side, 3), num_classes=10), 53),
    ],
    ids=["alexnet", "alexnet_2x2", "zfnet"],
)
def test_too_small_inputs_are_refused_with_the_smallest_side(build, smallest):
    model = build(smallest)
    assert model.get_layer("pool5").output.shape[1:3] == (1, 1)
    with pytest.raises(ValueError, match=rf"too small .*smallest valid value: {smallest}\)"):
        build(smallest - 1)


def test_smallest_input_side_works_backwards_through_the_windows():
    # one 3×3 valid convolution needs 3; a 2×2/2 pooling before it 6; "same" windows need no room
    assert smallest_input_side([(2, 2, "valid"), (3, 1, "valid")]) == 6
    assert smallest_input_side([(3, 1, "same"), (2, 2, "same")]) == 1
    # one pixel of zeros on each side lowers a valid 7×7 window's need to 5
    assert smallest_input_side([(7, 2, 1)]) == 5


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"towers": 3}, r"towers must be one of \(1, 2\), got 3"),
        ({"normalization": "local"}, r"normalization must be one of \('lrn', 'batch', None\)"),
        ({"max_pooling": "3x3"}, r"max_pooling must be one of \('overlapping', '2x2'\)"),
        ({"dropout": 1.0}, r"dropout must be a rate below 1"),
        ({"dropout": -0.5}, r"dropout must be a number of at least 0.0"),
        ({"num_classes": 1}, r"num_classes must be an integer of at least 2"),
        ({"include_top": False, "pooling": "sum"}, r"pooling must be one of"),
        ({"input_shape": (227, 227)}, r"input_shape must have 3 entries"),
    ],
)
def test_bad_arguments_raise_errors_that_name_them(kwargs, message):
    with pytest.raises(ValueError, match=message):
        alexnet(**kwargs)


# ---------------------------------------------------------------------------------- classroom versions


def test_alexnet_classroom_keeps_the_pattern_at_28_pixels():
    model = alexnet_classroom()
    # 28 → 14 (5×5/2, same) → 7 → 4 → 2 with same 3×3/2 poolings: ⌈n / 2⌉ each
    names = ["conv1", "pool1", "conv2", "pool2", "conv3", "conv4", "conv5", "pool5"]
    assert map_sizes(model, names) == [14, 7, 7, 4, 4, 4, 4, 2]
    # a quarter of AlexNet's widths, a sixteenth of its 4,096 dense units, one tower
    top = dense(2 * 2 * 64, 256) + dense(256, 256) + dense(256, 10)
    count = conv(5, 1, 24) + conv(5, 24, 64) + conv(3, 64, 96) + conv(3, 96, 96) + conv(3, 96, 64) + top
    assert count == 367_034  # as its docstring says
    assert model.count_params() == count
    assert [model.get_layer(f"conv{i}").groups for i in range(1, 6)] == [1] * 5
    two_towers = (conv(5, 1, 24) + conv(5, 24, 64, groups=2) + conv(3, 64, 96) + conv(3, 96, 96, groups=2)
                  + conv(3, 96, 64, groups=2) + top)
    assert two_towers == 278_714
    assert alexnet_classroom(towers=2).count_params() == two_towers
    assert layer_names_of(model, LocalResponseNormalization) == ["norm1", "norm2"]
    assert [model.get_layer(f"pool{i}").pool_size for i in (1, 2, 5)] == [(3, 3)] * 3
    assert layer_names_of(model, keras.layers.Dropout) == ["drop6", "drop7"]


def test_zfnet_classroom_moves_the_stride_from_conv1_to_conv2():
    model = zfnet_classroom()
    names = ["conv1", "pool1", "conv2", "pool2", "conv3", "conv4", "conv5", "pool5"]
    assert map_sizes(model, names) == [28, 14, 7, 4, 4, 4, 4, 2]
    assert model.get_layer("conv1").kernel_size == (3, 3) and model.get_layer("conv1").strides == (1, 1)
    count = (conv(3, 1, 24) + conv(5, 24, 64) + conv(3, 64, 96) + conv(3, 96, 96) + conv(3, 96, 64)
             + dense(2 * 2 * 64, 256) + dense(256, 256) + dense(256, 10))
    assert count == 366_650  # as its docstring says
    assert model.count_params() == count


def test_classroom_specs_train_on_fashion_mnist_with_a_recipe():
    for name in ("alexnet_classroom", "zfnet_classroom"):
        spec = models.spec(name)
        assert spec.chapter == 3 and spec.task == "classification"
        assert spec.recipe.epochs >= 1 and spec.recipe.image_size is None
        assert models.build(name).input_shape == (None, 28, 28, 1)
    for name in ("alexnet", "zfnet"):
        assert models.spec(name).chapter == 3
        assert models.describe(name).startswith(("AlexNet", "ZFNet"))
