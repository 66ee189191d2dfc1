"""Chapter 03 exercises: AlexNet and ZFNet.

* ``check_fc_share(answer)`` - the share of AlexNet's parameters (two towers, 227x227x3, 1000
  classes) that sit in its three fully connected layers fc6, fc7 and fc8, as a fraction (0.96)
  or a percentage (96).
* ``check_two_towers(build)`` - a function ``build(x, filters, kernel_size)`` that BUILDS a
  convolution split between AlexNet's two GPUs out of two ordinary convolutions: the first half of
  the filters reads the first half of the channels, the second half the second, and the two
  outputs are concatenated. The check builds it on the inputs of the classroom AlexNet's grouped
  conv2 and conv4 (``models.build("alexnet_classroom", towers=2)``), compares its parameters with
  that layer's (``Conv2D(groups=2)``), copies the layer's weights into the two halves and compares
  the outputs on a fixed input.
* ``check_224_input(answer)`` - AlexNet fed the 224x224x3 image of the paper's text instead of
  227x227x3: the side of pool5's maps and fc6's parameters, as a pair; hints for sizes that are
  not whole numbers, rounding up, the +1 forgotten, the 227 network's numbers, fc6 counted on 6x6
  maps, without its biases or without pool5's 256 channels.

The references are computed by building the package's networks, never typed in.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from cv_textbook.exercises._feedback import (
    FillIn,
    Hint,
    a_function,
    agree,
    correct,
    describe,
    describe_error,
    exercise_check,
    first_match,
    hint,
    outputs_of,
    probe,
    real_number,
)

# Keras and cv_textbook.models are imported inside the functions that need them, so that importing
# this module stays free of Keras and TensorFlow.

__all__ = [
    "BUILD_QUESTION",
    "FC_SHARE_QUESTION",
    "GROUPED_LAYERS",
    "INPUT_224_QUESTION",
    "check_224_input",
    "check_fc_share",
    "check_two_towers",
]

FC_SHARE_QUESTION = (
    "AlexNet with its two towers (227x227x3 images, 1000 classes) has 60,965,224 parameters. What "
    "share of them sits in the three fully connected layers fc6 (pool5's 6x6x256 maps -> 4096), fc7 "
    "(4096 -> 4096) and fc8 (4096 -> 1000), biases included? Answer with a fraction (e.g. 0.5) or a "
    "percentage (e.g. 50)."
)
BUILD_QUESTION = (
    "Write two_towers(x, filters, kernel_size): a convolution split between AlexNet's two GPUs, "
    "built from two ordinary Conv2D layers. Split x's channels into halves (x[..., :c // 2] and "
    "x[..., c // 2:]); give each half its own Conv2D with filters // 2 filters, kernel_size, "
    "padding='same', a bias and no activation; concatenate the two outputs along the channels, the "
    "first half's first. Return the concatenated tensor."
)

# The grouped convolutions of the classroom AlexNet the build exercise is checked on.
INPUT_224_QUESTION = (
    "The paper's text says AlexNet's input is 224x224x3. Feed that to the network built above: conv1 "
    "11x11 with stride 4 and no padding, pool1, pool2 and pool5 3x3 with stride 2 and no padding, conv2 "
    "to conv5 with 'same' padding (the map keeps its side). Keras, like Caffe, drops a window that does "
    "not fit. What side (height = width) do pool5's maps have, and how many parameters does fc6 (4,096 "
    "units, with biases, on the flattened 256-channel pool5) then have? Answer with a pair (side, fc6 "
    "parameters)."
)
GROUPED_LAYERS = ("conv2", "conv4")
_TOLERANCE = 1e-4
# The share to four decimals (0.9617) passes; forgetting the biases (0.96156) must not.
_SHARE_TOLERANCE = 6e-5


# ---------------------------------------------------------------------------
# Exercise 1: the fully connected layers' share
# ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _alexnet_counts(towers: int = 2) -> dict:
    """Parameters per layer of AlexNet at 227x227x3 (built once: 61 M weights, a few seconds)."""
    from cv_textbook import models

    net = models.build("alexnet", towers=towers)
    counts = {layer.name: layer.count_params() for layer in net.layers if layer.weights}
    counts["kernels_only"] = sum(
        int(np.prod(layer.kernel.shape)) for layer in net.layers if layer.name.startswith("fc"))
    del net
    return counts


def _fc_total(counts) -> int:
    return counts["fc6"] + counts["fc7"] + counts["fc8"]


@exercise_check
def check_fc_share(answer) -> bool:
    """Check the share of AlexNet's parameters in fc6, fc7 and fc8 (fraction or percentage)."""
    given = real_number(answer, fill_in="replace None by a number: the fully connected layers' share, "
                        "e.g. fc_params / total_params.")
    counts = _alexnet_counts()
    total = sum(value for name, value in counts.items() if name != "kernels_only")
    fc = _fc_total(counts)
    share = fc / total
    # A fraction or a percentage: the answer matches a value if either reading does.
    readings = (given, given / 100)

    def matches(value) -> bool:
        return any(abs(reading - value) <= _SHARE_TOLERANCE for reading in readings)

    if matches(share):
        return correct(
            f"fc6 {counts['fc6']:,} + fc7 {counts['fc7']:,} + fc8 {counts['fc8']:,} = {fc:,} of {total:,}: "
            f"{share:.2%}. The five convolutions, which do the seeing, hold only {total - fc:,} "
            f"({1 - share:.1%}); fc6 alone ({counts['fc6'] / total:.0%}) holds more than all the others together."
        )
    one_tower = _alexnet_counts(towers=1)
    one_tower_total = sum(value for name, value in one_tower.items() if name != "kernels_only")
    unpooled_fc6 = 13 * 13 * 256 * 4096 + 4096  # conv5's maps flattened, before pool5
    mistakes = [
        (counts["kernels_only"] / total, "include the biases: each dense layer has one per unit (4,096 + "
         "4,096 + 1,000 of them)."),
        ((counts["fc6"] + counts["fc7"]) / total, "fc8, the 1000-way output layer, is fully connected too: "
         "4096 x 1000 weights plus 1000 biases."),
        (fc / one_tower_total, "that total, 62,378,344, is the one-tower network's; the two-tower AlexNet "
         "has 60,965,224 (its grouped conv2, conv4 and conv5 are smaller)."),
        (fc / 60e6, "use the exact count, 60,965,224, not the paper's rounded 60 million."),
        (fc / 600e6, "600 million is the notes' mistake: the network has about 61 million parameters."),
        (1 - share, "that is the convolutions' share; the question asks for the fully connected layers'."),
        ((unpooled_fc6 + counts["fc7"] + counts["fc8"]) / total, "fc6 reads pool5's 6x6x256 maps (9,216 "
         "values), not conv5's 13x13x256: the pooling comes before the flattening."),
    ]
    message = next((text for value, text in mistakes if matches(value)), None)
    if message is None and any(abs(reading - share) <= 5e-3 for reading in readings):
        message = "close: compute it exactly and give at least four decimals (0.xxxx) or two for a percentage."
    return hint(message or (
        f"{given!r} is not it. Count each dense layer as inputs x units + units (9,216 x 4,096 + 4,096 for "
        "fc6), add the three, and divide by 60,965,224."))


