"""Plots for the chapter notebooks, by task; every function is re-exported here
(``from cv_textbook import viz; viz.plot_learning_curves(history)``).

* ``viz.common``: learning curves, bar charts, image grids, feature maps, filters, model diagrams.
* ``viz.classification``: class balance, confusion matrix.
* ``viz.segmentation``: masks over images, IoU per class.
* ``viz.detection``: boxes over images, predictions (solid) and ground truth (dashed);
  precision-recall curves.

Every function returns a :class:`matplotlib.figure.Figure` (``plot_model``: an image or a path)
and never calls ``plt.show()``; single-panel plots accept ``ax=`` to draw into an existing axes.
"""

from cv_textbook.viz.classification import confusion_matrix, plot_class_balance, plot_confusion_matrix
from cv_textbook.viz.common import (
    plot_bar,
    plot_feature_maps,
    plot_filters,
    plot_image_grid,
    plot_learning_curves,
    plot_model,
)
from cv_textbook.viz.detection import plot_boxes, plot_boxes_grid, plot_precision_recall
from cv_textbook.viz.segmentation import plot_iou_per_class, plot_segmentation_overlays

__all__ = [
    "confusion_matrix",
    "plot_bar",
    "plot_boxes",
    "plot_boxes_grid",
    "plot_class_balance",
    "plot_confusion_matrix",
    "plot_feature_maps",
    "plot_filters",
    "plot_image_grid",
    "plot_iou_per_class",
    "plot_learning_curves",
    "plot_model",
    "plot_precision_recall",
    "plot_segmentation_overlays",
]
