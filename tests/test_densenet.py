"""DenseNet builders: keras.applications' DenseNet-121/169/201 (names, counts, equal outputs after a
weight transfer), the paper's CIFAR DenseNet-BC (Table 2 counts, depth 6n+4), the growth of the
channels, the classroom variant, clear errors."""

import keras
import numpy as np
import pytest

from cv_textbook import models
from cv_textbook.analysis import count_macs
from test_resnet import randomize_weights, trainable

# keras.applications (Keras 3.15.1, weights=None, 224x224x3, 1000 classes): count_params() with and
# without the top; trainable = torchvision's densenet121/169/201 (shared/REFERENCE.md).
KERAS_APPLICATIONS_TOTALS = {121: 8_062_504, 169: 14_307_880, 201: 20_242_984}
KERAS_APPLICATIONS_NO_TOP_TOTALS = {121: 7_037_504, 169: 12_642_880, 201: 18_321_984}
TORCHVISION_TRAINABLE = {121: 7_978_856, 169: 14_149_480, 201: 20_013_928}
# Table 1 of Huang et al. (2017): layers per dense block, growth rate 32.
TABLE_1_BLOCKS = {121: (6, 12, 24, 16), 169: (6, 12, 32, 32), 201: (6, 12, 48, 32)}
# Table 2 of the paper: DenseNet-BC (L, k) on CIFAR and its parameter count in millions.
TABLE_2_MILLIONS = {(100, 12): 0.8, (250, 24): 15.3, (190, 40): 25.6}
# The exact trainable counts at 32x32x3 and 10 classes (shared/REFERENCE.md).
BC_TRAINABLE = {(100, 12): 769_162, (250, 24): 15_324_406, (190, 40): 25_624_430}


def densenet_counts(stem, blocks, growth, compression=0.5, in_channels=3, classes=None):
    """(trainable, total) parameters of a DenseNet by arithmetic from the paper's description:
    BN has 2 trainable (γ, β) and 2 moving values per channel, convolutions no biases."""
    trainable_count = moving = 0

    def bn(channels):
        nonlocal trainable_count, moving
        trainable_count += 2 * channels
        moving += 2 * channels

    def conv(k, c_in, c_out):
        nonlocal trainable_count
        trainable_count += k * k * c_in * c_out

    if stem == "imagenet":  # 7x7 conv of 64, BN
        conv(7, in_channels, 64)
        bn(64)
        channels = 64
    else:  # 3x3 conv of 2k, no BN
        conv(3, in_channels, 2 * growth)
        channels = 2 * growth
    for index, num_layers in enumerate(blocks):
        for _ in range(num_layers):  # BN, 1x1 to 4k, BN, 3x3 to k
            bn(channels)
            conv(1, channels, 4 * growth)
            bn(4 * growth)
            conv(3, 4 * growth, growth)
            channels += growth
        if index < len(blocks) - 1:  # BN, 1x1 to floor(θC)
            bn(channels)
            conv(1, channels, int(channels * compression))
            channels = int(channels * compression)
    bn(channels)
    if classes:
        trainable_count += channels * classes + classes
    return trainable_count, trainable_count + moving


# ------------------------------------------------------------------ figures by arithmetic


@pytest.mark.parametrize("depth", [121, 169, 201])
def test_table_1_arithmetic_gives_the_pinned_imagenet_counts(depth):
    blocks = TABLE_1_BLOCKS[depth]
    assert densenet_counts("imagenet", blocks, 32, classes=1000) == (
        TORCHVISION_TRAINABLE[depth], KERAS_APPLICATIONS_TOTALS[depth]
    )
    assert densenet_counts("imagenet", blocks, 32)[1] == KERAS_APPLICATIONS_NO_TOP_TOTALS[depth]


