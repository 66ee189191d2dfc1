"""Turning arrays of images into training batches.

With the TensorFlow backend the batches come from ``tf.data`` (cache, seeded shuffle, batch,
augmentation after batching, prefetch). With another backend (JAX, PyTorch) the same batches
come from a ``keras.utils.PyDataset`` over NumPy, so the notebooks run unchanged.
"""

from __future__ import annotations

import math

import keras
import numpy as np

AUGMENTATIONS = ("flip", "shift")


def prepare_images(images: np.ndarray) -> np.ndarray:
    """uint8 images (N, H, W) or (N, H, W, C) → float32 in [0, 1] with a channel axis."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., np.newaxis]
    if images.ndim != 4:
        raise ValueError(
            f"images must have shape (N, height, width) or (N, height, width, channels), "
            f"got {images.shape}."
        )
    if images.dtype == np.uint8:
        return images.astype("float32") / 255.0
    return images.astype("float32")


def subset(x: np.ndarray, y: np.ndarray, n: int | None, seed: int = 0):
    """A seeded random subset of ``n`` examples (all of them when ``n`` is None or too big)."""
    if n is None or n >= len(x):
        return x, y
    order = np.random.default_rng(seed).permutation(len(x))[:n]
    order.sort()  # keep the original order so subsets are easy to compare
    return x[order], y[order]


def split_validation(x: np.ndarray, y: np.ndarray, fraction: float = 0.1, seed: int = 0):
    """Hold out a seeded ``fraction`` of the training set for validation."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must be between 0 and 1 (exclusive), got {fraction}.")
    order = np.random.default_rng(seed).permutation(len(x))
    n_val = max(1, int(round(len(x) * fraction)))
    val, train = order[:n_val], order[n_val:]
    return (x[train], y[train]), (x[val], y[val])


SHIFT_PIXELS = 4  # the ResNet paper's CIFAR recipe: pad 4 pixels, crop back at random


def _augmentation_layers(augment, seed: int, side: int):
    unknown = [a for a in augment if a not in AUGMENTATIONS]
    if unknown:
        raise ValueError(f"augment has unknown entries {unknown}; choose from {AUGMENTATIONS}.")
    layers = []
    if "flip" in augment:
        layers.append(keras.layers.RandomFlip("horizontal", seed=seed))
    if "shift" in augment:
        factor = SHIFT_PIXELS / side
        layers.append(keras.layers.RandomTranslation(factor, factor, fill_mode="constant", seed=seed))
    return keras.Sequential(layers, name="augmentation") if layers else None


def make_dataset(
    x: np.ndarray,
    y: np.ndarray,
    batch_size: int = 128,
    shuffle: bool = False,
    seed: int = 0,
    image_size: tuple[int, int] | None = None,
    augment: tuple[str, ...] = (),
):
    """Batches of (float32 images in [0, 1] with a channel axis, int labels).

    ``image_size`` resizes (bilinear) for networks made for larger inputs; ``augment`` picks
    from ``AUGMENTATIONS`` and is applied to training batches only when you ask for it.
    """
    if len(x) != len(y):
        raise ValueError(f"x and y must have the same length, got {len(x)} images and {len(y)} labels.")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}.")
    images = prepare_images(x)
    labels = np.asarray(y).astype("int32")
    side = image_size[0] if image_size is not None else images.shape[1]
    augmenter = _augmentation_layers(augment, seed, side)
    if keras.backend.backend() == "tensorflow":
        return _tf_dataset(images, labels, batch_size, shuffle, seed, image_size, augmenter)
    return NumpyBatches(images, labels, batch_size, shuffle, seed, image_size, augmenter)


def _tf_dataset(images, labels, batch_size, shuffle, seed, image_size, augmenter):
    import tensorflow as tf  # only with the TensorFlow backend

    dataset = tf.data.Dataset.from_tensor_slices((images, labels))
    if image_size is not None:
        dataset = dataset.map(
            lambda image, label: (tf.image.resize(image, image_size), label),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    dataset = dataset.cache()
    if shuffle:
        dataset = dataset.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size)
    if augmenter is not None:
        # After batching: one vectorised call per batch instead of one per image.
        dataset = dataset.map(
            lambda image, label: (augmenter(image, training=True), label),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    return dataset.prefetch(tf.data.AUTOTUNE)


class NumpyBatches(keras.utils.PyDataset):
    """The same batches as the tf.data pipeline, for backends without TensorFlow."""

    def __init__(self, images, labels, batch_size, shuffle, seed, image_size, augmenter):
        super().__init__()
        self.images, self.labels = images, labels
        self.batch_size, self.shuffle = batch_size, shuffle
        self.image_size, self.augmenter = image_size, augmenter
        self.rng = np.random.default_rng(seed)
        self.order = np.arange(len(images))
        self.on_epoch_end()

    def __len__(self):
        return math.ceil(len(self.images) / self.batch_size)

    def __getitem__(self, index):
        rows = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        batch = self.images[rows]
        if self.image_size is not None:
            batch = keras.ops.image.resize(batch, self.image_size)
        if self.augmenter is not None:
            batch = self.augmenter(batch, training=True)
        return keras.ops.convert_to_numpy(batch), self.labels[rows]

    def on_epoch_end(self):
        if self.shuffle:
            self.rng.shuffle(self.order)
