"""Chapter 11 exercise checks: the reference answers pass, typical mistakes get their own hint,
placeholders ask to fill in, and no wrong answer raises. Expected values come from arithmetic,
from an IoU and a greedy NMS written here, and from TensorFlow (``tf.image.non_max_suppression``)."""

import numpy as np
import pytest
import tensorflow as tf

from cv_textbook.exercises import ch11
from exercise_feedback import assert_correct, assert_fill_in, assert_hint

# ---------------------------------------------------------------------------
# Exercise 1: IoU of two sets of boxes
# ---------------------------------------------------------------------------


def iou(a, b):
    """The textbook formula, written here as the student would."""
    width = np.maximum(0, np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]))
    height = np.maximum(0, np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]))
    inter = width * height
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / (area_a[:, None] + area_b[None, :] - inter)


def test_iou_hand_case_values_by_arithmetic():
    a, b = ch11.iou_cases()[-1]
    values = iou(a, b)
    # (0,0,10,10) with itself: 1; with (12,2,22,8): disjoint in x: 0; (2,2,8,8) holds (4,4,6,6): 4 / 36.
    assert values[0, 1] == 1.0 and values[0, 0] == 0.0
    assert values[2, 3] == pytest.approx(4 / 36)
    # (20,20,30,30) and (12,2,22,8) are disjoint in both axes: the unclipped product would be positive.
    assert values[1, 0] == 0.0


def test_iou_reference_passes(capsys):
    assert_correct(capsys, ch11.check_iou, iou)
    assert_correct(capsys, ch11.check_iou, lambda a, b: iou(a, b).tolist())
    assert_correct(capsys, ch11.check_iou, lambda a, b: tf.constant(iou(a, b)))


def _unclipped(a, b):
    width = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    height = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    inter = width * height
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / (area_a[:, None] + area_b[None, :] - inter)


def _plus_one(a, b):
    grown = lambda boxes: np.concatenate([boxes[:, :2], boxes[:, 2:] + 1], axis=1)  # noqa: E731
    return iou(grown(a), grown(b))


def _swapped(a, b):
    order = [0, 2, 1, 3]  # (x1, y1, x2, y2) read as (x1, x2, y1, y2)
    with np.errstate(divide="ignore", invalid="ignore"):
        return iou(a[:, order], b[:, order])


def _union_is_sum(a, b):
    width = np.maximum(0, np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]))
    height = np.maximum(0, np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]))
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return width * height / (area_a[:, None] + area_b[None, :])


def _raises(a, b):
    raise IndexError("index 4 is out of bounds")


def _not_implemented(a, b):
    raise NotImplementedError


@pytest.mark.parametrize(
    "answer, expected",
    [
        (_unclipped, "clip both at 0"),
        (_plus_one, "no + 1"),
        (_swapped, "coordinates are mixed up"),
        (_union_is_sum, "counts the overlap once"),
        (lambda a, b: iou(a, b).T, "transpose"),
        (lambda a, b: np.diag(iou(a, b)), "must have shape"),
        (lambda a, b: iou(a, b) * 0.5, "min(x2) - max(x1)"),
        (_raises, "IndexError"),
        ("iou", "pass the function itself"),
    ],
)
def test_iou_mistakes(capsys, answer, expected):
    assert_hint(capsys, ch11.check_iou, answer, expected)


def test_iou_fill_in(capsys):
    assert_fill_in(capsys, ch11.check_iou, None)
    assert_fill_in(capsys, ch11.check_iou, _not_implemented)
    assert_fill_in(capsys, ch11.check_iou, lambda a, b: None)


# ---------------------------------------------------------------------------
# Exercise 3: greedy NMS
# ---------------------------------------------------------------------------


def greedy_nms(boxes, scores, iou_threshold):
    """Greedy NMS written here: the best box first, drop what overlaps a kept box above the threshold."""
    order = list(np.argsort(-scores, kind="stable"))
    kept = []
    while order:
        best = order.pop(0)
        kept.append(int(best))
        overlaps = iou(boxes[best][None], boxes[order])[0] if order else []
        order = [index for index, value in zip(order, overlaps) if value <= iou_threshold]
    return kept


def suppressed_also_suppress(boxes, scores, iou_threshold):
    """A typical mistake: each box is compared with every better box, kept or not."""
    order = list(np.argsort(-scores, kind="stable"))
    values = iou(boxes, boxes)
    return [int(i) for rank, i in enumerate(order) if all(values[i, j] <= iou_threshold for j in order[:rank])]


