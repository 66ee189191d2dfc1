"""Chapter 08 exercises: SENet.

* ``check_se_params(answer)`` - the trainable parameters of one squeeze-and-excitation block on a
  256-channel map with reduction r = 16 (the blocks of SE-ResNet-50's first stage): 2·C·(C/r)
  weights plus the two Dense layers' biases.
* ``check_se_block(build)`` - a function ``build(x, ratio)`` that BUILDS a squeeze-and-excitation
  block with the Keras functional API (global average pooling → Dense C/r with ReLU → Dense C
  with sigmoid → the input times its channel weights). The check builds it for two maps,
  compares its trainable parameters with ``cv_textbook.models.blocks.squeeze_excite``, copies the
  reference block's weights into it and compares the outputs on a fixed input; the typical
  mistakes (no biases, no reduction, max pooling, swapped or wrong activations, adding instead of
  scaling, returning the weights instead of the scaled map) each get their own hint.
* ``check_se_overhead(answer)`` - the multiply-accumulates one SE block adds to a bottleneck block
  of SE-ResNet-50's last stage (conv5_block2: a 7x7x2048 map, bottleneck width 512, r = 16), in
  percent of the block's own; hints for Dense layers counted at every position (or convolutions at
  one), one Dense layer only, no reduction, the 3x3 kernel counted as 1x1, a projection the block
  does not have, the squeeze and scale counted, a fraction given for a percentage.

The references are computed by building ``blocks.squeeze_excite`` (the block of
``models.build("se_resnet20")``) or ``resnet.bottleneck_block`` with ``se_ratio`` (the block of
``models.build("se_resnet50")``) and counting, never typed in.
"""

from __future__ import annotations

import functools
import re

import numpy as np

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
    randomised,
    real_number,
    trainable_params,
    whole_number,
)

# Keras and cv_textbook.models are imported inside the functions that need them, so that importing
# this module stays free of Keras and TensorFlow.

__all__ = [
    "BUILD_CASES",
    "BUILD_QUESTION",
    "OVERHEAD_BLOCK",
    "OVERHEAD_QUESTION",
    "PARAMS_CHANNELS",
    "PARAMS_QUESTION",
    "PARAMS_RATIO",
    "check_se_block",
    "check_se_overhead",
    "check_se_params",
]

# Exercise 1: the SE block of SE-ResNet-50's first stage (conv2_x outputs 256 channels), r = 16.
PARAMS_CHANNELS = 256
PARAMS_RATIO = 16

PARAMS_QUESTION = (
    f"A squeeze-and-excitation block with reduction r = {PARAMS_RATIO} sits on a map of "
    f"C = {PARAMS_CHANNELS} channels (every block of SE-ResNet-50's first stage). Its two Dense "
    "layers (C -> C/r with ReLU, C/r -> C with sigmoid) have biases. How many trainable "
    "parameters does the block have?"
)
BUILD_QUESTION = (
    "Write se_block(x, ratio): a squeeze-and-excitation block with the Keras functional API. "
    "Squeeze: global average pooling of x to one value per channel (keepdims=True keeps a 1x1xC "
    "map). Excitation: Dense(C // ratio) with ReLU, then Dense(C) with sigmoid (both with "
    "biases). Scale: multiply x by the C channel weights (layers.Multiply). Return the scaled map, "
    "which has the shape of x."
)

# Exercise 3: (name, map side, channels, bottleneck width) of a bottleneck block of SE-ResNet-50 at
# 224x224 that is not the first of its stage (stride 1, identity shortcut): conv5_block2 (He et al.
# 2016, Table 1: conv5_x, 7x7 maps, [1x1 512, 3x3 512, 1x1 2048]); conv2_block2 is the comparison
# the correct answer shows (conv2_x, 56x56 maps, [1x1 64, 3x3 64, 1x1 256]).
OVERHEAD_BLOCK = ("conv5_block2", 7, 2048, 512)
_OVERHEAD_FIRST_STAGE = ("conv2_block2", 56, 256, 64)
OVERHEAD_RATIO = 16