# ---------------------------------------------------------------------------
# Exercise 2: a grouped convolution as two towers
# ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _reference_layers() -> tuple:
    """(input shape, config) of the classroom AlexNet's grouped convolutions (towers=2)."""
    from cv_textbook import models

    net = models.build("alexnet_classroom", towers=2)
    cases = []
    for name in GROUPED_LAYERS:
        layer = net.get_layer(name)
        cases.append((tuple(layer.input.shape[1:]), layer.get_config()))
    return tuple(cases)


def _reference(input_shape, config):
    import keras

    inputs = keras.Input(shape=input_shape)
    layer = keras.layers.Conv2D.from_config({**config, "name": "grouped"})
    model = keras.Model(inputs, layer(inputs))
    rng = np.random.default_rng(1)
    model.set_weights([rng.normal(0, 0.1, w.shape).astype("float32") for w in model.get_weights()])
    return model


def _case_text(input_shape, config) -> str:
    height, width, channels = input_shape
    return (f"x of {height}x{width}x{channels}, filters={config['filters']}, "
            f"kernel_size={config['kernel_size'][0]}")


def _student_model(build, input_shape, config):
    import keras

    inputs = keras.Input(shape=input_shape, name="x")
    try:
        output = build(inputs, config["filters"], config["kernel_size"][0])
    except NotImplementedError:
        raise Hint("your function raised NotImplementedError: build the two towers.") from None
    except Exception as error:  # anything the student wrote may fail: report it, do not crash
        raise Hint(f"your function raised {describe_error(error)} for {_case_text(input_shape, config)}.") from None
    if output is None:
        raise FillIn("your function still returns None: build the two towers and return the concatenated tensor.")
    if isinstance(output, (list, tuple)):
        raise Hint("your function returns the two towers separately: join them with "
                   "layers.Concatenate(axis=-1)([first, second]) and return that tensor.")
    if not keras.backend.is_keras_tensor(output):
        raise Hint(f"return the output tensor of your layers, got {describe(output)}.")
    try:
        return keras.Model(inputs, output)
    except Exception as error:
        raise Hint(f"your output cannot be turned into a model from x: {describe_error(error)}.") from None


