"""Training targets of Faster R-CNN: which anchors and which RoIs are positive, sampled, with box deltas.

Two stages, two sets of rules (Ren et al., 2015, §3.1.2 and §3.1.3; Girshick, 2015, §2.3):

* RPN (:func:`label_anchors`, :func:`sample_anchors`, :func:`rpn_targets`): an anchor is
  *positive* if its IoU with some ground-truth box is >= 0.7, or if it is the best anchor of a
  ground-truth box (so that every box gets one, however badly the anchors fit it); *negative*
  if its IoU with every box is < 0.3; otherwise ignored. Each image then contributes 256
  anchors, at most half of them positive, chosen at random; the others are ignored.
* Detection head (:func:`sample_rois`): a proposal is *foreground* if its IoU with some box is
  >= 0.5 (it learns that box's class), *background* if its best IoU is in [0.1, 0.5); each image
  contributes 128 RoIs, a quarter of them foreground at most.

The regression target of a positive is ``boxes.encode_deltas(anchor, its best box)``.

These are plain NumPy functions of one image's arrays: the numbers of boxes vary from image to
image and the sampling is random, which is what NumPy does plainly. They run on data (as
py-faster-rcnn's Python layers did), e.g. over the canvases before training, or on the
proposals in an eager training step. Randomness comes from ``rng``: an int seed or a
``numpy.random.Generator`` (pass one Generator along to draw different samples per image).
Padding boxes (the canvases' ``valid=False`` slots) are ignored everywhere.
"""

from __future__ import annotations

import numpy as np
from keras import ops

from cv_textbook.checks import check_bool, check_number, check_positive_int, is_int
from cv_textbook.detection.boxes import encode_deltas, iou_matrix, validate_boxes

POSITIVE, NEGATIVE, IGNORED = 1, 0, -1  # anchor labels
BACKGROUND = 0  # RoI class label; a foreground RoI gets its box's class + 1


def _generator(rng) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if is_int(rng) and rng >= 0:
        return np.random.default_rng(int(rng))
    raise ValueError(f"rng must be a non-negative int seed or a numpy.random.Generator, got {rng!r}.")


def _fraction(name: str, value) -> np.float32:
    """A number in [0, 1], as float32: IoUs are float32, and an IoU of exactly 0.7 (70 / 100 px)
    must pass a 0.7 threshold, which it does not against the float64 0.7."""
    value = check_number(name, value, 0.0)
    if value > 1:
        raise ValueError(f"{name} must be between 0 and 1, got {value}.")
    return np.float32(value)


def _ground_truth(boxes, valid, classes=None, num_classes=None):
    """Validated (G, 4) boxes, (G,) valid mask and, if given, (G,) classes of one image."""
    boxes = validate_boxes(boxes, "gt_boxes")
    if boxes.ndim != 2:
        raise ValueError(f"gt_boxes must be one image's boxes, shape (boxes, 4), got shape {boxes.shape}.")
    count = len(boxes)
    valid = np.ones(count, bool) if valid is None else np.asarray(valid)
    if valid.dtype != bool or valid.shape != (count,):
        raise ValueError(
            f"valid must be a boolean array with one entry per box, shape ({count},), "
            f"got {valid.dtype} of shape {valid.shape}."
        )
    if classes is None:
        return boxes, valid, None
    classes = np.asarray(classes)
    if classes.shape != (count,) or not np.issubdtype(classes.dtype, np.integer):
        raise ValueError(
            f"gt_classes must hold one integer class per box, shape ({count},), "
            f"got {classes.dtype} of shape {classes.shape}."
        )
    real = classes[valid]
    if (real < 0).any() or (num_classes is not None and (real >= num_classes).any()):
        upper = f"num_classes - 1 = {num_classes - 1}" if num_classes is not None else "any"
        raise ValueError(
            f"gt_classes of valid boxes must be between 0 and {upper}, got {sorted(set(real.tolist()))}; "
            "mark padding slots with valid=False."
        )
    return boxes, valid, classes


def _overlaps(candidates, boxes, valid) -> np.ndarray:
    """IoU (candidates, boxes) in float32, -1 for padding boxes, so that they never match."""
    if len(candidates) == 0 or len(boxes) == 0:
        return np.full((len(candidates), len(boxes)), -1.0, np.float32)
    iou = ops.convert_to_numpy(iou_matrix(candidates, boxes)).astype(np.float32)
    return np.where(valid[None, :], iou, np.float32(-1.0))


