"""A small segmentation dataset composed from real Fashion-MNIST images.

What this data is, honestly: every canvas is a synthetic grayscale picture with a low-contrast
background (smooth blotchy noise, a brightness gradient or faint stripes, plus pixel noise)
on which 1 to ``max_items`` real Fashion-MNIST photographs (Xiao, Rasul & Vollgraf, 2017) are
pasted at random positions and scales (28 px up to 64 px, or half the canvas if that is
smaller), later items on top of earlier ones. It is *not* a set of natural scenes: the items
are the 28×28 product photos of Fashion-MNIST, enlarged with bilinear interpolation, and the
backgrounds are generated. It is small and quick to make, so a U-Net can learn it on a
laptop CPU, and the labels are exact because the composition is known.

Each item's pixel mask comes from its own pixels: intensities above ``MASK_THRESHOLD`` (on the
original 28×28 image, where Fashion-MNIST's background is 0) with enclosed holes filled, then
enlarged with the image. Two labellings:

``"trimap"``
    The Oxford-IIIT Pets convention shifted to 0..2 as in the keras-io example:
    0 = item, 1 = background, 2 = border, a ring about 2 px wide around each visible item's
    outline (one pixel outside, one inside: the mask dilated minus the mask eroded by a 3×3
    square). See ``CANVAS_CLASSES_TRIMAP``.
``"semantic"``
    0 = background, 1..10 = the item's Fashion-MNIST class + 1. See ``CANVAS_CLASSES_SEMANTIC``.

Splits never share an item: ``"train"`` and ``"validation"`` draw from disjoint parts of the
Fashion-MNIST *training* set (the same seeded 90/10 split as
``cv_textbook.data.split_validation(x, y, 0.1, seed=0)``), ``"test"`` only from the
Fashion-MNIST *test* set. The canvases are a pure function of the settings and the seed; they
are cached as a compressed ``.npz`` under ``data/cache/segmentation/`` whose name encodes every
setting and which stores the settings inside, checked on every load (``cv_textbook.data.cache``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm import tqdm  # the plain text bar: no notebook widget state

from cv_textbook.checks import check_choice, check_int
from cv_textbook.data import cache as canvas_cache
from cv_textbook.data.fashion_mnist import FASHION_MNIST_CLASSES, load_fashion_mnist

CANVAS_CLASSES_TRIMAP = ("item", "background", "border")
CANVAS_CLASSES_SEMANTIC = ("background", *FASHION_MNIST_CLASSES)

SPLITS = ("train", "validation", "test")
MODES = ("trimap", "semantic")

# Bump whenever the generator changes what it draws: old cache files then no longer match.
GENERATOR_VERSION = 1
# The train/validation division of the Fashion-MNIST training set (as split_validation(..., 0.1, seed=0)).
POOL_SPLIT_SEED = 0
POOL_VALIDATION_FRACTION = 0.1
MASK_THRESHOLD = 10  # on 0..255 of the 28×28 originals
MIN_ITEM_SIDE = 28
MAX_ITEM_SIDE = 64
MIN_CANVAS_SIDE = 64
_CHUNK = 64  # canvases composed per vectorised step (fixed: part of the deterministic recipe)
_BACKGROUND_GRID = 6  # smooth noise: a 6×6 random grid enlarged bilinearly
_SPLIT_CODES = {"train": 0, "validation": 1, "test": 2}


# --------------------------------------------------------------------------- arguments


def _check_arguments(split, n, size, mode, seed, max_items) -> dict:
    check_choice("split", split, SPLITS)
    check_choice("mode", mode, MODES)
    return {
        "split": split,
        "n": check_int("n", n, 1),
        "size": check_int("size", size, MIN_CANVAS_SIDE),
        "mode": mode,
        "seed": check_int("seed", seed, 0),
        "max_items": check_int("max_items", max_items, 1),
        "generator_version": GENERATOR_VERSION,
        "pool_split_seed": POOL_SPLIT_SEED,
        "pool_validation_fraction": POOL_VALIDATION_FRACTION,
    }


# --------------------------------------------------------------------------- item pools


def item_pool(split: str) -> tuple[str, np.ndarray]:
    """Which Fashion-MNIST file and which of its indices the canvases of ``split`` draw items from.

    Returns ``("train", indices)`` for "train" and "validation" (disjoint, together the whole
    training set) and ``("test", arange(10000))`` for "test".
    """
    check_choice("split", split, SPLITS)
    if split == "test":
        return "test", np.arange(10_000)
    order = np.random.default_rng(POOL_SPLIT_SEED).permutation(60_000)
    n_val = int(round(60_000 * POOL_VALIDATION_FRACTION))
    return "train", np.sort(order[:n_val] if split == "validation" else order[n_val:])


# --------------------------------------------------------------------------- numpy image helpers


def _bilinear_matrix(src: int, dst: int) -> np.ndarray:
    """(dst, src) matrix M with M @ signal = the signal resized bilinearly (half-pixel centres)."""
    position = np.clip((np.arange(dst) + 0.5) * src / dst - 0.5, 0, src - 1)
    low = np.floor(position).astype(int)
    high = np.minimum(low + 1, src - 1)
    weight = position - low
    matrix = np.zeros((dst, src), dtype=np.float32)
    np.add.at(matrix, (np.arange(dst), low), 1 - weight)
    np.add.at(matrix, (np.arange(dst), high), weight)
    return matrix


def _shifts(mask: np.ndarray, combine) -> np.ndarray:
    """Combine a padded boolean stack (..., H+2, W+2) with its 8 neighbours → (..., H, W)."""
    h, w = mask.shape[-2] - 2, mask.shape[-1] - 2
    result = mask[..., 1 : 1 + h, 1 : 1 + w].copy()
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            result = combine(result, mask[..., dy : dy + h, dx : dx + w])
    return result


def _fill_holes(foreground: np.ndarray) -> np.ndarray:
    """Fill background regions of a (k, H, W) boolean stack that the image border cannot reach."""
    k, h, w = foreground.shape
    blocked = np.pad(foreground, ((0, 0), (1, 1), (1, 1)), constant_values=False)
    outside = np.zeros_like(blocked)
    outside[:, 0, :] = outside[:, -1, :] = outside[:, :, 0] = outside[:, :, -1] = True
    while True:  # grow the outside through 4-connected background pixels
        grown = outside.copy()
        grown[:, 1:, :] |= outside[:, :-1, :]
        grown[:, :-1, :] |= outside[:, 1:, :]
        grown[:, :, 1:] |= outside[:, :, :-1]
        grown[:, :, :-1] |= outside[:, :, 1:]
        grown &= ~blocked
        if np.array_equal(grown, outside):
            break
        outside = grown
    return ~outside[:, 1:-1, 1:-1]


def _backgrounds(rng: np.random.Generator, count: int, size: int) -> np.ndarray:
    """``count`` low-contrast float backgrounds: smooth noise, a gradient or stripes."""
    kind = rng.integers(0, 3, count)
    level = rng.uniform(15, 80, count)
    amplitude = rng.uniform(6, 28, count)
    angle = rng.uniform(0, 2 * np.pi, count)
    frequency = rng.uniform(3, 12, count)
    phase = rng.uniform(0, 2 * np.pi, count)
    grid = rng.standard_normal((count, _BACKGROUND_GRID, _BACKGROUND_GRID)).astype(np.float32)

    coords = (np.arange(size, dtype=np.float32) + 0.5) / size - 0.5  # −0.5 .. 0.5
    projection = (
        np.cos(angle)[:, None, None] * coords[None, None, :] + np.sin(angle)[:, None, None] * coords[None, :, None]
    ).astype(np.float32)
    gradient = 2 * projection  # about −1 .. 1
    stripes = np.sin(2 * np.pi * frequency[:, None, None] * projection + phase[:, None, None])
    enlarge = _bilinear_matrix(_BACKGROUND_GRID, size)
    smooth = np.einsum("ia,bac,jc->bij", enlarge, grid, enlarge, optimize=True) / 1.5
    pattern = np.where(kind[:, None, None] == 0, smooth, np.where(kind[:, None, None] == 1, gradient, stripes))
    return (level[:, None, None] + amplitude[:, None, None] * pattern).astype(np.float32)


# --------------------------------------------------------------------------- composition


def _compose(settings: dict, progress: bool = True):
    """Generate (images, masks, item_ids) for validated ``settings``; item_ids index the pool's file."""
    split, n, size = settings["split"], settings["n"], settings["size"]
    mode, max_items = settings["mode"], settings["max_items"]
    (x_train, y_train), (x_test, y_test) = load_fashion_mnist()
    source, pool = item_pool(split)
    pictures, classes = (x_train, y_train) if source == "train" else (x_test, y_test)

    rng = np.random.default_rng([settings["seed"], _SPLIT_CODES[split], GENERATOR_VERSION])
    # Everything about the layout is drawn up front, so it does not depend on the chunking.
    counts = rng.integers(1, max_items + 1, n)
    item_ids = np.full((n, max_items), -1, dtype=np.int64)
    slots = np.arange(max_items)[None, :] < counts[:, None]
    item_ids[slots] = pool[rng.integers(0, len(pool), int(counts.sum()))]
    largest = max(MIN_ITEM_SIDE, min(MAX_ITEM_SIDE, size // 2))
    sides = rng.integers(MIN_ITEM_SIDE, largest + 1, (n, max_items))
    corner = rng.random((n, max_items, 2))
    noise_sigma = rng.uniform(2, 8, n)

    resize = {side: _bilinear_matrix(28, side) for side in range(MIN_ITEM_SIDE, largest + 1)}
    images = np.empty((n, size, size, 1), dtype=np.uint8)
    masks = np.empty((n, size, size), dtype=np.uint8)
    empty_label = 1 if mode == "trimap" else 0
    with tqdm(total=n, desc=f"Composing {split} canvases", unit="canvas", disable=not progress) as bar:
        for start in range(0, n, _CHUNK):
            stop = min(n, start + _CHUNK)
            canvas = _backgrounds(rng, stop - start, size)
            # labels on a canvas padded by one pixel, so the border ring never needs clipping
            labels = np.full((stop - start, size + 2, size + 2), empty_label, dtype=np.uint8)
            chunk_ids = item_ids[start:stop]
            used = chunk_ids[chunk_ids >= 0]
            item_masks = _fill_holes(pictures[used] > MASK_THRESHOLD).astype(np.float32)
            lookup = dict(zip(used.tolist(), item_masks))
            for row in range(stop - start):
                j = start + row
                for slot in range(counts[j]):
                    index, side = int(item_ids[j, slot]), int(sides[j, slot])
                    matrix = resize[side]
                    picture = matrix @ pictures[index].astype(np.float32) @ matrix.T
                    mask = (matrix @ lookup[index] @ matrix.T) > 0.5
                    top, left = (corner[j, slot] * (size - side + 1)).astype(int)
                    region = canvas[row, top : top + side, left : left + side]
                    region[mask] = picture[mask]
                    window = labels[row, top : top + side + 2, left : left + side + 2]
                    if mode == "semantic":
                        window[1:-1, 1:-1][mask] = classes[index] + 1
                    else:
                        padded = np.pad(mask, 2)
                        dilated = _shifts(padded, np.logical_or)  # (side+2)²: mask grown by 1
                        eroded = np.pad(_shifts(padded, np.logical_and)[1:-1, 1:-1], 1)
                        window[1:-1, 1:-1][mask] = 0
                        window[dilated & ~eroded] = 2
            canvas += noise_sigma[start:stop, None, None] * rng.standard_normal(canvas.shape, dtype=np.float32)
            images[start:stop, ..., 0] = np.clip(np.rint(canvas), 0, 255).astype(np.uint8)
            masks[start:stop] = labels[:, 1:-1, 1:-1]
            bar.update(stop - start)
    return images, masks, item_ids


# --------------------------------------------------------------------------- cache


def cache_path(settings: dict) -> Path:
    """The cache file for validated settings: its name encodes every one of them."""
    name = (
        f"fashion_canvases_{settings['split']}_n{settings['n']}_size{settings['size']}_{settings['mode']}"
        f"_seed{settings['seed']}_items{settings['max_items']}_v{settings['generator_version']}.npz"
    )
    return canvas_cache.cache_file("segmentation", name)


def _expected_arrays(settings: dict) -> dict:
    n, size = settings["n"], settings["size"]
    return {"images": ((n, size, size, 1), np.uint8), "masks": ((n, size, size), np.uint8)}


# --------------------------------------------------------------------------- public entry point


def make_fashion_canvases(
    split: str = "train",
    n: int = 2000,
    size: int = 128,
    mode: str = "trimap",
    seed: int = 0,
    max_items: int = 4,
    cache: bool = True,
    progress: bool = True,
):
    """Canvases of real Fashion-MNIST items on generated backgrounds, with per-pixel labels.

    Returns ``(images, masks)``: uint8 images (n, size, size, 1) in 0..255 and uint8 masks
    (n, size, size) with labels 0..2 for ``mode="trimap"`` (``CANVAS_CLASSES_TRIMAP``: item,
    background, border) or 0..10 for ``mode="semantic"`` (``CANVAS_CLASSES_SEMANTIC``:
    background, then the ten garment classes). Each canvas holds 1 to ``max_items`` items; the
    ``split`` decides which Fashion-MNIST images they come from (train and validation: disjoint
    parts of the training set; test: the test set only). The same settings always give the
    same arrays. With ``cache=True`` the result is stored in (and later read from) a
    compressed ``.npz`` under ``data/cache/segmentation/``; ``progress`` shows a text bar while
    composing. See the module docstring for what the data is and is not.
    """
    settings = _check_arguments(split, n, size, mode, seed, max_items)
    path = cache_path(settings)
    if cache:
        cached = canvas_cache.load_arrays(path, settings, _expected_arrays(settings))
        if cached is not None:
            return cached["images"], cached["masks"]
    images, masks, item_ids = _compose(settings, progress=progress)
    if cache:
        canvas_cache.save_arrays(path, settings, {"images": images, "masks": masks, "item_ids": item_ids})
    return images, masks


__all__ = [
    "CANVAS_CLASSES_SEMANTIC",
    "CANVAS_CLASSES_TRIMAP",
    "GENERATOR_VERSION",
    "cache_path",
    "item_pool",
    "make_fashion_canvases",
]
