"""Detection metrics: average precision per class, Pascal VOC's mAP@0.5 and COCO's mAP@[.5:.95].

Inputs, one entry per image (the same images in the same order in both lists):

``ground_truth``
    ``[(boxes (G, 4), classes (G,)), ...]``: the real objects, boxes as pixel corners
    (x1, y1, x2, y2) (the package's convention), classes 0..num_classes-1. For the detection
    canvases: ``[(c.boxes[i][c.valid[i]], c.classes[i][c.valid[i]]) for i in range(len(c))]``.
``detections``
    ``[(boxes (D, 4), classes (D,), scores (D,)), ...]``: a detector's output.

How a class's detections are judged, the rules of COCO's ``COCOeval`` (Lin et al., 2014, and
the pycocotools code), which the tests check number for number: in each image, the
class's detections are sorted by score (stable: ties keep their order) and cut to the best
``max_detections`` (COCO: 100; COCOeval applies it per image *and class*); each detection in
turn is matched to the still-unmatched ground-truth box with which its IoU is highest and at
least the threshold (a true positive) or, failing that, is a false positive. Then all images'
detections, sorted by score, trace the precision-recall curve: recall = TP / number of boxes,
precision = TP / detections so far. Average precision is the area under its upper envelope
(precision made non-increasing from the right):

* ``"all_points"`` (Pascal VOC 2010 on; Everingham et al., 2015, §4.2): the exact area, summed
  over the recalls where the curve steps.
* ``"101_points"`` (COCO): the mean of the envelope at recall 0, 0.01, ..., 1.

VOC-style :func:`mean_average_precision` uses all points at IoU 0.5; COCO-style
:func:`coco_mean_average_precision` averages the 101-point AP over the ten IoU thresholds 0.50,
0.55, ..., 0.95. Both average over the classes that have ground truth (a class with boxes but
no detections scores 0; a class without boxes has no AP, NaN, and is left out). Two departures
from the VOC devkit, for one matching rule in both: an IoU exactly at the threshold matches
(the devkit needs more than it), and a detection whose best box is taken falls back to the next
best box (the devkit counts it as a duplicate). IoU here is COCO's, in float64 (not the float32
``boxes.iou_matrix``: the last bits decide ties at the thresholds, and they must be COCO's).
All NumPy.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from cv_textbook.checks import check_choice, check_positive_int

VOC_IOU_THRESHOLD = 0.5
# COCO's thresholds and recall points, computed as pycocotools does, so that they are the same floats.
COCO_IOU_THRESHOLDS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
COCO_RECALL_POINTS = np.linspace(0.0, 1.0, int(np.round((1.0 - 0.0) / 0.01)) + 1, endpoint=True)
INTERPOLATIONS = ("all_points", "101_points")


@dataclasses.dataclass(frozen=True)
class PrecisionRecall:
    """One class's precision-recall curve at one IoU threshold: a point per detection, best score first.

    ``recall``, ``precision`` and ``scores`` (D,) float64 are the raw curve (plot ``recall``
    against ``precision``); ``true_positive`` (D,) bool says which detections matched a box;
    ``num_ground_truth`` is the class's number of boxes.
    """

    recall: np.ndarray
    precision: np.ndarray
    scores: np.ndarray
    true_positive: np.ndarray
    num_ground_truth: int

    def average_precision(self, interpolation: str = "all_points") -> float:
        return average_precision(self.recall, self.precision, interpolation)


# --------------------------------------------------------------------------- inputs


def _array(value, name: str, dtype, shape_text: str, ndim: int) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an array of shape {shape_text}, got {value!r}.") from None
    if array.ndim != ndim and array.size == 0:  # an empty list means no objects
        array = array.reshape((0, 4) if ndim == 2 else (0,))
    if array.ndim != ndim or (ndim == 2 and array.shape[1] != 4):
        raise ValueError(f"{name} must have shape {shape_text}, got shape {array.shape}.")
    return array


def _boxes(value, name: str) -> np.ndarray:
    boxes = _array(value, name, np.float64, "(boxes, 4), corners (x1, y1, x2, y2)", 2)
    if not np.isfinite(boxes).all():
        raise ValueError(f"{name} must hold finite coordinates.")
    reversed_rows = np.flatnonzero((boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1]))
    if len(reversed_rows):
        raise ValueError(
            f"{name} must be corners (x1, y1, x2, y2) with x1 <= x2 and y1 <= y2; row {reversed_rows[0]} is "
            f"{boxes[reversed_rows[0]].tolist()}. Boxes in (x, y, width, height) or (y1, x1, y2, x2) order "
            "convert with keras.utils.bounding_boxes.convert_format."
        )
    return boxes


def _classes(value, name: str, count: int) -> np.ndarray:
    classes = np.asarray(value)
    if classes.size == 0:
        classes = classes.reshape(0).astype(np.int64)
    if classes.ndim != 1 or not (np.issubdtype(classes.dtype, np.integer) or classes.size == 0):
        raise ValueError(
            f"{name} must be a 1-D array of integer classes, got {classes.dtype} of shape {classes.shape}."
        )
    if len(classes) != count:
        raise ValueError(f"{name} must have one class per box: {count} box(es), {len(classes)} class(es).")
    if (classes < 0).any():
        raise ValueError(f"{name} must hold classes of at least 0, got {classes.min()}.")
    return classes.astype(np.int64)


def _entries(value, name: str, size: int, what: str) -> list:
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"{name} must be a list with one {what} per image, got {type(value).__name__}.")
    for index, entry in enumerate(value):
        if not isinstance(entry, (list, tuple)) or len(entry) != size:
            raise ValueError(f"{name}[{index}] must be a tuple {what}, got {entry!r:.100}.")
    return list(value)


def _check_inputs(ground_truth, detections, num_classes, max_detections):
    ground_truth = _entries(ground_truth, "ground_truth", 2, "(boxes, classes)")
    detections = _entries(detections, "detections", 3, "(boxes, classes, scores)")
    if not ground_truth:
        raise ValueError("ground_truth must hold at least one image, got an empty list.")
    if len(detections) != len(ground_truth):
        raise ValueError(
            f"detections must have one entry per image of ground_truth: {len(ground_truth)} image(s) "
            f"of ground truth, {len(detections)} of detections."
        )
    truths, found = [], []
    for index, (boxes, classes) in enumerate(ground_truth):
        boxes = _boxes(boxes, f"ground_truth[{index}] boxes")
        truths.append((boxes, _classes(classes, f"ground_truth[{index}] classes", len(boxes))))
    for index, (boxes, classes, scores) in enumerate(detections):
        boxes = _boxes(boxes, f"detections[{index}] boxes")
        classes = _classes(classes, f"detections[{index}] classes", len(boxes))
        scores = _array(scores, f"detections[{index}] scores", np.float64, "(detections,)", 1)
        if len(scores) != len(boxes) or not np.isfinite(scores).all():
            raise ValueError(
                f"detections[{index}] scores must be {len(boxes)} finite number(s), one per box, "
                f"got {len(scores)}."
            )
        found.append((boxes, classes, scores))
    all_classes = [classes for _, classes in truths] + [classes for _, classes, _ in found]
    largest = max((int(classes.max()) for classes in all_classes if len(classes)), default=0)
    if num_classes is None:
        num_classes = largest + 1
    else:
        num_classes = check_positive_int("num_classes", num_classes)
        if largest >= num_classes:
            raise ValueError(
                f"classes must be below num_classes = {num_classes}; found class {largest}. "
                "Classes count from 0."
            )
    if max_detections is not None:
        max_detections = check_positive_int("max_detections", max_detections, hint="COCO uses 100.")
    return truths, found, num_classes, max_detections


def _check_thresholds(iou_thresholds) -> np.ndarray:
    thresholds = np.atleast_1d(np.asarray(iou_thresholds, dtype=np.float64))
    if thresholds.ndim != 1 or thresholds.size == 0 or not ((thresholds >= 0) & (thresholds <= 1)).all():
        raise ValueError(f"iou_threshold must be an IoU between 0 and 1 (e.g. 0.5), got {iou_thresholds!r}.")
    return thresholds


# --------------------------------------------------------------------------- matching


def _coco_iou(detections: np.ndarray, truths: np.ndarray) -> np.ndarray:
    """IoU (D, G) as pycocotools computes it from (x, y, w, h):
    intersection / (area_d + area_g - intersection)."""
    d, g = detections[:, None, :], truths[None, :, :]
    widths = np.minimum(d[..., 2], g[..., 2]) - np.maximum(d[..., 0], g[..., 0])
    heights = np.minimum(d[..., 3], g[..., 3]) - np.maximum(d[..., 1], g[..., 1])
    overlap = (widths > 0) & (heights > 0)
    intersection = np.where(overlap, widths * heights, 0.0)
    area_d = (detections[:, 2] - detections[:, 0]) * (detections[:, 3] - detections[:, 1])
    area_g = (truths[:, 2] - truths[:, 0]) * (truths[:, 3] - truths[:, 1])
    union = area_d[:, None] + area_g[None, :] - intersection
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(overlap, intersection / np.where(overlap, union, 1.0), 0.0)


def _match(iou: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """(T, D) bool: which detections (rows of ``iou``, best score first) match a box at each threshold.

    Each takes the still-free box of highest IoU >= the threshold; of equal IoUs the later box
    (COCOeval's loop keeps the last maximum).
    """
    matched = np.zeros((len(thresholds), iou.shape[0]), bool)
    for t, threshold in enumerate(thresholds):
        free = np.ones(iou.shape[1], bool)
        for d in range(iou.shape[0]):
            candidates = np.where(free & (iou[d] >= min(threshold, 1 - 1e-10)), iou[d], -1.0)
            if candidates.max(initial=-1.0) < 0:
                continue
            box = len(candidates) - 1 - int(np.argmax(candidates[::-1]))
            free[box] = False
            matched[t, d] = True
    return matched


def _class_results(truths, found, label: int, thresholds, max_detections):
    """Scores (D,) and matches (T, D) of one class over all images, in evaluation order; its box count."""
    scores, matches, boxes_count = [], [], 0
    for (true_boxes, true_classes), (boxes, classes, detection_scores) in zip(truths, found):
        true_boxes = true_boxes[true_classes == label]
        mine = classes == label
        boxes, detection_scores = boxes[mine], detection_scores[mine]
        order = np.argsort(-detection_scores, kind="stable")[:max_detections]
        boxes, detection_scores = boxes[order], detection_scores[order]
        boxes_count += len(true_boxes)
        scores.append(detection_scores)
        matches.append(_match(_coco_iou(boxes, true_boxes), thresholds))
    scores, matches = np.concatenate(scores), np.concatenate(matches, axis=1)
    order = np.argsort(-scores, kind="stable")
    return scores[order], matches[:, order], boxes_count


def _curve(scores, true_positive, boxes_count) -> PrecisionRecall:
    true_positives = np.cumsum(true_positive).astype(np.float64)
    false_positives = np.cumsum(~true_positive).astype(np.float64)
    return PrecisionRecall(
        recall=true_positives / boxes_count,
        precision=true_positives / (true_positives + false_positives),
        scores=scores,
        true_positive=true_positive,
        num_ground_truth=boxes_count,
    )


def _curves(ground_truth, detections, thresholds, num_classes, max_detections):
    """[class][threshold] -> PrecisionRecall, or None for a class without ground truth."""
    truths, found, num_classes, max_detections = _check_inputs(
        ground_truth, detections, num_classes, max_detections
    )
    curves = []
    for label in range(num_classes):
        scores, matches, boxes_count = _class_results(truths, found, label, thresholds, max_detections)
        curves.append(None if boxes_count == 0 else [_curve(scores, m, boxes_count) for m in matches])
    return curves


# --------------------------------------------------------------------------- public functions


def average_precision(recall, precision, interpolation: str = "all_points") -> float:
    """The area under one precision-recall curve's upper envelope (see the module docstring).

    ``recall`` and ``precision`` (D,): the curve, one point per detection, best score first
    (recall non-decreasing). ``interpolation``: "all_points" (VOC 2010 on) or "101_points" (COCO).
    No detections give 0.
    """
    check_choice("interpolation", interpolation, INTERPOLATIONS)
    recall, precision = np.asarray(recall, np.float64), np.asarray(precision, np.float64)
    if recall.shape != precision.shape or recall.ndim != 1:
        raise ValueError(
            "recall and precision must be 1-D curves of one length, "
            f"got shapes {recall.shape} and {precision.shape}."
        )
    if len(recall) == 0:
        return 0.0
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    if interpolation == "101_points":
        at = np.searchsorted(recall, COCO_RECALL_POINTS, side="left")
        return float(np.mean(np.where(at < len(recall), envelope[np.minimum(at, len(recall) - 1)], 0.0)))
    steps = np.diff(np.concatenate([[0.0], recall]))
    return float(np.sum(steps * envelope))


def precision_recall_curves(ground_truth, detections, iou_threshold: float = VOC_IOU_THRESHOLD,
                            num_classes: int | None = None, max_detections: int | None = None) -> list:
    """One :class:`PrecisionRecall` per class (None for a class without ground truth), for plots.

    ``num_classes`` defaults to one more than the largest class seen; ``max_detections`` (per
    image and class, COCO's rule) to all.
    """
    thresholds = _check_thresholds(iou_threshold)
    if thresholds.size != 1:
        raise ValueError(f"iou_threshold must be one IoU, got {iou_threshold!r}.")
    return [None if curve is None else curve[0]
            for curve in _curves(ground_truth, detections, thresholds, num_classes, max_detections)]


def average_precision_per_class(ground_truth, detections, iou_threshold=VOC_IOU_THRESHOLD,
                                num_classes: int | None = None, max_detections: int | None = None,
                                interpolation: str = "all_points") -> np.ndarray:
    """AP of every class, float64 (num_classes,), NaN for a class without ground truth.

    ``iou_threshold`` may be several IoUs (e.g. ``COCO_IOU_THRESHOLDS``): the class's AP is then
    the mean of its APs at each.
    """
    check_choice("interpolation", interpolation, INTERPOLATIONS)
    thresholds = _check_thresholds(iou_threshold)
    result = []
    for curves in _curves(ground_truth, detections, thresholds, num_classes, max_detections):
        if curves is None:
            result.append(np.nan)
        else:
            result.append(np.mean([curve.average_precision(interpolation) for curve in curves]))
    return np.array(result, dtype=np.float64)


def _mean_over_classes(per_class: np.ndarray) -> float:
    if np.isnan(per_class).all():
        raise ValueError("ground_truth must hold at least one box: average precision needs objects to find.")
    return float(np.nanmean(per_class))


def mean_average_precision(ground_truth, detections, iou_threshold: float = VOC_IOU_THRESHOLD,
                           num_classes: int | None = None, max_detections: int | None = None) -> float:
    """Pascal VOC-style mAP: all-point AP at ``iou_threshold``, averaged over the classes with boxes."""
    thresholds = _check_thresholds(iou_threshold)
    if thresholds.size != 1:
        raise ValueError(
            f"iou_threshold must be one IoU, got {iou_threshold!r}; "
            "for several use average_precision_per_class."
        )
    return _mean_over_classes(
        average_precision_per_class(ground_truth, detections, thresholds, num_classes, max_detections,
                                    "all_points")
    )


def coco_average_precision_per_class(ground_truth, detections, num_classes: int | None = None,
                                     max_detections: int = 100) -> np.ndarray:
    """COCO's AP of every class: 101-point AP averaged over IoU 0.50:0.95; NaN without ground truth."""
    return average_precision_per_class(
        ground_truth, detections, COCO_IOU_THRESHOLDS, num_classes, max_detections, "101_points"
    )


def coco_mean_average_precision(ground_truth, detections, num_classes: int | None = None,
                                max_detections: int = 100) -> float:
    """COCO-style mAP@[.5:.95] (COCOeval's "AP", area "all", ``maxDets=max_detections``)."""
    per_class = coco_average_precision_per_class(ground_truth, detections, num_classes, max_detections)
    return _mean_over_classes(per_class)


__all__ = [
    "COCO_IOU_THRESHOLDS",
    "COCO_RECALL_POINTS",
    "INTERPOLATIONS",
    "VOC_IOU_THRESHOLD",
    "PrecisionRecall",
    "average_precision",
    "average_precision_per_class",
    "coco_average_precision_per_class",
    "coco_mean_average_precision",
    "mean_average_precision",
    "precision_recall_curves",
]
