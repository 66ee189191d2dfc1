"""RoI max pooling (Fast R-CNN) and RoI align (Mask R-CNN) as Keras layers, in ``keras.ops``.

Keras has neither (TensorFlow has ``tf.image.crop_and_resize``, JAX nothing), so both are written
here with ``keras.ops`` only: they run on every backend, gradients flow to the feature map, and
they are registered so that saved models load in safe mode.

Both layers take ``[features, rois]``: a channels-last feature map (B, H, W, C) and, per image,
R regions (B, R, 4) as pixel corners (x1, y1, x2, y2) *in the input image*;
``spatial_scale`` (1 / the feature stride, 1/16 for VGG-16's conv5_3) maps them onto the feature
map. The output is (B, R, out_height, out_width, C): one fixed-size grid per region, what the
fully connected head of Fast R-CNN needs. The RoI coordinates get no gradient (as in both
papers: the regions are inputs to this layer, not something it learns).

Both work by masks and matrix products over the whole map instead of gathering pixels, which
keeps shapes static (compilable on every backend) at the price of memory: RoI pooling holds a
(B, R, out_width, H, W, C) tensor for a moment, RoI align (B, R, out_height, W, C). Fine for
the textbook's maps (16 x 16 at stride 8 on 128-px canvases); a production detector gathers.
"""

from __future__ import annotations

import keras
from keras import ops

from cv_textbook.checks import check_bool, check_int, check_number, check_positive_int


def _output_size(value) -> tuple[int, int]:
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"output_size must be an int or (height, width), such as (7, 7), got {value!r}.")
        return (check_positive_int("output_size height", value[0]),
                check_positive_int("output_size width", value[1]))
    size = check_positive_int("output_size", value, hint="Fast R-CNN uses 7 (a 7 x 7 grid for VGG-16's fc6).")
    return size, size


def _check_inputs(layer_name: str, features_shape, rois_shape):
    if len(features_shape) != 4:
        raise ValueError(
            f"{layer_name} features must be a channels-last feature map (batch, height, width, channels), "
            f"got shape {tuple(features_shape)}."
        )
    if len(rois_shape) != 3 or rois_shape[-1] != 4:
        raise ValueError(
            f"{layer_name} rois must have shape (batch, regions, 4), pixel corners (x1, y1, x2, y2) "
            "per region, "
            f"got shape {tuple(rois_shape)}."
        )


def _round_half_away_from_zero(x):
    """C's ``round`` (what Fast R-CNN's Caffe layer uses); ``ops.round`` rounds halves to even."""
    return ops.sign(x) * ops.floor(ops.abs(x) + 0.5)


def _bin_masks(start, end, bins: int, size):
    """Fast R-CNN's integer bins along one axis: mask (B, R, bins, size) of the cells in each bin.

    ``start`` and ``end`` are the rounded first and last cell (end *inclusive*, the Caffe layer's
    convention), so a region spans ``end - start + 1`` cells, at least 1. Bin ``p`` covers cells
    ``floor(p * step)`` to ``ceil((p + 1) * step)`` (exclusive) from ``start``, ``step`` = span /
    bins, clipped to the map: neighbouring bins may share a cell, and a bin off the map is empty.
    """
    span = ops.maximum(end - start + 1.0, 1.0)
    step = span / bins
    index = ops.cast(ops.arange(bins), "float32")
    first = ops.clip(ops.floor(index * step[..., None]) + start[..., None], 0.0, ops.cast(size, "float32"))
    last = ops.clip(ops.ceil((index + 1.0) * step[..., None]) + start[..., None], 0.0,
                    ops.cast(size, "float32"))
    cells = ops.cast(ops.arange(size), "float32")
    return (cells >= first[..., None]) & (cells < last[..., None])


def roi_max_pool(features, rois, output_size=(7, 7), spatial_scale: float = 1 / 16):
    """The function behind :class:`RoIPooling`: (B, H, W, C), (B, R, 4) -> (B, R, out_h, out_w, C).

    Girshick (2015), Fast R-CNN §2.1, as its Caffe layer computes it: the region's corners are
    scaled and *rounded* to feature cells (the quantisation RoI align removes), split into an
    out_h x out_w grid of integer bins, and each bin keeps its maximum; an empty bin gives 0.
    """
    out_height, out_width = _output_size(output_size)
    height, width = ops.shape(features)[1], ops.shape(features)[2]
    rois = ops.stop_gradient(ops.cast(rois, "float32"))
    cells = _round_half_away_from_zero(rois * spatial_scale)
    x_start, y_start, x_end, y_end = (cells[..., i] for i in range(4))
    rows = _bin_masks(y_start, y_end, out_height, height)  # (B, R, out_h, H)
    columns = _bin_masks(x_start, x_end, out_width, width)  # (B, R, out_w, W)
    lowest = ops.convert_to_tensor(float("-inf"), features.dtype)
    # Maximum over each bin's columns, then over its rows: (B, R, out_w, H, C), then (B, R, out_h, out_w, C).
    over_columns = ops.max(
        ops.where(columns[:, :, :, None, :, None], features[:, None, None], lowest), axis=4
    )
    pooled = ops.max(
        ops.where(rows[:, :, :, None, :, None], over_columns[:, :, None], lowest), axis=4
    )
    empty = ~(ops.any(rows, axis=-1)[:, :, :, None] & ops.any(columns, axis=-1)[:, :, None, :])
    return ops.where(empty[..., None], ops.zeros_like(pooled), pooled)


