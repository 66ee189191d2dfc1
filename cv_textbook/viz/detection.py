"""Detection plots: boxes over an image, predictions and ground truth told apart.

Boxes are pixel corners ``(x1, y1, x2, y2)``: x to the right, y down, ``(0, 0)`` the top-left
corner of the top-left pixel, so ``(0, 0, W, H)`` frames a whole W×H image. Other layouts
(``"yxyx"``, ``"xywh"``, ``"center_xywh"``, the relative ``"rel_*"`` ones) are converted with
``keras.utils.bounding_boxes.convert_format``; pass ``box_format=``.

Predictions are drawn with solid lines and labelled "class score", ground truth (``true_boxes``)
with dashed lines and labelled "class"; both take their class's colour, so a prediction and the
box it should match share a colour and differ in line style.

Keras has ``keras.visualization.draw_bounding_boxes``, but it paints the boxes into the pixels
with OpenCV, cannot draw into a given axes and draws every box alike; this module draws them as
matplotlib patches instead.
"""

import keras
import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from cv_textbook.checks import check_number
from cv_textbook.viz.common import (
    _class_colours,
    _displayable,
    _figure_and_axes,
    _grid_figure,
    _name,
    _new_figure,
    _to_numpy,
)

PREDICTED_STYLE = {"linestyle": "-", "linewidth": 1.8}
TRUE_STYLE = {"linestyle": "--", "linewidth": 1.5}


# ---------------------------------------------------------------------------
# Checking the boxes
# ---------------------------------------------------------------------------


def _image_array(image):
    image = _to_numpy(image)
    if image.ndim not in (2, 3):
        raise ValueError(
            f"`image` must be one image (H, W) or (H, W, C), got shape {image.shape}; "
            "for a batch use plot_boxes_grid."
        )
    return image


def _xyxy(boxes, box_format, image_shape, name):
    """(K, 4) float pixel corners from boxes in ``box_format``."""
    array = _to_numpy(boxes).astype(np.float64)
    if array.size == 0:
        return array.reshape(0, 4)
    if array.ndim != 2 or array.shape[-1] != 4:
        raise ValueError(
            f"`{name}` must have shape (K, 4), one row per box, got {array.shape}; "
            "for a single box use [box]."
        )
    if box_format != "xyxy":
        height, width = image_shape[:2]
        converted = keras.utils.bounding_boxes.convert_format(
            array, source=box_format, target="xyxy", height=height, width=width
        )
        array = np.asarray(keras.ops.convert_to_numpy(converted), dtype=np.float64)
    if np.any(array[:, 2] < array[:, 0]) or np.any(array[:, 3] < array[:, 1]):
        row = int(np.flatnonzero((array[:, 2] < array[:, 0]) | (array[:, 3] < array[:, 1]))[0])
        raise ValueError(
            f"`{name}` row {row} is {array[row].tolist()}: boxes must be (x1, y1, x2, y2) with "
            "x1 <= x2 and y1 <= y2; for (y1, x1, y2, x2) pass box_format='yxyx'."
        )
    return array


def _per_box(values, count, name, what):
    """One value per box (classes or scores), or None."""
    if values is None:
        return None
    array = _to_numpy(values).ravel()
    if array.size != count:
        raise ValueError(f"`{name}` has {array.size} values for {count} boxes; pass one {what} per box.")
    return array


def _valid_classes(classes, class_names, name):
    if classes is None:
        return None
    classes = classes.astype(np.int64)
    real = classes[classes >= 0]
    if class_names is not None and real.size and real.max() >= len(class_names):
        raise ValueError(
            f"`{name}` contains class {real.max()} but there are {len(class_names)} class_names; "
            "pass one name per class."
        )
    if np.any(classes < -1):
        raise ValueError(
            f"`{name}` contains class {classes.min()}; classes are 0, 1, ... (-1 marks padding)."
        )
    return classes


def _boxes_to_draw(boxes, classes, scores, class_names, box_format, image_shape, min_score, prefix):
    """(boxes, classes, scores) without padding (class -1) and scores below ``min_score``."""
    boxes = _xyxy(boxes, box_format, image_shape, f"{prefix}boxes")
    classes = _per_box(classes, len(boxes), f"{prefix}classes", "class")
    classes = _valid_classes(classes, class_names, f"{prefix}classes")
    scores = _per_box(scores, len(boxes), "scores", "score")
    keep = np.ones(len(boxes), dtype=bool)
    if classes is not None:
        keep &= classes >= 0  # Keras pads ragged boxes with class -1
    if scores is not None:
        keep &= scores >= min_score
    pick = lambda values: None if values is None else values[keep]  # noqa: E731
    return boxes[keep], pick(classes), pick(scores)


