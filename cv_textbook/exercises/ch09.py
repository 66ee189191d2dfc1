"""Chapter 09 exercises: Xception's depthwise separable convolutions.

* ``check_separable_savings(answer)`` - the weights of one of the middle flow's 3x3 separable
  convolutions (728 -> 728 channels, no bias) and of a standard 3x3 convolution in its place, as
  ``(separable, standard)`` (exercise 1).
* ``check_separable_by_hand(build)`` - the student's ``build(x, filters, kernel_size, strides)``:
  ``keras.layers.SeparableConv2D`` (padding 'same', no bias) built from a DepthwiseConv2D and a 1x1
  Conv2D, against Keras's own layer with its two kernels copied in; hints for biases left on, a
  standard or a k x k pointwise convolution, the steps in the other order, the stride on the
  pointwise step, a ReLU between the steps, SeparableConv2D itself (exercise 2).
* ``check_middle_block(build)`` - the student's middle-flow block, a function ``build(x) -> tensor``
  (3 x ReLU -> SeparableConv2D 3x3 -> BN, plus the block's input), against the block the package
  builds Xception from (``blocks.separable_block`` with Xception's settings) (exercise 3).

The references are computed, never typed in: the counts with ``analysis.conv_params`` and checked
against Keras's own layer, the separable convolution by building ``keras.layers.SeparableConv2D``,
the block by building ``blocks.separable_block``.
"""

from __future__ import annotations

import functools

import numpy as np

from cv_textbook.exercises._feedback import (
    FillIn,
    Hint,
    a_function,
    all_params,
    built_model,
    compare_built,
    correct,
    describe,
    describe_error,
    exercise_check,
    first_match,
    hint,
    is_placeholder,
    probe,
    randomised,
    transferred,
    whole_number,
)

# cv_textbook.models and cv_textbook.analysis import Keras: they are imported inside the functions
# that need them, so that importing this module stays free of Keras and TensorFlow.

__all__ = [
    "BY_HAND_CASES",
    "BY_HAND_QUESTION",
    "KERNEL",
    "MIDDLE_BLOCK_QUESTION",
    "MIDDLE_INPUT_SHAPE",
    "MIDDLE_WIDTH",
    "SAVINGS_QUESTION",
    "check_middle_block",
    "check_separable_by_hand",
    "check_separable_savings",
    "separable_counts",
]

# Xception's middle flow (Chollet 2017, Fig. 5): 19x19x728 maps at a 299x299 input, 3x3 kernels.
MIDDLE_WIDTH = 728
MIDDLE_INPUT_SHAPE = (19, 19, MIDDLE_WIDTH)
KERNEL = 3
OUTPUT_TOLERANCE = 1e-3  # float32 sums of 728 products in another order; a wrong block is off by far more

SAVINGS_QUESTION = (
    f"One separable convolution of Xception's middle flow reads {MIDDLE_WIDTH} channels and writes "
    f"{MIDDLE_WIDTH}, with a {KERNEL}x{KERNEL} kernel and no bias (BatchNormalization follows it). How many "
    f"weights does it have, and how many would a standard {KERNEL}x{KERNEL} Conv2D with the same input and "
    "output channels (no bias) have? Answer with a tuple (separable, standard)."
)
BY_HAND_QUESTION = (
    "Write separable_by_hand(x, filters, kernel_size, strides): what keras.layers.SeparableConv2D(filters, "
    "kernel_size, strides=strides, padding='same', use_bias=False) computes, built from two layers: a "
    "DepthwiseConv2D (one kernel_size x kernel_size filter per channel) and a 1x1 Conv2D, both without bias. "
    "Return the output tensor. The check copies SeparableConv2D's two kernels into your two layers and "
    "compares the outputs."
)
MIDDLE_BLOCK_QUESTION = (
    f"Write build_middle_block(x): one block of Xception's middle flow for a {MIDDLE_INPUT_SHAPE[0]}x"
    f"{MIDDLE_INPUT_SHAPE[1]}x{MIDDLE_INPUT_SHAPE[2]} input x. Three times: ReLU -> SeparableConv2D "
    f"({MIDDLE_WIDTH} filters, 3x3, padding='same', use_bias=False) -> BatchNormalization; then add the "
    "block's input x (the residual) and return the sum."
)


