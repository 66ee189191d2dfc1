"""VGG: Table 1's configurations and their parameter counts, keras.applications' VGG16 and VGG19
(same names, same outputs after a weight transfer), MACs, BatchNormalization, refused small
inputs, the classroom versions' own counts, and the dense layers as convolutions."""

import keras
import numpy as np
import pytest

from cv_textbook import models
from cv_textbook.analysis import count_macs
from cv_textbook.models.layers import BatchNormalization, LocalResponseNormalization
from cv_textbook.models.vgg import fully_convolutional, vgg, vgg11, vgg13, vgg16, vgg19, vgg_classroom

# REFERENCE.md, "Classic networks" (= torchvision's vgg11/13/16/19 and keras.applications' VGG16,
# VGG19 totals; 224×224×3, 1000 classes); the paper's Table 2 rounds them to 133, 133, 138, 144 M.
PAPER_COUNTS = {11: 132_863_336, 13: 133_047_848, 16: 138_357_544, 19: 143_667_240}
VGG11_BN_TRAINABLE = 132_868_840  # torchvision's vgg11_bn
WITHOUT_TOP = {16: 14_714_688, 19: 20_024_384}  # keras.applications, include_top=False
# REFERENCE.md, ResNet paper section: exact recounts of VGG-16's and VGG-19's multiply-adds at 224
# (the ResNet paper prints 15.3 and 19.6 G).
PAPER_GMACS = {16: 15.47, 19: 19.63}

# Table 1 of Simonyan & Zisserman (2015): 3×3 convolutions per block in A, B, D, E.
CONVS_PER_BLOCK = {11: (1, 1, 2, 2, 2), 13: (2, 2, 2, 2, 2), 16: (2, 2, 3, 3, 3), 19: (2, 2, 4, 4, 4)}
WIDTHS = (64, 128, 256, 512, 512)


def conv_weights(per_block, widths, channels=3, kernel=3):
    """Weights and biases of the 3×3 convolutions of Table 1."""
    total = 0
    for count, width in zip(per_block, widths):
        for _ in range(count):
            total += kernel * kernel * channels * width + width
            channels = width
    return total


def dense_weights(units):
    return sum(a * b + b for a, b in zip(units, units[1:]))


def table_macs(per_block, side=224, channels=3):
    """Multiply-accumulates of Table 1's network at ``side`` pixels: every 3×3 "same" convolution
    at its block's resolution, then 7·7·512 → 4096 → 4096 → 1000."""
    total = 0
    for count, width in zip(per_block, WIDTHS):
        for _ in range(count):
            total += side * side * 9 * channels * width
            channels = width
        side //= 2
    return total + 7 * 7 * 512 * 4096 + 4096 * 4096 + 4096 * 1000


def trainable(model) -> int:
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def layer_names_of(model, cls) -> list[str]:
    return [layer.name for layer in model.layers if isinstance(layer, cls)]


def random_batch(shape, n=2, seed=0):
    return np.random.default_rng(seed).random((n, *shape), dtype=np.float32)


def randomize_biases(model, seed=0):
    """Non-zero biases, so that a bias paired with the wrong layer shows in the outputs."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
            layer.bias.assign(rng.normal(0, 0.05, layer.bias.shape).astype("float32"))


@pytest.mark.parametrize("depth", [11, 13])
def test_vgg_a_and_b_have_table_1s_counts(depth):
    expected = conv_weights(CONVS_PER_BLOCK[depth], WIDTHS) + dense_weights((7 * 7 * 512, 4096, 4096, 1000))
    assert expected == PAPER_COUNTS[depth]
    model = {11: vgg11, 13: vgg13}[depth]()
    assert model.count_params() == PAPER_COUNTS[depth]
    assert len(layer_names_of(model, keras.layers.Conv2D)) + 3 == depth  # "weight layers" of Table 1


@pytest.fixture(scope="module", params=[16, 19], ids=lambda depth: f"vgg{depth}")
def keras_and_ours(request):
    """keras.applications' VGG (random weights and biases) and ours after transfer_weights."""
    depth = request.param
    reference = getattr(keras.applications, f"VGG{depth}")(weights=None)
    randomize_biases(reference)
    ours = {16: vgg16, 19: vgg19}[depth]()
    assert models.transfer_weights(reference, ours) is ours
    return depth, reference, ours


