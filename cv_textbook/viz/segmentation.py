"""Segmentation plots: masks over their images, and the IoU of every class."""

import numpy as np
from matplotlib.patches import Patch

from cv_textbook.checks import check_positive_int
from cv_textbook.metrics.segmentation import mean_iou, pixel_accuracy
from cv_textbook.viz.common import (
    _class_colours,
    _displayable,
    _figure_and_axes,
    _min_max,
    _new_figure,
    _to_numpy,
)

def _mask_ids(masks, name, num_classes):
    """(N, H, W) int class ids from ids (N, H, W[, 1]) or scores (N, H, W, num_classes)."""
    array = _to_numpy(masks)
    if array.ndim == 4 and array.shape[-1] == 1:
        array = array[..., 0]
    elif array.ndim == 4:
        if array.shape[-1] != num_classes:
            raise ValueError(
                f"`{name}` has {array.shape[-1]} scores per pixel but there are {num_classes} "
                "class_names; pass one name per class."
            )
        array = array.argmax(axis=-1)
    if array.ndim != 3:
        raise ValueError(
            f"`{name}` must be class ids of shape (N, H, W) or scores of shape (N, H, W, classes), "
            f"got shape {array.shape}; for a single mask use mask[None]."
        )
    array = array.astype(np.int64)
    if array.size and (array.min() < 0 or array.max() >= num_classes):
        raise ValueError(
            f"`{name}` contains class {array.max() if array.max() >= num_classes else array.min()} "
            f"outside 0..{num_classes - 1}; pass one class name per class."
        )
    return array


def _grey_or_colour(image):
    """An RGB float image in [0, 1] to draw the coloured masks over."""
    pixels, scale = _displayable(image)
    pixels = pixels.astype(np.float32)
    if pixels.ndim == 2:
        low, high = scale.get("vmin"), scale.get("vmax")
        pixels = (pixels - low) / (high - low) if low is not None else _min_max(pixels)
        pixels = np.repeat(pixels[..., None], 3, axis=-1)
    elif "vmax" in scale:  # uint8 colour
        pixels = pixels / scale["vmax"]
    return np.clip(pixels[..., :3], 0.0, 1.0)


def plot_segmentation_overlays(images, true_masks, predicted_masks, class_names, n=4, alpha=0.45):
    """One row per image: the image, the true mask over it, the predicted mask over it.

    Masks are class ids (N, H, W) or (N, H, W, 1); predictions may also be scores
    (N, H, W, classes), reduced with argmax. Each class has one colour (legend on top); the
    prediction's title gives its pixel accuracy and the mean IoU of the classes in that image.
    """
    class_names = [str(name) for name in class_names]
    if len(class_names) < 2:
        raise ValueError(f"`class_names` must name at least 2 classes, got {class_names!r}.")
    images = _to_numpy(images)
    if images.ndim not in (3, 4):
        raise ValueError(
            f"`images` must have shape (N, H, W) or (N, H, W, C), got {images.shape}; "
            "for a single image use images[None]."
        )
    true = _mask_ids(true_masks, "true_masks", len(class_names))
    predicted = _mask_ids(predicted_masks, "predicted_masks", len(class_names))
    if not len(images) == len(true) == len(predicted):
        raise ValueError(
            f"`images`, `true_masks` and `predicted_masks` must hold as many items, got "
            f"{len(images)}, {len(true)} and {len(predicted)}."
        )
    if true.shape != predicted.shape or true.shape[1:] != images.shape[1:3]:
        raise ValueError(
            f"masks must have the images' height and width: images {images.shape[1:3]}, "
            f"true_masks {true.shape[1:]}, predicted_masks {predicted.shape[1:]}."
        )
    n = check_positive_int("`n`", n, hint="Pass e.g. n=4.")
    count = min(n, len(images))
    if count < 1:
        raise ValueError("`images` gives nothing to plot (0 panels); pass at least one.")
    colours = _class_colours(len(class_names))
    figure = _new_figure((3 * 2.4, count * 2.4 + 0.6))
    for row in range(count):
        base = _grey_or_colour(images[row])
        accuracy = pixel_accuracy(true[row], predicted[row])
        iou = mean_iou(true[row], predicted[row], len(class_names))  # over the classes in this image
        panels = [
            (base, "image"),
            ((1 - alpha) * base + alpha * colours[true[row]], "true mask"),
            (
                (1 - alpha) * base + alpha * colours[predicted[row]],
                f"predicted: acc {accuracy:.2f}, mIoU {iou:.2f}",
            ),
        ]
        for col, (pixels, title) in enumerate(panels):
            ax = figure.add_subplot(count, 3, row * 3 + col + 1)
            ax.imshow(np.clip(pixels, 0.0, 1.0), interpolation="nearest")  # blending may round past 1
            ax.set_title(title, fontsize=8)
            ax.set_axis_off()
    handles = [Patch(facecolor=colours[i], label=name) for i, name in enumerate(class_names)]
    figure.legend(handles=handles, loc="outside upper center", ncol=min(len(class_names), 6), fontsize=8)
    return figure


def plot_iou_per_class(iou, class_names, title=None, ax=None):
    """Bar chart of the IoU of every class, with the mean IoU as a dashed line.

    ``iou`` is one value per class (e.g. ``metrics.iou_per_class``); NaN (a class absent from
    labels and predictions) is drawn as an empty slot marked "n/a" and left out of the mean.
    """
    values = _to_numpy(iou).astype(np.float64).ravel()
    class_names = [str(name) for name in class_names]
    if values.size == 0:
        raise ValueError("`iou` is empty; pass one value per class, e.g. metrics.iou_per_class(...).")
    if len(values) != len(class_names):
        raise ValueError(
            f"`iou` has {len(values)} values but there are {len(class_names)} class_names; "
            "pass one name per class."
        )
    finite = values[np.isfinite(values)]
    if finite.size and (finite.min() < 0 or finite.max() > 1):
        raise ValueError(f"`iou` values must lie between 0 and 1, got {finite.min():.3g}..{finite.max():.3g}.")
    # Wide enough for the class names and the legend to the right of the bars.
    figure, ax = _figure_and_axes(ax, (max(5.5, 0.8 * len(class_names) + 3.0), 3.5))
    heights = np.nan_to_num(values, nan=0.0)
    bars = ax.bar(range(len(values)), heights, color=_class_colours(len(values)))
    ax.bar_label(bars, labels=["n/a" if np.isnan(v) else f"{v:.2f}" for v in values], fontsize=8)
    ax.set_xticks(range(len(values)), class_names)
    ax.tick_params(axis="x", labelrotation=45 if len(class_names) > 5 else 0)
    ax.set_ylim(0, 1.08)
    ax.set_ylabel("IoU")
    if finite.size:
        mean = float(finite.mean())
        ax.axhline(mean, color="black", linestyle="--", linewidth=1, label=f"mean IoU {mean:.3f}")
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)  # outside: never over a bar
    ax.set_title(title or "IoU per class")
    ax.grid(axis="y", alpha=0.3)
    return figure


__all__ = ["plot_iou_per_class", "plot_segmentation_overlays"]
