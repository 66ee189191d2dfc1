"""What every exercise check shares: the three kinds of feedback, the preamble and one mistake scan.

A check prints one short message and returns a bool; it never raises because of the student's
answer. Every check reads the same way::

    @exercise_check
    def check_something(answer) -> bool:
        given = whole_number(answer, fill_in="replace None by ...")   # preamble
        if given == expected:                                        # correct?
            return correct("...")
        return hint(first_match(given, mistakes) or "general hint")  # mistakes, general hint

The preamble helpers (:func:`whole_number`, :func:`real_number`, :func:`shape`, :func:`letter`,
:func:`a_function`, :func:`results_of`) return the answer in a form the check can compare, or raise
:class:`FillIn` / :class:`Hint`; :func:`exercise_check` prints those and returns False.

A check of a function that BUILDS something (a block, a layer, a module) builds it with
:func:`built_model` and compares it with the package's with :func:`compare_built`: output shape,
parameters, the package's weights copied in, outputs on a fixed input, then the typical mistakes;
each chapter supplies only its messages and its way of pairing the layers.
"""

from __future__ import annotations

import functools
import math
import numbers
import reprlib
import textwrap

import numpy as np

WIDTH = 88


# ---------------------------------------------------------------------------
# The three kinds of feedback
# ---------------------------------------------------------------------------


def _say(prefix: str, message: str) -> None:
    """Print ``prefix message``, wrapped; lines of the message that start with spaces
    (a list of options) are kept as they are."""
    message = message[:1].upper() + message[1:]
    lines = f"{prefix} {message}".split("\n")
    for line in lines:
        print(line if line.startswith(" ") else textwrap.fill(line, width=WIDTH, break_on_hyphens=False))


def correct(message: str) -> bool:
    _say("Correct!", message)
    return True


def hint(message: str) -> bool:
    _say("Not quite.", message)
    return False


def fill_in(message: str) -> bool:
    _say("Fill in your answer:", message)
    return False


