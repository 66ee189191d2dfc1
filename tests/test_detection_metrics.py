"""Detection mAP: hand-worked Pascal VOC and COCO cases, and pycocotools' COCOeval as the referee."""

import contextlib
import io
import math

import numpy as np
import pytest

from cv_textbook import metrics
from cv_textbook.metrics import (
    COCO_IOU_THRESHOLDS,
    average_precision,
    average_precision_per_class,
    coco_average_precision_per_class,
    coco_mean_average_precision,
    mean_average_precision,
    precision_recall_curves,
)

# One image, one class, three boxes far apart, four detections, best score first:
#   0.9 on box A (IoU 1)                    -> TP   recall 1/3  precision 1
#   0.8 far from everything                 -> FP   recall 1/3  precision 1/2
#   0.7 on box B shifted by 2 px: IoU 80/120 = 2/3 -> TP at IoU <= 0.65, FP above
#   0.6 on box A again (A is taken)         -> FP (a duplicate)
# Box C is never found.
BOXES = [[0, 0, 10, 10], [20, 0, 30, 10], [40, 0, 50, 10]]
FOUND = [[0, 0, 10, 10], [100, 100, 110, 110], [22, 0, 32, 10], [0, 0, 10, 10]]
SCORES = [0.9, 0.8, 0.7, 0.6]
GROUND_TRUTH = [(BOXES, [0, 0, 0])]
DETECTIONS = [(FOUND, [0, 0, 0, 0], SCORES)]
# At IoU 0.5: TP FP TP FP -> recall 1/3, 1/3, 2/3, 2/3; precision 1, 1/2, 2/3, 1/2;
# upper envelope 1, 2/3, 2/3, 1/2.
# All points (VOC 2010 on): 1/3 * 1 + 1/3 * 2/3 = 5/9.
# 101 points (COCO): recalls 0.00..0.33 (34 points) read 1, 0.34..0.66 (33) read 2/3, 0.67..1 read 0:
#   (34 + 33 * 2/3) / 101 = 56/101.
# At IoU >= 0.7 the third detection misses too: TP FP FP FP -> all points 1/3, 101 points 34/101.
VOC_AP_AT_HALF = 5 / 9
COCO_AP_AT_HALF = 56 / 101
# COCO's ten thresholds 0.50..0.95: four (0.50, 0.55, 0.60, 0.65) accept IoU 2/3, six do not.
COCO_AP = (4 * 56 / 101 + 6 * 34 / 101) / 10


def test_voc_ap_by_hand():
    assert mean_average_precision(GROUND_TRUTH, DETECTIONS) == pytest.approx(VOC_AP_AT_HALF, abs=1e-12)
    at_0_7 = mean_average_precision(GROUND_TRUTH, DETECTIONS, iou_threshold=0.7)
    assert at_0_7 == pytest.approx(1 / 3, abs=1e-12)


def test_coco_ap_by_hand():
    at_half = average_precision_per_class(GROUND_TRUTH, DETECTIONS, 0.5, interpolation="101_points")
    np.testing.assert_allclose(at_half, [COCO_AP_AT_HALF], atol=1e-12)
    assert coco_mean_average_precision(GROUND_TRUTH, DETECTIONS) == pytest.approx(COCO_AP, abs=1e-12)
    per_class = coco_average_precision_per_class(GROUND_TRUTH, DETECTIONS)
    np.testing.assert_allclose(per_class, [COCO_AP], atol=1e-12)


def test_precision_recall_curve_by_hand():
    (curve,) = precision_recall_curves(GROUND_TRUTH, DETECTIONS, iou_threshold=0.5)
    np.testing.assert_allclose(curve.recall, [1 / 3, 1 / 3, 2 / 3, 2 / 3])
    np.testing.assert_allclose(curve.precision, [1, 1 / 2, 2 / 3, 1 / 2])
    assert curve.true_positive.tolist() == [True, False, True, False] and curve.num_ground_truth == 3
    np.testing.assert_allclose(curve.scores, SCORES)
    assert curve.average_precision() == pytest.approx(VOC_AP_AT_HALF, abs=1e-12)


