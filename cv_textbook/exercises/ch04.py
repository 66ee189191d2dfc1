"""Chapter 04 exercises: VGG.

* ``check_stack_weights(answer)`` - the weights (biases left out) of three stacked 3x3
  convolutions with C = 256 channels in and out (VGG-16's block 3), which see 7x7 pixels as one
  7x7 convolution would: 27 C² against 49 C².
* ``check_vgg_block(build)`` - a function ``build(x, num_convs, filters)`` that BUILDS a VGG block
  with the Keras functional API: ``num_convs`` 3x3 convolutions ("same" padding, ReLU) and one
  2x2 max-pooling of stride 2. The check builds it twice (32x32x16 -> three convolutions of 32
  filters; 16x16x32 -> one of 64), compares the parameters with
  ``cv_textbook.models.vgg.vgg_block``, copies the reference block's weights into it and compares
  the outputs on a fixed input.
* ``check_fc1_params(answer)`` - the parameters of VGG-16's fc1, which reads the flattened
  7x7x512 map.

The references are computed by building the blocks and networks with ``cv_textbook.models.vgg``
(the code behind ``models.build("vgg16")``) and counting, never typed in.
"""

from __future__ import annotations

import functools

from cv_textbook.exercises._feedback import (
    a_function,
    built_model,
    compare_built,
    copy_layers,
    correct,
    describe_error,
    exercise_check,
    first_match,
    hint,
    probe,
    randomised,
    trainable_params,
    whole_number,
)

# Keras and cv_textbook.models are imported inside the functions that need them, so that importing
# this module stays free of Keras and TensorFlow.

__all__ = [
    "BUILD_CASES",
    "BUILD_QUESTION",
    "FC1_QUESTION",
    "STACK_CHANNELS",
    "STACK_QUESTION",
    "check_fc1_params",
    "check_stack_weights",
    "check_vgg_block",
]

# VGG-16's block 3: three 3x3 convolutions of 256 channels.
STACK_CHANNELS = 256

STACK_QUESTION = (
    f"Three stacked 3x3 convolutions, each with C = {STACK_CHANNELS} input and {STACK_CHANNELS} output "
    "channels (VGG-16's block 3), see a 7x7 window of their input, as one 7x7 convolution would. "
    "How many weights do the three hold together? Leave the biases out."
)
BUILD_QUESTION = (
    "Write vgg_block(x, num_convs, filters): a block of VGG with the Keras functional API. "
    "num_convs 3x3 convolutions of `filters` filters, each with padding='same' and a ReLU, then one "
    "2x2 max-pooling with stride 2. Return the block's output tensor."
)
FC1_QUESTION = (
    "VGG-16's last block ends with a 7x7x512 map (at 224x224 input). Flatten lays it out as one "
    "vector and fc1, a Dense layer of 4,096 units, reads it. How many parameters (weights and "
    "biases) does fc1 have?"
)


# ---------------------------------------------------------------------------
# Exercise 1: three 3x3 convolutions against one 7x7
# ---------------------------------------------------------------------------


def _conv_weights(kernel: int, channels_in: int, channels_out: int) -> int:
    from cv_textbook import analysis

    return analysis.conv_params(kernel, channels_in, channels_out, use_bias=False)


