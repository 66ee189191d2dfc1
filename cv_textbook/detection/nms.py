"""Greedy non-maximum suppression in ``keras.ops``: one graph for every backend.

Keras has no NMS (TensorFlow's ``tf.image.non_max_suppression`` exists, JAX has none), and the
RPN needs one inside the model, after the proposal deltas are decoded, so this is written in
``keras.ops`` with static shapes: it runs eagerly, in a ``tf.function`` and under ``jax.jit``.

Greedy NMS takes boxes from the highest score down and keeps a box unless its IoU with a box
kept before it is above ``iou_threshold``. Instead of a loop over boxes, box ``i`` is kept iff no
*kept* box ``j`` that precedes it overlaps it: ``keep = candidates & ~(keep @ S)`` with ``S[j, i]``
= "j precedes i and IoU(j, i) > iou_threshold". That equation has exactly one solution (box ``i``
depends only on the boxes before it), reached by repeating the product from ``keep =
candidates`` until nothing changes: after ``t`` rounds the first ``t`` boxes in score order are
final, and in practice a few rounds suffice (the length of the longest chain of suppressions).
Each round is one (N, N) matrix-vector product, so memory is O(N**2): the papers first keep the
best few thousand boxes by score (``keras.ops.top_k``) and suppress only those.

Ties in score go to the lower index, as in TensorFlow's kernel; boxes whose IoU is *exactly*
``iou_threshold`` are not suppressed, and a box needs a score above ``score_threshold`` to be a
candidate (TensorFlow's rules, which the tests check against ``tf.image.non_max_suppression``).
IoU is ``boxes.iou_matrix`` (Keras's ``compute_iou``), boxes are pixel corners (x1, y1, x2, y2).
"""

from __future__ import annotations

import numpy as np
from keras import ops

from cv_textbook.checks import check_number, check_positive_int
from cv_textbook.detection.boxes import iou_matrix, validate_boxes


def _check_arguments(boxes, scores, classes, iou_threshold, max_outputs, score_threshold, batched: bool):
    rank = 3 if batched else 2
    layout = "(batch, boxes, 4)" if batched else "(boxes, 4)"
    if isinstance(boxes, (np.ndarray, list, tuple)):  # concrete values: check them (tensors may be symbolic)
        validate_boxes(boxes, "boxes")
    boxes = ops.convert_to_tensor(boxes, "float32")
    scores = ops.convert_to_tensor(scores, "float32")
    if len(boxes.shape) != rank or boxes.shape[-1] != 4:
        raise ValueError(
            f"boxes must have shape {layout}, corners (x1, y1, x2, y2), got shape {tuple(boxes.shape)}."
        )
    if tuple(scores.shape) != tuple(boxes.shape[:-1]):
        raise ValueError(
            f"scores must have one score per box, shape {tuple(boxes.shape[:-1])}, "
            f"got shape {tuple(scores.shape)}."
        )
    if classes is not None:
        classes = ops.convert_to_tensor(classes, "int32")
        if tuple(classes.shape) != tuple(boxes.shape[:-1]):
            raise ValueError(
                f"classes must have one class per box, shape {tuple(boxes.shape[:-1])}, "
                f"got shape {tuple(classes.shape)}."
            )
    iou_threshold = check_number("iou_threshold", iou_threshold, 0.0)
    if iou_threshold > 1:
        raise ValueError(f"iou_threshold must be an IoU between 0 and 1, got {iou_threshold}.")
    max_outputs = check_positive_int("max_outputs", max_outputs)
    score_threshold = check_number("score_threshold", score_threshold)
    if boxes.shape[-2] is None:
        raise ValueError(
            "boxes must have a known number of boxes (a static shape): NMS builds an (N, N) matrix."
        )
    return boxes, scores, classes, iou_threshold, max_outputs, score_threshold