class Feedback(Exception):
    """Feedback a preamble helper gives before the check compares anything."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class FillIn(Feedback):
    """The answer is still a placeholder; the message says what to fill in."""

    def show(self) -> bool:
        return fill_in(self.message)


class Hint(Feedback):
    """The answer cannot be compared at all (a wrong type, or the student's function raised)."""

    def show(self) -> bool:
        return hint(self.message)


def exercise_check(check):
    """Decorate a check: a :class:`FillIn` or :class:`Hint` raised inside is printed and the
    check returns False, so a preamble helper can end the check in one line."""

    @functools.wraps(check)
    def checked(*args, **kwargs) -> bool:
        try:
            return check(*args, **kwargs)
        except Feedback as feedback:
            return feedback.show()

    return checked


# ---------------------------------------------------------------------------
# The preamble: placeholders, and answers turned into what a check compares
# ---------------------------------------------------------------------------


def is_placeholder(value) -> bool:
    """None, NotImplemented or ``...``: what a notebook's exercise cell starts with."""
    return value is None or value is NotImplemented or value is Ellipsis


def describe(value) -> str:
    """``type repr`` of a student's value, the repr shortened (an array can be long)."""
    return f"{type(value).__name__} {reprlib.repr(value)}"


def describe_error(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


def as_whole_number(value):
    """An int for ints and integral floats (NumPy scalars and 0-d arrays included); None for
    anything else, bools too."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real) and float(value).is_integer():
        return int(value)
    return None


def as_real(value):
    """A float for real numbers (ints, fractions, NumPy scalars and 0-d arrays); None for anything
    else, bools and strings too."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    return float(value)


def is_int(value) -> bool:
    """An integer type (Python or NumPy, 0-d arrays too), not merely an integral float."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def as_shape(answer):
    """A tuple of ints (a leading None batch axis dropped), an int, or None if unreadable."""
    if hasattr(answer, "shape") and not isinstance(answer, (tuple, list)):
        return None
    if isinstance(answer, (tuple, list)):
        items = list(answer)
        if len(items) == 4 and items[0] is None:
            items = items[1:]
        numbers_given = [as_whole_number(item) for item in items]
        return None if any(n is None for n in numbers_given) else tuple(numbers_given)
    return as_whole_number(answer)


def _no_placeholder(answer, fill_in: str) -> None:
    if is_placeholder(answer):
        raise FillIn(fill_in)


def whole_number(answer, fill_in: str, expected: str = "one whole number") -> int:
    """``answer`` as an int (12, 12.0, np.int64(12)); FillIn for a placeholder, Hint otherwise."""
    _no_placeholder(answer, fill_in)
    given = as_whole_number(answer)
    if given is None:
        raise Hint(f"answer with {expected}, got {describe(answer)}.")
    return given


def real_number(answer, fill_in: str, expected: str = "one number") -> float:
    """``answer`` as a finite float (ints, fractions, NumPy scalars); FillIn or Hint otherwise."""
    _no_placeholder(answer, fill_in)
    value = as_real(answer)
    if value is None:
        raise Hint(f"answer with {expected}, got {describe(answer)}.")
    if not math.isfinite(value):
        raise Hint(f"answer with a finite number, got {answer!r}.")
    return value


def shape(answer, fill_in: str):
    """``answer`` as :func:`as_shape` reads it (a tuple of ints, or one int); FillIn or Hint."""
    _no_placeholder(answer, fill_in)
    given = as_shape(answer)
    if given is None:
        raise Hint(
            f"answer with a tuple of whole numbers such as (height, width, channels), got {describe(answer)}."
        )
    return given


def letter(answer, options, fill_in: str) -> str:
    """One key of ``options`` ('c', ' C) ' and 'c)' all read as 'c'); FillIn or Hint otherwise."""
    _no_placeholder(answer, fill_in)
    given = answer.strip().lower().rstrip(")") if isinstance(answer, str) else None
    if given not in options:
        raise Hint(f"answer with one letter from {', '.join(options)}, got {answer!r}.")
    return given


def a_function(answer, fill_in: str, example: str):
    """``answer`` if it is callable; FillIn for a placeholder, Hint for anything else
    (``example`` shows the call, e.g. ``"check_depth_formula(depth)"``)."""
    _no_placeholder(answer, fill_in)
    if not callable(answer):
        raise Hint(f"pass the function itself, e.g. {example}, not {describe(answer)}.")
    return answer


def results_of(function, cases, fill_in: str, on_error, not_implemented: str | None = None) -> list:
    """``function(*case)`` for every case, each call given its own copy of the case's arrays (so
    a function that writes into them cannot spoil cached data).

    Raises FillIn(``fill_in``) when the function returns a placeholder or raises
    NotImplementedError (FillIn(``not_implemented``) for the latter, if given), and
    Hint(``on_error(case, error)``) when it raises anything else.
    """
    results = []
    for case in cases:
        arguments = [value.copy() if isinstance(value, np.ndarray) else value for value in case]
        try:
            result = function(*arguments)
        except NotImplementedError:
            raise FillIn(not_implemented or fill_in) from None
        except Exception as error:  # anything the student wrote may fail: report it, do not crash
            raise Hint(on_error(case, error)) from None
        if is_placeholder(result):
            raise FillIn(fill_in)
        results.append(result)
    return results


# ---------------------------------------------------------------------------
# The mistake table
# ---------------------------------------------------------------------------


def same(value, reference, tolerance: float = 0.0) -> bool:
    """``value`` equals ``reference``: numbers within ``tolerance``, tuples and lists item by item
    (their types need not agree), anything else by ==; False for whatever cannot be compared."""
    if isinstance(reference, (tuple, list)):
        return (
            isinstance(value, (tuple, list))
            and len(value) == len(reference)
            and all(same(v, r, tolerance) for v, r in zip(value, reference))
        )
    if isinstance(value, (tuple, list)):
        return False
    if isinstance(value, numbers.Real) and isinstance(reference, numbers.Real):
        return abs(float(value) - float(reference)) <= tolerance
    try:
        return bool(value == reference)
    except Exception:  # arrays of several values, odd objects
        return False


def shape_mistakes(expected, answer, size_message: str) -> list:
    """The mistake-table entries every (height, width, channels) question shares: the number of
    values instead of the shape (``size_message``), not three numbers, channels first."""
    height, width, channels = expected
    return [
        (height * width * channels, size_message),
        (
            lambda given: not isinstance(given, tuple) or len(given) != 3,
            f"give three numbers (height, width, channels), got {answer!r}.",
        ),
        (
            (channels, height, width),
            "the numbers are right but in the wrong order: Keras is channels-last, "
            "(height, width, channels).",
        ),
    ]


def first_match(value, mistakes, tolerance: float = 0.0):
    """The message of the first ``(wrong, message)`` pair that ``value`` matches, or None.

    ``wrong`` is either the value a typical mistake gives (compared with :func:`same`) or a
    predicate ``wrong(value) -> bool`` for a mistake that no single value describes.
    """
    for wrong, message in mistakes:
        if wrong(value) if callable(wrong) else same(value, wrong, tolerance):
            return message
    return None


# ---------------------------------------------------------------------------
# Build exercises: the student's function against the package's block
# ---------------------------------------------------------------------------
#
# Every "build something" check reads the same way::
#
#     student = built_model(build, input_shape, (argument, ...), fill_in=..., on_error=...,
#                           returned="the block's output tensor (what ... returned)",
#                           build_on="build every layer on x, the argument your function receives.")
#     match = compare_built(student, randomised(reference), probe(input_shape, seed), ...)
#
# ``compare_built`` checks, in this order, the output shape, the parameter count, that the package's
# weights copy into the student's layers, and the outputs on a fixed input; where the outputs differ
# it tries each typical mistake (the reference's layers wired wrongly, the same weights copied in)
# and raises the first one's hint. Keras is imported inside the functions, so that importing a
# chapter module stays free of it.


def built_model(build, input_shape, arguments=(), *, fill_in: str, on_error, returned: str | None,
                build_on: str = "", not_implemented: str | None = None, disconnected=None,
                input_name: str = "x", model_name: str | None = None):
    """``build(x, *arguments)`` on ``keras.Input(input_shape)``, as a model from x to what it returned.

    FillIn and Hint as :func:`results_of` raises them (``fill_in``, ``not_implemented``,
    ``on_error(case, error)``); Hint("return ``returned``, not ...") when the function returns
    something other than a Keras tensor (no such check where ``returned`` is None); where the tensor
    is not computed from x, Hint("Keras cannot make a model from x ...: ``build_on``"), or
    Hint(``disconnected(error)``) if that is given.
    """
    import keras

    inputs = keras.Input(shape=input_shape, name=input_name)
    (output,) = results_of(build, [(inputs, *arguments)], fill_in=fill_in, on_error=on_error,
                           not_implemented=not_implemented)
    if returned is not None and (isinstance(output, keras.Model) or not isinstance(output, keras.KerasTensor)):
        raise Hint(f"return {returned}, not {describe(output)}.")
    try:
        return keras.Model(inputs, output, name=model_name)
    except Exception as error:  # an output not computed from x
        if disconnected is not None:
            raise Hint(disconnected(error)) from None
        raise Hint(f"Keras cannot make a model from x to what you returned ({describe_error(error)}): "
                   f"{build_on}") from None


def probe(input_shape, seed: int) -> np.ndarray:
    """A fixed input of two standard-normal maps of ``input_shape`` (float32)."""
    return np.random.default_rng(seed).standard_normal((2, *input_shape)).astype("float32")


def trainable_params(model) -> int:
    return sum(int(np.prod(weight.shape)) for weight in model.trainable_weights)


def all_params(model) -> int:
    """Trainable and non-trainable (BatchNormalization's moving statistics)."""
    return sum(int(np.prod(weight.shape)) for weight in model.weights)


def transferred(reference, student) -> bool:
    """Copy the reference's weights into the student's model with ``models.transfer_weights``
    (layers paired by kind and order); Hint naming the first difference where they do not pair."""
    from cv_textbook.models import transfer_weights

    try:
        transfer_weights(reference, student)
    except ValueError as error:
        raise Hint(f"the parameter count is right but the layers differ from the reference's: {error}") from None
    return True


def randomised(model, seed: int = 0, layers=None):
    """Random weights in ``layers`` (default: the model's layers, in order), so that every layer
    shows in the outputs: He-scaled normal kernels, uniform biases and BatchNormalization shifts
    and means in [-0.5, 0.5], scales in [0.5, 1.5], variances in [0.5, 2] (a fresh
    BatchNormalization is almost the identity, a fresh bias zero). Returns the model."""
    rng = np.random.default_rng(seed)
    for layer in model.layers if layers is None else layers:
        values = []
        for weight in layer.weights:
            shape_ = tuple(weight.shape)
            if "variance" in weight.path:
                values.append(rng.uniform(0.5, 2.0, shape_))
            elif "kernel" in weight.path:
                values.append(rng.standard_normal(shape_) * np.sqrt(2.0 / int(np.prod(shape_[:-1]))))
            elif "gamma" in weight.path:
                values.append(rng.uniform(0.5, 1.5, shape_))
            else:  # biases, beta, moving mean
                values.append(rng.uniform(-0.5, 0.5, shape_))
        if values:
            layer.set_weights([v.astype("float32") for v in values])
    return model


def copy_layers(sources, targets) -> bool:
    """Copy the weights of ``sources`` into ``targets``, layer by layer in order; False (and nothing
    copied) when their numbers or weight shapes differ."""
    sources, targets = list(sources), list(targets)
    if len(sources) != len(targets) or any(
        [tuple(w.shape) for w in a.weights] != [tuple(w.shape) for w in b.weights] for a, b in zip(sources, targets)
    ):
        return False
    for a, b in zip(sources, targets):
        b.set_weights(a.get_weights())
    return True


def outputs_of(model, inputs: np.ndarray) -> np.ndarray:
    """The model's outputs in inference mode, as float64."""
    import keras

    return keras.ops.convert_to_numpy(model(inputs, training=False)).astype("float64")


def agree(a: np.ndarray, b: np.ndarray, tolerance: float) -> bool:
    """Same shape, and the largest difference below ``tolerance`` times the largest value of ``b``."""
    return a.shape == b.shape and float(np.abs(a - b).max()) <= tolerance * float(np.abs(b).max())


class Match:
    """What :func:`compare_built` found when the student's model agrees with the reference."""

    def __init__(self, params: int, difference: float):
        self.params = params
        self.difference = difference

    @property
    def outputs_text(self) -> str:
        """"the same outputs", or "outputs within 1.2e-07" where float32 rounding shows."""
        return "the same outputs" if self.difference == 0 else f"outputs within {self.difference:.1e}"


def _message(text_or_function, *arguments) -> str:
    return text_or_function(*arguments) if callable(text_or_function) else text_or_function


def compare_built(student, reference, inputs: np.ndarray, *, shape_hint, count_hint, copy, layers_differ,
                  outputs_differ, tolerance: float, mistakes=(), expected_shape=None,
                  count=trainable_params) -> Match:
    """Compare the student's model with the package's (its weights already randomised).

    In order: the output shape (``expected_shape``, default the reference's; Hint(``shape_hint(given
    shape)``)), the parameters (``count``; Hint(``count_hint(given, expected)``)), the weights
    (``copy(reference, student)`` copies them, False when the layers differ: Hint(``layers_differ``,
    a text or a function of the given count)), the outputs on ``inputs`` (:func:`agree` within
    ``tolerance``). Where the outputs differ, ``mistakes`` are ``(make, hint)`` pairs: ``make()``
    builds the reference's layers wired with one typical mistake; the first whose outputs, with the
    same weights copied in, match the student's gives its hint; else Hint(``outputs_differ``, a text
    or a function of the given count). Returns a :class:`Match` when everything agrees.
    """
    given_shape = tuple(student.output.shape[1:])
    expected_shape = tuple(reference.output.shape[1:]) if expected_shape is None else tuple(expected_shape)
    if given_shape != expected_shape:
        raise Hint(shape_hint(given_shape))
    given, expected = count(student), count(reference)
    if given != expected:
        raise Hint(count_hint(given, expected))
    if not copy(reference, student):
        raise Hint(_message(layers_differ, given))
    student_out, reference_out = outputs_of(student, inputs), outputs_of(reference, inputs)
    if agree(student_out, reference_out, tolerance):
        return Match(expected, float(np.abs(student_out - reference_out).max()))
    for make, message in mistakes:
        variant = make()
        if copy(reference, variant) and agree(student_out, outputs_of(variant, inputs), tolerance):
            raise Hint(message)
    raise Hint(_message(outputs_differ, given))
