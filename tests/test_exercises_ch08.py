"""Chapter 08 exercise checks: the reference answers pass, typical mistakes get their own hint,
placeholders ask to fill in, and no wrong answer raises."""

import keras
import pytest
from keras import layers

from cv_textbook import analysis, models
from cv_textbook.exercises import ch08
from exercise_feedback import assert_correct, assert_fill_in, assert_hint

# ---------------------------------------------------------------------------
# Exercise 1: the parameters of an SE block with C = 256, r = 16
# ---------------------------------------------------------------------------

# Hu et al. 2018, §4 (Eq. 5 without biases: 2/r · Σ C²): Dense 256 -> 16 (4,096 weights + 16
# biases) and Dense 16 -> 256 (4,096 weights + 256 biases) = 8,464.
C, R = 256, 16
WEIGHTS = 2 * C * (C // R)
SE_PARAMS = 8_464


def test_se_params_reference_is_se_resnet50s_first_stage_block(capsys):
    assert WEIGHTS + C // R + C == SE_PARAMS
    # the SE block of conv2_block1 in the package's SE-ResNet-50 (first stage: 256 channels)
    net = models.build("se_resnet50", input_shape=(32, 32, 3), num_classes=10)
    block = [net.get_layer(f"conv2_block1_se_{role}") for role in ("reduce", "expand")]
    assert sum(layer.count_params() for layer in block) == SE_PARAMS
    assert_correct(capsys, ch08.check_se_params, SE_PARAMS)
    assert_correct(capsys, ch08.check_se_params, float(SE_PARAMS))


@pytest.mark.parametrize(
    "answer, expected",
    [
        (WEIGHTS, "biases too"),
        (WEIGHTS + C, "but not the first one's 16"),
        (WEIGHTS + C // R, "but not the second one's 256"),
        (2 * C * C + C // R + C, "reduction is what keeps the block cheap"),
        (2 * C * C + 2 * C, "no reduction"),
        (C * (C // R) + C // R, "first dense layer alone"),
        (C * (C // R) + C, "second dense layer alone"),
        (2 * C * C * R + C * R + C, "not multiplied"),
        (WEIGHTS + 2 * (C // R), "256 biases"),
        (12345, "count the two dense layers"),
        ("8464", "one whole number"),
    ],
)
def test_se_params_mistakes(capsys, answer, expected):
    assert_hint(capsys, ch08.check_se_params, answer, expected)


def test_se_params_fill_in(capsys):
    assert_fill_in(capsys, ch08.check_se_params, None)


# ---------------------------------------------------------------------------
# Exercise 2: build the block
# ---------------------------------------------------------------------------


def _student_se(x, ratio, *, pool="avg", keepdims=True, hidden=None, hidden_activation="relu",
                output_activation="sigmoid", bias=True, merge="multiply", second_dense=True):
    """The block as a student writes it, built without the package, one switch per mistake."""
    channels = x.shape[-1]
    pooling = layers.GlobalAveragePooling2D if pool == "avg" else layers.GlobalMaxPooling2D
    w = pooling(keepdims=keepdims)(x)
    w = layers.Dense(hidden or channels // ratio, activation=hidden_activation, use_bias=bias)(w)
    if second_dense:
        w = layers.Dense(channels, activation=output_activation, use_bias=bias)(w)
    if merge == "none":
        return w
    return layers.Multiply()([x, w]) if merge == "multiply" else layers.Add()([x, w])


def test_se_block_reference(capsys):
    # Trainable parameters of the two maps the check builds, by hand (2·C·(C/r) + C/r + C):
    # 7x7x64, r = 16: 2·64·4 + 4 + 64 = 580; 5x5x48, r = 4: 2·48·12 + 12 + 48 = 1,212.
    for (shape, ratio), params in zip(ch08.BUILD_CASES, (580, 1_212)):
        inputs = keras.Input(shape=shape)
        assert analysis.count_params(keras.Model(inputs, _student_se(inputs, ratio)))["trainable"] == params
    assert_correct(capsys, ch08.check_se_block, _student_se)
    # Without keepdims the weights are (batch, C); Keras's Multiply expands them to (batch, 1, 1, C).
    assert_correct(capsys, ch08.check_se_block, lambda x, ratio: _student_se(x, ratio, keepdims=False))


@pytest.mark.parametrize(
    "options, expected",
    [
        ({"pool": "max"}, "average pooling"),
        ({"hidden_activation": "sigmoid", "output_activation": "relu"}, "swapped"),
        ({"output_activation": "softmax"}, "not a softmax"),
        ({"output_activation": None}, "activation='sigmoid'"),
        ({"output_activation": "relu"}, "not a relu"),
        ({"hidden_activation": None}, "activation='relu'"),
        ({"merge": "add"}, "scales the map"),
        ({"bias": False}, "no biases"),
        ({"hidden": "channels"}, "reduces to"),
        ({"hidden": "times"}, "not c * ratio"),
        ({"second_dense": False}, "needs a second dense layer"),
        ({"merge": "none"}, "you return the channel weights"),
        ({"merge": "none", "keepdims": False}, "you return the channel weights"),
    ],
)
def test_se_block_mistakes(capsys, options, expected):
    def build(x, ratio):
        hidden = options.get("hidden")
        width = {"channels": x.shape[-1], "times": x.shape[-1] * ratio}.get(hidden)
        return _student_se(x, ratio, **{**options, "hidden": width})

    assert_hint(capsys, ch08.check_se_block, build, expected)


def test_se_block_hard_coded_ratio_is_caught(capsys):
    # The second case has ratio 4: a block that always divides by 16 has the wrong width there.
    assert_hint(capsys, ch08.check_se_block, lambda x, ratio: _student_se(x, 16), "trainable parameters")


def test_se_block_answers_that_are_not_blocks(capsys):
    assert_hint(capsys, ch08.check_se_block, 42, "pass the function itself")
    assert_hint(capsys, ch08.check_se_block, lambda x, ratio: 1 / 0, "raised zerodivisionerror")
    assert_hint(capsys, ch08.check_se_block, lambda x, ratio: keras.Model(x, x), "output tensor")


def test_se_block_fill_in(capsys):
    assert_fill_in(capsys, ch08.check_se_block, None)
    assert_fill_in(capsys, ch08.check_se_block, lambda x, ratio: None)


# ---------------------------------------------------------------------------
# Exercise 3: the MAC overhead of one SE block in conv5_block2 of SE-ResNet-50
# ---------------------------------------------------------------------------

# He et al. 2016, Table 1, conv5_x: 7x7 maps, [1x1 512, 3x3 512, 1x1 2048]; Hu et al. 2018: r = 16.
SIDE, C5, WIDTH = 7, 2048, 512
BLOCK_MACS = SIDE * SIDE * (C5 * WIDTH + 9 * WIDTH * WIDTH + WIDTH * C5)  # 218,365,952
SE_MACS = C5 * (C5 // R) + (C5 // R) * C5  # 524,288: the Dense layers run once per image
OVERHEAD = 100 * SE_MACS / BLOCK_MACS  # 0.2401 %


def test_se_overhead_reference(capsys):
    assert BLOCK_MACS == 218_365_952 and SE_MACS == 524_288
    assert ch08.OVERHEAD_BLOCK == ("conv5_block2", SIDE, C5, WIDTH)
    # The package's SE-ResNet-50 block, counted by analysis.count_macs_by_layer, agrees.
    net = models.build("se_resnet50", use_bias=False)
    rows = {name: macs for name, _, macs in analysis.count_macs_by_layer(net)}
    assert sum(macs for name, macs in rows.items() if name.startswith("conv5_block2_se_")) == SE_MACS
    assert sum(macs for name, macs in rows.items()
               if name.startswith("conv5_block2_") and "_se_" not in name) == BLOCK_MACS
    del net
    assert_correct(capsys, ch08.check_se_overhead, OVERHEAD)
    assert_correct(capsys, ch08.check_se_overhead, 0.24)  # rounded to two significant digits
    out_first_stage = 100 * (2 * 256 * 16) / (56 * 56 * (256 * 64 + 9 * 64 * 64 + 64 * 256))
    ch08.check_se_overhead(OVERHEAD)
    assert f"{out_first_stage:.4f} %" in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize(
    "answer, expected",
    [
        (OVERHEAD / 100, "asks for percent"),
        (100 * SE_MACS / (BLOCK_MACS / 49), "once per image"),  # convolutions at one position
        (100 * 49 * SE_MACS / BLOCK_MACS, "once per image"),  # Dense layers at every position
        (100 * (SE_MACS / 2) / BLOCK_MACS, "two dense layers"),
        (100 * 2 * C5 * C5 / BLOCK_MACS, "reduces to c/r = 2048/16 = 128"),
        (100 * SE_MACS / (49 * (2 * C5 * WIDTH + WIDTH * WIDTH)), "the middle convolution is 3x3"),
        (100 * (SE_MACS + 2 * 49 * C5) / BLOCK_MACS, "leaves out the squeeze"),
        (100 * SE_MACS / (BLOCK_MACS + 49 * C5 * C5), "has no projection"),
        (0.2, "close"),
        (-0.24, "positive percentage"),
        (5.0, "count the block's three convolutions"),
        ("0.24", "one number"),
    ],
)
def test_se_overhead_mistakes(capsys, answer, expected):
    assert_hint(capsys, ch08.check_se_overhead, answer, expected)


def test_se_overhead_fill_in(capsys):
    assert_fill_in(capsys, ch08.check_se_overhead, None)
