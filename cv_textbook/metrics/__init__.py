"""Metrics of the textbook, by task, all NumPy (Keras only for ``SparseMeanIoU``).

``metrics.classification``: ``confusion_matrix`` (labels of any shape: images or pixels).
``metrics.segmentation``: ``pixel_accuracy``, ``iou_per_class``, ``mean_iou`` and the Keras
metric ``SparseMeanIoU`` for ``compile``.
``metrics.detection``: ``mean_average_precision`` (Pascal VOC, IoU 0.5, all points),
``coco_mean_average_precision`` (COCO, IoU 0.50:0.95, 101 points), the per-class APs and the
precision-recall curves.

Everything is re-exported here: ``from cv_textbook import metrics; metrics.mean_iou(...)``.
"""

from cv_textbook.metrics.classification import as_labels, confusion_matrix
from cv_textbook.metrics.detection import (
    COCO_IOU_THRESHOLDS,
    COCO_RECALL_POINTS,
    INTERPOLATIONS,
    VOC_IOU_THRESHOLD,
    PrecisionRecall,
    average_precision,
    average_precision_per_class,
    coco_average_precision_per_class,
    coco_mean_average_precision,
    mean_average_precision,
    precision_recall_curves,
)
from cv_textbook.metrics.segmentation import SparseMeanIoU, iou_per_class, mean_iou, pixel_accuracy

__all__ = [
    "COCO_IOU_THRESHOLDS",
    "COCO_RECALL_POINTS",
    "INTERPOLATIONS",
    "VOC_IOU_THRESHOLD",
    "PrecisionRecall",
    "SparseMeanIoU",
    "as_labels",
    "average_precision",
    "average_precision_per_class",
    "coco_average_precision_per_class",
    "coco_mean_average_precision",
    "confusion_matrix",
    "iou_per_class",
    "mean_average_precision",
    "mean_iou",
    "pixel_accuracy",
    "precision_recall_curves",
]
