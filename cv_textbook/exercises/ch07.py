"""Chapter 07 exercises: DenseNet.

* ``check_block_channels(answer)`` - the number of maps the first dense block of
  ``densenet_classroom`` outputs (24 maps in, 8 layers, growth rate 12).
* ``check_dense_layer(build)`` - a function ``build(x, growth_rate)`` that BUILDS one dense layer
  of DenseNet-BC with the Keras functional API (BN, ReLU, 1x1 convolution of 4k filters, BN, ReLU,
  3x3 convolution of k filters, concatenated to the input). The check builds it for two inputs,
  compares its trainable parameters with ``cv_textbook.models.densenet.dense_layer``, copies the
  reference layer's weights into it and compares the outputs on a fixed input; a typical mistake
  gets its own hint.
* ``check_bc_channels(answer)`` - DenseNet-BC (L = 100, k = 12, θ = 0.5) for CIFAR: the channels
  that enter the second and the third dense block and that reach the classifier, as a tuple; hints
  for no compression, compressing after the last block too, the block's input left out, a stem of
  k maps, the 1x1 convolution's 4k maps counted as growth, n = (L - 4) / 3.

The references are computed by building the package's blocks and counting, never typed in.
"""

from __future__ import annotations

import functools

from cv_textbook.exercises._feedback import (
    FillIn,
    Hint,
    a_function,
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
    whole_number,
)

# Keras and cv_textbook.models are imported inside the functions that need them, so that importing
# this module stays free of Keras and TensorFlow.

__all__ = [
    "BC_COMPRESSION",
    "BC_DEPTH",
    "BC_GROWTH_RATE",
    "BC_QUESTION",
    "BLOCK_CHANNELS_QUESTION",
    "BLOCK_INPUT_CHANNELS",
    "BLOCK_LAYERS",
    "BUILD_CASES",
    "DENSE_LAYER_QUESTION",
    "GROWTH_RATE",
    "check_bc_channels",
    "check_block_channels",
    "check_dense_layer",
]

# The first dense block of densenet_classroom: the stem's 2k = 24 maps, 8 layers of k = 12.
GROWTH_RATE = 12
BLOCK_INPUT_CHANNELS = 2 * GROWTH_RATE
BLOCK_LAYERS = 8

BLOCK_CHANNELS_QUESTION = (
    f"The first dense block of densenet_classroom receives the {BLOCK_INPUT_CHANNELS} maps of the "
    f"first convolution and has {BLOCK_LAYERS} dense layers with growth rate k = {GROWTH_RATE} (each "
    f"layer's 1x1 convolution makes {4 * GROWTH_RATE} maps, its 3x3 convolution {GROWTH_RATE}). How "
    "many maps (channels) does the block output, before the transition?"
)
DENSE_LAYER_QUESTION = (
    "Write dense_layer(x, growth_rate): one layer of a dense block of DenseNet-BC, with the Keras "
    "functional API. New maps: BatchNormalization, ReLU, 1x1 Conv2D with 4 * growth_rate filters, "
    "BatchNormalization, ReLU, 3x3 Conv2D with growth_rate filters and padding='same'; convolutions "
    "without bias. Output: the input x followed by the new maps, concatenated along the channels "
    "(x first). Return the output tensor."
)

# Exercise 3: DenseNet-BC (L = 100, k = 12) for CIFAR, the first row of the paper's Table 2.
BC_DEPTH, BC_GROWTH_RATE, BC_COMPRESSION = 100, 12, 0.5
BC_QUESTION = (
    f"DenseNet-BC with L = {BC_DEPTH} and k = {BC_GROWTH_RATE} for CIFAR starts with a 3x3 convolution of "
    f"2k = {2 * BC_GROWTH_RATE} maps, then three dense blocks of n = (L - 4) / 6 = {(BC_DEPTH - 4) // 6} "
    f"dense layers each, with a transition (compression theta = {BC_COMPRESSION}: floor(theta * C) maps) "
    "after the first two blocks; the third block's maps go to the final BN, ReLU, pooling and classifier. "
    "How many channels enter the second dense block, the third dense block and the final BN? Answer with "
    "a tuple of three whole numbers."
)

# (input shape, growth rate): the first layer of densenet_classroom, and a smaller one with another k
# so that a hard-coded 12 or 48 shows.
BUILD_CASES = (((28, 28, BLOCK_INPUT_CHANNELS), GROWTH_RATE), ((7, 7, 20), 8))
# Outputs agree when the largest difference is below this fraction of the largest output: float32
# rounding stays near 1e-6 of it; every mistake below changes the outputs by a sizeable part.
_OUTPUT_TOLERANCE = 1e-2


