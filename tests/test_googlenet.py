"""GoogLeNet builders: Table 1's parameters and multiply-adds, the stem's LRNs, the auxiliary
classifiers trained through the package and left out of the saved model, BN and torchvision's
variant, the classroom networks' sizes, clear errors."""

import json

import keras
import numpy as np
import pytest

from cv_textbook import models, train
from cv_textbook.analysis import count_macs
from cv_textbook.models.googlenet import googlenet, googlenet_classroom, inception_classroom
from cv_textbook.models.layers import LocalResponseNormalization
from cv_textbook.models.xception import xception_classroom

# Szegedy et al. (2014), Table 1, copied here from the paper (not from the code under test):
# module -> (#1×1, #3×3 reduce, #3×3, #5×5 reduce, #5×5, pool proj), with the module's map side at
# 224×224 and its output depth (Table 1's "output size" column).
TABLE_1 = {
    "3a": ((64, 96, 128, 16, 32, 32), 28, 256),
    "3b": ((128, 128, 192, 32, 96, 64), 28, 480),
    "4a": ((192, 96, 208, 16, 48, 64), 14, 512),
    "4b": ((160, 112, 224, 24, 64, 64), 14, 512),
    "4c": ((128, 128, 256, 24, 64, 64), 14, 512),
    "4d": ((112, 144, 288, 32, 64, 64), 14, 528),
    "4e": ((256, 160, 320, 32, 128, 128), 14, 832),
    "5a": ((256, 160, 320, 32, 128, 128), 7, 832),
    "5b": ((384, 192, 384, 48, 128, 128), 7, 1024),
}
# /work/shared/REFERENCE.md: Table 1 recounted with biases and the true 5×5 branch; with both
# auxiliary classifiers; torchvision's googlenet (BN, no biases, 3×3 "5×5" branch) without and with them.
PARAMETERS = 6_998_552
PARAMETERS_WITH_AUX = 13_378_280
TORCHVISION = 6_624_904
TORCHVISION_WITH_AUX = 13_004_888
PAPER_MULTIPLY_ADDS = 1.5e9  # §5: "a computational budget of 1.5 billion multiply-adds at inference time"


def trainable(model) -> int:
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def layers_of(model, cls) -> list:
    return [layer for layer in model.layers if isinstance(layer, cls)]


def conv(k, cin, cout, bias=True, bn=False):
    """Parameters of a k×k convolution (+ bias) (+ BN's γ, β, moving mean and variance)."""
    return k * k * cin * cout + (cout if bias else 0) + (4 * cout if bn else 0)


