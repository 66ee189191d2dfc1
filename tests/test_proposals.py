"""Selective search (OpenCV's ximgproc): R-CNN's region proposals on hand-made images and on the canvases."""

import types

import numpy as np
import pytest

cv2 = pytest.importorskip(
    "cv2", reason="OpenCV is not installed (pip install opencv-contrib-python-headless)"
)
if not hasattr(cv2, "ximgproc"):
    pytest.skip(
        "cv2 lacks ximgproc (selective search): install opencv-contrib-python-headless instead of "
        "opencv-python(-headless)",
        allow_module_level=True,
    )

from cv_textbook.detection import proposals as proposals_module  # noqa: E402
from cv_textbook.detection.proposals import MODES, selective_search  # noqa: E402

SIZE = 128


def rectangles_image():
    """Black, with a grey 20 x 30 rectangle at columns 40..59, rows 50..79 and a darker one at columns
    90..119, rows 10..29: corners (40, 50, 60, 80) and (90, 10, 120, 30), one past the last pixel."""
    image = np.zeros((SIZE, SIZE), np.uint8)
    image[50:80, 40:60] = 200
    image[10:30, 90:120] = 120
    return image


def iou(boxes_a, boxes_b):
    """IoU of every pair of corner boxes, in plain NumPy (not the package's Keras-based iou_matrix)."""
    a, b = np.asarray(boxes_a, np.float64)[:, None], np.asarray(boxes_b, np.float64)[None]
    width = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    height = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    area = lambda boxes: (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])  # noqa: E731
    intersection = width * height
    return intersection / (area(a) + area(b) - intersection)


def as_set(boxes):
    return {tuple(box) for box in boxes.tolist()}


@pytest.mark.parametrize("mode", MODES)
def test_each_rectangle_on_black_is_proposed_in_every_mode(mode):
    # A uniform rectangle on black is one segment of the graph segmentation, but the segmentation first
    # smooths the image (a Gaussian of sigma 0.8, Felzenszwalb & Huttenlocher's setting), which can move a
    # segment's border by a pixel: (41, 51, 59, 79) against (40, 50, 60, 80) is IoU 18 * 28 / (20 * 30)
    # = 0.84.
    rectangles = [[40, 50, 60, 80], [90, 10, 120, 30]]
    proposals = selective_search(rectangles_image(), mode=mode)
    assert (iou(rectangles, proposals).max(axis=1) >= 0.8).all()
    if mode in ("fast", "quality"):  # several segmentations: one of them has the exact border
        assert {tuple(map(float, box)) for box in rectangles} <= as_set(proposals)


def test_proposals_are_distinct_float32_corners_inside_the_image():
    proposals = selective_search(rectangles_image())
    assert proposals.dtype == np.float32 and proposals.ndim == 2 and proposals.shape[1] == 4
    assert len(as_set(proposals)) == len(proposals)
    assert (proposals[:, :2] >= 0).all() and (proposals[:, 2:] <= SIZE).all()
    assert (proposals[:, 2] > proposals[:, 0]).all() and (proposals[:, 3] > proposals[:, 1]).all()


def test_grey_and_colour_forms_of_an_image_give_the_same_proposals():
    grey = rectangles_image()
    expected = as_set(selective_search(grey))
    assert as_set(selective_search(grey[..., None])) == expected
    assert as_set(selective_search(np.repeat(grey[..., None], 3, axis=-1))) == expected


def test_the_set_of_proposals_is_the_same_on_every_call_and_max_proposals_cuts_it():
    image = rectangles_image()
    every = as_set(selective_search(image))
    assert as_set(selective_search(image)) == every  # OpenCV shuffles the order, not the set
    first = selective_search(image, max_proposals=3)
    assert len(first) == 3 and as_set(first) <= every


def test_selective_search_finds_every_garment_of_the_test_canvases():
    # Uijlings et al. (2013) report a recall of 98 % at IoU 0.5 on Pascal VOC 2007 with "fast" mode; garments
    # on black are easy: on 20 test canvases (52 garments) every garment had a proposal of IoU >= 0.83
    # (measured with this file's NumPy IoU), from 8 to 82 proposals per canvas. Checked here on 10 canvases,
    # at IoU 0.7.
    from cv_textbook.data.detection import make_detection_canvases

    canvases = make_detection_canvases("test", 10, progress=False)
    best = []
    for index in range(len(canvases)):
        proposals = selective_search(canvases.images[index])
        assert 1 <= len(proposals) <= 2000
        best.extend(iou(canvases.boxes[index][canvases.valid[index]], proposals).max(axis=1))
    assert len(best) == int(canvases.valid.sum()) and min(best) >= 0.7


@pytest.mark.parametrize(
    "arguments, message",
    [
        ((np.zeros((8, 8), np.float32),), r"image must be uint8"),
        ((np.zeros((2, 8, 8, 1), np.uint8),), r"image must be one image \(height, width\)"),
        ((np.zeros((8, 8, 2), np.uint8),), r"image must be one image"),
        ((np.zeros((8, 8), np.uint8), "slow"), r"mode must be one of"),
        ((np.zeros((8, 8), np.uint8), "fast", 0), r"max_proposals must be an integer of at least 1"),
    ],
)
def test_bad_arguments_raise_errors_that_name_them(arguments, message):
    with pytest.raises(ValueError, match=message):
        selective_search(*arguments)


def test_an_opencv_build_without_ximgproc_gets_a_clear_remedy(monkeypatch):
    # opencv-python (without contrib) has no cv2.ximgproc; the error says which package to install instead.
    monkeypatch.setattr(proposals_module, "cv2", types.SimpleNamespace())
    with pytest.raises(RuntimeError, match=r"cv2.ximgproc.*pip install opencv-contrib-python-headless"):
        selective_search(rectangles_image())