def test_average_precision_of_a_curve_by_hand():
    # A perfect detector: recall 1/2, 1 at precision 1 -> area 1 whichever way it is read.
    assert average_precision([0.5, 1.0], [1.0, 1.0]) == 1.0
    assert average_precision([0.5, 1.0], [1.0, 1.0], "101_points") == pytest.approx(1.0, abs=1e-12)
    # A dip in precision is filled by the envelope: (0.205, 1), (0.505, 0.5), (0.805, 0.6)
    # -> envelope 1, 0.6, 0.6: all points 0.205 * 1 + 0.6 * 0.6 = 0.565; 101 points: recalls 0.00..0.20
    # (21 points) read 1, 0.21..0.80 (60) read 0.6, the rest 0: (21 + 36) / 101 = 57/101.
    recall, precision = [0.205, 0.505, 0.805], [1.0, 0.5, 0.6]
    assert average_precision(recall, precision) == pytest.approx(0.565, abs=1e-12)
    assert average_precision(recall, precision, "101_points") == pytest.approx(57 / 101, abs=1e-12)
    assert average_precision([], []) == 0.0


def test_map_averages_the_classes_with_boxes_only():
    # Class 0 as above (5/9); class 1 has a box and no detection (AP 0); class 2 only a detection, no box
    # (no AP).
    ground_truth = [([*BOXES, [60, 60, 70, 70]], [0, 0, 0, 1])]
    detections = [([*FOUND, [90, 0, 100, 10]], [0, 0, 0, 0, 2], [*SCORES, 0.95])]
    per_class = average_precision_per_class(ground_truth, detections, num_classes=3)
    np.testing.assert_allclose(per_class[:2], [VOC_AP_AT_HALF, 0.0], atol=1e-12)
    assert math.isnan(per_class[2])
    assert mean_average_precision(ground_truth, detections, num_classes=3) == pytest.approx(5 / 18, abs=1e-12)


def test_a_detection_counts_only_in_its_own_image_and_class():
    # Image 2 has no box where image 1 has one: its detection is a false positive. A class-1 detection on
    # image 1's class-0 box counts for class 1, which has no box (left out). Class 0: TP (0.9),
    # FP (0.8, image 2) -> recall 1 at precision 1 first: AP 1.
    ground_truth = [([[0, 0, 10, 10]], [0]), ([], [])]
    detections = [([[0, 0, 10, 10], [0, 0, 10, 10]], [0, 1], [0.9, 0.7]), ([[0, 0, 10, 10]], [0], [0.8])]
    assert mean_average_precision(ground_truth, detections) == 1.0
    (curve, no_boxes) = precision_recall_curves(ground_truth, detections)
    assert curve.true_positive.tolist() == [True, False] and no_boxes is None


def test_max_detections_keeps_each_images_best_per_class():
    # Three detections, scores 0.9 (FP), 0.8 (FP), 0.7 (TP): with max_detections=2 the TP is cut, AP 0;
    # with all three, recall 1 at precision 1/3: AP 1/3.
    ground_truth = [([[0, 0, 10, 10]], [0])]
    detections = [([[50, 50, 60, 60], [70, 70, 80, 80], [0, 0, 10, 10]], [0, 0, 0], [0.9, 0.8, 0.7])]
    assert mean_average_precision(ground_truth, detections) == pytest.approx(1 / 3, abs=1e-12)
    assert mean_average_precision(ground_truth, detections, max_detections=2) == 0.0


def test_an_iou_exactly_at_the_threshold_matches():
    # Detection (0,0,10,20) on box (0,0,10,10): IoU 100 / 200 = 0.5, a match at 0.5 (COCOeval's >=).
    ground_truth = [([[0, 0, 10, 10]], [0])]
    detections = [([[0, 0, 10, 20]], [0], [0.5])]
    assert mean_average_precision(ground_truth, detections, iou_threshold=0.5) == 1.0
    assert mean_average_precision(ground_truth, detections, iou_threshold=0.51) == 0.0


