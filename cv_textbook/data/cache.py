"""The one place that stores generated datasets: compressed ``.npz`` files under ``data/cache/<kind>/``.

A generated dataset (the segmentation and detection canvases) is a pure function of its
settings, so it can be cached; but a cache is only as good as the proof that it belongs to
those settings. Every file therefore stores its settings (as JSON) next to its arrays, and
:func:`load_arrays` refuses a file, with a warning, when the stored settings or the array
shapes or dtypes differ from what the caller expects, or when it cannot be read. The caller
then generates the data again and :func:`save_arrays` replaces the file. Writing goes through a
temporary file and ``os.replace``, so a reader never sees half a file, even when two processes
write the same dataset at once.

NumPy only (no framework), like the generators that use it.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np

from cv_textbook import config

SETTINGS_KEY = "settings"


def cache_file(kind: str, name: str) -> Path:
    """``data/cache/<kind>/<name>``: where a generated dataset of ``kind`` is stored."""
    return config.data_dir() / "cache" / kind / name


def _as_json(settings: dict) -> dict:
    """The settings as they read back from JSON (tuples become lists), for a fair comparison."""
    return json.loads(json.dumps(settings))


def load_arrays(
    path: Path,
    settings: dict,
    expected: dict[str, tuple[tuple[int, ...], np.dtype | type]],
    stacklevel: int = 3,
) -> dict[str, np.ndarray] | None:
    """The arrays stored in ``path`` if it was made with exactly ``settings``, else None.

    ``expected`` maps each array's name to its ``(shape, dtype)``. A missing file gives None
    silently; an unreadable one, one made with other settings, or one whose arrays have another
    shape or dtype gives None with a ``UserWarning`` that says so (the caller then makes the
    data again). ``stacklevel`` points the warning at the caller's caller, the user's code.
    """
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as stored:
            stored_settings = json.loads(str(stored[SETTINGS_KEY]))
            arrays = {name: stored[name] for name in expected}
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as error:
        warnings.warn(
            f"ignoring unreadable canvas cache {path} ({error!r}); composing the canvases again.",
            stacklevel=stacklevel,
        )
        return None
    if stored_settings != _as_json(settings):
        warnings.warn(
            f"ignoring canvas cache {path}: it was made with other settings ({stored_settings}); "
            "composing the canvases again.",
            stacklevel=stacklevel,
        )
        return None
    for name, (shape, dtype) in expected.items():
        if arrays[name].shape != tuple(shape) or arrays[name].dtype != np.dtype(dtype):
            warnings.warn(
                f"ignoring canvas cache {path}: its arrays have the wrong shape or dtype ({name} is "
                f"{arrays[name].dtype}{arrays[name].shape}, expected {np.dtype(dtype)}{tuple(shape)}); "
                "composing the canvases again.",
                stacklevel=stacklevel,
            )
            return None
    return arrays


def save_arrays(path: Path, settings: dict, arrays: dict[str, np.ndarray], stacklevel: int = 3) -> None:
    """Store ``arrays`` and ``settings`` in ``path`` atomically; warn (and go on) if that fails."""
    if SETTINGS_KEY in arrays:
        raise ValueError(f"arrays must not contain the name {SETTINGS_KEY!r}: it holds the settings.")
    temporary = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.stem, suffix=".tmp")
        with os.fdopen(handle, "wb") as stream:
            np.savez_compressed(stream, **arrays, **{SETTINGS_KEY: np.array(json.dumps(settings))})
        os.replace(temporary, path)  # atomic: a reader never sees half a file
        temporary = None
    except OSError as error:
        warnings.warn(
            f"could not write the canvas cache {path} ({error}); continuing without it.",
            stacklevel=stacklevel,
        )
    finally:
        if temporary is not None and os.path.exists(temporary):
            os.remove(temporary)


__all__ = ["cache_file", "load_arrays", "save_arrays"]
