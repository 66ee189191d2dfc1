"""Chapter 01 exercises: the arithmetic of convolutions.

* ``check_output_size(output_size)`` - a function
  ``output_size(input_size, kernel_size, stride, padding)`` for the spatial size after a
  convolution with ``padding`` zero pixels on each side.
* ``check_param_count(answer)`` - the number of weights of the convolution in
  ``PARAM_COUNT_QUESTION``.
* ``check_receptive_field(answer)`` - the receptive field of the stack in
  ``RECEPTIVE_FIELD_QUESTION``.
* ``check_gap_cnn(model)`` - a small CNN with a global-average-pooling head, built with the
  functional API as ``GAP_CNN_QUESTION`` describes. The check builds the reference with the same
  layers, compares the parameter counts, copies the reference's weights into the student's model
  (``cv_textbook.models.transfer_weights``) and compares the outputs on fixed 28x28 and 56x56
  inputs.

References come from :mod:`cv_textbook.analysis`, which the notebook checks against Keras, and
from the reference network built here with Keras layers.
"""

from __future__ import annotations

import math
import textwrap

import numpy as np

from cv_textbook.exercises._feedback import (
    FillIn,
    Hint,
    a_function,
    as_real,
    correct,
    describe,
    describe_error,
    exercise_check,
    first_match,
    hint,
    is_int,
    is_placeholder,
    results_of,
    same,
    whole_number,
)

# Keras, cv_textbook.analysis and cv_textbook.models are imported inside the functions that need
# them, so that importing this module stays free of Keras and TensorFlow.

__all__ = [
    "GAP_CNN_BLOCKS",
    "GAP_CNN_QUESTION",
    "OUTPUT_SIZE_CASES",
    "OUTPUT_SIZE_QUESTION",
    "PARAM_COUNT_QUESTION",
    "PARAM_QUESTION",
    "RECEPTIVE_FIELD_QUESTION",
    "RECEPTIVE_FIELD_STACK",
    "check_gap_cnn",
    "check_output_size",
    "check_param_count",
    "check_receptive_field",
]

# ---------------------------------------------------------------------------
# Exercise 1: output size of a convolution
# ---------------------------------------------------------------------------

OUTPUT_SIZE_QUESTION = (
    "Write output_size(input_size, kernel_size, stride, padding) returning the width (or "
    "height) of a convolution's output, where `padding` zero pixels are added on each side."
)

# (input_size, kernel_size, stride, padding): strides that do and do not divide evenly.
OUTPUT_SIZE_CASES = (
    (28, 5, 1, 0),
    (28, 5, 1, 2),
    (28, 3, 2, 1),
    (28, 3, 2, 0),
    (32, 5, 3, 1),
    (224, 7, 2, 3),
    (14, 2, 2, 0),
    (9, 3, 4, 2),
)

# Formulas students write by mistake, in the order they are recognised, with their hint.
_OUTPUT_SIZE_MISTAKES = (
    (
        lambda n, k, s, p: (n + 2 * p - k) // s,
        "you forgot the +1. With input_size == kernel_size the kernel fits exactly once, so the "
        "output has 1 pixel, and (n - k) // s alone would give 0.",
    ),
    (
        lambda n, k, s, p: (n + p - k) // s + 1,
        "padding is added on *both* sides of the image: the padded size is n + 2p, not n + p.",
    ),
    (
        lambda n, k, s, p: n + 2 * p - k + 1,
        "your formula ignores the stride. With stride s the kernel jumps s pixels at a time, "
        "so the distance it can travel, n + 2p - k, is divided by s.",
    ),
    (
        lambda n, k, s, p: (n + 2 * p - k) / s + 1,
        "an output size is a whole number of pixels: use floor division // instead of /. "
        "A last window that would run past the edge is dropped.",
    ),
    (
        lambda n, k, s, p: math.ceil((n + 2 * p - k) / s) + 1,
        "you rounded up. A window that would run past the padded edge is dropped, so round "
        "down: (n + 2p - k) // s + 1.",
    ),
    (
        lambda n, k, s, p: (n + 2 * p - k + 1) // s,
        "the +1 belongs outside the division: (n + 2p - k) // s counts the jumps, and the "
        "first position is added once, not divided by the stride.",
    ),
    (
        lambda n, k, s, p: (n - 2 * p - k) // s + 1,
        "padding *adds* pixels around the image: the padded size is n + 2p.",
    ),
    (
        lambda n, k, s, p: (n - k) // s + 1,
        "your formula ignores the padding; the padded input has n + 2p pixels.",
    ),
)


