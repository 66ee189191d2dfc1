"""Object detection: boxes, anchors, NMS, RoI pooling and align, and Faster R-CNN's training targets.

A leaf like ``cv_textbook.models``: Keras and NumPy only (``keras.ops``, so every backend).
``boxes``: IoU, formats, deltas; ``anchors``: the RPN's anchors and how well they fit a data
set; ``nms``: greedy non-maximum suppression; ``roi``: the ``RoIPooling`` and ``RoIAlign``
layers; ``sampling``: RPN and RoI labels, samples and regression targets; ``rpn``: the RPN's
proposals (decode, clip, NMS); ``losses``: smooth L1, the RPN's, Fast R-CNN's and Mask R-CNN's
losses; ``targets``: the same targets as ``sampling`` for a batch inside a model (keras.ops, static
shapes), the masks' targets and the final detections. Selective search (``cv_textbook.detection.proposals``), the one
module written with OpenCV, is not re-exported here: import it from its module.
Detection metrics (mAP) live in ``cv_textbook.metrics``.
"""

from cv_textbook.detection.anchors import (
    CANVAS_ANCHORS,
    PAPER_RATIOS,
    PAPER_SIZES,
    PAPER_STRIDE,
    AnchorCoverage,
    anchor_coverage,
    anchors,
    base_anchors,
)
from cv_textbook.detection.boxes import (
    centres_to_corners,
    corners_to_centres,
    decode_deltas,
    encode_deltas,
    iou_matrix,
    validate_boxes,
)
from cv_textbook.detection.losses import fast_rcnn_losses, mask_loss, rpn_losses, smooth_l1
from cv_textbook.detection.nms import batched_nms, nms
from cv_textbook.detection.roi import RoIAlign, RoIPooling, roi_align, roi_max_pool, warp_regions
from cv_textbook.detection.rpn import rpn_proposals
from cv_textbook.detection.sampling import label_anchors, rpn_targets, sample_anchors, sample_rois
from cv_textbook.detection.targets import anchor_targets, detections, instance_mask_targets, roi_targets

__all__ = [
    "CANVAS_ANCHORS",
    "PAPER_RATIOS",
    "PAPER_SIZES",
    "PAPER_STRIDE",
    "AnchorCoverage",
    "RoIAlign",
    "RoIPooling",
    "anchor_coverage",
    "anchor_targets",
    "anchors",
    "base_anchors",
    "batched_nms",
    "centres_to_corners",
    "corners_to_centres",
    "decode_deltas",
    "detections",
    "encode_deltas",
    "fast_rcnn_losses",
    "instance_mask_targets",
    "iou_matrix",
    "label_anchors",
    "mask_loss",
    "nms",
    "roi_align",
    "roi_max_pool",
    "roi_targets",
    "rpn_losses",
    "rpn_proposals",
    "rpn_targets",
    "sample_anchors",
    "sample_rois",
    "smooth_l1",
    "validate_boxes",
    "warp_regions",
]