def separable_counts(k: int, c_in: int, c_out: int) -> tuple[int, int]:
    """(separable, standard) weights of a k x k convolution from c_in to c_out channels, no bias:
    k²·C + C·C′ against k²·C·C′ (``analysis.conv_params``)."""
    from cv_textbook import analysis

    depthwise = analysis.conv_params(k, c_in, c_in, use_bias=False, groups=c_in)
    pointwise = analysis.conv_params(1, c_in, c_out, use_bias=False)
    return depthwise + pointwise, analysis.conv_params(k, c_in, c_out, use_bias=False)


# ---------------------------------------------------------------------------
# Exercise 1: the savings of one separable convolution
# ---------------------------------------------------------------------------


@exercise_check
def check_separable_savings(answer) -> bool:
    """Check (separable, standard): the weights of a 3x3 728 -> 728 separable and standard convolution."""
    if is_placeholder(answer):
        raise FillIn("replace None by a tuple (separable, standard) of two whole numbers.")
    if not isinstance(answer, (tuple, list)) or len(answer) != 2:
        raise Hint(f"answer with two numbers, (separable, standard), got {describe(answer)}.")
    separable = whole_number(answer[0], fill_in="replace None by the separable convolution's weights.",
                             expected="a whole number of weights for the separable convolution")
    standard = whole_number(answer[1], fill_in="replace None by the standard convolution's weights.",
                            expected="a whole number of weights for the standard convolution")
    k, c = KERNEL, MIDDLE_WIDTH
    expected_separable, expected_standard = separable_counts(k, c, c)
    depthwise, pointwise = k * k * c, c * c
    if (separable, standard) == (expected_separable, expected_standard):
        return correct(
            f"depthwise {k}*{k}*{c} = {depthwise:,} + pointwise {c}*{c} = {pointwise:,} = "
            f"{expected_separable:,}, against {k}*{k}*{c}*{c} = {expected_standard:,} for the standard "
            f"convolution: {expected_standard / expected_separable:.1f} times fewer weights. In general "
            "the ratio is k²·C·C′ / (k²·C + C·C′) = 1 / (1/C′ + 1/k²): nearly k² = 9 when C′ is large."
        )
    if (separable, standard) == (expected_standard, expected_separable):
        return hint("the two numbers are swapped: the separable convolution is the smaller one. Give "
                    "(separable, standard).")
    if standard != expected_standard:
        mistakes = [
            (expected_standard + c, f"no bias: the convolution has use_bias=False, so {k}*{k}*{c}*{c} only."),
            (k * k * c, f"a standard convolution has a {k}x{k}x{c} kernel for EACH of its {c} filters."),
            (k * c * c, f"the kernel is {k}x{k}: k² = {k * k}, not k = {k}."),
        ]
        return hint(first_match(standard, mistakes)
                    or f"the standard convolution is wrong: each of the {c} filters has a {k}x{k}x{c} kernel.")
    mistakes = [
        (pointwise, f"that is the pointwise 1x1 step only; add the depthwise step, one {k}x{k} filter per "
                    f"input channel ({depthwise:,} weights)."),
        (depthwise, f"that is the depthwise step only; add the pointwise 1x1 convolution, {c}*{c} weights."),
        (expected_separable + c, "no bias: use_bias=False (BatchNormalization's beta does its job)."),
        (expected_separable + 2 * c, "no bias at all: neither step has one here."),
        (k * k * c * c + c * c, f"the depthwise step has one {k}x{k} filter per input channel ({k}*{k}*{c}), "
                                "not one per input and output channel."),
        (k * c + c * c, f"the kernel is {k}x{k}: the depthwise step has k² = {k * k} weights per channel."),
    ]
    return hint(first_match(separable, mistakes)
                or "the separable convolution is a depthwise step (k*k weights per input channel) and a "
                   "pointwise step (C_in*C_out weights).")


# ---------------------------------------------------------------------------
# Exercise 2: a separable convolution from its two steps
# ---------------------------------------------------------------------------

# (input shape, filters, kernel_size, strides): a widening 3x3 at stride 1, and a 5x5 at stride 2 on
# an even map, where 'same' padding puts a strided window elsewhere than a stride-1 window subsampled
# (so a stride moved to the pointwise step shows in the outputs).
BY_HAND_CASES = (((12, 12, 32), 48, 3, 1), ((10, 10, 24), 16, 5, 2))
_BY_HAND_TOLERANCE = 1e-4  # float32 sums in another order; every mistake below is off by far more