@exercise_check
def check_stack_weights(answer) -> bool:
    """Check the weights of three 3x3 convolutions with C channels in and out (no biases)."""
    from cv_textbook import analysis

    given = whole_number(answer, fill_in="replace None by a number: the three convolutions' weights.")
    c = STACK_CHANNELS
    one = _conv_weights(3, c, c)
    expected = 3 * one
    seven = _conv_weights(7, c, c)
    receptive = analysis.receptive_field([(3, 1)] * 3)
    if given == expected:
        return correct(
            f"each 3x3 convolution holds 3x3x{c}x{c} = {one:,} weights, the three {expected:,} (27 C²). "
            f"One {receptive}x{receptive} convolution over the same window would hold {seven:,} (49 C²): "
            f"{seven / expected:.2f} times as many, with one ReLU where the stack has three."
        )
    mistakes = [
        (seven, f"that is one {receptive}x{receptive} convolution (49 C²). The stack has three 3x3 convolutions."),
        (one, "that is one 3x3 convolution. There are three of them."),
        (expected + 3 * c, "leave the biases out: count only the kernels' weights."),
        (3 * 3 * 3 * c, "each filter of a 3x3 convolution has 3x3 weights for EACH of the C input "
         "channels, and there are C filters: 3x3xCxC per convolution."),
        (3 * 3 * 3, "a convolution has a 3x3 kernel per input channel and per filter: multiply by C twice."),
        (27 * 2 * c, "multiply by C twice (input and output channels), not by 2C."),
    ]
    return hint(
        first_match(given, mistakes)
        or "a 3x3 convolution from C to C channels holds 3x3xCxC weights; the stack has three."
    )


# ---------------------------------------------------------------------------
# Exercise 2: build a VGG block
# ---------------------------------------------------------------------------

# (input shape, number of convolutions, filters): a three-convolution block (as in VGG-16's block 3)
# and a one-convolution block (as in VGG-11's block 1), so that a fixed count is caught.
BUILD_CASES = (((32, 32, 16), 3, 32), ((16, 16, 32), 1, 64))
# Outputs agree when the largest difference is below this fraction of the largest output: float32
# rounding stays near 1e-6 of it; every mistake below changes the outputs by much more.
_OUTPUT_TOLERANCE = 1e-3


def _case_text(case) -> str:
    (height, width, channels), num_convs, filters = case
    return f"a {height}x{width}x{channels} input with num_convs={num_convs}, filters={filters}"


def _fmt(shape_: tuple) -> str:
    return "x".join(str(d) for d in shape_)


