"""Segmentation metrics: pixel accuracy, the pixel confusion matrix, IoU per class, mean IoU.

The NumPy functions take ``y_true`` as class indices, shape (N, H, W) or (N, H, W, 1), and
``y_pred`` either as class indices of the same shape or as scores/probabilities with one
channel per class on the last axis, shape (N, H, W, num_classes): those are turned into
indices with argmax. IoU (intersection over union, the Jaccard index) of class c is
TP / (TP + FP + FN) over all pixels of all images together; a class that appears neither in
the labels nor in the predictions has no IoU (NaN) and is left out of the mean.

For training, ``SparseMeanIoU(num_classes)`` gives the Keras metric with the same definition.
"""

from __future__ import annotations

import numpy as np


def _check_num_classes(num_classes) -> int:
    if not isinstance(num_classes, (int, np.integer)) or isinstance(num_classes, bool) or num_classes < 2:
        raise ValueError(f"num_classes must be an integer of at least 2 (smallest valid value: 2), got {num_classes!r}.")
    return int(num_classes)


def _as_labels(y_true, y_pred, num_classes: int | None = None):
    """Flat int64 (true, predicted) class indices, after argmax of probability predictions."""
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    probabilities = y_pred.ndim == y_true.ndim + 1 or (
        y_pred.ndim == y_true.ndim and y_true.ndim > 1 and y_true.shape[-1] == 1 and y_pred.shape[-1] > 1
    )
    if probabilities:
        if num_classes is not None and y_pred.shape[-1] != num_classes:
            raise ValueError(
                f"y_pred has {y_pred.shape[-1]} channels on its last axis but num_classes is {num_classes}; "
                "probability predictions need one channel per class."
            )
        y_pred = np.argmax(y_pred, axis=-1)
        if y_true.ndim == y_pred.ndim + 1:
            y_true = y_true[..., 0]
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"y_true has shape {y_true.shape} and y_pred {np.shape(y_pred)}: pass labels of the same shape, "
            "or predictions with one extra last axis of num_classes probabilities."
        )
    if y_true.size == 0:
        raise ValueError("y_true and y_pred are empty: there are no pixels to score.")
    for name, values in (("y_true", y_true), ("y_pred", y_pred)):
        if not np.issubdtype(values.dtype, np.integer):
            if not np.all(np.equal(np.mod(values, 1), 0)):
                raise ValueError(f"{name} must hold class indices (whole numbers), got dtype {values.dtype}.")
        if num_classes is not None and (values.min() < 0 or values.max() >= num_classes):
            raise ValueError(
                f"{name} holds class {int(values.min()) if values.min() < 0 else int(values.max())}, "
                f"outside 0..{num_classes - 1} for num_classes={num_classes}."
            )
    return y_true.astype(np.int64).ravel(), y_pred.astype(np.int64).ravel()


def pixel_accuracy(y_true, y_pred) -> float:
    """The fraction of pixels whose predicted class is the true class."""
    true, pred = _as_labels(y_true, y_pred)
    return float(np.mean(true == pred))


def confusion_matrix_pixels(y_true, y_pred, num_classes: int) -> np.ndarray:
    """(num_classes, num_classes) int64 pixel counts: row = true class, column = predicted class."""
    num_classes = _check_num_classes(num_classes)
    true, pred = _as_labels(y_true, y_pred, num_classes)
    counts = np.bincount(true * num_classes + pred, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


def iou_per_class(y_true, y_pred, num_classes: int) -> np.ndarray:
    """IoU of every class, float64 (num_classes,); NaN for a class absent from labels and predictions."""
    matrix = confusion_matrix_pixels(y_true, y_pred, num_classes).astype(np.float64)
    true_positives = np.diag(matrix)
    union = matrix.sum(axis=0) + matrix.sum(axis=1) - true_positives
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, true_positives / union, np.nan)


def mean_iou(y_true, y_pred, num_classes: int) -> float:
    """The mean of ``iou_per_class`` over the classes that occur (NaNs left out)."""
    return float(np.nanmean(iou_per_class(y_true, y_pred, num_classes)))


def SparseMeanIoU(num_classes: int, name: str = "mean_iou", ignore_class=None):  # noqa: N802 - reads like a class
    """Keras mean IoU for integer labels and per-class probability predictions (for ``compile``).

    Keras already has this metric: ``keras.metrics.MeanIoU(num_classes, sparse_y_true=True,
    sparse_y_pred=False)`` takes argmax of the predictions over the last axis, flattens both,
    accumulates one confusion matrix over all batches and averages the IoU over the classes
    whose union is not empty, the same definition as ``mean_iou`` above. So this returns that
    built-in metric rather than a subclass: models compiled with it save and load with no
    custom objects. (Plain ``MeanIoU(num_classes)`` expects *indices* as predictions, which
    is the usual mistake with softmax outputs.) Unlike ``mean_iou``, the Keras metric silently
    skips labels outside 0..num_classes-1; ``ignore_class`` (e.g. 255) skips one label on purpose.
    """
    import keras  # deferred: the NumPy metrics above need no framework

    num_classes = _check_num_classes(num_classes)
    return keras.metrics.MeanIoU(
        num_classes, name=name, ignore_class=ignore_class, sparse_y_true=True, sparse_y_pred=False
    )


__all__ = ["SparseMeanIoU", "confusion_matrix_pixels", "iou_per_class", "mean_iou", "pixel_accuracy"]
