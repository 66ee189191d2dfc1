"""Faster R-CNN's training targets on small hand-made cases: anchor labels, sampling, deltas, RoIs."""

import math

import numpy as np
import pytest

from cv_textbook.detection import label_anchors, rpn_targets, sample_anchors, sample_rois

# Four anchors and their IoU with the box (0, 0, 10, 10), worked out by hand:
ANCHORS = np.array(
    [
        [0, 0, 10, 10],  # the box itself: IoU 1 -> positive
        [0, 0, 10, 20],  # 100 / 200 = 0.5: between 0.3 and 0.7 -> ignored
        [0, 0, 10, 40],  # 100 / 400 = 0.25 < 0.3 -> negative
        [50, 50, 60, 60],  # no overlap -> negative
    ],
    "float32",
)
BOX = np.array([[0, 0, 10, 10]], "float32")


def test_anchor_labels_follow_the_papers_thresholds():
    labels, matches = label_anchors(ANCHORS, BOX)
    assert labels.tolist() == [1, -1, 0, 0]
    assert matches.tolist() == [0, -1, -1, -1]


def test_an_iou_of_exactly_0_7_is_positive():
    # Anchor (0,0,10,7) inside the box: 70 / 100 = 0.7 (>= 0.7), though float32(0.7) < the float64 0.7.
    labels, _ = label_anchors(np.array([[0, 0, 10, 7], [50, 50, 60, 60]], "float32"), BOX)
    assert labels.tolist() == [1, 0]


def test_a_box_without_an_anchor_of_iou_0_7_still_gets_its_best_anchor():
    # Box (0,0,10,10) against anchors (0,0,10,20) (IoU 0.5) and (0,0,10,40) (0.25): no anchor reaches 0.7,
    # so the best one becomes positive; the other is negative (< 0.3).
    labels, matches = label_anchors(ANCHORS[1:], BOX)
    assert labels.tolist() == [1, 0, 0] and matches.tolist() == [0, -1, -1]


def test_every_anchor_tied_for_a_boxs_best_iou_is_positive():
    # Box (5,0,15,10) overlaps (0,0,10,10) and (10,0,20,10) by 5 x 10 each: IoU 50 / 150 = 1/3 for both.
    anchors = np.array([[0, 0, 10, 10], [10, 0, 20, 10], [40, 40, 50, 50]], "float32")
    labels, _ = label_anchors(anchors, [[5, 0, 15, 10]])
    assert labels.tolist() == [1, 1, 0]


def test_each_positive_regresses_towards_its_highest_iou_box():
    # The second box overlaps anchor 3 by 100 / 120.
    boxes = np.array([[0, 0, 10, 10], [48, 50, 60, 60]], "float32")
    labels, matches = label_anchors(ANCHORS, boxes)
    assert labels.tolist() == [1, -1, 0, 1] and matches.tolist() == [0, -1, -1, 1]


def test_padding_boxes_are_ignored():
    # The padding slot sits exactly on anchor 3, but valid=False: anchor 3 stays negative, matches never
    # name it.
    boxes = np.array([[0, 0, 10, 10], [50, 50, 60, 60]], "float32")
    labels, matches = label_anchors(ANCHORS, boxes, valid=np.array([True, False]))
    assert labels.tolist() == [1, -1, 0, 0] and matches.tolist() == [0, -1, -1, -1]
    labels, _ = label_anchors(ANCHORS, boxes, valid=np.array([False, False]))
    assert labels.tolist() == [0, 0, 0, 0]  # an image without objects: every anchor is background


def test_anchors_crossing_the_image_border_are_ignored_when_the_image_shape_is_given():
    # Box (0,0,6,10) against (-4,0,6,10): 60 / 100 = 0.6, its best anchor (positive); against (2,0,12,10):
    # 40 / 120 = 0.33 (ignored). In a 32 x 32 image the first crosses the left border: ignored, and the box's
    # best anchor is then the inside one, positive despite its 0.33.
    anchors = np.array([[-4, 0, 6, 10], [2, 0, 12, 10], [20, 20, 30, 30]], "float32")
    box = [[0, 0, 6, 10]]
    assert label_anchors(anchors, box)[0].tolist() == [1, -1, 0]
    assert label_anchors(anchors, box, image_shape=(32, 32))[0].tolist() == [-1, 1, 0]


