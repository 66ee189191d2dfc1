"""Bounding-box utilities for the detection chapters: IoU, corner/centre formats, box deltas.

Convention, everywhere in the package: a box is ``(x1, y1, x2, y2)`` in pixels ("corners",
Keras's ``"xyxy"``), with ``x2 - x1`` its width and ``y2 - y1`` its height. A box around pixel
columns 3..7 therefore has ``x1 = 3`` and ``x2 = 8`` (one past the last column), so that areas
and IoUs need no "+ 1". ``cv_textbook.data.detection`` labels its canvases this way.

Most of the work is done by ``keras.utils.bounding_boxes`` (Keras 3); the functions here fix its
format arguments to the package's convention and add what it lacks, each saying which. They use
``keras.ops`` only, so they run on every backend (TensorFlow, JAX, PyTorch) and return that
backend's tensors (``keras.ops.convert_to_numpy`` for NumPy). Inside a ``tf.data`` pipeline
they need the TensorFlow backend: Keras's IoU and delta functions use the active backend's ops.
Only :func:`validate_boxes` needs concrete values: call it on data, not inside a traced function.
"""

from __future__ import annotations

import numpy as np
from keras import ops
from keras.utils import bounding_boxes

CORNERS = "xyxy"  # Keras's name for (x1, y1, x2, y2)
CENTRES = "center_xywh"  # Keras's name for (centre x, centre y, width, height)


def _array(boxes):
    """Lists become float32 arrays (Keras's box code needs ``.shape``); tensors pass as they are."""
    return np.asarray(boxes, dtype=np.float32) if isinstance(boxes, (list, tuple)) else boxes


def validate_boxes(boxes, name: str = "boxes") -> np.ndarray:
    """``boxes`` as a float32 NumPy array (..., 4) of corners, or a ValueError naming ``name``.

    Keras has no such check: it accepts boxes with x2 < x1 and returns negative areas and
    meaningless IoUs. Rejected: a last axis other than 4, values that are not finite, and boxes
    with ``x2 < x1`` or ``y2 < y1`` (often a ``(y1, x1, y2, x2)`` box given as corners).
    Empty boxes (``x1 == x2``) are allowed: a box may be padding.
    """
    try:
        array = np.asarray(ops.convert_to_numpy(boxes), dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"{name} must be an array of boxes with shape (..., 4), got {boxes!r} ({error})."
        ) from None
    if array.ndim == 0 or array.shape[-1] != 4:
        raise ValueError(
            f"{name} must have shape (..., 4), one (x1, y1, x2, y2) box per row, got shape {array.shape}."
        )
    if not np.isfinite(array).all():
        bad = int((~np.isfinite(array)).sum())
        raise ValueError(f"{name} must hold finite coordinates; it has {bad} NaN or infinite value(s).")
    reversed_boxes = (array[..., 2] < array[..., 0]) | (array[..., 3] < array[..., 1])
    if reversed_boxes.any():
        first = tuple(int(i) for i in np.argwhere(reversed_boxes)[0])
        raise ValueError(
            f"{name} must be corners (x1, y1, x2, y2) with x1 <= x2 and y1 <= y2; "
            f"{int(reversed_boxes.sum())} box(es) have x2 < x1 or y2 < y1, the first at index {first}: "
            f"{array[first].tolist()}. Boxes in (y1, x1, y2, x2) order convert with "
            "keras.utils.bounding_boxes.convert_format(boxes, source='yxyx', target='xyxy')."
        )
    return array


def iou_matrix(boxes_a, boxes_b):
    """Intersection over union of every pair: corners (N, 4) and (M, 4) -> (N, M).

    Batched inputs (B, N, 4) and (B, M, 4) give (B, N, M). Keras's ``compute_iou`` does the work
    (it adds 1e-7 to the union, so two empty boxes give 0, not NaN); this
    only fixes its format to corners.
    """
    return bounding_boxes.compute_iou(_array(boxes_a), _array(boxes_b), CORNERS)


def corners_to_centres(boxes):
    """(x1, y1, x2, y2) -> (centre x, centre y, width, height), any leading axes."""
    return bounding_boxes.convert_format(_array(boxes), source=CORNERS, target=CENTRES)


def centres_to_corners(boxes):
    """(centre x, centre y, width, height) -> (x1, y1, x2, y2), any leading axes."""
    return bounding_boxes.convert_format(_array(boxes), source=CENTRES, target=CORNERS)


def encode_deltas(anchors, boxes, variance=None):
    """The regression targets that move ``anchors`` onto ``boxes`` (both corners, (..., 4)).

    The Faster R-CNN parameterisation (Ren et al., 2015, eq. 2), in the order (tx, ty, tw, th):
    ``tx = (x - xa) / wa``, ``ty = (y - ya) / ha``, ``tw = log(w / wa)``, ``th = log(h / ha)``,
    with (x, y) the box centre, (w, h) its size and the ``a`` values the anchor's. ``variance``
    (four numbers, e.g. (0.1, 0.1, 0.2, 0.2)) divides the deltas, so that targets of about unit
    size come out for small shifts (SSD's convention; Detectron's "weights" are its inverse).

    This is exactly Keras's ``encode_box_to_deltas`` with ``encoding_format="center_xywh"``
    (its default ``"center_yxhw"`` gives (ty, tx, th, tw)); Keras clamps widths and heights to
    at least 1e-7, so a degenerate box gives a large negative ``tw`` instead of -inf.
    """
    return bounding_boxes.encode_box_to_deltas(
        _array(anchors),
        _array(boxes),
        anchor_format=CORNERS,
        box_format=CORNERS,
        encoding_format=CENTRES,
        variance=variance,
    )


def decode_deltas(anchors, deltas, variance=None):
    """Inverse of :func:`encode_deltas`: apply (tx, ty, tw, th) ``deltas`` to ``anchors`` -> corners.

    ``x = xa + tx * wa``, ``y = ya + ty * ha``, ``w = wa * exp(tw)``, ``h = ha * exp(th)``
    (Keras's ``decode_deltas_to_boxes`` with ``encoded_format="center_xywh"``); ``variance``
    must be the one the deltas were encoded with.
    """
    return bounding_boxes.decode_deltas_to_boxes(
        _array(anchors),
        _array(deltas),
        anchor_format=CORNERS,
        box_format=CORNERS,
        encoded_format=CENTRES,
        variance=variance,
    )


__all__ = [
    "centres_to_corners",
    "corners_to_centres",
    "decode_deltas",
    "encode_deltas",
    "iou_matrix",
    "validate_boxes",
]