def _interpolation_weights(coordinates, size):
    """Bilinear weights (..., size) of sample ``coordinates`` (...) on a grid of ``size`` cells.

    Coordinates are in cell-index units (cell ``i``'s centre at ``i``). Mask R-CNN's rules for
    the border (Detectron's and torchvision's ``roi_align``): a sample more than one cell off the
    map reads 0, one less than that off the map reads the border cell.
    """
    size_float = ops.cast(size, "float32")
    outside = (coordinates < -1.0) | (coordinates > size_float)
    clamped = ops.clip(coordinates, 0.0, size_float - 1.0)
    cells = ops.cast(ops.arange(size), "float32")
    weights = ops.maximum(0.0, 1.0 - ops.abs(clamped[..., None] - cells))  # the "hat" of linear interpolation
    return ops.where(outside[..., None], 0.0, weights)


def _axis_weights(start, length, bins: int, sampling_ratio: int, size):
    """(B, R, bins, size): each bin's average of the weights of its ``sampling_ratio`` samples."""
    step = length / bins
    offsets = (ops.cast(ops.arange(sampling_ratio), "float32") + 0.5) / sampling_ratio
    positions = ops.cast(ops.arange(bins), "float32")[:, None] + offsets[None, :]  # (bins, samples), in bins
    coordinates = start[..., None, None] + positions * step[..., None, None]  # (B, R, bins, samples)
    return ops.mean(_interpolation_weights(coordinates, size), axis=3)


def roi_align(features, rois, output_size=(7, 7), spatial_scale: float = 1 / 16, sampling_ratio: int = 2,
              aligned: bool = True):
    """The function behind :class:`RoIAlign`: (B, H, W, C), (B, R, 4) -> (B, R, out_h, out_w, C).

    He et al. (2017), Mask R-CNN §3: no rounding; each of the out_h x out_w bins averages
    ``sampling_ratio`` x ``sampling_ratio`` regularly spaced samples, each read from the map by
    bilinear interpolation. Sample rows and columns are separable, so the whole grid is two
    matrix products: ``weights_y @ features @ weights_x.T`` per region.

    ``aligned=True`` reads the map with its cells' centres at ``(i + 0.5) / spatial_scale`` in
    image pixels, which is right for the package's corners (pixel ``i`` spans [i, i + 1)); this
    is Detectron2's and torchvision's ``aligned=True``. ``aligned=False`` is the original
    Mask R-CNN code (half a cell off, regions at least one cell wide).
    """
    out_height, out_width = _output_size(output_size)
    height, width = ops.shape(features)[1], ops.shape(features)[2]
    rois = ops.stop_gradient(ops.cast(rois, "float32"))
    corners = rois * spatial_scale - (0.5 if aligned else 0.0)
    x_start, y_start, x_end, y_end = (corners[..., i] for i in range(4))
    region_width, region_height = x_end - x_start, y_end - y_start
    if not aligned:
        region_width, region_height = ops.maximum(region_width, 1.0), ops.maximum(region_height, 1.0)
    rows = ops.cast(_axis_weights(y_start, region_height, out_height, sampling_ratio, height), features.dtype)
    columns = ops.cast(_axis_weights(x_start, region_width, out_width, sampling_ratio, width), features.dtype)
    along_rows = ops.einsum("brph,bhwc->brpwc", rows, features)
    return ops.einsum("brpwc,brqw->brpqc", along_rows, columns)


