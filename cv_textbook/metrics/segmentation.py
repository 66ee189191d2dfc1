"""Segmentation metrics: pixel accuracy, IoU per class, mean IoU.

The NumPy functions take ``y_true`` as class indices, shape (N, H, W) or (N, H, W, 1), and
``y_pred`` either as class indices of the same shape or as scores/probabilities with one
channel per class on the last axis, shape (N, H, W, num_classes): those are turned into
indices with argmax. IoU (intersection over union, the Jaccard index) of class c is
TP / (TP + FP + FN) over all pixels of all images together, read off the pixels' confusion
matrix (``metrics.confusion_matrix``); a class that appears neither in the labels nor in the
predictions has no IoU (NaN) and is left out of the mean.

For training, ``SparseMeanIoU(num_classes)`` gives the Keras metric with the same definition.
"""

from __future__ import annotations

import numpy as np

from cv_textbook.checks import check_num_classes
from cv_textbook.metrics.classification import as_labels, confusion_matrix


def pixel_accuracy(y_true, y_pred) -> float:
    """The fraction of pixels whose predicted class is the true class."""
    true, pred = as_labels(y_true, y_pred)
    return float(np.mean(true == pred))


def iou_per_class(y_true, y_pred, num_classes: int) -> np.ndarray:
    """IoU of every class, float64 (num_classes,); NaN for a class absent from labels and predictions."""
    matrix = confusion_matrix(y_true, y_pred, num_classes).astype(np.float64)
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

    num_classes = check_num_classes(num_classes)
    return keras.metrics.MeanIoU(
        num_classes, name=name, ignore_class=ignore_class, sparse_y_true=True, sparse_y_pred=False
    )


__all__ = ["SparseMeanIoU", "iou_per_class", "mean_iou", "pixel_accuracy"]
