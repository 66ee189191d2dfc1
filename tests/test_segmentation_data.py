"""Segmentation data: Fashion-MNIST canvases (labels, splits, determinism, cache) and the Oxford-IIIT Pets loader."""

import warnings

import numpy as np
import pytest

from cv_textbook import config
from cv_textbook.data import DatasetError, FASHION_MNIST_CLASSES, segmentation
from cv_textbook.data.oxford_pets import load_oxford_pets
from cv_textbook.data.segmentation import (
    CANVAS_CLASSES_SEMANTIC,
    CANVAS_CLASSES_TRIMAP,
    cache_path,
    item_pool,
    make_fashion_canvases,
)


@pytest.fixture(autouse=True)
def real_fashion_mnist_once(monkeypatch, fashion_mnist, tmp_path):
    """Reuse the session's real Fashion-MNIST arrays and keep every cache inside tmp_path."""
    monkeypatch.setattr(segmentation, "load_fashion_mnist", lambda: fashion_mnist)
    monkeypatch.setattr(config, "data_dir", lambda: tmp_path / "data")


def _settings(**overrides):
    arguments = dict(split="train", n=8, size=64, mode="trimap", seed=0, max_items=4)
    arguments.update(overrides)
    return segmentation._check_arguments(**arguments)


# --------------------------------------------------------------------------- canvases


def test_class_names():
    assert CANVAS_CLASSES_TRIMAP == ("item", "background", "border")
    assert CANVAS_CLASSES_SEMANTIC == ("background", *FASHION_MNIST_CLASSES) and len(CANVAS_CLASSES_SEMANTIC) == 11


def test_trimap_canvases_have_the_right_shapes_and_labels():
    images, masks = make_fashion_canvases("train", n=24, size=96, mode="trimap", cache=False, progress=False)
    assert images.shape == (24, 96, 96, 1) and images.dtype == np.uint8
    assert masks.shape == (24, 96, 96) and masks.dtype == np.uint8
    assert set(np.unique(masks)) == {0, 1, 2}
    for mask in masks:  # every canvas has an item, and the border ring separates item from background
        assert (mask == 0).any() and (mask == 2).any()
        item = np.pad(mask == 0, 1)
        near_item = np.zeros_like(mask, dtype=bool)
        for dy in (0, 1, 2):
            for dx in (0, 1, 2):
                near_item |= item[dy : dy + 96, dx : dx + 96]
        assert not (near_item & (mask == 1)).any()
    background = images[..., 0][masks == 1].astype(float)
    assert background.std() > 3  # textured, not a flat colour


def test_semantic_canvases_label_each_item_with_its_garment_class(fashion_mnist):
    settings = _settings(mode="semantic", n=16, size=64)
    images, masks, item_ids = segmentation._compose(settings, progress=False)
    assert masks.max() <= 10
    (_, y_train), _ = fashion_mnist
    for mask, ids in zip(masks, item_ids):
        present = set(np.unique(mask)) - {0}
        expected = {int(y_train[i]) + 1 for i in ids if i >= 0}
        assert present and present <= expected  # an item can be hidden under later ones
    assert ((item_ids >= 0).sum(axis=1) >= 1).all() and ((item_ids >= 0).sum(axis=1) <= 4).all()


def test_same_settings_give_the_same_arrays_and_the_seed_changes_them():
    first = make_fashion_canvases("validation", n=6, size=64, seed=3, cache=False, progress=False)
    second = make_fashion_canvases("validation", n=6, size=64, seed=3, cache=False, progress=False)
    other = make_fashion_canvases("validation", n=6, size=64, seed=4, cache=False, progress=False)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    assert not np.array_equal(first[0], other[0])


def test_splits_draw_items_from_disjoint_pools():
    train_source, train = item_pool("train")
    val_source, val = item_pool("validation")
    test_source, test = item_pool("test")
    assert train_source == val_source == "train" and test_source == "test"
    assert len(train) == 54_000 and len(val) == 6_000 and len(test) == 10_000
    assert np.intersect1d(train, val).size == 0
    assert np.union1d(train, val).size == 60_000


def test_validation_pool_is_the_books_usual_validation_split():
    from cv_textbook.data import split_validation

    index = np.arange(60_000)
    _, (val_index, _) = split_validation(index, index, fraction=0.1, seed=0)
    np.testing.assert_array_equal(np.sort(val_index), item_pool("validation")[1])


