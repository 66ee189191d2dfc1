"""Shared test set-up: a quiet TensorFlow, a non-interactive matplotlib, small real data."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def fashion_mnist():
    from cv_textbook.data import load_fashion_mnist

    return load_fashion_mnist(download=False)


@pytest.fixture(scope="session")
def small_fashion_mnist(fashion_mnist):
    """A seeded real subset: 512 training and 256 test images."""
    from cv_textbook.data import subset

    (x_train, y_train), (x_test, y_test) = fashion_mnist
    return subset(x_train, y_train, 512, seed=0), subset(x_test, y_test, 256, seed=0)
