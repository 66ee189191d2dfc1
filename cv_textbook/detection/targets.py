"""Faster R-CNN's training targets and its final detections *inside* the model, in ``keras.ops``.

``sampling`` computes the same targets in NumPy for one image at a time (to read and to test);
a detector trained end to end needs them in its training step, for a batch, with static shapes,
because the RoIs depend on the RPN's proposals of that very step. Here:

* :func:`anchor_targets`: the RPN's labels (1 / 0 / -1) and deltas for every anchor of a batch:
  ``sampling.label_anchors`` (IoU >= 0.7 or the best anchor of a box positive, < 0.3 negative)
  then ``sampling.sample_anchors`` (256 per image, at most half positive);
* :func:`roi_targets`: ``sampling.sample_rois`` for a batch: proposals plus the ground-truth
  boxes, foreground IoU >= 0.5 (at most a quarter of the samples), background in
  ``background_iou``, the RoIs, their labels (class + 1, 0 background) and box targets;
* :func:`detections`: from the head's class probabilities and per-class deltas to boxes,
  scores and classes per image (decode, clip, score threshold, per-class NMS).

The random choices of the samples come in as an array ``uniform`` of numbers in [0, 1) (the
model draws it with its seed generator), so the functions themselves are deterministic. Boxes
are the package's pixel corners; a batch's ground truth is padded to ``G`` slots with ``valid``.
Choosing "the ``q`` candidates with the largest random keys" for a ``q`` that differs per image
is done by thresholding at the ``q``-th largest key (``ops.top_k``), so shapes stay static.
"""

from __future__ import annotations

from keras import ops

from cv_textbook.checks import check_positive_int
from cv_textbook.detection.boxes import decode_deltas, encode_deltas, iou_matrix
from cv_textbook.detection.nms import batched_nms
from cv_textbook.detection.roi import roi_align

# Fast R-CNN's box targets are normalised by these (py-faster-rcnn's BBOX_NORMALIZE_STDS), so that the
# four deltas of a foreground RoI have about unit spread; the RPN's are not (as in the paper).
HEAD_VARIANCE = (0.1, 0.1, 0.2, 0.2)


def _choose(mask, keys, most: int, quota=None):
    """(B, N) bool: of the ``mask``ed entries, the (at most) ``most`` with the largest ``keys`` in
    [0, 1), or the ``quota`` (B,) largest where a per-image quota is given."""
    count = mask.shape[-1]
    scored = ops.where(mask, keys, -1.0)
    top = ops.top_k(scored, min(most, count))[0]  # (B, k), largest first
    if quota is None:
        threshold = top[:, -1:]
        return mask & (scored >= threshold)
    position = ops.clip(quota - 1, 0, top.shape[-1] - 1)
    threshold = ops.take_along_axis(top, position[:, None], axis=1)
    return mask & (scored >= threshold) & (quota > 0)[:, None]


def _best_match(candidates, gt_boxes, valid):
    """IoU (B, N, G) with padding boxes at -1, each candidate's best IoU (B, N) and box index (B, N)."""
    iou = iou_matrix(candidates, gt_boxes)
    iou = ops.where(ops.cast(valid, "bool")[:, None, :], iou, -1.0)
    return iou, ops.max(iou, axis=-1), ops.argmax(iou, axis=-1)


def _gather_boxes(boxes, index):
    """boxes (B, G, 4), index (B, N) -> (B, N, 4)."""
    return ops.take_along_axis(boxes, ops.cast(index, "int32")[..., None], axis=1)


def anchor_targets(anchors, gt_boxes, valid, uniform, *, num_samples: int = 256, positive_fraction: float = 0.5,
                   positive_iou: float = 0.7, negative_iou: float = 0.3):
    """The RPN's targets for a batch: ``(labels (B, A) int32, deltas (B, A, 4))``.

    ``anchors`` (A, 4); ``gt_boxes`` (B, G, 4); ``valid`` (B, G) bool; ``uniform`` (B, A) random
    numbers in [0, 1) that pick the samples. Labels as ``sampling.label_anchors`` gives them (every
    anchor tied for a box's best IoU is positive; anchors crossing the image border are kept, as
    Detectron2 does by default), then sampled as ``sampling.sample_anchors``: at most
    ``int(positive_fraction * num_samples)`` positives, negatives up to ``num_samples``.
    ``deltas``: ``encode_deltas(anchor, its best box)`` where the label is 1, zeros elsewhere.
    """
    num_samples = check_positive_int("num_samples", num_samples)
    anchors = ops.convert_to_tensor(anchors, "float32")
    gt_boxes = ops.cast(gt_boxes, "float32")
    batch = ops.shape(gt_boxes)[0]
    tiled = ops.broadcast_to(anchors[None], (batch, *anchors.shape))
    iou, best_iou, best_box = _best_match(tiled, gt_boxes, valid)
    best_of_each_box = ops.max(iou, axis=1)  # (B, G)
    is_best = ops.any((iou == best_of_each_box[:, None, :]) & (best_of_each_box > 0)[:, None, :], axis=-1)
    positive = is_best | (best_iou >= positive_iou)
    negative = (best_iou < negative_iou) & ~positive
    most_positives = int(positive_fraction * num_samples)
    positive = _choose(positive, uniform, max(most_positives, 1)) & (most_positives > 0)
    quota = num_samples - ops.sum(ops.cast(positive, "int32"), axis=1)
    negative = _choose(negative, uniform, num_samples, quota)
    labels = ops.where(positive, 1, ops.where(negative, 0, -1))
    deltas = encode_deltas(tiled, _gather_boxes(gt_boxes, best_box))
    return ops.cast(labels, "int32"), ops.where(positive[..., None], deltas, 0.0)