def label_anchors(anchors, gt_boxes, valid=None, positive_iou: float = 0.7, negative_iou: float = 0.3,
                  image_shape=None):
    """RPN labels of every anchor of one image: ``(labels, matches)``, both int (A,).

    ``labels``: 1 positive, 0 negative, -1 ignored. Positive: IoU >= ``positive_iou`` with a
    valid box, or the best anchor of a valid box (every anchor tied for that box's best IoU, as
    in py-faster-rcnn; a box that overlaps no anchor at all has none). Negative: IoU <
    ``negative_iou`` with every valid box and not positive. ``matches``: for a positive, the
    index into ``gt_boxes`` of its highest-IoU box (its regression target); -1 elsewhere.
    ``valid`` (G,) bool marks real boxes (default all); without any, every anchor is negative.
    ``image_shape`` (height, width): if given, anchors that cross the image border are ignored
    and never picked as a box's best anchor, as in the paper's training (§3.3).
    """
    anchors = validate_boxes(anchors, "anchors")
    if anchors.ndim != 2:
        raise ValueError(f"anchors must have shape (anchors, 4), got shape {anchors.shape}.")
    gt_boxes, valid, _ = _ground_truth(gt_boxes, valid)
    positive_iou = _fraction("positive_iou", positive_iou)
    negative_iou = _fraction("negative_iou", negative_iou)
    if negative_iou > positive_iou:
        raise ValueError(f"negative_iou ({negative_iou}) must not exceed positive_iou ({positive_iou}).")
    inside = np.ones(len(anchors), bool)
    if image_shape is not None:
        try:
            height, width = (float(side) for side in image_shape)
        except (TypeError, ValueError):
            raise ValueError(f"image_shape must be (height, width) or None, got {image_shape!r}.") from None
        inside = ((anchors[:, 0] >= 0) & (anchors[:, 1] >= 0)
                  & (anchors[:, 2] <= width) & (anchors[:, 3] <= height))

    iou = _overlaps(anchors, gt_boxes, valid)
    iou[~inside] = -1.0
    labels = np.full(len(anchors), IGNORED, np.int64)
    matches = np.full(len(anchors), -1, np.int64)
    if not valid.any():
        labels[inside] = NEGATIVE
        return labels, matches
    best_iou, best_box = iou.max(axis=1), iou.argmax(axis=1)
    labels[inside & (best_iou < negative_iou)] = NEGATIVE
    best_of_each_box = iou.max(axis=0)  # (G,); -1 for padding
    is_best = ((iou == best_of_each_box[None, :]) & (best_of_each_box > 0)[None, :]).any(axis=1)
    positive = is_best | (best_iou >= positive_iou)
    labels[positive] = POSITIVE
    matches[positive] = best_box[positive]
    return labels, matches


