"""A small object-detection dataset composed from real Fashion-MNIST images.

What this data is, honestly: every canvas is a black square (0, the background of Fashion-MNIST
itself) on which 1 to ``max_objects`` real Fashion-MNIST photographs (Xiao, Rasul & Vollgraf,
2017: 28×28 grayscale product photos of Zalando articles) are pasted at random positions, each
enlarged with bilinear interpolation to a random square side between about 7/32 and 7/16 of the
canvas (28 to 56 px on the default 128-px canvas, see :func:`object_side_range`). Garments never
overlap: their squares keep at least ``GAP`` pixels apart. It is *not* a set of natural scenes:
no clutter, no occlusion, no textured background, one garment per square. That makes it small,
quick to compose and learnable on a laptop CPU, with exact labels because the composition is
known; what a detector learns here is where garments are and which of the ten classes they
belong to, the core of the task without the hard parts of COCO or Pascal VOC.

Labels per canvas, in ``max_objects`` slots (valid objects first, then padding):

``boxes``
    float32 pixel corners ``(x1, y1, x2, y2)``: the tight box around the garment's non-zero
    pixels *as pasted* (after rounding to uint8), with ``x2`` = last non-zero column + 1 and
    ``y2`` = last non-zero row + 1, so ``x2 - x1`` is the width in pixels (the convention of
    ``cv_textbook.detection.boxes`` and Keras's ``"xyxy"``). Zeros in padding slots.
``classes``
    int32 Fashion-MNIST class 0..9 (``CLASS_NAMES``), -1 in padding slots.
``valid``
    bool, True for the slots that hold a garment.
``item_ids``, ``tops``, ``lefts``, ``sides``
    Which Fashion-MNIST image each garment is (an index into the training file for "train" and
    "validation", into the test file for "test"; see ``segmentation.item_pool``) and where its
    square was pasted; -1 in padding slots. :func:`instance_masks` uses them to give each
    garment's pixel mask (for Mask R-CNN).

Splits never share an image: ``"train"`` and ``"validation"`` draw from disjoint parts of the
Fashion-MNIST *training* set (the same pools as the segmentation canvases), ``"test"`` only from
the Fashion-MNIST *test* set. The canvases are a pure function of the settings and the seed, and
are cached as a compressed ``.npz`` under ``data/cache/detection/`` whose name encodes every
setting and which stores the settings inside, checked on every load (``cv_textbook.data.cache``).
Composing is vectorised (placement over all canvases at once, resizing one batched matrix product
per garment size): 2,000 canvases of 128 px took 0.24 to 0.44 s on a busy 2-core machine, plus
about 0.5 s to read Fashion-MNIST; their cache file is 5 MB and loads in 0.15 s. Random
placement does not always find room: with ``max_objects=4`` at 128 px, 6 in 10 canvases that
ask for four garments get four, 85 % of those that ask for three get three, and the canvases
hold 2.35 garments on average (2.5 asked for).
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import cv2  # OpenCV's contrib build, as cv_textbook.detection.proposals needs: to seed its ranking
import keras
import numpy as np
from tqdm import tqdm  # the plain text bar: no notebook widget state

from cv_textbook.checks import check_bool, check_choice, check_int, check_positive_int
from cv_textbook.data import cache as canvas_cache
from cv_textbook.data.fashion_mnist import FASHION_MNIST_CLASSES, load_fashion_mnist
from cv_textbook.data.pipeline import make_dataset, prepare_images
from cv_textbook.data.segmentation import (
    POOL_SPLIT_SEED,
    POOL_VALIDATION_FRACTION,
    SPLITS,
    _bilinear_matrix,
    item_pool,
)
from cv_textbook.detection.proposals import selective_search

CLASS_NAMES = FASHION_MNIST_CLASSES

# Bump whenever the generator changes what it draws: old cache files then no longer match.
GENERATOR_VERSION = 1
MIN_CANVAS_SIDE = 64
# Garment sides as fractions of the canvas: 28..56 px at 128 px, i.e. from Fashion-MNIST's own
# 28 px up to twice that, so several garments fit and sizes vary by a factor of two.
MIN_SIDE_FRACTION = 7 / 32
MAX_SIDE_FRACTION = 7 / 16
GAP = 2  # pixels kept free between two garments' squares, so their boxes never touch
PLACEMENT_TRIES = 50  # random positions tried per garment before the canvas makes do without it
_CHUNK = 256  # canvases pasted per step (only pacing and the progress bar: all draws happen first)
_SLOT_FIELDS = ("boxes", "classes", "valid", "item_ids", "tops", "lefts", "sides")


@dataclasses.dataclass(frozen=True, eq=False)
class DetectionCanvases:
    """Canvases and their per-object labels; ``max_objects`` slots per canvas, valid ones first.

    images (N, size, size, 1) uint8; boxes (N, max_objects, 4) float32 corners (x1, y1, x2, y2)
    with x2, y2 one past the last garment pixel; classes (N, max_objects) int32, -1 = padding;
    valid (N, max_objects) bool; item_ids (N, max_objects) int64 into the Fashion-MNIST file of
    ``item_pool(split)``; tops, lefts, sides (N, max_objects) int32: the pasted squares.
    """

    images: np.ndarray
    boxes: np.ndarray
    classes: np.ndarray
    valid: np.ndarray
    item_ids: np.ndarray
    tops: np.ndarray
    lefts: np.ndarray
    sides: np.ndarray
    split: str

    def __len__(self) -> int:
        return len(self.images)

    @property
    def max_objects(self) -> int:
        return self.valid.shape[1]

    @property
    def objects_per_canvas(self) -> np.ndarray:
        return self.valid.sum(axis=1)


def object_side_range(size: int) -> tuple[int, int]:
    """Smallest and largest garment side (pixels) on a ``size``-px canvas: (28, 56) at 128."""
    return round(size * MIN_SIDE_FRACTION), round(size * MAX_SIDE_FRACTION)


# --------------------------------------------------------------------------- arguments


def _check_arguments(split, count, size, max_objects, seed) -> dict:
    check_choice("split", split, SPLITS)
    size = check_int("size", size, MIN_CANVAS_SIDE)
    smallest_side, largest_side = object_side_range(size)
    return {
        "split": split,
        "count": check_positive_int("count", count),
        "size": size,
        "max_objects": check_positive_int("max_objects", max_objects),
        "seed": check_int("seed", seed, 0),
        "generator_version": GENERATOR_VERSION,
        "smallest_side": smallest_side,
        "largest_side": largest_side,
        "gap": GAP,
        "placement_tries": PLACEMENT_TRIES,
        "pool_split_seed": POOL_SPLIT_SEED,
        "pool_validation_fraction": POOL_VALIDATION_FRACTION,
    }


# --------------------------------------------------------------------------- composition


def _place(rng: np.random.Generator, sides: np.ndarray, wanted: np.ndarray, size: int):
    """Non-overlapping squares: (tops, lefts, placed), each (N, max_objects), for all canvases at once.

    Garment k of every canvas tries ``PLACEMENT_TRIES`` random positions and takes the first whose
    square keeps ``GAP`` pixels from the squares already placed on that canvas; the first garment
    always fits. Slots beyond a canvas's ``wanted`` count stay empty.
    """
    count, max_objects = sides.shape
    tops = np.zeros((count, max_objects), dtype=np.int64)
    lefts = np.zeros((count, max_objects), dtype=np.int64)
    placed = np.zeros((count, max_objects), dtype=bool)
    for slot in range(max_objects):
        side = sides[:, slot, None]  # (N, 1)
        room = size - side + 1
        candidate_tops = np.floor(rng.random((count, PLACEMENT_TRIES)) * room).astype(np.int64)
        candidate_lefts = np.floor(rng.random((count, PLACEMENT_TRIES)) * room).astype(np.int64)
        # (N, tries, earlier slots): does the candidate come within GAP of an earlier square?
        other_top, other_left = tops[:, None, :slot], lefts[:, None, :slot]
        other_side = sides[:, None, :slot]
        clash = (
            (candidate_tops[..., None] < other_top + other_side + GAP)
            & (other_top < candidate_tops[..., None] + side[..., None] + GAP)
            & (candidate_lefts[..., None] < other_left + other_side + GAP)
            & (other_left < candidate_lefts[..., None] + side[..., None] + GAP)
            & placed[:, None, :slot]
        ).any(axis=-1)
        free = ~clash & (slot < wanted)[:, None]
        first = free.argmax(axis=1)
        rows = np.arange(count)
        placed[:, slot] = free[rows, first]
        tops[:, slot] = np.where(placed[:, slot], candidate_tops[rows, first], 0)
        lefts[:, slot] = np.where(placed[:, slot], candidate_lefts[rows, first], 0)
    return tops, lefts, placed


def _tight_extent(garments: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """First and one-past-last index of the non-zero rows of a (k, side, side) stack, and "any"."""
    occupied = garments.any(axis=2)  # (k, side): rows with a non-zero pixel
    side = garments.shape[1]
    return occupied.argmax(axis=1), side - occupied[:, ::-1].argmax(axis=1), occupied.any(axis=1)


def _compose(settings: dict, progress: bool = True) -> DetectionCanvases:
    """Generate the canvases of validated ``settings``."""
    split, count, size = settings["split"], settings["count"], settings["size"]
    max_objects = settings["max_objects"]
    smallest_side, largest_side = settings["smallest_side"], settings["largest_side"]
    (x_train, y_train), (x_test, y_test) = load_fashion_mnist()
    source, pool = item_pool(split)
    pictures, labels = (x_train, y_train) if source == "train" else (x_test, y_test)

    rng = np.random.default_rng([settings["seed"], SPLITS.index(split), GENERATOR_VERSION])
    # Every random draw happens here, up front, so the result does not depend on the chunking below.
    wanted = rng.integers(1, max_objects + 1, count)
    item_ids = pool[rng.integers(0, len(pool), (count, max_objects))].astype(np.int64)
    sides = rng.integers(smallest_side, largest_side + 1, (count, max_objects))
    tops, lefts, placed = _place(rng, sides, wanted, size)

    images = np.zeros((count, size, size, 1), dtype=np.uint8)
    boxes = np.zeros((count, max_objects, 4), dtype=np.float32)
    resize = {side: _bilinear_matrix(28, side) for side in np.unique(sides[placed]).tolist()}
    description = f"Composing {split} detection canvases"
    with tqdm(total=count, desc=description, unit="canvas", disable=not progress) as bar:
        for start in range(0, count, _CHUNK):
            stop = min(count, start + _CHUNK)
            chunk = placed[start:stop]
            for side, matrix in resize.items():
                canvas_rows, slots = np.nonzero(chunk & (sides[start:stop] == side))
                if canvas_rows.size == 0:
                    continue
                canvas_rows += start
                source_pictures = pictures[item_ids[canvas_rows, slots]].astype(np.float32)
                enlarged = matrix @ source_pictures @ matrix.T  # batched bilinear resize
                garments = np.clip(np.rint(enlarged), 0, 255).astype(np.uint8)
                top, left = tops[canvas_rows, slots], lefts[canvas_rows, slots]
                # The squares never overlap, so one fancy-indexed assignment pastes them all.
                span = np.arange(side)
                images[
                    canvas_rows[:, None, None], top[:, None, None] + span[None, :, None],
                    left[:, None, None] + span[None, None, :], 0,
                ] = garments
                first_row, end_row, any_pixel = _tight_extent(garments > 0)
                first_column, end_column, _ = _tight_extent((garments > 0).transpose(0, 2, 1))
                boxes[canvas_rows, slots] = np.stack(
                    [left + first_column, top + first_row, left + end_column, top + end_row], axis=1
                )
                # A garment that rounds to all zeros (never seen with real images) is not an object.
                placed[canvas_rows[~any_pixel], slots[~any_pixel]] = False
            bar.update(stop - start)
    if not placed.any(axis=1).all():
        raise RuntimeError("a canvas ended up without a garment; the images given are blank.")

    classes = np.where(placed, labels[item_ids].astype(np.int32), -1)  # labels are uint8: -1 must not wrap
    fields = {
        "boxes": np.where(placed[..., None], boxes, 0).astype(np.float32),
        "classes": classes,
        "valid": placed,
        "item_ids": np.where(placed, item_ids, -1).astype(np.int64),
        "tops": np.where(placed, tops, -1).astype(np.int32),
        "lefts": np.where(placed, lefts, -1).astype(np.int32),
        "sides": np.where(placed, sides, -1).astype(np.int32),
    }
    # Valid objects first (a garment that found no room leaves a gap otherwise), order kept.
    order = np.argsort(~placed, axis=1, kind="stable")
    for name in _SLOT_FIELDS:
        index = order[..., None] if fields[name].ndim == 3 else order
        fields[name] = np.take_along_axis(fields[name], index, axis=1)
    return DetectionCanvases(images=images, split=split, **fields)


# --------------------------------------------------------------------------- cache


def cache_path(settings: dict) -> Path:
    """The cache file for validated settings: its name encodes every one of them."""
    name = (
        f"detection_canvases_{settings['split']}_n{settings['count']}_size{settings['size']}"
        f"_objects{settings['max_objects']}_seed{settings['seed']}_v{settings['generator_version']}.npz"
    )
    return canvas_cache.cache_file("detection", name)


def _expected_arrays(settings: dict) -> dict:
    count, size, slots = settings["count"], settings["size"], settings["max_objects"]
    per_slot = (count, slots)
    return {
        "images": ((count, size, size, 1), np.uint8),
        "boxes": ((count, slots, 4), np.float32),
        "classes": (per_slot, np.int32),
        "valid": (per_slot, np.bool_),
        "item_ids": (per_slot, np.int64),
        "tops": (per_slot, np.int32),
        "lefts": (per_slot, np.int32),
        "sides": (per_slot, np.int32),
    }


# --------------------------------------------------------------------------- public entry points


def make_detection_canvases(
    split: str = "train",
    count: int = 2000,
    size: int = 128,
    max_objects: int = 4,
    seed: int = 0,
    cache: bool = True,
    progress: bool = True,
) -> DetectionCanvases:
    """Canvases of 1 to ``max_objects`` real Fashion-MNIST garments on black, with boxes and classes.

    ``split`` ("train", "validation" or "test") decides which Fashion-MNIST images are used
    (train and validation: disjoint parts of the training set; test: the test set only). Each
    canvas asks for a random number of garments in 1..``max_objects``; one that finds no free
    place in ``PLACEMENT_TRIES`` tries is left out, so a canvas may hold fewer (never none).
    The same settings always give the same arrays. With ``cache=True`` the result is stored in
    (and later read from) a compressed ``.npz`` under ``data/cache/detection/``; ``progress``
    shows a text bar while composing. Returns a :class:`DetectionCanvases`; see the module
    docstring for the box convention and what the data is and is not.
    """
    settings = _check_arguments(split, count, size, max_objects, seed)
    cache, progress = check_bool("cache", cache), check_bool("progress", progress)
    path = cache_path(settings)
    if cache:
        cached = canvas_cache.load_arrays(path, settings, _expected_arrays(settings))
        if cached is not None:
            return DetectionCanvases(split=split, **cached)
    canvases = _compose(settings, progress=progress)
    if cache:
        arrays = {name: getattr(canvases, name) for name in ("images", *_SLOT_FIELDS)}
        canvas_cache.save_arrays(path, settings, arrays)
    return canvases


def _check_canvases(canvases) -> None:
    if not isinstance(canvases, DetectionCanvases):
        raise ValueError(
            "canvases must be the DetectionCanvases that make_detection_canvases returns, "
            f"got {type(canvases).__name__}."
        )


def instance_masks(canvases: DetectionCanvases, index: int) -> np.ndarray:
    """Boolean pixel masks (max_objects, size, size) of the garments of canvas ``index``.

    A garment's mask is its non-zero pixels as pasted: the non-zero canvas pixels inside its
    square. That is exact because the squares of two garments never overlap and the background
    is 0. Padding slots get empty masks. Each mask's extent is the object's box.
    """
    _check_canvases(canvases)
    index = check_int("index", index, 0)
    if index >= len(canvases):
        raise ValueError(f"index must be below the number of canvases, {len(canvases)}, got {index}.")
    image = canvases.images[index, ..., 0]
    masks = np.zeros((canvases.max_objects, *image.shape), dtype=bool)
    for slot in np.flatnonzero(canvases.valid[index]):
        top, left = int(canvases.tops[index, slot]), int(canvases.lefts[index, slot])
        side = int(canvases.sides[index, slot])
        square = (slice(top, top + side), slice(left, left + side))
        masks[slot][square] = image[square] > 0
    return masks


def _targets(canvases: DetectionCanvases) -> dict:
    return {"boxes": canvases.boxes, "classes": canvases.classes, "valid": canvases.valid}


def detection_dataset(canvases: DetectionCanvases, batch_size: int, shuffle: bool = False, seed: int = 0,
                      start_epoch: int = 0):
    """Batches of (float32 images in [0, 1] (B, size, size, 1), {"boxes", "classes", "valid"}):
    the package's pipeline (``cv_textbook.data.make_dataset``: a seeded ``tf.data`` shuffle, or a
    ``keras.utils.PyDataset`` on other backends) with the canvases' targets."""
    _check_canvases(canvases)
    batch_size = check_positive_int("batch_size", batch_size)
    shuffle, seed = check_bool("shuffle", shuffle), check_int("seed", seed, 0)
    return make_dataset(canvases.images, _targets(canvases), batch_size, shuffle=shuffle, seed=seed,
                        start_epoch=start_epoch)