def _shape_hint(given, expected, channels, filters) -> str:
    if given[:2] != expected[:2]:
        return (f"your output is {given[0]}x{given[1]} where {expected[0]}x{expected[1]} is expected: use "
                "padding='same' (and no stride), so that the maps keep their size.")
    if given[2] == 2 * filters:
        return (f"your output has {given[2]} channels: each tower gets half the filters, filters // 2 = "
                f"{filters // 2}, so that the two together give {filters}.")
    if given[2] == filters // 2:
        return (f"your output has {given[2]} channels, one tower's: concatenate both towers' outputs "
                "along the channels (axis=-1).")
    return f"your output has {given[2]} channels where {filters} are expected (the two towers' {filters // 2} each)."


def _convolutions(model):
    import keras

    return [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]


def _count_hint(model, input_shape, config, given, expected) -> str:
    channels, filters = input_shape[-1], config["filters"]
    convs = _convolutions(model)
    weighted = [layer for layer in model.layers if layer.weights]
    if len(weighted) != len(convs):
        return "use only the two convolutions: no other layer with weights (no BatchNormalization, no Dense)."
    if len(convs) == 1 and convs[0].groups == 1:
        return (f"one Conv2D reading all {channels} channels is the ungrouped convolution ({given:,} parameters "
                f"where the two towers have {expected:,}): each tower must read only its own half of the channels.")
    if any(int(layer.input.shape[-1]) == channels for layer in convs):
        return (f"a tower of yours reads all {channels} channels: split x first, x[..., :{channels // 2}] for "
                f"the first tower and x[..., {channels // 2}:] for the second.")
    if given == expected - filters:
        return "your convolutions have no bias: keep use_bias=True (the default), one bias per filter."
    return (f"your layers have {given:,} parameters where the two towers have {expected:,}: two Conv2D layers, "
            f"each with {filters // 2} filters of {config['kernel_size'][0]}x{config['kernel_size'][0]}x"
            f"{channels // 2} plus a bias.")


def _copy_halves(reference, convs, order) -> bool:
    """Copy the grouped kernel's halves into the student's two convolutions in ``order``."""
    kernel, bias = reference.get_layer("grouped").get_weights()
    half = kernel.shape[-1] // 2
    pieces = [(kernel[..., :half], bias[:half]), (kernel[..., half:], bias[half:])]
    for conv, index in zip(convs, order):
        if [tuple(w.shape) for w in conv.weights] != [p.shape for p in pieces[index]]:
            return False
        conv.set_weights(list(pieces[index]))
    return True