def test_vgg16_and_vgg19_have_keras_applications_counts_and_names(keras_and_ours):
    depth, reference, ours = keras_and_ours
    expected = conv_weights(CONVS_PER_BLOCK[depth], WIDTHS) + dense_weights((7 * 7 * 512, 4096, 4096, 1000))
    assert expected == PAPER_COUNTS[depth] == reference.count_params()
    assert ours.count_params() == PAPER_COUNTS[depth]
    # the same layers in the same order; ours adds a dropout after fc1 and fc2 (§3.1)
    ours_names = [layer.name for layer in ours.layers[1:] if not isinstance(layer, keras.layers.Dropout)]
    assert ours_names == [layer.name for layer in reference.layers[1:]]
    assert layer_names_of(ours, keras.layers.Dropout) == ["fc1_dropout", "fc2_dropout"]


def test_vgg16_and_vgg19_equal_keras_applications_after_the_transfer(keras_and_ours):
    depth, reference, ours = keras_and_ours
    batch = random_batch((224, 224, 3))
    probes = [keras.Model(m.input, [m.get_layer("fc2").output, m.output]) for m in (reference, ours)]
    (ref_fc2, ref_out), (our_fc2, our_out) = [
        [np.asarray(t) for t in probe(batch, training=False)] for probe in probes
    ]
    assert np.max(np.abs(ref_fc2)) > 1e-2  # features that a wrong transfer would change
    assert np.max(np.abs(our_fc2 - ref_fc2)) < 1e-5 * max(1.0, np.max(np.abs(ref_fc2)))
    assert np.max(np.abs(our_out - ref_out)) < 1e-5


def test_vgg16_and_vgg19_macs_match_the_recount(keras_and_ours):
    depth, _, ours = keras_and_ours
    macs = count_macs(ours)
    assert macs == table_macs(CONVS_PER_BLOCK[depth])
    assert round(macs / 1e9, 2) == PAPER_GMACS[depth]


@pytest.mark.parametrize("depth", [16, 19])
def test_without_top_equals_keras_applications_and_its_count(depth):
    reference = getattr(keras.applications, f"VGG{depth}")(weights=None, include_top=False,
                                                            input_shape=(64, 64, 3))
    randomize_biases(reference)
    ours = {16: vgg16, 19: vgg19}[depth](input_shape=(64, 64, 3), include_top=False)
    assert ours.count_params() == reference.count_params() == WITHOUT_TOP[depth]
    assert WITHOUT_TOP[depth] == conv_weights(CONVS_PER_BLOCK[depth], WIDTHS)
    models.transfer_weights(reference, ours)
    batch = random_batch((64, 64, 3))
    expected = np.asarray(reference(batch))
    assert ours.output_shape == (None, 2, 2, 512)
    assert np.max(np.abs(np.asarray(ours(batch)) - expected)) < 1e-5 * max(1.0, np.max(np.abs(expected)))
    pooled = vgg16(input_shape=(64, 64, 3), include_top=False, pooling="avg")
    assert pooled.output_shape == (None, 512)


def test_batch_norm_adds_two_trainable_weights_per_channel_to_vgg11():
    model = vgg11(batch_norm=True)
    channels = sum(width * count for width, count in zip(WIDTHS, CONVS_PER_BLOCK[11]))  # 2,752
    assert trainable(model) == PAPER_COUNTS[11] + 2 * channels == VGG11_BN_TRAINABLE
    assert model.count_params() == PAPER_COUNTS[11] + 4 * channels  # plus the moving statistics
    names = [layer.name for layer in model.layers]
    assert names[1:4] == ["block1_conv1", "block1_conv1_bn", "block1_conv1_relu"]
    assert isinstance(model.get_layer("block1_conv1_bn"), BatchNormalization)


def test_configurations_a_lrn_and_c_follow_table_1():
    # A-LRN: A plus a parameter-free LRN after the first convolution; C: 1×1 third convolutions
    a_lrn = vgg("A-LRN", input_shape=(32, 32, 3), num_classes=10)
    a = vgg("A", input_shape=(32, 32, 3), num_classes=10)
    assert a_lrn.count_params() == a.count_params()
    assert layer_names_of(a_lrn, LocalResponseNormalization) == ["block1_lrn"]
    c = vgg("C", input_shape=(32, 32, 3), num_classes=10, include_top=False)
    d = vgg("D", input_shape=(32, 32, 3), num_classes=10, include_top=False)
    # the third convolution of blocks 3-5 has 1×1 instead of 3×3 kernels: 8 weights fewer per input map
    assert d.count_params() - c.count_params() == 8 * (256 * 256 + 2 * 512 * 512)
    assert c.get_layer("block3_conv3").kernel_size == (1, 1)