def inception_params(table, in_channels, divisor=1, bias=True, bn=False, five=5):
    """Parameters of the Inception modules of ``table`` (widths divided by ``divisor``) and the
    output depth."""
    total, channels = 0, in_channels
    for widths, _, _ in table.values():
        ones, r3, n3, r5, n5, proj = (w // divisor for w in widths)
        total += sum(conv(k, cin, cout, bias, bn) for k, cin, cout in (
            (1, channels, ones), (1, channels, r3), (3, r3, n3), (1, channels, r5), (five, r5, n5),
            (1, channels, proj)))
        channels = ones + n3 + n5 + proj
    return total, channels


def aux_params(in_channels, side, filters, units, classes, bias=True, bn=False):
    """§5's auxiliary classifier: 1×1 conv of ``filters``, FC of ``units`` on the side×side map,
    classifier."""
    fully_connected = side * side * filters * units + units
    return conv(1, in_channels, filters, bias, bn) + fully_connected + units * classes + classes


@pytest.fixture(scope="module")
def paper_net():
    return googlenet()


@pytest.fixture(scope="module")
def with_aux():
    return googlenet(aux_classifiers=True)


# ------------------------------------------------------------------ the paper's network


def test_googlenet_has_table_1s_parameters(paper_net):
    stem = conv(7, 3, 64) + conv(1, 64, 64) + conv(3, 64, 192)
    modules, depth = inception_params(TABLE_1, 192)
    assert stem + modules + depth * 1000 + 1000 == PARAMETERS  # the arithmetic agrees with REFERENCE.md
    assert paper_net.count_params() == PARAMETERS
    assert all(layer.use_bias for layer in layers_of(paper_net, keras.layers.Conv2D))
    assert paper_net.output_shape == (None, 1000)


def test_googlenet_maps_follow_table_1s_output_sizes(paper_net):
    for module, (_, side, depth) in TABLE_1.items():
        output = paper_net.get_layer(f"inception_{module}_output").output
        assert output.shape[1:] == (side, side, depth), module
    assert paper_net.get_layer("inception_4a_5x5").kernel_size == (5, 5)  # the true 5×5 branch
    assert paper_net.get_layer("dropout").rate == 0.4
    assert isinstance(paper_net.get_layer("avg_pool"), keras.layers.GlobalAveragePooling2D)


def test_googlenet_stem_normalises_after_the_first_pooling_and_after_the_3x3_convolution(paper_net):
    names = [layer.name for layer in paper_net.layers[:11]]
    assert names == [
        "image", "conv1_7x7_s2", "conv1_7x7_s2_relu", "pool1_3x3_s2", "pool1_norm1",
        "conv2_3x3_reduce", "conv2_3x3_reduce_relu", "conv2_3x3", "conv2_3x3_relu", "conv2_norm2",
        "pool2_3x3_s2",
    ]  # fmt: skip
    lrns = layers_of(paper_net, LocalResponseNormalization)
    assert [layer.name for layer in lrns] == ["pool1_norm1", "conv2_norm2"]
    assert [tuple(layer.output.shape[1:]) for layer in lrns] == [(56, 56, 64), (56, 56, 192)]  # Table 1


def test_googlenet_multiply_adds_are_table_1s_and_about_the_papers_budget(paper_net):
    # Table 1 by hand: the stem at 112 and 56 pixels, every module's branches on its map, the classifier.
    stem = 112**2 * 7 * 7 * 3 * 64 + 56**2 * 64 * 64 + 56**2 * 9 * 64 * 192
    modules, channels = 0, 192
    for (ones, r3, n3, r5, n5, proj), side, depth in TABLE_1.values():
        modules += side**2 * (channels * (ones + r3 + r5 + proj) + 9 * r3 * n3 + 25 * r5 * n5)
        channels = depth
    by_hand = stem + modules + 1024 * 1000
    macs = count_macs(paper_net)
    assert macs == by_hand == 1_582_671_872
    assert abs(macs / PAPER_MULTIPLY_ADDS - 1) < 0.06  # 1.58 G: the paper rounds to "1.5 billion"


def test_auxiliary_classifiers_add_two_heads_after_the_main_one(with_aux):
    assert with_aux.count_params() == PARAMETERS_WITH_AUX
    heads = aux_params(512, 4, 128, 1024, 1000) + aux_params(528, 4, 128, 1024, 1000)
    assert PARAMETERS_WITH_AUX == PARAMETERS + heads
    assert with_aux.output_names == ["predictions", "aux1", "aux2"]
    assert [tuple(shape) for shape in with_aux.output_shape] == [(None, 1000)] * 3
    # §5: 5×5/3 average pooling on 4a's and 4d's 14×14 outputs (4×4×512 and 4×4×528), dropout 0.7.
    assert with_aux.get_layer("aux1_ave_pool").output.shape[1:] == (4, 4, 512)
    assert with_aux.get_layer("aux2_ave_pool").output.shape[1:] == (4, 4, 528)
    assert with_aux.get_layer("aux1_ave_pool").input is with_aux.get_layer("inception_4a_output").output
    assert with_aux.get_layer("aux2_dropout").rate == 0.7


def test_batch_norm_variant_normalises_every_convolution_instead_of_lrn():
    model = googlenet(batch_norm=True)
    convolutions = layers_of(model, keras.layers.Conv2D)
    assert len(layers_of(model, keras.layers.BatchNormalization)) == len(convolutions) == 3 + 9 * 6
    assert not layers_of(model, LocalResponseNormalization)
    filters = sum(layer.filters for layer in convolutions)
    assert model.count_params() == PARAMETERS + 4 * filters  # γ, β, moving mean and variance per map


@pytest.mark.parametrize("aux, expected", [(False, TORCHVISION), (True, TORCHVISION_WITH_AUX)])
def test_torchvisions_count_is_bn_without_biases_and_a_3x3_five_by_five_branch(aux, expected):
    model = googlenet(aux_classifiers=aux, batch_norm=True, use_bias=False, five_by_five_kernel=3)
    assert trainable(model) == expected
    # The same by arithmetic: torchvision counts BN's γ and β (2 per map), not the moving statistics.
    stem = sum(conv(k, cin, cout, bias=False) + 2 * cout
               for k, cin, cout in ((7, 3, 64), (1, 64, 64), (3, 64, 192)))
    modules, depth = inception_params(TABLE_1, 192, bias=False, five=3)
    maps = sum(sum(widths) for widths, _, _ in TABLE_1.values())
    heads = sum(aux_params(c, 4, 128, 1024, 1000, bias=False) + 2 * 128 for c in (512, 528)) if aux else 0
    assert stem + modules + 2 * maps + depth * 1000 + 1000 + heads == expected


def test_googlenet_without_top_returns_5bs_map(paper_net):
    backbone = googlenet(include_top=False)
    assert backbone.output_shape == (None, 7, 7, 1024)
    assert backbone.count_params() == PARAMETERS - (1024 * 1000 + 1000)
    assert googlenet(input_shape=(64, 64, 3), include_top=False, pooling="avg").output_shape == (None, 1024)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        # Five stride-2 steps ("same", rounding up): 17 → 9 → 5 → 3 → 2 → 1, the last still halves 2 pixels.
        ({"input_shape": (16, 16, 3)}, r"too small for googlenet.*smallest valid value: 17"),
        # 4a's map is the input / 16 rounded up; §5's 5×5 pooling needs 5 pixels: 65 → 5.
        ({"input_shape": (64, 64, 3), "aux_classifiers": True}, r"smallest valid value: 65"),
        ({"five_by_five_kernel": 7}, r"five_by_five_kernel must be one of \(5, 3\)"),
        ({"include_top": False, "aux_classifiers": True}, r"aux_classifiers=True needs include_top=True"),
        ({"batch_norm": "yes"}, r"batch_norm must be True or False"),
        ({"num_classes": 1}, r"num_classes must be an integer of at least 2"),
    ],
)
def test_bad_arguments_raise_errors_that_name_them(kwargs, message):
    with pytest.raises(ValueError, match=message):
        googlenet(**kwargs)


