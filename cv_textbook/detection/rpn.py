"""From the region proposal network's outputs to proposals: decode, clip, drop tiny boxes, top-k, NMS.

Faster R-CNN's "proposal layer" (Ren et al., 2015, §3.1 and §3.3; py-faster-rcnn's
``proposal_layer.py``): for each image, every anchor's deltas move it onto a box
(:func:`boxes.decode_deltas`), boxes are clipped to the image, boxes narrower or shorter than
``min_size`` pixels are dropped, the ``pre_nms_top_k`` best by objectness go through NMS at IoU
0.7 (the paper's threshold, which leaves about 2,000 proposals per image), and the
``post_nms_top_k`` best survivors are the proposals. The paper trains the detector on 2,000 and
tests with 300.

Keras has no such layer, so it is written here in ``keras.ops`` with static shapes: it runs
inside a model or a compiled step on every backend. The output is padded to ``post_nms_top_k``
per image; ``counts`` says how many are real.
"""

from __future__ import annotations

import math

import numpy as np
from keras import ops

from cv_textbook.checks import check_number, check_positive_int
from cv_textbook.detection.boxes import decode_deltas, validate_boxes
from cv_textbook.detection.nms import batched_nms

# Detectron's bound on the predicted log-scale (dw, dh): a box at most 1000/16 times its anchor. An
# untrained RPN predicts anything, and exp() of a large delta would give infinite boxes and NaN IoUs.
MAX_LOG_SCALE = math.log(1000.0 / 16)


def _image_size(image_shape) -> tuple[float, float]:
    try:
        height, width = (float(side) for side in image_shape)
    except (TypeError, ValueError):
        raise ValueError(
            f"image_shape must be (height, width) in pixels, such as (128, 128), got {image_shape!r}."
        ) from None
    if height <= 0 or width <= 0:
        raise ValueError(f"image_shape must be positive (height, width), got {tuple(image_shape)}.")
    return height, width


def rpn_proposals(anchors, objectness, deltas, image_shape, pre_nms_top_k: int = 2000,
                  post_nms_top_k: int = 300, iou_threshold: float = 0.7, min_size: float = 0.0,
                  variance=None):
    """The proposals of a batch of images: ``(proposals, scores, counts)``.

    ``anchors`` (A, 4): pixel corners (``anchors.anchors``), the same for every image. ``objectness``
    (B, A): the RPN's score of each anchor (logit or probability: only the order matters). ``deltas``
    (B, A, 4): its (tx, ty, tw, th) per anchor, as ``boxes.encode_deltas`` makes them (with the same
    ``variance``). ``image_shape`` (height, width): boxes are clipped to it.

    Returns ``proposals`` (B, post_nms_top_k, 4) float32 corners, best objectness first, zeros after the
    real ones; ``scores`` (B, post_nms_top_k) their objectness, -inf after the real ones; ``counts`` (B,)
    int32. A box is dropped if its width or height is below ``min_size`` px (py-faster-rcnn: 16 px at
    the network's scale); NMS suppresses IoU above ``iou_threshold`` (:func:`nms.batched_nms`).
    """
    if isinstance(anchors, (np.ndarray, list, tuple)):
        anchors = validate_boxes(anchors, "anchors")
    anchors = ops.convert_to_tensor(anchors, "float32")
    objectness = ops.convert_to_tensor(objectness, "float32")
    deltas = ops.convert_to_tensor(deltas, "float32")
    if len(anchors.shape) != 2 or anchors.shape[-1] != 4:
        raise ValueError(f"anchors must have shape (anchors, 4), got shape {tuple(anchors.shape)}.")
    count = anchors.shape[0]
    if len(objectness.shape) != 2 or objectness.shape[1] != count:
        raise ValueError(
            f"objectness must have shape (batch, {count}), one score per anchor, "
            f"got shape {tuple(objectness.shape)}."
        )
    if len(deltas.shape) != 3 or tuple(deltas.shape[1:]) != (count, 4):
        raise ValueError(
            f"deltas must have shape (batch, {count}, 4), (tx, ty, tw, th) per anchor, "
            f"got shape {tuple(deltas.shape)}."
        )
    height, width = _image_size(image_shape)
    pre_nms_top_k = check_positive_int("pre_nms_top_k", pre_nms_top_k, hint="py-faster-rcnn tests with 6000.")
    post_nms_top_k = check_positive_int("post_nms_top_k", post_nms_top_k, hint="The paper tests with 300.")
    min_size = check_number("min_size", min_size, 0.0)

    limit = MAX_LOG_SCALE if variance is None else MAX_LOG_SCALE / np.asarray(variance, np.float32)[2:]
    deltas = ops.concatenate([deltas[..., :2], ops.minimum(deltas[..., 2:], limit)], axis=-1)
    boxes = decode_deltas(anchors, deltas, variance)
    boxes = ops.stack([ops.clip(boxes[..., 0], 0.0, width), ops.clip(boxes[..., 1], 0.0, height),
                       ops.clip(boxes[..., 2], 0.0, width), ops.clip(boxes[..., 3], 0.0, height)], axis=-1)
    widths, heights = boxes[..., 2] - boxes[..., 0], boxes[..., 3] - boxes[..., 1]
    large_enough = (widths >= min_size) & (heights >= min_size)
    lowest = float("-inf")
    objectness = ops.where(large_enough, objectness, lowest)

    best_scores, best = ops.top_k(objectness, min(pre_nms_top_k, count))
    best_boxes = ops.take_along_axis(boxes, best[..., None], axis=1)
    kept, counts = batched_nms(best_boxes, best_scores, iou_threshold, post_nms_top_k, score_threshold=lowest)
    real = kept >= 0
    safe = ops.where(real, kept, 0)
    proposals = ops.where(real[..., None], ops.take_along_axis(best_boxes, safe[..., None], axis=1), 0.0)
    scores = ops.where(real, ops.take_along_axis(best_scores, safe, axis=1), lowest)
    return proposals, scores, counts


__all__ = ["MAX_LOG_SCALE", "rpn_proposals"]
