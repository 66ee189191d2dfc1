"""Chapter 02 exercises: LeNet-5.

* ``check_s4_shape(answer)`` - the output shape of S4 for a 28x28x1 image, as
  (height, width, channels).
* ``check_c3_params(answer)`` - the number of parameters of C3.
* ``check_modern_change(answer)`` - which change turns the textbooks' 1998 LeNet-5
  (``variant="1998_simplified"``) into the modern one (a letter from ``MODERN_CHANGE_OPTIONS``).

The references are read from ``cv_textbook.models.build("lenet5")`` (and its simplified 1998
variant), the same models the notebook compares its hand-built network with.
"""

from __future__ import annotations

import functools

from cv_textbook.exercises._feedback import (
    correct,
    exercise_check,
    first_match,
    hint,
    letter,
    shape,
    shape_mistakes,
    whole_number,
)

# cv_textbook.models and cv_textbook.analysis import Keras: they are imported inside the functions
# that need them, so that importing this module stays free of Keras and TensorFlow.

__all__ = [
    "C3_PARAMS_QUESTION",
    "MODERN_CHANGE_OPTIONS",
    "MODERN_CHANGE_QUESTION",
    "PAPER_C3_INPUTS",
    "S4_SHAPE_QUESTION",
    "check_c3_params",
    "check_modern_change",
    "check_s4_shape",
]

INPUT_SHAPE = (28, 28, 1)

S4_SHAPE_QUESTION = (
    "LeNet-5 (C1 with padding='same') gets a 28x28x1 image. What is the shape of S4's output, "
    "as (height, width, channels) without the batch axis?"
)
C3_PARAMS_QUESTION = (
    "How many parameters (weights and biases) does C3 have: 16 filters of 5x5 on S2's "
    "output, connected to every S2 map?"
)
MODERN_CHANGE_OPTIONS = {
    "a": "ReLU activations instead of tanh, nothing else",
    "b": "max-pooling instead of average pooling, nothing else",
    "c": "ReLU instead of tanh and max-pooling instead of average pooling",
    "d": "batch normalization after each convolution",
    "e": "more filters, hence more parameters",
    "f": "a softmax output layer instead of the 1998 paper's RBF units",
}
MODERN_CHANGE_QUESTION = (
    "Compare models.build('lenet5') with models.build('lenet5', variant='1998_simplified').\n"
    "What makes the modern LeNet-5 modern? Answer with one letter:\n"
    + "\n".join(f"  {letter}) {text}" for letter, text in MODERN_CHANGE_OPTIONS.items())
)


@functools.lru_cache(maxsize=None)
def _model(variant: str = "modern", c1_padding: str = "same"):
    from cv_textbook import models

    return models.build("lenet5", input_shape=INPUT_SHAPE, variant=variant, c1_padding=c1_padding)


def _shape(variant_or_model, layer_name: str) -> tuple:
    model = variant_or_model if not isinstance(variant_or_model, str) else _model(variant_or_model)
    return tuple(int(d) for d in model.get_layer(layer_name).output.shape[1:])


# ---------------------------------------------------------------------------
# Exercise 1: shape after S4
# ---------------------------------------------------------------------------


