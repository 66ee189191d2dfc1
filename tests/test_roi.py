"""RoI max pooling and RoI align (d2l's hand-checked example, tf.image.crop_and_resize, gradients, saving,
JAX) and R-CNN's region warping."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from cv_textbook.detection import RoIAlign, RoIPooling, warp_regions

REPOSITORY = Path(__file__).resolve().parent.parent

# d2l.ai §14.8 (Region-based CNNs), REFERENCE.md: a 4 x 4 map holding 0..15 (one channel), two RoIs in
# image pixels at spatial scale 0.1, a 2 x 2 output.
FEATURES = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
ROIS = np.array([[[0, 0, 20, 20], [0, 10, 30, 30]]], "float32")


def numpy(x):
    return keras.ops.convert_to_numpy(x)


def test_roi_pooling_gives_d2l_hand_checked_maxima():
    pooled = numpy(RoIPooling(output_size=2, spatial_scale=0.1)([FEATURES, ROIS]))
    assert pooled.shape == (1, 2, 2, 2, 1)
    np.testing.assert_array_equal(pooled[0, 0, ..., 0], [[5, 6], [9, 10]])
    np.testing.assert_array_equal(pooled[0, 1, ..., 0], [[9, 11], [13, 15]])


def test_roi_align_reads_a_linear_map_at_the_bin_centres():
    # The map is 4 * row + column, and bilinear interpolation is exact on it. RoI (10,10)-(30,30) at scale 0.1
    # covers feature coordinates 1..3; its 2 x 2 bins are centred at 1.5 and 2.5, i.e. cells 1 and 2 (a cell's
    # centre sits at index + 0.5): values 4*1+1 = 5, 6, 9, 10. Every sample lies inside the map, so any
    # sampling ratio agrees.
    roi = np.array([[[10, 10, 30, 30]]], "float32")
    for sampling_ratio in (1, 2, 3):
        aligned = numpy(RoIAlign(2, 0.1, sampling_ratio)([FEATURES, roi]))
        np.testing.assert_allclose(aligned[0, 0, ..., 0], [[5, 6], [9, 10]], atol=1e-5)


def test_roi_align_reads_zero_more_than_a_cell_off_the_map_and_the_border_cell_nearer():
    # A map of ones, scale 1, one bin with 2 x 2 samples. RoI x from -3 to 1 gives samples at x = -2.5 and
    # -0.5 (index coordinates: image x - 0.5): the first is more than one cell off the map and reads 0, the
    # second reads the border cell, 1 (Mask R-CNN's rules). Rows 1..3 are inside. Mean of 0, 1, 0, 1 = 0.5.
    ones = np.ones((1, 4, 4, 1), "float32")
    aligned = numpy(RoIAlign(1, 1.0, 2)([ones, np.array([[[-3, 1, 1, 3]]], "float32")]))
    np.testing.assert_allclose(aligned[0, 0, 0, 0, 0], 0.5, atol=1e-6)


def crop_and_resize_reference(features, rois, output_size, spatial_scale, sampling_ratio, aligned):
    """RoI align by tf.image.crop_and_resize, then an average over each bin's samples.

    crop_and_resize samples crop_size points from y1 to y2 inclusive, in coordinates normalised so that 0 is
    the first cell's centre and 1 the last's (y * (height - 1) in cells). RoI align's samples are the points
    (k + 0.5) * step from the region's start, step = region height / (bins * sampling_ratio): so y1 and y2 are
    the first and last sample, divided by height - 1.
    """
    batch, height, width, _ = features.shape
    out_height, out_width = output_size
    offset = 0.5 if aligned else 0.0
    boxes, images = [], []
    for image in range(batch):
        for x1, y1, x2, y2 in rois[image] * spatial_scale - offset:
            step_y = (y2 - y1) / (out_height * sampling_ratio)
            step_x = (x2 - x1) / (out_width * sampling_ratio)
            last_y, last_x = out_height * sampling_ratio - 0.5, out_width * sampling_ratio - 0.5
            boxes.append([(y1 + 0.5 * step_y) / (height - 1), (x1 + 0.5 * step_x) / (width - 1),
                          (y1 + last_y * step_y) / (height - 1), (x1 + last_x * step_x) / (width - 1)])
            images.append(image)
    crop_size = (out_height * sampling_ratio, out_width * sampling_ratio)
    crops = tf.image.crop_and_resize(features, np.array(boxes, "float32"), images, crop_size).numpy()
    channels = features.shape[-1]
    crops = crops.reshape(-1, out_height, sampling_ratio, out_width, sampling_ratio, channels)
    crops = crops.mean(axis=(2, 4))
    return crops.reshape(batch, -1, out_height, out_width, channels)


@pytest.mark.parametrize("aligned", [True, False])
@pytest.mark.parametrize("output_size, sampling_ratio", [((2, 2), 2), ((3, 4), 1), ((7, 7), 2), ((2, 3), 3)])
def test_roi_align_equals_crop_and_resize_averaged_per_bin(output_size, sampling_ratio, aligned):
    rng = np.random.default_rng(sampling_ratio + 10 * output_size[1])
    height, width, scale = 9, 11, 0.25
    features = rng.normal(size=(2, height, width, 3)).astype("float32")
    # Regions whose samples stay within the cells' centres (crop_and_resize extrapolates outside them), and at
    # least one cell tall (aligned=False makes shorter regions one cell tall), in feature coordinates.
    offset = 0.5 if aligned else 0.0
    start = rng.uniform(offset, 3, (2, 5, 2))
    end = np.minimum(start + rng.uniform(1, 6, (2, 5, 2)), [width - 1 + offset, height - 1 + offset])
    rois = (np.concatenate([start, end], axis=-1) / scale).astype("float32")
    aligned_output = numpy(RoIAlign(output_size, scale, sampling_ratio, aligned=aligned)([features, rois]))
    expected = crop_and_resize_reference(features, rois, output_size, scale, sampling_ratio, aligned)
    np.testing.assert_allclose(aligned_output, expected, atol=2e-5)


def test_gradients_flow_to_the_feature_map():
    features = tf.constant(FEATURES)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(features)
        pooled = RoIPooling(2, 0.1)([features, ROIS[:, :1]])
        aligned = RoIAlign(2, 0.1, 2)([features, np.array([[[10, 10, 30, 30], [5, 5, 25, 35]]], "float32")])
        pooled_sum, aligned_sum = tf.reduce_sum(pooled), tf.reduce_sum(aligned)
    # Max pooling passes each bin's gradient to its maximum: cells 5, 6, 9 and 10 (the first RoI's maxima).
    expected = np.zeros(16, "float32")
    expected[[5, 6, 9, 10]] = 1
    np.testing.assert_array_equal(tape.gradient(pooled_sum, features).numpy().ravel(), expected)
    # Each output of RoI align is an average of bilinear weights that sum to 1 (samples inside the map): the
    # gradient of the sum of 2 regions x 4 bins totals 8.
    gradient = tape.gradient(aligned_sum, features).numpy()
    assert gradient.sum() == pytest.approx(8.0, abs=1e-4) and (gradient >= 0).all()


def test_layers_build_in_a_functional_model_save_and_load_in_safe_mode(tmp_path):
    features = keras.Input((8, 8, 3))
    rois = keras.Input((5, 4))
    outputs = [RoIPooling((2, 3), 0.5, name="roi_pool")([features, rois]),
               RoIAlign(3, 0.5, sampling_ratio=1, aligned=False, name="roi_align")([features, rois])]
    model = keras.Model([features, rois], outputs)
    assert tuple(outputs[0].shape) == (None, 5, 2, 3, 3) and tuple(outputs[1].shape) == (None, 5, 3, 3, 3)
    rng = np.random.default_rng(0)
    corners = np.sort(rng.uniform(0, 16, (2, 5, 2, 2)), axis=2)  # (x1, x2) and (y1, y2), sorted
    data = [rng.normal(size=(2, 8, 8, 3)).astype("float32"),
            corners.transpose(0, 1, 3, 2).reshape(2, 5, 4).astype("float32")]
    path = tmp_path / "roi.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert loaded.get_layer("roi_align").get_config()["sampling_ratio"] == 1
    assert loaded.get_layer("roi_align").get_config()["aligned"] is False
    for original, reloaded in zip(model.predict(data, verbose=0), loaded.predict(data, verbose=0)):
        np.testing.assert_allclose(reloaded, original, atol=1e-6)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: RoIPooling(output_size=0), r"output_size must be an integer of at least 1"),
        (lambda: RoIPooling(output_size=(7, 7, 7)), r"output_size must be an int or \(height, width\)"),
        (lambda: RoIAlign(spatial_scale=0), r"spatial_scale must be positive"),
        (lambda: RoIAlign(sampling_ratio=0), r"sampling_ratio must be an integer of at least 1"),
        (lambda: RoIAlign(aligned="yes"), r"aligned must be True or False"),
    ],
)
def test_bad_arguments_raise_errors_that_name_them(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_bad_input_shapes_raise_errors_that_name_them():
    with pytest.raises(ValueError, match=r"RoIAlign features must be a channels-last feature map"):
        RoIAlign(2)([np.zeros((4, 4, 1), "float32"), ROIS])
    with pytest.raises(ValueError, match=r"RoIPooling rois must have shape \(batch, regions, 4\)"):
        RoIPooling(2)([FEATURES, ROIS[0]])


# A 64 x 64 image whose pixel (row r, column c) holds 100 * r + c: bilinear interpolation is exact on it, and
# a point (x, y) in image pixels (pixel c spans [c, c + 1), centre c + 0.5) reads 100 * (y - 0.5) + (x - 0.5).
RAMP = (100 * np.arange(64)[:, None] + np.arange(64)[None, :]).astype("float32")[None, :, :, None]


def test_warp_regions_stretches_each_box_to_the_output_size():
    # Box (8, 16)-(48, 24), 40 x 8 px, to 4 x 4: column centres at x = 8 + (j + 0.5) * 10 = 13, 23, 33, 43,
    # row centres at y = 16 + (i + 0.5) * 2 = 17, 19, 21, 23 (R-CNN's anisotropic warp).
    warped = numpy(warp_regions(RAMP, np.array([[[8, 16, 48, 24]]], "float32"), size=4))
    assert warped.shape == (1, 1, 4, 4, 1) and warped.dtype == np.float32
    x, y = np.array([13, 23, 33, 43]) - 0.5, np.array([17, 19, 21, 23]) - 0.5
    np.testing.assert_allclose(warped[0, 0, :, :, 0], 100 * y[:, None] + x[None, :], atol=1e-3)


def test_warp_regions_context_shows_the_image_around_the_box():
    # Box (10, 10)-(30, 30) to 8 x 8 with context 2: the inner 4 x 4 pixels show the box (5 image pixels per
    # output pixel), so 2 output pixels = 10 image pixels on each side: the box (0, 0)-(40, 40) without
    # context.
    box = np.array([[[10, 10, 30, 30]]], "float32")
    with_context = numpy(warp_regions(RAMP, box, size=8, context=2))[0, 0, :, :, 0]
    centres = (np.arange(8) + 0.5) * 5 - 0.5  # 2, 7, ..., 37
    np.testing.assert_allclose(with_context, 100 * centres[:, None] + centres[None, :], atol=1e-3)
    without_context = numpy(warp_regions(RAMP, box, size=4))[0, 0, :, :, 0]
    np.testing.assert_allclose(with_context[2:6, 2:6], without_context, atol=1e-3)


def test_warp_regions_takes_uint8_canvases_and_many_regions():
    images = np.zeros((2, 32, 32, 1), np.uint8)
    images[0, 4:12, 4:20] = 255
    boxes = np.array([[[4, 4, 20, 12], [20, 20, 30, 30]], [[0, 0, 32, 32], [4, 4, 20, 12]]], "float32")
    warped = numpy(warp_regions(images, boxes, size=(6, 5)))
    assert warped.shape == (2, 2, 6, 5, 1)
    # The white rectangle's own box is white throughout; the other boxes show black.
    np.testing.assert_allclose(warped[0, 0], 255, atol=1e-3)
    np.testing.assert_array_equal(warped[0, 1], 0)
    np.testing.assert_array_equal(warped[1, 1], 0)


@pytest.mark.parametrize(
    "keywords, message",
    [
        ({"size": 0}, r"output_size must be an integer of at least 1"),
        ({"size": 8, "context": 4}, r"context must leave the box at least one pixel of the output: below 4"),
        ({"context": -1}, r"context must be an integer of at least 0"),
    ],
)
def test_warp_regions_bad_arguments_raise_errors_that_name_them(keywords, message):
    with pytest.raises(ValueError, match=message):
        warp_regions(RAMP, np.zeros((1, 1, 4), "float32"), **keywords)


def test_warp_regions_bad_shapes_raise_errors_that_name_them():
    with pytest.raises(ValueError, match=r"images must have shape \(batch, height, width, channels\)"):
        warp_regions(RAMP[0], np.zeros((1, 1, 4), "float32"))
    with pytest.raises(ValueError, match=r"boxes must have shape \(batch, regions, 4\)"):
        warp_regions(RAMP, np.zeros((1, 4), "float32"))


@pytest.mark.skipif(importlib.util.find_spec("jax") is None,
                    reason="JAX is not installed (`make test` installs it)")
def test_roi_layers_and_their_gradients_run_on_jax():
    script = """
