"""Xception builders: keras.applications' network (names, counts, outputs after a weight transfer,
with and without the top), the paper's ablations (no residuals, an activation inside the separable
convolutions), the split separable convolution, the classroom variant, clear errors."""

import collections

import keras
import numpy as np
import pytest

from cv_textbook import models
from cv_textbook.analysis import count_macs
from cv_textbook.models.blocks import ConvSettings, separable_conv
from cv_textbook.models.xception import xception, xception_classroom
from test_resnet import features_and_outputs, randomize_weights

# /work/shared/REFERENCE.md: keras.applications.Xception(weights=None) at 299×299×3, 1000 classes
# (Keras 3.15.1); the trainable count is the paper's (Chollet 2017, Table 3: 22,855,952).
TOTAL = 22_910_480
TRAINABLE = 22_855_952
WITHOUT_TOP = 20_861_480
# §4: "The Xception architecture has 36 convolutional layers": the stem's 2 and 34 separable ones.
CONVOLUTIONAL_LAYERS = 36


def trainable(model) -> int:
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def layer_types(model) -> collections.Counter:
    return collections.Counter(type(layer).__name__ for layer in model.layers)


def batch_for(model, seed=1):
    # Xception's preprocessing maps pixels to [-1, 1].
    return np.random.default_rng(seed).random((2, *model.input_shape[1:]), dtype=np.float32) * 2.0 - 1.0


@pytest.fixture(scope="module", params=[True, False], ids=["with_top", "without_top"])
def keras_and_ours(request):
    include_top = request.param
    reference = keras.applications.Xception(weights=None, include_top=include_top)
    randomize_weights(reference)
    ours = models.transfer_weights(reference, xception(include_top=include_top))
    return include_top, reference, ours


def test_xception_has_keras_applications_layers_and_counts(keras_and_ours):
    include_top, reference, ours = keras_and_ours
    assert ours.count_params() == reference.count_params() == (TOTAL if include_top else WITHOUT_TOP)
    if include_top:
        assert trainable(ours) == TRAINABLE
    # Same layers in the same order; the unnamed ones (residual branches, Add) are numbered by Keras.
    assert len(ours.layers) == len(reference.layers)
    for mine, theirs in zip(ours.layers[1:], reference.layers[1:]):
        assert isinstance(mine, type(theirs)), (mine.name, theirs.name)

    def named(model):
        prefixes = ("block", "avg_pool", "predictions")
        return [layer.name for layer in model.layers if layer.name.startswith(prefixes)]

    assert named(ours) == named(reference)


def test_xception_matches_keras_applications_outputs_after_transfer_weights(keras_and_ours):
    include_top, reference, ours = keras_and_ours
    batch = batch_for(ours)
    if include_top:
        ref_features, ref_outputs = features_and_outputs(reference, batch)
        our_features, our_outputs = features_and_outputs(ours, batch)
        scale = np.abs(ref_features).max()
        np.testing.assert_allclose(our_features, ref_features, rtol=1e-5, atol=1e-5 * scale)
    else:
        ref_outputs = np.asarray(reference(batch, training=False))
        our_outputs = np.asarray(ours(batch, training=False))
    assert np.abs(our_outputs - ref_outputs).max() < 1e-5


def projections(widths_in_out):
    """A strided 1×1 projection without bias and its BN (γ, β, moving mean and variance)."""
    return sum(cin * cout + 4 * cout for cin, cout in widths_in_out)


# Fig. 5: the residual branches of blocks 2-4 (64 → 128 → 256 → 728) and of block 13 (728 → 1024).
PROJECTIONS = ((64, 128), (128, 256), (256, 728), (728, 1024))


def test_without_residuals_only_the_projections_and_the_additions_go():
    plain = xception(input_shape=(71, 71, 3), residual=False)
    assert plain.count_params() == TOTAL - projections(PROJECTIONS) == 21_929_136
    kinds = layer_types(plain)
    assert "Add" not in kinds
    assert kinds["Conv2D"] == 2  # only the stem's
    assert kinds["SeparableConv2D"] == CONVOLUTIONAL_LAYERS - 2