@exercise_check
def check_output_size(output_size) -> bool:
    """Check ``output_size(input_size, kernel_size, stride, padding)`` on several layers."""
    from cv_textbook import analysis

    a_function(
        output_size,
        fill_in="define output_size(input_size, kernel_size, stride, padding) and pass it.",
        example="check_output_size(output_size)",
    )
    results = results_of(
        output_size,
        OUTPUT_SIZE_CASES,
        fill_in="your output_size still returns None; return the formula's value.",
        on_error=lambda case, error: (
            f"output_size{case} raised {describe_error(error)}. It receives four integers: "
            "input_size, kernel_size, stride, padding."
        ),
    )
    expected = [analysis.conv_output_size(n, k, s, p) for n, k, s, p in OUTPUT_SIZE_CASES]
    if all(is_int(result) for result in results) and same(results, expected):
        return correct(
            "output = (n + 2p - k) // s + 1. The padded input has n + 2p pixels, the kernel "
            "can move n + 2p - k pixels in jumps of s, and the first position counts once. "
            "Keras' padding='same' chooses p so that the output is ceil(n / s)."
        )
    not_a_number = next((result for result in results if as_real(result) is None), None)
    mistakes = [
        (
            lambda _: not_a_number is not None,
            f"output_size should return a number, got {describe(not_a_number)}.",
        ),
        (
            expected,
            "the numbers are right, but they are floats (e.g. 13.0). A size is an int: use floor "
            "division // so that shapes like (13, 13, 32) stay integers.",
        ),
        *(
            ([formula(*case) for case in OUTPUT_SIZE_CASES], message)
            for formula, message in _OUTPUT_SIZE_MISTAKES
        ),
    ]
    return hint(first_match(results, mistakes, tolerance=1e-9) or _output_size_hint(results, expected))


def _output_size_hint(results, expected) -> str:
    """The general hint, on the first case the student's function gets wrong."""
    index = next(i for i, (result, right) in enumerate(zip(results, expected)) if not same(result, right))
    n, k, s, p = OUTPUT_SIZE_CASES[index]
    return (
        f"for input_size={n}, kernel_size={k}, stride={s}, padding={p} you return "
        f"{results[index]!r}. Pad first (n + 2p), see how far the kernel can move (subtract k), "
        "count the jumps of size s (floor division) and add the first position."
    )


# ---------------------------------------------------------------------------
# Exercise 2: parameters of a convolution layer
# ---------------------------------------------------------------------------

PARAM_QUESTION = {"height": 16, "width": 16, "in_channels": 32, "filters": 64, "kernel_size": 3}
PARAM_COUNT_QUESTION = textwrap.fill(
    "A Conv2D layer with {filters} filters of size {kernel_size}x{kernel_size} (padding='same', "
    "use_bias=True) is applied to a {height}x{width}x{in_channels} feature map. How many "
    "parameters (weights and biases) does the layer have?".format(**PARAM_QUESTION),
    width=88,
)