def test_dense_layers_become_convolutions_with_the_same_outputs():
    model = vgg11(input_shape=(64, 64, 3), num_classes=10)
    randomize_biases(model)
    convolutional = fully_convolutional(model)
    batch = random_batch((64, 64, 3))
    expected = np.asarray(model(batch))
    at_size = np.asarray(convolutional(batch))
    assert at_size.shape == (2, 1, 1, 10)
    np.testing.assert_allclose(at_size[:, 0, 0], expected, atol=1e-6)
    assert convolutional.get_layer("fc1").kernel_size == (2, 2)  # fc1 read a 2×2×512 map at 64 px
    assert convolutional.count_params() == model.count_params()
    # on a 96-pixel image the same weights slide over 64-pixel windows at a stride of 32: 2×2 scores
    # ((96 / 32 − 2) + 1), each a softmax over the classes
    scores = np.asarray(convolutional(random_batch((96, 96, 3))))
    assert scores.shape == (2, 2, 2, 10)
    np.testing.assert_allclose(scores.sum(axis=-1), 1.0, rtol=1e-5)


def test_fully_convolutional_refuses_a_model_without_dense_top():
    with pytest.raises(ValueError, match=r"ending in Flatten and Dense layers"):
        fully_convolutional(vgg11(input_shape=(32, 32, 3), include_top=False))


@pytest.mark.parametrize(
    "build, smallest",
    [
        (lambda side: vgg16(input_shape=(side, side, 3), num_classes=10), 32),  # five halvings: 2⁵
        (lambda side: vgg_classroom("D", input_shape=(side, side, 1)), 28),  # 2 pixels of padding each side
    ],
    ids=["vgg16", "vgg16_classroom"],
)
def test_too_small_inputs_are_refused_with_the_smallest_side(build, smallest):
    assert build(smallest).get_layer("block5_pool").output.shape[1:3] == (1, 1)
    with pytest.raises(ValueError, match=rf"too small .*smallest valid value: {smallest}\)"):
        build(smallest - 1)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"configuration": "F"}, r"configuration must be one of \('A', 'A-LRN', 'B', 'C', 'D', 'E'\)"),
        ({"batch_norm": 1}, r"batch_norm must be True or False"),
        ({"dropout": 1.5}, r"dropout must be a rate below 1"),
        ({"num_classes": 0}, r"num_classes must be an integer of at least 2"),
        ({"include_top": False, "pooling": "mean"}, r"pooling must be one of"),
    ],
)
def test_bad_arguments_raise_errors_that_name_them(kwargs, message):
    with pytest.raises(ValueError, match=message):
        vgg(input_shape=(32, 32, 3), **kwargs)


# ---------------------------------------------------------------------------------- classroom versions

CLASSROOM_WIDTHS = (16, 32, 64, 128, 128)  # a quarter of Table 1's


@pytest.mark.parametrize("depth", [11, 13, 16])
def test_classroom_vgg_keeps_table_1_at_a_quarter_of_the_widths(depth):
    model = models.build(f"vgg{depth}_classroom")
    per_block = CONVS_PER_BLOCK[depth]
    channels = sum(width * count for width, count in zip(CLASSROOM_WIDTHS, per_block))
    # 3×3 convolutions on one grey channel, BatchNormalization's γ and β, 1·1·128 → 256 → 256 → 10
    expected = (conv_weights(per_block, CLASSROOM_WIDTHS, channels=1) + 2 * channels
                + dense_weights((128, 256, 256, 10)))
    assert trainable(model) == expected
    assert expected == {11: 679_594, 13: 691_258, 16: 1_023_994}[depth]  # as the docstrings say
    assert model.count_params() == expected + 2 * channels
    # 28 padded to 32, then 16 → 8 → 4 → 2 → 1
    assert model.get_layer("pad").output.shape[1] == 32
    assert [model.get_layer(f"block{b}_pool").output.shape[1] for b in range(1, 6)] == [16, 8, 4, 2, 1]
    assert len(layer_names_of(model, keras.layers.Conv2D)) + 3 == depth
    assert layer_names_of(model, keras.layers.Dropout) == ["fc1_dropout", "fc2_dropout"]


def test_classroom_vgg_without_batch_norm_is_table_1s_plain_stack():
    model = vgg_classroom("A", batch_norm=False)
    assert layer_names_of(model, BatchNormalization) == []
    assert model.count_params() == 679_594 - 2 * (16 + 32 + 2 * 64 + 2 * 128 + 2 * 128)


def test_vgg_specs_sit_in_chapter_4_with_classroom_recipes():
    for depth in (11, 13, 16, 19):
        assert models.spec(f"vgg{depth}").chapter == 4
        assert models.describe(f"vgg{depth}").startswith("VGG")
    for depth in (11, 13, 16):
        spec = models.spec(f"vgg{depth}_classroom")
        assert spec.chapter == 4 and spec.recipe.epochs >= 1
        assert models.describe(spec.name).startswith(f"VGG-{depth}-style")