def warp_regions(images, boxes, size=(32, 32), context: int = 0):
    """R-CNN's input (Girshick et al., 2014, §2.1 and appendix A): every region stretched to ``size``.

    ``images`` (B, H, W, C), ``boxes`` (B, R, 4) pixel corners -> float32 (B, R, height, width, C).
    Regions are warped anisotropically (whatever their aspect ratio), each output pixel read by
    bilinear interpolation at its centre: :func:`roi_align` on the image itself (spatial scale 1, one
    sample per bin). ``context``: R-CNN's p, the pixels of the warped output on each side that show
    the image around the box (the paper: 16 of 227); the box is enlarged by ``context / (side - 2 *
    context)`` of its size on each side. Outside the image reads 0 (the canvases' black; R-CNN
    filled with the image mean).
    """
    out_height, out_width = _output_size(size)
    context = check_int("context", context, 0)
    if 2 * context >= min(out_height, out_width):
        raise ValueError(
            f"context must leave the box at least one pixel of the output: below "
            f"{min(out_height, out_width) / 2} for size {(out_height, out_width)}, got {context}."
        )
    if len(ops.shape(images)) != 4:
        raise ValueError(
            f"images must have shape (batch, height, width, channels), got shape {ops.shape(images)}."
        )
    if len(ops.shape(boxes)) != 3 or ops.shape(boxes)[-1] != 4:
        raise ValueError(
            f"boxes must have shape (batch, regions, 4), pixel corners per region, "
            f"got shape {ops.shape(boxes)}."
        )
    boxes = ops.cast(boxes, "float32")
    grow_x = (boxes[..., 2] - boxes[..., 0]) * context / (out_width - 2 * context)
    grow_y = (boxes[..., 3] - boxes[..., 1]) * context / (out_height - 2 * context)
    boxes = ops.stack([boxes[..., 0] - grow_x, boxes[..., 1] - grow_y, boxes[..., 2] + grow_x,
                       boxes[..., 3] + grow_y], axis=-1)
    return roi_align(ops.cast(images, "float32"), boxes, (out_height, out_width), 1.0, 1, aligned=True)


class _RoILayer(keras.layers.Layer):
    """What both RoI layers share: arguments, shape checks, output shape, config."""

    def __init__(self, output_size=(7, 7), spatial_scale: float = 1 / 16, **kwargs):
        super().__init__(**kwargs)
        self.output_size = _output_size(output_size)
        self.spatial_scale = check_number("spatial_scale", spatial_scale)
        if self.spatial_scale <= 0:
            raise ValueError(
                f"spatial_scale must be positive, 1 / the feature map's stride (1/16 for VGG-16), "
                f"got {spatial_scale!r}."
            )

    def build(self, input_shape):
        _check_inputs(type(self).__name__, *self._shapes(input_shape))

    @staticmethod
    def _shapes(input_shape):
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) != 2:
            raise ValueError(f"The RoI layers take [features, rois], got input shape {input_shape!r}.")
        return tuple(input_shape[0]), tuple(input_shape[1])

    def compute_output_shape(self, input_shape):
        features_shape, rois_shape = self._shapes(input_shape)
        return (features_shape[0], rois_shape[1], *self.output_size, features_shape[-1])

    def get_config(self):
        return {**super().get_config(), "output_size": self.output_size, "spatial_scale": self.spatial_scale}


@keras.saving.register_keras_serializable(package="cv_textbook")
class RoIPooling(_RoILayer):
    """Fast R-CNN's RoI max pooling: ``RoIPooling(output_size=(7, 7), spatial_scale=1/16)([features, rois])``.

    features (B, H, W, C), rois (B, R, 4) image-pixel corners -> (B, R, 7, 7, C). See
    :func:`roi_max_pool` for the quantisation (rounded corners, integer bins).
    """

    def call(self, inputs):
        features, rois = inputs
        return roi_max_pool(features, rois, self.output_size, self.spatial_scale)


@keras.saving.register_keras_serializable(package="cv_textbook")
class RoIAlign(_RoILayer):
    """Mask R-CNN's RoI align: ``RoIAlign(output_size=(7, 7), spatial_scale=1/16, sampling_ratio=2)``.

    Called on [features (B, H, W, C), rois (B, R, 4) image-pixel corners] -> (B, R, 7, 7, C).
    ``sampling_ratio``: samples per bin along each axis (Mask R-CNN: 2, i.e. four per bin). The
    papers' "adaptive" choice (``ceil(region size / output size)``, different for every region)
    would give data-dependent shapes, so it must be a fixed positive number here. See
    :func:`roi_align` for ``aligned``.
    """

    def __init__(self, output_size=(7, 7), spatial_scale: float = 1 / 16, sampling_ratio: int = 2,
                 aligned: bool = True, **kwargs):
        super().__init__(output_size, spatial_scale, **kwargs)
        self.sampling_ratio = check_positive_int(
            "sampling_ratio", sampling_ratio, hint="Mask R-CNN samples 2 x 2 points per bin."
        )
        self.aligned = check_bool("aligned", aligned)

    def call(self, inputs):
        features, rois = inputs
        return roi_align(features, rois, self.output_size, self.spatial_scale, self.sampling_ratio,
                         self.aligned)

    def get_config(self):
        return {**super().get_config(), "sampling_ratio": self.sampling_ratio, "aligned": self.aligned}


__all__ = ["RoIAlign", "RoIPooling", "roi_align", "roi_max_pool", "warp_regions"]