import jax, keras, numpy as np
from cv_textbook.detection import RoIAlign, RoIPooling, warp_regions
assert keras.backend.backend() == "jax"
features = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
rois = np.array([[[0, 0, 20, 20], [0, 10, 30, 30]]], "float32")
# Compiled, as in training (op-by-op JAX compiles every small op on its own: ten times slower here).
pooled = jax.jit(lambda f: RoIPooling(2, 0.1)([f, rois]))(features)
assert type(pooled).__module__.startswith("jax"), type(pooled)
np.testing.assert_array_equal(np.asarray(pooled)[0, :, :, :, 0], [[[5, 6], [9, 10]], [[9, 11], [13, 15]]])
gradient = jax.jit(jax.grad(lambda f: RoIPooling(2, 0.1)([f, rois[:, :1]]).sum()))(features)
np.testing.assert_array_equal(np.flatnonzero(np.asarray(gradient).ravel()), [5, 6, 9, 10])
inner = np.array([[[10, 10, 30, 30]]], "float32")
aligned = jax.jit(lambda f: RoIAlign(2, 0.1, 2)([f, inner]))(features)
np.testing.assert_allclose(np.asarray(aligned)[0, 0, :, :, 0], [[5, 6], [9, 10]], atol=1e-5)
gradient = jax.jit(jax.grad(lambda f: RoIAlign(2, 0.1, 2)([f, inner]).sum()))(features)
np.testing.assert_allclose(float(gradient.sum()), 4.0, atol=1e-5)
print("jax ok")
"""
    result = subprocess.run(  # from the repository root, so that its cv_textbook is imported
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
        env={**os.environ, "KERAS_BACKEND": "jax"}, cwd=REPOSITORY,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split()[-2:] == ["jax", "ok"]