# ---------------------------------------------------------------------------
# Drawing
# ---------------------------------------------------------------------------


def _palette(class_names, *sets):
    """One colour per class id, shared by predictions and ground truth: as many colours as
    class names, else as the largest class id drawn needs."""
    if class_names is not None:
        return _class_colours(len(class_names))
    ids = [int(classes.max()) for _, classes, _ in sets if classes is not None and classes.size]
    return _class_colours(max(ids, default=0) + 1)


def _label(class_id, score, class_names):
    text = _name(class_id, class_names) if class_id is not None else ""
    if score is not None:
        text = f"{text} {score:.2f}".strip()
    return text


def _draw(ax, boxes, classes, scores, class_names, palette, style, label_below):
    for index, (x1, y1, x2, y2) in enumerate(boxes):
        class_id = None if classes is None else int(classes[index])
        colour = palette[0 if class_id is None else class_id]
        ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor=colour, **style))
        text = _label(class_id, None if scores is None else float(scores[index]), class_names)
        if text:
            # Predictions are labelled above their box, ground truth below, so the two never overlap.
            ax.text(
                x1,
                y2 if label_below else y1,
                text,
                fontsize=7,
                color="white",
                va="top" if label_below else "bottom",
                ha="left",
                bbox={"facecolor": colour, "edgecolor": "none", "pad": 1.0, "alpha": 0.85},
                clip_on=True,
            )


def _draw_panel(ax, image, predicted, truth, class_names, cmap):
    pixels, scale = _displayable(image)
    height, width = pixels.shape[:2]
    # extent puts pixel corners on whole coordinates: (0, 0, W, H) frames the whole image.
    ax.imshow(pixels, cmap=cmap if pixels.ndim == 2 else None, extent=(0, width, height, 0), **scale)
    drawn = [boxes for boxes in (predicted, truth) if boxes is not None]
    palette = _palette(class_names, *drawn)
    if truth is not None:
        _draw(ax, *truth, class_names, palette, TRUE_STYLE, label_below=True)
    if predicted is not None:
        _draw(ax, *predicted, class_names, palette, PREDICTED_STYLE, label_below=False)
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    ax.set_axis_off()


def _legend_handles(has_predictions, has_truth, class_names):
    handles = []
    if has_predictions and has_truth:
        handles += [
            Line2D([], [], color="black", label="predicted", **PREDICTED_STYLE),
            Line2D([], [], color="black", label="ground truth", **TRUE_STYLE),
        ]
    if class_names is not None:
        colours = _class_colours(len(class_names))
        handles += [Patch(facecolor=colours[i], label=str(name)) for i, name in enumerate(class_names)]
    return handles


def _panel_title(predicted, truth):
    parts = []
    if predicted is not None:
        parts.append(f"{len(predicted[0])} predicted")
    if truth is not None:
        parts.append(f"{len(truth[0])} true")
    return ", ".join(parts) if parts else ""


# ---------------------------------------------------------------------------
# Public plots
# ---------------------------------------------------------------------------


def plot_boxes(
    image,
    boxes,
    classes=None,
    scores=None,
    class_names=None,
    ax=None,
    *,
    true_boxes=None,
    true_classes=None,
    box_format="xyxy",
    min_score=0.0,
    title=None,
    cmap="gray",
):
    """One image with its boxes: ``boxes`` (K, 4) solid, labelled "class score"; ``true_boxes``
    dashed, labelled "class".

    ``classes`` and ``scores`` give one class id and one score per box (either may be None);
    ``class_names`` names the ids and fixes one colour per class. Boxes whose class is -1 (the
    padding of Keras's ragged box batches) and boxes scoring below ``min_score`` are not drawn.
    The legend, to the right, tells the two line styles apart when both kinds are drawn and
    names the class colours.
    """
    image = _image_array(image)
    min_score = check_number("`min_score`", min_score)
    predicted = _boxes_to_draw(boxes, classes, scores, class_names, box_format, image.shape, min_score, "")
    truth = None
    if true_boxes is not None:
        truth = _boxes_to_draw(
            true_boxes, true_classes, None, class_names, box_format, image.shape, min_score, "true_"
        )
    if ax is None:
        height, width = image.shape[:2]
        legend_inches = 1.5 if class_names is not None or truth is not None else 0.0
        ax = _new_figure((4.5 + legend_inches, 4.5 * height / max(width, 1))).add_subplot()
    figure = ax.figure
    _draw_panel(ax, image, predicted, truth, class_names, cmap)
    ax.set_title(title if title is not None else _panel_title(predicted, truth), fontsize=9)
    handles = _legend_handles(True, truth is not None, class_names)
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False)
    return figure


