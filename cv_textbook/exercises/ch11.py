"""Chapter 11 exercises: object detection's building blocks.

* ``check_iou(build)`` - the student's ``iou(boxes_a, boxes_b)``, the IoU of every pair of two
  sets of pixel corners (N, 4) and (M, 4) -> (N, M), against the package's
  ``detection.iou_matrix`` on random boxes (exercise 1).
* ``check_nms(build)`` - the student's greedy non-maximum suppression ``nms(boxes, scores,
  iou_threshold)`` -> the kept indices, best score first, against the package's
  ``detection.nms`` (equal to ``tf.image.non_max_suppression``, tests/test_nms.py) on random boxes
  and on two small cases made to catch the usual mistakes (exercise 3).
* ``check_anchor_count(answer)`` - how many anchors the region proposal network scores on the
  feature map of the question (exercise 2).

The references are computed, never typed in: the IoUs and the kept boxes by the package's
functions, the anchor count by ``detection.anchors`` on the question's feature map.
"""

from __future__ import annotations

import functools

import numpy as np

from cv_textbook.exercises._feedback import (
    FillIn,
    Hint,
    a_function,
    correct,
    describe,
    describe_error,
    exercise_check,
    first_match,
    hint,
    is_placeholder,
    whole_number,
)

# cv_textbook.detection imports Keras: it is imported inside the functions that need it, so that
# importing this module stays free of Keras and TensorFlow.

__all__ = [
    "ANCHOR_COUNT_QUESTION",
    "ANCHOR_IMAGE_SHAPE",
    "ANCHOR_RATIOS",
    "ANCHOR_SIZES",
    "ANCHOR_STRIDE",
    "IOU_TOLERANCE",
    "NMS_THRESHOLD",
    "anchor_count_reference",
    "check_anchor_count",
    "check_iou",
    "check_nms",
    "iou_cases",
    "nms_cases",
    "nms_reference",
]

IOU_TOLERANCE = 1e-5  # float32 arithmetic in another order; the usual mistakes are far more than this off
NMS_THRESHOLD = 0.5


def _to_numpy(value):
    """A student's result (NumPy, a list, a Keras or TensorFlow tensor) as a NumPy array."""
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        pass
    import keras

    return np.asarray(keras.ops.convert_to_numpy(value), dtype=np.float64)


# ---------------------------------------------------------------------------
# Exercise 1: IoU of two sets of boxes
# ---------------------------------------------------------------------------


def _random_boxes(rng, count: int, canvas: int = 64) -> np.ndarray:
    """``count`` corners (x1, y1, x2, y2) inside a ``canvas``-px square, sides 4 to 30 px, whole pixels."""
    sides = rng.integers(4, 31, size=(count, 2))
    corners = rng.integers(0, canvas - sides + 1, size=(count, 2))
    return np.concatenate([corners, corners + sides], axis=1).astype(np.float32)


@functools.lru_cache(maxsize=None)
def _iou_cases_cached():
    rng = np.random.default_rng(11)
    cases = [(_random_boxes(rng, 7), _random_boxes(rng, 5)) for _ in range(3)]
    # Two boxes side by side (disjoint in x, overlapping in y), two diagonal ones (disjoint in both),
    # one inside another, and a box with itself: each catches one of the mistakes below.
    a = np.array([[0, 0, 10, 10], [20, 20, 30, 30], [2, 2, 8, 8]], np.float32)
    b = np.array([[12, 2, 22, 8], [0, 0, 10, 10], [35, 35, 45, 50], [4, 4, 6, 6]], np.float32)
    cases.append((a, b))
    return tuple(cases)


def iou_cases() -> list[tuple[np.ndarray, np.ndarray]]:
    """The (boxes_a, boxes_b) pairs ``check_iou`` calls the student's function on (copies)."""
    return [(a.copy(), b.copy()) for a, b in _iou_cases_cached()]


def _parts(a, b, plus_one: bool = False):
    """Areas and the clipped intersection of every pair, the building blocks of the mistakes below."""
    one = 1.0 if plus_one else 0.0
    area_a = (a[:, 2] - a[:, 0] + one) * (a[:, 3] - a[:, 1] + one)
    area_b = (b[:, 2] - b[:, 0] + one) * (b[:, 3] - b[:, 1] + one)
    width = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]) + one
    height = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]) + one
    return area_a, area_b, width, height


def _iou_without_clipping(a, b):
    area_a, area_b, width, height = _parts(a, b)
    inter = width * height
    return inter / (area_a[:, None] + area_b[None, :] - inter)