def _param_mistakes():
    """(value, hint) for the usual wrong answers to PARAM_COUNT_QUESTION."""
    from cv_textbook import analysis

    q = PARAM_QUESTION
    k, c_in, c_out = q["kernel_size"], q["in_channels"], q["filters"]
    positions = q["height"] * q["width"]  # padding="same", stride 1: output keeps the size
    no_bias = analysis.conv_params(k, c_in, c_out, use_bias=False)
    return [
        (
            no_bias,
            f"you forgot the bias: each filter has one, so add {c_out} (one per output channel).",
        ),
        (
            analysis.conv_params(k, 1, c_out),
            f"each filter spans all {c_in} input channels: one filter has {k}x{k}x{c_in} weights, "
            f"not {k}x{k}.",
        ),
        (
            no_bias + c_in,
            f"there is one bias per *filter* (output channel, {c_out}), not per input channel.",
        ),
        (
            analysis.conv_params(k, c_in, 1),
            f"that is the size of one filter. The layer has {c_out} of them.",
        ),
        (
            k * c_in * c_out + c_out,
            f"the kernel is {k}x{k}: it has k*k = {k * k} weights per input channel, not k.",
        ),
        (
            positions * no_bias,
            f"you multiplied by the {q['height']}x{q['width']} output positions: that counts "
            "multiply-accumulates (the cost), not parameters. A convolution shares the same "
            "weights at every position; that sharing is why it is so much smaller than a dense layer.",
        ),
        (
            positions * analysis.conv_params(k, c_in, c_out),
            f"you multiplied by the {q['height']}x{q['width']} output positions, but the weights "
            "are shared by all positions: count them once.",
        ),
        (
            positions * c_out,
            "that is the number of output values (the feature map's size), not of weights.",
        ),
    ]


@exercise_check
def check_param_count(answer) -> bool:
    """Check the parameter count of the convolution in ``PARAM_COUNT_QUESTION``."""
    from cv_textbook import analysis

    given = whole_number(
        answer, fill_in="replace None by a number (the question: print(ch01.PARAM_COUNT_QUESTION))."
    )
    q = PARAM_QUESTION
    k, c_in, c_out = q["kernel_size"], q["in_channels"], q["filters"]
    expected = analysis.conv_params(k, c_in, c_out)
    if given == expected:
        return correct(
            f"{k}*{k}*{c_in}*{c_out} weights + {c_out} biases = {expected:,}. The image size "
            f"({q['height']}x{q['width']}) does not matter: the same filters slide over every "
            "position. It changes the cost (MACs), not the parameters."
        )
    return hint(
        first_match(given, _param_mistakes())
        or "a Conv2D layer has one k x k x C_in kernel per filter, plus one bias per filter: "
        "k*k*C_in*C_out + C_out. Which of these factors is missing or extra in your answer?"
    )


# ---------------------------------------------------------------------------
# Exercise 3: receptive field of a stack
# ---------------------------------------------------------------------------

# (kernel_size, stride) of each layer, input first.
RECEPTIVE_FIELD_STACK = (
    ("conv 5x5, stride 1", 5, 1),
    ("max-pool 2x2, stride 2", 2, 2),
    ("conv 3x3, stride 1", 3, 1),
    ("max-pool 2x2, stride 2", 2, 2),
    ("conv 3x3, stride 1", 3, 1),
)
RECEPTIVE_FIELD_QUESTION = textwrap.fill(
    "A network applies, in order: "
    + "; ".join(name for name, _, _ in RECEPTIVE_FIELD_STACK)
    + ". How many input pixels wide is the receptive field of one unit of the last layer?",
    width=88,
)


def _receptive_field_mistakes():
    """(value, hint) for the usual wrong answers to RECEPTIVE_FIELD_QUESTION."""
    from cv_textbook import analysis

    windows = [(k, s) for _, k, s in RECEPTIVE_FIELD_STACK]
    convs = [(k, s) for name, k, s in RECEPTIVE_FIELD_STACK if name.startswith("conv")]

    product = 1
    for k, _ in windows:
        product *= k
    return [
        (
            1 + sum(k - 1 for k, _ in windows),
            "you ignored the strides. After a stride-2 pooling, neighbouring units of the next "
            "layer are 2 input pixels apart, so a k x k window there adds (k - 1) x 2 pixels. "
            "Multiply (k - 1) by the product of all earlier strides.",
        ),
        (
            sum(k for k, _ in windows),
            "adding the kernel sizes counts the overlap between neighbouring windows again and "
            "again. Each layer adds (k - 1) times the product of the strides before it, "
            "starting from 1 pixel.",
        ),
        (
            product,
            "receptive fields grow by addition, not multiplication: each layer adds "
            "(k - 1) x (product of earlier strides) pixels.",
        ),
        (
            analysis.receptive_field(convs),
            "you skipped the pooling layers. A pooling window is a window too: it widens the "
            "receptive field and its stride spreads out every later layer.",
        ),
        (
            analysis.receptive_field(windows) - 1,
            "you are one short: start from 1 pixel (a unit of the input sees itself) and add "
            "(k - 1) x jump for each layer.",
        ),
    ]


