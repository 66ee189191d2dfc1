"""ResNet builders: the paper's and keras.applications' figures, equal outputs after a weight
transfer, shortcut options A/B/C, plain baselines, safe saving, clear errors."""

import keras
import numpy as np
import pytest

from cv_textbook import models
from cv_textbook.models.layers import ZeroPadShortcut

KERAS_APPLICATIONS_TOTALS = {50: 25_636_712, 101: 44_707_176, 152: 60_419_944}
TORCHVISION_TRAINABLE = {18: 11_689_512, 34: 21_797_672, 50: 25_557_032}
CIFAR_OPTION_A_TRAINABLE = {20: 269_722, 32: 464_154, 44: 658_586, 56: 853_018, 110: 1_727_962}
RESNET_NAMES = [
    *(f"resnet{d}" for d in (18, 34, 50, 101, 152, 20, 32, 44, 56, 110, 1202)),
    *(f"plain{d}" for d in (18, 34, 20, 32, 44, 56, 110)),
    "resnet_cifar",
]


def trainable(model) -> int:
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def layers_of(model, cls) -> list:
    return [layer for layer in model.layers if isinstance(layer, cls)]


def pointwise_convs(model) -> list:
    return [layer.name for layer in layers_of(model, keras.layers.Conv2D) if layer.kernel_size == (1, 1)]


def random_batch(model, n=2, seed=0):
    return np.random.default_rng(seed).random((n, *model.input_shape[1:]), dtype=np.float32)


def randomize_weights(model, seed=0):
    """Random BN statistics, scales, offsets and biases, so that a wrongly paired BN or bias shows."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.gamma.shape
            values = [rng.uniform(0.5, 1.5, n), rng.normal(0, 0.1, n), rng.normal(0, 0.1, n), rng.uniform(0.5, 1.5, n)]
            layer.set_weights([v.astype("float32") for v in values])
        elif isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)) and layer.use_bias:
            layer.bias.assign(rng.normal(0, 0.05, layer.bias.shape).astype("float32"))


def features_and_outputs(model, batch):
    """The pooled features (pre-softmax, not saturated) and the softmax outputs in one pass."""
    probe = keras.Model(model.input, [model.get_layer("avg_pool").output, model.output])
    return [np.asarray(t) for t in probe(batch, training=False)]


def test_registry_lists_every_resnet_with_a_description():
    for name in RESNET_NAMES:
        assert name in models.available()
        assert models.describe(name).startswith(("ResNet", "Plain", "CIFAR ResNet"))


# ------------------------------------------------------------------ ImageNet layout vs keras.applications


@pytest.fixture(
    scope="module",
    params=[50, 101, pytest.param(152, marks=pytest.mark.slow)],
    ids=lambda d: f"resnet{d}",
)
def keras_and_ours(request):
    """keras.applications' ResNet (random weights, randomized BN) and ours after transfer_weights."""
    depth = request.param
    reference = getattr(keras.applications, f"ResNet{depth}")(weights=None)
    randomize_weights(reference)
    ours = models.build(f"resnet{depth}")
    assert models.transfer_weights(reference, ours) is ours
    return depth, reference, ours


def test_resnet_has_keras_applications_parameter_count(keras_and_ours):
    depth, reference, ours = keras_and_ours
    assert ours.count_params() == KERAS_APPLICATIONS_TOTALS[depth] == reference.count_params()
    assert trainable(ours) == trainable(reference)


def test_resnet_has_keras_applications_layer_names_in_order(keras_and_ours):
    _, reference, ours = keras_and_ours
    assert [layer.name for layer in ours.layers[1:]] == [layer.name for layer in reference.layers[1:]]
    for mine, theirs in zip(ours.layers[1:], reference.layers[1:]):
        # the same Keras layer, or the package's subclass of it (BatchNormalization, fused on TF)
        assert isinstance(mine, type(theirs)), (mine.name, type(mine), type(theirs))


