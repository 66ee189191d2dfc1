"""Metrics of the textbook, by task, all NumPy (Keras only for ``SparseMeanIoU``).

``metrics.classification``: ``confusion_matrix`` (labels of any shape: images or pixels).
``metrics.segmentation``: ``pixel_accuracy``, ``iou_per_class``, ``mean_iou`` and the Keras
metric ``SparseMeanIoU`` for ``compile``.

Everything is re-exported here: ``from cv_textbook import metrics; metrics.mean_iou(...)``.
"""

from cv_textbook.metrics.classification import as_labels, confusion_matrix
from cv_textbook.metrics.segmentation import SparseMeanIoU, iou_per_class, mean_iou, pixel_accuracy

__all__ = ["SparseMeanIoU", "as_labels", "confusion_matrix", "iou_per_class", "mean_iou", "pixel_accuracy"]
