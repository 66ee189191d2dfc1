"""What every exercise check shares: the three kinds of feedback and safe calls.

A check prints one short message and returns a bool; it never raises because of the
student's answer (an exception inside their function becomes a hint).
"""

from __future__ import annotations

import numbers
import textwrap

import numpy as np

WIDTH = 88


class Missing(Exception):
    """The answer is still a placeholder: None, NotImplemented, ... or NotImplementedError."""


class StudentError(Exception):
    """The student's function raised; ``error`` is what it raised."""

    def __init__(self, error: BaseException):
        super().__init__(str(error))
        self.error = error


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


def fill_in(what: str) -> bool:
    _say("Fill in your answer:", what)
    return False


def is_placeholder(value) -> bool:
    return value is None or value is NotImplemented or value is Ellipsis


def call(function, *args):
    """Call the student's function; placeholders raise Missing, other errors StudentError."""
    try:
        result = function(*args)
    except NotImplementedError as error:
        raise Missing() from error
    except Exception as error:  # anything they wrote may fail: report it, do not crash
        raise StudentError(error) from error
    if is_placeholder(result):
        raise Missing()
    return result


def describe_error(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


def as_whole_number(value):
    """An int for ints and integral floats (NumPy included); None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real) and float(value).is_integer():
        return int(value)
    return None


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


def unreadable_shape(answer) -> bool:
    """The hint for an answer ``as_shape`` cannot read."""
    return hint(
        f"answer with a tuple of whole numbers such as (height, width, channels), got "
        f"{type(answer).__name__} {answer!r}."
    )


def first_match(value, candidates):
    """The key of the first candidate equal to ``value`` (candidates: list of (key, value))."""
    for key, candidate in candidates:
        if candidate == value:
            return key
    return None
