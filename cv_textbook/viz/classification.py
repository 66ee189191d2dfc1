"""Classification plots: how many examples each class has, and the confusion matrix.

The counts come from ``metrics.confusion_matrix``, the package's one confusion matrix;
``viz.confusion_matrix`` is that same function, kept because the chapter notebooks call it.
"""

import numpy as np

from cv_textbook.metrics.classification import confusion_matrix
from cv_textbook.viz.common import _class_ids, _figure_and_axes


def plot_class_balance(labels, class_names, ax=None):
    """Bar chart of how many examples each class has."""
    ids = _class_ids(labels, "labels")
    if ids.size and (ids.min() < 0 or ids.max() >= len(class_names)):
        raise ValueError(
            f"`labels` range from {ids.min()} to {ids.max()} but there are "
            f"{len(class_names)} class_names; pass one name per class."
        )
    counts = np.bincount(ids, minlength=len(class_names))
    figure, ax = _figure_and_axes(ax, (max(4.0, 0.5 * len(class_names)), 3.5))
    bars = ax.bar(range(len(class_names)), counts, color="tab:blue")
    ax.bar_label(bars, fontsize=8)
    ax.set_xticks(range(len(class_names)), [str(n) for n in class_names])
    ax.tick_params(axis="x", labelrotation=45 if len(class_names) > 6 else 0)
    ax.set_xlabel("class")
    ax.set_ylabel("examples")
    ax.set_title("class balance")
    return figure


def plot_confusion_matrix(y_true, y_pred, class_names, normalize=True, ax=None):
    """Confusion matrix (rows: true class, columns: prediction), annotated cells.

    ``y_true`` and ``y_pred`` are class ids (N,), or one-hot / score rows (N, classes).
    With ``normalize=True`` each row is divided by its total, so the diagonal
    is the recall of that class. Cells are annotated for up to 20 classes.
    """
    # One class per example: ids, one-hot rows or score rows (argmax), then the shared count.
    counts = confusion_matrix(_class_ids(y_true, "y_true"), _class_ids(y_pred, "y_pred"), len(class_names))
    values = counts.astype(np.float64)
    if normalize:
        totals = values.sum(axis=1, keepdims=True)
        values = np.divide(values, totals, out=np.zeros_like(values), where=totals > 0)
    size = max(4.0, 0.55 * len(class_names) + 2)
    figure, ax = _figure_and_axes(ax, (size, size * 0.85))
    image = ax.imshow(values, cmap="Blues", vmin=0, vmax=1 if normalize else None)
    figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ticks = range(len(class_names))
    names = [str(name) for name in class_names]
    ax.set_xticks(ticks, names, rotation=45 if len(names) > 6 else 0)
    ax.set_yticks(ticks, names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("confusion matrix" + (" (row-normalised)" if normalize else ""))
    if len(class_names) <= 20:  # beyond that the numbers overlap
        top = 1.0 if normalize else max(values.max(), 1.0)
        _annotate_cells(ax, values, "{:.2f}" if normalize else "{:.0f}", top)
    return figure


def _annotate_cells(ax, values, template, top):
    """Write each value in its cell; `top` is the value at the dark end of the colour map."""
    for (row, col), value in np.ndenumerate(values):
        # White text only where the cell is dark enough to need it.
        colour = "white" if value > top / 2 else "black"
        ax.text(col, row, template.format(value), ha="center", va="center",
                color=colour, fontsize=8)


__all__ = ["confusion_matrix", "plot_class_balance", "plot_confusion_matrix"]