@pytest.mark.parametrize(("depth", "growth"), list(TABLE_2_MILLIONS))
def test_table_2_arithmetic_gives_the_pinned_bc_counts_and_the_papers_millions(depth, growth):
    n = (depth - 4) // 6
    trainable_count, _ = densenet_counts("cifar", (n, n, n), growth, classes=10)
    assert trainable_count == BC_TRAINABLE[depth, growth]
    assert round(trainable_count / 1e6, 1) == TABLE_2_MILLIONS[depth, growth]


# ------------------------------------------------------------------ ImageNet layout vs keras.applications


@pytest.fixture(scope="module")
def densenet121_pair():
    """keras.applications' DenseNet-121 (random weights, randomized BN) and ours after transfer_weights."""
    reference = keras.applications.DenseNet121(weights=None)
    randomize_weights(reference)
    ours = models.build("densenet121")
    assert models.transfer_weights(reference, ours) is ours
    return reference, ours


def test_densenet121_has_keras_applications_and_torchvision_counts(densenet121_pair):
    reference, ours = densenet121_pair
    assert ours.count_params() == KERAS_APPLICATIONS_TOTALS[121] == reference.count_params()
    assert trainable(ours) == TORCHVISION_TRAINABLE[121] == trainable(reference)


def test_densenet121_has_keras_applications_layer_names_but_its_unnamed_paddings(densenet121_pair):
    reference, ours = densenet121_pair
    assert len(ours.layers) == len(reference.layers)
    pairs = zip(ours.layers[1:], reference.layers[1:])
    differing = [(mine.name, theirs.name) for mine, theirs in pairs if mine.name != theirs.name]
    # keras.applications leaves its two stem paddings unnamed (zero_padding2d, zero_padding2d_1, ...)
    assert [mine for mine, _ in differing] == ["conv1_pad", "pool1_pad"]
    assert all(theirs.startswith("zero_padding2d") for _, theirs in differing)
    for mine, theirs in zip(ours.layers[1:], reference.layers[1:]):
        assert isinstance(mine, type(theirs)), (mine.name, type(mine), type(theirs))


def test_densenet121_matches_keras_applications_with_and_without_top(densenet121_pair):
    reference, ours = densenet121_pair
    batch = np.random.default_rng(1).uniform(-1, 1, (2, 224, 224, 3)).astype("float32")
    for layer in ("relu", "avg_pool", "predictions"):  # the map without top, the features, the outputs
        theirs = keras.Model(reference.input, reference.get_layer(layer).output)(batch, training=False)
        mine = keras.Model(ours.input, ours.get_layer(layer).output)(batch, training=False)
        assert np.abs(np.asarray(mine) - np.asarray(theirs)).max() < 1e-5, layer


def test_densenet121_without_top_takes_the_weights_of_keras_applications_without_top(densenet121_pair):
    reference, _ = densenet121_pair
    # keras.applications' include_top=False network is its full network up to "relu".
    reference_no_top = keras.Model(reference.input, reference.get_layer("relu").output)
    ours = models.build("densenet121", include_top=False, pooling="avg")
    assert ours.count_params() == KERAS_APPLICATIONS_NO_TOP_TOTALS[121] == reference_no_top.count_params()
    models.transfer_weights(reference_no_top, ours)
    batch = np.random.default_rng(2).uniform(-1, 1, (1, 224, 224, 3)).astype("float32")
    expected = np.asarray(reference_no_top(batch, training=False)).mean(axis=(1, 2))
    assert ours.output_shape == (None, 1024)
    assert np.abs(np.asarray(ours(batch, training=False)) - expected).max() < 1e-5


def test_densenet121_macs_are_the_papers(densenet121_pair):
    _, ours = densenet121_pair
    assert round(count_macs(ours) / 1e9, 2) == 2.83  # shared/REFERENCE.md: 2.83 G MACs at 224x224