# --------------------------------------------------------------------------- selective-search proposals

PROPOSAL_MODE = "fast"  # R-CNN's setting; on the canvases median 20 proposals, every garment at IoU >= 0.7
MAX_PROPOSALS = 64  # per canvas; "fast" gave at most 74 on 20 training canvases


def canvas_proposals(images: np.ndarray, max_proposals: int = MAX_PROPOSALS, mode: str = PROPOSAL_MODE,
                     cache: bool = True, progress: bool = True) -> np.ndarray:
    """Selective-search proposals of every canvas, padded: float32 (N, max_proposals, 4), zero rows = none.

    What R-CNN and Fast R-CNN read instead of an RPN (``cv_textbook.detection.proposals``, OpenCV,
    about 0.3 s a canvas on the 2-core CPU): computed once and cached under
    ``data/cache/detection/`` by the images' SHA-256, so that every epoch and the evaluation see
    the same proposals. OpenCV's random ranking is seeded per canvas (``cv2.setRNGSeed``).
    """
    images = np.asarray(images)
    if images.ndim != 4 or images.dtype != np.uint8 or len(images) == 0:
        raise ValueError(f"images must be a non-empty uint8 array of canvases (N, height, width, 1), "
                         f"got {images.dtype} of shape {images.shape}.")
    max_proposals = check_positive_int("max_proposals", max_proposals)
    settings = {"mode": mode, "max_proposals": max_proposals, "count": len(images),
                "images_sha256": hashlib.sha256(np.ascontiguousarray(images).tobytes()).hexdigest()}
    path = canvas_cache.cache_file("detection", f"proposals_{mode}_{max_proposals}_"
                                                f"{settings['images_sha256'][:20]}.npz")
    expected = {"proposals": ((len(images), max_proposals, 4), np.float32)}
    if cache:
        cached = canvas_cache.load_arrays(path, settings, expected)
        if cached is not None:
            return cached["proposals"]
    proposals = np.zeros((len(images), max_proposals, 4), np.float32)
    for index in tqdm(range(len(images)), desc="Selective search", unit="canvas", disable=not progress):
        cv2.setRNGSeed(index)
        boxes = selective_search(images[index], mode, max_proposals)
        proposals[index, : len(boxes)] = boxes
    if cache:
        canvas_cache.save_arrays(path, settings, {"proposals": proposals})
    return proposals