# Two overlapping boxes, A (0,0,10,10) and B (2,0,12,10), and two detections:
#   0.9 exactly on A -> takes A.
#   0.8 at (0.5,0,10.5,10): IoU 9.5/10.5 = 0.90 with A (taken) and 8.5/11.5 = 0.74 with B: COCOeval falls
#   back to B (a TP at IoU 0.5, AP 1; the VOC devkit would call it a duplicate, AP 0.5); at IoU 0.75 it
#   misses: AP 0.5.
FALLBACK = (
    [([[0, 0, 10, 10], [2, 0, 12, 10]], [0, 0])],
    [([[0, 0, 10, 10], [0.5, 0, 10.5, 10]], [0, 0], [0.9, 0.8])],
)
# Boxes A (0,0,10,10) and B (5,0,15,10), detections 0.9 at (2.5,0,12.5,10), IoU 75/125 = 0.6 with both,
# and 0.8 exactly on B. COCOeval gives a tie to the later box, B: the second detection then finds B taken
# and A at IoU 1/3, a FP: recall 1/2 at precision 1, AP 0.5 (with A first, both would match: AP 1).
TIE = (
    [([[0, 0, 10, 10], [5, 0, 15, 10]], [0, 0])],
    [([[2.5, 0, 12.5, 10], [5, 0, 15, 10]], [0, 0], [0.9, 0.8])],
)


@pytest.mark.parametrize(
    "case, iou_threshold, all_points, points_101",
    # One box of two found at precision 1: all points 0.5; 101 points read 1 at recalls 0.00..0.50: 51/101.
    [(FALLBACK, 0.5, 1.0, 1.0), (FALLBACK, 0.75, 0.5, 51 / 101), (TIE, 0.5, 0.5, 51 / 101)],
)
def test_matching_follows_cocoeval_when_boxes_compete(case, iou_threshold, all_points, points_101):
    ground_truth, detections = case
    voc = mean_average_precision(ground_truth, detections, iou_threshold)
    assert voc == pytest.approx(all_points, abs=1e-12)
    ours = average_precision_per_class(ground_truth, detections, iou_threshold, interpolation="101_points")
    np.testing.assert_allclose(ours, [points_101], atol=1e-12)
    evaluation = cocoeval(ground_truth, detections, num_classes=1, iou_thresholds=[iou_threshold])
    np.testing.assert_allclose(coco_per_class(evaluation), [points_101], atol=1e-12)


def test_metrics_package_re_exports_the_detection_metrics():
    assert metrics.mean_average_precision is mean_average_precision
    assert len(COCO_IOU_THRESHOLDS) == 10 and COCO_IOU_THRESHOLDS[0] == 0.5
    assert COCO_IOU_THRESHOLDS[-1] == pytest.approx(0.95)


@pytest.mark.parametrize(
    "ground_truth, detections, keywords, message",
    [
        ([], [], {}, r"ground_truth must hold at least one image, got an empty list"),
        (GROUND_TRUTH, [], {}, r"detections must have one entry per image of ground_truth"),
        ([([[10, 0, 0, 10]], [0])], [([], [], [])], {}, r"ground_truth\[0\] boxes must be corners"),
        (GROUND_TRUTH, [([[0, 10, 10, 0]], [0], [1.0])], {}, r"detections\[0\] boxes must be corners"),
        (GROUND_TRUTH, [([[0, 0, 5, 5]], [3], [1.0])], {"num_classes": 3},
         r"classes must be below num_classes = 3; found class 3"),
        ([([[0, 0, 1, 1]], [-1])], [([], [], [])], {},
         r"ground_truth\[0\] classes must hold classes of at least 0"),
        (GROUND_TRUTH, [([[0, 0, 5, 5]], [0], [1.0, 2.0])], {}, r"detections\[0\] scores must be 1 finite"),
        (GROUND_TRUTH, [([[0, 0, 5, 5]], [0, 1], [1.0])], {},
         r"detections\[0\] classes must have one class per box"),
        ([([], [])], [([], [], [])], {}, r"ground_truth must hold at least one box"),
        (GROUND_TRUTH, DETECTIONS, {"iou_threshold": 1.5}, r"iou_threshold must be an IoU between 0 and 1"),
        ([[BOXES]], DETECTIONS, {}, r"ground_truth\[0\] must be a tuple \(boxes, classes\)"),
    ],
)
def test_bad_inputs_raise_errors_that_name_them(ground_truth, detections, keywords, message):
    with pytest.raises(ValueError, match=message):
        mean_average_precision(ground_truth, detections, **keywords)


# --------------------------------------------------------------------------- pycocotools as the referee