def test_resnet_matches_keras_applications_outputs(keras_and_ours):
    _, reference, ours = keras_and_ours
    batch = random_batch(ours, seed=1) * 255.0 - 127.5  # pixel-like values, as after caffe preprocessing
    ref_features, ref_outputs = features_and_outputs(reference, batch)
    our_features, our_outputs = features_and_outputs(ours, batch)
    assert np.abs(our_outputs - ref_outputs).max() < 1e-4
    np.testing.assert_allclose(our_features, ref_features, rtol=1e-4, atol=1e-4 * np.abs(ref_features).max())


@pytest.mark.parametrize("depth", [18, 34, 50])
def test_resnet_without_biases_has_torchvision_parameter_count(depth):
    model = models.build(f"resnet{depth}", use_bias=False)
    assert trainable(model) == TORCHVISION_TRAINABLE[depth]
    assert not any(layer.use_bias for layer in layers_of(model, keras.layers.Conv2D))


def test_resnet50_bottleneck_layout_follows_keras_applications():
    model = models.build("resnet50", use_bias=False)
    first = model.get_layer("conv3_block1_1_conv")
    assert first.kernel_size == (1, 1) and first.strides == (2, 2)  # the stride sits in the first 1×1
    assert model.get_layer("conv3_block1_0_conv").strides == (2, 2)
    assert model.get_layer("conv1_bn").epsilon == pytest.approx(1.001e-5)
    assert model.get_layer("conv5_block3_out").output.shape[1:] == (7, 7, 2048)
    assert model.get_layer("predictions").dtype_policy.name == "float32"


@pytest.mark.parametrize("depth", [18, 34])
def test_plain_imagenet_nets_have_no_shortcuts_and_option_a_counts(depth):
    plain = models.build(f"plain{depth}")
    assert not layers_of(plain, keras.layers.Add)
    assert not pointwise_convs(plain)
    # Option A shortcuts have no parameters, so ResNet-A and the plain net are the same size.
    assert plain.count_params() == models.build(f"resnet{depth}", option="A").count_params()


def test_resnet18_strided_3x3_convolutions_pad_symmetrically():
    model = models.build("resnet18")
    assert isinstance(model.get_layer("conv3_block1_1_pad"), keras.layers.ZeroPadding2D)
    assert model.get_layer("conv3_block1_1_pad").output.shape[1:3] == (58, 58)
    assert model.get_layer("conv3_block1_1_conv").output.shape[1:] == (28, 28, 128)
    assert len(layers_of(model, keras.layers.Add)) == 8


# ------------------------------------------------------------------ transfer_weights


def test_transfer_weights_between_different_depths_names_the_first_mismatch():
    source, target = models.build("resnet50"), models.build("resnet101")
    before = [w.copy() for w in target.get_layer("conv1_conv").get_weights()]
    message = (
        r"cannot transfer weights from 'resnet50' to 'resnet101': the weight shapes of weighted layer #86 "
        r"differ: source 'conv5_block1_1_conv' \(Conv2D, weight shapes \[\(1, 1, 1024, 512\), \(512,\)\]\) "
        r"vs target 'conv4_block7_1_conv' \(Conv2D, weight shapes \[\(1, 1, 1024, 256\), \(256,\)\]\)"
    )
    with pytest.raises(ValueError, match=message):
        models.transfer_weights(source, target)
    for old, new in zip(before, target.get_layer("conv1_conv").get_weights()):
        np.testing.assert_array_equal(old, new)  # nothing copied


def test_transfer_weights_names_a_layer_class_mismatch():
    source = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4, name="a")])
    target = keras.Sequential([keras.Input((4,)), keras.layers.EinsumDense("ab,bc->ac", 4, bias_axes="c", name="b")])
    with pytest.raises(ValueError, match=r"layer classes of weighted layer #0 differ: source 'a' \(Dense.*target 'b'"):
        models.transfer_weights(source, target)


def test_transfer_weights_names_the_layer_without_partner():
    source = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4, name="d1"), keras.layers.Dense(2, name="d2")])
    target = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4, name="e1")])
    with pytest.raises(ValueError, match=r"source has 2 layers with weights and the target 1; .*#1 of the source, 'd2'"):
        models.transfer_weights(source, target)