def _check_case(build, input_shape, config) -> str:
    reference = _reference(input_shape, config)
    student = _student_model(build, input_shape, config)
    filters = config["filters"]
    expected_shape = tuple(reference.output.shape[1:])
    given_shape = tuple(student.output.shape[1:])
    if given_shape != expected_shape:
        raise Hint(_shape_hint(given_shape, expected_shape, input_shape[-1], filters))
    given, expected = student.count_params(), reference.count_params()
    if given != expected:
        raise Hint(_count_hint(student, input_shape, config, given, expected))
    convs = _convolutions(student)
    if len(convs) == 1:
        raise Hint("Conv2D(groups=2) is the layer itself: build it from two ordinary convolutions on the "
                   "channel halves, to see what the grouping does.")
    if len(convs) != 2:
        raise Hint("use exactly two Conv2D layers, one per tower.")
    x = probe(input_shape, seed=0)
    expected_out = outputs_of(reference, x)
    outputs = []
    for order in ((0, 1), (1, 0)):  # the student's layers in either order of creation
        if not _copy_halves(reference, convs, order):
            raise Hint("each tower's Conv2D needs a kernel of kernel_size x kernel_size x "
                       f"{input_shape[-1] // 2} x {filters // 2} and a bias.")
        out = outputs_of(student, x)
        if agree(out, expected_out, _TOLERANCE):
            return f"{_case_text(input_shape, config)}: {expected:,} parameters, the same outputs"
        outputs.append(out)
    half = filters // 2
    swapped = np.concatenate([expected_out[..., half:], expected_out[..., :half]], axis=-1)
    for out in outputs:
        if agree(out, swapped, _TOLERANCE):
            raise Hint("the towers are concatenated in the wrong order: the first half of the channels' "
                       "tower comes first, Concatenate()([first, second]).")
        if agree(out, np.maximum(expected_out, 0), _TOLERANCE):
            raise Hint("no activation inside the towers: AlexNet's ReLU (relu2, relu4, relu5) is a layer of "
                       "its own after the grouped convolution.")
    raise Hint(f"your towers have the right parameters, but with the grouped layer's weights copied in "
               f"their outputs differ for {_case_text(input_shape, config)}. Check that the first tower "
               "reads the first half of the channels and the second tower the second.")