def random_detection_problem(seed, images=40, num_classes=4):
    """Boxes of classes 0..num_classes-2 (the last class has detections only), and a noisy detector's output:
    shifted copies of most boxes, some duplicates, some wrong classes, some boxes anywhere; random scores."""
    rng = np.random.default_rng(seed)
    ground_truth, detections = [], []
    for _ in range(images):
        count = int(rng.integers(0, 5))
        corner = rng.uniform(0, 100, (count, 2))
        boxes = np.concatenate([corner, corner + rng.uniform(8, 50, (count, 2))], axis=1)
        classes = rng.integers(0, num_classes - 1, count)
        found, found_classes = [], []
        for box, label in zip(boxes, classes):
            for _ in range(int(rng.choice([0, 1, 1, 1, 2]))):  # missed, found, found twice
                size = box[2:] - box[:2]
                shifted = box + rng.normal(0, 0.12, 4) * np.concatenate([size, size])
                found.append(np.concatenate([np.minimum(shifted[:2], shifted[2:]), np.maximum(shifted[:2],
                                                                                            shifted[2:])]))
                found_classes.append(label if rng.uniform() < 0.85 else int(rng.integers(0, num_classes)))
        for _ in range(int(rng.integers(0, 4))):  # false alarms anywhere, of any class
            corner = rng.uniform(0, 100, 2)
            found.append(np.concatenate([corner, corner + rng.uniform(8, 50, 2)]))
            found_classes.append(int(rng.integers(0, num_classes)))
        ground_truth.append((boxes, classes))
        scores = rng.uniform(0, 1, len(found))
        detections.append((np.array(found).reshape(-1, 4), np.array(found_classes, int), scores))
    return ground_truth, detections


def cocoeval(ground_truth, detections, num_classes, iou_thresholds=None, max_detections=(100,)):
    """pycocotools' COCOeval, evaluated and accumulated: boxes go in as COCO's (x, y, width, height),
    image i as id i + 1, class k as category k + 1 (COCO's ids 0 mean "no match")."""
    coco = pytest.importorskip(
        "pycocotools.coco", reason="pycocotools is not installed (pip install '.[test]')"
    )
    cocoeval_module = pytest.importorskip("pycocotools.cocoeval")

    def xywh(box):
        x1, y1, x2, y2 = (float(value) for value in box)
        return [x1, y1, x2 - x1, y2 - y1]

    annotations = [
        {"id": 0, "image_id": image + 1, "category_id": int(label) + 1, "bbox": xywh(box), "iscrowd": 0,
         "area": xywh(box)[2] * xywh(box)[3]}
        for image, (boxes, classes) in enumerate(ground_truth) for box, label in zip(boxes, classes)
    ]
    for number, annotation in enumerate(annotations):
        annotation["id"] = number + 1
    results = [
        {"image_id": image + 1, "category_id": int(label) + 1, "bbox": xywh(box), "score": float(score)}
        for image, (boxes, classes, scores) in enumerate(detections)
        for box, label, score in zip(boxes, classes, scores)
    ]
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
        truth = coco.COCO()
        truth.dataset = {
            "images": [{"id": image + 1} for image in range(len(ground_truth))],
            "annotations": annotations,
            "categories": [{"id": k + 1} for k in range(num_classes)],
        }
        truth.createIndex()
        evaluation = cocoeval_module.COCOeval(truth, truth.loadRes(results), "bbox")
        evaluation.params.maxDets = list(max_detections)
        if iou_thresholds is not None:
            evaluation.params.iouThrs = np.array(iou_thresholds, dtype=np.float64)
        evaluation.evaluate()
        evaluation.accumulate()
    return evaluation


def coco_per_class(evaluation):
    """Each class's AP from COCOeval's precision array [threshold, recall, class, area, max detections]:
    area "all", the last of max_detections; NaN for a class without boxes (COCOeval's -1)."""
    precision = evaluation.eval["precision"][:, :, :, 0, -1]
    return np.array([np.nan if (precision[:, :, k] == -1).all() else precision[:, :, k].mean()
                     for k in range(precision.shape[2])])


