"""Chapter 09 exercise checks: the reference answers pass, typical mistakes get their own hint,
placeholders ask to fill in, and no wrong answer raises."""

import functools

import pytest
from keras import layers

from cv_textbook.exercises import ch09
from exercise_feedback import assert_correct, assert_fill_in, assert_hint

# ---------------------------------------------------------------------------
# Exercise 1: separable against standard weights
# ---------------------------------------------------------------------------

# By hand (Chollet 2017, §2 and Fig. 5's middle flow, 728 channels, 3x3, no bias):
# separable 3*3*728 + 728*728 = 6,552 + 529,984 = 536,536; standard 3*3*728*728 = 4,769,856.
SEPARABLE, STANDARD = 536_536, 4_769_856


def test_separable_counts_are_the_hand_computed_ones():
    assert 3 * 3 * 728 + 728 * 728 == SEPARABLE and 3 * 3 * 728 * 728 == STANDARD
    assert ch09.separable_counts(3, 728, 728) == (SEPARABLE, STANDARD)


def test_separable_savings_reference_answer(capsys):
    assert_correct(capsys, ch09.check_separable_savings, (SEPARABLE, STANDARD))
    assert_correct(capsys, ch09.check_separable_savings, [float(SEPARABLE), STANDARD])


@pytest.mark.parametrize(
    "answer, expected",
    [
        ((STANDARD, SEPARABLE), "swapped"),
        ((728 * 728, STANDARD), "pointwise 1x1 step only"),
        ((3 * 3 * 728, STANDARD), "depthwise step only"),
        ((SEPARABLE + 728, STANDARD), "no bias"),
        ((3 * 3 * 728 * 728 + 728 * 728, STANDARD), "one 3x3 filter per input channel"),
        ((3 * 728 + 728 * 728, STANDARD), "k² = 9"),
        ((SEPARABLE, STANDARD + 728), "use_bias=False"),
        ((SEPARABLE, 3 * 3 * 728), "for EACH of its 728 filters"),
        ((SEPARABLE, 3 * 728 * 728), "not k = 3"),
        ((SEPARABLE, 1), "standard convolution is wrong"),
        ((2, STANDARD), "depthwise step (k*k weights per input channel)"),
        (SEPARABLE, "two numbers"),
        (("many", STANDARD), "whole number of weights"),
    ],
)
def test_separable_savings_mistakes(capsys, answer, expected):
    assert_hint(capsys, ch09.check_separable_savings, answer, expected)


def test_separable_savings_fill_in(capsys):
    assert_fill_in(capsys, ch09.check_separable_savings, None)
    assert_fill_in(capsys, ch09.check_separable_savings, (None, None))


# ---------------------------------------------------------------------------
# Exercise 2: SeparableConv2D from a DepthwiseConv2D and a 1x1 Conv2D
# ---------------------------------------------------------------------------


def _by_hand(x, filters, kernel_size, strides, *, bias=(False, False), relu=False, late_stride=False,
             order="depthwise first", pointwise_kernel=1, padding="same", layer="two steps", stride_twice=False):
    """The two steps as a student writes them, without the package, one switch per mistake."""
    if layer == "separable":
        return layers.SeparableConv2D(filters, kernel_size, strides=strides, padding="same", use_bias=False)(x)
    if layer == "standard":
        return layers.Conv2D(filters, kernel_size, strides=strides, padding="same", use_bias=False)(x)
    if order == "pointwise first":
        x = layers.Conv2D(filters, 1, use_bias=bias[1])(x)
        return layers.DepthwiseConv2D(kernel_size, strides=strides, padding="same", use_bias=bias[0])(x)
    x = layers.DepthwiseConv2D(kernel_size, strides=1 if late_stride else strides, padding=padding,
                               use_bias=bias[0], activation="relu" if relu else None)(x)
    if layer == "depthwise only":
        return x
    pointwise_stride = strides if late_stride or stride_twice else 1
    return layers.Conv2D(filters, pointwise_kernel, strides=pointwise_stride, padding="same", use_bias=bias[1])(x)


def test_separable_by_hand_reference(capsys):
    # k²·C + C·C′ (Chollet 2017, §1.3): 3·3·32 + 32·48 = 1,824 and 5·5·24 + 24·16 = 984; 'same' padding
    # at stride 2 takes 10x10 to 5x5.
    import keras

    for case, params, out_shape in zip(ch09.BY_HAND_CASES, (1_824, 984), ((12, 12, 48), (5, 5, 16))):
        inputs = keras.Input(shape=case[0])
        model = keras.Model(inputs, _by_hand(inputs, *case[1:]))
        assert model.count_params() == params and tuple(model.output.shape[1:]) == out_shape
    assert_correct(capsys, ch09.check_separable_by_hand, _by_hand)
    # the correct answer names the standard 3x3 convolution's 3·3·32·48 = 13,824 weights
    ch09.check_separable_by_hand(_by_hand)
    assert "13,824 weights against 1,824" in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize(
    "options, expected",
    [
        ({"bias": (True, True)}, "both your layers have a bias"),
        ({"bias": (True, False)}, "your depthwiseconv2d has a bias"),
        ({"bias": (False, True)}, "your 1x1 conv2d has a bias"),
        ({"relu": True}, "no activation between the two steps"),
        ({"late_stride": True}, "the stride belongs to the depthwise step"),
        ({"stride_twice": True}, "stride once"),
        ({"order": "pointwise first"}, "depthwise first, then pointwise"),
        ({"pointwise_kernel": 3}, "the pointwise step is a 1x1 conv2d"),
        ({"padding": "valid"}, "padding='same'"),
        ({"layer": "standard"}, "that is a standard 3x3 convolution"),
        ({"layer": "separable"}, "not with separableconv2d itself"),
        ({"layer": "depthwise only"}, "add the pointwise 1x1 conv2d"),
    ],
)
def test_separable_by_hand_mistakes(capsys, options, expected):
    assert_hint(capsys, ch09.check_separable_by_hand, functools.partial(_by_hand, **options), expected)