# ---------------------------------------------------------------------------
# Exercise 1: the channels of a dense block
# ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _block_output_channels(input_channels: int, num_layers: int, growth_rate: int) -> int:
    """Channels out of the package's dense block, read from the built block."""
    import keras

    from cv_textbook.models import densenet

    inputs = keras.Input(shape=(8, 8, input_channels))
    return int(densenet.dense_block(inputs, num_layers, growth_rate, "block").shape[-1])


@exercise_check
def check_block_channels(answer) -> bool:
    """Check the number of maps out of densenet_classroom's first dense block."""
    given = whole_number(answer, fill_in="replace None by a number: the maps the dense block outputs.")
    c0, layers, k = BLOCK_INPUT_CHANNELS, BLOCK_LAYERS, GROWTH_RATE
    expected = _block_output_channels(c0, layers, k)
    if given == expected:
        return correct(
            f"every layer concatenates its {k} new maps to everything before it, so the channels grow "
            f"by k per layer: {c0} + {layers} x {k} = {expected}. The transition after the block "
            f"halves them to {expected // 2} (compression 0.5)."
        )
    mistakes = [
        (layers * k,
         f"that counts only the new maps. The block's output also holds its input's {c0} maps: "
         "concatenation keeps everything."),
        (c0 + layers * 4 * k,
         f"the 1x1 convolution's {4 * k} maps are internal to a layer (the bottleneck); each layer "
         f"adds only the {k} maps of its 3x3 convolution."),
        (c0 + layers * 5 * k,
         f"only the 3x3 convolution's {k} maps are concatenated; the 1x1 convolution's {4 * k} "
         "maps stay inside the layer."),
        (_block_output_channels(c0, 1, k),
         f"that is the output of the first layer. Each of the {layers} layers adds {k} maps."),
        (_block_output_channels(c0, layers - 1, k),
         f"one layer short: {layers} layers each add {k} maps."),
        (expected // 2,
         "that is after the transition, which halves the channels. The question asks for the block's "
         "output, before the transition."),
        (c0 * 2 ** layers,
         "the channels do not double per layer: each layer adds the same k maps (a linear growth)."),
        (k,
         "that is one layer's new maps; the block outputs its input and the new maps of all its layers."),
    ]
    return hint(
        first_match(given, mistakes)
        or "start from the block's input channels and add what each layer concatenates: its 3x3 "
        "convolution's k maps."
    )


# ---------------------------------------------------------------------------
# Exercise 2: build a dense layer
# ---------------------------------------------------------------------------


def _case_text(case) -> str:
    (height, width, channels), growth_rate = case
    return f"a {height}x{width}x{channels} input with growth_rate={growth_rate}"


def _fmt(shape_) -> str:
    return "x".join(str(d) for d in shape_)


def _reference_layer(case, mistake: str | None = None):
    """The package's dense layer for one case, or the same weighted layers wired with one typical
    mistake (the same layers in the same order, so the weights copy across)."""
    import keras
    from keras import layers

    from cv_textbook.models import densenet

    input_shape, k = case
    inputs = keras.Input(shape=input_shape, name="x")
    if mistake is None:
        return keras.Model(inputs, densenet.dense_layer(inputs, k, "layer"))
    epsilon = densenet.BN_EPSILON
    new = layers.BatchNormalization(epsilon=epsilon)(inputs)
    if mistake not in ("no_first_relu", "no_relu"):
        new = layers.Activation("relu")(new)
    new = layers.Conv2D(densenet.BOTTLENECK_WIDTH * k, 1, use_bias=False)(new)
    new = layers.BatchNormalization(epsilon=epsilon)(new)
    if mistake not in ("no_second_relu", "no_relu"):
        new = layers.Activation("relu")(new)
    new = layers.Conv2D(k, 3, padding="same", use_bias=False)(new)
    if mistake == "new_first":
        return keras.Model(inputs, layers.Concatenate()([new, inputs]))
    return keras.Model(inputs, layers.Concatenate()([inputs, new]))


_OUTPUT_MISTAKES = (
    ("new_first", "the order of the concatenation: x first, then the new maps (Concatenate()([x, new])), "
     "as the paper's [x0, x1, ..., x_l-1] and keras.applications do. The next layers' weights are "
     "tied to the position of each map."),
    ("no_relu", "there is no ReLU: BatchNormalization is followed by a ReLU before each convolution "
     "(BN-ReLU-Conv, the pre-activation order)."),
    ("no_first_relu", "the ReLU after the first BatchNormalization is missing (BN-ReLU-1x1 conv)."),
    ("no_second_relu", "the ReLU after the second BatchNormalization is missing (BN-ReLU-3x3 conv)."),
)


def _copy(source, target) -> bool:
    """Copy ``source``'s weights (and BatchNormalization epsilons) into ``target`` with
    ``models.transfer_weights``; False when the two do not hold the same kinds of layers."""
    from cv_textbook.models import transfer_weights

    try:
        transfer_weights(source, target)
    except ValueError:
        return False
    sources = [layer for layer in source.layers if hasattr(layer, "epsilon")]
    targets = [layer for layer in target.layers if hasattr(layer, "epsilon")]
    for a, b in zip(sources, targets):
        b.epsilon = a.epsilon
    return True


