"""Anchor boxes: the reference boxes of the region proposal network (Ren et al., 2015, §3.1).

At every position of a feature map of stride ``stride`` (one feature cell covers ``stride`` x
``stride`` image pixels) the RPN looks at ``A = len(sizes) * len(ratios)`` anchors: boxes of area
``size**2`` and aspect ratio ``ratio = height / width``, centred on the cell's centre in image
pixels, ``((column + 0.5) * stride, (row + 0.5) * stride)``. The paper uses 3 sizes (128, 256 and
512 px on ~600-px images) x 3 ratios (0.5, 1, 2) = 9 anchors at stride 16.

Order of the (H * W * A, 4) rows: position-major in row-major order (row 0 column 0, row 0
column 1, ...), then the A anchors of that position, size-major then ratio (size 0 ratio 0,
size 0 ratio 1, ..., size 1 ratio 0, ...). Reshaped to (H, W, A, 4) the axes are row, column,
anchor: the layout of an RPN head's (H, W, A) score map and (H, W, A * 4) delta map.

Anchors are constants of the architecture, not data: they are computed once in NumPy (float32)
and work as a constant on every backend. Boxes are the package's pixel corners (``boxes.py``).

The 128-px detection canvases hold garments whose *tight* boxes are smaller than their pasted
28-56 px squares (``cv_textbook.data.detection``). Measured on ``make_detection_canvases("train",
2000)`` (4,708 garments): box widths 9-56 px (median 33), heights 6-56 px (median 37), square
root of the area 13-56 px (5th, 25th, 50th, 75th, 95th percentiles 21, 28, 34, 40, 48), height /
width 0.21-3.7 (5th-95th percentile 0.45-2.4: trousers stand at a median 2.3, sandals and bags
lie at 0.5-0.6). So the paper's three ratios fit, and its sizes must shrink. Best-anchor IoU
of those boxes (``anchor_coverage``), ratios (0.5, 1, 2):

=========================  =======  ==========  ==========  =========  ===========
sizes, stride              anchors  median IoU  IoU >= 0.7  IoU >= 0.5  IoU < 0.3
=========================  =======  ==========  ==========  =========  ===========
(128, 256, 512), 16 paper      576       0.068         0 %        0 %       100 %
(32, 48, 64), 16               576       0.611        20 %       80 %       0.6 %
(32, 48, 64), 8               2304       0.706        53 %       92 %       0.4 %
(24, 32, 44), 8 (chosen)      2304       0.731        69 %       99.3 %       0 %
=========================  =======  ==========  ==========  =========  ===========

Stride 16 is too coarse for 21-48 px objects (a box falls between anchor centres 16 px apart);
at stride 8, sizes (24, 32, 44) were the best of a grid search over sizes 16-72 px (steps of 4)
among those that give nearly every garment an anchor of IoU >= 0.5: ``CANVAS_ANCHORS``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from keras import ops

from cv_textbook.checks import check_number, check_positive_int
from cv_textbook.detection.boxes import iou_matrix, validate_boxes

PAPER_SIZES = (128, 256, 512)  # Ren et al. 2015, §3.1.1, on images rescaled to a shorter side of 600 px
PAPER_RATIOS = (0.5, 1.0, 2.0)
PAPER_STRIDE = 16  # VGG-16's conv5_3
# For the 128-px detection canvases; measured above.
CANVAS_ANCHORS = {"stride": 8, "sizes": (24, 32, 44), "ratios": PAPER_RATIOS}


def _check_positive_numbers(name: str, values) -> tuple[float, ...]:
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__") or len(values) == 0:
        raise ValueError(f"{name} must be a non-empty sequence of positive numbers, got {values!r}.")
    numbers = tuple(check_number(f"{name}[{i}]", value) for i, value in enumerate(values))
    if min(numbers) <= 0:
        raise ValueError(f"{name} must hold positive numbers only, got {tuple(values)}.")
    return numbers


def base_anchors(sizes=PAPER_SIZES, ratios=PAPER_RATIOS) -> np.ndarray:
    """The (A, 4) anchors of one position, centred on (0, 0): size-major, then ratio.

    Width ``size / sqrt(ratio)`` and height ``size * sqrt(ratio)``: area ``size**2`` whatever the
    ratio (height / width), as in the paper and Detectron2.
    """
    sizes = np.array(_check_positive_numbers("sizes", sizes), dtype=np.float64)
    ratios = np.array(_check_positive_numbers("ratios", ratios), dtype=np.float64)
    widths = (sizes[:, None] / np.sqrt(ratios)[None, :]).reshape(-1)
    heights = (sizes[:, None] * np.sqrt(ratios)[None, :]).reshape(-1)
    return np.stack([-widths / 2, -heights / 2, widths / 2, heights / 2], axis=1).astype(np.float32)


def anchors(feature_shape, stride, sizes=PAPER_SIZES, ratios=PAPER_RATIOS) -> np.ndarray:
    """Every anchor of a (height, width) feature map: float32 corners (height * width * A, 4).

    ``stride``: image pixels per feature cell (16 for VGG-16's conv5_3). Row order: position
    by position in row-major order, then the ``A = len(sizes) * len(ratios)`` anchors of the
    position, size-major (see the module docstring); reshape to (height, width, A, 4) to index
    by position. Anchors may reach outside the image: ``label_anchors``'s ``image_shape``
    ignores those, as the paper does in training.
    """
    try:
        height, width = (int(side) for side in feature_shape)
    except (TypeError, ValueError):
        raise ValueError(
            f"feature_shape must be (height, width) of the feature map, such as (16, 16), "
            f"got {feature_shape!r}."
        ) from None
    check_positive_int("feature_shape height", height)
    check_positive_int("feature_shape width", width)
    stride = check_number("stride", stride)
    if stride <= 0:
        raise ValueError(f"stride must be a positive number of image pixels per feature cell, got {stride}.")
    base = base_anchors(sizes, ratios).astype(np.float64)
    centre_y, centre_x = np.meshgrid((np.arange(height) + 0.5) * stride, (np.arange(width) + 0.5) * stride,
                                     indexing="ij")
    centres = np.stack([centre_x, centre_y, centre_x, centre_y], axis=-1).reshape(-1, 1, 4)
    return (centres + base[None]).reshape(-1, 4).astype(np.float32)


@dataclasses.dataclass(frozen=True)
class AnchorCoverage:
    """How well a set of anchors fits some boxes: each box's IoU with its best anchor, summarised."""

    best_iou: np.ndarray  # (N,) float32, one per box
    anchor_count: int

    @property
    def median(self) -> float:
        return float(np.median(self.best_iou))

    def fraction_at_least(self, threshold: float) -> float:
        return float(np.mean(self.best_iou >= threshold))

    def summary(self) -> dict:
        """Median best IoU and the fractions of boxes that can be positives (>= 0.7), that have an
        anchor of IoU >= 0.5, and that only the "best anchor" rule saves (< 0.3)."""
        return {
            "anchors": self.anchor_count,
            "median_iou": round(self.median, 3),
            "iou>=0.7": round(self.fraction_at_least(0.7), 3),
            "iou>=0.5": round(self.fraction_at_least(0.5), 3),
            "iou<0.3": round(float(np.mean(self.best_iou < 0.3)), 3),
        }


def anchor_coverage(boxes, image_shape, stride, sizes=PAPER_SIZES, ratios=PAPER_RATIOS) -> AnchorCoverage:
    """The best-anchor IoU of every box for the anchors of an image of ``image_shape`` (height, width).

    ``boxes``: (N, 4) corners, e.g. ``canvases.boxes[canvases.valid]``. The feature map is
    ``ceil(side / stride)`` cells each way. A box whose best IoU is below 0.7 is a positive only
    through the paper's "best anchor of each box" rule; below 0.5 the regression must do most of
    the work. Used to choose ``CANVAS_ANCHORS`` (module docstring).
    """
    boxes = validate_boxes(boxes, "boxes").reshape(-1, 4)
    try:
        image_height, image_width = (int(side) for side in image_shape)
    except (TypeError, ValueError):
        raise ValueError(
            f"image_shape must be (height, width), such as (128, 128), got {image_shape!r}."
        ) from None
    stride = check_number("stride", stride)
    if stride <= 0:
        raise ValueError(f"stride must be a positive number of image pixels per feature cell, got {stride}.")
    feature_shape = (int(np.ceil(image_height / stride)), int(np.ceil(image_width / stride)))
    every_anchor = anchors(feature_shape, stride, sizes, ratios)
    if len(boxes) == 0:
        return AnchorCoverage(np.zeros(0, np.float32), len(every_anchor))
    iou = ops.convert_to_numpy(iou_matrix(boxes, every_anchor))
    return AnchorCoverage(iou.max(axis=1).astype(np.float32), len(every_anchor))


__all__ = [
    "CANVAS_ANCHORS",
    "PAPER_RATIOS",
    "PAPER_SIZES",
    "PAPER_STRIDE",
    "AnchorCoverage",
    "anchor_coverage",
    "anchors",
    "base_anchors",
]
