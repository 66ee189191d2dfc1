"""The helpers every exercise check shares: placeholders ask to fill in, answers of the wrong kind
get a hint, usable answers come back in the form a check compares, and one scan finds a mistake."""

from fractions import Fraction

import numpy as np
import pytest

from cv_textbook.exercises import _feedback as fb
from cv_textbook.exercises._feedback import FillIn, Hint

PLACEHOLDERS = [None, ..., NotImplemented]


# ---------------------------------------------------------------------------
# whole_number
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer, expected",
    [(12, 12), (12.0, 12), (np.int64(12), 12), (np.float32(12.0), 12), (np.array(12), 12), (-3, -3)],
)
def test_whole_number_reads_ints_and_floats_that_are_whole(answer, expected):
    given = fb.whole_number(answer, fill_in="unused")
    assert given == expected and type(given) is int


@pytest.mark.parametrize("answer", PLACEHOLDERS)
def test_whole_number_asks_to_fill_in_a_placeholder(answer):
    with pytest.raises(FillIn) as raised:
        fb.whole_number(answer, fill_in="replace None by a number.")
    assert raised.value.message == "replace None by a number."


@pytest.mark.parametrize("answer", [1.5, "12", True, [12], np.array([1, 2]), float("nan"), 2 + 0j])
def test_whole_number_hints_at_anything_that_is_not_one_whole_number(answer):
    with pytest.raises(Hint) as raised:
        fb.whole_number(answer, fill_in="unused", expected="one whole number of pixels")
    assert raised.value.message.startswith("answer with one whole number of pixels, got ")
    assert type(answer).__name__ in raised.value.message


# ---------------------------------------------------------------------------
# real_number
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer", [0.625, Fraction(5, 8), np.float32(0.625), np.float64(0.625), np.array(0.625)]
)
def test_real_number_reads_floats_fractions_and_numpy_scalars(answer):
    given = fb.real_number(answer, fill_in="unused")
    assert given == 0.625 and type(given) is float


def test_real_number_reads_an_int_as_a_float():
    given = fb.real_number(5, fill_in="unused")
    assert given == 5.0 and type(given) is float


@pytest.mark.parametrize("answer", PLACEHOLDERS)
def test_real_number_asks_to_fill_in_a_placeholder(answer):
    with pytest.raises(FillIn):
        fb.real_number(answer, fill_in="replace None by a fraction.")


@pytest.mark.parametrize("answer", ["5/8", True, [0.5], np.array([0.5, 0.5]), 1j])
def test_real_number_hints_at_anything_that_is_not_one_number(answer):
    with pytest.raises(Hint, match="answer with one number between 0 and 1, got"):
        fb.real_number(answer, fill_in="unused", expected="one number between 0 and 1")


@pytest.mark.parametrize("answer", [float("nan"), float("inf"), -np.inf])
def test_real_number_hints_at_a_number_that_is_not_finite(answer):
    with pytest.raises(Hint, match="finite"):
        fb.real_number(answer, fill_in="unused")


# ---------------------------------------------------------------------------
# shape
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer, expected",
    [
        ((5, 5, 16), (5, 5, 16)),
        ([5, 5, 16], (5, 5, 16)),
        ((None, 5, 5, 16), (5, 5, 16)),  # Keras' batch axis dropped
        ((np.int64(5), 5.0, 16), (5, 5, 16)),
        ((5, 5), (5, 5)),  # the check, not the helper, says it wants three numbers
        (400, 400),  # a flattened size is readable, so a check can name that mistake
    ],
)
def test_shape_reads_tuples_and_lists_of_whole_numbers(answer, expected):
    assert fb.shape(answer, fill_in="unused") == expected


@pytest.mark.parametrize("answer", PLACEHOLDERS)
def test_shape_asks_to_fill_in_a_placeholder(answer):
    with pytest.raises(FillIn):
        fb.shape(answer, fill_in="replace None by a tuple.")


@pytest.mark.parametrize("answer", ["5x5x16", (5, 5.5, 16), (5, "5", 16), np.zeros((5, 5, 16)), 2.5])
def test_shape_hints_at_what_is_not_a_tuple_of_whole_numbers(answer):
    with pytest.raises(Hint, match="tuple of whole numbers"):
        fb.shape(answer, fill_in="unused")


def test_shape_mistakes_name_the_size_three_numbers_and_channels_first():
    mistakes = fb.shape_mistakes((5, 5, 16), (5, 5), "that is the number of values.")
    assert fb.first_match(400, mistakes) == "that is the number of values."
    assert "give three numbers" in fb.first_match((5, 5), mistakes)
    assert "channels-last" in fb.first_match((16, 5, 5), mistakes)
    assert fb.first_match((5, 5, 6), mistakes) is None


# ---------------------------------------------------------------------------
# letter
# ---------------------------------------------------------------------------

OPTIONS = {"a": "one", "b": "two", "c": "three"}


@pytest.mark.parametrize("answer", ["c", "C", " c) ", "C)"])
def test_letter_reads_one_option_whatever_the_case_and_brackets(answer):
    assert fb.letter(answer, OPTIONS, fill_in="unused") == "c"


@pytest.mark.parametrize("answer", PLACEHOLDERS)
def test_letter_asks_to_fill_in_a_placeholder(answer):
    with pytest.raises(FillIn):
        fb.letter(answer, OPTIONS, fill_in="replace None by a letter.")


@pytest.mark.parametrize("answer", ["z", "ab", "", 3, ["c"]])
def test_letter_hints_at_anything_that_is_not_one_option(answer):
    with pytest.raises(Hint, match="one letter from a, b, c"):
        fb.letter(answer, OPTIONS, fill_in="unused")