@exercise_check
def check_receptive_field(answer) -> bool:
    """Check the receptive field of ``RECEPTIVE_FIELD_STACK`` (an int, or a pair (n, n))."""
    from cv_textbook import analysis

    if isinstance(answer, (tuple, list)) and len(answer) == 2 and same(answer[0], answer[1]):
        answer = answer[0]  # a square field given as (height, width)
    given = whole_number(
        answer,
        fill_in="replace None by a number of pixels (the question: print(ch01.RECEPTIVE_FIELD_QUESTION)).",
        expected="one whole number of pixels",
    )
    windows = [(k, s) for _, k, s in RECEPTIVE_FIELD_STACK]
    expected = analysis.receptive_field(windows)
    if given == expected:
        steps = analysis.receptive_field(windows, per_layer=True)
        trail = " -> ".join(str(r) for r in steps)
        return correct(
            f"the receptive field grows {trail} pixels. Each layer adds (k - 1) times the "
            "jump, the product of the strides before it: the poolings make later 3x3 "
            "convolutions see much more of the image."
        )
    return hint(
        first_match(given, _receptive_field_mistakes())
        or "start with r = 1 and jump j = 1; for each layer in order, r += (k - 1) * j, then "
        "j *= s. Write the values down layer by layer."
    )


# ---------------------------------------------------------------------------
# Exercise 4: build a CNN with a global-average-pooling head
# ---------------------------------------------------------------------------

GAP_CNN_BLOCKS = (16, 32)  # filters of the two convolution blocks, in order
GAP_CNN_KERNEL = 3
GAP_CNN_CLASSES = 10
GAP_CNN_QUESTION = textwrap.fill(
    "Build with the functional API a CNN that sorts grey images of any height and width into "
    f"{GAP_CNN_CLASSES} classes: two blocks, each a Conv2D with {GAP_CNN_KERNEL}x{GAP_CNN_KERNEL} "
    "kernels, padding='same' and a ReLU, followed by MaxPooling2D(2), with "
    f"{GAP_CNN_BLOCKS[0]} filters in the first block and {GAP_CNN_BLOCKS[1]} in the second; then "
    f"GlobalAveragePooling2D and Dense({GAP_CNN_CLASSES}, activation='softmax'). Store the "
    "keras.Model in gap_cnn.",
    width=88,
)
# The fixed inputs the outputs are compared on: the training size, and twice as large.
_GAP_CNN_SIZES = (28, 56)
_TOLERANCE = {"atol": 1e-5, "rtol": 1e-4}


def _gap_cnn(
    input_shape=(None, None, 1),
    activations=("relu", "relu"),
    padding="same",
    pooling="max",
    head="gap",
    output_activation="softmax",
):
    """The exercise's network; the keyword arguments build the typical wrong versions of it."""
    import keras
    from keras import layers

    pool = {"max": layers.MaxPooling2D, "average": layers.AveragePooling2D}.get(pooling)
    inputs = keras.Input(input_shape, name="image")
    x = inputs
    for number, (filters, activation) in enumerate(zip(GAP_CNN_BLOCKS, activations), start=1):
        x = layers.Conv2D(filters, GAP_CNN_KERNEL, padding=padding, activation=activation,
                          name=f"conv{number}")(x)
        if pool is not None:
            x = pool(2, name=f"pool{number}")(x)
    x = {"gap": layers.GlobalAveragePooling2D, "gmp": layers.GlobalMaxPooling2D}[head](name="gap")(x)
    outputs = layers.Dense(GAP_CNN_CLASSES, activation=output_activation, name="output")(x)
    return keras.Model(inputs, outputs, name="gap_cnn_reference")


