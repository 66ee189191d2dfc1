"""The RPN's proposal layer: by hand, against NumPy decoding and tf.image.non_max_suppression, compiled."""

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from cv_textbook.detection import CANVAS_ANCHORS, anchors, rpn_proposals

REPOSITORY = Path(__file__).resolve().parent.parent

# Five anchors in a 100 x 100 image, worked out by hand (Ren et al. eq. 2 inverted: x = xa + tx * wa,
# w = wa * exp(tw)):
HAND_ANCHORS = np.array(
    [
        [10, 10, 30, 30],  # tx 0.1 moves its centre 0.1 * 20 = 2 px right: (12, 10, 32, 30), score 0.9
        [12, 10, 32, 30],  # no delta: the same box, score 0.8 -> suppressed by the first (IoU 1)
        [80, 80, 120, 120],  # no delta, clipped to the image: (80, 80, 100, 100), score 0.7
        [50, 50, 54, 54],  # 4 x 4 px, the best score 0.95, but below min_size 5: dropped
        [40, 40, 60, 60],  # tw log 2, th log 0.5 around (50, 50): 40 x 10 px, (30, 45, 70, 55), score 0.6
    ],
    "float32",
)
HAND_DELTAS = np.array(
    [[0.1, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, math.log(2), math.log(0.5)]], "float32"
)
HAND_SCORES = np.array([0.9, 0.8, 0.7, 0.95, 0.6], "float32")


def numpy(x):
    return keras.ops.convert_to_numpy(x)


def test_proposals_by_hand():
    proposals, scores, counts = rpn_proposals(
        HAND_ANCHORS, HAND_SCORES[None], HAND_DELTAS[None], (100, 100), post_nms_top_k=5, min_size=5
    )
    assert numpy(counts).tolist() == [3]
    expected = [[12, 10, 32, 30], [80, 80, 100, 100], [30, 45, 70, 55]]
    np.testing.assert_allclose(numpy(proposals)[0, :3], expected, atol=1e-4)
    np.testing.assert_allclose(numpy(scores)[0, :3], [0.9, 0.7, 0.6])
    np.testing.assert_array_equal(numpy(proposals)[0, 3:], 0)  # padding
    assert np.isneginf(numpy(scores)[0, 3:]).all()


def test_a_variance_scales_the_deltas_as_encode_deltas_does():
    # SSD's variance: deltas divided by (0.1, 0.1, 0.2, 0.2) when encoded, so the same boxes come out of the
    # scaled deltas with the variance given; and encode_deltas of the hand-worked box gives those deltas.
    from cv_textbook.detection import encode_deltas

    variance = np.array([0.1, 0.1, 0.2, 0.2], "float32")
    proposals, _, counts = rpn_proposals(HAND_ANCHORS, HAND_SCORES[None], (HAND_DELTAS / variance)[None],
                                         (100, 100), post_nms_top_k=5, min_size=5, variance=variance)
    assert numpy(counts).tolist() == [3]
    np.testing.assert_allclose(numpy(proposals)[0, 2], [30, 45, 70, 55], atol=1e-4)
    encoded = numpy(encode_deltas(HAND_ANCHORS[4:], np.array([[30, 45, 70, 55]], "float32"), variance))
    np.testing.assert_allclose(encoded[0], HAND_DELTAS[4] / variance, atol=1e-4)


def test_each_image_of_a_batch_is_ranked_by_its_own_scores():
    # Image 2 reverses the scores: the 40 x 10 box (now 0.95) leads, the 4 x 4 one (0.6) stays dropped, and
    # of the two identical boxes the one scored 0.9 (anchor 2, no delta) is kept. post_nms_top_k=2 keeps the
    # best two.
    reversed_scores = np.array([0.8, 0.9, 0.7, 0.6, 0.95], "float32")
    proposals, scores, counts = rpn_proposals(
        HAND_ANCHORS, np.stack([HAND_SCORES, reversed_scores]), np.stack([HAND_DELTAS, HAND_DELTAS]),
        (100, 100), post_nms_top_k=2, min_size=5,
    )
    assert numpy(counts).tolist() == [2, 2]
    np.testing.assert_allclose(numpy(proposals)[1], [[30, 45, 70, 55], [12, 10, 32, 30]], atol=1e-4)
    np.testing.assert_allclose(numpy(scores), [[0.9, 0.7], [0.95, 0.9]])


