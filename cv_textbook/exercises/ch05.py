"""Chapter 05 exercises: GoogLeNet.

* ``check_output_depth(answer)`` - the number of channels Inception module 3a outputs (Table 1's
  row: #1×1 64, #3×3 reduce 96, #3×3 128, #5×5 reduce 16, #5×5 32, pool proj 32).
* ``check_reduction_savings(answer)`` - the parameters of 3a's 5×5 branch on its 28×28×192 input,
  without the 1×1 reduction and with it, as a pair (naive, reduced), biases included.
* ``check_inception_module(build)`` - a function ``build(x, widths)`` that BUILDS an Inception
  module (four branches, concatenated) with the Keras functional API. The check builds it for two
  rows of Table 1 at the classroom's quarter width, compares its parameters with
  ``cv_textbook.models.googlenet.inception_module``, copies that module's weights into it and
  compares the outputs on a fixed input; typical mistakes get their own hint.

The references are computed by building the modules with ``cv_textbook.models.googlenet`` (the
code behind ``models.build("googlenet")``) and counting, never typed in.
"""

from __future__ import annotations

import functools

from cv_textbook.exercises._feedback import (
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
    probe,
    randomised,
    trainable_params,
    whole_number,
)

# Keras and cv_textbook.models are imported inside the functions that need them, so that importing
# this module stays free of Keras and TensorFlow.

__all__ = [
    "BUILD_CASES",
    "BUILD_QUESTION",
    "MODULE_3A_INPUT",
    "OUTPUT_DEPTH_QUESTION",
    "SAVINGS_QUESTION",
    "check_inception_module",
    "check_output_depth",
    "check_reduction_savings",
]

# Module 3a at 224×224: a 28×28×192 input (Szegedy et al. 2014, Table 1).
MODULE_3A_INPUT = (28, 28, 192)
MODULE_3A = "3a"

OUTPUT_DEPTH_QUESTION = (
    "Inception module 3a has Table 1's row #1x1 = 64, #3x3 reduce = 96, #3x3 = 128, #5x5 reduce = 16, "
    "#5x5 = 32, pool proj = 32, and receives a 28x28x192 map. How many channels does its output have?"
)
SAVINGS_QUESTION = (
    "The 5x5 branch of module 3a (input 28x28x192, 32 filters of 5x5). Count its parameters, biases "
    "included, (1) naive: the 5x5 convolution straight on the 192 channels, and (2) as GoogLeNet "
    "builds it: a 1x1 reduction to 16 channels (with its ReLU), then the 5x5 convolution. Answer with "
    "the pair (naive, reduced)."
)
BUILD_QUESTION = (
    "Write inception(x, widths): an Inception module (Fig. 2(b)) with the Keras functional API. "
    "widths is a row of Table 1: (n1x1, n3x3_reduce, n3x3, n5x5_reduce, n5x5, pool_proj). Four "
    "branches read x: (1) 1x1 convolution with n1x1 filters; (2) 1x1 convolution with n3x3_reduce "
    "filters, then 3x3 with n3x3; (3) 1x1 with n5x5_reduce, then 5x5 with n5x5; (4) 3x3 max-pooling "
    "with stride 1 and padding='same', then a 1x1 convolution with pool_proj filters. Every "
    "convolution has padding='same', a bias and a ReLU. Concatenate the four branches along the "
    "channels in that order and return the output tensor."
)


