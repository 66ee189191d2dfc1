"""Chapter 01 exercises: the arithmetic of convolutions.

* ``check_output_size(output_size)`` - a function
  ``output_size(input_size, kernel_size, stride, padding)`` for the spatial size after a
  convolution with ``padding`` zero pixels on each side.
* ``check_param_count(answer)`` - the number of weights of the convolution in
  ``PARAM_COUNT_QUESTION``.
* ``check_receptive_field(answer)`` - the receptive field of the stack in
  ``RECEPTIVE_FIELD_QUESTION``.

References come from :mod:`cv_textbook.analysis`, which the notebook checks against Keras.
"""

from __future__ import annotations

import math
import textwrap

from cv_textbook.exercises._feedback import (
    a_function,
    as_real,
    correct,
    describe,
    describe_error,
    exercise_check,
    first_match,
    hint,
    is_int,
    results_of,
    same,
    whole_number,
)

# cv_textbook.analysis imports Keras: it is imported inside the functions that need it, so that
# importing this module stays free of Keras and TensorFlow.

__all__ = [
    "OUTPUT_SIZE_CASES",
    "OUTPUT_SIZE_QUESTION",
    "PARAM_COUNT_QUESTION",
    "PARAM_QUESTION",
    "RECEPTIVE_FIELD_QUESTION",
    "RECEPTIVE_FIELD_STACK",
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