def test_transfer_weights_between_two_builds_gives_equal_outputs():
    source, target = models.build("resnet20", option="B"), models.build("resnet20", option="B")
    randomize_weights(source)
    models.transfer_weights(source, target)
    batch = random_batch(source)
    np.testing.assert_array_equal(source(batch, training=False), target(batch, training=False))


# ------------------------------------------------------------------ CIFAR layout


@pytest.mark.parametrize("depth", sorted(CIFAR_OPTION_A_TRAINABLE))
def test_cifar_resnet_and_plain_net_have_the_papers_parameter_count(depth):
    resnet, plain = models.build(f"resnet{depth}"), models.build(f"plain{depth}")
    assert trainable(resnet) == trainable(plain) == CIFAR_OPTION_A_TRAINABLE[depth]
    assert len(layers_of(resnet, keras.layers.Add)) == 3 * (depth - 2) // 6
    assert not layers_of(plain, keras.layers.Add)
    assert resnet.output_shape == plain.output_shape == (None, 10)


@pytest.mark.slow
def test_resnet1202_has_the_papers_parameter_count():
    assert trainable(models.build("resnet1202")) == 19_421_274


def test_resnet_cifar_builds_the_named_depths():
    model = models.build("resnet_cifar", depth=32)
    assert trainable(model) == 464_154
    assert model.name == "resnet32"
    assert models.build("resnet_cifar", depth=8).get_layer("conv4_block1_out").output.shape[1:] == (8, 8, 64)


def test_shortcut_options_a_b_c_differ_by_the_projections():
    a, b, c = (models.build("resnet_cifar", depth=20, option=option) for option in "ABC")
    assert trainable(a) < trainable(b) < trainable(c)
    assert pointwise_convs(a) == []
    assert len(layers_of(a, ZeroPadShortcut)) == 2
    assert pointwise_convs(b) == ["conv3_block1_0_conv", "conv4_block1_0_conv"]
    assert len(pointwise_convs(c)) == 9  # one projection per block
    # 1×1 kernels and BN scale/offset: 16→32 and 32→64 where the shape changes ...
    assert trainable(b) - trainable(a) == (16 * 32 + 2 * 32) + (32 * 64 + 2 * 64) == 2_752
    # ... and on every block for C: 3 × 16→16, 16→32 + 2 × 32→32, 32→64 + 2 × 64→64.
    assert trainable(c) - trainable(a) == 3 * 288 + 576 + 2 * 1_088 + 2_176 + 2 * 4_224 == 14_240


def test_cifar_layer_names_read_like_the_paper():
    model = models.build("resnet20")
    names = {layer.name for layer in model.layers}
    expected = {
        "image", "conv1_conv", "conv1_bn", "conv1_relu",
        "conv2_block1_1_conv", "conv2_block1_1_bn", "conv2_block1_1_relu", "conv2_block1_2_conv",
        "conv2_block1_2_bn", "conv2_block1_add", "conv2_block1_out",
        "conv3_block1_0_zeropad", "conv3_block1_1_pad", "conv4_block3_out", "avg_pool", "predictions",
    }  # fmt: skip
    assert expected <= names
    shapes = [model.get_layer(f"conv{s}_block3_out").output.shape[1:] for s in (2, 3, 4)]
    assert shapes == [(32, 32, 16), (16, 16, 32), (8, 8, 64)]
    convs = layers_of(model, keras.layers.Conv2D)
    assert len(convs) == 19 and not any(conv.use_bias for conv in convs)
    assert all(isinstance(conv.kernel_initializer, keras.initializers.HeNormal) for conv in convs)


def test_grayscale_28x28_resnet20_changes_only_the_first_convolution():
    model = models.build("resnet20", input_shape=(28, 28, 1))
    assert trainable(model) == 269_434 == 269_722 - 3 * 3 * 2 * 16
    shapes = [model.get_layer(f"conv{s}_block3_out").output.shape[1:] for s in (2, 3, 4)]
    assert shapes == [(28, 28, 16), (14, 14, 32), (7, 7, 64)]


