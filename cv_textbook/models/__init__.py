"""Model builders of the textbook, by name: ``build("lenet5")``, ``available()``.

Each builder is a pure function returning a functional ``keras.Model`` whose layer names echo
the paper, so ``model.summary()`` reads like the paper's table.
"""

from __future__ import annotations

import difflib
import inspect

from cv_textbook.models.lenet import lenet5

_BUILDERS = {
    "lenet5": lenet5,
}


def available() -> list[str]:
    """Names accepted by ``build``."""
    return sorted(_BUILDERS)


def check_name(name: str) -> None:
    """Raise a ValueError that suggests the closest names if ``name`` is not registered."""
    if name not in _BUILDERS:
        close = difflib.get_close_matches(name, available(), n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ValueError(f"unknown model {name!r}.{hint} Available models: {', '.join(available())}.")


def describe(name: str) -> str:
    """The first line of a builder's docstring."""
    check_name(name)
    return (inspect.getdoc(_BUILDERS[name]) or "").splitlines()[0]


def build(name: str, **kwargs):
    """Build the registered model ``name``; keyword arguments go to its builder."""
    check_name(name)
    builder = _BUILDERS[name]
    accepted = inspect.signature(builder).parameters
    unknown = [key for key in kwargs if key not in accepted]
    if unknown:
        raise ValueError(
            f"{name} got unknown argument(s) {', '.join(unknown)}; it accepts: {', '.join(accepted)}."
        )
    return builder(**kwargs)


__all__ = ["available", "build", "check_name", "describe", "lenet5"]