def roi_targets(proposals, proposal_valid, gt_boxes, gt_classes, valid, uniform, *, num_samples: int = 64,
                foreground_fraction: float = 0.25, foreground_iou: float = 0.5, background_iou=(0.0, 0.5),
                variance=HEAD_VARIANCE, return_matches: bool = False):
    """The RoIs that train the head, for a batch: ``(rois (B, S, 4), labels (B, S), deltas (B, S, 4))``.

    ``sampling.sample_rois`` in the graph: the candidates are ``proposals`` (B, P, 4) where
    ``proposal_valid`` (B, P) and the valid ground-truth boxes (B, G, 4); ``uniform`` (B, P + G)
    picks the samples. Foreground (best IoU >= ``foreground_iou``), at most
    ``round(foreground_fraction * num_samples)``, come first; background (best IoU in
    ``background_iou``) fill up to ``S = num_samples``. Slots without a candidate get label -1
    (the losses leave them out). ``return_matches`` adds a fourth output, each RoI's ground-truth
    slot (B, S) (meaningful for foreground only; Mask R-CNN's mask targets).
    ``background_iou`` defaults to Detectron's (0.0, 0.5): Fast
    R-CNN's 0.1 lower bound leaves a black canvas's empty proposals out of training, and then the
    head never learns to call them background.
    """
    num_samples = check_positive_int("num_samples", num_samples)
    gt_boxes = ops.cast(gt_boxes, "float32")
    valid = ops.cast(valid, "bool")
    candidates = ops.concatenate([ops.cast(proposals, "float32"), gt_boxes], axis=1)
    real = ops.concatenate([ops.cast(proposal_valid, "bool"), valid], axis=1)
    _, best_iou, best_box = _best_match(candidates, gt_boxes, valid)
    foreground = real & (best_iou >= foreground_iou)
    background = real & (best_iou >= background_iou[0]) & (best_iou < background_iou[1])
    most_foreground = int(round(foreground_fraction * num_samples))
    if most_foreground > 0:
        foreground = _choose(foreground, uniform, most_foreground)
    else:
        foreground = foreground & False
    quota = num_samples - ops.sum(ops.cast(foreground, "int32"), axis=1)
    background = _choose(background, uniform, num_samples, quota)
    # Foreground first, then background, then the rest (label -1), each in random order.
    priority = ops.where(foreground, 2.0 + uniform, ops.where(background, 1.0 + uniform, uniform - 1.0))
    size = min(num_samples, candidates.shape[1])
    values, chosen = ops.top_k(priority, size)
    rois = _gather_boxes(candidates, chosen)
    matched = ops.take_along_axis(ops.cast(best_box, "int32"), chosen, axis=1)
    classes = ops.take_along_axis(ops.cast(gt_classes, "int32"), matched, axis=1)
    labels = ops.where(values >= 2.0, classes + 1, ops.where(values >= 1.0, 0, -1))
    deltas = encode_deltas(rois, _gather_boxes(gt_boxes, matched), variance=variance)
    deltas = ops.where((values >= 2.0)[..., None], deltas, 0.0)
    if size < num_samples:  # fewer candidates than samples: pad with unlabelled slots
        padding = num_samples - size
        rois = ops.pad(rois, [[0, 0], [0, padding], [0, 0]])
        labels = ops.pad(labels, [[0, 0], [0, padding]], constant_values=-1)
        deltas = ops.pad(deltas, [[0, 0], [0, padding], [0, 0]])
        matched = ops.pad(matched, [[0, 0], [0, padding]])
    if return_matches:
        return ops.stop_gradient(rois), ops.cast(labels, "int32"), ops.stop_gradient(deltas), matched
    return ops.stop_gradient(rois), ops.cast(labels, "int32"), ops.stop_gradient(deltas)