@pytest.mark.parametrize("split", ["train", "validation", "test"])
def test_canvases_use_only_their_splits_items(split):
    _, pool = item_pool(split)
    _, _, item_ids = segmentation._compose(_settings(split=split, n=40), progress=False)
    used = item_ids[item_ids >= 0]
    assert np.isin(used, pool).all()


def test_no_test_image_is_ever_pasted_into_a_training_canvas(monkeypatch, fashion_mnist):
    # Pixel-level check: make every training image a flat 160 and every test image a flat 255;
    # then the item pixels of a canvas tell which file its items came from.
    (x_train, y_train), (x_test, y_test) = fashion_mnist
    marked = ((np.full_like(x_train, 160), y_train), (np.full_like(x_test, 255), y_test))
    monkeypatch.setattr(segmentation, "load_fashion_mnist", lambda: marked)
    for split in ("train", "validation", "test"):
        images, masks = make_fashion_canvases(split, n=30, size=64, cache=False, progress=False)
        items = images[..., 0][masks == 0]
        assert items.size > 0
        if split == "test":
            assert items.min() > 207
        else:
            assert items.max() < 208


def test_progress_bar_is_a_plain_text_bar(capsys):
    make_fashion_canvases(n=2, size=64, cache=False, progress=True)
    assert "Composing train canvases" in capsys.readouterr().err
    make_fashion_canvases(n=2, size=64, cache=False, progress=False)
    assert capsys.readouterr().err == ""


def test_cache_is_written_and_reused(monkeypatch, tmp_path):
    images, masks = make_fashion_canvases(n=5, size=64, seed=1, progress=False)
    path = cache_path(_settings(n=5, seed=1))
    assert path.is_file() and path.parent == tmp_path / "data" / "cache" / "segmentation"
    for part in ("train", "n5", "size64", "trimap", "seed1", "items4", f"v{segmentation.GENERATOR_VERSION}"):
        assert part in path.name

    def must_not_compose(*args, **kwargs):
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(segmentation, "_compose", must_not_compose)
    cached_images, cached_masks = make_fashion_canvases(n=5, size=64, seed=1, progress=False)
    np.testing.assert_array_equal(images, cached_images)
    np.testing.assert_array_equal(masks, cached_masks)


@pytest.mark.parametrize(
    "changed",
    [{"n": 6}, {"size": 80}, {"mode": "semantic"}, {"seed": 2}, {"max_items": 2}, {"split": "validation"}],
)
def test_changed_settings_never_reuse_a_cache(changed):
    base = dict(n=5, size=64, seed=1, progress=False)
    make_fashion_canvases(**base)
    other = {**base, **changed}
    images, masks = make_fashion_canvases(**other)
    fresh = make_fashion_canvases(**other, cache=False)
    np.testing.assert_array_equal(images, fresh[0])
    np.testing.assert_array_equal(masks, fresh[1])
    assert len(list((config.data_dir() / "cache" / "segmentation").glob("*.npz"))) == 2


def test_a_cache_file_with_other_settings_inside_is_not_trusted():
    # Someone copies a cache made with seed 1 over the file name of seed 2.
    make_fashion_canvases(n=5, size=64, seed=1, progress=False)
    wrong = cache_path(_settings(n=5, seed=1))
    target = cache_path(_settings(n=5, seed=2))
    target.write_bytes(wrong.read_bytes())
    with pytest.warns(UserWarning, match="made with other settings"):
        images, _ = make_fashion_canvases(n=5, size=64, seed=2, progress=False)
    np.testing.assert_array_equal(images, make_fashion_canvases(n=5, size=64, seed=2, cache=False, progress=False)[0])
    # ... and the file was replaced by the right one, which is now reused silently.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make_fashion_canvases(n=5, size=64, seed=2, progress=False)