_BY_HAND_MISTAKES = (
    ("relu", "no activation between the two steps: SeparableConv2D is depthwise then pointwise, with "
             "nothing in between. Chollet found an intermediate ReLU or ELU makes Xception worse (Fig. 10; "
             "section 4 trains that ablation)."),
    ("stride_on_pointwise", "the stride belongs to the depthwise step (strides=strides on DepthwiseConv2D, "
                            "the 1x1 Conv2D at stride 1): a strided 1x1 convolution keeps every other "
                            "output of a stride-1 depthwise step, whose windows sit elsewhere with 'same' padding."),
)


def _fmt(shape_) -> str:
    return "x".join(str(d) for d in shape_)


def _by_hand_text(case) -> str:
    input_shape, filters, kernel_size, strides = case
    return (f"a {_fmt(input_shape)} input with filters={filters}, kernel_size={kernel_size}, "
            f"strides={strides}")


def _separable_reference(case):
    """Keras's SeparableConv2D for one case, in a model of its own."""
    import keras

    input_shape, filters, kernel_size, strides = case
    inputs = keras.Input(shape=input_shape, name="x")
    layer = keras.layers.SeparableConv2D(filters, kernel_size, strides=strides, padding="same", use_bias=False,
                                         name="separable")
    return keras.Model(inputs, layer(inputs))


def _two_steps(case, mistake: str | None = None):
    """Depthwise then pointwise, or the same two kernels wired with one typical mistake."""
    import keras
    from keras import layers

    input_shape, filters, kernel_size, strides = case
    inputs = keras.Input(shape=input_shape, name="x")
    late = mistake == "stride_on_pointwise"
    x = layers.DepthwiseConv2D(kernel_size, strides=1 if late else strides, padding="same", use_bias=False,
                               activation="relu" if mistake == "relu" else None)(inputs)
    x = layers.Conv2D(filters, 1, strides=strides if late else 1, use_bias=False)(x)
    return keras.Model(inputs, x)


def _steps(model) -> tuple[list, list]:
    """The model's depthwise convolutions and its ordinary ones (no depthwise, no separable)."""
    import keras

    depthwise = [layer for layer in model.layers if isinstance(layer, keras.layers.DepthwiseConv2D)]
    ordinary = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)
                and not isinstance(layer, (keras.layers.DepthwiseConv2D, keras.layers.SeparableConv2D))]
    return depthwise, ordinary


def _copy_separable(reference, target) -> bool:
    """Copy SeparableConv2D's depthwise and pointwise kernels into ``target``'s DepthwiseConv2D and
    1x1 Conv2D; False unless it has exactly one of each, of those kernels' shapes."""
    depthwise_kernel, pointwise_kernel = reference.get_layer("separable").get_weights()
    depthwise, ordinary = _steps(target)
    if len(depthwise) != 1 or len(ordinary) != 1:
        return False
    pairs = ((depthwise[0], depthwise_kernel), (ordinary[0], pointwise_kernel))
    if any([tuple(w.shape) for w in layer.weights] != [kernel.shape] for layer, kernel in pairs):
        return False
    for layer, kernel in pairs:
        layer.set_weights([kernel])
    return True


