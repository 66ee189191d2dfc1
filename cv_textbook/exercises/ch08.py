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

The references are computed by building ``blocks.squeeze_excite`` (the block of
``models.build("se_resnet20")``) and counting, never typed in.
"""

from __future__ import annotations

import functools
import re

import numpy as np

from cv_textbook.exercises._feedback import (
    Hint,
    a_function,
    correct,
    describe,
    describe_error,
    exercise_check,
    first_match,
    hint,
    results_of,
    whole_number,
)

# Keras and cv_textbook.models are imported inside the functions that need them, so that importing
# this module stays free of Keras and TensorFlow.

__all__ = [
    "BUILD_CASES",
    "BUILD_QUESTION",
    "PARAMS_CHANNELS",
    "PARAMS_QUESTION",
    "PARAMS_RATIO",
    "check_se_block",
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


def _trainable(model) -> int:
    from cv_textbook import analysis

    return analysis.count_params(model)["trainable"]


@exercise_check
def check_se_params(answer) -> bool:
    """Check the trainable parameters of an SE block with C = 256 and r = 16."""
    given = whole_number(answer, fill_in="replace None by a number: the SE block's trainable parameters.")
    channels, ratio = PARAMS_CHANNELS, PARAMS_RATIO
    expected = _trainable(_reference_model((8, 8, channels), ratio))
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
    sources, targets = _dense_layers(source), _dense_layers(target)
    if len(sources) != len(targets) or any(
        [tuple(w.shape) for w in a.weights] != [tuple(w.shape) for w in b.weights] for a, b in zip(sources, targets)
    ):
        return False
    for a, b in zip(sources, targets):
        b.set_weights(a.get_weights())
    return True


def _randomised(model, seed: int = 0):
    """Random kernels and biases, so that the hidden units are neither all dead nor all equal."""
    rng = np.random.default_rng(seed)
    for layer in _dense_layers(model):
        kernel, bias = layer.get_weights()
        layer.set_weights([
            (rng.standard_normal(kernel.shape) * np.sqrt(2.0 / kernel.shape[0])).astype("float32"),
            rng.uniform(-0.5, 0.5, bias.shape).astype("float32"),
        ])
    return model


@functools.lru_cache(maxsize=None)
def _fixed_input(case) -> np.ndarray:
    """Two maps whose channels have different means (otherwise every channel mean is near 0)."""
    input_shape = case[0]
    rng = np.random.default_rng(8)
    means = rng.normal(0.0, 1.5, (2, 1, 1, input_shape[-1]))
    return (means + rng.standard_normal((2, *input_shape))).astype("float32")


def _outputs(model, case) -> np.ndarray:
    import keras

    return keras.ops.convert_to_numpy(model(_fixed_input(case), training=False)).astype("float64")


def _agree(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and float(np.abs(a - b).max()) <= _OUTPUT_TOLERANCE * float(np.abs(b).max())


def _student_model(build, case):
    """The student's block for one case, as a model; FillIn or Hint when it cannot be built."""
    import keras

    input_shape, ratio = case
    inputs = keras.Input(shape=input_shape, name="x")
    fill_in = "your function still returns None: build the block and return its output tensor."

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

    (output,) = results_of(build, [(inputs, ratio)], fill_in=fill_in, on_error=on_error)
    if isinstance(output, keras.Model) or not isinstance(output, keras.KerasTensor):
        raise Hint("return the block's output tensor (what layers.Multiply returned), not "
                   f"{describe(output)}.")
    try:
        return keras.Model(inputs, output)
    except Exception as error:  # an output not computed from x
        raise Hint(f"Keras cannot make a model from x to what you returned ({describe_error(error)}): "
                   "build every layer on x, the argument your function receives.") from None


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


def _check_case(build, case) -> str:
    student = _student_model(build, case)
    input_shape, ratio = case
    given_shape = tuple(student.output.shape[1:])
    if given_shape != tuple(input_shape):
        channels = input_shape[-1]
        raise Hint(first_match(given_shape, [
            ((1, 1, channels), "you return the channel weights (1x1xC). The block returns the input "
                               "map multiplied by them: layers.Multiply()([x, weights])."),
            ((channels,), "you return the channel weights. The block returns the input map multiplied "
                          "by them: layers.Multiply()([x, weights])."),
        ]) or f"for {_case_text(case)} the block must output the shape of its input, "
              f"{'x'.join(map(str, input_shape))}; yours gives {given_shape}.")
    reference = _randomised(_reference_model(tuple(input_shape), ratio))
    given, expected = _trainable(student), _trainable(reference)
    if given != expected:
        raise Hint(_count_hint(case, given, expected))
    if not _copy_dense(reference, student):
        raise Hint(f"your block has {given:,} parameters like the package's, but not in the same layers: "
                   "Dense(C // ratio) then Dense(C).")
    student_out = _outputs(student, case)
    if _agree(student_out, _outputs(reference, case)):
        return f"{'x'.join(map(str, input_shape))} with ratio {ratio}: {expected:,} parameters, the same outputs"
    for _, pooling, hidden_activation, output_activation, merge, message in _OUTPUT_MISTAKES:
        variant = _variant(case, pooling, hidden_activation, output_activation, merge)
        if _copy_dense(reference, variant) and _agree(student_out, _outputs(variant, case)):
            raise Hint(message)
    raise Hint(
        f"your block has the right layers and {given:,} parameters, but with the package's weights "
        f"copied in its outputs differ for {_case_text(case)}. Check the order: global average "
        "pooling, Dense C // ratio with ReLU, Dense C with sigmoid, multiply x by the result."
    )


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