def _suppress(boxes, scores, classes, iou_threshold, max_outputs, score_threshold):
    """Batched core: (B, N, 4), (B, N), (B, N) or None -> indices (B, max_outputs) padded with -1,
    counts (B,)."""
    count = boxes.shape[-2]
    batch = ops.shape(boxes)[0]
    if count == 0:
        return ops.full((batch, max_outputs), -1, "int32"), ops.zeros((batch,), "int32")
    candidates = scores > score_threshold
    position = ops.arange(count)
    # precedes[b, j, i]: box j comes before box i in score order (ties: the lower index first).
    precedes = (scores[:, :, None] > scores[:, None, :]) | (
        (scores[:, :, None] == scores[:, None, :]) & (position[:, None] < position[None, :])[None]
    )
    suppresses = precedes & (iou_matrix(boxes, boxes) > iou_threshold) & candidates[:, :, None]
    if classes is not None:  # per-class NMS: boxes of different classes never suppress each other
        suppresses = suppresses & (classes[:, :, None] == classes[:, None, :])
    suppresses = ops.cast(suppresses, "float32")

    def round_(keep, changed):
        suppressed = ops.squeeze(ops.matmul(ops.cast(keep, "float32")[:, None, :], suppresses), axis=1) > 0
        new_keep = candidates & ~suppressed
        return new_keep, ops.any(new_keep != keep)

    keep, _ = ops.while_loop(lambda keep, changed: changed, round_, (candidates, ops.convert_to_tensor(True)))
    # The kept boxes in score order: rank = how many boxes precede a box (all ranks differ).
    rank = ops.sum(ops.cast(precedes, "int32"), axis=1)
    priority = ops.where(keep, ops.cast(count - rank, "float32"), 0.0)
    values, order = ops.top_k(priority, min(max_outputs, count))
    valid = values > 0
    indices = ops.where(valid, ops.cast(order, "int32"), -1)
    if max_outputs > count:
        indices = ops.pad(indices, [[0, 0], [0, max_outputs - count]], constant_values=-1)
    return indices, ops.sum(ops.cast(valid, "int32"), axis=1)


def nms(boxes, scores, iou_threshold: float = 0.5, max_outputs: int = 100, score_threshold: float = -np.inf,
        classes=None):
    """Greedy NMS of one image's boxes (N, 4) and scores (N,) -> (indices, count).

    ``indices``: int32 (max_outputs,), the kept boxes' indices from the highest score down,
    padded with -1; ``count``: how many are real, so ``indices[:count]`` equals
    ``tf.image.non_max_suppression(boxes, scores, max_outputs, iou_threshold, score_threshold)``
    (TensorFlow takes (y1, x1, y2, x2), but IoU does not care which axis comes first). Fixed
    shapes, so it works inside compiled functions. ``classes`` (N,) ints makes it per-class NMS:
    a box is only suppressed by boxes of its own class, and the kept boxes of all classes come
    out together, best score first. See the module docstring for the algorithm and tie rules.
    """
    boxes, scores, classes, iou_threshold, max_outputs, score_threshold = _check_arguments(
        boxes, scores, classes, iou_threshold, max_outputs, score_threshold, batched=False
    )
    indices, counts = _suppress(
        boxes[None], scores[None], None if classes is None else classes[None],
        iou_threshold, max_outputs, score_threshold,
    )
    return indices[0], counts[0]


def batched_nms(boxes, scores, iou_threshold: float = 0.5, max_outputs: int = 100,
                score_threshold: float = -np.inf, classes=None):
    """:func:`nms` for every image of a batch at once: boxes (B, N, 4), scores (B, N), classes (B, N)
    or None -> indices (B, max_outputs) padded with -1, counts (B,)."""
    boxes, scores, classes, iou_threshold, max_outputs, score_threshold = _check_arguments(
        boxes, scores, classes, iou_threshold, max_outputs, score_threshold, batched=True
    )
    return _suppress(boxes, scores, classes, iou_threshold, max_outputs, score_threshold)


__all__ = ["batched_nms", "nms"]
