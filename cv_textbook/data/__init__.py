"""Datasets of the textbook: real Fashion-MNIST, and the pipeline that batches it.

The pipeline functions load Keras on first use, so that checking the data files stays fast.
"""

import importlib

from cv_textbook.data.errors import DatasetError
from cv_textbook.data.fashion_mnist import (
    FASHION_MNIST_CLASSES,
    fashion_mnist_source,
    load_fashion_mnist,
    locate_fashion_mnist,
)

_PIPELINE_NAMES = ("make_dataset", "prepare_images", "split_validation", "subset")


def __getattr__(name):
    if name in _PIPELINE_NAMES:
        return getattr(importlib.import_module("cv_textbook.data.pipeline"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "FASHION_MNIST_CLASSES",
    "DatasetError",
    "fashion_mnist_source",
    "load_fashion_mnist",
    "locate_fashion_mnist",
    *_PIPELINE_NAMES,
]
