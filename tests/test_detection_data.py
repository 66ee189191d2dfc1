"""Detection data: Fashion-MNIST canvases with tight, disjoint boxes; splits, determinism, cache, batches.

Every property is checked on the pixels of the canvases themselves, never by re-running the
generator's own code: a box is tight when its first and last rows and columns hold a garment
pixel and every garment pixel lies in exactly one box.
"""

import shutil
import warnings

import keras
import numpy as np
import pytest

from cv_textbook import config
from cv_textbook.data import FASHION_MNIST_CLASSES, detection
from cv_textbook.data import cache as canvas_cache
from cv_textbook.data import pipeline
from cv_textbook.data.detection import (
    CLASS_NAMES,
    DetectionCanvases,
    cache_path,
    detection_dataset,
    instance_masks,
    make_detection_canvases,
)
from cv_textbook.data.segmentation import item_pool


@pytest.fixture(autouse=True)
def real_fashion_mnist_once(monkeypatch, fashion_mnist, tmp_path):
    """Reuse the session's real Fashion-MNIST arrays and keep every cache inside tmp_path."""
    monkeypatch.setattr(detection, "load_fashion_mnist", lambda: fashion_mnist)
    monkeypatch.setattr(config, "data_dir", lambda: tmp_path / "data")


def canvases(split="train", count=48, size=128, max_objects=4, seed=0):
    return make_detection_canvases(split, count, size, max_objects, seed, cache=False, progress=False)


def valid_boxes(result, index):
    return result.boxes[index][result.valid[index]].astype(int)


# --------------------------------------------------------------------------- shapes and labels


def test_class_names_are_fashion_mnists():
    assert CLASS_NAMES == FASHION_MNIST_CLASSES and len(CLASS_NAMES) == 10


def test_canvases_have_the_documented_shapes_and_dtypes():
    result = canvases(count=12, size=96, max_objects=3)
    assert isinstance(result, DetectionCanvases) and len(result) == 12 and result.split == "train"
    assert result.images.shape == (12, 96, 96, 1) and result.images.dtype == np.uint8
    assert result.boxes.shape == (12, 3, 4) and result.boxes.dtype == np.float32
    assert result.classes.shape == (12, 3) and result.classes.dtype == np.int32
    assert result.valid.shape == (12, 3) and result.valid.dtype == np.bool_
    assert result.item_ids.shape == (12, 3) and result.item_ids.dtype == np.int64
    for placement in (result.tops, result.lefts, result.sides):
        assert placement.shape == (12, 3) and placement.dtype == np.int32


def test_boxes_are_whole_pixels_inside_the_canvas():
    result = canvases(size=128)
    boxes = result.boxes[result.valid]
    np.testing.assert_array_equal(boxes, np.round(boxes))
    x1, y1, x2, y2 = boxes.T
    assert (x1 >= 0).all() and (y1 >= 0).all() and (x2 <= 128).all() and (y2 <= 128).all()
    assert (x2 > x1).all() and (y2 > y1).all()
    assert (result.boxes[~result.valid] == 0).all()


def test_every_garment_pixel_lies_in_exactly_one_box_and_the_background_is_black():
    result = canvases(count=64)
    for index, image in enumerate(result.images[..., 0]):
        covered = np.zeros(image.shape, dtype=int)
        for x1, y1, x2, y2 in valid_boxes(result, index):
            covered[y1:y2, x1:x2] += 1
        assert (covered[image > 0] == 1).all()  # outside every box the canvas is 0


def test_every_box_is_tight_around_its_garment():
    # With every garment pixel in exactly one box (above), a box is tight when its first and
    # last row and first and last column each hold a non-zero pixel: x2, y2 are one past them.
    result = canvases(count=64)
    for index, image in enumerate(result.images[..., 0]):
        for x1, y1, x2, y2 in valid_boxes(result, index):
            inside = image[y1:y2, x1:x2] > 0
            assert inside[0].any() and inside[-1].any() and inside[:, 0].any() and inside[:, -1].any()


def test_boxes_never_overlap_nor_touch():
    result = canvases(count=64)
    for index in range(len(result)):
        boxes = valid_boxes(result, index)
        for a in range(len(boxes)):
            for b in range(a + 1, len(boxes)):
                (ax1, ay1, ax2, ay2), (bx1, by1, bx2, by2) = boxes[a], boxes[b]
                # at least one empty pixel column or row between them
                assert ax2 < bx1 or bx2 < ax1 or ay2 < by1 or by2 < ay1


