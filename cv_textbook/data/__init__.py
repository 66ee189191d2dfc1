"""Datasets of the textbook: real Fashion-MNIST, and the pipeline that batches it."""

from cv_textbook.data.fashion_mnist import (
    FASHION_MNIST_CLASSES,
    DatasetError,
    fashion_mnist_source,
    load_fashion_mnist,
    locate_fashion_mnist,
)
from cv_textbook.data.pipeline import make_dataset, prepare_images, split_validation, subset

__all__ = [
    "FASHION_MNIST_CLASSES",
    "DatasetError",
    "fashion_mnist_source",
    "load_fashion_mnist",
    "locate_fashion_mnist",
    "make_dataset",
    "prepare_images",
    "split_validation",
    "subset",
]