def _expected_shape(case) -> tuple:
    (height, width, _), _, filters = case
    return (height // 2, width // 2, filters)


def _student_model(build, case):
    """The student's block for one case, as a model; FillIn or Hint when it cannot be built."""
    input_shape, num_convs, filters = case
    return built_model(
        build, input_shape, (num_convs, filters),
        fill_in="your function still returns None: build the block and return its output tensor.",
        on_error=lambda _, error: f"building your block for {_case_text(case)} raised {describe_error(error)}.",
        returned="the block's output tensor (what the pooling layer returned, e.g. "
                 "`return layers.MaxPooling2D(2, strides=2)(x)`)",
        build_on="build every layer on x, starting from the argument your function receives.",
    )


def _reference_block(case, mistake: str | None = None):
    """The package's VGG block (``vgg.vgg_block``) for one case, or the same convolutions wired
    with one typical mistake (same weights, other outputs)."""
    import keras
    from keras import layers

    from cv_textbook.models import vgg

    input_shape, num_convs, filters = case
    inputs = keras.Input(shape=input_shape, name="x")
    if mistake is None:
        return keras.Model(inputs, vgg.vgg_block(inputs, (3,) * num_convs, filters, block=1))
    x = inputs
    for index in range(num_convs):
        last = index == num_convs - 1
        relu = {"no_relu": False, "relu_last_only": last}.get(mistake, True)
        x = layers.Conv2D(filters, 3, padding="same", activation="relu" if relu else None)(x)
    pooling = layers.AveragePooling2D if mistake == "average_pooling" else layers.MaxPooling2D
    return keras.Model(inputs, pooling(2, strides=2)(x))


_OUTPUT_MISTAKES = (
    ("no_relu", "your convolutions have no activation: give each one a ReLU (activation='relu'), "
     "or the whole stack is a single linear map and three 3x3 layers buy nothing over one 7x7."),
    ("relu_last_only", "only your last convolution has a ReLU: every 3x3 convolution has its own. "
     "Those extra nonlinearities are one of the paper's two reasons for stacks (§2.3)."),
    ("average_pooling", "VGG pools with the maximum (MaxPooling2D), not the average."),
)


def _weighted(model) -> list:
    return [layer for layer in model.layers if layer.weights]


def _layer_text(layer) -> str:
    kernel = getattr(layer, "kernel", None)
    if kernel is None:
        return f"{type(layer).__name__} ({layer.count_params():,})"
    bias = " with bias" if getattr(layer, "use_bias", False) else " without bias"
    return (f"{kernel.shape[0]}x{kernel.shape[1]} {type(layer).__name__} {kernel.shape[2]}->{kernel.shape[3]}"
            f"{bias} ({layer.count_params():,})")


def _copy(source, target) -> bool:
    """Copy ``source``'s weights into ``target`` layer by layer; False when the layers differ."""
    return copy_layers(_weighted(source), _weighted(target))


def _shape_hint(case, given_shape) -> str:
    (height, width, channels), num_convs, filters = case
    expected = _expected_shape(case)
    valid = (height - 2 * num_convs) // 2
    mistakes = [
        ((height, width, filters), f"for {_case_text(case)} your block outputs {_fmt(given_shape)}: the "
         "2x2 max-pooling with stride 2 is missing at the end; it halves height and width."),
        ((height // 2 ** num_convs, width // 2 ** num_convs, filters) if num_convs > 1 else None,
         "pool once per block, after the last convolution, not after every convolution."),
        ((valid, valid, filters), "the convolutions need padding='same': with 'valid' each 3x3 "
         "convolution loses a pixel on every side. VGG keeps the size inside a block."),
        (((height - 3) // 2 + 1, (width - 3) // 2 + 1, filters),
         "VGG pools 2x2 with stride 2 (pool_size=2), not AlexNet's overlapping 3x3 windows."),
        ((height - 1, width - 1, filters), "give the pooling stride 2 (strides=2; Keras's default is "
         "the pool size, so MaxPooling2D(2) alone also works)."),
        ((height // 2, width // 2, channels), f"every convolution of the block has {filters} filters "
         f"(the `filters` argument), so the output has {filters} channels, not the input's {channels}."),
    ]
    return first_match(given_shape, [(wrong, message) for wrong, message in mistakes if wrong is not None]) or (
        f"for {_case_text(case)} the block must output {_fmt(expected)}, yours gives {_fmt(given_shape)}."
    )


def _count_hint(case, given: int, reference) -> str:
    from cv_textbook import analysis

    (_, _, channels), num_convs, filters = case
    expected = trainable_params(reference)
    first = analysis.conv_params(3, channels, filters)
    later = analysis.conv_params(3, filters, filters)
    mistakes = [
        (expected - num_convs * filters, "VGG's convolutions have biases (Keras's default use_bias=True): "
         "there is no batch normalization here to take their place."),
        (analysis.conv_params(5, channels, filters) + (num_convs - 1) * analysis.conv_params(5, filters, filters),
         "the kernels are 3x3 (kernel_size=3), not 5x5: small kernels stacked are VGG's idea."),
        (analysis.conv_params(1, channels, filters) + (num_convs - 1) * analysis.conv_params(1, filters, filters),
         "the kernels are 3x3 (kernel_size=3), not 1x1."),
        *[(first + (k - 1) * later,
           f"{_case_text(case)} asks for {num_convs} convolution(s); from x to what you return your block "
           f"has {k} (one more or fewer, or a fixed number, or layers built on x instead of on the "
           "previous layer's output, which Keras leaves out of the block): loop num_convs times, each "
           "convolution on the previous layer's output.")
          for k in range(1, num_convs + 4) if k != num_convs],
    ]
    layers_text = "; ".join(_layer_text(layer) for layer in _weighted(reference))
    return first_match(given, [(wrong, message) for wrong, message in mistakes if wrong is not None]) or (
        f"for {_case_text(case)} your block has {given:,} parameters, the package's {expected:,}: {layers_text}."
    )


def _check_case(build, case) -> str:
    """Build one case and compare it with the reference; a summary when it matches."""
    student = _student_model(build, case)
    expected_shape = _expected_shape(case)
    reference = randomised(_reference_block(case))
    match = compare_built(
        student, reference, probe(case[0], seed=4), expected_shape=expected_shape,
        shape_hint=lambda given_shape: _shape_hint(case, given_shape),
        count_hint=lambda given, _: _count_hint(case, given, reference),
        copy=_copy,
        layers_differ=lambda given: (f"your block has the right number of parameters ({given:,}) but not the "
                                     "same layers: " + "; ".join(_layer_text(layer) for layer in _weighted(reference))
                                     + "."),
        mistakes=[(functools.partial(_reference_block, case, mistake), message)
                  for mistake, message in _OUTPUT_MISTAKES],
        outputs_differ=lambda given: (
            f"your block has the right layers and {given:,} parameters, but with the package's weights copied "
            f"in its outputs differ for {_case_text(case)}. Check the order: 3x3 convolution with its ReLU, "
            "num_convs times, then one 2x2 max-pooling."),
        tolerance=_OUTPUT_TOLERANCE,
    )
    return f"{_fmt(case[0])} -> {_fmt(expected_shape)}, {match.params:,} parameters, {match.outputs_text}"


@exercise_check
def check_vgg_block(build) -> bool:
    """Check a function ``build(x, num_convs, filters)`` that builds a VGG block."""
    a_function(build, fill_in="replace None by your function, e.g. def vgg_block(x, num_convs, filters): "
               "..., and pass vgg_block.", example="check_vgg_block(vgg_block)")
    summaries = [_check_case(build, case) for case in BUILD_CASES]
    return correct(
        "with the weights of cv_textbook.models.vgg.vgg_block copied in, your block computes what the "
        f"package's does ({'; '.join(summaries)}). Five such blocks and three dense layers make every "
        "configuration of Table 1."
    )


# ---------------------------------------------------------------------------
# Exercise 3: the parameters of fc1
# ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _vgg16_top_shapes():
    """fc1's input and units, read from the package's VGG-16 without building 138 M weights: the
    top alone, on the map the convolutional part gives at 224x224."""
    from cv_textbook.models import vgg

    side = 224 // 2 ** len(vgg.CONFIGURATIONS["D"])
    return (side, side, vgg.WIDTHS[-1]), vgg.DENSE[0]


@exercise_check
def check_fc1_params(answer) -> bool:
    """Check the parameters of VGG-16's fc1 (weights and biases)."""
    given = whole_number(answer, fill_in="replace None by a number: fc1's parameters.")
    (height, width, channels), units = _vgg16_top_shapes()
    inputs = height * width * channels
    expected = inputs * units + units
    if given == expected:
        return correct(
            f"{height}x{width}x{channels} = {inputs:,} inputs times {units:,} units, plus {units:,} biases: "
            f"{expected:,}, the largest layer of VGG-16 by far (section 4 counts its share)."
        )
    mistakes = [
        (inputs * units, f"add the {units:,} biases, one per unit."),
        (channels * units + units, f"Flatten hands fc1 the whole {height}x{width}x{channels} map, "
         f"{inputs:,} values, not {channels}."),
        (units * units + units, f"that is fc2 (4,096 -> 4,096). fc1 reads the {inputs:,} values of the "
         "flattened map."),
        (height * width * units + units, f"each of the {height}x{width} positions has {channels} channels: "
         f"the flattened map has {inputs:,} values."),
    ]
    return hint(
        first_match(given, mistakes)
        or "a Dense layer with n inputs and m units holds n x m weights and m biases; n is the size of "
        "the flattened 7x7x512 map."
    )
