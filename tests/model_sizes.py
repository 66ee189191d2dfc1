"""Small but complete versions of every registered model, for tests that build them all."""

import inspect

from cv_textbook import models

# ResNet-1202's 4,200 layers take minutes to save; tests/test_resnet.py covers it as a slow test.
TOO_DEEP_FOR_EVERY_MODEL_TESTS = ("resnet1202",)


def small_version(name):
    """Keyword arguments that build model ``name`` at a small input size (same layers)."""
    parameters = inspect.signature(models.builder(name)).parameters
    if name == "unet_classic":
        return {"input_shape": (32, 32, 1), "padding": "same"}
    if name.startswith("unet"):
        return {"input_shape": (32, 32, 1)}
    if "depth" in parameters or parameters["input_shape"].default == (32, 32, 3):
        return {"input_shape": (28, 28, 1)}  # CIFAR layout, on Fashion-MNIST's size
    if parameters["input_shape"].default == (224, 224, 3):
        return {"input_shape": (32, 32, 3), "num_classes": 10}
    return {}


def every_model():
    return [name for name in models.available() if name not in TOO_DEEP_FOR_EVERY_MODEL_TESTS]