@pytest.mark.slow
@pytest.mark.parametrize("depth", [169, 201])
@pytest.mark.parametrize("include_top", [True, False])
def test_densenet169_and_201_match_keras_applications(depth, include_top):
    reference = getattr(keras.applications, f"DenseNet{depth}")(
        weights=None, include_top=include_top, input_shape=(224, 224, 3)
    )
    randomize_weights(reference)
    ours = models.transfer_weights(reference, models.build(f"densenet{depth}", include_top=include_top))
    totals = KERAS_APPLICATIONS_TOTALS if include_top else KERAS_APPLICATIONS_NO_TOP_TOTALS
    assert ours.count_params() == totals[depth] == reference.count_params()
    if include_top:
        assert trainable(ours) == TORCHVISION_TRAINABLE[depth]
    batch = np.random.default_rng(1).uniform(-1, 1, (1, 224, 224, 3)).astype("float32")
    difference = np.asarray(ours(batch, training=False)) - np.asarray(reference(batch, training=False))
    assert np.abs(difference).max() < 1e-5


# ------------------------------------------------------------------ CIFAR layout: DenseNet-BC


def test_densenet_bc_100_12_has_the_papers_parameter_count():
    model = models.build("densenet_bc", depth=100, growth_rate=12)
    assert trainable(model) == BC_TRAINABLE[100, 12]
    assert model.name == "densenet_bc100_k12"


@pytest.mark.slow
@pytest.mark.parametrize(("depth", "growth"), [(250, 24), (190, 40)])
def test_large_densenet_bc_have_the_papers_parameter_count(depth, growth):
    model = models.build("densenet_bc", depth=depth, growth_rate=growth)
    assert trainable(model) == BC_TRAINABLE[depth, growth]


def test_dense_blocks_grow_by_k_and_transitions_halve_the_channels():
    model = models.build("densenet_bc", depth=40, growth_rate=12)  # n = 6 layers per block
    channels = {layer.name: layer.output.shape[1:] for layer in model.layers}
    # 2k = 24 maps in, + 6·12 per block, halved by each transition; maps 32, 16, 8
    assert channels["conv1_conv"] == (32, 32, 24)
    assert channels["conv2_block1_concat"] == (32, 32, 36)
    assert channels["conv2_block6_concat"] == (32, 32, 24 + 72)
    assert channels["pool2_pool"] == (16, 16, 48)
    assert channels["conv3_block6_concat"] == (16, 16, 48 + 72)
    assert channels["pool3_pool"] == (8, 8, 60)
    assert channels["conv4_block6_concat"] == (8, 8, 60 + 72)
    assert "pool4_pool" not in channels and model.output_shape == (None, 10)


def test_dense_layer_is_bn_relu_conv1x1_bn_relu_conv3x3_then_concat():
    model = models.build("densenet_bc", depth=10, growth_rate=4, input_shape=(8, 8, 1))
    names = [layer.name for layer in model.layers if layer.name.startswith("conv2_block1_")]
    roles = ("0_bn", "0_relu", "1_conv", "1_bn", "1_relu", "2_conv", "concat")
    assert names == [f"conv2_block1_{role}" for role in roles]
    assert model.get_layer("conv2_block1_1_conv").filters == 16  # 4k
    assert model.get_layer("conv2_block1_2_conv").kernel_size == (3, 3)
    concat = model.get_layer("conv2_block1_concat")
    assert [t.name for t in concat.input] == [model.get_layer("conv1_conv").output.name,
                                               model.get_layer("conv2_block1_2_conv").output.name]
    assert not any(layer.use_bias for layer in model.layers if isinstance(layer, keras.layers.Conv2D))


def test_compression_one_keeps_every_map_and_its_counts_follow_the_arithmetic():
    model = models.build("densenet_bc", depth=22, growth_rate=6, compression=1.0, input_shape=(16, 16, 3))
    assert model.get_layer("pool2_conv").filters == 12 + 3 * 6
    assert trainable(model) == densenet_counts("cifar", (3, 3, 3), 6, compression=1.0, classes=10)[0]


