"""Chapter 10 exercises: the U-Net-like Xception segmentation network.

* ``check_separable_params(answer)`` - the number of parameters of ``down2_sepconv1``, the
  first SeparableConv2D of the second down block (exercise 1).
* ``check_down_block_shape(answer)`` - the output shape of the first down block of
  ``unet_xception`` for a 128x128x1 canvas, as (height, width, channels) (exercise 2).
* ``check_down_block(build)`` - the student's Xception-style down block, a function
  ``build(x, filters) -> tensor``, against the package's ``blocks.separable_block`` (exercise 3).
* ``check_iou_by_hand(answer)`` - the IoU of the class "item" for the small masks
  ``TRUE_MASK`` and ``PRED_MASK`` (a fraction between 0 and 1) (exercise 4).

The references are computed, never typed in: the shapes and parameter counts by building
``cv_textbook.models.build("unet_xception")`` at the notebook's training size, the IoU with
``cv_textbook.metrics.iou_per_class``.
"""

from __future__ import annotations

import functools

import numpy as np

from cv_textbook import metrics
from cv_textbook.exercises._feedback import (
    a_function,
    all_params,
    built_model,
    compare_built,
    correct,
    describe_error,
    exercise_check,
    first_match,
    hint,
    probe,
    transferred,
    real_number,
    shape,
    shape_mistakes,
    whole_number,
)

# cv_textbook.models and cv_textbook.analysis import Keras: they are imported inside the functions
# that need them, so that importing this module stays free of Keras and TensorFlow.

__all__ = [
    "DOWN_BLOCK_SHAPE_QUESTION",
    "IOU_QUESTION",
    "DOWN_BLOCK_INPUT_SHAPE",
    "DOWN_BLOCK_FILTERS",
    "IOU_TOLERANCE",
    "PRED_MASK",
    "SEPARABLE_PARAMS_QUESTION",
    "TRUE_MASK",
    "check_down_block",
    "check_down_block_shape",
    "check_iou_by_hand",
    "check_separable_params",
    "iou_mistakes",
    "iou_reference",
]

# The notebook trains on 128x128 grey canvases with the trimap's 3 classes.
INPUT_SHAPE = (128, 128, 1)
NUM_CLASSES = 3
SEPARABLE_LAYER = "down2_sepconv1"

DOWN_BLOCK_SHAPE_QUESTION = (
    f"unet_xception gets a {INPUT_SHAPE[0]}x{INPUT_SHAPE[1]}x{INPUT_SHAPE[2]} canvas. The entry "
    "block (3x3 convolution with stride 2, 32 filters) hands its output to the first down block "
    "(64 filters: two 3x3 separable convolutions with 'same' padding, a 3x3 max-pooling with "
    "stride 2 and 'same' padding, and the strided 1x1 projection added). What is the shape of "
    "the down block's output, as (height, width, channels) without the batch axis?"
)
SEPARABLE_PARAMS_QUESTION = (
    f"How many parameters (weights and biases) does {SEPARABLE_LAYER} have: a 3x3 "
    "SeparableConv2D with 128 filters that reads the 64-channel output of the first down block?"
)
IOU_QUESTION = (
    "TRUE_MASK is a 6x6 trimap (0 = item, 1 = background, 2 = border) and PRED_MASK a network's "
    "prediction for it. What is the IoU (intersection over union) of class 0, the item? "
    "Answer with a fraction between 0 and 1."
)

# A hand-sized pair: a 3x2 item inside its border ring, and a prediction that is a little off.
TRUE_MASK = np.array(
    [
        [1, 1, 1, 1, 1, 1],
        [1, 2, 2, 2, 2, 1],
        [1, 2, 0, 0, 2, 1],
        [1, 2, 0, 0, 2, 1],
        [1, 2, 0, 0, 2, 1],
        [1, 2, 2, 2, 2, 1],
    ],
    dtype=np.uint8,
)
PRED_MASK = np.array(
    [
        [1, 1, 1, 1, 1, 2],
        [1, 1, 2, 2, 2, 1],
        [1, 2, 0, 0, 0, 1],
        [2, 2, 0, 0, 0, 1],
        [1, 2, 2, 0, 2, 2],
        [1, 1, 2, 2, 1, 1],
    ],
    dtype=np.uint8,
)
IOU_CLASS = 0
IOU_TOLERANCE = 0.006  # 0.62, 0.625 or 5/8 all pass; the usual mistakes are at least 0.019 away