def _seeded_reference():
    """The reference with fixed, non-zero weights (He-scaled kernels, small random biases), so
    that every mistake changes the outputs."""
    rng = np.random.default_rng(1)
    reference = _gap_cnn()
    for layer in reference.layers:
        if layer.weights:
            kernel, bias = layer.get_weights()
            fan_in = int(np.prod(kernel.shape[:-1]))
            layer.set_weights([
                rng.normal(0.0, math.sqrt(2.0 / fan_in), kernel.shape).astype("float32"),
                rng.normal(0.0, 0.1, bias.shape).astype("float32"),
            ])
    return reference


def _fixed_images(size: int) -> np.ndarray:
    return np.random.default_rng(size).uniform(size=(4, size, size, 1)).astype("float32")


def _outputs(model, images) -> np.ndarray:
    import keras

    return keras.ops.convert_to_numpy(model(images, training=False))


def _a_model(answer):
    """The student's keras.Model (a function that returns one is called); FillIn or Hint else."""
    import keras

    fill = ("build the network and store the keras.Model in gap_cnn (the question: "
            "print(ch01.GAP_CNN_QUESTION)).")
    if is_placeholder(answer):
        raise FillIn(fill)
    if callable(answer) and not isinstance(answer, keras.layers.Layer):
        try:
            answer = answer()
        except Exception as error:  # the student's function may fail: report it
            raise Hint(f"calling your function raised {describe_error(error)}. Pass the model itself: "
                       "gap_cnn = keras.Model(inputs, outputs).") from None
        if is_placeholder(answer):
            raise FillIn(fill)
    if isinstance(answer, keras.KerasTensor):
        raise Hint("that is the network's output tensor. Wrap the input and the output into a model: "
                   "gap_cnn = keras.Model(inputs, outputs).")
    if not isinstance(answer, keras.Model):
        raise Hint("pass the keras.Model itself (gap_cnn = keras.Model(inputs, outputs)), got "
                   f"{describe(answer)}.")
    if not answer.built:
        raise Hint("your model has no weights yet: start it with inputs = keras.Input(...), so that Keras "
                   "builds every layer.")
    return answer


def _weighted_layers(model) -> list:
    return [layer for layer in model.layers if layer.weights]


def _layer_count(layer) -> int:
    return sum(int(np.prod(weight.shape)) for weight in layer.weights)


def _head_mistake(student):
    """A Flatten head where the question asks for global average pooling, or None."""
    import keras

    kinds = [type(layer) for layer in student.layers]
    if keras.layers.Flatten in kinds and keras.layers.GlobalAveragePooling2D not in kinds:
        return ("you flattened the feature map. Flatten gives the Dense layer one weight per position "
                "and channel, so the head's size depends on the image size; GlobalAveragePooling2D "
                "averages each channel over all positions, and the Dense layer then sees one number "
                "per channel, whatever the image size.")
    return None


