"""Chapter 02 exercises: LeNet-5.

* ``check_s4_shape(answer)`` - the output shape of S4 for a 28x28x1 image, as
  (height, width, channels).
* ``check_c3_params(answer)`` - the number of parameters of C3.
* ``check_modern_change(answer)`` - which change turns the textbooks' 1998 LeNet-5
  (``variant="1998_simplified"``) into the modern one (a letter from ``MODERN_CHANGE_OPTIONS``).
* ``check_paper_features(build)`` - a function ``build(inputs) -> S4's maps`` that builds the
  1998 paper's feature extractor, C1 to S4 (``PAPER_FEATURES_TASK``).

The references are read from ``cv_textbook.models.build("lenet5")`` (and its 1998 variants), the
same models the notebook compares its hand-built networks with. The feature extractor is checked
as the package's models are: built, its parameters counted against
``build("lenet5", variant="1998", include_top=False)``, that model's weights copied into it
(``models.transfer_weights``) and both outputs compared on a fixed input.
"""

from __future__ import annotations

import functools

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
    letter,
    results_of,
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
    "PAPER_FEATURES_TASK",
    "S4_SHAPE_QUESTION",
    "check_c3_params",
    "check_modern_change",
    "check_paper_features",
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


# ---------------------------------------------------------------------------
# Exercise 4: build the 1998 paper's feature extractor, C1 to S4
# ---------------------------------------------------------------------------

PAPER_FEATURES_TASK = (
    "Write paper_features(inputs): from a 28x28x1 keras.Input to S4's maps, the 1998 paper's C1 "
    "(six 5x5 filters, padding='same'), S2 (trainable subsampling), C3 (16 maps of 5x5 kernels "
    "connected by Table I) and S4 (trainable subsampling), each squashed by the paper's scaled "
    "tanh. The pieces: keras.layers.Conv2D, and TrainableSubsampling, ConnectionTableConv2D and "
    "scaled_tanh from cv_textbook.models.layers."
)
# The input every build is compared on: fixed, so that feedback never changes between runs.
_FIXED_INPUT_SEED = 2
# Outputs are squashed into (-1.7159, 1.7159); the same float32 operations in another order
# differ by a few units in the last place (~1e-7), a wrong layer by far more.
_OUTPUT_TOLERANCE = 1e-5


@functools.lru_cache(maxsize=None)
def _paper_reference():
    """The package's 1998 feature extractor, its weights set to random values (seeded) so that every
    weight, biases included, changes the output, and its S4 maps for the fixed input."""
    from cv_textbook import models

    reference = _float32(
        lambda: models.build("lenet5", input_shape=INPUT_SHAPE, variant="1998", include_top=False)
    )
    rng = np.random.default_rng(0)
    reference.set_weights([rng.normal(0.0, 0.5, w.shape).astype("float32") for w in reference.get_weights()])
    return reference, _outputs(reference)


def _fixed_input():
    return np.random.default_rng(_FIXED_INPUT_SEED).uniform(0.0, 1.0, (4, *INPUT_SHAPE)).astype("float32")


def _outputs(model):
    return np.asarray(model(_fixed_input()), dtype="float64")


def _float32(build):
    """``build()`` under the float32 dtype policy, the caller's policy restored: a notebook on a GPU
    trains in mixed precision, whose rounding would fail every comparison of outputs."""
    import keras

    policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32")
    try:
        return build()
    finally:
        keras.config.set_dtype_policy(policy)


def _error_hint(case, error) -> str:
    message = f"calling your function on keras.Input(shape={INPUT_SHAPE}) raised {describe_error(error)}"
    if "connections[" in str(error):  # ConnectionTableConv2D refused the table
        message += (
            " ConnectionTableConv2D takes one entry per C3 map (16 of them), each listing the S2 maps "
            "that C3 map reads: Table I's columns, not its rows."
        )
    return message


def _model_of(features, fill_in=None):
    """The model from a 28x28x1 input through ``features``; a student's function that fails, returns
    a placeholder or returns no tensor ends the check with its feedback."""
    import keras

    def build():
        inputs = keras.Input(shape=INPUT_SHAPE, name="image")
        (outputs,) = results_of(features, [(inputs,)], fill_in=fill_in, on_error=_error_hint)
        try:
            return keras.Model(inputs, outputs, name="paper_features")
        except Exception:  # not a tensor of this graph: say what came back
            raise Hint(f"return S4's output, the tensor its layer gives; got {describe(outputs)}.") from None

    return _float32(build)


def _with_mistake(activation, subsampling_activation):
    """The paper's C1 to S4 with other squashing functions: what a typical mistake builds."""
    from keras import layers

    from cv_textbook.models.layers import ConnectionTableConv2D, TrainableSubsampling
    from cv_textbook.models.lenet import C3_CONNECTIONS

    def features(inputs):
        x = layers.Conv2D(6, 5, padding="same", activation=activation)(inputs)
        x = TrainableSubsampling(2, activation=subsampling_activation)(x)
        x = ConnectionTableConv2D(C3_CONNECTIONS, 5, activation=activation)(x)
        return TrainableSubsampling(2, activation=subsampling_activation)(x)

    return _model_of(features)


def _weighted_counts(model) -> list[int]:
    return [layer.count_params() for layer in model.layers if layer.weights]


def _tables(model) -> list:
    from cv_textbook.models.layers import ConnectionTableConv2D

    return [layer.connections for layer in model.layers if isinstance(layer, ConnectionTableConv2D)]