def _build_error_hint(case, error) -> str:
    text = str(error)
    if "shape" in text.lower() and ("add" in text.lower() or "incompatible" in text.lower()):
        return (
            f"Keras refused to combine x with the new maps ({describe_error(error)[:160]}). A dense "
            "layer does not add: it CONCATENATES along the channels, layers.Concatenate()([x, new]), "
            "so the shapes may differ in the number of channels."
        )
    return f"building your layer for {_case_text(case)} raised {describe_error(error)}."


def _student_model(build, case):
    """The student's layer for one case, as a model; FillIn or Hint when it cannot be built."""
    input_shape, k = case
    return built_model(
        build, input_shape, (k,),
        fill_in="your function still returns None: build the dense layer and return its output tensor.",
        on_error=lambda _, error: _build_error_hint(case, error),
        returned="the layer's output tensor (what Concatenate returned)",
        build_on="build every layer on the x your function receives.",
    )


def _count_hint(case, given: int, expected: int) -> str:
    (_, _, channels), k = case
    wide = 4 * k
    conv1, conv2 = channels * wide, 9 * wide * k
    mistakes = [
        (expected + wide + k,
         "the convolutions have no bias here (use_bias=False): the BatchNormalization of the next "
         "layer normalises their output anyway, and the paper and keras.applications leave it out."),
        (expected - conv1 + channels * k - 2 * wide + 2 * k - conv2 + 9 * k * k,
         f"the 1x1 convolution is the bottleneck: 4 x growth_rate = {wide} filters, not {k}."),
        (expected + 8 * conv1,
         "the first convolution is 1x1 (kernel_size=1): it only mixes channels, cheaply, before the 3x3."),
        (expected - 2 * channels,
         "the BatchNormalization on the input x is missing: a dense layer begins with BN, ReLU."),
        (expected - 2 * wide,
         "the BatchNormalization between the two convolutions is missing (BN, ReLU before the 3x3)."),
        (expected - 2 * channels + 2 * k,
         "the BatchNormalizations sit BEFORE each convolution (BN-ReLU-Conv, the pre-activation order), "
         "not after it: the first one normalises x's channels."),
    ]
    return first_match(given, mistakes) or (
        f"for {_case_text(case)} your layer has {given:,} trainable parameters, the package's "
        f"{expected:,}: BN on x (2 x {channels}), 1x1 conv {channels}->{wide} ({conv1:,}), BN (2 x {wide}), "
        f"3x3 conv {wide}->{k} ({conv2:,}), no biases."
    )


def _shape_hint(case, given_shape) -> str:
    (height, width, channels), k = case
    return first_match(given_shape, [
        ((height, width, k),
         f"your layer outputs only the {k} new maps. A dense layer keeps its input: concatenate x "
         "and the new maps, layers.Concatenate()([x, new])."),
        ((height, width, channels + 4 * k),
         f"you concatenated the 1x1 convolution's {4 * k} maps; the layer adds the 3x3 "
         f"convolution's growth_rate = {k} maps."),
        ((height, width, channels),
         "your layer outputs as many maps as it receives. It must add growth_rate new maps to them "
         "by concatenation (an addition would keep the count: that is ResNet)."),
    ]) or (f"for {_case_text(case)} the layer must output {_fmt(_expected_shape(case))}, yours gives "
           f"{_fmt(given_shape)}.")


def _expected_shape(case) -> tuple:
    (height, width, channels), k = case
    return (height, width, channels + k)


def _check_case(build, case) -> str:
    student = _student_model(build, case)
    match = compare_built(
        student, randomised(_reference_layer(case)), probe(case[0], seed=7), expected_shape=_expected_shape(case),
        shape_hint=lambda given_shape: _shape_hint(case, given_shape),
        count_hint=lambda given, expected: _count_hint(case, given, expected),
        copy=_copy,
        layers_differ=lambda given: (
            f"your layer has the right number of parameters ({given:,}) but not the same layers in the "
            "same order: BatchNormalization, ReLU, 1x1 Conv2D, BatchNormalization, ReLU, 3x3 Conv2D, "
            "Concatenate."),
        mistakes=[(functools.partial(_reference_layer, case, mistake), message)
                  for mistake, message in _OUTPUT_MISTAKES],
        outputs_differ=lambda given: (
            f"your layer has the right layers and {given:,} parameters, but with the package's weights "
            f"copied in its outputs differ for {_case_text(case)}. Check the order: BN, ReLU, 1x1 conv, "
            "BN, ReLU, 3x3 conv; then concatenate x and the new maps."),
        tolerance=_OUTPUT_TOLERANCE,
    )
    return (f"{_fmt(case[0])} -> {_fmt(_expected_shape(case))}, {match.params:,} trainable parameters, "
            f"{match.outputs_text}")