OVERHEAD_QUESTION = (
    f"SE-ResNet-50's block {OVERHEAD_BLOCK[0]} (last stage, not its first block: stride 1, no projection) "
    f"takes a {OVERHEAD_BLOCK[1]}x{OVERHEAD_BLOCK[1]}x{OVERHEAD_BLOCK[2]} map: 1x1 conv {OVERHEAD_BLOCK[2]} -> "
    f"{OVERHEAD_BLOCK[3]}, 3x3 conv {OVERHEAD_BLOCK[3]} -> {OVERHEAD_BLOCK[3]}, 1x1 conv {OVERHEAD_BLOCK[3]} -> "
    f"{OVERHEAD_BLOCK[2]}, then an SE block with r = {OVERHEAD_RATIO}. Count multiply-accumulates as "
    "analysis.count_macs does (convolutions and Dense layers; pooling, scaling, biases and BatchNormalization "
    "are free). How many percent of the residual block's MACs does its SE block add? Answer in percent "
    "(e.g. 1.5 for 1.5 %)."
)


# ---------------------------------------------------------------------------
# Exercise 1: the block's parameters
# ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _reference_model(input_shape: tuple, ratio: int):
    """``blocks.squeeze_excite`` on a map of ``input_shape``, inside a model of its own."""
    import keras

    from cv_textbook.models import blocks

    inputs = keras.Input(shape=input_shape, name="x")
    return keras.Model(inputs, blocks.squeeze_excite(inputs, ratio, name="se"))


@exercise_check
def check_se_params(answer) -> bool:
    """Check the trainable parameters of an SE block with C = 256 and r = 16."""
    given = whole_number(answer, fill_in="replace None by a number: the SE block's trainable parameters.")
    channels, ratio = PARAMS_CHANNELS, PARAMS_RATIO
    expected = trainable_params(_reference_model((8, 8, channels), ratio))
    hidden = channels // ratio
    weights = 2 * channels * hidden
    if given == expected:
        return correct(
            f"the squeeze (global average pooling) has no weights; Dense {channels} -> {hidden} has "
            f"{channels * hidden:,} weights and {hidden} biases, Dense {hidden} -> {channels} "
            f"{hidden * channels:,} weights and {channels} biases: 2·C²/r + C/r + C = {expected:,}. "
            "The map's height and width do not enter: the block only ever sees one value per channel."
        )
    mistakes = [
        (weights, f"those are the weights, 2·C²/r = {weights:,}. Both Dense layers have biases too: "
                  f"{hidden} in the first (one per hidden unit), {channels} in the second."),
        (weights + channels, f"you counted the second Dense layer's {channels} biases but not the "
                             f"first one's {hidden} (one per hidden unit, C/r)."),
        (weights + hidden, f"you counted the first Dense layer's {hidden} biases but not the second "
                           f"one's {channels} (one per channel)."),
        (2 * channels * channels + hidden + channels,
         f"the hidden layer has C/r = {channels}/{ratio} = {hidden} units, not C: the reduction is "
         "what keeps the block cheap."),
        (2 * channels * channels + 2 * channels, "there is no reduction in your count: the first "
         f"Dense layer has C/r = {hidden} units, not C = {channels}."),
        (channels * hidden + hidden, "that is the first Dense layer alone (C -> C/r). The second "
         f"one maps the {hidden} hidden units back to {channels} channel weights."),
        (channels * hidden + channels, "that is the second Dense layer alone (C/r -> C). The first "
         f"one reduces {channels} channel means to {hidden} units."),
        (2 * channels * channels * ratio + channels * ratio + channels,
         f"the hidden layer is C divided by r ({channels} / {ratio} = {hidden}), not multiplied."),
        (2 * channels * hidden + 2 * hidden,
         f"the second Dense layer has {channels} outputs, one weight per channel, so {channels} biases."),
    ]
    return hint(
        first_match(given, mistakes)
        or f"count the two Dense layers: C·(C/r) weights + C/r biases, then (C/r)·C weights + C "
        f"biases, with C = {channels} and C/r = {hidden}. Pooling, ReLU, sigmoid and the "
        "multiplication have no weights."
    )


# ---------------------------------------------------------------------------
# Exercise 2: build the block
# ---------------------------------------------------------------------------

# (input shape, ratio): a map of ResNet-20's last stage (7x7x64 at 28x28 input, r = 16: 4 hidden
# units) and a smaller ratio on a wider map, so that a hard-coded width or ratio shows.
BUILD_CASES = (((7, 7, 64), 16), ((5, 5, 48), 4))
# Outputs agree when the largest difference is below this fraction of the largest output: float32
# rounding stays near 1e-6 of it; every mistake below changes them by a sizeable part of their range.
_OUTPUT_TOLERANCE = 1e-2
_SHAPES_IN_MESSAGE = re.compile(r"\(((?:None, )?\d+(?:, \d+)*)\)")

