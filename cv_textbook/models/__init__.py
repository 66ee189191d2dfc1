"""Model builders of the textbook, by name: ``build("lenet5")``, ``available()``.

Each builder is a pure function returning a functional ``keras.Model`` whose layer names echo
the paper, so ``model.summary()`` reads like the paper's table. The registry names each
builder's module, so checking a name costs no framework import.
"""

from __future__ import annotations

import difflib
import importlib
import inspect

# name -> (module inside cv_textbook.models, builder function)
_REGISTRY = {
    "lenet5": ("lenet", "lenet5"),
}


def available() -> list[str]:
    """Names accepted by ``build``."""
    return sorted(_REGISTRY)


def check_name(name: str) -> None:
    """Raise a ValueError that suggests the closest names if ``name`` is not registered."""
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, available(), n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ValueError(f"unknown model {name!r}.{hint} Available models: {', '.join(available())}.")


def builder(name: str):
    """The function that builds model ``name``."""
    check_name(name)
    module, function = _REGISTRY[name]
    return getattr(importlib.import_module(f"{__name__}.{module}"), function)


def describe(name: str) -> str:
    """The first line of a builder's docstring."""
    return (inspect.getdoc(builder(name)) or "").splitlines()[0]


def build(name: str, **kwargs):
    """Build the registered model ``name``; keyword arguments go to its builder."""
    build_fn = builder(name)
    accepted = inspect.signature(build_fn).parameters
    unknown = [key for key in kwargs if key not in accepted]
    if unknown:
        raise ValueError(
            f"{name} got unknown argument(s) {', '.join(unknown)}; it accepts: {', '.join(accepted)}."
        )
    return build_fn(**kwargs)


__all__ = ["available", "build", "builder", "check_name", "describe"]
