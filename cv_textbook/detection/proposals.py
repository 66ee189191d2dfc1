"""Region proposals by selective search (Uijlings et al., 2013), the proposals R-CNN and Fast R-CNN used.

OpenCV's contrib module has the algorithm (``cv2.ximgproc.segmentation``): it over-segments the
image (Felzenszwalb & Huttenlocher's graph segmentation), then merges the most similar
neighbouring regions again and again (by colour, texture, size and fill), and every region on
the way is a proposal. "fast" diversifies over 2 colour spaces and 2 segmentations, "quality"
over more (slower, more proposals), "single" uses one strategy.

The package's one module written with OpenCV rather than ``keras.ops``, so ``cv_textbook.detection``
does not re-export it: import it as ``cv_textbook.detection.proposals``. (Keras itself imports
``cv2`` when it is installed, for ``keras.visualization``, so keeping it apart saves no import time.)
"""

from __future__ import annotations

import cv2  # opencv-contrib-python-headless: the contrib build is the one with cv2.ximgproc
import numpy as np

from cv_textbook.checks import check_choice, check_positive_int

MODES = ("fast", "quality", "single")


def _three_channels(image) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"image must be uint8 (the canvases' pixels, 0-255), got {image.dtype}.")
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim == 2:  # OpenCV's selective search wants colour: a grey image becomes three equal channels
        return np.ascontiguousarray(np.repeat(image[..., None], 3, axis=-1))
    if image.ndim == 3 and image.shape[-1] == 3:
        return np.ascontiguousarray(image)
    raise ValueError(f"image must be one image (height, width), (height, width, 1) or (height, width, 3), "
                     f"got shape {image.shape}.")


def selective_search(image, mode: str = "fast", max_proposals: int = 2000) -> np.ndarray:
    """Selective-search proposals for one uint8 image: float32 pixel corners (K, 4), K <= ``max_proposals``.

    ``image``: (H, W), (H, W, 1) or (H, W, 3) uint8. ``mode``: "fast" (R-CNN's setting, about
    2,000 proposals on a 500 x 375 image), "quality" or "single" (see the module docstring).
    Proposals come in OpenCV's order, with duplicates removed, cut to the first
    ``max_proposals``. That order is the paper's rank, each region's level in the merging
    hierarchy times a random number, and OpenCV draws those numbers unseeded: the *set* of
    proposals is the same on every call, their order is not, so a cut below the total count
    keeps different proposals from run to run.
    """
    check_choice("mode", mode, MODES)
    max_proposals = check_positive_int("max_proposals", max_proposals, hint="R-CNN used about 2000.")
    if not hasattr(cv2, "ximgproc"):
        raise RuntimeError(
            "selective search needs OpenCV's contrib modules (cv2.ximgproc), which this OpenCV build "
            "lacks: pip uninstall opencv-python opencv-python-headless, then pip install "
            "opencv-contrib-python-headless (the builds share the cv2 package: only one may be installed)."
        )
    search = cv2.ximgproc.segmentation.createSelectiveSearchSegmentation()
    search.setBaseImage(_three_channels(image))
    if mode == "fast":
        search.switchToSelectiveSearchFast()
    elif mode == "quality":
        search.switchToSelectiveSearchQuality()
    else:
        search.switchToSingleStrategy()
    rectangles = np.asarray(search.process(), dtype=np.float32).reshape(-1, 4)  # (x, y, width, height)
    boxes = np.concatenate([rectangles[:, :2], rectangles[:, :2] + rectangles[:, 2:]], axis=1)
    _, first = np.unique(boxes, axis=0, return_index=True)
    return boxes[np.sort(first)][:max_proposals]


__all__ = ["MODES", "selective_search"]