# ---------------------------------------------------------------------------
# a_function and results_of
# ---------------------------------------------------------------------------


def test_a_function_returns_the_function():
    assert fb.a_function(len, fill_in="unused", example="check(f)") is len


@pytest.mark.parametrize("answer", PLACEHOLDERS)
def test_a_function_asks_to_fill_in_a_placeholder(answer):
    with pytest.raises(FillIn):
        fb.a_function(answer, fill_in="define f.", example="check(f)")


@pytest.mark.parametrize("answer", [20, "f", [len], np.arange(3)])
def test_a_function_hints_at_a_value_that_is_not_callable(answer):
    with pytest.raises(Hint) as raised:
        fb.a_function(answer, fill_in="unused", example="check(f)")
    message = raised.value.message
    assert message.startswith("pass the function itself, e.g. check(f), not ")
    assert type(answer).__name__ in message


def test_results_of_calls_the_function_on_every_case():
    results = fb.results_of(lambda a, b: a * b, [(2, 3), (4, 5)], fill_in="unused", on_error=None)
    assert results == [6, 20]


def test_results_of_gives_each_call_its_own_copy_of_the_arrays():
    data = np.arange(4)

    def writes_into_its_argument(values):
        values[:] = 0
        return int(values.sum())

    assert fb.results_of(writes_into_its_argument, [(data,)], fill_in="unused", on_error=None) == [0]
    assert data.tolist() == [0, 1, 2, 3]


def _not_implemented(x):
    raise NotImplementedError


@pytest.mark.parametrize("function", [lambda x: None, lambda x: ..., _not_implemented])
def test_results_of_asks_to_fill_in_a_stub(function):
    with pytest.raises(FillIn) as raised:
        fb.results_of(function, [(1,)], fill_in="make it return the count.", on_error=None)
    assert raised.value.message == "make it return the count."


def test_results_of_turns_an_error_into_a_hint_naming_the_case():
    def on_error(case, error):
        return f"f{case} raised {fb.describe_error(error)}."

    with pytest.raises(Hint) as raised:
        fb.results_of(lambda x: 1 // x, [(1,), (0,)], fill_in="unused", on_error=on_error)
    assert raised.value.message == "f(0,) raised ZeroDivisionError: integer division or modulo by zero."


# ---------------------------------------------------------------------------
# exercise_check and the three kinds of feedback
# ---------------------------------------------------------------------------


@fb.exercise_check
def _check_twelve(answer) -> bool:
    """Check twelve."""
    given = fb.whole_number(answer, fill_in="replace None by a number.")
    if given == 12:
        return fb.correct("twelve.")
    return fb.hint(fb.first_match(given, [(13, "one too many.")]) or "count again.")


@pytest.mark.parametrize(
    "answer, result, printed",
    [
        (12, True, "Correct! Twelve.\n"),
        (13, False, "Not quite. One too many.\n"),
        (14, False, "Not quite. Count again.\n"),
        ("12", False, "Not quite. Answer with one whole number, got str '12'.\n"),
        (None, False, "Fill in your answer: Replace None by a number.\n"),
    ],
)
def test_exercise_check_prints_one_message_and_returns_whether_correct(capsys, answer, result, printed):
    assert _check_twelve(answer) is result
    assert capsys.readouterr().out == printed


def test_exercise_check_keeps_the_checks_name_docstring_and_argument(capsys):
    assert _check_twelve.__name__ == "_check_twelve"
    assert _check_twelve.__doc__ == "Check twelve."
    assert _check_twelve(answer=12) is True  # a notebook may name the argument


def test_feedback_is_wrapped_but_option_lines_are_kept(capsys):
    fb.hint("word " * 60 + "\n  a) an option that stays on its own line")
    lines = capsys.readouterr().out.splitlines()
    assert all(len(line) <= fb.WIDTH for line in lines)
    assert lines[-1] == "  a) an option that stays on its own line"


def test_describe_shortens_long_values():
    assert fb.describe(12) == "int 12"
    assert len(fb.describe(np.arange(10_000))) < 80


# ---------------------------------------------------------------------------
# first_match
# ---------------------------------------------------------------------------


def test_first_match_returns_the_message_of_the_first_matching_mistake():
    mistakes = [(3, "three"), (lambda value: value > 2, "more than two"), (3, "never reached")]
    assert fb.first_match(3, mistakes) == "three"
    assert fb.first_match(4, mistakes) == "more than two"
    assert fb.first_match(1, mistakes) is None


def test_first_match_compares_tuples_and_lists_item_by_item():
    mistakes = [((14, 14, 6), "S2"), ([0, 0], "zeros")]
    assert fb.first_match([14, 14, 6], mistakes) == "S2"
    assert fb.first_match((0.0, np.int64(0)), mistakes) == "zeros"
    assert fb.first_match((14, 14), mistakes) is None
    assert fb.first_match(14, mistakes) is None


def test_first_match_compares_numbers_within_the_tolerance():
    mistakes = [(5 / 6, "recall")]
    assert fb.first_match(0.83, mistakes, tolerance=0.006) == "recall"
    assert fb.first_match(0.83, mistakes) is None


def test_first_match_never_raises_on_values_that_do_not_compare():
    mistakes = [(12, "twelve"), ([1, 2], "pair")]
    for value in (np.arange(3), "twelve", object(), [np.arange(2), 2]):
        assert fb.first_match(value, mistakes) is None