def test_huge_deltas_are_clamped_and_clipped_to_the_image():
    # tw = th = 100 would make exp overflow to inf; clamped at log(1000/16) the box is 62.5 times its 10-px
    # anchor, then clipped to the 64 x 48 image.
    proposals, _, counts = rpn_proposals([[20, 20, 30, 30]], [[1.0]], [[[0, 0, 100, 100]]], (48, 64))
    assert numpy(counts).tolist() == [1]
    np.testing.assert_allclose(numpy(proposals)[0, 0], [0, 0, 64, 48])


def reference_proposals(anchors_, objectness, deltas, image_shape, pre_nms_top_k, post_nms_top_k,
                        iou_threshold, min_size):
    """One image, in NumPy (decoding written out from eq. 2) with TensorFlow's NMS."""
    height, width = image_shape
    anchor_width, anchor_height = anchors_[:, 2] - anchors_[:, 0], anchors_[:, 3] - anchors_[:, 1]
    centre_x = anchors_[:, 0] + anchor_width / 2 + deltas[:, 0] * anchor_width
    centre_y = anchors_[:, 1] + anchor_height / 2 + deltas[:, 1] * anchor_height
    box_width, box_height = anchor_width * np.exp(deltas[:, 2]), anchor_height * np.exp(deltas[:, 3])
    boxes = np.stack([centre_x - box_width / 2, centre_y - box_height / 2,
                      centre_x + box_width / 2, centre_y + box_height / 2], axis=1)
    boxes = np.clip(boxes, 0, [width, height, width, height])
    keep = ((boxes[:, 2] - boxes[:, 0]) >= min_size) & ((boxes[:, 3] - boxes[:, 1]) >= min_size)
    boxes, objectness = boxes[keep], objectness[keep]
    order = np.argsort(-objectness, kind="stable")[:pre_nms_top_k]
    boxes, objectness = boxes[order], objectness[order]
    selected = tf.image.non_max_suppression(  # TensorFlow takes (y1, x1, y2, x2)
        boxes[:, [1, 0, 3, 2]].astype("float32"), objectness.astype("float32"), post_nms_top_k, iou_threshold
    ).numpy()
    return boxes[selected], objectness[selected]


@pytest.mark.parametrize("seed", range(3))
def test_proposals_equal_numpy_decoding_and_tensorflow_nms(seed):
    # The canvases' anchors on a 64-px image (8 x 8 positions x 9 = 576), random RPN outputs for two images.
    rng = np.random.default_rng(seed)
    every = anchors((8, 8), **CANVAS_ANCHORS)
    objectness = rng.normal(size=(2, len(every))).astype("float32")
    deltas = rng.normal(0, 0.3, (2, len(every), 4)).astype("float32")
    settings = {"pre_nms_top_k": 300, "post_nms_top_k": 50, "iou_threshold": 0.7, "min_size": 6}
    outputs = rpn_proposals(every, objectness, deltas, (64, 64), **settings)
    proposals, scores, counts = (numpy(x) for x in outputs)
    for image in range(2):
        boxes, expected_scores = reference_proposals(
            every, objectness[image], deltas[image], (64, 64), **settings
        )
        assert counts[image] == len(boxes) > 10
        np.testing.assert_allclose(proposals[image, : len(boxes)], boxes, atol=1e-3)
        np.testing.assert_allclose(scores[image, : len(boxes)], expected_scores)


def test_proposals_compile_in_a_tf_function():
    rng = np.random.default_rng(7)
    every = anchors((8, 8), **CANVAS_ANCHORS)
    objectness = rng.normal(size=(1, len(every))).astype("float32")
    deltas = rng.normal(0, 0.3, (1, len(every), 4)).astype("float32")
    compiled = tf.function(lambda o, d: rpn_proposals(every, o, d, (64, 64), 200, 30))
    eager = rpn_proposals(every, objectness, deltas, (64, 64), 200, 30)
    for got, expected in zip(compiled(tf.constant(objectness), tf.constant(deltas)), eager):
        np.testing.assert_allclose(numpy(got), numpy(expected))