def test_grayscale_28x28_densenet_bc_changes_only_the_first_convolution():
    rgb = models.build("densenet_bc", depth=40, growth_rate=12)
    gray = models.build("densenet_bc", depth=40, growth_rate=12, input_shape=(28, 28, 1))
    assert trainable(rgb) - trainable(gray) == 3 * 3 * 2 * 24  # two fewer input channels of a 3x3x24 conv
    assert gray.get_layer("pool3_pool").output.shape[1:3] == (7, 7)


def test_weight_decay_adds_one_l2_penalty_per_kernel():
    model = models.build("densenet_bc", depth=10, growth_rate=4, input_shape=(8, 8, 1), weight_decay=1e-4)
    weighted = (keras.layers.Conv2D, keras.layers.Dense)
    kernels = [layer for layer in model.layers if isinstance(layer, weighted)]
    assert len(model.losses) == len(kernels) == 1 + 3 * 2 + 2 + 1


# ------------------------------------------------------------------ classroom variant


def test_densenet_classroom_is_dense_net_bc_52_12_at_resnet20s_size():
    model = models.build("densenet_classroom")
    # L = 52: n = 8 layers per block, k = 12; ResNet-20 at 28x28x1 has 269,722 - 3·3·2·16 = 269,434.
    expected, _ = densenet_counts("cifar", (8, 8, 8), 12, in_channels=1, classes=10)
    assert trainable(model) == expected == 264_154
    assert abs(expected - 269_434) / 269_434 < 0.02
    assert model.input_shape == (None, 28, 28, 1) and model.output_shape == (None, 10)
    assert model.name == "densenet_classroom"
    assert [model.get_layer(f"conv{s}_block8_concat").output.shape[1:] for s in (2, 3, 4)] == [
        (28, 28, 24 + 96), (14, 14, 60 + 96), (7, 7, 78 + 96)
    ]
    assert models.spec("densenet_classroom").chapter == 7


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    ("depth", "message"),
    [(99, "nearest valid depths: 94 and 100"), (101, "nearest valid depths: 100 and 106"),
     (5, "nearest valid depth: 10"), (100.0, r"integer 6n\+4")],
)
def test_bad_bc_depth_names_the_nearest_valid_depths(depth, message):
    with pytest.raises(ValueError, match=message):
        models.build("densenet_bc", depth=depth)


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("densenet_bc", {"growth_rate": 0}, "growth_rate must be an integer of at least 1"),
        ("densenet_bc", {"compression": 0}, r"compression must be a number in \(0, 1\]"),
        ("densenet_bc", {"compression": 1.5}, r"compression must be a number in \(0, 1\]"),
        ("densenet_bc", {"compression": "half"}, "compression must be a number"),
        ("densenet_bc", {"input_shape": (3, 3, 3)}, "smallest valid value: 4"),
        ("densenet121", {"input_shape": (28, 28, 3)}, "smallest valid value: 29"),
        ("densenet169", {"weight_decay": -1}, "weight_decay must be None or a number of at least 0"),
        ("densenet201", {"pooling": "sum"}, "pooling must be one of"),
        ("densenet121", {"num_classes": 1}, "num_classes must be an integer of at least 2"),
    ],
)
def test_bad_arguments_raise_errors_that_name_them(name, kwargs, message):
    with pytest.raises(ValueError, match=message):
        models.build(name, **kwargs)


def test_smallest_valid_inputs_build():
    # ImageNet layout: 29 -> 15 (7x7/2) -> 8 (3x3/2 max-pool) -> 4 -> 2 -> 1 (three 2x2 poolings)
    smallest = models.build("densenet121", input_shape=(29, 29, 3), num_classes=10)
    assert smallest.get_layer("relu").output.shape[1:3] == (1, 1)
    # CIFAR layout: 4 -> 2 -> 1
    small = models.build("densenet_bc", depth=10, growth_rate=4, input_shape=(4, 4, 1))
    assert small.get_layer("pool3_pool").output.shape[1:3] == (1, 1)
