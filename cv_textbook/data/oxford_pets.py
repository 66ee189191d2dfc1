"""The Oxford-IIIT Pet Dataset (Parkhi, Vedaldi, Zisserman & Jawahar, 2012), read from a folder.

37 cat and dog breeds, about 7,400 photos, each with a pixel "trimap": 1 = pet, 2 = background,
3 = border (the uncertain band along the pet's outline). The keras-io U-Net example uses it;
this loader returns the trimaps shifted to 0..2, as that example does.

The dataset is not downloaded here: get ``images.tar.gz`` and ``annotations.tar.gz`` from
https://www.robots.ox.ac.uk/~vgg/data/pets/ and unpack both into one folder, giving::

    ROOT/images/Abyssinian_1.jpg, ...
    ROOT/annotations/trimaps/Abyssinian_1.png, ...
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cv_textbook.data.errors import DatasetError

OXFORD_PETS_URL = "https://www.robots.ox.ac.uk/~vgg/data/pets/"
OXFORD_PETS_CLASSES = ("pet", "background", "border")  # trimap labels 1..3, shifted to 0..2

HOW_TO_GET_IT = (
    "Download the Oxford-IIIT Pet Dataset (Parkhi et al., 2012) from the VGG Oxford site, "
    f"{OXFORD_PETS_URL}: the two files images.tar.gz and annotations.tar.gz. Unpack both into one "
    "folder (`tar xzf images.tar.gz && tar xzf annotations.tar.gz`) so that it holds "
    "images/<name>.jpg and annotations/trimaps/<name>.png, and pass that folder as root."
)


def _pil():
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError as error:  # pragma: no cover - matplotlib depends on pillow
        raise DatasetError("reading the Oxford-IIIT Pets images needs Pillow: pip install pillow") from error
    return Image, UnidentifiedImageError


def _check_image_size(image_size) -> tuple[int, int]:
    try:
        height, width = (int(side) for side in image_size)
    except (TypeError, ValueError):
        raise ValueError(f"image_size must be (height, width) such as (160, 160), got {image_size!r}.") from None
    if height < 1 or width < 1:
        raise ValueError(f"image_size sides must be at least 1 (smallest valid value: 1), got {image_size!r}.")
    return height, width


def list_oxford_pets(root) -> list[tuple[Path, Path]]:
    """The (image, trimap) file pairs under ``root``, sorted by name; raises DatasetError if absent."""
    root = Path(root).expanduser()
    images_dir, trimaps_dir = root / "images", root / "annotations" / "trimaps"
    for folder in (images_dir, trimaps_dir):
        if not folder.is_dir():
            raise DatasetError(f"the Oxford-IIIT Pets folder {folder} does not exist. {HOW_TO_GET_IT}")
    # The archives also hold a few non-JPEG files and macOS "._" resource files: skip those.
    images = sorted(p for p in images_dir.glob("*.jpg") if not p.name.startswith("._"))
    if not images:
        raise DatasetError(f"{images_dir} holds no .jpg images. {HOW_TO_GET_IT}")
    return [(image, trimaps_dir / (image.stem + ".png")) for image in images]


def _read_pair(image_path: Path, mask_path: Path, size: tuple[int, int]):
    Image, UnidentifiedImageError = _pil()
    height, width = size
    if not mask_path.is_file():
        raise DatasetError(
            f"the trimap {mask_path} of image {image_path.name} is missing. Unpack annotations.tar.gz "
            f"into the same folder as images.tar.gz, or delete {image_path} to leave that image out."
        )
    try:
        with Image.open(image_path) as image:
            image = image.convert("RGB")  # a few photos are grayscale, CMYK or RGBA
            pixels = np.asarray(image.resize((width, height), Image.BILINEAR), dtype=np.uint8)
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as error:
        raise DatasetError(
            f"the image {image_path} cannot be read ({error}): it is damaged or not an image. "
            "Download images.tar.gz again, or delete this file to leave it out."
        ) from error
    try:
        with Image.open(mask_path) as mask:
            if mask.mode not in ("L", "P", "I", "I;16"):
                mask = mask.convert("L")
            labels = np.asarray(mask.resize((width, height), Image.NEAREST))
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as error:
        raise DatasetError(
            f"the trimap {mask_path} cannot be read ({error}): it is damaged or not an image. "
            "Download annotations.tar.gz again."
        ) from error
    values = np.unique(labels)
    if labels.ndim != 2 or values.min() < 1 or values.max() > 3:
        raise DatasetError(
            f"the trimap {mask_path} holds values {values.tolist()}, expected only 1 (pet), 2 (background) "
            "and 3 (border). It is not an Oxford-IIIT Pets trimap; download annotations.tar.gz again."
        )
    return pixels, (labels - 1).astype(np.uint8)


def load_oxford_pets(root, image_size=(160, 160), validation_fraction: float = 0.1, seed: int = 0, limit=None):
    """Read the Oxford-IIIT Pets photos and trimaps under ``root`` as a seeded train/validation split.

    Returns ``((x_train, y_train), (x_val, y_val))``: uint8 images (N, height, width, 3),
    resized bilinearly to ``image_size`` = (height, width), and uint8 masks (N, height, width),
    resized with nearest neighbours, labels 0 = pet, 1 = background, 2 = border
    (``OXFORD_PETS_CLASSES``). ``limit`` keeps a seeded random subset of that many images
    (handy on a laptop); ``validation_fraction`` of them go to validation. A missing folder,
    a damaged image or a missing trimap raises ``DatasetError`` naming the file.
    """
    height, width = _check_image_size(image_size)
    if not 0.0 < validation_fraction < 1.0:
        raise ValueError(f"validation_fraction must be between 0 and 1 (exclusive), got {validation_fraction!r}.")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 2):
        raise ValueError(f"limit must be None or an integer of at least 2 (smallest valid value: 2), got {limit!r}.")
    pairs = list_oxford_pets(root)
    if len(pairs) < 2:
        raise DatasetError(f"{Path(root) / 'images'} holds only {len(pairs)} image; a split needs at least 2.")
    order = np.random.default_rng(seed).permutation(len(pairs))
    if limit is not None:
        order = order[:limit]  # a random subset: the files are sorted by breed
    images = np.empty((len(order), height, width, 3), dtype=np.uint8)
    masks = np.empty((len(order), height, width), dtype=np.uint8)
    for row, index in enumerate(order):
        images[row], masks[row] = _read_pair(*pairs[index], (height, width))
    n_val = min(len(order) - 1, max(1, int(round(len(order) * validation_fraction))))
    return (images[n_val:], masks[n_val:]), (images[:n_val], masks[:n_val])


__all__ = ["OXFORD_PETS_CLASSES", "OXFORD_PETS_URL", "list_oxford_pets", "load_oxford_pets"]