def test_nms_reference_equals_tensorflow_on_the_checks_cases():
    for boxes, scores in ch11.nms_cases():
        # TensorFlow takes (y1, x1, y2, x2); IoU is the same with both axes swapped.
        tf_kept = tf.image.non_max_suppression(boxes[:, [1, 0, 3, 2]], scores, len(boxes), ch11.NMS_THRESHOLD)
        assert ch11.nms_reference(boxes, scores) == tf_kept.numpy().tolist()
        assert greedy_nms(boxes, scores, ch11.NMS_THRESHOLD) == tf_kept.numpy().tolist()


def test_nms_hand_cases_by_arithmetic():
    chain, tie = ch11.nms_cases()[2:]
    # Chain: A = box 1 (0.9) and B = box 2 (0.8) overlap by 8x10 of 120 px: IoU 2/3 > 0.5, B goes; C = box 0
    # (0.7) overlaps B by 2/3 too but A only by 6x10 / 140 = 0.43: C stays, because B was removed.
    assert greedy_nms(*chain, 0.5) == [1, 0]
    # Tie: IoU((0,0,2,2), (0,0,4,2)) = 4 / 8 = 0.5, not above the threshold: both stay.
    assert greedy_nms(*tie, 0.5) == [1, 0, 2]


def test_nms_reference_passes(capsys):
    assert_correct(capsys, ch11.check_nms, greedy_nms)
    assert_correct(capsys, ch11.check_nms, lambda b, s, t: np.array(greedy_nms(b, s, t)))


@pytest.mark.parametrize(
    "answer, expected",
    [
        (lambda b, s, t: sorted(greedy_nms(b, s, t)), "index order"),
        (lambda b, s, t: list(np.argsort(-s, kind="stable")), "nothing was suppressed"),
        (suppressed_also_suppress, "must not suppress others"),
        (lambda b, s, t: greedy_nms(b, -s, t), "lowest score up"),
        (lambda b, s, t: greedy_nms(b, s, t - 1e-6), "exactly the threshold"),
        (lambda b, s, t: np.isin(np.arange(len(b)), greedy_nms(b, s, t)), "not a true/false mask"),
        (lambda b, s, t: [0, 0], "distinct"),
        (lambda b, s, t: greedy_nms(b, s, 0.2), "sort the boxes by score"),
        (lambda b, s, t: "0, 1", "list or array of box indices"),
    ],
)
def test_nms_mistakes(capsys, answer, expected):
    assert_hint(capsys, ch11.check_nms, answer, expected)


def test_nms_fill_in(capsys):
    assert_fill_in(capsys, ch11.check_nms, None)
    assert_fill_in(capsys, ch11.check_nms, lambda b, s, t: None)


# ---------------------------------------------------------------------------
# Exercise 2: anchor count
# ---------------------------------------------------------------------------


def test_anchor_count_reference_by_arithmetic(capsys):
    # 640 / 16 = 40 rows, 960 / 16 = 60 columns: 2,400 positions (Ren et al.: "typically ~2,400"), 9 each.
    expected = 40 * 60 * 9
    assert ch11.anchor_count_reference() == expected == 21_600
    assert_correct(capsys, ch11.check_anchor_count, expected)
    assert_correct(capsys, ch11.check_anchor_count, float(expected))
    assert_correct(capsys, ch11.check_anchor_count, np.int64(expected))


@pytest.mark.parametrize(
    "answer, expected",
    [
        (40 * 60, "number of positions"),
        (9, "one* position"),
        (40 * 60 * 3, "3 aspect ratios"),
        (640 * 960 * 9, "not at every pixel"),
        (40 * 60 * 9 * 4, "four deltas"),
        (40 * 60 * 9 * 5, "one score and four deltas"),
        (20 * 30 * 9, "not 32"),
        (12345, "divide each side"),
        ("21600", "whole number"),
    ],
)
def test_anchor_count_mistakes(capsys, answer, expected):
    assert_hint(capsys, ch11.check_anchor_count, answer, expected)


def test_anchor_count_fill_in(capsys):
    assert_fill_in(capsys, ch11.check_anchor_count, None)
    assert_fill_in(capsys, ch11.check_anchor_count, ...)