@pytest.mark.parametrize("seed", range(3))
def test_coco_map_equals_pycocotools(seed):
    ground_truth, detections = random_detection_problem(seed)
    evaluation = cocoeval(ground_truth, detections, num_classes=4)
    expected = coco_per_class(evaluation)
    assert math.isnan(expected[3]) and not np.isnan(expected[:3]).any()
    ours = coco_average_precision_per_class(ground_truth, detections, 4)
    np.testing.assert_allclose(ours, expected, atol=1e-6)
    mean = coco_mean_average_precision(ground_truth, detections, 4)
    assert mean == pytest.approx(np.nanmean(expected), abs=1e-6)


def test_coco_map_equals_pycocotools_summary_line():
    # COCOeval.summarize's first line, "AP @[ IoU=0.50:0.95 | area=all | maxDets=100 ]" (stats[0]), and its
    # second, AP at IoU 0.5 with 101 points (stats[1]).
    ground_truth, detections = random_detection_problem(7, images=60)
    evaluation = cocoeval(ground_truth, detections, num_classes=4, max_detections=(1, 10, 100))
    with contextlib.redirect_stdout(io.StringIO()):
        evaluation.summarize()
    mean = coco_mean_average_precision(ground_truth, detections, 4)
    assert mean == pytest.approx(evaluation.stats[0], abs=1e-6)
    at_half = average_precision_per_class(ground_truth, detections, 0.5, 4, 100, "101_points")
    assert float(np.nanmean(at_half)) == pytest.approx(evaluation.stats[1], abs=1e-6)


def test_max_detections_per_image_and_class_equals_pycocotools():
    ground_truth, detections = random_detection_problem(11)
    evaluation = cocoeval(ground_truth, detections, num_classes=4, max_detections=(1,))
    expected = coco_per_class(evaluation)
    ours = coco_average_precision_per_class(ground_truth, detections, 4, max_detections=1)
    np.testing.assert_allclose(ours, expected, atol=1e-6)
    # The cut costs recall: below the mAP over all detections.
    assert np.nanmean(expected) < coco_mean_average_precision(ground_truth, detections, 4)


def voc_devkit_area(recall, precision):
    """The Pascal VOC devkit's VOCap (2010 on), transcribed: pad the curve with (0, 0) and (1, 0), make
    precision non-increasing from the right, sum the rectangles where recall changes."""
    recall = np.concatenate([[0.0], recall, [1.0]])
    precision = np.concatenate([[0.0], precision, [0.0]])
    for i in range(len(precision) - 2, -1, -1):
        precision[i] = max(precision[i], precision[i + 1])
    changes = np.flatnonzero(recall[1:] != recall[:-1]) + 1
    return float(np.sum((recall[changes] - recall[changes - 1]) * precision[changes]))


@pytest.mark.parametrize("iou_threshold", [0.5, 0.75])
def test_voc_map_equals_the_devkits_area_under_pycocotools_matches(iou_threshold):
    # COCOeval decides which detections match (the one rule both metrics share); the VOC devkit's formula
    # takes the exact area under the resulting curve. Every detection counts: max detections far above any
    # image's.
    ground_truth, detections = random_detection_problem(5)
    evaluation = cocoeval(ground_truth, detections, num_classes=4, iou_thresholds=[iou_threshold],
                          max_detections=(1000,))
    expected = []
    for k in range(4):
        per_image = [e for e in evaluation.evalImgs if e is not None and e["category_id"] == k + 1
                     and e["aRng"] == evaluation.params.areaRng[0]]
        boxes = sum(int((e["gtIgnore"] == 0).sum()) for e in per_image)
        if boxes == 0:
            expected.append(np.nan)
            continue
        scores = np.concatenate([e["dtScores"] for e in per_image])
        matched = np.concatenate([e["dtMatches"][0] > 0 for e in per_image])
        matched = matched[np.argsort(-scores, kind="mergesort")]  # COCOeval's order: best score first, stable
        true_positives, false_positives = np.cumsum(matched), np.cumsum(~matched)
        precision = true_positives / (true_positives + false_positives)
        expected.append(voc_devkit_area(true_positives / boxes, precision))
    ours = average_precision_per_class(ground_truth, detections, iou_threshold, 4)
    np.testing.assert_allclose(ours, expected, atol=1e-6)
    assert mean_average_precision(ground_truth, detections, iou_threshold, 4) == pytest.approx(
        np.nanmean(expected), abs=1e-6
    )