# Mistakes that keep the parameters and the output shape, found by comparing outputs:
# (name, pooling, hidden activation, output activation, merge, hint)
_OUTPUT_MISTAKES = (
    ("max", "max", "relu", "sigmoid", "multiply",
     "the squeeze is global AVERAGE pooling (the mean of each channel over the whole map), not "
     "max pooling: the paper chose the mean as the simplest statistic of the whole channel."),
    ("swapped", "avg", "sigmoid", "relu", "multiply",
     "the activations are swapped: ReLU after the first (reducing) Dense layer, sigmoid after the "
     "second, so that each channel weight lies between 0 and 1."),
    ("softmax", "avg", "relu", "softmax", "multiply",
     "use a sigmoid, not a softmax, after the second Dense layer: a softmax makes the channels "
     "compete for a total of 1, while SE lets several channels be emphasised at once (§3.2)."),
    ("linear_out", "avg", "relu", None, "multiply",
     "the second Dense layer needs activation='sigmoid': the channel weights must lie between 0 "
     "and 1 (a gate), not be any real number."),
    ("relu_out", "avg", "relu", "relu", "multiply",
     "the second Dense layer ends with a sigmoid, not a ReLU: the channel weights are gates "
     "between 0 and 1."),
    ("linear_hidden", "avg", None, "sigmoid", "multiply",
     "the first Dense layer needs activation='relu': without it the two Dense layers collapse "
     "into one linear map and the excitation loses its non-linearity."),
    ("add", "avg", "relu", "sigmoid", "add",
     "the block SCALES the map: multiply x by the channel weights (layers.Multiply), do not add "
     "them."),
)


def _case_text(case) -> str:
    (height, width, channels), ratio = case
    return f"a {height}x{width}x{channels} input with ratio={ratio}"