def test_separable_by_hand_ignoring_the_stride_is_caught(capsys):
    # The first case has stride 1, the second stride 2: a function that never strides fails there.
    assert_hint(capsys, ch09.check_separable_by_hand,
                lambda x, filters, kernel_size, strides: _by_hand(x, filters, kernel_size, 1), "asks for stride 2")


def test_separable_by_hand_fill_in_and_answers_that_are_not_layers(capsys):
    assert_fill_in(capsys, ch09.check_separable_by_hand, None)
    assert_fill_in(capsys, ch09.check_separable_by_hand, lambda x, filters, kernel_size, strides: None)
    assert_hint(capsys, ch09.check_separable_by_hand, 42, "pass the function itself")
    assert_hint(capsys, ch09.check_separable_by_hand, lambda x, f, k, s: (x, x), "output tensor")
    assert_hint(capsys, ch09.check_separable_by_hand, lambda x, f, k, s: 1 / 0, "ZeroDivisionError")


# ---------------------------------------------------------------------------
# Exercise 3: build the middle-flow block
# ---------------------------------------------------------------------------


def _middle_block(x, convs=3, relu_first=True, separable=True, use_bias=False, batch_norm=True,
                  residual="identity", pool=False, relu_after_add=False):
    """A middle-flow block as a student writes it, with switches for the typical mistakes."""
    block_input = x
    for _ in range(convs):
        if relu_first:
            x = layers.Activation("relu")(x)
        if separable:
            x = layers.SeparableConv2D(728, 3, padding="same", use_bias=use_bias)(x)
        else:
            x = layers.Conv2D(728, 3, padding="same", use_bias=use_bias)(x)
        if batch_norm:
            x = layers.BatchNormalization()(x)
        if not relu_first:
            x = layers.Activation("relu")(x)
    if pool:
        x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
    if residual == "identity":
        x = layers.Add()([x, block_input])
    elif residual == "1x1":
        x = layers.Add()([x, layers.Conv2D(728, 1, use_bias=False)(block_input)])
    if relu_after_add:
        x = layers.Activation("relu")(x)
    return x


def test_middle_block_reference_answer(capsys):
    # Three separable convolutions of 536,536 weights (above) and three BNs of 4 * 728 values:
    # 3 * (536,536 + 2,912) = 1,618,344 (keras.applications' block5 holds as many).
    import keras

    inputs = keras.Input(shape=ch09.MIDDLE_INPUT_SHAPE)
    assert keras.Model(inputs, _middle_block(inputs)).count_params() == 3 * (SEPARABLE + 4 * 728) == 1_618_344
    assert_correct(capsys, ch09.check_middle_block, _middle_block)


@pytest.mark.parametrize(
    "options, expected",
    [
        ({"residual": None}, "residual is missing"),
        ({"residual": "1x1"}, "without a 1x1 convolution"),
        ({"relu_first": False}, "ReLU first"),
        ({"relu_after_add": True}, "ends with the Add"),
        ({"separable": False}, "not a plain Conv2D"),
        ({"use_bias": True}, "use_bias=False"),
        ({"convs": 2}, "THREE separable convolutions"),
        ({"convs": 4}, "not four"),
        ({"batch_norm": False}, "followed by a BatchNormalization"),
        ({"pool": True, "residual": None}, "no pooling"),
        ({"pool": True}, "cannot be added"),
    ],
)
def test_middle_block_mistakes(capsys, options, expected):
    assert_hint(capsys, ch09.check_middle_block, functools.partial(_middle_block, **options), expected)


def test_middle_block_fill_in(capsys):
    def build_middle_block(x):
        raise NotImplementedError

    assert_fill_in(capsys, ch09.check_middle_block, None)
    assert_fill_in(capsys, ch09.check_middle_block, build_middle_block)
    assert_hint(capsys, ch09.check_middle_block, 42, "pass the function itself")
    assert_hint(capsys, ch09.check_middle_block, lambda x: 1 / 0, "ZeroDivisionError")


def test_questions_are_printable_text():
    for question in (ch09.SAVINGS_QUESTION, ch09.BY_HAND_QUESTION, ch09.MIDDLE_BLOCK_QUESTION):
        assert isinstance(question, str) and question.endswith(("?", "."))