def test_smallest_valid_inputs_build():
    assert googlenet(input_shape=(17, 17, 3), num_classes=10).output_shape == (None, 10)
    small = googlenet(input_shape=(65, 65, 3), num_classes=10, aux_classifiers=True)
    assert small.get_layer("aux1_ave_pool").output.shape[1:3] == (1, 1)


# ------------------------------------------------------------------ classroom variants


def classroom_params(divisor, bn, aux):
    """googlenet_classroom's and inception_classroom's parameters at 28×28×1, 10 classes: the stem
    (3×3 from 1 channel, 1×1 reduce, 3×3) and Table 1, widths divided by ``divisor``."""
    c1, c2, c3 = 64 // divisor, 64 // divisor, 192 // divisor
    stem = conv(3, 1, c1, bn=bn) + conv(1, c1, c2, bn=bn) + conv(3, c2, c3, bn=bn)
    modules, depth = inception_params(TABLE_1, c3, divisor, bn=bn)
    heads = 0
    if aux:  # 4a's and 4d's 7×7 maps pooled 5×5/3 to 1×1
        heads = sum(aux_params(channels // divisor, 1, 128 // divisor, 1024 // divisor, 10, bn=bn)
                    for channels in (512, 528))
    return stem + modules + depth * 10 + 10 + heads


def test_googlenet_classroom_keeps_the_pattern_at_a_quarter_width():
    model = googlenet_classroom()
    assert model.count_params() == classroom_params(4, bn=False, aux=False) == 376_838
    with_aux = googlenet_classroom(aux_classifiers=True)
    assert with_aux.count_params() == classroom_params(4, bn=False, aux=True) == 407_258
    # Table 1's modules and depths (divided by 4) on 14, 7 and 4 pixels.
    for module, (_, side, depth) in TABLE_1.items():
        classroom_side = {28: 14, 14: 7, 7: 4}[side]
        assert model.get_layer(f"inception_{module}_output").output.shape[1:] == (
            classroom_side, classroom_side, depth // 4)
    lrns = [layer.name for layer in layers_of(model, LocalResponseNormalization)]
    assert lrns == ["conv1_norm1", "conv2_norm2"]
    assert model.get_layer("inception_5b_5x5").kernel_size == (5, 5)
    assert model.get_layer("dropout").rate == 0.4


def test_googlenet_classroom_width_divisor_narrows_every_layer_and_refuses_empty_ones():
    # width_divisor=8 (chapter 05's ablations): every width of the stem, Table 1 and the heads / 8.
    narrow = googlenet_classroom(width_divisor=8)
    assert narrow.count_params() == classroom_params(8, bn=False, aux=False)
    assert googlenet_classroom(width_divisor=8, aux_classifiers=True).count_params() == classroom_params(
        8, bn=False, aux=True)
    assert narrow.get_layer("inception_5b_output").output.shape[-1] == 1024 // 8
    # Table 1's narrowest layers (3a's and 4a's #5×5 reduce) have 16 filters: 17 would leave none.
    for bad in (0, 17, 2.0):
        with pytest.raises(ValueError, match="width_divisor"):
            googlenet_classroom(width_divisor=bad)


def test_googlenet_classroom_with_aux_heads_trains_through_run_experiment_and_saves_the_main_head(
        tmp_path, monkeypatch):
    monkeypatch.setenv("CV_TEXTBOOK_SMOKE", "1")
    spec = models.spec("googlenet_classroom")
    assert spec.recipe.loss_weights == (1.0, 0.3, 0.3) and spec.recipe.model_kwargs["aux_classifiers"]
    metrics = train.run_experiment(spec, out=tmp_path, verbose=0)
    assert metrics["loss_weights"] == [1.0, 0.3, 0.3]
    history = json.loads((tmp_path / "history.json").read_text())
    assert {"predictions_loss", "aux1_loss", "aux2_loss"} <= set(history)
    saved = keras.models.load_model(tmp_path / "model.keras")
    assert len(saved.outputs) == 1 and saved.output_names == ["predictions"]
    assert saved.count_params() == classroom_params(4, bn=False, aux=False)
    assert 0.0 <= metrics["test_accuracy"] <= 1.0


def test_inception_classroom_is_about_xception_classrooms_size_with_bn():
    model = inception_classroom()
    assert model.count_params() == classroom_params(2, bn=True, aux=False) == 1_512_834
    assert not layers_of(model, LocalResponseNormalization)
    convolutions = layers_of(model, keras.layers.Conv2D)
    assert len(layers_of(model, keras.layers.BatchNormalization)) == len(convolutions)
    # The Xception paper compares networks of about the same size (Fig. 6: 22.8 M against 23.6 M).
    assert abs(model.count_params() / xception_classroom().count_params() - 1) < 0.15


@pytest.mark.parametrize(
    "builder, kwargs, smallest",
    # Three stride-2 poolings: 5 → 3 → 2 → 1; with the auxiliary classifiers 4a's map (input / 4)
    # must hold a 5×5 window.
    [
        (googlenet_classroom, {}, 5),
        (googlenet_classroom, {"aux_classifiers": True}, 17),
        (inception_classroom, {}, 5),
    ],
)
def test_classroom_networks_refuse_too_small_inputs_with_the_smallest_side(builder, kwargs, smallest):
    with pytest.raises(ValueError, match=rf"smallest valid value: {smallest}\)"):
        builder(input_shape=(smallest - 1, smallest - 1, 1), **kwargs)
    outputs = builder(input_shape=(smallest, smallest, 1), **kwargs).output_shape
    assert (outputs[0] if kwargs else outputs) == (None, 10)


def test_registry_lists_the_chapter_5_and_9_inception_networks():
    assert models.builder("googlenet") is googlenet
    assert models.spec("googlenet_classroom").chapter == 5
    assert models.spec("inception_classroom").chapter == 9
    assert models.describe("googlenet").startswith("GoogLeNet")


def test_inception_classroom_width_divisor_matches_the_narrow_xception():
    # Chapter 9's Fig. 6 pair: Table 1's widths divided by 8 against xception_classroom(width_divisor=4).
    model = inception_classroom(width_divisor=8)
    assert model.count_params() == classroom_params(8, bn=True, aux=False)
    assert abs(model.count_params() / xception_classroom(width_divisor=4).count_params() - 1) < 0.05
    # Table 1's narrowest branch (16 filters) keeps one filter at 16, none at 17.
    with pytest.raises(ValueError, match=r"width_divisor must be one of"):
        inception_classroom(width_divisor=17)