def test_sampling_keeps_at_most_half_positives_and_fills_up_with_negatives():
    labels = np.array([1] * 300 + [0] * 1000 + [-1] * 50)
    sampled = sample_anchors(labels, num_samples=256, positive_fraction=0.5, rng=0)
    assert (sampled == 1).sum() == 128 and (sampled == 0).sum() == 128
    assert set(np.flatnonzero(sampled == 1)) <= set(range(300))  # a label only ever becomes -1
    assert (sampled[1300:] == -1).all()
    few = sample_anchors(np.array([1] * 10 + [0] * 1000), rng=0)
    assert (few == 1).sum() == 10 and (few == 0).sum() == 246  # 256 - 10 negatives


def test_sampling_is_seeded():
    labels = np.array([1] * 300 + [0] * 1000)
    np.testing.assert_array_equal(sample_anchors(labels, rng=3), sample_anchors(labels, rng=3))
    assert not np.array_equal(sample_anchors(labels, rng=3), sample_anchors(labels, rng=4))
    generator = np.random.default_rng(3)  # one Generator passed along draws afresh for each image
    assert not np.array_equal(sample_anchors(labels, rng=generator), sample_anchors(labels, rng=generator))


def test_rpn_targets_hold_eq_2_deltas_for_positives_only():
    anchors = np.array([[0, 0, 10, 10], [50, 50, 60, 60], [0, 0, 10, 20]], "float32")
    # Box (1,2)-(13,10) against anchor (0,0)-(10,10): IoU 72 / 124 = 0.58 < 0.7, but its best anchor, so
    # positive.
    # Ren et al. eq. 2 (tests/test_boxes.py): (0.2, 0.1, log 1.2, log 0.8).
    targets = rpn_targets(anchors, [[1, 2, 13, 10]], rng=0)
    assert targets["labels"].tolist() == [1, 0, -1]
    np.testing.assert_allclose(targets["deltas"][0], [0.2, 0.1, math.log(1.2), math.log(0.8)], rtol=1e-5)
    np.testing.assert_array_equal(targets["deltas"][1:], 0)
    assert targets["matches"].tolist() == [0, -1, -1]


def test_rpn_targets_of_a_canvas_are_256_anchors_at_most_half_positive():
    from cv_textbook.data.detection import make_detection_canvases
    from cv_textbook.detection import CANVAS_ANCHORS, anchors

    canvases = make_detection_canvases("validation", 6, size=64, max_objects=1, progress=False)
    every = anchors((8, 8), **CANVAS_ANCHORS)
    for index in range(len(canvases)):
        targets = rpn_targets(every, canvases.boxes[index], canvases.valid[index], rng=index)
        positives, negatives = (targets["labels"] == 1).sum(), (targets["labels"] == 0).sum()
        assert 1 <= positives <= 128 and positives + negatives == 256
        assert (targets["matches"][targets["labels"] == 1] == 0).all()  # the canvas's one garment