GOOD = (HAND_ANCHORS, HAND_SCORES[None], HAND_DELTAS[None], (100, 100))


@pytest.mark.parametrize(
    "arguments, keywords, message",
    [
        ((HAND_ANCHORS, HAND_SCORES, *GOOD[2:]), {}, r"objectness must have shape \(batch, 5\)"),
        ((*GOOD[:2], HAND_DELTAS, GOOD[3]), {}, r"deltas must have shape \(batch, 5, 4\)"),
        ((HAND_ANCHORS[:, :2], *GOOD[1:]), {}, r"anchors must have shape"),
        (([[10, 0, 0, 10]], [[1.0]], [[[0, 0, 0, 0]]], (100, 100)), {}, r"anchors must be corners"),
        ((*GOOD[:3], (100,)), {}, r"image_shape must be \(height, width\)"),
        (GOOD, {"pre_nms_top_k": 0}, r"pre_nms_top_k must be an integer of at least 1"),
        (GOOD, {"iou_threshold": 2}, r"iou_threshold must be an IoU between 0 and 1"),
        (GOOD, {"min_size": -1}, r"min_size must be a number of at least 0"),
    ],
)
def test_bad_arguments_raise_errors_that_name_them(arguments, keywords, message):
    with pytest.raises(ValueError, match=message):
        rpn_proposals(*arguments, **keywords)


@pytest.mark.skipif(importlib.util.find_spec("jax") is None,
                    reason="JAX is not installed (`make test` installs it)")
def test_proposals_and_region_warping_run_under_jax_jit():
    # The two keras.ops functions a Faster R-CNN and an R-CNN step compile, on JAX, against this process's
    # TensorFlow results.
    rng = np.random.default_rng(9)
    every = anchors((8, 8), **CANVAS_ANCHORS)
    objectness = rng.normal(size=(2, len(every))).astype("float32")
    deltas = rng.normal(0, 0.3, (2, len(every), 4)).astype("float32")
    proposals, _, counts = (numpy(x) for x in rpn_proposals(every, objectness, deltas, (64, 64), 300, 40))
    script = """
import json, sys, jax, keras, numpy as np
from cv_textbook.detection import rpn_proposals, warp_regions
assert keras.backend.backend() == "jax"
data = json.load(sys.stdin)
every, objectness, deltas = (np.array(data[key], "float32") for key in ("anchors", "objectness", "deltas"))
propose = jax.jit(lambda o, d: rpn_proposals(every, o, d, (64, 64), 300, 40))
proposals, scores, counts = propose(objectness, deltas)
ramp = (100 * np.arange(64)[:, None] + np.arange(64)[None, :]).astype("float32")[None, :, :, None]
warped = jax.jit(lambda image: warp_regions(image, np.array([[[8, 16, 48, 24]]], "float32"), 4))(ramp)
print(json.dumps({"proposals": np.asarray(proposals).tolist(), "counts": np.asarray(counts).tolist(),
                  "warped": np.asarray(warped)[0, 0, :, :, 0].tolist()}))
"""
    inputs = {"anchors": every.tolist(), "objectness": objectness.tolist(), "deltas": deltas.tolist()}
    result = subprocess.run(  # from the repository root, so that its cv_textbook is imported
        [sys.executable, "-c", script], input=json.dumps(inputs), capture_output=True, text=True, timeout=300,
        env={**os.environ, "KERAS_BACKEND": "jax"}, cwd=REPOSITORY,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    on_jax = json.loads(result.stdout.strip().splitlines()[-1])
    assert on_jax["counts"] == counts.tolist()
    np.testing.assert_allclose(on_jax["proposals"], proposals, atol=1e-3)
    # The ramp's hand-worked values (tests/test_roi.py): 100 * (17, 19, 21, 23) + (13, 23, 33, 43), less 50.5.
    x, y = np.array([13, 23, 33, 43]) - 0.5, np.array([17, 19, 21, 23]) - 0.5
    np.testing.assert_allclose(on_jax["warped"], 100 * y[:, None] + x[None, :], atol=1e-3)
