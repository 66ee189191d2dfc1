"""Chapter 09 exercises: Xception's depthwise separable convolutions.

* ``check_separable_savings(answer)`` - the weights of one of the middle flow's 3x3 separable
  convolutions (728 -> 728 channels, no bias) and of a standard 3x3 convolution in its place, as
  ``(separable, standard)`` (exercise 1).
* ``check_middle_block(build)`` - the student's middle-flow block, a function ``build(x) -> tensor``
  (3 x ReLU -> SeparableConv2D 3x3 -> BN, plus the block's input), against the block the package
  builds Xception from (``blocks.separable_block`` with Xception's settings) (exercise 2).

The references are computed, never typed in: the counts with ``analysis.conv_params`` and checked
against Keras's own layer, the block by building ``blocks.separable_block``.
"""

from __future__ import annotations

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
    transferred,
    whole_number,
)

# cv_textbook.models and cv_textbook.analysis import Keras: they are imported inside the functions
# that need them, so that importing this module stays free of Keras and TensorFlow.

__all__ = [
    "KERNEL",
    "MIDDLE_BLOCK_QUESTION",
    "MIDDLE_INPUT_SHAPE",
    "MIDDLE_WIDTH",
    "SAVINGS_QUESTION",
    "check_middle_block",
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
# Exercise 2: build one middle-flow block
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