def test_weight_decay_adds_one_l2_penalty_per_kernel():
    assert not models.build("resnet20").losses
    model = models.build("resnet20", weight_decay=1e-4)
    assert len(model.losses) == 20  # 19 convolutions + the dense layer
    regularizer = model.get_layer("conv1_conv").kernel_regularizer
    assert isinstance(regularizer, keras.regularizers.L2) and regularizer.l2 == pytest.approx(1e-4)


def test_zero_pad_shortcut_subsamples_and_appends_zero_channels():
    x = np.arange(2 * 7 * 7 * 3, dtype=np.float32).reshape(2, 7, 7, 3)
    layer = ZeroPadShortcut(8, stride=2)
    y = np.asarray(layer(x))
    assert y.shape == (2, 4, 4, 8) == (2, *layer.compute_output_shape((2, 7, 7, 3))[1:])
    np.testing.assert_array_equal(y[..., :3], x[:, ::2, ::2, :])
    assert not y[..., 3:].any()
    assert ZeroPadShortcut.from_config(layer.get_config()).get_config() == layer.get_config()


# ------------------------------------------------------------------ saving


@pytest.mark.parametrize(
    "name, kwargs",
    [("resnet20", {}), ("resnet_cifar", {"option": "B"}), ("resnet20", {"input_shape": (28, 28, 1)})],
    ids=["resnet20-option-A", "resnet_cifar-option-B", "resnet20-grayscale"],
)
def test_cifar_resnet_saves_and_loads_safely_with_identical_outputs(name, kwargs, tmp_path):
    model = models.build(name, **kwargs)
    randomize_weights(model)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)  # default safe_mode=True: no Lambda layers
    assert [type(layer) for layer in loaded.layers] == [type(layer) for layer in model.layers]
    batch = random_batch(model)
    np.testing.assert_array_equal(model.predict(batch, verbose=0), loaded.predict(batch, verbose=0))


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    "depth, message",
    [
        (21, r"got 21; nearest valid depths: 20 and 26"),
        (1203, r"nearest valid depths: 1202 and 1208"),
        (5, r"smallest valid value: 8\), got 5; nearest valid depth: 8"),
        ("20", r"depth must be an integer 6n\+2"),
    ],
)
def test_bad_cifar_depth_names_the_nearest_valid_depths(depth, message):
    with pytest.raises(ValueError, match=message):
        models.build("resnet_cifar", depth=depth)


@pytest.mark.parametrize(
    "name, kwargs, message",
    [
        ("resnet50", {"input_shape": (31, 224, 3)}, r"too small for resnet50.*smallest valid value: 32"),
        ("plain18", {"input_shape": (224, 16, 3)}, r"too small for plain18.*smallest valid value: 32"),
        ("resnet20", {"input_shape": (3, 32, 3)}, r"too small for resnet20.*smallest valid value: 4"),
        ("resnet_cifar", {"depth": 56, "input_shape": (2, 2, 1)}, r"too small for resnet56"),
        ("resnet20", {"input_shape": (28, 28)}, r"input_shape must have 3 entries"),
        ("resnet20", {"option": "D"}, r"option must be one of \('A', 'B', 'C'\), got 'D'"),
        ("resnet34", {"option": "b"}, r"option must be one of"),
        ("resnet20", {"num_classes": 1}, r"num_classes must be an integer of at least 2"),
        ("resnet20", {"weight_decay": -1e-4}, r"weight_decay must be None or a number of at least 0"),
        ("resnet18", {"use_bias": "no"}, r"use_bias must be True or False"),
        ("plain20", {"option": "B"}, r"plain20 got unknown argument\(s\) option"),
    ],
)
def test_bad_arguments_raise_errors_that_name_them(name, kwargs, message):
    with pytest.raises(ValueError, match=message):
        models.build(name, **kwargs)


def test_smallest_valid_inputs_build():
    assert models.build("resnet20", input_shape=(4, 4, 1)).get_layer("conv4_block3_out").output.shape[1:3] == (1, 1)
    small = models.build("resnet18", input_shape=(32, 32, 3), num_classes=10)
    assert small.get_layer("conv5_block2_out").output.shape[1:] == (1, 1, 512)
    assert small.output_shape == (None, 10)
