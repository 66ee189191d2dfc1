"""Keeping TensorFlow's native start-up lines out of lessons and terminals.

TensorFlow 2.2x prints C++ log lines while it loads ("oneDNN custom operations are on",
"Could not find cuda drivers", "failed call to cuInit") before its logging is set up, so
``TF_CPP_MIN_LOG_LEVEL`` cannot hide them. They are harmless. These helpers send native
(C/C++) writes to standard error to /dev/null for the few moments they happen; Python
exceptions and warnings still reach you.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import sys


@contextlib.contextmanager
def native_stderr_silenced():
    """Discard what native code writes to file descriptor 2 inside this block."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real descriptor 2 (some embedded interpreters)
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_tensorflow_quietly() -> None:
    """Import TensorFlow (when installed) without its native start-up lines.

    Call it before the first ``import keras`` with the TensorFlow backend. A broken
    installation still raises its ImportError, with the message shown as usual.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow":
        return
    if importlib.util.find_spec("tensorflow") is None:
        return
    with native_stderr_silenced():
        import tensorflow  # noqa: F401


@contextlib.contextmanager
def python_warnings_of(logger_name: str, level: int = logging.ERROR):
    """Raise the Python logger ``logger_name`` to ``level`` inside this block.

    For TensorFlow's "N out of the last M calls ... triggered tf.function retracing": a notebook that
    evaluates several models traces one predict step for each, which is expected, yet TensorFlow counts
    them together and warns.
    """
    logger = logging.getLogger(logger_name)
    saved = logger.level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(saved)
