"""Argument checks shared by the model builders: errors that say what to pass instead."""

from __future__ import annotations


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


def check_num_classes(num_classes) -> int:
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 2:
        raise ValueError(
            f"num_classes must be an integer of at least 2 (smallest valid value: 2), got {num_classes!r}."
        )
    return num_classes


def check_choice(name: str, value, choices) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}.")