def test_classes_are_the_fashion_mnist_labels_of_the_pasted_items(fashion_mnist):
    (_, y_train), _ = fashion_mnist
    result = canvases(count=64)
    np.testing.assert_array_equal(result.classes[result.valid], y_train[result.item_ids[result.valid]])
    assert set(np.unique(result.classes[result.valid])) <= set(range(10))
    assert (result.classes[~result.valid] == -1).all() and (result.item_ids[~result.valid] == -1).all()
    for placement in (result.tops, result.lefts, result.sides):
        assert (placement[~result.valid] == -1).all()


def test_each_canvas_holds_one_to_max_objects_garments_valid_slots_first():
    result = canvases(count=64, max_objects=4)
    counts = result.valid.sum(axis=1)
    assert counts.min() >= 1 and counts.max() <= 4
    assert {1, 4} <= set(counts.tolist())  # both extremes occur in 64 canvases
    np.testing.assert_array_equal(result.valid, np.arange(4)[None, :] < counts[:, None])
    single = canvases(count=16, max_objects=1)
    assert single.valid.all()


@pytest.mark.parametrize("size, smallest, largest", [(128, 28, 56), (64, 14, 28)])
def test_garments_are_about_a_quarter_to_under_half_the_canvas(size, smallest, largest):
    # The documented range: 28..56 px on a 128-px canvas, scaled with the canvas (7/32 to 7/16).
    result = canvases(count=48, size=size)
    sides = result.sides[result.valid]
    assert sides.min() >= smallest and sides.max() <= largest
    assert sides.max() - sides.min() > (largest - smallest) // 2  # the whole range is used
    boxes = result.boxes[result.valid]
    top, left = result.tops[result.valid], result.lefts[result.valid]
    # each box lies inside its garment's pasted square
    assert (boxes[:, 0] >= left).all() and (boxes[:, 2] <= left + sides).all()
    assert (boxes[:, 1] >= top).all() and (boxes[:, 3] <= top + sides).all()


# --------------------------------------------------------------------------- splits


@pytest.mark.parametrize("split", ["train", "validation", "test"])
def test_canvases_use_only_their_splits_items(split):
    _, pool = item_pool(split)
    result = canvases(split, count=48)
    used = result.item_ids[result.valid]
    assert np.isin(used, pool).all()
    if split == "test":
        assert used.max() < 10_000  # indices into the 10,000-image test file


def test_train_and_validation_pools_are_disjoint_and_test_is_the_test_file():
    train_file, train = item_pool("train")
    validation_file, validation = item_pool("validation")
    test_file, test = item_pool("test")
    assert train_file == validation_file == "train" and test_file == "test"
    assert np.intersect1d(train, validation).size == 0
    np.testing.assert_array_equal(test, np.arange(10_000))


def test_no_test_image_is_ever_pasted_into_a_training_canvas(monkeypatch, fashion_mnist):
    # Pixel-level check: every training image a flat 160, every test image a flat 255; the
    # garment pixels of a canvas then tell which file its garments came from.
    (x_train, y_train), (x_test, y_test) = fashion_mnist
    marked = ((np.full_like(x_train, 160), y_train), (np.full_like(x_test, 255), y_test))
    monkeypatch.setattr(detection, "load_fashion_mnist", lambda: marked)
    for split in ("train", "validation", "test"):
        garments = canvases(split, count=24).images[..., 0]
        garments = garments[garments > 0]
        assert garments.size > 0
        if split == "test":
            assert garments.min() > 207
        else:
            assert garments.max() < 208


# --------------------------------------------------------------------------- determinism


FIELDS = ("images", "boxes", "classes", "valid", "item_ids", "tops", "lefts", "sides")


def assert_same_canvases(first, second):
    for name in FIELDS:
        np.testing.assert_array_equal(getattr(first, name), getattr(second, name), err_msg=name)


def test_same_settings_give_the_same_canvases_and_the_seed_changes_them():
    first = canvases("validation", count=16, seed=3)
    assert_same_canvases(first, canvases("validation", count=16, seed=3))
    assert not np.array_equal(first.images, canvases("validation", count=16, seed=4).images)
    assert not np.array_equal(first.boxes, canvases("validation", count=16, seed=4).boxes)


def test_splits_give_different_canvases():
    assert not np.array_equal(canvases("train", count=16).images, canvases("validation", count=16).images)


def test_canvases_past_the_first_chunk_are_labelled_as_well():
    result = canvases(count=300, size=64)  # composed 256 canvases at a time
    for index in range(256, 300):
        image = result.images[index, ..., 0]
        covered = np.zeros(image.shape, dtype=int)
        for x1, y1, x2, y2 in valid_boxes(result, index):
            covered[y1:y2, x1:x2] += 1
            inside = image[y1:y2, x1:x2] > 0
            assert inside[0].any() and inside[-1].any() and inside[:, 0].any() and inside[:, -1].any()
        assert (covered[image > 0] == 1).all() and covered.any()