@pytest.mark.parametrize("activation", ["relu", "elu"])
def test_an_intermediate_activation_splits_every_separable_convolution_with_the_same_parameters(activation):
    model = xception(input_shape=(71, 71, 3), intermediate_activation=activation)
    assert model.count_params() == TOTAL  # an activation has no weights
    kinds = layer_types(model)
    assert "SeparableConv2D" not in kinds
    assert kinds["DepthwiseConv2D"] == CONVOLUTIONAL_LAYERS - 2
    # The stem's, the pointwise halves and the projections.
    assert kinds["Conv2D"] == 2 + (CONVOLUTIONAL_LAYERS - 2) + len(PROJECTIONS)
    between = model.get_layer(f"block5_sepconv2_{activation}")
    assert between.activation.__name__ == activation
    assert between.input is model.get_layer("block5_sepconv2_depthwise").output
    assert between.output is model.get_layer("block5_sepconv2_pointwise").input


def test_a_split_separable_convolution_without_activation_equals_separable_conv2d():
    inputs = keras.Input((9, 9, 6))
    settings = ConvSettings(use_bias=True)  # a bias too, to see that it goes after the pointwise step
    whole = keras.Model(inputs, separable_conv(inputs, 10, "sep", settings))
    split = keras.Model(inputs, separable_conv(inputs, 10, "sep", settings, split=True))
    assert [layer.name for layer in split.layers[1:]] == ["sep_depthwise", "sep_pointwise"]
    assert whole.count_params() == split.count_params() == 9 * 6 + 6 * 10 + 10
    assert count_macs(whole) == count_macs(split) == 81 * (9 * 6 + 6 * 10)
    rng = np.random.default_rng(0)
    depthwise, pointwise, bias = (rng.normal(size=w.shape).astype("float32") for w in whole.layers[1].weights)
    whole.layers[1].set_weights([depthwise, pointwise, bias])
    split.get_layer("sep_depthwise").set_weights([depthwise])
    split.get_layer("sep_pointwise").set_weights([pointwise, bias])
    batch = rng.normal(size=(2, 9, 9, 6)).astype("float32")
    assert np.abs(np.asarray(split(batch)) - np.asarray(whole(batch))).max() < 1e-5


@pytest.mark.parametrize(
    "kwargs, message",
    [
        # A valid 3×3/2 and a 3×3 convolution, then four "same" 3×3/2 poolings: 23 → 11 → 9 → 5 → 3 → 2.
        ({"input_shape": (22, 22, 3)}, r"too small for xception.*smallest valid value: 23"),
        ({"intermediate_activation": "tanh"},
         r"intermediate_activation must be one of \(None, 'relu', 'elu'"),
        ({"residual": "project"}, r"residual must be True or False"),
        ({"include_top": False, "pooling": "sum"}, r"pooling must be one of"),
    ],
)
def test_bad_arguments_raise_errors_that_name_them(kwargs, message):
    with pytest.raises(ValueError, match=message):
        xception(**kwargs)


def test_smallest_valid_input_builds():
    model = xception(input_shape=(23, 23, 3), include_top=False)
    assert model.output_shape == (None, 1, 1, 2048)
    # The last pooling still halves a 2×2 map.
    assert model.get_layer("block13_sepconv2_bn").output.shape[1:3] == (2, 2)


# ------------------------------------------------------------------ classroom variant


def separable(cin, cout):
    """A 3×3 separable convolution without bias (depthwise 9·cin, pointwise cin·cout) and its BN."""
    return 9 * cin + cin * cout + 4 * cout


def test_xception_classroom_keeps_the_flows_at_a_quarter_width():
    model = xception_classroom()
    # Fig. 5 with every width divided by 4: stem 8, 16; entry 32, 64, 182; middle 8 × 3 × 182;
    # exit 182, 256 then 384, 512; a 512 → 10 classifier. 28×28×1 input.
    stem = (9 * 1 * 8 + 4 * 8) + (9 * 8 * 16 + 4 * 16)
    entry = sum(separable(cin, cout) + separable(cout, cout)
                for cin, cout in ((16, 32), (32, 64), (64, 182)))
    middle = 8 * 3 * separable(182, 182)
    exit_flow = separable(182, 182) + separable(182, 256) + separable(256, 384) + separable(384, 512)
    residuals = projections(((16, 32), (32, 64), (64, 182), (182, 256)))
    expected = stem + entry + middle + exit_flow + residuals + 512 * 10 + 10
    assert model.count_params() == expected == 1_368_332
    assert layer_types(model)["SeparableConv2D"] + layer_types(model)["Conv2D"] - 4 == CONVOLUTIONAL_LAYERS
    # The same blocks under the same names as keras.applications' Xception.
    full = xception(input_shape=(71, 71, 3))
    assert ({layer.name for layer in model.layers if layer.name.startswith("block")}
            == {layer.name for layer in full.layers if layer.name.startswith("block")})
    maps = {"block4_pool": (4, 4, 182), "block12_sepconv3_bn": (4, 4, 182), "block13_pool": (2, 2, 256),
            "block14_sepconv2_act": (2, 2, 512)}
    assert {name: model.get_layer(name).output.shape[1:] for name in maps} == maps


