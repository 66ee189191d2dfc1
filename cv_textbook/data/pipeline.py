"""Turning arrays of images into training batches.

With the TensorFlow backend the batches come from ``tf.data``; with another backend (JAX,
PyTorch) the same batches come from a ``keras.utils.PyDataset`` over NumPy, so the notebooks run
unchanged. Both keep the images as they come (uint8 Fashion-MNIST stays uint8, at its own size:
54,000 images hold 42 MB) and make each batch when it is needed: scale to [0, 1], resize,
augment. Caching resized float32 images instead would take about 12 GB at 224×224.

Shuffling is seeded and differs every epoch. Augmentation draws its randomness from the batch
itself (its number in the epoch and the first example's index), never from a hidden state, so
an interrupted run that resumes at epoch ``start_epoch`` sees exactly the batches the
uninterrupted run saw there.
"""

from __future__ import annotations

import math

import keras
import numpy as np

# TensorFlow is imported inside the tf.data functions only: with another backend it is never loaded.

AUGMENTATIONS = ("flip", "shift")
SHIFT_PIXELS = 4  # the ResNet paper's CIFAR recipe: pad 4 pixels, crop back at random
# Keras 3's model.fit (EpochIterator, without steps_per_epoch) makes two iterators of a dataset
# per epoch: one it trains on and one, never read, when the epoch ends. Each draws the next
# shuffle, so epoch e trains on the 2e-th. tests/test_resume.py fails if Keras changes this.
ITERATORS_PER_EPOCH = 2


def prepare_images(images: np.ndarray) -> np.ndarray:
    """uint8 images (N, H, W) or (N, H, W, C) → float32 in [0, 1] with a channel axis."""
    images = _with_channel_axis(images)
    if images.dtype == np.uint8:
        return images.astype("float32") / 255.0
    return images.astype("float32")


def _with_channel_axis(images) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., np.newaxis]
    if images.ndim != 4:
        raise ValueError(
            f"images must have shape (N, height, width) or (N, height, width, channels), "
            f"got {images.shape}."
        )
    return images


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


def make_dataset(
    x: np.ndarray,
    y: np.ndarray,
    batch_size: int = 128,
    shuffle: bool = False,
    seed: int = 0,
    image_size: tuple[int, int] | None = None,
    augment: tuple[str, ...] = (),
    start_epoch: int = 0,
    outputs: int = 1,
):
    """Batches of (float32 images in [0, 1] with a channel axis, targets).

    ``y`` holds the targets: one array (labels of images or of pixels, as int32) or a dict of
    arrays (a detector's boxes, classes, ...: integers as int32, reals as float32, bools kept).
    ``image_size`` resizes (bilinear) for networks made for larger inputs; ``augment`` picks
    from ``AUGMENTATIONS`` (horizontal flips; shifts of up to 4 pixels, padding with zeros) and is
    applied to training batches only when you ask for it. ``start_epoch`` gives the batches of a
    run resumed after that many epochs (the shuffle of epoch ``start_epoch`` comes first);
    ``outputs`` repeats the labels once per output of a model with auxiliary heads.
    """
    labels = keras.tree.map_structure(_as_target, y)
    lengths = {len(target) for target in keras.tree.flatten(labels)}
    if lengths != {len(x)}:
        raise ValueError(f"x and y must have the same length, got {len(x)} images and {sorted(lengths)} targets.")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}.")
    unknown = [a for a in augment if a not in AUGMENTATIONS]
    if unknown:
        raise ValueError(f"augment has unknown entries {unknown}; choose from {AUGMENTATIONS}.")
    if augment and not isinstance(labels, np.ndarray):
        raise ValueError("augment moves only the images: it works with one label per image, not with targets "
                         "such as boxes, which would have to move too. Leave augment out.")
    if outputs > 1 and not isinstance(labels, np.ndarray):
        raise ValueError("outputs > 1 repeats one labels array per output; give a dict of targets instead.")
    images = _with_channel_axis(x)
    batches = TFBatches if keras.backend.backend() == "tensorflow" else NumpyBatches
    return batches(images, labels, batch_size, shuffle, seed, image_size, tuple(augment), outputs).dataset(start_epoch)


def _as_target(array) -> np.ndarray:
    array = np.asarray(array)
    if array.dtype == np.bool_:
        return array
    return array.astype("int32" if np.issubdtype(array.dtype, np.integer) else "float32")


def _augmentation_seed(seed: int, batch_number, first_index, count: int):
    """Two integers that differ for every batch of every epoch: the shuffle puts a different
    example first in batch ``batch_number`` each epoch, and resuming reproduces the shuffle."""
    return seed, batch_number * count + first_index