def test_progress_bar_is_a_plain_text_bar(capsys):
    make_detection_canvases(count=2, size=64, cache=False, progress=True)
    assert "Composing train detection canvases" in capsys.readouterr().err
    make_detection_canvases(count=2, size=64, cache=False, progress=False)
    assert capsys.readouterr().err == ""


# --------------------------------------------------------------------------- cache


def settings(**overrides):
    arguments = dict(split="train", count=8, size=64, max_objects=3, seed=1)
    arguments.update(overrides)
    return detection._check_arguments(**arguments)


def test_cache_is_written_and_reused(monkeypatch, tmp_path):
    made = make_detection_canvases("train", 8, size=64, max_objects=3, seed=1, progress=False)
    path = cache_path(settings())
    assert path.is_file() and path.parent == tmp_path / "data" / "cache" / "detection"
    for part in ("train", "n8", "size64", "objects3", "seed1", f"v{detection.GENERATOR_VERSION}"):
        assert part in path.name

    def must_not_compose(*args, **kwargs):
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(detection, "_compose", must_not_compose)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cached = make_detection_canvases("train", 8, size=64, max_objects=3, seed=1, progress=False)
    assert cached.split == "train"
    assert_same_canvases(made, cached)


@pytest.mark.parametrize(
    "changed", [{"count": 9}, {"size": 80}, {"max_objects": 2}, {"seed": 2}, {"split": "validation"}]
)
def test_changed_settings_never_reuse_a_cache(changed):
    base = dict(split="train", count=8, size=64, max_objects=3, seed=1, progress=False)
    make_detection_canvases(**base)
    other = {**base, **changed}
    assert_same_canvases(make_detection_canvases(**other), make_detection_canvases(**other, cache=False))
    assert len(list((config.data_dir() / "cache" / "detection").glob("*.npz"))) == 2


def test_a_cache_file_with_other_settings_inside_is_refused_and_replaced():
    # Someone copies a cache made with seed 1 over the file name of seed 2.
    make_detection_canvases("train", 8, size=64, max_objects=3, seed=1, progress=False)
    shutil.copyfile(cache_path(settings(seed=1)), cache_path(settings(seed=2)))
    with pytest.warns(UserWarning, match="made with other settings"):
        result = make_detection_canvases("train", 8, size=64, max_objects=3, seed=2, progress=False)
    assert_same_canvases(result, canvases(count=8, size=64, max_objects=3, seed=2))
    with warnings.catch_warnings():  # ... and the file now holds the right canvases, reused silently
        warnings.simplefilter("error")
        make_detection_canvases("train", 8, size=64, max_objects=3, seed=2, progress=False)


def test_a_cache_file_with_wrong_arrays_or_damaged_is_made_again():
    path = cache_path(settings())
    canvas_cache.save_arrays(path, settings(), {"images": np.zeros((8, 64, 64, 1), np.uint8)})
    with pytest.warns(UserWarning, match="unreadable canvas cache"):  # the box arrays are missing
        make_detection_canvases("train", 8, size=64, max_objects=3, seed=1, progress=False)
    with np.load(path) as stored:
        arrays = {name: stored[name] for name in stored.files if name != "settings"}
    arrays["boxes"] = arrays["boxes"][:, :2]  # right settings, wrong shape
    canvas_cache.save_arrays(path, settings(), arrays)
    with pytest.warns(UserWarning, match="wrong shape or dtype"):
        result = make_detection_canvases("train", 8, size=64, max_objects=3, seed=1, progress=False)
    assert result.boxes.shape == (8, 3, 4)
    path.write_bytes(b"not a zip file")
    with pytest.warns(UserWarning, match="unreadable canvas cache"):
        make_detection_canvases("train", 8, size=64, max_objects=3, seed=1, progress=False)


def test_a_cache_that_cannot_be_written_leaves_no_partial_file(monkeypatch):
    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(canvas_cache.np, "savez_compressed", disk_full)
    with pytest.warns(UserWarning, match="could not write the canvas cache"):
        result = make_detection_canvases("train", 8, size=64, max_objects=3, seed=1, progress=False)
    assert len(result) == 8
    assert list((config.data_dir() / "cache" / "detection").iterdir()) == []  # no .tmp left behind