@exercise_check
def check_two_towers(build) -> bool:
    """Check a function ``build(x, filters, kernel_size)``: a grouped convolution as two towers."""
    a_function(build, fill_in="replace None by your function, e.g. def two_towers(x, filters, kernel_size): "
               "..., and pass two_towers.", example="check_two_towers(two_towers)")
    summaries = [_check_case(build, shape, config) for shape, config in _reference_layers()]
    savings = []
    for shape, config in _reference_layers():
        k, channels, filters = config["kernel_size"][0], shape[-1], config["filters"]
        savings.append(k * k * channels * filters // 2)
    return correct(
        "with the weights of the classroom AlexNet's Conv2D(groups=2) copied into your two towers, they compute "
        f"what it does ({'; '.join(summaries)}). Each tower reads half the channels, so the grouping halves "
        f"the kernels: it saves {savings[0]:,} and {savings[1]:,} weights in these two layers."
    )


# ---------------------------------------------------------------------------
# Exercise 3: AlexNet at the paper's 224x224
# ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _at_224() -> tuple[int, int, int]:
    """(pool5's side, pool5's channels, fc6's parameters) of the package's AlexNet built at 224x224x3."""
    from cv_textbook import models

    net = models.build("alexnet", input_shape=(224, 224, 3))
    _, side, _, channels = net.get_layer("pool5").output.shape
    result = int(side), int(channels), net.get_layer("fc6").count_params()
    del net
    return result


# The layers that change the side (the 'same' convolutions conv2 to conv5 keep it): (name, kernel, stride).
_SHRINKING = (("conv1", 11, 4), ("pool1", 3, 2), ("pool2", 3, 2), ("pool5", 3, 2))


def _sides(size: float, rounding, plus_one: int = 1) -> float:
    """pool5's side by the chain conv1 11/4, pool1 3/2, pool2 3/2, pool5 3/2, with a rounding rule."""
    for _, kernel, stride in _SHRINKING:
        size = rounding((size - kernel) / stride + plus_one)
    return size


def _chain_text(size: int) -> str:
    """'conv1 (224 - 11) / 4 + 1 = 54.25 -> 54, ...': each size, rounded down, layer by layer."""
    steps = []
    for name, kernel, stride in _SHRINKING:
        exact = (size - kernel) / stride + 1
        rounded = math.floor(exact)
        shown = f"{exact:g} -> {rounded}" if exact != rounded else f"{rounded}"
        steps.append(f"{name} ({size} - {kernel}) / {stride} + 1 = {shown}")
        size = rounded
    return ", ".join(steps)


@exercise_check
def check_224_input(answer) -> bool:
    """Check (pool5's side, fc6's parameters) of AlexNet fed a 224x224x3 image."""
    fill = "replace None by a pair (pool5's side, fc6's parameters)."
    if answer is None or answer is Ellipsis or answer is NotImplemented:
        raise FillIn(fill)
    if not isinstance(answer, (tuple, list)) or len(answer) != 2:
        raise Hint(f"answer with a pair of two numbers (side, fc6 parameters), got {describe(answer)}.")
    side = real_number(answer[0], fill_in=fill, expected="a number for pool5's side")
    params = real_number(answer[1], fill_in=fill, expected="a number for fc6's parameters")
    expected_side, channels, expected_params = _at_224()
    units = expected_params // (expected_side * expected_side * channels + 1)

    def fc6(side_) -> int:
        return int(side_) * int(side_) * channels * units + units

    if (side, params) == (expected_side, expected_params):
        sides_227 = _sides(227, math.floor)
        return correct(
            f"{_chain_text(224)}: fc6 reads {expected_side}x{expected_side}x{channels} = "
            f"{expected_side * expected_side * channels:,} values, {expected_params:,} parameters, against "
            f"{fc6(sides_227):,} at 227 ({sides_227}x{sides_227} maps). Three pixels more and every size works "
            "out exactly: that is why the numbers of Fig. 2 only fit 227."
        )
    ceil_side = _sides(224, math.ceil)
    _, kernel, stride = _SHRINKING[0]
    conv1 = (224 - kernel) / stride + 1  # not a whole number
    conv1_text = f"(224 - {kernel}) / {stride} + 1 = {conv1:g}"
    mistakes = [
        (lambda pair: not float(pair[0]).is_integer(),
         f"a map has a whole number of pixels: {conv1_text} means {math.floor(conv1)} full windows; round each "
         "size down (Keras drops the window that does not fit), then go on from it."),
        ((ceil_side, fc6(ceil_side)),
         f"those are the 227x227 network's numbers ({ceil_side}x{ceil_side} maps). At 224 the sizes do not "
         f"divide evenly: round each one DOWN ({conv1:g} -> {math.floor(conv1)} after conv1), the last window "
         "that does not fit "
         "is dropped, not padded."),
        ((_sides(224, math.floor, 0), fc6(_sides(224, math.floor, 0))),
         "add 1 in each size: (n - k) / s counts the steps between windows, (n - k) / s + 1 the windows."),
        ((expected_side, fc6(expected_side) - units),
         f"add fc6's {units:,} biases, one per unit."),
        ((expected_side, fc6(_sides(227, math.floor))),
         f"pool5's side is right, but fc6 reads the flattened {expected_side}x{expected_side}x{channels} map, "
         "not the 6x6x256 of the 227 network."),
        ((expected_side, expected_side * expected_side * units + units),
         f"each of pool5's {expected_side}x{expected_side} positions holds {channels} channels: fc6 has "
         f"{expected_side * expected_side * channels:,} inputs."),
        (lambda pair: pair[0] == expected_side,
         f"pool5's side is right; fc6 has (side x side x {channels}) x {units:,} weights plus {units:,} biases."),
        (lambda pair: pair[1] == fc6(pair[0]),
         "fc6 follows from your side, but the side is not right: go layer by layer, conv1 (n - 11) / 4 + 1, "
         "then (n - 3) / 2 + 1 for each pooling, rounding down; the 'same' convolutions keep the side."),
    ]
    return hint(
        first_match((side, params), mistakes)
        or "compute the side layer by layer, (n - k) / s + 1 rounded down for conv1 and the three poolings, then "
        f"fc6 = side x side x {channels} x {units:,} + {units:,}."
    )