class TFBatches:
    """The tf.data pipeline: shuffle, batch, then scale, resize and augment each batch."""

    def __init__(self, images, labels, batch_size, shuffle, seed, image_size, augment, outputs):
        self.images, self.labels = images, labels
        self.batch_size, self.shuffle, self.seed = batch_size, shuffle, seed
        self.image_size, self.augment, self.outputs = image_size, augment, outputs

    def dataset(self, start_epoch: int = 0):
        import tensorflow as tf  # only with the TensorFlow backend

        count = len(self.images)
        positions = np.arange(count, dtype=np.int64)
        dataset = tf.data.Dataset.from_tensor_slices((self.images, self.labels, positions))
        if self.shuffle:
            dataset = dataset.shuffle(count, seed=self.seed, reshuffle_each_iteration=True)
        dataset = dataset.batch(self.batch_size).enumerate()
        dataset = dataset.map(self._make_batch, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
        if self.shuffle:
            # Each new iterator draws the next shuffle from the dataset's seeded generator; skipping
            # the iterators of start_epoch epochs replays the order the uninterrupted run had.
            for _ in range(ITERATORS_PER_EPOCH * start_epoch):
                iter(dataset)
        return dataset

    def _make_batch(self, batch_number, batch):
        import tensorflow as tf

        images, labels, indices = batch
        images = tf.cast(images, "float32")
        if self.images.dtype == np.uint8:
            images = images / 255.0
        if self.image_size is not None:
            images = tf.image.resize(images, self.image_size)
        if self.augment:
            seed = tf.stack(_augmentation_seed(tf.constant(self.seed, tf.int64), batch_number, indices[0],
                                               len(self.images)))
            images = _tf_augment(images, self.augment, seed)
        return images, (labels,) * self.outputs if self.outputs > 1 else labels


def _tf_augment(images, augment, seed):
    import tensorflow as tf

    flip_seed, shift_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    if "flip" in augment:
        images = tf.image.stateless_random_flip_left_right(images, flip_seed)  # each image on its own
    if "shift" in augment:
        shape = tf.shape(images)
        padded = tf.pad(images, [[0, 0], [SHIFT_PIXELS, SHIFT_PIXELS], [SHIFT_PIXELS, SHIFT_PIXELS], [0, 0]])
        offsets = tf.random.stateless_uniform([shape[0], 2], shift_seed, 0, 2 * SHIFT_PIXELS + 1, tf.int32)
        rows = offsets[:, :1] + tf.range(shape[1])[None, :]
        columns = offsets[:, 1:] + tf.range(shape[2])[None, :]
        images = tf.gather(padded, rows, axis=1, batch_dims=1)
        images = tf.gather(images, columns, axis=2, batch_dims=1)
    return images


class NumpyBatches(keras.utils.PyDataset):
    """The same batches as the tf.data pipeline, for backends without TensorFlow."""

    def __init__(self, images, labels, batch_size, shuffle, seed, image_size, augment, outputs):
        super().__init__()
        self.images, self.labels = images, labels
        self.batch_size, self.shuffle, self.seed = batch_size, shuffle, seed
        self.image_size, self.augment, self.outputs = image_size, augment, outputs
        self.rng = np.random.default_rng(seed)
        self.order = np.arange(len(images))
        self.on_epoch_end()

    def dataset(self, start_epoch: int = 0):
        for _ in range(start_epoch):
            self.on_epoch_end()
        return self

    def __len__(self):
        return math.ceil(len(self.images) / self.batch_size)

    def __getitem__(self, index):
        rows = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        batch = prepare_images(self.images[rows])
        if self.image_size is not None:
            batch = keras.ops.convert_to_numpy(keras.ops.image.resize(batch, self.image_size))
        if self.augment:
            rng = np.random.default_rng(_augmentation_seed(self.seed, index, int(rows[0]), len(self.images)))
            batch = _numpy_augment(batch, self.augment, rng)
        labels = keras.tree.map_structure(lambda target: target[rows], self.labels)
        return batch, (labels,) * self.outputs if self.outputs > 1 else labels

    def on_epoch_end(self):
        if self.shuffle:
            self.rng.shuffle(self.order)


def _numpy_augment(images, augment, rng):
    images = images.copy()
    if "flip" in augment:
        flip = rng.random(len(images)) < 0.5
        images[flip] = images[flip, :, ::-1]
    if "shift" in augment:
        p = SHIFT_PIXELS
        padded = np.pad(images, ((0, 0), (p, p), (p, p), (0, 0)))
        offsets = rng.integers(0, 2 * p + 1, (len(images), 2))
        height, width = images.shape[1:3]
        rows = offsets[:, :1] + np.arange(height)[None, :]
        columns = offsets[:, 1:] + np.arange(width)[None, :]
        images = padded[np.arange(len(images))[:, None, None], rows[:, :, None], columns[:, None, :]]
    return images