# --------------------------------------------------------------------------- arguments


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"split": "val"}, r"split must be one of \('train', 'validation', 'test'\), got 'val'"),
        ({"count": 0}, r"count must be an integer of at least 1"),
        ({"count": 2.5}, r"count must be an integer"),
        ({"size": 32}, r"size must be an integer of at least 64 \(smallest valid value: 64\)"),
        ({"max_objects": 0}, r"max_objects must be an integer of at least 1"),
        ({"seed": -1}, r"seed must be an integer of at least 0"),
        ({"cache": "yes"}, r"cache must be True or False"),
    ],
)
def test_bad_arguments_raise_errors_that_name_them(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_detection_canvases(**{"count": 4, "progress": False, **kwargs})


# --------------------------------------------------------------------------- instance masks


def test_instance_masks_are_the_garment_pixels_and_agree_with_the_boxes():
    result = canvases(count=32)
    for index in range(len(result)):
        masks = instance_masks(result, index)
        assert masks.shape == (4, 128, 128) and masks.dtype == np.bool_
        image = result.images[index, ..., 0]
        np.testing.assert_array_equal(masks.sum(axis=0), image > 0)  # disjoint, and cover every garment pixel
        assert not masks[~result.valid[index]].any()
        for mask, (x1, y1, x2, y2) in zip(masks, valid_boxes(result, index)):
            rows, columns = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
            assert (columns[0], rows[0], columns[-1] + 1, rows[-1] + 1) == (x1, y1, x2, y2)


@pytest.mark.parametrize("index, message", [(8, r"index must be below the number of canvases, 8"),
                                            (-1, r"index must be an integer of at least 0"),
                                            (1.0, r"index must be an integer")])
def test_instance_masks_reject_a_bad_index(index, message):
    with pytest.raises(ValueError, match=message):
        instance_masks(canvases(count=8, size=64), index)


# --------------------------------------------------------------------------- batches


def test_detection_dataset_gives_float_images_and_box_targets():
    result = canvases(count=20, size=64, max_objects=3)
    batches = list(detection_dataset(result, batch_size=8))
    assert [len(images) for images, _ in batches] == [8, 8, 4]
    images, targets = batches[0]
    images = keras.ops.convert_to_numpy(images)
    targets = {name: keras.ops.convert_to_numpy(value) for name, value in targets.items()}
    assert images.shape == (8, 64, 64, 1) and images.dtype == np.float32
    assert set(targets) == {"boxes", "classes", "valid"}
    assert targets["boxes"].shape == (8, 3, 4) and targets["boxes"].dtype == np.float32
    assert targets["classes"].shape == (8, 3) and targets["classes"].dtype == np.int32
    assert targets["valid"].shape == (8, 3) and targets["valid"].dtype == np.bool_
    np.testing.assert_array_equal(images * 255, result.images[:8].astype(np.float32))  # k/255*255 is exact
    np.testing.assert_array_equal(targets["boxes"], result.boxes[:8])


def test_shuffled_batches_are_a_seeded_permutation():
    result = canvases(count=24, size=64)

    def first_epoch(dataset):
        return np.concatenate([keras.ops.convert_to_numpy(t["boxes"]) for _, t in dataset])

    shuffled = first_epoch(detection_dataset(result, 8, shuffle=True, seed=5))
    assert not np.array_equal(shuffled, result.boxes)
    np.testing.assert_array_equal(np.sort(shuffled, axis=0), np.sort(result.boxes, axis=0))
    np.testing.assert_array_equal(shuffled, first_epoch(detection_dataset(result, 8, shuffle=True, seed=5)))


def test_numpy_batches_for_other_backends_equal_the_tf_data_batches(monkeypatch):
    result = canvases(count=20, size=64, max_objects=3)
    from_tf = list(detection_dataset(result, batch_size=8))
    monkeypatch.setattr(pipeline.keras.backend, "backend", lambda: "jax")
    from_numpy = detection_dataset(result, batch_size=8)
    assert isinstance(from_numpy, pipeline.NumpyBatches) and isinstance(from_numpy, keras.utils.PyDataset)
    assert len(from_numpy) == 3
    for index, (images, targets) in enumerate(from_tf):
        numpy_images, numpy_targets = from_numpy[index]
        np.testing.assert_array_equal(numpy_images, keras.ops.convert_to_numpy(images))
        for name in ("boxes", "classes", "valid"):
            assert numpy_targets[name].dtype == keras.ops.convert_to_numpy(targets[name]).dtype
            np.testing.assert_array_equal(numpy_targets[name], keras.ops.convert_to_numpy(targets[name]))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"batch_size": 0}, r"batch_size must be an integer of at least 1"),
        ({"batch_size": 4, "seed": -2}, r"seed must be an integer of at least 0"),
        ({"batch_size": 4, "shuffle": 1}, r"shuffle must be True or False"),
    ],
)
def test_detection_dataset_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        detection_dataset(canvases(count=4, size=64), **kwargs)


def test_detection_dataset_needs_detection_canvases():
    expected = r"canvases must be the DetectionCanvases that make_detection_canvases returns, got tuple"
    with pytest.raises(ValueError, match=expected):
        detection_dataset((np.zeros((4, 64, 64, 1)), np.zeros((4, 3, 4))), batch_size=2)