def test_roi_sampling_splits_foreground_and_background_by_iou():
    box, classes = np.array([[0, 0, 10, 10]], "float32"), np.array([7])
    proposals = np.array(
        [
            [0, 0, 10, 12],  # IoU 100 / 120 = 0.83 -> foreground, class 7 + 1
            [0, 0, 10, 20],  # 0.5 -> foreground (>= 0.5)
            [0, 0, 10, 40],  # 0.25 -> background
            [0, 0, 10, 100],  # 0.1 -> background ([0.1, 0.5))
            [0, 0, 10, 200],  # 0.05 -> neither: too far to teach the background
        ],
        "float32",
    )
    rois = sample_rois(proposals, box, classes, include_ground_truth=False, rng=0)
    foreground = {tuple(r) for r, label in zip(rois["rois"].tolist(), rois["labels"]) if label == 8}
    background = {tuple(r) for r, label in zip(rois["rois"].tolist(), rois["labels"]) if label == 0}
    assert foreground == {(0, 0, 10, 12), (0, 0, 10, 20)}
    assert background == {(0, 0, 10, 40), (0, 0, 10, 100)}
    # Foreground first.
    assert rois["labels"].tolist()[:2] == [8, 8] and rois["matches"].tolist() == [0, 0, -1, -1]
    # Foreground deltas: roi (0,0,10,12) -> box: centre y 6 -> 5, height 12 -> 10: (0, -1/12, 0, log(10/12)).
    row = rois["rois"].tolist().index([0, 0, 10, 12])
    np.testing.assert_allclose(rois["deltas"][row], [0, -1 / 12, 0, math.log(10 / 12)], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(rois["deltas"][2:], 0)


def test_roi_sampling_keeps_the_count_and_foreground_fraction():
    rng = np.random.default_rng(0)
    box, classes = np.array([[20, 20, 60, 60]], "float32"), np.array([2])
    shifts = rng.uniform(-30, 30, (400, 2))
    # 40 x 40 boxes around the box.
    proposals = np.concatenate([20 + shifts, 60 + shifts], axis=1).astype("float32")
    rois = sample_rois(proposals, box, classes, num_samples=128, foreground_fraction=0.25, rng=1)
    assert len(rois["rois"]) == 128
    assert (rois["labels"] == 3).sum() == 32 and (rois["labels"] == 0).sum() == 96
    again = sample_rois(proposals, box, classes, num_samples=128, foreground_fraction=0.25, rng=1)
    np.testing.assert_array_equal(again["rois"], rois["rois"])


def test_ground_truth_joins_the_proposals_and_padding_never_does():
    boxes = np.array([[0, 0, 10, 10], [30, 30, 40, 40]], "float32")
    rois = sample_rois(np.zeros((0, 4), "float32"), boxes, np.array([4, -1]), valid=np.array([True, False]),
                       rng=0)
    assert rois["rois"].tolist() == [[0, 0, 10, 10]] and rois["labels"].tolist() == [5]
    np.testing.assert_allclose(rois["deltas"], 0, atol=1e-6)  # the box itself needs no correction


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: label_anchors(ANCHORS, [[10, 0, 0, 10]]), r"gt_boxes must be corners"),
        (lambda: label_anchors([[10, 0, 0, 10]], BOX), r"anchors must be corners"),
        (lambda: label_anchors(ANCHORS, BOX, valid=[True, False]),
         r"valid must be a boolean array .* \(1,\)"),
        (lambda: label_anchors(ANCHORS, BOX, positive_iou=0.2), r"negative_iou \(0.3.*\) must not exceed"),
        (lambda: sample_anchors([1, 0, 2]), r"labels must be one image's anchor labels"),
        (lambda: sample_anchors([1, 0], num_samples=0), r"num_samples must be an integer of at least 1"),
        (lambda: sample_anchors([1, 0], rng="seed"), r"rng must be a non-negative int seed"),
        (lambda: sample_rois(ANCHORS, BOX, [-1]), r"gt_classes of valid boxes must be between 0 and"),
        (lambda: sample_rois(ANCHORS, BOX, [10], num_classes=10), r"between 0 and num_classes - 1 = 9"),
        (lambda: sample_rois(ANCHORS, BOX, [1, 2]), r"gt_classes must hold one integer class per box"),
        (lambda: sample_rois(ANCHORS, BOX, [1], background_iou=0.1), r"background_iou must be a pair"),
        (lambda: sample_rois(ANCHORS, BOX, [1], background_iou=(0.1, 0.6)), r"high <= foreground_iou"),
    ],
)
def test_bad_arguments_raise_errors_that_name_them(call, message):
    with pytest.raises(ValueError, match=message):
        call()