def _layer_mistake(number: int, mine, theirs) -> str:
    """Why the student's weighted layer ``number`` (1-based) has another parameter count."""
    import keras

    if type(mine) is not type(theirs):
        return (f"your weighted layer #{number} is a {type(mine).__name__}, the reference's is a "
                f"{type(theirs).__name__}. The layers with weights are, in order: "
                + ", ".join(f"Conv2D with {filters} filters" for filters in GAP_CNN_BLOCKS)
                + f", Dense with {GAP_CNN_CLASSES} units.")
    if isinstance(theirs, keras.layers.Conv2D):
        block = "first" if number == 1 else "second"
        if tuple(mine.kernel_size) != tuple(theirs.kernel_size):
            return (f"the {block} convolution has {mine.kernel_size[0]}x{mine.kernel_size[1]} kernels; the "
                    f"question asks for {GAP_CNN_KERNEL}x{GAP_CNN_KERNEL} (kernel_size={GAP_CNN_KERNEL}).")
        if mine.filters != theirs.filters:
            return (f"the {block} block has {mine.filters} filters; the question asks for "
                    f"{GAP_CNN_BLOCKS[0]} in the first block, then {GAP_CNN_BLOCKS[1]} in the second.")
        if number == 1 and mine.kernel.shape[2] != theirs.kernel.shape[2]:
            return (f"your input has {mine.kernel.shape[2]} channels. Fashion-MNIST images are grey: one "
                    "channel, so the input shape ends with 1.")
        if not mine.use_bias:
            return f"the {block} convolution has no biases; keep Conv2D's default use_bias=True."
    if isinstance(theirs, keras.layers.Dense):
        if mine.units != theirs.units:
            return f"the output layer has {mine.units} units; there are {theirs.units} classes."
        if mine.kernel.shape[0] != theirs.kernel.shape[0]:
            return (f"the Dense layer receives {mine.kernel.shape[0]} numbers per image; after global "
                    f"average pooling it should receive one per channel of the last block, "
                    f"{theirs.kernel.shape[0]}.")
    return (f"your layer {mine.name!r} has {_layer_count(mine):,} parameters, the reference's "
            f"{_layer_count(theirs):,}.")


def _structure_hint(student, reference) -> str:
    mine, theirs = _weighted_layers(student), _weighted_layers(reference)
    total, expected = student.count_params(), reference.count_params()
    start = f"your model has {total:,} parameters, the reference {expected:,}: "
    if len(mine) != len(theirs):
        return start + (
            f"it has {len(mine)} layers with weights ("
            + ", ".join(type(layer).__name__ for layer in mine)
            + f"), the reference {len(theirs)} (" + ", ".join(type(layer).__name__ for layer in theirs)
            + "). Pooling layers have no weights; count your Conv2D and Dense layers."
        )
    number, pair = next(
        (number, pair) for number, pair in enumerate(zip(mine, theirs), start=1)
        if _layer_count(pair[0]) != _layer_count(pair[1]) or type(pair[0]) is not type(pair[1])
    )
    return start + _layer_mistake(number, *pair)


# (keyword arguments of _gap_cnn, hint): wrong networks whose parameter count is the right one,
# recognised by their outputs once the reference's weights are copied into them.
_GAP_CNN_OUTPUT_MISTAKES = (
    (
        {"activations": (None, None)},
        "your convolutions have no ReLU. Without a nonlinearity two convolutions in a row are one "
        "linear map; pass activation='relu' to each Conv2D.",
    ),
    *(
        (
            {"activations": activations},
            "one of your two convolutions has no ReLU: pass activation='relu' to both.",
        )
        for activations in ((None, "relu"), ("relu", None))
    ),
    (
        {"padding": "valid"},
        "your convolutions use padding='valid', which trims a pixel on every side (28 -> 26). The "
        "question asks for padding='same', which keeps the size.",
    ),
    (
        {"pooling": None},
        "the max-pooling layers are missing: each block ends with MaxPooling2D(2), which halves "
        "height and width. (The parameter count cannot show it: pooling has no weights and global "
        "average pooling accepts any size.)",
    ),
    (
        {"pooling": "average"},
        "you used AveragePooling2D inside the blocks; the question asks for MaxPooling2D(2), which "
        "keeps the strongest response of each 2x2 window.",
    ),
    (
        {"head": "gmp"},
        "GlobalMaxPooling2D keeps each channel's maximum; the question asks for its average: "
        "GlobalAveragePooling2D.",
    ),
    (
        {"output_activation": None},
        "the outputs are not probabilities: give the last layer activation='softmax', so that the "
        "10 scores of an image are positive and sum to 1.",
    ),
)