def detections(rois, roi_valid, class_probabilities, box_deltas, image_shape, *, score_threshold: float = 0.05,
               iou_threshold: float = 0.5, max_detections: int = 100, pre_nms_top_k: int = 300,
               variance=HEAD_VARIANCE):
    """From the head's outputs to each image's detections: ``(boxes, scores, classes, counts)``.

    ``rois`` (B, R, 4) and ``roi_valid`` (B, R); ``class_probabilities`` (B, R, K + 1), column 0
    the background; ``box_deltas`` (B, R, 4 K). Each RoI gives one box per class (its deltas
    decoded with ``variance``, clipped to ``image_shape`` (height, width)) scored by that class's
    probability; the ``pre_nms_top_k`` best of those above ``score_threshold`` go through NMS per
    class at ``iou_threshold`` (Fast R-CNN's test-time rules: 0.05 and 0.3-0.5), and the best
    ``max_detections`` remain: boxes (B, D, 4), scores (B, D) (0 after the real ones), classes
    (B, D) int32 0..K-1 (-1 after), counts (B,) int32.
    """
    height, width = (float(side) for side in image_shape)
    num_classes = class_probabilities.shape[-1] - 1
    regions = rois.shape[1]
    per_class = ops.reshape(box_deltas, (-1, regions, num_classes, 4))
    anchors = ops.broadcast_to(ops.cast(rois, "float32")[:, :, None, :], ops.shape(per_class))
    boxes = decode_deltas(ops.reshape(anchors, (-1, regions * num_classes, 4)),
                          ops.reshape(per_class, (-1, regions * num_classes, 4)), variance=variance)
    limits = ops.convert_to_tensor([width, height, width, height], "float32")
    boxes = ops.clip(boxes, 0.0, limits)
    scores = ops.reshape(class_probabilities[..., 1:], (-1, regions * num_classes))
    usable = ops.repeat(ops.cast(roi_valid, "bool"), num_classes, axis=1) & (scores > score_threshold)
    scores = ops.where(usable, scores, 0.0)
    classes = ops.tile(ops.arange(num_classes, dtype="int32")[None], (1, regions))
    classes = ops.broadcast_to(classes, ops.shape(scores))
    best_scores, best = ops.top_k(scores, min(pre_nms_top_k, regions * num_classes))
    best_boxes = ops.take_along_axis(boxes, best[..., None], axis=1)
    best_classes = ops.take_along_axis(classes, best, axis=1)
    kept, counts = batched_nms(best_boxes, best_scores, iou_threshold, max_detections, score_threshold=0.0,
                               classes=best_classes)
    real = kept >= 0
    safe = ops.where(real, kept, 0)
    out_boxes = ops.where(real[..., None], ops.take_along_axis(best_boxes, safe[..., None], axis=1), 0.0)
    out_scores = ops.where(real, ops.take_along_axis(best_scores, safe, axis=1), 0.0)
    out_classes = ops.where(real, ops.take_along_axis(best_classes, safe, axis=1), -1)
    return out_boxes, out_scores, out_classes, counts


def instance_mask_targets(images, gt_boxes, rois, matched, size: int = 28):
    """Mask R-CNN's mask targets (B, R, size, size) in {0, 1}: each RoI's matched garment, cut to the RoI.

    On the canvases a garment's mask is the non-zero pixels inside its box (squares never
    overlap, the background is 0: ``data.detection.instance_masks``), so the masks come from the
    images and boxes (B, G, 4) in the graph. RoI align (one sample per cell) reads each mask in
    its RoI, thresholded at 0.5 as Mask R-CNN does.
    """
    height, width = images.shape[1], images.shape[2]
    rows = ops.cast(ops.arange(height), "float32")[None, :, None, None] + 0.5
    columns = ops.cast(ops.arange(width), "float32")[None, None, :, None] + 0.5
    boxes = ops.cast(gt_boxes, "float32")[:, None, None, :, :]  # (B, 1, 1, G, 4)
    inside = ((columns >= boxes[..., 0]) & (columns < boxes[..., 2]) & (rows >= boxes[..., 1])
              & (rows < boxes[..., 3]))
    masks = ops.cast(inside & (ops.max(images, axis=-1) > 0)[..., None], "float32")  # (B, H, W, G)
    per_slot = roi_align(masks, rois, (size, size), 1.0, 1)  # (B, R, size, size, G)
    chosen = ops.one_hot(matched, masks.shape[-1])[:, :, None, None, :]
    return ops.stop_gradient(ops.cast(ops.sum(per_slot * chosen, axis=-1) >= 0.5, "float32"))


__all__ = ["HEAD_VARIANCE", "anchor_targets", "detections", "instance_mask_targets", "roi_targets"]