def _per_image(values, count, name):
    """A list with one entry per image from a list (ragged) or a padded array (N, K, ...)."""
    if values is None:
        return [None] * count
    if len(values) != count:
        raise ValueError(f"`{name}` has {len(values)} entries for {count} images; pass one per image.")
    return list(values)


def plot_boxes_grid(
    images,
    boxes=None,
    classes=None,
    scores=None,
    class_names=None,
    *,
    true_boxes=None,
    true_classes=None,
    box_format="xyxy",
    min_score=0.0,
    n_cols=4,
    title=None,
    cmap="gray",
):
    """Several images with their boxes, one panel each, drawn as ``plot_boxes`` draws one.

    ``boxes``, ``classes``, ``scores``, ``true_boxes`` and ``true_classes`` hold one entry per
    image: a list of arrays of any lengths, or padded arrays such as (N, K, 4) with class -1 for
    the padding. Each panel's title counts its predicted and true boxes; one legend below the
    grid tells predictions (solid) from ground truth (dashed) and names the class colours.
    """
    images = _to_numpy(images)
    if images.ndim not in (3, 4):
        raise ValueError(
            f"`images` must have shape (N, H, W) or (N, H, W, C), got {images.shape}; "
            "for a single image use plot_boxes."
        )
    count = len(images)
    if boxes is None and true_boxes is None:
        raise ValueError("pass `boxes` (predictions), `true_boxes` (ground truth) or both.")
    min_score = check_number("`min_score`", min_score)
    columns = [
        _per_image(values, count, name)
        for values, name in (
            (boxes, "boxes"),
            (classes, "classes"),
            (scores, "scores"),
            (true_boxes, "true_boxes"),
            (true_classes, "true_classes"),
        )
    ]
    figure, rows, cols = _grid_figure(count, n_cols, "images", cell_inches=2.6, title=title)
    for index, (image, box, cls, score, true_box, true_cls) in enumerate(zip(images, *columns)):
        predicted = truth = None
        if box is not None:
            predicted = _boxes_to_draw(box, cls, score, class_names, box_format, image.shape, min_score, "")
        if true_box is not None:
            truth = _boxes_to_draw(
                true_box, true_cls, None, class_names, box_format, image.shape, min_score, "true_"
            )
        ax = figure.add_subplot(rows, cols, index + 1)
        _draw_panel(ax, image, predicted, truth, class_names, cmap)
        ax.set_title(f"{index}: {_panel_title(predicted, truth)}", fontsize=8)
    handles = _legend_handles(boxes is not None, true_boxes is not None, class_names)
    if handles:
        figure.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 6), fontsize=8)
    return figure


def plot_precision_recall(curves, class_names=None, ax=None, *, title=None):
    """Each class's precision-recall curve (thin) and its upper envelope, whose area is the AP (thick).

    ``curves``: one ``metrics.PrecisionRecall`` per class, None for a class without boxes (skipped),
    as ``metrics.precision_recall_curves`` returns them. The legend gives each class its all-point
    AP (Pascal VOC's); the title the mean of those, the mAP at the curves' IoU threshold.
    """
    drawn = [(class_id, curve) for class_id, curve in enumerate(curves) if curve is not None]
    if not drawn:
        raise ValueError("curves must hold at least one curve (None marks a class without boxes), got none.")
    colours = _class_colours(len(curves) if class_names is None else len(class_names))
    figure, ax = _figure_and_axes(ax, (5.5, 4.0))
    averages = []
    for class_id, curve in drawn:
        recall, precision = np.asarray(curve.recall), np.asarray(curve.precision)
        average = curve.average_precision()
        averages.append(average)
        colour = colours[class_id % len(colours)]
        if len(recall):
            # Envelope: the best precision at this recall or beyond, held on each step of recall.
            envelope = np.maximum.accumulate(precision[::-1])[::-1]
            ax.plot(recall, precision, color=colour, linewidth=0.8, alpha=0.5)
            ax.plot(np.concatenate([[0.0], recall]), np.concatenate([envelope[:1], envelope]),
                    drawstyle="steps-pre", color=colour, linewidth=1.8,
                    label=f"{_name(class_id, class_names)} (AP {average:.3f})")
        else:  # no detections of a class with boxes: AP 0, nothing to draw but the legend entry
            ax.plot([], [], color=colour, linewidth=1.8, label=f"{_name(class_id, class_names)} (AP 0.000)")
    ax.set_xlim(0, 1.0)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    default_title = f"Precision-recall, mAP {np.mean(averages):.3f}"
    ax.set_title(title if title is not None else default_title, fontsize=9)
    ax.legend(loc="lower left", fontsize=8, frameon=False)
    return figure


__all__ = ["plot_boxes", "plot_boxes_grid", "plot_precision_recall"]