def test_xception_classroom_ablations_change_the_counts_as_computed():
    full = xception_classroom().count_params()
    without = xception_classroom(residual=False).count_params()
    assert full - without == projections(((16, 32), (32, 64), (64, 182), (182, 256)))
    assert xception_classroom(intermediate_activation="elu").count_params() == full


def test_xception_classroom_refuses_inputs_below_9_pixels():
    # No stride in the stem; four "same" 3×3/2 poolings: 9 → 5 → 3 → 2 → 1.
    with pytest.raises(ValueError, match=r"too small for xception_classroom.*smallest valid value: 9\)"):
        xception_classroom(input_shape=(8, 8, 1))
    assert xception_classroom(input_shape=(9, 9, 1)).output_shape == (None, 10)


def test_xception_classroom_width_divisor_and_middle_repeats_keep_the_flows():
    # Chapter 9's ablation variant: every classroom width divided by 4 again (rounded down):
    # stem 2, 4; entry 8, 16, 45 (182 // 4); middle 45; exit 45, 64 then 96, 128.
    model = xception_classroom(width_divisor=4)
    stem = (9 * 1 * 2 + 4 * 2) + (9 * 2 * 4 + 4 * 4)
    entry = sum(separable(cin, cout) + separable(cout, cout) for cin, cout in ((4, 8), (8, 16), (16, 45)))
    middle = 8 * 3 * separable(45, 45)
    exit_flow = separable(45, 45) + separable(45, 64) + separable(64, 96) + separable(96, 128)
    residuals = projections(((4, 8), (8, 16), (16, 45), (45, 64)))
    assert model.count_params() == stem + entry + middle + exit_flow + residuals + 128 * 10 + 10
    assert model.get_layer("block12_sepconv3").filters == 45
    # Two middle blocks instead of eight: block5 and block6, then the exit flow as block7 and block8.
    shallow = xception_classroom(middle_repeats=2)
    assert xception_classroom().count_params() - shallow.count_params() == 6 * 3 * separable(182, 182)
    assert shallow.get_layer("block8_sepconv2_act").output.shape[1:] == (2, 2, 512)


def test_xception_classroom_refuses_a_width_divisor_below_1():
    with pytest.raises(ValueError, match=r"width_divisor must be an integer of at least 1"):
        xception_classroom(width_divisor=0)
    with pytest.raises(ValueError, match=r"middle_repeats must be an integer of at least 1"):
        xception_classroom(middle_repeats=0)


def test_xception_classroom_dropout_goes_before_the_softmax_without_parameters():
    # The paper trained with dropout 0.5 before the logistic regression layer (Chollet 2017, §4.3).
    model = xception_classroom(dropout=0.5)
    names = [layer.name for layer in model.layers]
    assert names[-3:] == ["avg_pool", "dropout", "predictions"]
    assert model.get_layer("dropout").rate == 0.5
    assert model.count_params() == 1_368_332
    assert "dropout" not in [layer.name for layer in xception_classroom().layers]
    with pytest.raises(ValueError, match=r"dropout must be a number of at least 0.0.*0\.5"):
        xception_classroom(dropout=-0.1)


def test_xception_classroom_weight_decay_penalises_every_kernel():
    # 2 stem convolutions + 34 separable convolutions (depthwise and pointwise kernels each) + 4 strided
    # 1x1 projections + the softmax: 2 + 68 + 4 + 1 = 75 kernels, and no penalty on BN or biases.
    model = xception_classroom(weight_decay=1e-4)
    assert len(model.losses) == 75
    assert model.count_params() == 1_368_332
    kernels = [w for w in model.weights if w.path.split("/")[-1] in ("kernel", "depthwise_kernel", "pointwise_kernel")]
    expected = 1e-4 * sum(float(np.sum(np.square(keras.ops.convert_to_numpy(w)))) for w in kernels)
    penalty = sum(float(keras.ops.convert_to_numpy(loss)) for loss in model.losses)
    assert penalty == pytest.approx(expected, rel=1e-4)
    assert xception_classroom().losses == []
    with pytest.raises(ValueError, match=r"weight_decay must be None or a number of at least 0 .*used 1e-5"):
        xception_classroom(weight_decay=-1e-4)
