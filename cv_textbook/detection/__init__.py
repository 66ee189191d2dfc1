"""Object detection: box utilities now, the detection models of the later chapters on top of them.

A leaf like ``cv_textbook.models``: Keras and NumPy only (``keras.ops``, so every backend).
"""

from cv_textbook.detection.boxes import (
    centres_to_corners,
    corners_to_centres,
    decode_deltas,
    encode_deltas,
    iou_matrix,
    validate_boxes,
)

__all__ = [
    "centres_to_corners",
    "corners_to_centres",
    "decode_deltas",
    "encode_deltas",
    "iou_matrix",
    "validate_boxes",
]