def _table_row(module: str, divisor: int = 1) -> tuple:
    from cv_textbook.models import googlenet

    return tuple(width // divisor for width in googlenet.TABLE_1[module])


def _depth_of(widths) -> int:
    ones, _, threes, _, fives, pool_proj = widths
    return ones + threes + fives + pool_proj


# ---------------------------------------------------------------------------
# Exercise 1: the output depth of module 3a
# ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _module_model(module: str, input_shape: tuple, divisor: int = 1):
    """The package's Inception module ``module`` (widths divided by ``divisor``) on ``input_shape``."""
    import keras

    from cv_textbook.models import googlenet

    inputs = keras.Input(shape=input_shape, name="x")
    outputs = googlenet.inception_module(inputs, _table_row(module, divisor), f"inception_{module}")
    return keras.Model(inputs, outputs, name=f"inception_{module}")


@exercise_check
def check_output_depth(answer) -> bool:
    """Check the number of channels module 3a outputs."""
    given = whole_number(answer, fill_in="replace None by a number: the channels of 3a's output.")
    expected = int(_module_model(MODULE_3A, MODULE_3A_INPUT).output.shape[-1])
    ones, reduce3, threes, reduce5, fives, pool_proj = _table_row(MODULE_3A)
    channels = MODULE_3A_INPUT[2]
    if given == expected:
        return correct(
            f"the concatenation stacks the four branches' outputs: {ones} + {threes} + {fives} + "
            f"{pool_proj} = {expected}. The reductions ({reduce3} and {reduce5}) feed the 3x3 and 5x5 "
            "convolutions and do not reach the output."
        )
    mistakes = [
        (sum(_table_row(MODULE_3A)), "you added all six numbers of the row. The 3x3 and 5x5 reductions "
         "feed their branch's larger convolution; only the last layer of each branch reaches the output."),
        (ones + threes + fives + channels, "the pooling branch does not pass its 192 channels on: its 1x1 "
         f"projection ('pool proj') turns them into {pool_proj}."),
        (ones + threes + fives, "four branches are concatenated: do not forget the pooling branch "
         "and its projection."),
        (max(ones, threes, fives, pool_proj), "the branches are concatenated along the channels, not "
         "added or chosen from: their channel counts add up."),
        (channels, "that is the input's depth. Each branch sets its own number of channels, and the "
         "concatenation stacks them."),
        (MODULE_3A_INPUT[0] * MODULE_3A_INPUT[1] * expected, "that is the number of values in the output "
         "map. The question asks for its channels only."),
    ]
    return hint(first_match(given, mistakes) or "add up the channels of the last layer of each of the "
                "four branches: #1x1, #3x3, #5x5 and pool proj.")


# ---------------------------------------------------------------------------
# Exercise 2: what the 1×1 reduction saves in 3a's 5×5 branch
# ---------------------------------------------------------------------------


def _branch5_params(reduced: bool, use_bias: bool = True) -> int:
    """Parameters of 3a's 5×5 branch on 192 channels, counted with the package's formula."""
    from cv_textbook import analysis

    _, _, _, reduce5, fives, _ = _table_row(MODULE_3A)
    channels = MODULE_3A_INPUT[2]
    if not reduced:
        return analysis.conv_params(5, channels, fives, use_bias=use_bias)
    return (analysis.conv_params(1, channels, reduce5, use_bias=use_bias)
            + analysis.conv_params(5, reduce5, fives, use_bias=use_bias))


@functools.lru_cache(maxsize=None)
def _branch5_built() -> int:
    """The reduced branch's parameters as built by the package (its two convolutions' weights)."""
    model = _module_model(MODULE_3A, MODULE_3A_INPUT)
    return sum(model.get_layer(name).count_params() for name in ("inception_3a_5x5_reduce", "inception_3a_5x5"))


@exercise_check
def check_reduction_savings(answer) -> bool:
    """Check the pair (naive, reduced): 3a's 5×5 branch without and with its 1×1 reduction."""
    fill = "replace None by a pair (naive, reduced) of parameter counts."
    if answer is None or answer is Ellipsis or answer is NotImplemented:
        return whole_number(None, fill_in=fill)
    if not isinstance(answer, (tuple, list)) or len(answer) != 2:
        raise Hint(f"answer with a pair of two whole numbers (naive, reduced), got {describe(answer)}.")
    naive = whole_number(answer[0], fill_in=fill, expected="a whole number for the naive branch")
    reduced = whole_number(answer[1], fill_in=fill, expected="a whole number for the reduced branch")
    expected = (_branch5_params(False), _branch5_built())
    _, _, _, reduce5, fives, _ = _table_row(MODULE_3A)
    channels = MODULE_3A_INPUT[2]
    if (naive, reduced) == expected:
        return correct(
            f"naive 5x5x{channels}x{fives} + {fives} = {expected[0]:,}; reduced 1x1x{channels}x{reduce5} + "
            f"{reduce5} and 5x5x{reduce5}x{fives} + {fives} = {expected[1]:,}: {expected[0] / expected[1]:.1f} "
            "times fewer. The multiply-accumulates shrink by the same factor, since every layer of the "
            "branch works on the same 28x28 positions."
        )
    if (reduced, naive) == expected:
        return hint("the numbers are right but swapped: the naive branch (no reduction) comes first.")
    without_bias = (_branch5_params(False, use_bias=False), _branch5_params(True, use_bias=False))
    from cv_textbook import analysis

    only_5x5 = analysis.conv_params(5, reduce5, fives)
    mistakes = [
        (without_bias, "count the biases too: one per filter of each convolution."),
        (lambda pair: pair[0] == expected[0] and pair[1] == only_5x5,
         f"the reduced branch has two convolutions: count the 1x1 reduction ({channels} -> {reduce5}) as "
         f"well as the 5x5 ({reduce5} -> {fives})."),
        (lambda pair: pair[0] == expected[0] and pair[1] == channels * reduce5 + reduce5,
         f"that second number is the 1x1 reduction alone; add the 5x5 convolution from {reduce5} to {fives} "
         "channels."),
        (lambda pair: pair[0] == expected[0],
         f"the naive count is right; the reduced branch is a 1x1 convolution from {channels} to {reduce5} "
         f"channels, then a 5x5 from {reduce5} to {fives}, each with its biases."),
        (lambda pair: pair[1] == expected[1],
         f"the reduced count is right; the naive 5x5 convolution reads all {channels} input channels: "
         f"5x5x{channels} weights per filter, {fives} filters, plus their biases."),
    ]
    return hint(first_match((naive, reduced), mistakes)
                or "a k x k convolution from C_in to C_out channels has k*k*C_in*C_out weights and C_out "
                "biases; the reduced branch has two of them.")


# ---------------------------------------------------------------------------
# Exercise 3: build the Inception module
# ---------------------------------------------------------------------------

# (input shape, module of Table 1) at the classroom's quarter width: 3a on the classroom stem's 14×14×48
# output, and 4e on 4d's 7×7×132. Each row has four 1×1 convolutions of different widths, so every
# convolution is told apart by its kernel's shape.
_CLASSROOM_DIVISOR = 4
BUILD_CASES = (((14, 14, 48), "3a"), ((7, 7, 132), "4e"))
# Outputs agree when the largest difference is below this fraction of the largest output: float32
# rounding stays near 1e-6 of it; every mistake below changes the outputs by a sizeable part.
_OUTPUT_TOLERANCE = 1e-3


def _case_widths(case) -> tuple:
    return _table_row(case[1], _CLASSROOM_DIVISOR)


def _case_text(case) -> str:
    (height, width, channels), module = case
    return f"a {height}x{width}x{channels} input with widths={_case_widths(case)} ({module} at a quarter width)"


def _student_model(build, case):
    """The student's module for one case, as a model; FillIn or Hint when it cannot be built."""

    def on_error(_, error):
        text = str(error)
        if "Concatenate" in text or "concatenat" in text.lower():
            return ("Keras cannot concatenate your branches: their maps must keep the input's height and "
                    "width, so give every convolution padding='same' and the max-pooling strides=1 and "
                    f"padding='same' ({describe_error(error).splitlines()[0][:200]}).")
        if "incompatible shapes" in text or "Add" in text:
            return ("the branches have different numbers of channels and cannot be added: an Inception "
                    "module concatenates them along the channels (layers.Concatenate()).")
        return f"building your module for {_case_text(case)} raised {describe_error(error)}."

    return built_model(
        build, case[0], (_case_widths(case),), on_error=on_error,
        fill_in="your function still returns None: build the module and return its output tensor.",
        returned="the module's output tensor (what layers.Concatenate() returned)",
        build_on="build every branch on x, the argument your function receives.",
    )


def _reference_module(case, mistake: str | None = None):
    """The package's module for one case, or the same layers wired with one typical mistake."""
    import keras
    from keras import layers

    from cv_textbook.models import googlenet

    input_shape, module = case
    widths = _case_widths(case)
    inputs = keras.Input(shape=input_shape, name="x")
    if mistake is None:
        return keras.Model(inputs, googlenet.inception_module(inputs, widths, f"inception_{module}"))
    ones, reduce3, threes, reduce5, fives, pool_proj = widths
    activation = None if mistake == "no_relu" else "relu"

    def conv(x, filters, kernel):
        return layers.Conv2D(filters, kernel, padding="same", activation=activation)(x)

    pooling = layers.AveragePooling2D if mistake == "average_pool" else layers.MaxPooling2D
    branches = [
        conv(inputs, ones, 1),
        conv(conv(inputs, reduce3, 1), threes, 3),
        conv(conv(inputs, reduce5, 1), fives, 5),
        conv(pooling(3, strides=1, padding="same")(inputs), pool_proj, 1),
    ]
    if mistake == "order":
        branches = branches[::-1]
    return keras.Model(inputs, layers.Concatenate()(branches))


# Mistakes that keep the parameters and the output shape, found by comparing outputs.
_OUTPUT_MISTAKES = (
    ("order", "your branches are all there but concatenated in another order: the paper's (and Caffe's) "
     "order is 1x1, 3x3, 5x5, pool proj, and a network built on the module relies on it."),
    ("no_relu", "every convolution of the module is followed by a ReLU (activation='relu'), the "
     "reductions and the pool projection included."),
    ("average_pool", "the pooling branch uses max-pooling (MaxPooling2D(3, strides=1, padding='same')), "
     "not average pooling."),
)


def _convolutions(model) -> dict:
    """The model's convolutions by kernel shape (every convolution of a case has its own)."""
    import keras

    found = {}
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            found.setdefault(tuple(layer.kernel.shape), []).append(layer)
    return found


def _copy_by_shape(source, target) -> bool:
    """Copy each convolution of ``source`` into ``target``'s of the same kernel shape; False when the
    two do not hold the same convolutions (or one kernel shape is used twice)."""
    sources, targets = _convolutions(source), _convolutions(target)
    if sorted(sources) != sorted(targets) or any(len(v) != 1 for v in (*sources.values(), *targets.values())):
        return False
    for kernel_shape, (layer,) in sources.items():
        other = targets[kernel_shape][0]
        if [tuple(w.shape) for w in layer.weights] != [tuple(w.shape) for w in other.weights]:
            return False
        other.set_weights(layer.get_weights())
    return True


def _count_hint(case, given: int) -> str:
    """A hint for a module whose parameters differ from the package's."""
    from cv_textbook import analysis

    channels = case[0][2]
    ones, reduce3, threes, reduce5, fives, pool_proj = _case_widths(case)
    expected = trainable_params(_module_model(case[1], case[0], _CLASSROOM_DIVISOR))
    reduction3 = analysis.conv_params(1, channels, reduce3)
    reduction5 = analysis.conv_params(1, channels, reduce5)
    conv3, conv5 = analysis.conv_params(3, reduce3, threes), analysis.conv_params(5, reduce5, fives)
    naive3, naive5 = analysis.conv_params(3, channels, threes), analysis.conv_params(5, channels, fives)
    biases = ones + reduce3 + threes + reduce5 + fives + pool_proj
    mistakes = [
        (expected - biases, "every convolution of GoogLeNet has a bias (Keras's default use_bias=True)."),
        (expected - reduction3 - conv3 + naive3 - reduction5 - conv5 + naive5,
         "your 3x3 and 5x5 convolutions read the input directly: that is the naive module of Fig. 2(a). "
         "Put a 1x1 reduction (n3x3_reduce, n5x5_reduce filters) before each of them."),
        (expected - reduction3 - conv3 + naive3,
         "your 3x3 convolution reads the input directly: put a 1x1 reduction with n3x3_reduce filters "
         "before it."),
        (expected - reduction5 - conv5 + naive5,
         "your 5x5 convolution reads the input directly: put a 1x1 reduction with n5x5_reduce filters "
         "before it."),
        (expected - conv3 - conv5 + analysis.conv_params(5, reduce3, threes) + analysis.conv_params(3, reduce5, fives),
         "the kernel sizes of the two middle branches are swapped: n3x3 filters of 3x3 after the "
         "n3x3_reduce reduction, n5x5 filters of 5x5 after the n5x5_reduce one."),
        (expected - conv5 + analysis.conv_params(3, reduce5, fives),
         "the third branch convolves 5x5 (kernel_size=5), not 3x3: that 3x3 is torchvision's known bug, "
         "not the paper."),
        (expected - reduction3 - reduction5 + analysis.conv_params(1, channels, reduce5)
         + analysis.conv_params(1, channels, reduce3) - conv3 - conv5
         + analysis.conv_params(3, reduce5, threes) + analysis.conv_params(5, reduce3, fives),
         "the two reductions are swapped: n3x3_reduce filters before the 3x3 convolution, n5x5_reduce "
         "before the 5x5."),
    ]
    return first_match(given, mistakes) or (
        f"for {_case_text(case)} your module has {given:,} parameters, the package's {expected:,}: six "
        "convolutions (1x1; 1x1 then 3x3; 1x1 then 5x5; after the pooling, 1x1), each with its bias."
    )


def _shape_hint(case, given_shape, expected_shape) -> str:
    input_shape = case[0]
    ones, _, threes, _, fives, pool_proj = _case_widths(case)
    return first_match(given_shape, [
        ((*input_shape[:2], ones + threes + fives + input_shape[2]),
         "your pooling branch passes the input's channels on: add its 1x1 projection with "
         f"pool_proj = {pool_proj} filters after the max-pooling."),
        ((*input_shape[:2], ones + threes + fives),
         "your output misses the pooling branch: 3x3 max-pooling (stride 1, 'same'), then a 1x1 "
         "convolution with pool_proj filters, concatenated last."),
        (lambda s: len(s) == 3 and s[:2] != input_shape[:2],
         f"your module outputs {given_shape[0]}x{given_shape[1]} maps: every branch must keep the "
         f"input's {input_shape[0]}x{input_shape[1]} (padding='same'; the max-pooling with strides=1)."),
    ]) or f"for {_case_text(case)} the module must output {expected_shape}, yours gives {given_shape}."


def _check_case(build, case) -> str:
    """Build one case and compare it with the reference; a summary of the case if it matches."""
    student = _student_model(build, case)
    input_shape, module = case
    expected_shape = (input_shape[0], input_shape[1], _depth_of(_case_widths(case)))
    match = compare_built(
        student, randomised(_module_model(module, input_shape, _CLASSROOM_DIVISOR)), probe(input_shape, seed=5),
        expected_shape=expected_shape,
        shape_hint=lambda given_shape: _shape_hint(case, given_shape, expected_shape),
        count_hint=lambda given, _: _count_hint(case, given),
        copy=_copy_by_shape,
        layers_differ=lambda given: (
            f"your module has the right number of parameters ({given:,}) but not the same "
            "convolutions: 1x1 (n1x1); 1x1 (n3x3_reduce) then 3x3 (n3x3); 1x1 (n5x5_reduce) then 5x5 "
            "(n5x5); 1x1 (pool_proj) after the pooling."),
        mistakes=[(functools.partial(_reference_module, case, mistake), message)
                  for mistake, message in _OUTPUT_MISTAKES],
        outputs_differ=lambda given: (
            f"your module has the right convolutions and {given:,} parameters, but with the package's "
            f"weights copied in its outputs differ for {_case_text(case)}. Check each branch: "
            "convolution then ReLU; the pooling branch max-pools first, then projects."),
        tolerance=_OUTPUT_TOLERANCE,
    )
    return (f"{module}: {'x'.join(map(str, input_shape))} -> {'x'.join(map(str, expected_shape))}, "
            f"{match.params:,} parameters")


@exercise_check
def check_inception_module(build) -> bool:
    """Check a function ``build(x, widths)`` that builds an Inception module."""
    a_function(build, fill_in="replace None by your function, e.g. def inception(x, widths): ..., and "
               "pass inception.", example="check_inception_module(inception)")
    summaries = [_check_case(build, case) for case in BUILD_CASES]
    return correct(
        "with the weights of cv_textbook.models.googlenet.inception_module copied in, your module computes "
        f"what the package's does ({'; '.join(summaries)}; the same outputs). Four branches on one input, "
        "concatenated: the network chooses per channel which scale to use."
    )