@exercise_check
def check_s4_shape(answer) -> bool:
    """Check S4's output shape (height, width, channels) for a 28x28x1 input."""
    given = shape(answer, fill_in="replace None by a tuple (height, width, channels): S4's output shape.")
    expected = _shape("modern", "s4_pool")
    height, width, channels = expected
    s2, c3 = _shape("modern", "s2_pool"), _shape("modern", "c3_conv")
    if given == expected:
        return correct(
            f"28 --C1 'same'--> {_shape('modern', 'c1_conv')[0]} --S2--> {s2[0]} --C3 5x5 'valid'--> "
            f"{c3[0]} --S4--> {height}, with {channels} channels from C3's {channels} filters. "
            f"Flatten then hands {height * width * channels} numbers to C5."
        )
    mistakes = [
        *shape_mistakes(
            expected,
            answer,
            "that is the number of values after Flatten. Give S4's 3-D shape (height, width, "
            "channels) instead.",
        ),
        (
            _shape(_model("modern", "valid"), "s4_pool"),
            "you shrank the image in C1, as with padding='valid'. Our C1 uses padding='same' "
            "(the paper drew its digits on 32x32 canvases to the same effect), so it keeps 28x28.",
        ),
        (
            c3,
            "that is C3's output. S4 is a 2x2 pooling with stride 2: it halves height and width.",
        ),
        (
            (s2[0] // 2, s2[1] // 2, channels),
            f"C3 has no padding: a 5x5 kernel on {s2[0]}x{s2[1]} gives {c3[0]}x{c3[1]} before S4 "
            "halves it.",
        ),
        (
            (height, width, s2[2]),
            f"the height and width are right, but the channels come from C3's {channels} "
            f"filters, not C1's {s2[2]}. Pooling never changes the number of channels.",
        ),
        (s2, "that is S2's output. Continue through C3 and S4."),
    ]
    return hint(
        first_match(given, mistakes)
        or "follow the image layer by layer: C1 (5x5, 'same') keeps the size, each 2x2 pooling "
        "halves it, C3 (5x5, 'valid') removes 4 pixels; the channels are the last "
        "convolution's filters."
    )


# ---------------------------------------------------------------------------
# Exercise 2: parameters of C3
# ---------------------------------------------------------------------------

# The 1998 paper's C3 connection table: how many S2 maps each of the 16 C3 maps reads
# (six read 3 maps, nine read 4, one reads all 6). models.lenet.C3_CONNECTIONS lists the maps
# themselves; it is not imported here, to keep this module free of Keras.
PAPER_C3_INPUTS = (3,) * 6 + (4,) * 9 + (6,)


@exercise_check
def check_c3_params(answer) -> bool:
    """Check the number of parameters of C3 (weights and biases)."""
    from cv_textbook import analysis

    given = whole_number(answer, fill_in="replace None by a number: C3's parameters, weights and biases.")
    model = _model("modern")
    c1, c3 = model.get_layer("c1_conv"), model.get_layer("c3_conv")
    k = c3.kernel_size[0]
    c_in, c_out = c1.filters, c3.filters
    expected = analysis.conv_params(k, c_in, c_out)
    if given == expected:
        return correct(
            f"{k}*{k}*{c_in}*{c_out} weights + {c_out} biases = {expected:,} (Keras agrees: "
            f"c3_conv.count_params() = {c3.count_params():,}). Each of the {c_out} filters "
            f"reads all {c_in} maps of S2."
        )
    c3_height, c3_width, _ = _shape("modern", "c3_conv")
    positions = c3_height * c3_width
    no_bias = analysis.conv_params(k, c_in, c_out, use_bias=False)
    mistakes = [
        (
            no_bias,
            f"you forgot the bias: each filter has one, so add {c_out}.",
        ),
        (
            analysis.conv_params(k, INPUT_SHAPE[2], c_out),
            f"C3's input is not the 1-channel image but S2's output, which has {c_in} channels "
            f"(one per C1 filter). Each filter is {k}x{k}x{c_in}.",
        ),
        (
            analysis.conv_params(k, c_out, c_out),
            f"you multiplied by C3's own {c_out} filters twice. The input channels are S2's "
            f"{c_in} maps: weights = k*k*C_in*C_out.",
        ),
        (
            no_bias + c_in,
            f"there is one bias per filter ({c_out}), not one per input channel ({c_in}).",
        ),
        (
            sum(PAPER_C3_INPUTS) * k * k + c_out,
            "that is the 1998 paper's count, with its sparse connection table where each C3 map "
            f"reads only some S2 maps (variant='1998' builds it). Our C3 connects every one of the "
            f"{c_in} S2 maps.",
        ),
        (
            positions * no_bias,
            f"you multiplied by C3's {positions} output positions: that counts "
            "multiply-accumulates. Weights are shared across positions; count them once.",
        ),
        (
            analysis.conv_params(c1.kernel_size[0], INPUT_SHAPE[2], c1.filters),
            "that is C1's parameter count. C3 is the second convolution.",
        ),
        (
            k * c_in * c_out + c_out,
            f"the kernel is {k}x{k}: {k * k} weights per input channel, not {k}.",
        ),
    ]
    return hint(
        first_match(given, mistakes)
        or "a convolution has k*k*C_in weights per filter plus one bias per filter. For C3: "
        f"k = {k}, C_in = S2's channels, C_out = C3's filters."
    )


# ---------------------------------------------------------------------------
# Exercise 3: what makes modern LeNet modern
# ---------------------------------------------------------------------------


def _activation_name(layer):
    activation = getattr(layer, "activation", None)
    return getattr(activation, "__name__", None)


def _differences():
    """What differs between build('lenet5') and its simplified 1998 variant, by comparing layers."""
    from cv_textbook import analysis

    modern, old = _model("modern"), _model("1998_simplified")
    found = set()
    hidden = ("c1_conv", "c3_conv", "c5_dense", "f6_dense")
    if any(_activation_name(modern.get_layer(n)) != _activation_name(old.get_layer(n)) for n in hidden):
        found.add("activation")
    if any(type(modern.get_layer(n)) is not type(old.get_layer(n)) for n in ("s2_pool", "s4_pool")):
        found.add("pooling")
    if any("BatchNormalization" in type(layer).__name__ for m in (modern, old) for layer in m.layers):
        found.add("batchnorm")
    if analysis.count_params(modern) != analysis.count_params(old):
        found.add("params")
    if _activation_name(modern.get_layer("output")) != _activation_name(old.get_layer("output")):
        found.add("output")
    return found


_OPTION_MEANS = {
    "a": lambda d: d == {"activation"},
    "b": lambda d: d == {"pooling"},
    "c": lambda d: d == {"activation", "pooling"},
    "d": lambda d: "batchnorm" in d,
    "e": lambda d: "params" in d,
    "f": lambda d: "output" in d,
}


@exercise_check
def check_modern_change(answer) -> bool:
    """Check the letter of ``MODERN_CHANGE_OPTIONS`` that describes modern vs 1998 LeNet-5."""
    from cv_textbook import analysis

    given = letter(
        answer,
        MODERN_CHANGE_OPTIONS,
        fill_in="replace None by one letter, e.g. 'a' (the options: print(ch02.MODERN_CHANGE_QUESTION)).",
    )
    differences = _differences()
    right = [key for key, means in _OPTION_MEANS.items() if means(differences)]
    modern, old = _model("modern"), _model("1998_simplified")
    params = analysis.count_params(modern)["total"]
    if given in right:
        return correct(
            f"{MODERN_CHANGE_OPTIONS[given]}. ReLU does not saturate, so gradients do not fade "
            "as they flow back through the layers, and max-pooling keeps the strongest response "
            f"in each window instead of blurring it. Same layers, same {params:,} parameters: only "
            "the activation and the pooling changed."
        )
    pooling = " -> ".join(type(model.get_layer("s2_pool")).__name__ for model in (old, modern))
    activation = " -> ".join(_activation_name(model.get_layer("c1_conv")) for model in (old, modern))
    mistakes = [
        ("a", f"half of it. Look at the pooling layers too: s2_pool is {pooling}."),
        ("b", f"half of it. Look at the activations too: c1_conv uses {activation}."),
        (
            "d",
            "neither model has a BatchNormalization layer (it was invented in 2015); list "
            "[type(l).__name__ for l in model.layers] for both.",
        ),
        (
            "e",
            f"both have {params:,} parameters: the layer sizes are identical (analysis.count_params "
            "on both models shows it).",
        ),
        (
            "f",
            f"both variants end in a {_activation_name(modern.get_layer('output'))} layer here: "
            "replacing the paper's RBF units is a simplification this package applies to both.",
        ),
    ]
    return hint(first_match(given, mistakes) or "compare the layers of the two models again.")
