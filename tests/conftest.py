"""Shared test set-up: a quiet TensorFlow, a non-interactive matplotlib, small real data."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")
# JAX compiles every weight initializer and step with XLA, at full optimization by default: building
# ResNet-20 on JAX took 35.3 s on the 2-core CPU, 6.9 s with these flags (the tests' tiny batches do
# not need optimized kernels). The tests run TensorFlow without XLA (jit_compile=False), so only the
# JAX subprocesses, which inherit this environment, see the flags.
_FAST_XLA_COMPILE = "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"
os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {_FAST_XLA_COMPILE}".strip()

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
