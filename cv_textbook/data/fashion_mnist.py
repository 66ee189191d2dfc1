"""Fashion-MNIST (Xiao, Rasul & Vollgraf, 2017), read from local files and checked before use.

The four IDX files are looked for, in order, in ``$CV_TEXTBOOK_DATA``, the project's
``data/fashion-mnist/``, Debian's ``/usr/share/datasets/fashion-mnist/`` (package
``dataset-fashion-mnist``) and the Keras cache; only when none has them are they downloaded
through Keras. Each file may be gzip-compressed (``*.gz``, as distributed) or not; its
*decompressed* bytes must match the SHA-256 below. Hashing the content rather than the
archive accepts every genuine copy (Debian recompresses the archives, so their own hashes
differ from Zalando's) and refuses every damaged one.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from pathlib import Path

import numpy as np

from cv_textbook import config
from cv_textbook.data.errors import DatasetError  # also importable from here, as callers did before

FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

# SHA-256 of each file's decompressed IDX content, and the array it holds.
FASHION_MNIST_FILES = {
    "train-images-idx3-ubyte": {
        "sha256": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "shape": (60000, 28, 28),
    },
    "train-labels-idx1-ubyte": {
        "sha256": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "shape": (60000,),
    },
    "t10k-images-idx3-ubyte": {
        "sha256": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "shape": (10000, 28, 28),
    },
    "t10k-labels-idx1-ubyte": {
        "sha256": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        "shape": (10000,),
    },
}

DATA_ENV = "CV_TEXTBOOK_DATA"
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
KERAS_DOWNLOAD_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"

_GET_THE_FILES = (
    "on Debian/Ubuntu run `sudo apt-get install dataset-fashion-mnist` (or `make data`); "
    "or copy the four files train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
    "t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz into data/fashion-mnist/ "
    f"(or a folder named by ${DATA_ENV})"
)
MISSING_REMEDY = f"To fix it: {_GET_THE_FILES}; or connect to the internet once so Keras can download them."
REMEDY = (
    "To fix it: delete this file and " + _GET_THE_FILES + "; with internet access, deleting it is "
    "enough: load_fashion_mnist() then downloads a fresh copy through Keras."
)


def search_dirs() -> list[Path]:
    """The folders searched for the Fashion-MNIST files, in the order they are tried."""
    dirs = []
    custom = os.environ.get(DATA_ENV)
    if custom:
        dirs += [Path(custom), Path(custom) / "fashion-mnist"]
    dirs.append(config.data_dir() / "fashion-mnist")
    dirs.append(DEBIAN_DIR)
    dirs.append(_keras_cache_dir())
    return dirs


def _keras_cache_dir() -> Path:
    keras_home = os.environ.get("KERAS_HOME", os.path.join(os.path.expanduser("~"), ".keras"))
    return Path(keras_home) / "datasets" / "fashion-mnist"


def _find_file(stem: str, dirs: list[Path]) -> Path | None:
    for folder in dirs:
        for name in (stem + ".gz", stem):
            candidate = folder / name
            if candidate.is_file():
                return candidate
    return None


def _download(stem: str) -> Path:
    """Fetch one file into the Keras cache; raises DatasetError when there is no connection."""
    import keras  # deferred: only a download needs Keras here

    try:
        path = keras.utils.get_file(
            stem + ".gz",
            origin=KERAS_DOWNLOAD_URL + stem + ".gz",
            cache_subdir=os.path.join("datasets", "fashion-mnist"),
        )
    except Exception as error:  # any network failure ends in the same advice
        raise DatasetError(f"could not download {stem}.gz ({error}).") from error
    return Path(path)


def locate_fashion_mnist(download: bool = True) -> dict[str, Path]:
    """Return the path of each Fashion-MNIST file, downloading the missing ones if allowed.

    Raises ``DatasetError`` naming the missing file and every place searched.
    """
    dirs = search_dirs()
    paths = {}
    for stem in FASHION_MNIST_FILES:
        path = _find_file(stem, dirs)
        if path is None and download:
            try:
                path = _download(stem)
            except DatasetError as error:
                raise DatasetError(_missing_message(stem, dirs, str(error))) from error
        if path is None:
            raise DatasetError(_missing_message(stem, dirs, "downloading is switched off."))
        paths[stem] = path
    return paths


def _missing_message(stem: str, dirs: list[Path], why: str) -> str:
    searched = "\n".join(f"  - {d}" for d in dirs)
    return (
        f"Fashion-MNIST file {stem}.gz was not found. Searched, in order:\n{searched}\n"
        f"and then {why}\n{MISSING_REMEDY}"
    )


def read_idx(path: Path, expected_sha256: str | None = None) -> np.ndarray:
    """Read one IDX file (gzip-compressed or not) into a uint8 array, checking its SHA-256."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as stream:
                content = stream.read()
        else:
            content = path.read_bytes()
    except (OSError, EOFError, zlib.error) as error:
        raise DatasetError(
            f"{path} is damaged: it cannot be decompressed ({error}). It is probably truncated. "
            + REMEDY
        ) from error
    if expected_sha256 is not None:
        digest = hashlib.sha256(content).hexdigest()
        if digest != expected_sha256:
            raise DatasetError(
                f"{path} is not the genuine file: the SHA-256 of its content is {digest}, "
                f"expected {expected_sha256}. It is corrupted or a different file. " + REMEDY
            )
    return _parse_idx(path, content)


def _parse_idx(path: Path, content: bytes) -> np.ndarray:
    # IDX header: two zero bytes, a type code (0x08 = uint8), the number of dimensions,
    # then one big-endian uint32 per dimension.
    if len(content) < 4 or content[:2] != b"\x00\x00" or content[2] != 0x08:
        raise DatasetError(f"{path} is not an IDX file of unsigned bytes. " + REMEDY)
    ndim = content[3]
    header_size = 4 + 4 * ndim
    shape = tuple(int.from_bytes(content[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    if len(content) != header_size + int(np.prod(shape)):
        raise DatasetError(
            f"{path} holds {len(content) - header_size} values, but its header announces "
            f"{int(np.prod(shape))} (shape {shape}): the file is truncated. " + REMEDY
        )
    return np.frombuffer(content, dtype=np.uint8, offset=header_size).reshape(shape).copy()


def load_fashion_mnist(download: bool = True):
    """Load the real Fashion-MNIST as ``((x_train, y_train), (x_test, y_test))``.

    Arrays are uint8 and shaped like ``keras.datasets.fashion_mnist.load_data()``:
    (60000, 28, 28), (60000,), (10000, 28, 28), (10000,). Every file is checked against its
    SHA-256 first; a missing or damaged one raises ``DatasetError`` that says what to do.
    """
    paths = locate_fashion_mnist(download=download)
    arrays = {}
    for stem, spec in FASHION_MNIST_FILES.items():
        array = read_idx(paths[stem], spec["sha256"])
        if array.shape != spec["shape"]:
            raise DatasetError(
                f"{paths[stem]} has shape {array.shape}, expected {spec['shape']}. " + REMEDY
            )
        arrays[stem] = array
    return (
        (arrays["train-images-idx3-ubyte"], arrays["train-labels-idx1-ubyte"]),
        (arrays["t10k-images-idx3-ubyte"], arrays["t10k-labels-idx1-ubyte"]),
    )


def fashion_mnist_source(download: bool = False) -> str:
    """The folder the training images are read from (for reports and metrics files)."""
    paths = locate_fashion_mnist(download=download)
    return str(paths["train-images-idx3-ubyte"].parent)