def _iou_plus_one(a, b):
    area_a, area_b, width, height = _parts(a, b, plus_one=True)
    inter = np.maximum(width, 0) * np.maximum(height, 0)
    return inter / (area_a[:, None] + area_b[None, :] - inter)


def _iou_of(a, b):
    area_a, area_b, width, height = _parts(a, b)
    inter = np.maximum(width, 0) * np.maximum(height, 0)
    return inter, area_a[:, None], area_b[None, :]


def _iou_union_is_sum(a, b):
    inter, area_a, area_b = _iou_of(a, b)
    return inter / (area_a + area_b)


def _iou_over_first_area(a, b):
    inter, area_a, _ = _iou_of(a, b)
    return inter / np.broadcast_to(area_a, inter.shape)


def _iou_yx_mixed(a, b):
    """Boxes read as (x1, x2, y1, y2): the second and third numbers swapped."""
    swap = [0, 2, 1, 3]
    a, b = a[:, swap], b[:, swap]
    # What such code computes: the "box" may have x2 < x1, so its area can be negative.
    area_a, area_b, width, height = _parts(a, b)
    inter = np.maximum(width, 0) * np.maximum(height, 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return inter / (area_a[:, None] + area_b[None, :] - inter)


def _iou_xywh(a, b):
    """Boxes read as (x, y, width, height)."""
    a = np.concatenate([a[:, :2], a[:, :2] + a[:, 2:]], axis=1)
    b = np.concatenate([b[:, :2], b[:, :2] + b[:, 2:]], axis=1)
    inter, area_a, area_b = _iou_of(a, b)
    return inter / (area_a + area_b - inter)


def _iou_min_max_swapped(a, b):
    """The enclosing box instead of the intersection: max of the right edges minus min of the left ones."""
    width = np.maximum(a[:, None, 2], b[None, :, 2]) - np.minimum(a[:, None, 0], b[None, :, 0])
    height = np.maximum(a[:, None, 3], b[None, :, 3]) - np.minimum(a[:, None, 1], b[None, :, 1])
    _, area_a, area_b = _iou_of(a, b)
    inter = width * height
    return inter / (area_a + area_b - inter)


IOU_MISTAKES = [
    (_iou_without_clipping,
     "two boxes that do not overlap have a *negative* width or height of overlap; clip both at 0 "
     "(np.maximum(0, ...)) before multiplying, or disjoint boxes get a negative IoU, or a positive one when "
     "both are negative."),
    (_iou_plus_one,
     "you added 1 to the widths and heights (the old Pascal VOC convention for boxes whose x2 is the last "
     "pixel). The package's corners have x2 one past the last pixel, so the width is x2 - x1, no + 1."),
    (_iou_union_is_sum,
     "the union counts the overlap once: area_a + area_b - intersection, not area_a + area_b."),
    (_iou_over_first_area,
     "you divided by the area of the first box only; IoU divides by the union of both."),
    (_iou_yx_mixed,
     "the coordinates are mixed up: a box is (x1, y1, x2, y2), so x1 and x2 are numbers 0 and 2 and y1 and y2 "
     "numbers 1 and 3 (you read them as (x1, x2, y1, y2))."),
    (_iou_xywh,
     "the boxes are corners (x1, y1, x2, y2), not (x, y, width, height): the width is x2 - x1."),
    (_iou_min_max_swapped,
     "min and max are swapped: the overlap starts at the larger of the two left edges (max of x1) and ends "
     "at the smaller of the two right edges (min of x2). You computed the box that encloses both."),
]


def _reference_iou(a, b) -> np.ndarray:
    import keras

    from cv_textbook.detection import iou_matrix

    return np.asarray(keras.ops.convert_to_numpy(iou_matrix(a, b)), dtype=np.float64)


def _close(given, expected, equal_nan: bool = False) -> bool:
    return given.shape == expected.shape and bool(np.allclose(given, expected, atol=IOU_TOLERANCE, rtol=0,
                                                               equal_nan=equal_nan))


@exercise_check
def check_iou(build) -> bool:
    """Call ``build(boxes_a, boxes_b)`` on random and hand-made boxes; compare with ``detection.iou_matrix``."""
    build = a_function(build, fill_in="pass your function iou.", example="check_iou(iou)")
    cases = iou_cases()
    results = []
    for a, b in cases:
        try:
            result = build(a.copy(), b.copy())
        except NotImplementedError:
            raise FillIn("write iou (replace the `raise NotImplementedError`).") from None
        except Exception as error:  # anything the student wrote may fail: report it, do not crash
            raise Hint(f"iou raised on boxes of shapes {a.shape} and {b.shape}: {describe_error(error)}") from None
        if is_placeholder(result):
            raise FillIn("iou must return the (N, M) array of IoUs.")
        try:
            results.append(_to_numpy(result))
        except Exception:
            raise Hint(f"iou must return an array of numbers, got {describe(result)}.") from None
    for (a, b), given in zip(cases, results):
        expected_shape = (len(a), len(b))
        if given.shape == expected_shape[::-1]:
            return hint(f"the result has shape {given.shape}, the transpose of the expected {expected_shape}: "
                        "row i, column j is the IoU of boxes_a[i] with boxes_b[j].")
        if given.shape != expected_shape:
            return hint(f"for {len(a)} and {len(b)} boxes the result must have shape {expected_shape}, one IoU "
                        f"per pair, got {given.shape}. Broadcast: a[:, None, k] against b[None, :, k].")
    references = [_reference_iou(a, b) for a, b in cases]
    if all(_close(given, expected) for given, expected in zip(results, references)):
        a, b = cases[-1]
        return correct(
            f"the same IoUs as the package's detection.iou_matrix (Keras' compute_iou) on {len(cases)} sets of "
            f"boxes, {sum(r.size for r in references)} pairs in all: 1 for a box with itself "
            f"({references[-1][0, 1]:.2f} here), 0 for boxes that do not touch, and "
            f"{references[-1][2, 3]:.2f} for the 2x2 box inside the 6x6 one (4/36)."
        )
    for wrong, message in IOU_MISTAKES:
        with np.errstate(divide="ignore", invalid="ignore"):
            if all(_close(given, wrong(a.astype(np.float64), b.astype(np.float64)), equal_nan=True)
                   for given, (a, b) in zip(results, cases)):
                return hint(message)
    if any(np.any(given < -IOU_TOLERANCE) | np.any(given > 1 + IOU_TOLERANCE) for given in results):
        return hint("an IoU lies between 0 and 1, and yours does not for some pairs: clip the overlap's width "
                    "and height at 0, and divide by the union, area_a + area_b - intersection.")
    return hint("for every pair: overlap width = min(x2) - max(x1), clipped at 0, the same for the height; "
                "intersection = width * height; IoU = intersection / (area_a + area_b - intersection).")


# ---------------------------------------------------------------------------
# Exercise 3: greedy non-maximum suppression
# ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _nms_cases_cached():
    rng = np.random.default_rng(12)
    cases = []
    for count in (12, 30):
        boxes = _random_boxes(rng, count, canvas=48)
        scores = rng.permutation(count).astype(np.float32) / count + 0.01  # distinct scores, not sorted
        cases.append((boxes, scores))
    # A chain: A (index 1, the best) overlaps B (index 2) and B overlaps C (index 0), IoU 80/120 each, but A
    # and C only 60/140 = 0.43. Greedy NMS keeps A, removes B, and keeps C: only *kept* boxes suppress.
    chain = np.array([[4, 0, 14, 10], [0, 0, 10, 10], [2, 0, 12, 10]], np.float32)
    cases.append((chain, np.array([0.7, 0.9, 0.8], np.float32)))
    # An IoU of exactly the threshold (4 / 8 = 0.5): greedy NMS removes a box only above it.
    tie = np.array([[0, 0, 2, 2], [0, 0, 4, 2], [10, 10, 20, 20]], np.float32)
    cases.append((tie, np.array([0.5, 0.8, 0.3], np.float32)))
    return tuple(cases)


def nms_cases() -> list[tuple[np.ndarray, np.ndarray]]:
    """The (boxes, scores) cases ``check_nms`` calls the student's function on (copies)."""
    return [(boxes.copy(), scores.copy()) for boxes, scores in _nms_cases_cached()]


def nms_reference(boxes, scores, iou_threshold: float = NMS_THRESHOLD) -> list[int]:
    """The package's ``detection.nms`` (TensorFlow's rules): kept indices, best score first."""
    import keras

    from cv_textbook.detection import nms

    indices, count = nms(boxes, scores, iou_threshold, max_outputs=len(boxes))
    return [int(i) for i in keras.ops.convert_to_numpy(indices)[: int(count)]]


def _greedy(boxes, scores, threshold, *, order=None, at_threshold=False, only_kept=True):
    """Greedy NMS with one rule changed, to recognise a mistake."""
    inter, area_a, area_b = _iou_of(boxes.astype(np.float64), boxes.astype(np.float64))
    iou = inter / (area_a + area_b - inter)
    order = list(np.argsort(-scores, kind="stable")) if order is None else list(order)
    kept, removed = [], set()
    for index in order:
        others = kept if only_kept else [j for j in order[: order.index(index)]]
        overlap = [iou[index, j] for j in others]
        if any(value >= threshold if at_threshold else value > threshold for value in overlap):
            removed.add(index)
            continue
        kept.append(int(index))
    return kept


NMS_MISTAKES = [
    (lambda boxes, scores, t: sorted(nms_reference(boxes, scores, t)),
     "the right boxes, but in index order: return them from the highest score down (the order in which "
     "greedy NMS keeps them)."),
    (lambda boxes, scores, t: _greedy(boxes, scores, t, only_kept=False),
     "a box that was suppressed must not suppress others: compare each box only with the boxes already "
     "*kept*. (A overlaps B and B overlaps C; with A kept and B removed, C stays.)"),
    (lambda boxes, scores, t: _greedy(boxes, scores, t, at_threshold=True),
     f"a box whose IoU with a kept box is exactly the threshold ({NMS_THRESHOLD}) stays: suppress only when "
     "IoU > iou_threshold (TensorFlow's rule), not >=."),
    (lambda boxes, scores, t: _greedy(boxes, scores, t, order=np.argsort(scores, kind="stable")),
     "you went from the lowest score up. Greedy NMS starts with the best box, keeps it, and removes what "
     "overlaps it."),
    (lambda boxes, scores, t: _greedy(boxes, scores, t, order=range(len(boxes))),
     "you went through the boxes in the order they come. Sort them by score first, the highest first "
     "(np.argsort(-scores))."),
    (lambda boxes, scores, t: list(np.argsort(-scores, kind="stable")),
     "nothing was suppressed: every box is still there. Drop a box when its IoU with a kept box is above "
     "iou_threshold."),
]


def _indices(result, count: int) -> list[int]:
    """A student's kept indices as a list of ints, or a Hint."""
    if is_placeholder(result):
        raise FillIn("nms must return the indices of the kept boxes.")
    try:
        array = _to_numpy(result).reshape(-1)
    except Exception:
        raise Hint(f"nms must return a list or array of box indices, got {describe(result)}.") from None
    if isinstance(result, np.ndarray) and result.dtype == bool or (
            len(array) == count and set(np.unique(array)) <= {0.0, 1.0} and count > 3):
        raise Hint("return the *indices* of the kept boxes (e.g. [4, 0, 7]), not a True/False mask.")
    if not np.all(array == np.round(array)):
        raise Hint(f"nms must return whole numbers, the indices of the kept boxes, got {describe(result)}.")
    return [int(i) for i in array]


@exercise_check
def check_nms(build) -> bool:
    """Call ``build(boxes, scores, iou_threshold)`` on random and hand-made cases; compare the kept indices."""
    build = a_function(build, fill_in="pass your function nms.", example="check_nms(nms)")
    cases = nms_cases()
    results = []
    for boxes, scores in cases:
        try:
            result = build(boxes.copy(), scores.copy(), NMS_THRESHOLD)
        except NotImplementedError:
            raise FillIn("write nms (replace the `raise NotImplementedError`).") from None
        except Exception as error:  # anything the student wrote may fail: report it, do not crash
            raise Hint(f"nms raised on {len(boxes)} boxes: {describe_error(error)}") from None
        results.append(_indices(result, len(boxes)))
    references = [nms_reference(boxes, scores) for boxes, scores in cases]
    if results == references:
        return correct(
            f"the same boxes in the same order as the package's detection.nms (and tf.image.non_max_suppression) "
            f"on {len(cases)} cases: of {len(cases[1][0])} random boxes it keeps {len(references[1])}; in the "
            f"chain A-B-C it keeps {references[2]}, because B, once removed, no longer removes C; and a box at "
            f"IoU exactly {NMS_THRESHOLD} stays ({references[3]})."
        )
    for wrong, message in NMS_MISTAKES:
        if all(given == wrong(boxes, scores, NMS_THRESHOLD) for given, (boxes, scores) in zip(results, cases)):
            return hint(message)
    for given, (boxes, _) in zip(results, cases):
        if any(not 0 <= i < len(boxes) for i in given) or len(set(given)) != len(given):
            return hint(f"the indices must be distinct and between 0 and {len(boxes) - 1}, got {given}.")
    return hint("sort the boxes by score, highest first; take the best, keep it, and drop every remaining box "
                "whose IoU with it is above iou_threshold; repeat with the best box left until none remains.")


# ---------------------------------------------------------------------------
# Exercise 2: how many anchors?
# ---------------------------------------------------------------------------

# The paper's setting (Ren et al. 2015, §3.1.1): VGG-16's conv5_3 at stride 16, 3 sizes x 3 ratios,
# on an image whose sides are multiples of 16 so that no rounding is needed.
ANCHOR_IMAGE_SHAPE = (640, 960)
ANCHOR_STRIDE = 16
ANCHOR_SIZES = (128, 256, 512)
ANCHOR_RATIOS = (0.5, 1.0, 2.0)

ANCHOR_COUNT_QUESTION = (
    f"Faster R-CNN reads a {ANCHOR_IMAGE_SHAPE[0]}x{ANCHOR_IMAGE_SHAPE[1]} image with VGG-16, whose last "
    f"feature map (conv5_3) has stride {ANCHOR_STRIDE}. At every position of that map the RPN looks at "
    f"{len(ANCHOR_SIZES)} sizes {ANCHOR_SIZES} x {len(ANCHOR_RATIOS)} aspect ratios {ANCHOR_RATIOS}. How many "
    "anchors does it score for the whole image?"
)


def anchor_count_reference() -> int:
    """The number of rows of ``detection.anchors`` for the question's feature map."""
    from cv_textbook.detection import anchors

    feature_shape = tuple(side // ANCHOR_STRIDE for side in ANCHOR_IMAGE_SHAPE)
    return int(len(anchors(feature_shape, ANCHOR_STRIDE, ANCHOR_SIZES, ANCHOR_RATIOS)))


@exercise_check
def check_anchor_count(answer) -> bool:
    """Check the number of anchors of the question's image (feature positions x anchors per position)."""
    given = whole_number(answer, fill_in="replace None by a number: the anchors of the whole image.")
    height, width = (side // ANCHOR_STRIDE for side in ANCHOR_IMAGE_SHAPE)
    per_position = len(ANCHOR_SIZES) * len(ANCHOR_RATIOS)
    positions = height * width
    expected = anchor_count_reference()
    assert expected == positions * per_position, "the arithmetic must agree with detection.anchors"
    if given == expected:
        return correct(
            f"the feature map is {ANCHOR_IMAGE_SHAPE[0]}/{ANCHOR_STRIDE} x {ANCHOR_IMAGE_SHAPE[1]}/{ANCHOR_STRIDE} "
            f"= {height} x {width} = {positions:,} positions (the paper: 'typically ~2,400'), each with "
            f"{len(ANCHOR_SIZES)} x {len(ANCHOR_RATIOS)} = {per_position} anchors: {expected:,} in all "
            "(detection.anchors agrees). The RPN gives each one objectness score and four deltas."
        )
    image_pixels = ANCHOR_IMAGE_SHAPE[0] * ANCHOR_IMAGE_SHAPE[1]
    mistakes = [
        (positions, f"{positions:,} is the number of positions of the feature map; each has {per_position} "
                    "anchors."),
        (per_position, f"{per_position} is the number of anchors at *one* position; the feature map has "
                       f"{height} x {width} of them."),
        (positions * len(ANCHOR_SIZES), f"each size comes in {len(ANCHOR_RATIOS)} aspect ratios: "
                                        f"{per_position} anchors per position, not {len(ANCHOR_SIZES)}."),
        (image_pixels * per_position, "anchors sit at the positions of the feature map, one per "
                                      f"{ANCHOR_STRIDE}x{ANCHOR_STRIDE} block of pixels, not at every pixel."),
        (positions * per_position * 4, "that counts the four deltas of every anchor (the RPN's box outputs); "
                                       "the question asks for the anchors themselves."),
        (positions * per_position * 5, "that counts the RPN's outputs (one score and four deltas per anchor); "
                                       "the question asks for the anchors themselves."),
        ((ANCHOR_IMAGE_SHAPE[0] // 32) * (ANCHOR_IMAGE_SHAPE[1] // 32) * per_position,
         f"the stride is {ANCHOR_STRIDE}, not 32: conv5_3 comes before VGG-16's fifth pooling."),
    ]
    return hint(
        first_match(given, mistakes)
        or f"divide each side of the image by the stride to get the feature map's size, then multiply the "
        f"number of positions by the anchors per position ({len(ANCHOR_SIZES)} sizes x {len(ANCHOR_RATIOS)} "
        "ratios)."
    )