def _shape_hint(given, stages) -> str:
    c1, s2, c3, s4 = stages
    mistakes = [
        (_shape(_model("modern", "valid"), "s4_pool"),
         "your C1 shrinks the image, as padding='valid' does: give C1 padding='same' (the paper's "
         "32x32 canvases) so that it keeps 28x28."),
        (c3, "that is C3's output: S4 still has to subsample it."),
        (s2, "that is S2's output: C3 and S4 still have to follow."),
        (c1, "that is C1's output: S2, C3 and S4 still have to follow."),
        ((s4[0], s4[1], s2[2]),
         f"your C3 has {s2[2]} maps, not {s4[2]}: ConnectionTableConv2D takes one entry per C3 map, "
         f"each listing the S2 maps it reads: Table I's {s4[2]} columns, not its {s2[2]} rows."),
    ]
    return first_match(given, mistakes) or (
        f"S4's maps should be {s4} for a 28x28x1 image (C1 {c1}, S2 {s2}, C3 {c3}); yours are {given}."
    )


@exercise_check
def check_paper_features(build) -> bool:
    """Check a function that builds the 1998 paper's C1 to S4 on a keras.Input."""
    from cv_textbook import analysis, models
    from cv_textbook.models.layers import scaled_tanh
    from cv_textbook.models.lenet import C3_CONNECTIONS

    fill_in = "write paper_features(inputs): C1, S2, C3 and S4, returning S4's output."
    a_function(build, fill_in=fill_in, example="ch02.check_paper_features(paper_features)")
    model = _model_of(build, fill_in)
    reference, expected = _paper_reference()
    stages = [_shape(reference, name) for name in ("c1_conv", "s2_pool", "c3_conv", "s4_pool")]
    output_shape = model.output_shape
    if not isinstance(output_shape, tuple) or not all(isinstance(d, int) for d in output_shape[1:]):
        return hint(f"return one tensor, S4's maps; your function returned {output_shape} shapes.")
    given_shape = tuple(output_shape[1:])
    if given_shape != stages[-1]:
        return hint(_shape_hint(given_shape, stages))

    counts, paper_counts = _weighted_counts(model), _weighted_counts(reference)
    s2_maps, c3_maps = stages[1][2], stages[2][2]
    full_c3 = analysis.conv_params(5, s2_maps, c3_maps)
    pairs = sum(len(inputs) for inputs in C3_CONNECTIONS)
    listed = ", ".join(f"{count:,}" for count in paper_counts)
    mistakes = [
        (lambda _: full_c3 in counts,
         f"your C3 has {full_c3:,} parameters, every C3 map reading all {s2_maps} S2 maps (the full "
         f"table). The paper's Table I connects only {pairs} (C3 map, S2 map) pairs: {pairs} x 25 weights "
         f"+ {c3_maps} biases = {paper_counts[2]:,}. Use ConnectionTableConv2D with the table's "
         "connections."),
        (lambda _: len(counts) < len(paper_counts),
         "S2 and S4 have weights in the paper: each map's window sum is multiplied by a trainable "
         f"coefficient and shifted by a trainable bias, 2 parameters per map ({paper_counts[1]} in S2, "
         f"{paper_counts[3]} in S4). Pooling layers have none: use TrainableSubsampling."),
    ]
    if counts != paper_counts:
        return hint(
            first_match(counts, mistakes)
            or f"your layers hold {', '.join(f'{c:,}' for c in counts)} parameters; the paper's C1, S2, C3 "
            f"and S4 hold {listed} ({sum(paper_counts):,} in all)."
        )
    try:
        models.transfer_weights(reference, model)
    except ValueError as error:
        return hint(
            "your layers have the paper's parameter counts but not the package's kinds of layers, so its "
            f"weights cannot be copied into them: {error}"
        )
    given = _outputs(model)
    if np.allclose(given, expected, rtol=0.0, atol=_OUTPUT_TOLERANCE):
        return correct(
            f"C1 {paper_counts[0]:,} + S2 {paper_counts[1]:,} + C3 {paper_counts[2]:,} + S4 "
            f"{paper_counts[3]:,} = {sum(paper_counts):,} parameters, as in models.build('lenet5', "
            "variant='1998', include_top=False); with its weights copied in, your network computes the "
            f"same {stages[-1]} maps of S4 on a fixed input."
        )
    for table in _tables(model):
        wrong = [o for o, (mine, paper) in enumerate(zip(table, C3_CONNECTIONS)) if set(mine) != set(paper)]
        if wrong:
            first = wrong[0]
            return hint(
                f"your C3 table differs from Table I in {len(wrong)} of its {len(C3_CONNECTIONS)} maps: C3 "
                f"map {first} reads S2 maps {table[first]}, the paper's reads {C3_CONNECTIONS[first]}."
            )
    squashing = [
        (("tanh", "tanh"),
         "your network squashes with tanh; the paper's units use f(a) = 1.7159 tanh(2a/3) "
         "(scaled_tanh), in C1, S2, C3 and S4."),
        ((scaled_tanh, None),
         "the paper's subsampling units are squashed too: TrainableSubsampling(2, "
         "activation=scaled_tanh)."),
        (("tanh", None),
         "two things: the paper's units use f(a) = 1.7159 tanh(2a/3) (scaled_tanh), and its "
         "subsampling units are squashed too."),
        ((None, scaled_tanh),
         "C1 and C3 need the squashing function as well: activation=scaled_tanh."),
    ]
    for (activation, subsampling_activation), message in squashing:
        mistaken = _with_mistake(activation, subsampling_activation)
        models.transfer_weights(reference, mistaken)
        if np.allclose(given, _outputs(mistaken), rtol=0.0, atol=_OUTPUT_TOLERANCE):
            return hint(message)
    return hint(
        "your layers have the paper's parameters but compute other S4 maps from the same weights. "
        "Check the order C1, S2, C3, S4, C1's padding='same', and that every one of them is squashed by "
        "scaled_tanh."
    )