def _variant(case, pooling, hidden_activation, output_activation, merge):
    """The SE block with its four choices spelled out, for the output mistakes."""
    import keras
    from keras import layers

    (height, width, channels), ratio = case
    inputs = keras.Input(shape=(height, width, channels), name="x")
    pool = layers.GlobalAveragePooling2D if pooling == "avg" else layers.GlobalMaxPooling2D
    w = pool(keepdims=True)(inputs)
    w = layers.Dense(max(1, channels // ratio), activation=hidden_activation)(w)
    w = layers.Dense(channels, activation=output_activation)(w)
    merged = layers.Multiply()([inputs, w]) if merge == "multiply" else layers.Add()([inputs, w])
    return keras.Model(inputs, merged)


def _dense_layers(model) -> list:
    import keras

    return [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]


def _copy_dense(source, target) -> bool:
    """Copy the two Dense layers' weights in graph order; False when their shapes differ."""
    return copy_layers(_dense_layers(source), _dense_layers(target))


@functools.lru_cache(maxsize=None)
def _fixed_input(case) -> np.ndarray:
    """Two maps whose channels have different means (otherwise every channel mean is near 0)."""
    input_shape = case[0]
    rng = np.random.default_rng(8)
    means = rng.normal(0.0, 1.5, (2, 1, 1, input_shape[-1]))
    return (means + rng.standard_normal((2, *input_shape))).astype("float32")


def _student_model(build, case):
    """The student's block for one case, as a model; FillIn or Hint when it cannot be built."""
    input_shape, ratio = case

    def on_error(_, error):
        text = str(error).lower()
        shapes = [tuple(int(d) for d in found.split(", ") if d != "None")
                  for found in _SHAPES_IN_MESSAGE.findall(str(error))]
        channels = input_shape[-1]
        if len(shapes) >= 2 and shapes[1] and shapes[1][-1] != channels:
            return (f"Keras cannot multiply the {channels}-channel map by {shapes[1][-1]} weights: the "
                    f"excitation needs a second Dense layer, Dense(C) with sigmoid, which gives one weight "
                    f"per channel ({channels} here).")
        if "incompatible shapes" in text or "broadcast" in text or "dimensions must be equal" in text:
            return (f"for {_case_text(case)} Keras cannot multiply the map by your channel weights "
                    f"({describe_error(error)}). Keep the squeezed map 1x1xC "
                    "(GlobalAveragePooling2D(keepdims=True)) so that it broadcasts over height and width.")
        return f"building your block for {_case_text(case)} raised {describe_error(error)}."

    return built_model(
        build, input_shape, (ratio,), on_error=on_error,
        fill_in="your function still returns None: build the block and return its output tensor.",
        returned="the block's output tensor (what layers.Multiply returned)",
        build_on="build every layer on x, the argument your function receives.",
    )


def _count_hint(case, given: int, expected: int) -> str:
    (_, _, channels), ratio = case
    hidden = max(1, channels // ratio)
    mistakes = [
        (expected - hidden - channels,
         "your Dense layers have no biases: the SE block's two Dense layers keep theirs (use_bias "
         "is True by default; there is no BatchNormalization after them)."),
        (2 * channels * channels + 2 * channels,
         f"your hidden layer has C = {channels} units: the first Dense layer REDUCES to "
         f"C // ratio = {hidden}."),
        (2 * channels * channels * ratio + channels * ratio + channels,
         f"the hidden width is C // ratio = {channels} // {ratio} = {hidden}, not C * ratio."),
        (channels * hidden + hidden,
         "your block has only the reducing Dense layer: add the second one, Dense(C) with sigmoid, "
         "which gives one weight per channel."),
    ]
    return first_match(given, mistakes) or (
        f"for {_case_text(case)} your block has {given:,} trainable parameters, the package's "
        f"{expected:,}: Dense {channels} -> {hidden} and Dense {hidden} -> {channels}, both with biases."
    )


def _shape_hint(case, given_shape) -> str:
    input_shape = case[0]
    channels = input_shape[-1]
    return first_match(given_shape, [
        ((1, 1, channels), "you return the channel weights (1x1xC). The block returns the input "
                           "map multiplied by them: layers.Multiply()([x, weights])."),
        ((channels,), "you return the channel weights. The block returns the input map multiplied "
                      "by them: layers.Multiply()([x, weights])."),
    ]) or (f"for {_case_text(case)} the block must output the shape of its input, "
           f"{'x'.join(map(str, input_shape))}; yours gives {given_shape}.")


def _check_case(build, case) -> str:
    student = _student_model(build, case)
    input_shape, ratio = case
    match = compare_built(
        student, randomised(_reference_model(tuple(input_shape), ratio)), _fixed_input(case),
        expected_shape=input_shape,
        shape_hint=lambda given_shape: _shape_hint(case, given_shape),
        count_hint=lambda given, expected: _count_hint(case, given, expected),
        copy=_copy_dense,
        layers_differ=lambda given: (f"your block has {given:,} parameters like the package's, but not in "
                                     "the same layers: Dense(C // ratio) then Dense(C)."),
        mistakes=[(functools.partial(_variant, case, *choices), message)
                  for _, *choices, message in _OUTPUT_MISTAKES],
        outputs_differ=lambda given: (
            f"your block has the right layers and {given:,} parameters, but with the package's weights "
            f"copied in its outputs differ for {_case_text(case)}. Check the order: global average "
            "pooling, Dense C // ratio with ReLU, Dense C with sigmoid, multiply x by the result."),
        tolerance=_OUTPUT_TOLERANCE,
    )
    return f"{'x'.join(map(str, input_shape))} with ratio {ratio}: {match.params:,} parameters, the same outputs"


@exercise_check
def check_se_block(build) -> bool:
    """Check a function ``build(x, ratio)`` that builds a squeeze-and-excitation block."""
    a_function(build, fill_in="replace None by your function, e.g. def se_block(x, ratio): ..., and "
               "pass se_block.", example="check_se_block(se_block)")
    summaries = [_check_case(build, case) for case in BUILD_CASES]
    return correct(
        "your block equals blocks.squeeze_excite, the block in every SE-ResNet of the package: "
        + "; ".join(summaries) + ". It works on any map, whatever its size: only the channels count."
    )


# ---------------------------------------------------------------------------
# Exercise 3: the MAC overhead of one SE block
# ---------------------------------------------------------------------------

# An answer within 1 % of the value passes: 0.24 for 0.2401 %; 0.2 does not.
_OVERHEAD_TOLERANCE = 0.01


@functools.lru_cache(maxsize=None)
def _block_macs(block: tuple) -> tuple[int, int]:
    """(residual block's MACs, its SE block's MACs) of the package's bottleneck block with an SE
    block, built alone on its input map and counted with ``analysis.count_macs_by_layer``."""
    import keras

    from cv_textbook import analysis
    from cv_textbook.models import resnet

    name, side, channels, width = block
    inputs = keras.Input(shape=(side, side, channels), name="x")
    model = keras.Model(inputs, resnet.bottleneck_block(inputs, width, 1, name, se_ratio=OVERHEAD_RATIO))
    rows = analysis.count_macs_by_layer(model)
    se = sum(macs for layer, _, macs in rows if "_se_" in layer)
    return sum(macs for _, _, macs in rows) - se, se


def _percent(part: float, whole: float) -> float:
    return 100.0 * part / whole


@exercise_check
def check_se_overhead(answer) -> bool:
    """Check the MACs an SE block adds to conv5_block2 of SE-ResNet-50, in percent of the block's."""
    given = real_number(answer, fill_in="replace None by a number: the SE block's MACs in percent of the "
                        "residual block's, e.g. 100 * se_macs / block_macs.")
    name, side, channels, width = OVERHEAD_BLOCK
    block, se = _block_macs(OVERHEAD_BLOCK)
    expected = _percent(se, block)

    def near(value):
        return lambda number: abs(number - value) <= _OVERHEAD_TOLERANCE * abs(value)

    if near(expected)(given):
        first_name, first_side, first_channels, _ = _OVERHEAD_FIRST_STAGE
        first_block, first_se = _block_macs(_OVERHEAD_FIRST_STAGE)
        hidden = channels // OVERHEAD_RATIO
        return correct(
            f"the convolutions run at each of the {side}x{side} = {side * side} positions: {side * side} x "
            f"({channels}·{width} + 9·{width}·{width} + {width}·{channels}) = {block:,} MACs; the SE block's "
            f"two Dense layers run once per image: {channels}·{hidden} + {hidden}·{channels} = {se:,}, "
            f"{expected:.2f} % of the block. In {first_name} ({first_side}x{first_side}x{first_channels}) the "
            f"block costs {first_block:,} MACs and its SE block {first_se:,}: "
            f"{_percent(first_se, first_block):.4f} %. A bottleneck block costs the same in every stage (from "
            "one stage to the next the map's area shrinks fourfold while the width doubles), while an SE "
            "block's Dense layers grow with C²: most of SE's MACs, like its parameters, sit in the last stage."
        )
    positions = side * side
    convolutions = block // positions  # MACs of the block's three convolutions at one position
    one_by_one = positions * 2 * channels * width  # the two 1x1 convolutions
    squeeze_and_scale = 2 * positions * channels
    projection = positions * channels * channels
    mistakes = [
        (lambda number: number <= 0, f"the SE block adds work: answer with a positive percentage, got {given}."),
        (near(expected / 100), f"that is the fraction {expected / 100:.6f}; the question asks for percent "
                               "(100 times the fraction)."),
        (near(_percent(se, convolutions)),
         f"the convolutions run at every one of the {side}x{side} = {positions} positions of the map, the SE "
         "block's Dense layers only once per image (on the squeezed 1x1 map): multiply the convolutions' "
         f"MACs by {positions}, not the Dense layers'."),
        (near(_percent(se // 2, block)), "an SE block has two Dense layers: C -> C/r and C/r -> C."),
        (near(_percent(2 * channels * channels, block)),
         f"the first Dense layer reduces to C/r = {channels}/{OVERHEAD_RATIO} = {channels // OVERHEAD_RATIO} "
         "units: without the reduction the block would cost 16 times more."),
        (near(_percent(se, one_by_one + positions * width * width)),
         f"the middle convolution is 3x3: each of its {width} filters reads 3x3x{width} values, 9 times "
         "what a 1x1 convolution reads."),
        (near(_percent(se + squeeze_and_scale, block)),
         "count_macs leaves out the squeeze (additions) and the scale (one multiplication per value): they "
         "are not multiply-accumulates. Count only the two Dense layers."),
        (near(_percent(se, block + projection)),
         f"{name} has no projection: its input already has {channels} channels at stride 1, so its shortcut "
         "is the identity (only the first block of a stage projects)."),
        (lambda number: abs(number - expected) <= 0.25 * expected,
         "close: compute it exactly and give at least two significant digits."),
    ]
    return hint(
        first_match(given, mistakes)
        or f"count the block's three convolutions (k·k·C_in·C_out MACs at each of the {side}x{side} "
        "positions) and the SE block's two Dense layers (C·C/r and C/r·C, once per image), then "
        "100 x SE / block."
    )
