"""Model builders of the textbook, by name: ``build("lenet5")``, ``available()``.

Each builder is a pure function returning a functional ``keras.Model`` whose layer names echo
the paper, so ``model.summary()`` reads like the paper's table. The registry names each
builder's module, so checking a name costs no framework import.
"""

from __future__ import annotations

import difflib
import importlib
import inspect

from cv_textbook.models.transfer import transfer_weights  # imports no framework

# name -> (module inside cv_textbook.models, builder function)
_REGISTRY = {
    "lenet5": ("lenet", "lenet5"),
    "unet_xception": ("unet", "unet_xception"),
    "unet_classic": ("unet", "unet_classic"),
    "resnet18": ("resnet", "resnet18"),
    "resnet34": ("resnet", "resnet34"),
    "resnet50": ("resnet", "resnet50"),
    "resnet101": ("resnet", "resnet101"),
    "resnet152": ("resnet", "resnet152"),
    "plain18": ("resnet", "plain18"),
    "plain34": ("resnet", "plain34"),
    "resnet20": ("resnet", "resnet20"),
    "resnet32": ("resnet", "resnet32"),
    "resnet44": ("resnet", "resnet44"),
    "resnet56": ("resnet", "resnet56"),
    "resnet110": ("resnet", "resnet110"),
    "resnet1202": ("resnet", "resnet1202"),
    "plain20": ("resnet", "plain20"),
    "plain32": ("resnet", "plain32"),
    "plain44": ("resnet", "plain44"),
    "plain56": ("resnet", "plain56"),
    "plain110": ("resnet", "plain110"),
    "resnet_cifar": ("resnet", "resnet_cifar"),
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


def load_model(path):
    """``keras.models.load_model`` under its default ``safe_mode``, after registering the
    package's custom layers (e.g. the ResNet option-A shortcut) and learning-rate schedules (a
    model saved by ``train`` keeps its optimizer, whose schedule may be the package's
    ``WarmupStepDecay``) so that any saved model loads.

    Code that calls ``keras.models.load_model`` itself needs ``import cv_textbook.models.layers``
    and ``import cv_textbook.train`` first, as with any Keras model that has custom objects.
    """
    import keras

    importlib.import_module(f"{__name__}.layers")
    importlib.import_module("cv_textbook.train")
    return keras.models.load_model(path)


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


__all__ = ["available", "build", "builder", "check_name", "describe", "load_model", "transfer_weights"]