@functools.lru_cache(maxsize=None)
def _model():
    from cv_textbook import models

    return models.build("unet_xception", input_shape=INPUT_SHAPE, num_classes=NUM_CLASSES)


def _shape(layer_name: str) -> tuple:
    return tuple(int(d) for d in _model().get_layer(layer_name).output.shape[1:])


# ---------------------------------------------------------------------------
# Exercise 2: the shape after the first down block
# ---------------------------------------------------------------------------


@exercise_check
def check_down_block_shape(answer) -> bool:
    """Check the output shape (height, width, channels) of down1 for a 128x128x1 canvas."""
    from cv_textbook import analysis

    given = shape(
        answer,
        fill_in="replace None by a tuple (height, width, channels): the first down block's output shape.",
    )
    expected = _shape("down1_add")
    entry = _shape("entry_relu")
    conv = _shape("down1_bn2")
    height, width, channels = expected
    if given == expected:
        return correct(
            f"{INPUT_SHAPE[0]} --entry conv, stride 2--> {entry[0]} --separable convolutions, "
            f"'same'--> {conv[0]} --3x3 max-pooling, stride 2--> {height}, with {channels} channels "
            f"from the block's {channels} filters. The 1x1 projection with stride 2 turns the block's "
            f"{entry[0]}x{entry[1]}x{entry[2]} input into the same {height}x{width}x{channels}, so the "
            "two can be added."
        )
    valid_pool = analysis.conv_output_size(conv[0], 3, stride=2, padding="valid")
    mistakes = [
        *shape_mistakes(
            expected,
            answer,
            "that is the number of values in the map. Give its 3-D shape (height, width, channels) instead.",
        ),
        (conv, "that is the shape before the max-pooling. Its stride of 2 halves height and width."),
        (
            entry,
            "that is the block's input (the entry block's output). The block changes both the size "
            "and the channels.",
        ),
        (
            (INPUT_SHAPE[0] // 2, INPUT_SHAPE[1] // 2, channels),
            f"the entry convolution already has stride 2: the first down block receives "
            f"{entry[0]}x{entry[1]}, not {INPUT_SHAPE[0]}x{INPUT_SHAPE[1]}.",
        ),
        (
            (height, width, entry[2]),
            f"height and width are right, but the separable convolutions have {channels} filters: "
            f"the output has {channels} channels (the projection gives the shortcut {channels} too).",
        ),
        (
            (valid_pool, valid_pool, channels),
            f"with padding='valid' a 3x3 pooling with stride 2 would give {valid_pool}; this block "
            f"pools with padding='same', which gives ceil({conv[0]} / 2) = {height}.",
        ),
        (
            (height // 2, width // 2, channels),
            "only the pooling has a stride in the main path; the separable convolutions keep the size "
            "('same' padding, stride 1), and the projection's stride 2 runs in parallel, not after it.",
        ),
    ]
    return hint(
        first_match(given, mistakes)
        or "follow the canvas: the entry convolution (stride 2) halves it, the separable convolutions "
        "keep the size ('same', stride 1), the max-pooling (stride 2, 'same') halves it again; the "
        "channels are the block's filters."
    )


# ---------------------------------------------------------------------------
# Exercise 1: parameters of a SeparableConv2D layer
# ---------------------------------------------------------------------------


@exercise_check
def check_separable_params(answer) -> bool:
    """Check the number of parameters (weights and biases) of down2_sepconv1."""
    from cv_textbook import analysis

    given = whole_number(
        answer, fill_in=f"replace None by a number: {SEPARABLE_LAYER}'s parameters, weights and biases."
    )
    layer = _model().get_layer(SEPARABLE_LAYER)
    k = layer.kernel_size[0]
    c_in = int(layer.input.shape[-1])
    c_out = layer.filters
    depthwise = analysis.conv_params(k, c_in, c_in, use_bias=False, groups=c_in)
    pointwise = analysis.conv_params(1, c_in, c_out, use_bias=False)
    expected = depthwise + pointwise + c_out
    assert expected == layer.count_params(), "the formula must agree with Keras"
    if given == expected:
        return correct(
            f"depthwise {k}*{k}*{c_in} = {depthwise:,} + pointwise {c_in}*{c_out} = {pointwise:,} + "
            f"{c_out} biases = {expected:,} (Keras agrees: {SEPARABLE_LAYER}.count_params() = "
            f"{layer.count_params():,}). A Conv2D with the same input and output would have "
            f"{analysis.conv_params(k, c_in, c_out):,}, "
            f"{analysis.conv_params(k, c_in, c_out) / expected:.1f} times as many."
        )
    positions = _shape(SEPARABLE_LAYER)[0] * _shape(SEPARABLE_LAYER)[1]
    second_input = c_out  # sepconv2 reads sepconv1's output
    mistakes = [
        (
            analysis.conv_params(k, c_in, c_out),
            f"that is a plain {k}x{k} Conv2D, where each of the {c_out} filters has its own "
            f"{k}x{k}x{c_in} kernel. A separable convolution splits it: one {k}x{k} filter per input "
            f"channel (depthwise), then a 1x1 convolution that mixes the {c_in} channels into {c_out} "
            "(pointwise).",
        ),
        (
            analysis.conv_params(k, c_in, c_out, use_bias=False),
            "that is a plain Conv2D without its biases; a separable convolution has far fewer "
            "weights: a depthwise step and a 1x1 pointwise step.",
        ),
        (
            depthwise + pointwise,
            f"you forgot the bias: the pointwise step has one per filter, so add {c_out}.",
        ),
        (
            depthwise + pointwise + c_in + c_out,
            f"SeparableConv2D has a single bias vector, on its output ({c_out}). A separate "
            f"DepthwiseConv2D would add {c_in} more biases of its own; the fused layer does not.",
        ),
        (
            depthwise + pointwise + c_in,
            f"the bias belongs to the pointwise step's {c_out} outputs, not to the {c_in} input channels.",
        ),
        (
            analysis.conv_params(k, second_input, second_input, use_bias=False, groups=second_input)
            + second_input * c_out
            + c_out,
            f"that is {SEPARABLE_LAYER[:-1]}2, which reads the {second_input} channels of sepconv1. "
            f"{SEPARABLE_LAYER} reads the {c_in}-channel output of the first down block, so its "
            f"depthwise and pointwise steps see {c_in} input channels.",
        ),
        (
            k * k * c_in * c_out + c_in * c_out + c_out,
            f"the depthwise step has one {k}x{k} filter per input channel ({k}*{k}*{c_in}), "
            f"not one per input and output channel.",
        ),
        (
            positions * (depthwise + pointwise),
            f"you multiplied by the {positions:,} output positions: that counts multiply-accumulates. "
            "Weights are shared across positions; count them once.",
        ),
    ]
    return hint(
        first_match(given, mistakes)
        or "a separable convolution has a depthwise step (k*k weights per input channel), a pointwise "
        "step (C_in*C_out weights) and one bias per output channel."
    )


# ---------------------------------------------------------------------------
# Exercise 3: build the down block
# ---------------------------------------------------------------------------

# down1's input and width at the notebook's size: the entry block's 64x64x32 map, 64 filters.
DOWN_BLOCK_INPUT_SHAPE = (64, 64, 32)
DOWN_BLOCK_FILTERS = 64
OUTPUT_TOLERANCE = 1e-4  # float32 arithmetic in a different order; a wrong block is off by far more


def _reference_block():
    import keras

    from cv_textbook.models import blocks

    inputs = keras.Input(shape=DOWN_BLOCK_INPUT_SHAPE, name="block_input")
    return keras.Model(inputs, blocks.separable_block(inputs, DOWN_BLOCK_FILTERS, "down1"), name="reference")


def _kinds(model) -> list[str]:
    return [type(layer).__name__ for layer in model.layers]


def _student_block(build):
    """The student's block as a model, or a Hint saying what went wrong while building it."""

    def on_error(_, error):
        if isinstance(error, ValueError) and "shape" in str(error).lower():
            return ("the two branches cannot be added: their shapes differ. The main path ends with a 3x3 "
                    "max-pooling of stride 2 and 'same' padding; the shortcut must be a 1x1 Conv2D with "
                    f"{DOWN_BLOCK_FILTERS} filters, strides=2 and padding='same' ({describe_error(error)}).")
        return f"building the block failed: {describe_error(error)}"

    return built_model(
        build, DOWN_BLOCK_INPUT_SHAPE, (DOWN_BLOCK_FILTERS,), on_error=on_error, returned=None,
        fill_in="build_down_block must return the block's output tensor.",
        not_implemented="write the block in build_down_block (replace the `raise NotImplementedError`).",
        disconnected=lambda error: f"return the output tensor of the block built on `x` ({describe_error(error)}).",
        input_name="block_input", model_name="student",
    )


def _shape_hint(kinds, given_shape, expected_shape) -> str:
    if "MaxPooling2D" not in kinds:
        return (f"the output is {given_shape}, not {expected_shape}: the main path ends with "
                "MaxPooling2D(3, strides=2, padding='same').")
    return (f"the output is {given_shape}, not {expected_shape}: check the strides, the padding "
            f"('same' everywhere) and the number of filters ({DOWN_BLOCK_FILTERS}).")


def _count_hint(kinds, given_params, expected_params) -> str:
    from cv_textbook import analysis

    in_channels, filters = DOWN_BLOCK_INPUT_SHAPE[-1], DOWN_BLOCK_FILTERS
    projection = analysis.conv_params(1, in_channels, filters)
    mistakes = [
        (expected_params - projection,
         "the shortcut is missing: add the block input, projected by a 1x1 Conv2D with "
         f"{filters} filters and strides=2 ({projection:,} parameters), to the pooled main path."),
        (expected_params - projection + analysis.conv_params(3, in_channels, filters),
         "the projection is a 1x1 convolution (it mixes channels, not neighbours), not a 3x3 one."),
    ]
    if "SeparableConv2D" not in kinds and "Conv2D" in kinds:
        return (f"{given_params:,} parameters instead of {expected_params:,}: use "
                "layers.SeparableConv2D (a depthwise and a pointwise step), not a plain Conv2D, "
                "on the main path.")
    if "BatchNormalization" not in kinds and not any("BatchNormalization" in k for k in kinds):
        return (f"{given_params:,} parameters instead of {expected_params:,}: each separable "
                "convolution is followed by a BatchNormalization.")
    return (first_match(given_params, mistakes)
            or f"{given_params:,} parameters instead of {expected_params:,}: two 3x3 separable "
            f"convolutions with {filters} filters (each followed by BN), then the pooling, plus a "
            f"1x1 projection of the block input with {filters} filters.")


def _outputs_hint(kinds) -> str:
    """What outputs that differ with the right layers and weights most likely mean."""
    relu_after = "Activation" in kinds and kinds.index("Activation") > kinds.index("SeparableConv2D")
    if relu_after:
        return ("the layers and weights match but the outputs differ: in this block each step is "
                "ReLU first, then the separable convolution, then BN (the ReLU comes before).")
    if "Activation" not in kinds and "ReLU" not in kinds:
        return ("the layers and weights match but the outputs differ: each separable convolution is "
                "preceded by a ReLU (layers.Activation('relu')).")
    return ("the layers and weights match but the outputs differ: check the order (ReLU -> separable "
            "convolution -> BN, twice, then the pooling) and that the shortcut starts from the block's "
            "input and is added after the pooling.")


@exercise_check
def check_down_block(build) -> bool:
    """Build ``build(x, filters)`` on down1's input and compare it with the package's down block:
    output shape, parameter count, and outputs on a fixed input after copying the weights."""
    from cv_textbook import analysis

    build = a_function(build, fill_in="pass your function build_down_block.",
                       example="check_down_block(build_down_block)")
    student, reference = _student_block(build), _reference_block()
    expected_shape = tuple(reference.output.shape[1:])
    kinds = _kinds(student)
    match = compare_built(
        student, reference, probe(DOWN_BLOCK_INPUT_SHAPE, seed=0), count=all_params,
        shape_hint=lambda given_shape: _shape_hint(kinds, given_shape, expected_shape),
        count_hint=lambda given, expected: _count_hint(kinds, given, expected),
        copy=transferred, layers_differ="", outputs_differ=lambda _: _outputs_hint(kinds), tolerance=OUTPUT_TOLERANCE,
    )
    projection = analysis.conv_params(1, DOWN_BLOCK_INPUT_SHAPE[-1], DOWN_BLOCK_FILTERS)
    return correct(
        f"same shape {expected_shape}, same {match.params:,} parameters, and with the package's "
        f"weights copied in, the same outputs (largest difference {match.difference:.1e}). "
        f"The projection holds {projection:,} of them."
    )


# ---------------------------------------------------------------------------
# Exercise 4: IoU by hand
# ---------------------------------------------------------------------------


def _counts(cls: int = IOU_CLASS):
    true, pred = TRUE_MASK == cls, PRED_MASK == cls
    intersection = int(np.sum(true & pred))
    return intersection, int(true.sum()), int(pred.sum())


def iou_reference() -> float:
    """The IoU of ``IOU_CLASS`` for TRUE_MASK and PRED_MASK, from ``metrics.iou_per_class``."""
    return float(metrics.iou_per_class(TRUE_MASK, PRED_MASK, NUM_CLASSES)[IOU_CLASS])


def iou_mistakes() -> list[tuple[float, str]]:
    """(value, hint) for the usual wrong answers; distinct from the reference and each other."""
    intersection, n_true, n_pred = _counts()
    union = n_true + n_pred - intersection
    per_class = metrics.iou_per_class(TRUE_MASK, PRED_MASK, NUM_CLASSES)
    return [
        (
            2 * intersection / (n_true + n_pred),
            f"that is the Dice coefficient 2|A∩B| / (|A| + |B|). IoU divides the intersection "
            f"({intersection}) by the union, |A| + |B| - |A∩B| = {union}.",
        ),
        (
            intersection / (n_true + n_pred),
            f"the union counts the overlapping pixels once: |A| + |B| - |A∩B| = {n_true} + {n_pred} - "
            f"{intersection}, not {n_true + n_pred}.",
        ),
        (
            intersection / n_pred,
            "you divided by the predicted item pixels only (that is the precision). The union also "
            "holds the item pixels the network missed.",
        ),
        (
            intersection / n_true,
            "you divided by the true item pixels only (that is the recall). The union also holds "
            "the pixels wrongly predicted as item.",
        ),
        (
            metrics.pixel_accuracy(TRUE_MASK, PRED_MASK),
            "that is the pixel accuracy over all classes. IoU looks at one class: the item pixels.",
        ),
        (
            float(np.nanmean(per_class)),
            "that is the mean IoU over the three classes. The question asks for class 0, the item.",
        ),
        (
            float(per_class[1]),
            "that is the IoU of the background (class 1). The item is class 0.",
        ),
        (
            float(per_class[2]),
            "that is the IoU of the border (class 2). The item is class 0.",
        ),
    ]


@exercise_check
def check_iou_by_hand(answer) -> bool:
    """Check the IoU of class 0 (item) for TRUE_MASK and PRED_MASK."""
    given = real_number(
        answer,
        fill_in="replace None by a number between 0 and 1: the IoU of the item class.",
        expected="one number between 0 and 1",
    )
    expected = iou_reference()
    intersection, n_true, n_pred = _counts()
    union = n_true + n_pred - intersection
    if abs(given - expected) <= IOU_TOLERANCE:
        return correct(
            f"{intersection} item pixels are right in both masks (intersection); the union is "
            f"{n_true} true + {n_pred} predicted - {intersection} counted twice = {union}; "
            f"IoU = {intersection}/{union} = {expected:.3f}."
        )
    mistakes = [
        (
            lambda given: 1 < given <= 100 and abs(given / 100 - expected) <= IOU_TOLERANCE,
            "that is a percentage; give the fraction between 0 and 1.",
        ),
        *iou_mistakes(),
        (intersection, f"{intersection} is the intersection, a count of pixels; divide it by the union."),
        (union, f"{union} is the union, a count of pixels; IoU is the intersection divided by it."),
        (lambda given: not 0 <= given <= 1, f"an IoU lies between 0 and 1, got {given}."),
    ]
    return hint(
        first_match(given, mistakes, tolerance=IOU_TOLERANCE)
        or "count the pixels that are 0 in TRUE_MASK, those that are 0 in PRED_MASK, and those that "
        "are 0 in both (the intersection); IoU = intersection / (true + predicted - intersection)."
    )

