"""Argument checks for the whole package: errors that name the argument, say what was expected
and give the smallest valid value.

The one home of argument validation: models, metrics, analysis and data all call these, so a
message reads the same wherever a student meets it. Imports nothing but NumPy (a leaf below
every other module).
"""

from __future__ import annotations

import numbers

import numpy as np


def is_int(value) -> bool:
    """A whole number (Python or NumPy), but not a bool: ``stride=True`` is always a mistake."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _with_hint(message: str, hint: str | None) -> str:
    """``hint`` (a remedy or a usual value, e.g. "The paper used 1e-4.") after the message."""
    return f"{message} {hint}" if hint else message


def check_int(name: str, value, smallest: int | None = None, *, hint: str | None = None) -> int:
    """``value`` as an int, or a ValueError naming ``name`` and the smallest valid value."""
    if not is_int(value) or (smallest is not None and value < smallest):
        at_least = f" of at least {smallest} (smallest valid value: {smallest})" if smallest is not None else ""
        raise ValueError(_with_hint(f"{name} must be an integer{at_least}, got {value!r}.", hint))
    return int(value)


def check_positive_int(name: str, value, *, hint: str | None = None) -> int:
    """A whole number of at least 1."""
    return check_int(name, value, 1, hint=hint)


def check_number(
    name: str, value, smallest: float | None = None, *, allow_none: bool = False, hint: str | None = None
):
    """A real number (not a bool) of at least ``smallest``; None passes when ``allow_none``."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (smallest is None or value >= smallest):
        expected = "None or a number" if allow_none else "a number"
        at_least = f" of at least {smallest} (smallest valid value: {smallest})" if smallest is not None else ""
        raise ValueError(_with_hint(f"{name} must be {expected}{at_least}, got {value!r}.", hint))
    return float(value)



def check_weight_decay(weight_decay, hint: str) -> float | None:
    """An L2 factor: None or a number of at least 0; 0 adds no penalty, so it comes back as None."""
    return check_number("weight_decay", weight_decay, 0, allow_none=True, hint=hint) or None

def check_bool(name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}.")
    return bool(value)


def check_choice(name: str, value, choices) -> None:
    """``value`` must be one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}.")


def check_num_classes(num_classes) -> int:
    """At least two classes: a classifier of one class has nothing to decide."""
    if not is_int(num_classes) or num_classes < 2:
        raise ValueError(
            f"num_classes must be an integer of at least 2 (smallest valid value: 2), got {num_classes!r}."
        )
    return int(num_classes)


def check_input_shape(input_shape, min_side: int, model_name: str, example=(28, 28, 1)) -> tuple[int, int, int]:
    """``input_shape`` must be (height, width, channels) with both sides at least ``min_side``."""
    try:
        shape = tuple(int(d) for d in input_shape)
    except (TypeError, ValueError):
        raise ValueError(
            f"input_shape must be a tuple (height, width, channels) such as {example}, got {input_shape!r}."
        ) from None
    if len(shape) != 3:
        raise ValueError(
            f"input_shape must have 3 entries (height, width, channels), such as {example}; "
            f"got {len(shape)}: {shape}. For grayscale images add a channel axis of 1."
        )
    height, width, channels = shape
    if channels < 1:
        raise ValueError(f"input_shape channels must be at least 1, got {channels}.")
    if min(height, width) < min_side:
        raise ValueError(
            f"input_shape {shape} is too small for {model_name}: its convolutions and poolings "
            f"need height and width of at least {min_side} pixels (smallest valid value: {min_side})."
        )
    return shape


def smallest_input_side(windows) -> int:
    """The smallest image side for which every sliding window of a stack still gives one pixel.

    ``windows`` lists the stack's convolutions and poolings in order, each as ``(kernel, stride,
    padding)`` with Keras's ``"valid"`` or ``"same"``, or an int: that many zero pixels on every
    side, then a valid window (an explicit ``ZeroPadding2D``). Worked backwards from one output
    pixel: a valid window of side k and stride s that must give m pixels needs (m - 1)·s + k
    input pixels (k - 2p after p pixels of padding); a "same" one needs (m - 1)·s + 1.
    AlexNet's 11/4 convolution and three valid 3/2 poolings (sizes 3, 3, 3) need 67 pixels.
    """
    side = 1
    for kernel, stride, padding in reversed(tuple(windows)):
        if padding == "same":
            side = (side - 1) * stride + 1
        else:
            pad = 0 if padding == "valid" else padding
            side = max(1, (side - 1) * stride + kernel - 2 * pad)
    return side


POOLINGS = (None, "avg", "max")


def check_top(include_top, pooling) -> tuple[bool, str | None]:
    """keras.applications' ``include_top`` (the classifier) and ``pooling`` (None, "avg", "max")."""
    include_top = check_bool("include_top", include_top)
    check_choice("pooling", pooling, POOLINGS)
    return include_top, pooling
