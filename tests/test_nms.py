"""Greedy NMS in keras.ops: by hand, against tf.image.non_max_suppression, per class, batched, compiled,
on JAX."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from cv_textbook.detection import batched_nms, nms

REPOSITORY = Path(__file__).resolve().parent.parent


def kept(indices, count):
    return keras.ops.convert_to_numpy(indices)[: int(keras.ops.convert_to_numpy(count))].tolist()


def random_boxes(rng, count, tied_scores=False):
    corner = rng.uniform(0, 100, (count, 2))
    size = rng.uniform(1, 40, (count, 2))
    boxes = np.concatenate([corner, corner + size], axis=1).astype("float32")
    scores = rng.uniform(0, 1, count)
    if tied_scores:  # one decimal: many boxes share a score
        scores = np.round(scores, 1)
    return boxes, scores.astype("float32")


def tensorflow_nms(boxes, scores, max_outputs, iou_threshold, score_threshold=float("-inf")):
    """The referee; TensorFlow wants (y1, x1, y2, x2)."""
    selected = tf.image.non_max_suppression(
        boxes[:, [1, 0, 3, 2]], scores, max_outputs, float(iou_threshold), float(score_threshold)
    )
    return selected.numpy().tolist()


def test_nms_by_hand():
    # A and B overlap by 9 x 10 = 90 of 110 (IoU 0.82); C is far away.
    boxes = [[0, 0, 10, 10], [1, 0, 11, 10], [20, 20, 30, 30]]
    scores = [0.8, 0.9, 0.7]
    assert kept(*nms(boxes, scores, iou_threshold=0.5)) == [1, 2]  # B outscores A and suppresses it
    assert kept(*nms(boxes, scores, iou_threshold=0.9)) == [1, 0, 2]  # 0.82 < 0.9: all kept, best first
    assert kept(*nms(boxes, scores, iou_threshold=0.5, score_threshold=0.75)) == [1]


def test_output_is_padded_to_max_outputs_with_minus_one():
    indices, count = nms([[0, 0, 10, 10], [20, 20, 30, 30]], [0.5, 0.6], max_outputs=5)
    assert keras.ops.convert_to_numpy(indices).tolist() == [1, 0, -1, -1, -1] and int(count) == 2
    indices, count = nms([[0, 0, 10, 10], [20, 20, 30, 30], [40, 40, 50, 50]], [0.5, 0.6, 0.7], max_outputs=2)
    assert keras.ops.convert_to_numpy(indices).tolist() == [2, 1] and int(count) == 2


def test_an_iou_exactly_at_the_threshold_does_not_suppress():
    # (0,0,10,10) lies inside (0,0,10,20): IoU 100 / 200 = 0.5, as TensorFlow (which suppresses only
    # IoU > threshold).
    boxes = np.array([[0, 0, 10, 20], [0, 0, 10, 10]], "float32")
    scores = np.array([0.9, 0.8], "float32")
    assert kept(*nms(boxes, scores, 0.5)) == [0, 1] == tensorflow_nms(boxes, scores, 10, 0.5)


def test_equal_scores_go_to_the_lower_index_first():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [2, 0, 12, 10], [50, 50, 60, 60]], "float32")
    scores = np.full(4, 0.5, "float32")
    assert kept(*nms(boxes, scores, 0.5)) == [0, 3] == tensorflow_nms(boxes, scores, 10, 0.5)


@pytest.mark.parametrize("seed", range(6))
def test_nms_equals_tensorflow_on_random_boxes(seed):
    rng = np.random.default_rng(seed)
    for iou_threshold in (0.0, 0.3, 0.5, 0.7):
        boxes, scores = random_boxes(rng, int(rng.integers(1, 200)), tied_scores=seed % 2 == 1)
        for max_outputs in (1, 7, 300):  # fewer than survive, and more than there are boxes
            expected = tensorflow_nms(boxes, scores, max_outputs, iou_threshold)
            assert kept(*nms(boxes, scores, iou_threshold, max_outputs)) == expected
        expected = tensorflow_nms(boxes, scores, 50, iou_threshold, score_threshold=0.4)
        assert kept(*nms(boxes, scores, iou_threshold, 50, score_threshold=0.4)) == expected


def test_per_class_nms_equals_tensorflow_run_on_each_class():
    rng = np.random.default_rng(10)
    boxes, scores = random_boxes(rng, 150, tied_scores=True)
    classes = rng.integers(0, 3, 150)
    merged = []
    for label in range(3):
        members = np.flatnonzero(classes == label)
        merged += [members[i] for i in tensorflow_nms(boxes[members], scores[members], 150, 0.4)]
    # All classes' survivors, best score first (ties: lower index first).
    expected = sorted(merged, key=lambda i: (-scores[i], i))
    assert kept(*nms(boxes, scores, 0.4, 150, classes=classes)) == expected
    assert len(expected) > len(tensorflow_nms(boxes, scores, 150, 0.4))  # classes do not suppress each other


def test_batched_nms_equals_nms_on_each_image():
    rng = np.random.default_rng(3)
    pairs = [random_boxes(rng, 60, tied_scores=True) for _ in range(3)]
    boxes, scores = np.stack([b for b, _ in pairs]), np.stack([s for _, s in pairs])
    indices, counts = batched_nms(boxes, scores, 0.5, 20)
    assert tuple(indices.shape) == (3, 20) and tuple(counts.shape) == (3,)
    for image in range(3):
        assert kept(indices[image], counts[image]) == tensorflow_nms(boxes[image], scores[image], 20, 0.5)


def test_nms_compiles_in_a_tf_function():
    boxes, scores = random_boxes(np.random.default_rng(4), 100)
    compiled = tf.function(lambda b, s: nms(b, s, 0.5, 30))
    assert kept(*compiled(tf.constant(boxes), tf.constant(scores))) == tensorflow_nms(boxes, scores, 30, 0.5)


def test_no_boxes_keep_nothing():
    indices, count = nms(np.zeros((0, 4), "float32"), np.zeros((0,), "float32"), max_outputs=3)
    assert keras.ops.convert_to_numpy(indices).tolist() == [-1, -1, -1] and int(count) == 0


@pytest.mark.parametrize(
    "arguments, message",
    [
        (([[10, 0, 0, 10]], [1.0]), r"boxes must be corners \(x1, y1, x2, y2\) with x1 <= x2"),
        (([[0, 0, 10, 10]], [1.0, 2.0]),
         r"scores must have one score per box, shape \(1,\), got shape \(2,\)"),
        (([0, 0, 10, 10], [1.0]), r"boxes must have shape \(boxes, 4\)"),
        (([[0, 0, 10, 10]], [1.0], 1.5), r"iou_threshold must be an IoU between 0 and 1"),
        (([[0, 0, 10, 10]], [1.0], 0.5, 0), r"max_outputs must be an integer of at least 1"),
    ],
)
def test_bad_arguments_raise_errors_that_name_them(arguments, message):
    with pytest.raises(ValueError, match=message):
        nms(*arguments)


def test_classes_must_match_the_boxes():
    with pytest.raises(ValueError, match=r"classes must have one class per box"):
        nms([[0, 0, 10, 10]], [1.0], classes=[0, 1])


@pytest.mark.skipif(importlib.util.find_spec("jax") is None,
                    reason="JAX is not installed (`make test` installs it)")
def test_nms_runs_under_jax_jit():
    boxes, scores = random_boxes(np.random.default_rng(5), 120, tied_scores=True)
    expected = tensorflow_nms(boxes, scores, 40, 0.45)
    script = """
import json, sys, jax, keras, numpy as np
from cv_textbook.detection import nms
assert keras.backend.backend() == "jax"
data = json.load(sys.stdin)
boxes, scores = np.array(data["boxes"], "float32"), np.array(data["scores"], "float32")
indices, count = jax.jit(lambda b, s: nms(b, s, 0.45, 40))(boxes, scores)
print(json.dumps(np.asarray(indices)[: int(count)].tolist()))
"""
    result = subprocess.run(  # from the repository root, so that its cv_textbook is imported
        [sys.executable, "-c", script],
        input=json.dumps({"boxes": boxes.tolist(), "scores": scores.tolist()}),
        capture_output=True, text=True, timeout=300, env={**os.environ, "KERAS_BACKEND": "jax"},
        cwd=REPOSITORY,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == expected