@exercise_check
def check_dense_layer(build) -> bool:
    """Check a function ``build(x, growth_rate)`` that builds one dense layer of DenseNet-BC."""
    a_function(build, fill_in="replace None by your function, e.g. def dense_layer(x, growth_rate): ..., "
               "and pass dense_layer.", example="check_dense_layer(dense_layer)")
    summaries = [_check_case(build, case) for case in BUILD_CASES]
    return correct(
        "with the weights of cv_textbook.models.densenet.dense_layer copied in, your layer computes what "
        f"the package's does ({'; '.join(summaries)}). Its output keeps all of x and adds growth_rate "
        "maps: stack such layers and you have a dense block."
    )


# ---------------------------------------------------------------------------
# Exercise 3: the channels through DenseNet-BC's blocks and transitions
# ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _bc_channels(depth: int = BC_DEPTH, growth_rate: int = BC_GROWTH_RATE,
                 compression: float = BC_COMPRESSION) -> tuple[int, int, int]:
    """(into block 2, into block 3, into the final BN), read off the package's DenseNet-BC."""
    from cv_textbook.models import densenet

    model = densenet.densenet_bc(depth, growth_rate, compression, input_shape=(32, 32, 3))
    found = tuple(int(model.get_layer(name).output.shape[-1]) for name in ("pool2_pool", "pool3_pool"))
    return (*found, int(model.get_layer("bn").input.shape[-1]))


def _bc_by_rule(stem: int, layers: int, growth: int, compression: float, compress_last=False) -> tuple:
    """The three channel counts of a mistaken rule, for the hints."""
    into = []
    channels = stem
    for block in range(3):
        channels += layers * growth
        if block < 2 or compress_last:
            channels = int(channels * compression)
        into.append(channels)
    return tuple(into)


@exercise_check
def check_bc_channels(answer) -> bool:
    """Check (into block 2, into block 3, into the final BN) for DenseNet-BC with L = 100, k = 12."""
    fill = "replace None by a tuple of three whole numbers: the channels into block 2, block 3 and the final BN."
    if is_placeholder(answer):
        raise FillIn(fill)
    if not isinstance(answer, (tuple, list)) or len(answer) != 3:
        raise Hint(f"answer with a tuple of three whole numbers, got {describe(answer)}.")
    given = tuple(whole_number(value, fill_in=fill, expected="three whole numbers") for value in answer)
    expected = _bc_channels()
    k, n, theta = BC_GROWTH_RATE, (BC_DEPTH - 4) // 6, BC_COMPRESSION
    stem = 2 * k
    if given == expected:
        first, second, last = expected
        return correct(
            f"block 1: {stem} + {n}·{k} = {stem + n * k}, the transition keeps {theta:g} of them: {first}; "
            f"block 2: {first} + {n * k} = {first + n * k} -> {second}; block 3: {second} + {n * k} = {last}, "
            f"which the final BN receives uncompressed. Without compression the classifier would see "
            f"{stem + 3 * n * k} maps: each transition halves what has accumulated (a 1x1 convolution to half as "
            "many maps), so that every block starts small again."
        )
    mistakes = [
        (_bc_by_rule(stem, n, k, 1.0),
         f"no compression in your count: in DenseNet-BC (the C) each transition keeps floor({theta:g} x C) "
         "of its C maps."),
        (_bc_by_rule(stem, n, k, theta, compress_last=True),
         "the third block has no transition after it: its maps go to the final BN uncompressed."),
        (_bc_by_rule(0, n, k, theta),
         f"the first block's output also holds its input, the first convolution's {stem} maps "
         "(concatenation keeps everything)."),
        (_bc_by_rule(k, n, k, theta),
         f"the first convolution makes 2k = {stem} maps, not k."),
        (_bc_by_rule(stem, n, 4 * k, theta),
         f"each layer adds k = {k} maps (its 3x3 convolution); the 1x1 convolution's 4k = {4 * k} stay inside "
         "the layer."),
        (_bc_by_rule(stem, (BC_DEPTH - 4) // 3, k, theta),
         f"a bottleneck layer has two convolutions, so n = (L - 4) / 6 = {n}, not (L - 4) / 3."),
        (lambda values: values[0] == expected[0] and values[1] != expected[1],
         f"the second block starts from {expected[0]} maps (right) and adds {n}·{k}; then the transition "
         "halves them."),
    ]
    return hint(
        first_match(given, mistakes)
        or f"follow the channels: {stem} from the first convolution, + n·k = {n * k} per block, x {theta:g} "
        "after blocks 1 and 2 (rounded down)."
    )
