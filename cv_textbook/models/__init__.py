"""Model builders of the textbook, by name: ``build("lenet5")``, ``available()``, ``spec("lenet5")``.

Each builder is a pure function returning a functional ``keras.Model`` whose layer names echo
the paper, so ``model.summary()`` reads like the paper's table. What the package knows about a
model (builder, chapter, task, recipes, test arguments) is its spec in ``registry.SPECS``; a
spec names its builder's module, so checking a name costs no framework import.
"""

from __future__ import annotations

import difflib
import importlib
import inspect

from cv_textbook.models.features import feature_extractor  # loads Keras only when called
from cv_textbook.models.registry import CHAPTERS, SPECS, ModelSpec, Recipe
from cv_textbook.models.transfer import transfer_weights  # imports no framework


def available() -> list[str]:
    """Names accepted by ``build``."""
    return sorted(SPECS)


def specs() -> list[ModelSpec]:
    """Every registered model's spec, by chapter, in the order the registry lists them."""
    return sorted(SPECS.values(), key=lambda spec: spec.chapter)


def check_name(name: str) -> None:
    """Raise a ValueError that suggests the closest names if ``name`` is not registered."""
    if name not in SPECS:
        close = difflib.get_close_matches(str(name), available(), n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ValueError(f"unknown model {name!r}.{hint} Available models: {', '.join(available())}.")


def spec(name: str) -> ModelSpec:
    """The spec of registered model ``name``."""
    check_name(name)
    return SPECS[name]


def builder(name: str):
    """The function that builds model ``name``."""
    return spec(name).build_function()


def describe(name: str) -> str:
    """The first line of a builder's docstring."""
    return (inspect.getdoc(builder(name)) or "").splitlines()[0]


def load_model(path):
    """``keras.models.load_model`` under its default ``safe_mode``, after registering the
    package's custom layers (e.g. the ResNet option-A shortcut) and learning-rate schedules (a
    model saved by ``train`` keeps its optimizer, whose schedule may be the package's
    ``WarmupStepDecay``) so that any saved model loads.

    Code that calls ``keras.models.load_model`` itself needs ``import cv_textbook.models.layers``,
    ``import cv_textbook.models.rcnn`` (for a detector) and ``import cv_textbook.schedules`` first, as with any Keras model that has custom objects.
    """
    # Imported here, not at the top, so that `import cv_textbook.models` loads no framework.
    import keras

    importlib.import_module(f"{__name__}.layers")
    importlib.import_module(f"{__name__}.rcnn")  # the detectors' model class and the RoI layers
    importlib.import_module("cv_textbook.schedules")
    return keras.models.load_model(path)


def build_spec(model_spec: ModelSpec, **kwargs):
    """Build the model of ``model_spec`` (registered or not); keyword arguments go to its builder."""
    build_fn = model_spec.build_function()
    accepted = inspect.signature(build_fn).parameters
    unknown = [key for key in kwargs if key not in accepted]
    if unknown:
        raise ValueError(
            f"{model_spec.name} got unknown argument(s) {', '.join(unknown)}; it accepts: {', '.join(accepted)}."
        )
    return build_fn(**kwargs)


def build(name: str, **kwargs):
    """Build the registered model ``name``; keyword arguments go to its builder."""
    return build_spec(spec(name), **kwargs)


__all__ = [
    "CHAPTERS",
    "ModelSpec",
    "Recipe",
    "available",
    "build",
    "build_spec",
    "builder",
    "check_name",
    "describe",
    "feature_extractor",
    "load_model",
    "spec",
    "specs",
    "transfer_weights",
]
