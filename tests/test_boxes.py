"""Box utilities: IoU, corner/centre conversion, Faster R-CNN deltas, validation, and a JAX run."""

import importlib.util
import math
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from cv_textbook.detection import (
    centres_to_corners,
    corners_to_centres,
    decode_deltas,
    encode_deltas,
    iou_matrix,
    validate_boxes,
)

REPOSITORY = Path(__file__).resolve().parent.parent


def numpy(x):
    return keras.ops.convert_to_numpy(x)


def random_corners(rng, count):
    corner = rng.uniform(0, 100, (count, 2))
    size = rng.uniform(1, 50, (count, 2))
    return np.concatenate([corner, corner + size], axis=1).astype("float32")


# --------------------------------------------------------------------------- IoU


def test_two_10x10_boxes_overlapping_by_5x10_have_iou_one_third():
    # Intersection 5 * 10 = 50, union 100 + 100 - 50 = 150: IoU = 1/3.
    iou = numpy(iou_matrix([[0, 0, 10, 10]], [[5, 0, 15, 10]]))
    assert iou.shape == (1, 1)
    np.testing.assert_allclose(iou, [[1 / 3]], rtol=1e-6)


def test_iou_matrix_pairs_every_box_of_a_with_every_box_of_b():
    boxes_a = np.array([[0, 0, 10, 10], [0, 0, 20, 20]], "float32")
    boxes_b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [30, 30, 40, 40]], "float32")
    # By hand: identical -> 1; 10x10 inside 20x20 -> 100/400; 50/150 and 100/400 for the shifted box
    # (it lies inside the 20x20 one); disjoint -> 0.
    expected = [[1.0, 1 / 3, 0.0], [0.25, 0.25, 0.0]]
    np.testing.assert_allclose(numpy(iou_matrix(boxes_a, boxes_b)), expected, rtol=1e-6, atol=1e-7)


def test_iou_of_boxes_touching_at_an_edge_is_zero():
    # With corners x2 = one past the last column, boxes sharing an edge share no pixel.
    np.testing.assert_allclose(numpy(iou_matrix([[0, 0, 10, 10]], [[10, 0, 20, 10]])), [[0.0]])


def test_batched_iou_gives_one_matrix_per_image():
    boxes_a = np.array([[[0, 0, 10, 10]], [[0, 0, 4, 4]]], "float32")  # (2, 1, 4)
    boxes_b = np.array([[[5, 0, 15, 10], [0, 0, 10, 10]], [[2, 2, 6, 6], [0, 0, 2, 2]]], "float32")  # (2,2,4)
    # Image 1: 1/3 and 1. Image 2: overlap 2x2 = 4 of union 16 + 16 - 4 = 28; 2x2 inside 4x4 -> 4/16.
    expected = [[[1 / 3, 1.0]], [[4 / 28, 0.25]]]
    np.testing.assert_allclose(numpy(iou_matrix(boxes_a, boxes_b)), expected, rtol=1e-6)


# --------------------------------------------------------------------------- formats


def test_corners_to_centres_by_hand():
    # (2, 4)-(10, 8): centre (6, 6), width 8, height 4.
    np.testing.assert_allclose(numpy(corners_to_centres([[2, 4, 10, 8]])), [[6, 6, 8, 4]])
    np.testing.assert_allclose(numpy(centres_to_corners([[6, 6, 8, 4]])), [[2, 4, 10, 8]])


def test_corner_centre_conversions_round_trip():
    boxes = random_corners(np.random.default_rng(0), 50).reshape(5, 10, 4)  # leading axes are kept
    centres = numpy(corners_to_centres(boxes))
    assert centres.shape == (5, 10, 4)
    np.testing.assert_allclose(numpy(centres_to_corners(centres)), boxes, rtol=1e-5, atol=1e-4)


# --------------------------------------------------------------------------- deltas


def test_encode_deltas_is_faster_rcnn_equation_2():
    # Anchor (0, 0)-(10, 10): centre (5, 5), size 10 x 10.
    # Box (1, 2)-(13, 10): centre (7, 6), size 12 x 8.
    # Ren et al. 2015, eq. 2: tx = (7 - 5)/10, ty = (6 - 5)/10, tw = log(12/10), th = log(8/10).
    deltas = numpy(encode_deltas([[0, 0, 10, 10]], [[1, 2, 13, 10]]))
    np.testing.assert_allclose(deltas, [[0.2, 0.1, math.log(1.2), math.log(0.8)]], rtol=1e-6)


