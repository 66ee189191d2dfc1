"""The confusion matrix: the one count behind every classification and segmentation metric.

``confusion_matrix(y_true, y_pred, num_classes)`` counts labels of any shape: one class per
image (N,), or one per pixel (N, H, W) for segmentation. ``viz.plot_confusion_matrix`` draws it
and ``metrics.iou_per_class`` reads the IoU off it.
"""

from __future__ import annotations

import numpy as np

from cv_textbook.checks import check_num_classes


def as_labels(y_true, y_pred, num_classes: int | None = None):
    """Flat int64 (true, predicted) class indices of the same length.

    ``y_true`` holds class indices of any shape, with or without a trailing axis of 1 (masks
    often come as (N, H, W, 1)); ``y_pred`` holds indices of the same shape or scores with one
    extra last axis of one value per class, turned into indices with argmax.
    """
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
        raise ValueError("y_true and y_pred are empty: there is nothing to score.")
    for name, values in (("y_true", y_true), ("y_pred", y_pred)):
        whole = np.issubdtype(values.dtype, np.integer) or values.dtype == bool  # bool masks count as 0/1
        if not whole:
            if not np.issubdtype(values.dtype, np.number) or not np.all(np.equal(np.mod(values, 1), 0)):
                raise ValueError(f"{name} must hold class indices (whole numbers), got dtype {values.dtype}.")
        if num_classes is not None and (values.min() < 0 or values.max() >= num_classes):
            outside = int(values.min()) if values.min() < 0 else int(values.max())
            raise ValueError(
                f"{name} holds class {outside}, outside 0..{num_classes - 1} for num_classes={num_classes}; "
                "raise num_classes or fix the labels."
            )
    return y_true.astype(np.int64).ravel(), y_pred.astype(np.int64).ravel()


def confusion_matrix(y_true, y_pred, num_classes: int) -> np.ndarray:
    """(num_classes, num_classes) int64 counts: row = true class, column = predicted class.

    Labels of any shape are counted element by element (one per image, or one per pixel);
    ``y_pred`` may instead hold scores with one extra last axis of ``num_classes`` values.
    """
    num_classes = check_num_classes(num_classes)
    true, pred = as_labels(y_true, y_pred, num_classes)
    # Each (true, predicted) pair is one cell of the flattened matrix.
    counts = np.bincount(true * num_classes + pred, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


__all__ = ["as_labels", "confusion_matrix"]