def _by_hand_shape_hint(case, given_shape, pointwise_strided: bool) -> str:
    (height, width, channels), filters, kernel_size, strides = case

    def side(size, stride):
        return -(-size // stride)  # 'same' padding: ceil(size / stride)

    expected = (side(height, strides), side(width, strides), filters)
    mistakes = [
        (lambda _: pointwise_strided and strides != 1 and given_shape[:2] != expected[:2],
         "stride once, in the depthwise step: the 1x1 Conv2D runs at stride 1."),
        ((*expected[:2], channels), f"your output has the input's {channels} channels: the depthwise step "
                                    f"keeps them; add the pointwise 1x1 Conv2D with {filters} filters."),
        ((height - kernel_size + 1, width - kernel_size + 1, filters) if strides == 1 else None,
         "give the depthwise step padding='same': with 'valid' it loses kernel_size - 1 pixels."),
        (((height - kernel_size) // strides + 1, (width - kernel_size) // strides + 1, filters),
         "give the depthwise step padding='same', as SeparableConv2D(padding='same')."),
        ((height, width, filters) if strides != 1 else None,
         f"{_by_hand_text(case)} asks for stride {strides}: pass strides=strides to the depthwise step."),
    ]
    return first_match(given_shape, [(wrong, text) for wrong, text in mistakes if wrong is not None]) or (
        f"for {_by_hand_text(case)} SeparableConv2D outputs {_fmt(expected)}, yours {_fmt(given_shape)}.")


def _by_hand_count_hint(case, given: int, expected: int) -> str:
    (_, _, channels), filters, kernel_size, _ = case
    k2 = kernel_size * kernel_size
    mistakes = [
        (expected + channels + filters, "both your layers have a bias (Keras's default): give DepthwiseConv2D "
                                        "and Conv2D use_bias=False, as the SeparableConv2D they replace."),
        (expected + channels, "your DepthwiseConv2D has a bias (Keras's default): use_bias=False."),
        (expected + filters, "your 1x1 Conv2D has a bias (Keras's default): use_bias=False."),
        (k2 * channels * filters, f"that is a standard {kernel_size}x{kernel_size} convolution "
                                  f"({kernel_size}*{kernel_size}*{channels}*{filters} weights): split it into "
                                  "a DepthwiseConv2D and a 1x1 Conv2D."),
        (k2 * channels + k2 * channels * filters,
         f"the pointwise step is a 1x1 Conv2D (kernel_size=1), not {kernel_size}x{kernel_size}: it only "
         "mixes the channels."),
        (channels * filters + k2 * filters,
         "depthwise first, then pointwise: SeparableConv2D filters each input channel in space, then mixes "
         "the channels (your order is the 'extreme Inception' of Fig. 4, with other weights)."),
    ]
    return first_match(given, mistakes) or (
        f"for {_by_hand_text(case)} your layers have {given:,} parameters, SeparableConv2D {expected:,}: "
        f"{kernel_size}*{kernel_size}*{channels} (depthwise) + {channels}*{filters} (pointwise), no biases.")


def _check_by_hand_case(build, case) -> str:
    input_shape, filters, kernel_size, strides = case
    student = built_model(
        build, input_shape, (filters, kernel_size, strides),
        fill_in="your function still returns None: build the two steps and return the pointwise output.",
        on_error=lambda _, error: f"building your layers for {_by_hand_text(case)} raised {describe_error(error)}.",
        returned="the output tensor of your 1x1 Conv2D",
        build_on="build the depthwise step on x, the argument your function receives, and the 1x1 "
                 "convolution on its output.",
    )
    reference = randomised(_separable_reference(case))
    depthwise, ordinary = _steps(student)
    match = compare_built(
        student, reference, probe(input_shape, seed=9),
        shape_hint=lambda given_shape: _by_hand_shape_hint(
            case, given_shape, any(tuple(layer.strides) != (1, 1) for layer in ordinary)),
        count_hint=lambda given, expected: _by_hand_count_hint(case, given, expected),
        copy=_copy_separable,
        layers_differ=lambda given: (
            "build it from the two steps, layers.DepthwiseConv2D and a 1x1 layers.Conv2D, not with "
            "SeparableConv2D itself: the point is to see that the two are the same." if not depthwise else
            f"your layers have {given:,} parameters like SeparableConv2D, but not one DepthwiseConv2D "
            f"({kernel_size}x{kernel_size}x{input_shape[-1]}x1) and one 1x1 Conv2D "
            f"(1x1x{input_shape[-1]}x{filters})." if len(depthwise) != 1 or len(ordinary) != 1 else
            "your two layers' kernels have other shapes than SeparableConv2D's."),
        mistakes=[(functools.partial(_two_steps, case, mistake), message) for mistake, message in _BY_HAND_MISTAKES],
        outputs_differ=lambda given: (
            f"your layers have SeparableConv2D's {given:,} weights, but with its kernels copied in the outputs "
            f"differ for {_by_hand_text(case)}. Check: DepthwiseConv2D(kernel_size, strides=strides, "
            "padding='same', use_bias=False), then Conv2D(filters, 1, use_bias=False), nothing in between."),
        tolerance=_BY_HAND_TOLERANCE,
    )
    return (f"{_fmt(input_shape)} -> {_fmt(reference.output.shape[1:])} at stride {strides}: {match.params:,} "
            f"weights, {match.outputs_text}")


@exercise_check
def check_separable_by_hand(build) -> bool:
    """Check ``build(x, filters, kernel_size, strides)``: SeparableConv2D from its two steps."""
    a_function(build, fill_in="replace None by your function, e.g. def separable_by_hand(x, filters, "
               "kernel_size, strides): ..., and pass separable_by_hand.",
               example="check_separable_by_hand(separable_by_hand)")
    summaries = [_check_by_hand_case(build, case) for case in BY_HAND_CASES]
    (_, _, channels), filters, kernel_size, _ = BY_HAND_CASES[0]
    separable, standard = separable_counts(kernel_size, channels, filters)
    return correct(
        "with SeparableConv2D's two kernels copied into your DepthwiseConv2D and 1x1 Conv2D, they compute "
        f"what it computes ({'; '.join(summaries)}). The stride acts in the depthwise step. For the first "
        f"case a standard {kernel_size}x{kernel_size} convolution would hold {standard:,} weights against "
        f"{separable:,}."
    )


# ---------------------------------------------------------------------------
# Exercise 3: build one middle-flow block
# ---------------------------------------------------------------------------


def _reference_block():
    import keras

    from cv_textbook.models import blocks, xception

    inputs = keras.Input(shape=MIDDLE_INPUT_SHAPE, name="block_input")
    outputs = blocks.separable_block(
        inputs, (MIDDLE_WIDTH,) * 3, "block5", xception.SETTINGS, names=xception.SEPARABLE_NAMES,
        pool=False, residual="identity",
    )
    return _randomise(keras.Model(inputs, outputs, name="reference"))


def _randomise(model, seed: int = 0):
    """Give every weight a random value of a scale that keeps the signal near 1 through the block.

    Freshly initialised, the three separable convolutions shrink the signal about twentyfold
    each, so the residual x would hide any mistake in the branch (a ReLU in the wrong place
    changes the output by 1e-4); with these weights a wrong block is off by order 1."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        values = layer.get_weights()
        if not values:
            continue
        if type(layer).__name__ == "SeparableConv2D":
            depthwise, pointwise = values[:2]
            values[0] = rng.normal(0, 1 / 3, depthwise.shape)  # 9 taps per channel
            values[1] = rng.normal(0, 1 / np.sqrt(pointwise.shape[2]), pointwise.shape)
        else:  # BatchNormalization: gamma, beta, moving mean, moving variance
            values = [rng.uniform(0.5, 1.5, v.shape) if i in (0, 3) else rng.normal(0, 0.2, v.shape)
                      for i, v in enumerate(values)]
        layer.set_weights([v.astype("float32") for v in values])
    return model


def _kinds(model) -> list[str]:
    return [type(layer).__name__ for layer in model.layers]


def _student_block(build):
    """The student's block as a model, or a Hint saying what went wrong while building it."""

    def on_error(_, error):
        if isinstance(error, ValueError) and "shape" in str(error).lower():
            return ("the residual cannot be added: the shapes differ. The middle flow keeps the map: "
                    f"{MIDDLE_WIDTH} filters, padding='same', no pooling, no stride ({describe_error(error)}).")
        return f"building the block failed: {describe_error(error)}"

    return built_model(
        build, MIDDLE_INPUT_SHAPE, on_error=on_error, returned=None,
        fill_in="build_middle_block must return the block's output tensor.",
        not_implemented="write the block in build_middle_block (replace the `raise NotImplementedError`).",
        disconnected=lambda error: f"return the output tensor of the block built on `x` ({describe_error(error)}).",
        input_name="block_input", model_name="student",
    )


def _parameter_hint(kinds, given_params, expected_params, per_conv_bn) -> str:
    """What a wrong parameter count most likely means."""
    from cv_textbook import analysis

    c = MIDDLE_WIDTH
    standard = analysis.conv_params(KERNEL, c, c, use_bias=False)
    if "SeparableConv2D" not in kinds and "Conv2D" in kinds and "DepthwiseConv2D" not in kinds:
        return (f"{given_params:,} parameters instead of {expected_params:,}: use layers.SeparableConv2D "
                f"(a depthwise and a pointwise step, {separable_counts(KERNEL, c, c)[0]:,} weights), not a "
                f"plain Conv2D ({standard:,} weights each).")
    mistakes = [
        (expected_params + 3 * c, "use_bias=False in the separable convolutions: the BatchNormalization "
                                  f"after each has its own shift, so the {c} biases each would be redundant."),
        (expected_params - per_conv_bn, "the middle-flow block has THREE separable convolutions (each with "
                                        "its BatchNormalization), not two."),
        (expected_params + per_conv_bn, "three separable convolutions, not four."),
        (expected_params - 3 * 4 * c, f"each separable convolution is followed by a BatchNormalization "
                                      f"(4 x {c} values each: gamma, beta, moving mean and variance)."),
        (expected_params + analysis.conv_params(1, c, c, use_bias=False) + 4 * c,
         "the middle flow's residual is the identity: input and output have the same shape, so the "
         "input is added as it is, without a 1x1 projection."),
        (expected_params + analysis.conv_params(1, c, c, use_bias=False),
         "the middle flow's residual is the identity: add the input as it is, without a 1x1 convolution."),
    ]
    return first_match(given_params, mistakes) or (
        f"{given_params:,} parameters instead of {expected_params:,}: three times (ReLU -> SeparableConv2D "
        f"with {c} filters, use_bias=False -> BatchNormalization), then add the input.")


def _shape_hint(kinds, given_shape, expected_shape) -> str:
    if any("Pooling" in kind for kind in kinds):
        return (f"the output is {given_shape}, not {expected_shape}: the middle flow has no pooling; "
                "only the entry and exit flows shrink the map.")
    return (f"the output is {given_shape}, not {expected_shape}: keep the map (padding='same', "
            f"stride 1) and the {MIDDLE_WIDTH} channels.")


def _outputs_hint(kinds) -> str:
    """What outputs that differ with the right layers and weights most likely mean."""
    if "Add" not in kinds:
        return ("the layers and weights match but the outputs differ: the residual is missing. Keep the "
                "block's input x and return layers.Add()([x_after_the_three_steps, x]).")
    activations = [i for i, kind in enumerate(kinds) if kind in ("Activation", "ReLU")]
    separables = [i for i, kind in enumerate(kinds) if kind == "SeparableConv2D"]
    if not activations:
        return ("the layers and weights match but the outputs differ: each separable convolution is "
                "preceded by a ReLU (layers.Activation('relu')).")
    if separables and activations[0] > separables[0]:
        return ("the layers and weights match but the outputs differ: in the middle flow each step is "
                "ReLU first, then the separable convolution, then BN (the ReLU comes before).")
    if kinds[-1] in ("Activation", "ReLU"):
        return ("the layers and weights match but the outputs differ: the block ends with the Add; the "
                "next block's first ReLU comes after it, so do not apply one to the sum.")
    return ("the layers and weights match but the outputs differ: check the order (ReLU -> separable "
            "convolution -> BN, three times), and that the residual is the block's input x, added at the end.")


@exercise_check
def check_middle_block(build) -> bool:
    """Build ``build(x)`` on a 19x19x728 input and compare it with the package's middle-flow block:
    output shape, parameter count, and outputs on a fixed input after copying the weights."""
    from cv_textbook import analysis

    build = a_function(build, fill_in="pass your function build_middle_block.",
                       example="check_middle_block(build_middle_block)")
    student, reference = _student_block(build), _reference_block()
    expected_shape = tuple(reference.output.shape[1:])
    kinds = _kinds(student)
    per_conv_bn = separable_counts(KERNEL, MIDDLE_WIDTH, MIDDLE_WIDTH)[0] + 4 * MIDDLE_WIDTH
    match = compare_built(
        student, reference, probe(MIDDLE_INPUT_SHAPE, seed=0), count=all_params,
        shape_hint=lambda given_shape: _shape_hint(kinds, given_shape, expected_shape),
        count_hint=lambda given, expected: _parameter_hint(kinds, given, expected, per_conv_bn),
        copy=transferred, layers_differ="", outputs_differ=lambda _: _outputs_hint(kinds), tolerance=OUTPUT_TOLERANCE,
    )
    saved = 3 * (analysis.conv_params(KERNEL, MIDDLE_WIDTH, MIDDLE_WIDTH, use_bias=False)
                 - separable_counts(KERNEL, MIDDLE_WIDTH, MIDDLE_WIDTH)[0])
    return correct(
        f"same shape {expected_shape}, same {match.params:,} parameters, and with the package's weights "
        f"copied in (random ones, so that every layer counts), the same outputs (largest difference "
        f"{match.difference:.1e}). The residual costs nothing; three standard 3x3 convolutions would have "
        f"cost {saved:,} more weights. Xception repeats this block eight times."
    )
