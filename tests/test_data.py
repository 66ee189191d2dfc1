"""Fashion-MNIST loading (real files, checked) and the batching pipeline."""

import gzip
import shutil
from pathlib import Path

import keras
import numpy as np
import pytest

from cv_textbook import config
from cv_textbook.data import FASHION_MNIST_CLASSES, DatasetError, fashion_mnist as fm
from cv_textbook.data import load_fashion_mnist, make_dataset, prepare_images, split_validation, subset

STEMS = list(fm.FASHION_MNIST_FILES)


def test_load_fashion_mnist_has_the_keras_layout(fashion_mnist):
    (x_train, y_train), (x_test, y_test) = fashion_mnist
    assert x_train.shape == (60000, 28, 28) and x_train.dtype == np.uint8
    assert y_train.shape == (60000,) and y_train.dtype == np.uint8
    assert x_test.shape == (10000, 28, 28) and y_test.shape == (10000,)
    assert len(FASHION_MNIST_CLASSES) == 10
    # The real dataset is balanced: 6,000 training and 1,000 test images per class.
    assert np.bincount(y_train).tolist() == [6000] * 10
    assert np.bincount(y_test).tolist() == [1000] * 10
    assert x_train.max() == 255 and x_train.min() == 0


@pytest.fixture(scope="module")
def genuine_files():
    return list(fm.locate_fashion_mnist(download=False).values())


@pytest.fixture
def isolated_data(tmp_path, monkeypatch, genuine_files):
    """Point every search location at empty temporary folders; return the custom one."""
    custom = tmp_path / "custom"
    custom.mkdir()
    monkeypatch.setenv(fm.DATA_ENV, str(custom))
    monkeypatch.setattr(fm, "DEBIAN_DIR", tmp_path / "debian")
    monkeypatch.setattr(config, "data_dir", lambda: tmp_path / "project-data")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))
    return custom


def copy_files(paths, destination: Path) -> None:
    for path in paths:
        shutil.copy(path, destination / path.name)


def test_search_order_puts_the_custom_folder_first(isolated_data, tmp_path):
    dirs = fm.search_dirs()
    assert dirs[0] == isolated_data
    assert dirs.index(tmp_path / "project-data" / "fashion-mnist") < dirs.index(tmp_path / "debian")
    assert dirs[-1] == tmp_path / "keras-home" / "datasets" / "fashion-mnist"


def test_files_in_the_custom_folder_are_used(isolated_data, genuine_files):
    copy_files(genuine_files, isolated_data)
    custom = isolated_data
    assert fm.fashion_mnist_source() == str(custom)
    (x_train, _), _ = load_fashion_mnist(download=False)
    assert x_train.shape == (60000, 28, 28)


def test_missing_file_names_the_file_every_place_searched_and_the_remedy(isolated_data, tmp_path):
    with pytest.raises(DatasetError) as raised:
        load_fashion_mnist(download=False)
    message = str(raised.value)
    assert "train-images-idx3-ubyte" in message
    for folder in fm.search_dirs():
        assert str(folder) in message
    assert "apt-get install dataset-fashion-mnist" in message


def test_failed_download_gives_the_same_advice(isolated_data, monkeypatch):
    def no_network(stem):
        raise DatasetError("could not download (no network)")

    monkeypatch.setattr(fm, "_download", no_network)
    with pytest.raises(DatasetError, match="(?s)could not download.*dataset-fashion-mnist"):
        load_fashion_mnist(download=True)


def test_truncated_file_is_refused_with_its_name(isolated_data, genuine_files):
    copy_files(genuine_files, isolated_data)
    damaged = isolated_data / "train-labels-idx1-ubyte.gz"
    damaged.write_bytes(damaged.read_bytes()[:1000])
    with pytest.raises(DatasetError, match=r"(?s)train-labels-idx1-ubyte\.gz is damaged.*truncated.*delete this file"):
        load_fashion_mnist(download=False)


def test_corrupted_file_fails_its_sha256(isolated_data, genuine_files):
    copy_files(genuine_files, isolated_data)
    target = isolated_data / "t10k-labels-idx1-ubyte.gz"
    content = bytearray(gzip.decompress(target.read_bytes()))
    content[100] = (content[100] + 1) % 10  # one wrong label: still a valid IDX file
    target.write_bytes(gzip.compress(bytes(content)))
    with pytest.raises(DatasetError, match=r"(?s)t10k-labels-idx1-ubyte\.gz is not the genuine file.*SHA-256.*delete this file"):
        load_fashion_mnist(download=False)


def test_uncompressed_files_are_accepted_and_checked(isolated_data, genuine_files):
    copy_files(genuine_files, isolated_data)
    packed = isolated_data / "t10k-labels-idx1-ubyte.gz"
    (isolated_data / "t10k-labels-idx1-ubyte").write_bytes(gzip.decompress(packed.read_bytes()))
    packed.unlink()
    _, (_, y_test) = load_fashion_mnist(download=False)
    assert y_test.shape == (10000,)


def test_idx_with_a_lying_header_is_called_truncated(tmp_path):
    path = tmp_path / "bad-idx1-ubyte"
    path.write_bytes(b"\x00\x00\x08\x01" + (100).to_bytes(4, "big") + bytes(50))
    with pytest.raises(DatasetError, match="truncated"):
        fm.read_idx(path)


def test_prepare_images_scales_and_adds_a_channel():
    images = np.array([[[0, 255], [51, 102]]], dtype=np.uint8)
    prepared = prepare_images(images)
    assert prepared.shape == (1, 2, 2, 1) and prepared.dtype == np.float32
    np.testing.assert_allclose(prepared[0, :, :, 0], [[0.0, 1.0], [0.2, 0.4]])
    with pytest.raises(ValueError, match="images must have shape"):
        prepare_images(np.zeros((3, 4)))


def test_subset_and_validation_split_are_seeded_and_disjoint(fashion_mnist):
    (x, y), _ = fashion_mnist
    xs, ys = subset(x, y, 1000, seed=3)
    xs2, ys2 = subset(x, y, 1000, seed=3)
    assert xs.shape == (1000, 28, 28) and np.array_equal(ys, ys2)
    (x_tr, y_tr), (x_val, y_val) = split_validation(xs, ys, 0.1, seed=0)
    assert len(x_val) == 100 and len(x_tr) == 900
    with pytest.raises(ValueError, match="fraction"):
        split_validation(xs, ys, 1.5)


def test_make_dataset_batches_float_images_with_a_seeded_shuffle(small_fashion_mnist):
    (x, y), _ = small_fashion_mnist
    first = [labels.numpy().tolist() for _, labels in make_dataset(x, y, 64, shuffle=True, seed=1)]
    again = [labels.numpy().tolist() for _, labels in make_dataset(x, y, 64, shuffle=True, seed=1)]
    assert first == again
    images, labels = next(iter(make_dataset(x, y, 64)))
    assert tuple(images.shape) == (64, 28, 28, 1) and keras.backend.standardize_dtype(images.dtype) == "float32"
    assert float(np.max(images)) <= 1.0
    np.testing.assert_array_equal(labels.numpy(), y[:64])


def test_make_dataset_resizes_and_augments(small_fashion_mnist):
    (x, y), _ = small_fashion_mnist
    images, _ = next(iter(make_dataset(x, y, 32, image_size=(32, 32), augment=("flip", "shift"))))
    assert tuple(images.shape) == (32, 32, 32, 1)
    with pytest.raises(ValueError, match="augment has unknown entries"):
        make_dataset(x, y, 32, augment=("rotate",))
    with pytest.raises(ValueError, match="same length"):
        make_dataset(x, y[:10])
