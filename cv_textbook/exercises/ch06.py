"""Chapter 06 exercises: ResNet.

* ``check_block_shape(answer)`` - the output shape of a basic residual block with 32 filters
  and stride 2 that receives a 28x28x16 map, as (height, width, channels).
* ``check_block_params(answer)`` - the trainable parameters of that block with a projection
  shortcut (option B), as the CIFAR ResNets build it (no convolution biases).
* ``check_residual_block(build)`` - a function ``build(x, filters, stride)`` that BUILDS a basic
  residual block with the Keras functional API (projection shortcut where the shape changes,
  option B). The check builds it twice (28x28x16 -> 32 filters, stride 2; and 16 filters,
  stride 1), compares its trainable parameters with ``cv_textbook.models.resnet.basic_block``,
  copies the reference block's weights into it and compares the outputs on a fixed input.
* ``check_depth_formula(answer)`` - a function ``depth(n)``: the number of weighted layers of a
  CIFAR ResNet with ``n`` basic blocks per stage.

The references are computed by building the blocks and networks with
``cv_textbook.models.resnet`` (the code behind ``models.build("resnet20")``) and counting, never
typed in.
"""

from __future__ import annotations

import dataclasses
import functools
import re

import numpy as np

from cv_textbook.exercises._feedback import (
    a_function,
    as_whole_number,
    built_model,
    compare_built,
    correct,
    describe_error,
    exercise_check,
    first_match,
    hint,
    probe,
    randomised,
    results_of,
    shape,
    shape_mistakes,
    trainable_params,
    whole_number,
)

# Keras, cv_textbook.models and cv_textbook.analysis are imported inside the functions that need
# them, so that importing this module stays free of Keras and TensorFlow.

__all__ = [
    "BLOCK_FILTERS",
    "BLOCK_INPUT",
    "BLOCK_PARAMS_QUESTION",
    "BLOCK_SHAPE_QUESTION",
    "BLOCK_STRIDE",
    "BUILD_CASES",
    "BUILD_QUESTION",
    "DEPTH_CHECK_NS",
    "DEPTH_QUESTION",
    "check_block_params",
    "check_block_shape",
    "check_depth_formula",
    "check_residual_block",
]

# The block of the exercises: the first block of the CIFAR ResNet's second stage at 28x28x1.
BLOCK_INPUT = (28, 28, 16)
BLOCK_FILTERS = 32
BLOCK_STRIDE = 2

BLOCK_SHAPE_QUESTION = (
    f"A basic residual block with filters={BLOCK_FILTERS} and stride={BLOCK_STRIDE} receives a "
    f"{BLOCK_INPUT[0]}x{BLOCK_INPUT[1]}x{BLOCK_INPUT[2]} map (the first block of ResNet-20's second "
    "stage on Fashion-MNIST). What is the shape of its output, as (height, width, channels) "
    "without the batch axis?"
)
BLOCK_PARAMS_QUESTION = (
    f"The same block (input {BLOCK_INPUT[0]}x{BLOCK_INPUT[1]}x{BLOCK_INPUT[2]}, filters="
    f"{BLOCK_FILTERS}, stride={BLOCK_STRIDE}) with a projection shortcut (option B: 1x1 "
    "convolution with stride 2, then BatchNormalization). Its convolutions have no bias, as in "
    "the CIFAR ResNets. How many trainable parameters does the whole block have?"
)
BUILD_QUESTION = (
    "Write residual_block(x, filters, stride): the basic residual block of ResNet-18/34 and the "
    "CIFAR ResNets, with the Keras functional API. F(x): 3x3 convolution with `filters` filters and "
    "stride `stride` (pad one pixel on every side with ZeroPadding2D(1) and use padding='valid' "
    "where the stride is 2; 'same' otherwise), BatchNormalization, ReLU, 3x3 convolution (stride "
    "1, 'same'), BatchNormalization. Shortcut: x itself where the shape stays; where it changes, "
    "a projection (option B): 1x1 convolution with `filters` filters and stride `stride`, then "
    "BatchNormalization. Output: ReLU(shortcut + F(x)). Convolutions without bias. Return the "
    "block's output tensor."
)
DEPTH_QUESTION = (
    "Write depth(n): the number of weighted layers (convolutions and the dense layer, not "
    "counting shortcuts) of a CIFAR ResNet with n basic blocks in each of its three stages."
)