def sample_anchors(labels, num_samples: int = 256, positive_fraction: float = 0.5, rng=0) -> np.ndarray:
    """A copy of ``labels`` (1/0/-1) with at most ``num_samples`` left non-ignored.

    At most ``positive_fraction * num_samples`` positives (chosen at random if there are more),
    and negatives fill the rest (chosen at random if there are more); the others become -1. With
    few positives an image gives more negatives, so it still contributes ``num_samples`` anchors
    when it has enough (py-faster-rcnn's rule).
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.isin(labels, (POSITIVE, NEGATIVE, IGNORED)).all():
        raise ValueError(
            "labels must be one image's anchor labels (A,), each 1, 0 or -1 (from label_anchors)."
        )
    num_samples = check_positive_int("num_samples", num_samples,
                                     hint="The paper samples 256 anchors per image.")
    positive_fraction = _fraction("positive_fraction", positive_fraction)
    generator = _generator(rng)
    sampled = labels.copy()
    positives = np.flatnonzero(sampled == POSITIVE)
    most_positives = int(positive_fraction * num_samples)
    if len(positives) > most_positives:
        sampled[generator.choice(positives, len(positives) - most_positives, replace=False)] = IGNORED
    negatives = np.flatnonzero(sampled == NEGATIVE)
    most_negatives = num_samples - int((sampled == POSITIVE).sum())
    if len(negatives) > most_negatives:
        sampled[generator.choice(negatives, len(negatives) - most_negatives, replace=False)] = IGNORED
    return sampled


def rpn_targets(anchors, gt_boxes, valid=None, *, num_samples: int = 256, positive_fraction: float = 0.5,
                positive_iou: float = 0.7, negative_iou: float = 0.3, image_shape=None, variance=None,
                rng=0) -> dict:
    """Everything the RPN's two losses need for one image, as NumPy arrays.

    ``labels`` (A,) int: 1 / 0 for the sampled positives and negatives (the classification
    loss), -1 for the rest; ``deltas`` (A, 4) float32: ``encode_deltas(anchor, matched box,
    variance)`` for the sampled positives (the regression loss only counts those), zeros
    elsewhere; ``matches`` (A,): the matched box of each sampled positive, -1 elsewhere.
    Arguments as in :func:`label_anchors` and :func:`sample_anchors`.
    """
    anchors = validate_boxes(anchors, "anchors")
    labels, matches = label_anchors(anchors, gt_boxes, valid, positive_iou, negative_iou, image_shape)
    labels = sample_anchors(labels, num_samples, positive_fraction, rng)
    matches = np.where(labels == POSITIVE, matches, -1)
    deltas = np.zeros((len(anchors), 4), np.float32)
    positive = labels == POSITIVE
    if positive.any():
        gt_boxes = validate_boxes(gt_boxes, "gt_boxes")
        deltas[positive] = ops.convert_to_numpy(
            encode_deltas(anchors[positive], gt_boxes[matches[positive]], variance=variance)
        )
    return {"labels": labels, "deltas": deltas, "matches": matches}


def sample_rois(proposals, gt_boxes, gt_classes, valid=None, *, num_samples: int = 128,
                foreground_fraction: float = 0.25, foreground_iou: float = 0.5, background_iou=(0.1, 0.5),
                include_ground_truth: bool = True, num_classes: int | None = None, variance=None,
                rng=0) -> dict:
    """The RoIs that train the detection head of one image, with their classes and box targets.

    ``proposals`` (P, 4) are the RPN's (or selective search's) boxes; with
    ``include_ground_truth`` the valid ground-truth boxes join them (py-faster-rcnn does, so that
    early in training every image has foreground RoIs). Foreground: best IoU >=
    ``foreground_iou``, at most ``round(foreground_fraction * num_samples)`` of them at random;
    background: best IoU in [``background_iou[0]``, ``background_iou[1]``), filling up to
    ``num_samples``. Fewer candidates give fewer RoIs: the result has at most ``num_samples``.

    Returns a dict of NumPy arrays, foreground first: ``rois`` (K, 4) float32; ``labels`` (K,)
    int: 0 for background, the box's class + 1 for foreground (class 0 is the background in
    Fast R-CNN's K + 1-way classifier); ``deltas`` (K, 4) float32, ``encode_deltas(roi, box,
    variance)`` for foreground, zeros for background; ``matches`` (K,): the box index, -1 for
    background. ``num_classes``, if given, checks that every valid class is below it.
    """
    proposals = validate_boxes(proposals, "proposals").reshape(-1, 4)
    if num_classes is not None:
        num_classes = check_positive_int("num_classes", num_classes)
    gt_boxes, valid, gt_classes = _ground_truth(gt_boxes, valid, gt_classes, num_classes)
    num_samples = check_positive_int("num_samples", num_samples,
                                     hint="Fast R-CNN samples 128 RoIs per image.")
    foreground_fraction = _fraction("foreground_fraction", foreground_fraction)
    foreground_iou = _fraction("foreground_iou", foreground_iou)
    if not isinstance(background_iou, (tuple, list)) or len(background_iou) != 2:
        raise ValueError(
            f"background_iou must be a pair (low, high) such as (0.1, 0.5), got {background_iou!r}."
        )
    background_low, background_high = (_fraction("background_iou", bound) for bound in background_iou)
    if not background_low <= background_high <= foreground_iou:
        raise ValueError(
            f"background_iou must be (low, high) with low <= high <= foreground_iou ({foreground_iou}), "
            f"got {tuple(background_iou)}."
        )
    include_ground_truth = check_bool("include_ground_truth", include_ground_truth)
    generator = _generator(rng)
    if include_ground_truth:
        proposals = np.concatenate([proposals, gt_boxes[valid]], axis=0)

    iou = _overlaps(proposals, gt_boxes, valid)
    if iou.shape[1] == 0:
        best_iou, best_box = np.full(len(proposals), -1.0, np.float32), np.full(len(proposals), -1)
    else:
        best_iou, best_box = iou.max(axis=1), iou.argmax(axis=1)
    foreground = np.flatnonzero(best_iou >= foreground_iou)
    background = np.flatnonzero((best_iou >= background_low) & (best_iou < background_high))
    foreground_count = min(int(np.round(foreground_fraction * num_samples)), len(foreground))
    if len(foreground):
        foreground = generator.choice(foreground, foreground_count, replace=False)
    background_count = min(num_samples - foreground_count, len(background))
    if len(background):
        background = generator.choice(background, background_count, replace=False)

    chosen = np.concatenate([foreground, background]).astype(np.int64)
    rois = proposals[chosen]
    matches = np.concatenate([best_box[foreground], np.full(background_count, -1)]).astype(np.int64)
    labels = np.zeros(len(chosen), np.int64)
    labels[:foreground_count] = gt_classes[matches[:foreground_count]] + 1
    deltas = np.zeros((len(chosen), 4), np.float32)
    if foreground_count:
        deltas[:foreground_count] = ops.convert_to_numpy(
            encode_deltas(rois[:foreground_count], gt_boxes[matches[:foreground_count]], variance=variance)
        )
    return {"rois": rois.astype(np.float32), "labels": labels, "deltas": deltas, "matches": matches}


__all__ = [
    "BACKGROUND",
    "IGNORED",
    "NEGATIVE",
    "POSITIVE",
    "label_anchors",
    "rpn_targets",
    "sample_anchors",
    "sample_rois",
]