class ProposalBatches(keras.utils.PyDataset):
    """Batches of ``({"images", "proposals"}, targets)`` for detectors that read given proposals.

    Images scaled to [0, 1] as ``make_dataset`` does, a seeded shuffle each epoch (``start_epoch``
    replays the order of a resumed run); a ``PyDataset``, so it works on every backend.
    """

    def __init__(self, images, proposals, targets: dict, batch_size: int, shuffle: bool = False, seed: int = 0,
                 start_epoch: int = 0):
        super().__init__()
        self.images, self.proposals = images, np.asarray(proposals, np.float32)
        self.targets = {name: np.asarray(value) for name, value in targets.items()}
        self.batch_size, self.shuffle = check_positive_int("batch_size", batch_size), shuffle
        self.rng = np.random.default_rng(seed)
        self.order = np.arange(len(images))
        for _ in range(start_epoch + 1):
            self.on_epoch_end()

    def __len__(self):
        return -(-len(self.images) // self.batch_size)

    def __getitem__(self, index):
        rows = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        inputs = {"images": prepare_images(self.images[rows]), "proposals": self.proposals[rows]}
        return inputs, {name: value[rows] for name, value in self.targets.items()}

    def on_epoch_end(self):
        if self.shuffle:
            self.rng.shuffle(self.order)


__all__ = [
    "CLASS_NAMES",
    "MAX_PROPOSALS",
    "PROPOSAL_MODE",
    "ProposalBatches",
    "canvas_proposals",
    "GENERATOR_VERSION",
    "DetectionCanvases",
    "cache_path",
    "detection_dataset",
    "instance_masks",
    "make_detection_canvases",
    "object_side_range",
]