def test_a_damaged_cache_file_is_made_again():
    path = cache_path(_settings(n=3))
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a zip file")
    with pytest.warns(UserWarning, match="unreadable canvas cache"):
        images, masks = make_fashion_canvases(n=3, size=64, progress=False)
    assert images.shape == (3, 64, 64, 1)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"mode": "instance"}, r"mode must be one of \('trimap', 'semantic'\), got 'instance'"),
        ({"split": "val"}, r"split must be one of \('train', 'validation', 'test'\)"),
        ({"n": 0}, r"n must be an integer of at least 1"),
        ({"size": 32}, r"size must be an integer of at least 64 \(smallest valid value: 64\)"),
        ({"max_items": 0}, r"max_items must be an integer of at least 1"),
        ({"seed": -1}, r"seed must be an integer of at least 0"),
        ({"n": 2.5}, r"n must be an integer"),
    ],
)
def test_bad_canvas_arguments_raise_errors_that_name_them(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_fashion_canvases(**kwargs)


# --------------------------------------------------------------------------- Oxford-IIIT Pets


def _write_pets(root, names=("Abyssinian_1", "Abyssinian_2", "beagle_1", "beagle_2", "pug_1", "pug_2")):
    from PIL import Image

    rng = np.random.default_rng(0)
    (root / "images").mkdir(parents=True)
    (root / "annotations" / "trimaps").mkdir(parents=True)
    for k, name in enumerate(names):
        height, width = 40 + 4 * k, 50 - 2 * k
        pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        image = Image.fromarray(pixels) if k != 2 else Image.fromarray(pixels[..., 0])  # one grayscale photo
        image.save(root / "images" / f"{name}.jpg", quality=90)
        trimap = np.full((height, width), 2, dtype=np.uint8)
        trimap[10:30, 10:30] = 1
        trimap[10:30, 10] = 3
        Image.fromarray(trimap).save(root / "annotations" / "trimaps" / f"{name}.png")
    (root / "images" / "._Abyssinian_1.jpg").write_bytes(b"macOS resource fork")  # in the real archive
    return root


def test_oxford_pets_loads_a_seeded_split(tmp_path):
    root = _write_pets(tmp_path / "pets")
    (x_train, y_train), (x_val, y_val) = load_oxford_pets(root, image_size=(32, 48), validation_fraction=0.34)
    assert x_train.shape == (4, 32, 48, 3) and x_val.shape == (2, 32, 48, 3)
    assert y_train.shape == (4, 32, 48) and y_val.shape == (2, 32, 48)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.uint8
    labels = np.concatenate([y_train.ravel(), y_val.ravel()])
    assert set(np.unique(labels)) == {0, 1, 2}  # trimap 1..3 shifted to 0..2, no blended values
    again = load_oxford_pets(root, image_size=(32, 48), validation_fraction=0.34)
    np.testing.assert_array_equal(again[0][0], x_train)
    other_seed = load_oxford_pets(root, image_size=(32, 48), validation_fraction=0.34, seed=5)
    assert not np.array_equal(other_seed[1][1], y_val) or not np.array_equal(other_seed[1][0], x_val)


def test_oxford_pets_limit_keeps_a_subset(tmp_path):
    root = _write_pets(tmp_path / "pets")
    (x_train, _), (x_val, _) = load_oxford_pets(root, image_size=(16, 16), limit=3)
    assert len(x_train) + len(x_val) == 3 and len(x_val) == 1


def test_missing_oxford_folder_says_where_to_get_the_data(tmp_path):
    with pytest.raises(DatasetError, match=r"does not exist.*Parkhi.*robots\.ox\.ac\.uk.*images\.tar\.gz and annotations\.tar\.gz"):
        load_oxford_pets(tmp_path / "nowhere")


def test_corrupt_oxford_image_is_named(tmp_path):
    root = _write_pets(tmp_path / "pets")
    (root / "images" / "beagle_1.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a JPEG")
    with pytest.raises(DatasetError, match=r"beagle_1\.jpg cannot be read"):
        load_oxford_pets(root, image_size=(16, 16))


def test_missing_oxford_trimap_is_named(tmp_path):
    root = _write_pets(tmp_path / "pets")
    (root / "annotations" / "trimaps" / "pug_2.png").unlink()
    with pytest.raises(DatasetError, match=r"trimap .*pug_2\.png of image pug_2\.jpg is missing"):
        load_oxford_pets(root, image_size=(16, 16))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"validation_fraction": 1.0}, r"validation_fraction must be between 0 and 1"),
        ({"image_size": 160}, r"image_size must be \(height, width\)"),
        ({"limit": 1}, r"limit must be None or an integer of at least 2"),
    ],
)
def test_bad_oxford_arguments(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        load_oxford_pets(_write_pets(tmp_path / "pets"), **kwargs)