# n values the depth formula is checked on (small: each one builds a network).
DEPTH_CHECK_NS = (1, 2, 3, 5)


# ---------------------------------------------------------------------------
# References: built with the package's block functions
# ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _block_model(option: str = "B", use_bias: bool = False, stride: int = BLOCK_STRIDE):
    """The exercises' block (28x28x16 in, 32 filters) inside a model of its own."""
    import keras

    from cv_textbook.models import resnet

    inputs = keras.Input(shape=BLOCK_INPUT, name="features")
    settings = dataclasses.replace(resnet.SETTINGS, use_bias=use_bias)  # ResNet's own convolutions
    outputs = resnet.basic_block(inputs, BLOCK_FILTERS, stride, "block", option=option, settings=settings)
    return keras.Model(inputs, outputs, name=f"block_{option}_{'bias' if use_bias else 'nobias'}")


def _output_shape(model) -> tuple:
    return tuple(int(d) for d in model.output.shape[1:])


def _total(model) -> int:
    from cv_textbook import analysis

    return analysis.count_params(model)["total"]


def _layer_trainable(model, suffix: str) -> int:
    """Trainable parameters of the block's layers whose name ends with ``suffix``."""
    return sum(
        sum(int(np.prod(w.shape)) for w in layer.trainable_weights)
        for layer in model.layers
        if layer.name.endswith(suffix)
    )


# ---------------------------------------------------------------------------
# Exercise 1: output shape of a downsampling block
# ---------------------------------------------------------------------------


