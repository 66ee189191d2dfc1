"""Chapter 06 exercises: ResNet.

* ``check_block_shape(answer)`` - the output shape of a basic residual block with 32 filters
  and stride 2 that receives a 28x28x16 map, as (height, width, channels).
* ``check_block_params(answer)`` - the trainable parameters of that block with a projection
  shortcut (option B), as the CIFAR ResNets build it (no convolution biases).
* ``check_depth_formula(answer)`` - a function ``depth(n)``: the number of weighted layers of a
  CIFAR ResNet with ``n`` basic blocks per stage.

The references are computed by building the blocks and networks with
``cv_textbook.models.resnet`` (the code behind ``models.build("resnet20")``) and counting, never
typed in.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from cv_textbook.exercises._feedback import (
    a_function,
    as_whole_number,
    correct,
    describe_error,
    exercise_check,
    first_match,
    hint,
    results_of,
    shape,
    shape_mistakes,
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
    "DEPTH_CHECK_NS",
    "DEPTH_QUESTION",
    "check_block_params",
    "check_block_shape",
    "check_depth_formula",
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


def _trainable(model) -> int:
    from cv_textbook import analysis

    return analysis.count_params(model)["trainable"]


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
    expected = _trainable(block_b)
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
            f"{expected - _trainable(_block_model('A')):,} of them; option A's zero-padding "
            "shortcut would cost nothing."
        )
    mistakes = [
        (
            _trainable(_block_model("A")),
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
            _trainable(_block_model("B", use_bias=True)),
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
# Exercise 3: the depth formula
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