def test_variance_divides_the_deltas():
    deltas = numpy(encode_deltas([[0, 0, 10, 10]], [[1, 2, 13, 10]], variance=[0.1, 0.1, 0.2, 0.2]))
    np.testing.assert_allclose(deltas, [[2.0, 1.0, math.log(1.2) / 0.2, math.log(0.8) / 0.2]], rtol=1e-5)


def test_decode_deltas_by_hand():
    # Anchor centre (5, 5), size 10 x 10; deltas (0.5, -0.2, log 2, 0): centre (10, 3), size 20 x 10.
    boxes = numpy(decode_deltas([[0, 0, 10, 10]], [[0.5, -0.2, math.log(2.0), 0.0]]))
    np.testing.assert_allclose(boxes, [[0, -2, 20, 8]], rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("variance", [None, [0.1, 0.1, 0.2, 0.2]])
def test_decode_inverts_encode(variance):
    rng = np.random.default_rng(1)
    anchors, boxes = random_corners(rng, 40), random_corners(rng, 40)
    deltas = encode_deltas(anchors, boxes, variance=variance)
    decoded = decode_deltas(anchors, deltas, variance=variance)
    np.testing.assert_allclose(numpy(decoded), boxes, rtol=1e-5, atol=1e-3)
    batched = np.stack([boxes, boxes[::-1]])  # (2, 40, 4): one anchor set, boxes of two images
    decoded = decode_deltas(anchors, encode_deltas(anchors, batched, variance=variance), variance=variance)
    np.testing.assert_allclose(numpy(decoded), batched, rtol=1e-5, atol=1e-3)


def test_zero_deltas_decode_to_the_anchors_themselves():
    anchors = random_corners(np.random.default_rng(2), 8)
    np.testing.assert_allclose(numpy(decode_deltas(anchors, np.zeros((8, 4), "float32"))), anchors, atol=1e-4)


# --------------------------------------------------------------------------- validation


def test_valid_boxes_come_back_as_float32_arrays():
    checked = validate_boxes([[0, 0, 10, 10], [3, 3, 3, 3]], "anchors")  # an empty box is allowed (padding)
    assert checked.dtype == np.float32 and checked.shape == (2, 4)


@pytest.mark.parametrize(
    "boxes, message",
    [
        (np.zeros((3, 5)), r"anchors must have shape \(\.\.\., 4\).*got shape \(3, 5\)"),
        (np.float32(3.0), r"anchors must have shape \(\.\.\., 4\).*got shape \(\)"),
        ([[0, 0, 10, 10], [5, 5, 1, 7]], r"anchors must be corners.*y2 < y1, the first at index \(1,\)"),
        ([[[0, 8, 10, 2]]], r"anchors must be corners.*index \(0, 0\).*convert_format"),
        ([[0, 0, np.nan, 1]], r"anchors must hold finite coordinates"),
        ("boxes", r"anchors must be an array of boxes"),
    ],
)
def test_invalid_boxes_raise_errors_that_name_the_argument(boxes, message):
    with pytest.raises(ValueError, match=message):
        validate_boxes(boxes, "anchors")


# --------------------------------------------------------------------------- other backends


NO_JAX = importlib.util.find_spec("jax") is None


@pytest.mark.skipif(NO_JAX, reason="JAX is not installed (`make test` installs it)")
def test_box_utilities_run_on_jax():
    script = """
import math, keras, numpy as np
from cv_textbook.detection import iou_matrix, encode_deltas, decode_deltas, corners_to_centres
assert keras.backend.backend() == "jax"
iou = iou_matrix(np.array([[0, 0, 10, 10]], "float32"), np.array([[5, 0, 15, 10]], "float32"))
assert type(iou).__module__.startswith("jax"), type(iou)
anchors, boxes = np.array([[0, 0, 10, 10]], "float32"), np.array([[1, 2, 13, 10]], "float32")
deltas = encode_deltas(anchors, boxes)
np.testing.assert_allclose(np.asarray(iou), [[1 / 3]], rtol=1e-6)
np.testing.assert_allclose(np.asarray(deltas), [[0.2, 0.1, math.log(1.2), math.log(0.8)]], rtol=1e-6)
np.testing.assert_allclose(np.asarray(decode_deltas(anchors, deltas)), boxes, rtol=1e-6)
np.testing.assert_allclose(np.asarray(corners_to_centres(boxes)), [[7, 6, 12, 8]])
print("jax ok")
"""
    environment = {**os.environ, "KERAS_BACKEND": "jax"}
    result = subprocess.run(  # run from the repository root, so that its cv_textbook is imported
        [sys.executable, "-c", script],
        capture_output=True, text=True, timeout=300, env=environment, cwd=REPOSITORY,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split()[-2:] == ["jax", "ok"]