@exercise_check
def check_block_shape(answer) -> bool:
    """Check the output shape (height, width, channels) of the stride-2, 32-filter block."""
    from cv_textbook import analysis

    given = shape(
        answer, fill_in="replace None by a tuple (height, width, channels): the block's output shape."
    )
    expected = _output_shape(_block_model("B"))
    height, width, channels = expected
    if given == expected:
        shortcut_shape = _output_shape(_block_model("A"))
        return correct(
            f"the first 3x3 convolution has stride {BLOCK_STRIDE}, so {BLOCK_INPUT[0]} -> {height} "
            f"pixels, and the block's {BLOCK_FILTERS} filters set the channels. The identity x is "
            f"still {BLOCK_INPUT[0]}x{BLOCK_INPUT[1]}x{BLOCK_INPUT[2]}, which is why this block needs "
            f"a shortcut that also outputs {shortcut_shape[0]}x{shortcut_shape[1]}x{shortcut_shape[2]}."
        )
    valid_side = analysis.conv_output_size(BLOCK_INPUT[0], 3, stride=BLOCK_STRIDE, padding="valid")
    mistakes = [
        *shape_mistakes(
            expected,
            answer,
            "that is the number of values in the output. Give its 3-D shape (height, width, channels).",
        ),
        (
            _output_shape(_block_model("B", stride=1)),
            f"the block has stride {BLOCK_STRIDE}: its first convolution reads every second "
            "pixel, so height and width are halved.",
        ),
        (
            (height, width, BLOCK_INPUT[2]),
            f"height and width are right, but a convolution's output has one channel per filter: "
            f"{BLOCK_FILTERS} filters, not the input's {BLOCK_INPUT[2]} channels.",
        ),
        (
            BLOCK_INPUT,
            "that is the input's shape. The block changes it: stride 2 halves the map and the "
            f"{BLOCK_FILTERS} filters set the channels.",
        ),
        (
            (height // 2, width // 2, channels),
            f"only the first of the two 3x3 convolutions has stride {BLOCK_STRIDE}; the second has "
            "stride 1 and keeps the size.",
        ),
        (
            (valid_side, valid_side, channels),
            "the convolutions are padded (one pixel on each side), so a stride-2 3x3 convolution "
            f"gives exactly half of {BLOCK_INPUT[0]}, not {valid_side}.",
        ),
    ]
    return hint(
        first_match(given, mistakes)
        or "a padded 3x3 convolution with stride s divides height and width by s; the output has one "
        "channel per filter. Only the block's first convolution is strided."
    )


# ---------------------------------------------------------------------------
# Exercise 2: trainable parameters of the block with a projection shortcut
# ---------------------------------------------------------------------------


@exercise_check
def check_block_params(answer) -> bool:
    """Check the trainable parameters of the stride-2 block with option B (no conv biases)."""
    from cv_textbook import analysis

    given = whole_number(answer, fill_in="replace None by a number: the block's trainable parameters.")
    block_b = _block_model("B")
    expected = trainable_params(block_b)
    c_in, c_out = BLOCK_INPUT[2], BLOCK_FILTERS
    conv1 = analysis.conv_params(3, c_in, c_out, use_bias=False)
    conv2 = analysis.conv_params(3, c_out, c_out, use_bias=False)
    projection = analysis.conv_params(1, c_in, c_out, use_bias=False)
    bn = _layer_trainable(block_b, "_bn")  # gamma and beta of the three BatchNormalizations
    if given == expected:
        return correct(
            f"convolutions {conv1:,} + {conv2:,} (3x3x{c_in}x{c_out} and 3x3x{c_out}x{c_out}), "
            f"projection {projection:,} (1x1x{c_in}x{c_out}), and gamma and beta for each of the "
            f"three BatchNormalizations ({bn}): {expected:,}. The projection costs "
            f"{expected - trainable_params(_block_model('A')):,} of them; option A's zero-padding "
            "shortcut would cost nothing."
        )
    mistakes = [
        (
            trainable_params(_block_model("A")),
            "that is the block without a projection (option A's zero-padding shortcut has no "
            f"weights). Option B adds a 1x1 convolution from {c_in} to {c_out} channels and its "
            "BatchNormalization.",
        ),
        (
            _total(block_b),
            "that is count_params(), which includes BatchNormalization's moving mean and variance. "
            "Those are statistics updated during training, not trained by the gradient: count "
            "only gamma and beta.",
        ),
        (
            trainable_params(_block_model("B", use_bias=True)),
            "the CIFAR ResNets' convolutions have no bias (BatchNormalization's beta right after "
            "them does that job). Leave the biases out.",
        ),
        (
            conv1 + conv2 + projection,
            "those are the convolution weights. The three BatchNormalizations have trainable "
            "parameters too: gamma and beta, one each per channel.",
        ),
        (
            2 * conv1 + projection + bn,
            f"the second 3x3 convolution reads the first one's {c_out} channels, not the block "
            f"input's {c_in}: 3x3x{c_out}x{c_out}.",
        ),
        (
            conv1 + conv2 + analysis.conv_params(3, c_in, c_out, use_bias=False) + bn,
            "the projection is a 1x1 convolution: 1x1xC_in weights per filter, not 3x3xC_in.",
        ),
        (
            conv1 + conv2 + projection + bn * 2 // 3,
            "there are three BatchNormalizations: two in the residual branch and one after the "
            "projection.",
        ),
        (
            conv1 + conv2 + projection + bn // 2,
            "BatchNormalization trains two vectors per layer, gamma (scale) and beta (shift), "
            "each with one value per channel.",
        ),
    ]
    return hint(
        first_match(given, mistakes)
        or "add up three convolutions (3x3 C_in->C_out, 3x3 C_out->C_out, and the 1x1 projection "
        "C_in->C_out, all without bias) and 2 trainable values (gamma, beta) per channel of each "
        "of the three BatchNormalizations."
    )


# ---------------------------------------------------------------------------
# Exercise 3: build the basic block (projection shortcut where the shape changes)
# ---------------------------------------------------------------------------

# (input shape, filters, stride): a block that changes the shape (the first block of ResNet-20's
# second stage at 28x28) and one that keeps it (every other block of the first stage).
BUILD_CASES = ((BLOCK_INPUT, BLOCK_FILTERS, BLOCK_STRIDE), (BLOCK_INPUT, BLOCK_INPUT[2], 1))
# Outputs agree when the largest difference is below this fraction of the largest output: float32
# rounding stays near 1e-6 of it (mixed float16 near 1e-3); every mistake below changes the
# outputs by a sizeable part of their range.
_OUTPUT_TOLERANCE = 1e-2
_SHAPES_IN_MESSAGE = re.compile(r"\(((?:None, )?\d+(?:, \d+)*)\)")


def _case_text(case) -> str:
    (height, width, channels), filters, stride = case
    return f"a {height}x{width}x{channels} input with filters={filters}, stride={stride}"


def _expected_shape(case) -> tuple:
    (height, width, _), filters, stride = case
    return (-(-height // stride), -(-width // stride), filters)


def _fmt(shape_: tuple) -> str:
    return "x".join(str(d) for d in shape_)


def _add_error_hint(case, error) -> str | None:
    """A hint for Keras refusing to add the shortcut and F(x), from the two shapes it names."""
    found = [tuple(int(d) for d in match.replace("None, ", "").split(", "))
             for match in _SHAPES_IN_MESSAGE.findall(str(error))]
    if "incompatible shapes" not in str(error) or len(found) < 2:
        return None
    (height, width, channels), filters, stride = case
    expected = _expected_shape(case)
    other = next((s for s in found[:2] if s != expected), found[1])
    if other == (height, width, channels):
        return (
            f"Keras cannot add x ({_fmt(other)}) to F(x) ({_fmt(expected)}): where the shape changes "
            f"the shortcut must change it too. Project x with a 1x1 Conv2D of {filters} filters and "
            f"stride {stride}, then BatchNormalization (option B), and add that to F(x)."
        )
    if other == (height, width, filters):
        return (
            f"your shortcut has {filters} channels but is still {height}x{width}: give the 1x1 "
            f"projection stride {stride} too, so it reads every second pixel as F(x) does."
        )
    if other == (expected[0], expected[1], channels):
        return (
            f"your shortcut is {expected[0]}x{expected[1]} but keeps {channels} channels: a 1x1 "
            f"Conv2D with {filters} filters turns them into the {filters} channels of F(x)."
        )
    return (
        f"Keras cannot add tensors of shapes {_fmt(found[0])} and {_fmt(found[1])}: for "
        f"{_case_text(case)} the shortcut and F(x) must both be {_fmt(expected)}."
    )


def _build_error_hint(case, error) -> str:
    return _add_error_hint(case, error) or (
        f"building your block for {_case_text(case)} raised {describe_error(error)}."
    )


def _student_model(build, case):
    """The student's block for one case, as a model; FillIn or Hint when it cannot be built."""
    input_shape, filters, stride = case
    return built_model(
        build, input_shape, (filters, stride),
        fill_in="your function still returns None: build the block and return its output tensor.",
        on_error=lambda _, error: _build_error_hint(case, error),
        returned="the block's output tensor (what the last layer returned, e.g. "
                 "`return layers.Activation('relu')(h)`)",
        build_on="build every layer on x, starting from the argument your function receives.",
    )


def _reference_block(case, mistake: str | None = None):
    """The package's basic block for one case (``resnet.basic_block``, option B, no biases), or the
    same block with one typical mistake: the same weighted layers, wired differently."""
    import keras
    from keras import layers

    from cv_textbook.models import blocks, resnet

    input_shape, filters, stride = case
    settings = dataclasses.replace(resnet.SETTINGS, use_bias=False)
    inputs = keras.Input(shape=input_shape, name="x")
    if mistake is None:
        return keras.Model(inputs, resnet.basic_block(inputs, filters, stride, "block", settings=settings))
    padding = "same" if mistake == "same_padding" else "symmetric"
    first_stride, second_stride = (1, stride) if mistake == "stride_in_second" else (stride, 1)
    short = resnet.shortcut(inputs, filters, stride, "B", "block", settings)
    f = blocks.conv_bn(inputs, filters, 3, first_stride, "block_1", settings, padding=padding)
    f = blocks.conv_bn(f, filters, 3, second_stride, "block_2", settings, relu=mistake in _RELU_ON_F,
                       padding=padding)
    if mistake == "plain":
        h = f
    else:
        h = layers.Add(name="block_add")([short, f])
    if mistake not in ("no_final_relu", "relu_before_add_only"):
        h = layers.Activation("relu", name="block_out")(h)
    return keras.Model(inputs, h)


_RELU_ON_F = ("relu_before_add", "relu_before_add_only")

# Mistakes that keep the parameters and the output shape, found by comparing outputs.
_OUTPUT_MISTAKES = (
    ("relu_before_add", "you apply a ReLU to F(x) before the addition. The block adds the second "
     "BatchNormalization's output to the shortcut and applies the ReLU after the addition: "
     "ReLU(shortcut + F(x)). F(x) must be able to be negative, or the block could only add to x."),
    ("relu_before_add_only", "you apply the ReLU to F(x) before the addition instead of after it. "
     "The order is: second BatchNormalization, add the shortcut, then ReLU."),
    ("no_final_relu", "the block ends with a ReLU after the addition: ReLU(shortcut + F(x))."),
    ("stride_in_second", "the stride belongs in the FIRST 3x3 convolution (and the projection), "
     "not in the second: the block downsamples before it computes, as in the paper."),
    ("same_padding", "with padding='same' and stride 2 Keras pads only the bottom and right of an "
     "even map, so your outputs sit over pixels 1, 3, 5, ... while the shortcut reads 0, 2, 4, .... "
     "Pad one pixel on every side with ZeroPadding2D(1) and use padding='valid' in the strided "
     "convolution (section 2.2)."),
    ("plain", "your block has no shortcut: it outputs ReLU(F(x)). Add x (or its projection) to "
     "F(x) before the last ReLU."),
)


def _weighted_by_role(model) -> list:
    """The model's layers with weights in an order that depends on the wiring, not on the order
    they were created in: by the number of weighted layers from the input (a convolution on x
    comes before the BatchNormalization after it), then convolutions before normalizations, then
    the larger kernel first (the 3x3 convolution before the 1x1 projection; a BatchNormalization
    follows its convolution's kernel). ``models.transfer_weights`` pairs layers in the order Keras
    lists them, which changes when the shortcut is built after the residual branch."""
    import keras

    def kernel_area(layer):
        kernel = getattr(layer, "kernel", None)
        return int(np.prod(kernel.shape[:-2])) if kernel is not None else 0

    depth, area, order = {}, {}, []
    for layer in model.layers:
        incoming = [id(tensor) for tensor in _as_list(layer.input)]
        d = max((depth.get(t, 0) for t in incoming), default=0)
        a = max((area.get(t, 0) for t in incoming), default=0)
        if layer.weights:
            d += 1
            a = kernel_area(layer) or a
            is_norm = isinstance(layer, keras.layers.BatchNormalization)
            order.append(((d, is_norm, -a), layer))
        for tensor in _as_list(layer.output):
            depth[id(tensor)], area[id(tensor)] = d, a
    return [layer for _, layer in sorted(order, key=lambda pair: pair[0])]


def _as_list(tensors) -> list:
    return list(tensors) if isinstance(tensors, (list, tuple)) else [tensors]


def _layer_text(layer) -> str:
    kernel = getattr(layer, "kernel", None)
    if kernel is None:
        return f"{type(layer).__name__} ({layer.count_params()})"
    return (f"{kernel.shape[0]}x{kernel.shape[1]} {type(layer).__name__} {kernel.shape[2]}->{kernel.shape[3]} "
            f"stride {layer.strides[0]} ({sum(int(np.prod(w.shape)) for w in layer.trainable_weights):,})")


def _copy_by_role(source, target) -> bool:
    """Copy ``source``'s weights into ``target`` layer by layer (paired by role), and its
    BatchNormalization epsilon, so that only the wiring can make the outputs differ; False when the
    two do not hold the same kinds of layers with the same weight shapes."""
    sources, targets = _weighted_by_role(source), _weighted_by_role(target)
    # The package's BatchNormalization subclasses Keras's and holds the same weights.
    same_kind = [isinstance(a, type(b)) or isinstance(b, type(a)) for a, b in zip(sources, targets)]
    same_shapes = [[tuple(w.shape) for w in a.weights] == [tuple(w.shape) for w in b.weights]
                   for a, b in zip(sources, targets)]
    if len(sources) != len(targets) or not all(same_kind) or not all(same_shapes):
        return False
    for a, b in zip(sources, targets):
        b.set_weights(a.get_weights())
        if hasattr(a, "epsilon"):
            b.epsilon = a.epsilon
    return True


def _epsilons(model) -> set:
    return {layer.epsilon for layer in model.layers if hasattr(layer, "epsilon")}


def _count_hint(case, given: int, reference_model) -> str:
    """A hint for a block whose trainable parameters differ from the package's block."""
    from cv_textbook import analysis

    (_, _, channels), filters, stride = case
    expected = trainable_params(reference_model)
    reshapes = stride != 1 or channels != filters
    projection = analysis.conv_params(1, channels, filters, use_bias=False)
    mistakes = [
        (expected + (3 if reshapes else 2) * filters,
         "the convolutions have no bias here (use_bias=False): the BatchNormalization right after "
         "each one has its own shift beta, which makes a bias redundant."),
        (expected - 2 * filters if reshapes else None,
         "the projection needs its own BatchNormalization after the 1x1 convolution, like every "
         "convolution of the block."),
        (expected + 8 * projection if reshapes else None,
         "the projection is a 1x1 convolution (kernel_size=1), not 3x3: it only mixes channels and "
         "subsamples."),
        (expected - projection - 2 * filters if reshapes else None,
         "a block whose shape changes needs a projection (option B): a 1x1 Conv2D with "
         f"{filters} filters and stride {stride}, then BatchNormalization. Zero-padding (option A) "
         "or no shortcut at all has no parameters there."),
        (None if reshapes else expected + projection + 2 * filters,
         "where the shape does not change the shortcut is x itself, with no layer: project only "
         "where the stride or the number of channels changes (a projection in every block is "
         "option C)."),
    ]
    layers_text = "; ".join(_layer_text(layer) for layer in _weighted_by_role(reference_model))
    return first_match(given, [(wrong, message) for wrong, message in mistakes if wrong is not None]) or (
        f"for {_case_text(case)} your block has {given:,} trainable parameters, the package's "
        f"{expected:,}: {layers_text} (BatchNormalization: gamma and beta)."
    )


def _shape_hint(case, given_shape) -> str:
    (height, width, channels), filters, stride = case
    return first_match(given_shape, [
        ((height, width, filters),
         f"for {_case_text(case)} your block outputs {_fmt(given_shape)}: the stride {stride} "
         "is missing (the first 3x3 convolution and the projection both have it)."),
        ((height // (stride * stride), width // (stride * stride), filters),
         "only the first 3x3 convolution (and the projection) has the stride; the second keeps "
         "the size."),
    ]) or (f"for {_case_text(case)} the block must output {_fmt(_expected_shape(case))}, yours gives "
           f"{_fmt(given_shape)}.")


def _check_case(build, case) -> tuple[str, set]:
    """Build one case and compare it with the reference. If it matches: a summary of the case and
    the student's BatchNormalization epsilons that differ from the package's."""
    student = _student_model(build, case)
    epsilons = _epsilons(student)  # before the comparison copies the package's into it
    reference = _reference_block(case)
    reference = randomised(reference, layers=_weighted_by_role(reference))
    match = compare_built(
        student, reference, probe(case[0], seed=6), expected_shape=_expected_shape(case),
        shape_hint=lambda given_shape: _shape_hint(case, given_shape),
        count_hint=lambda given, _: _count_hint(case, given, reference),
        copy=_copy_by_role,
        layers_differ=lambda given: (
            f"your block has the right number of parameters ({given:,}) but not the same layers: "
            + "; ".join(_layer_text(layer) for layer in _weighted_by_role(reference))
            + ". Each convolution is followed by its BatchNormalization."),
        mistakes=[(functools.partial(_reference_block, case, mistake), message)
                  for mistake, message in _OUTPUT_MISTAKES],
        outputs_differ=lambda given: (
            f"your block has the right layers and {given:,} parameters, but with the package's weights "
            f"copied in its outputs differ for {_case_text(case)}. Check the order: conv, BN, ReLU, "
            "conv, BN; add the shortcut; ReLU."),
        tolerance=_OUTPUT_TOLERANCE,
    )
    return (f"{_fmt(case[0])} -> {_fmt(_expected_shape(case))}, {match.params:,} trainable parameters, "
            f"{match.outputs_text}", epsilons - _epsilons(reference))


@exercise_check
def check_residual_block(build) -> bool:
    """Check a function ``build(x, filters, stride)`` that builds a basic residual block."""
    a_function(build, fill_in="replace None by your function, e.g. def residual_block(x, filters, stride): "
               "..., and pass residual_block.", example="check_residual_block(residual_block)")
    summaries, epsilons = zip(*(_check_case(build, case) for case in BUILD_CASES))
    other_epsilons = sorted(set().union(*epsilons))
    note = ""
    if other_epsilons:
        from cv_textbook.models import resnet

        note = (f" (Your BatchNormalization epsilon {', '.join(f'{e:g}' for e in other_epsilons)} differs "
                f"from the package's {resnet.BN_EPSILON:g}, keras.applications' value: a negligible "
                "difference, set equal for the comparison.)")
    return correct(
        "with the weights of cv_textbook.models.resnet.basic_block copied in, your block computes "
        f"what the package's does ({'; '.join(summaries)}). Where the shape changes the projection "
        f"bridges it; elsewhere the shortcut is x itself and costs nothing.{note}"
    )


# ---------------------------------------------------------------------------
# Exercise 4: the depth formula
# ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _weighted_layers(n: int) -> int:
    """Convolutions and dense layers of the plain CIFAR stack with n blocks per stage."""
    import keras

    from cv_textbook.models import resnet

    stages = tuple(zip(resnet.CIFAR_FILTERS, (n,) * 3, (1, 2, 2)))
    model = resnet.build_resnet(
        "count", (28, 28, 1), 10, stem="cifar", block="basic", stages=stages, plain=True,
        settings=dataclasses.replace(resnet.SETTINGS, use_bias=False),
    )
    return sum(isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)) for layer in model.layers)


# Formulas students write by mistake, in the order they are recognised, with their hint.
_DEPTH_MISTAKES = (
    (
        lambda n: 6 * n,
        "you forgot the two layers outside the stages: the first 3x3 convolution (the stem) and the "
        "dense classifier at the end.",
    ),
    (
        lambda n: 6 * n + 1,
        "one layer outside the stages is missing: there is the first 3x3 convolution and the dense "
        "classifier.",
    ),
    (lambda n: 3 * n + 2, "a basic block has two 3x3 convolutions, not one."),
    (lambda n: 2 * n + 2, "the network has three stages (16, 32 and 64 filters), each with n blocks."),
    (lambda n: 4 * n + 2, "there are three stages, each with n blocks of two convolutions."),
    (
        lambda n: 6 * n + 4,
        "the paper's depth does not count shortcuts: ResNet-20 uses parameter-free (option A) "
        "shortcuts, and the count must also hold for the plain network without any.",
    ),
    (
        lambda n: 6 * n + 3,
        "pooling layers have no weights and do not count; only the convolutions and the dense layer do.",
    ),
    (
        lambda n: (n - 2) / 6,
        "that is the inverse: it gives n from the depth. depth(n) takes n, the blocks per stage, and "
        "returns the number of layers.",
    ),
)


@exercise_check
def check_depth_formula(answer) -> bool:
    """Check a function depth(n) -> weighted layers of a CIFAR ResNet with n blocks per stage."""
    a_function(
        answer,
        fill_in="replace None by a function, e.g. def depth(n): return ..., and pass depth.",
        example="check_depth_formula(depth) with no parentheses after depth",
    )
    given = results_of(
        answer,
        [(n,) for n in DEPTH_CHECK_NS],
        fill_in="your function still returns None: make it return the number of layers.",
        on_error=lambda case, error: f"your function raised {describe_error(error)} for n = {case[0]}.",
    )
    expected = [_weighted_layers(n) for n in DEPTH_CHECK_NS]
    numbers = [as_whole_number(value) for value in given]
    if numbers == expected:
        depth = dict(zip(DEPTH_CHECK_NS, expected))
        per_block = depth[2] - depth[1]
        fixed = depth[1] - per_block
        return correct(
            f"each block has 2 convolutions and there are 3 stages, so {per_block} layers per unit "
            f"of n, plus {fixed}: the first convolution and the dense layer. depth(3) = "
            f"{depth[3]} (ResNet-20), depth(9) = {per_block * 9 + fixed} (ResNet-56), depth(18) = "
            f"{per_block * 18 + fixed} (ResNet-110)."
        )
    mistakes = [
        *(([formula(n) for n in DEPTH_CHECK_NS], message) for formula, message in _DEPTH_MISTAKES),
        (
            lambda _: None in numbers,
            f"your depth(n) must return a whole number of layers, got {dict(zip(DEPTH_CHECK_NS, given))}.",
        ),
    ]
    wrong = next(i for i, (number, right) in enumerate(zip(numbers, expected)) if number != right)
    return hint(
        first_match(given, mistakes)
        or f"for n = {DEPTH_CHECK_NS[wrong]} your function gives {given[wrong]}. Count the weighted "
        "layers: the first convolution, two per block in each of the three stages, and the dense layer."
    )