def _output_hint(student_outputs, images, reference) -> str:
    from cv_textbook.models import transfer_weights

    for changes, message in _GAP_CNN_OUTPUT_MISTAKES:
        wrong = transfer_weights(reference, _gap_cnn(**changes))
        if np.allclose(student_outputs, _outputs(wrong, images), **_TOLERANCE):
            return message
    if not np.allclose(student_outputs.sum(axis=-1), 1.0, atol=1e-4):
        return _GAP_CNN_OUTPUT_MISTAKES[-1][1]
    difference = float(np.abs(student_outputs - _outputs(reference, images)).max())
    return (
        "your model has the right number of parameters, but with the reference's weights copied it "
        f"computes something else on the same {images.shape[1]}x{images.shape[2]} images (largest "
        f"difference {difference:.3g}). Check the order: Conv2D (ReLU) -> MaxPooling2D, twice, then "
        "GlobalAveragePooling2D -> Dense with softmax."
    )


def _run(model, images, what: str) -> np.ndarray:
    """The model's outputs; Hint (naming the input size) when it cannot take the images."""
    try:
        return _outputs(model, images)
    except Exception as error:  # a wrong input shape, a layer that rejects the size, ...
        raise Hint(
            f"your model cannot take {what} of shape {images.shape}: {describe_error(error).splitlines()[0]}"
        ) from None


@exercise_check
def check_gap_cnn(model) -> bool:
    """Check the student's GAP network against the reference: parameter count, then the outputs
    with the reference's weights copied, on 28x28 and 56x56 inputs. The student's model is left
    as it was (the weights go into a clone)."""
    import keras

    from cv_textbook.models import transfer_weights

    student = _a_model(model)
    reference = _seeded_reference()
    flat_hint = _head_mistake(student)
    if flat_hint:
        return hint(flat_hint)
    if student.count_params() != reference.count_params():
        return hint(_structure_hint(student, reference))
    try:
        student = keras.models.clone_model(student)
        transfer_weights(reference, student)
    except ValueError as error:
        return hint(f"the parameter count is right, but the layers do not line up with the reference's: "
                    f"{error}")
    small, large = (_fixed_images(size) for size in _GAP_CNN_SIZES)
    outputs = _run(student, small, "28x28 images")
    if outputs.shape != (len(small), GAP_CNN_CLASSES) or not np.allclose(
            outputs, _outputs(reference, small), **_TOLERANCE):
        if outputs.shape != (len(small), GAP_CNN_CLASSES):
            return hint(f"your model returns shape {outputs.shape} for {len(small)} images; expected one "
                        f"row of {GAP_CNN_CLASSES} class probabilities per image.")
        return hint(_output_hint(outputs, small, reference))
    height, width = tuple(student.input_shape)[1:3]
    if height is not None or width is not None:
        return hint(
            f"your network computes the right outputs on 28x28 images, but its input is fixed at "
            f"{height}x{width}, so Keras refuses a larger image. Leave height and width open, "
            "keras.Input((None, None, 1)): the global average pooling head works at any size."
        )
    larger = _run(student, large, f"{large.shape[1]}x{large.shape[2]} images")
    if not np.allclose(larger, _outputs(reference, large), **_TOLERANCE):
        return hint(_output_hint(larger, large, reference))
    head = _layer_count(reference.get_layer("output"))
    side = _GAP_CNN_SIZES[0] // 2 ** len(GAP_CNN_BLOCKS)
    flatten_head = side * side * GAP_CNN_BLOCKS[-1] * GAP_CNN_CLASSES + GAP_CNN_CLASSES
    return correct(
        f"{reference.count_params():,} parameters, like the reference, and with its weights copied "
        f"your network gives the same class probabilities on {_GAP_CNN_SIZES[0]}x{_GAP_CNN_SIZES[0]} and "
        f"{_GAP_CNN_SIZES[1]}x{_GAP_CNN_SIZES[1]} images. The head's Dense layer has {head:,} "
        f"parameters at every image size ({GAP_CNN_BLOCKS[-1]} channel averages x {GAP_CNN_CLASSES} "
        f"classes + {GAP_CNN_CLASSES} biases); a Flatten head on the {side}x{side}x{GAP_CNN_BLOCKS[-1]} "
        f"map of a 28x28 image would need {flatten_head:,}, and another number for every image size."
    )
