"""Plots used by every chapter: figure helpers, learning curves, bar charts, image grids,
feature maps, filters and model diagrams.

Every function returns a :class:`matplotlib.figure.Figure` and never calls
``plt.show()``. Functions that draw a single panel accept ``ax=`` to draw into
an existing axes (and return that axes' figure).

New figures are closed in pyplot before they are returned: Jupyter then
displays the returned figure exactly once (an open pyplot figure would be
shown twice, once by the inline backend and once as the cell's value), and
scripts do not pile up open figures. In a script, save the result with
``fig.savefig("name.png")``.
"""

import math
import os
import shutil
import tempfile
import warnings

import keras
import matplotlib.pyplot as plt
import numpy as np
from matplotlib import colormaps
from matplotlib.ticker import EngFormatter

from cv_textbook.checks import check_positive_int

GRAPHVIZ_NOTE = (
    "Graphviz is not installed: install it with `sudo apt-get install graphviz` "
    "(Debian/Ubuntu) or `conda install graphviz`; showing the text summary instead."
)


# ---------------------------------------------------------------------------
# Figure helpers
# ---------------------------------------------------------------------------


def _new_figure(figsize):
    """A figure that pyplot no longer tracks (see the module docstring)."""
    # Creating it through pyplot loads the backend, which is what makes Jupyter
    # able to render a returned Figure; closing it right away stops the inline
    # backend from showing it a second time and keeps scripts from piling up
    # open figures.
    figure = plt.figure(figsize=figsize, layout="constrained")
    plt.close(figure)
    return figure


def _figure_and_axes(ax, figsize):
    """Use the caller's axes, or a fresh figure with one axes."""
    if ax is not None:
        return ax.figure, ax
    figure = _new_figure(figsize)
    return figure, figure.add_subplot()


def _grid_shape(count, n_cols, what):
    if count < 1:
        raise ValueError(f"`{what}` gives nothing to plot (0 panels); pass at least one.")
    n_cols = check_positive_int("`n_cols`", n_cols, hint="Pass e.g. n_cols=8.")
    cols = min(n_cols, count)
    return math.ceil(count / cols), cols


def _grid_figure(count, n_cols, what, cell_inches=1.6, title=None):
    """A figure sized for `count` small panels of `what`, and the grid (rows, cols)."""
    rows, cols = _grid_shape(count, n_cols, what)
    extra = 0.4 if title else 0.0
    figure = _new_figure((cols * cell_inches, rows * cell_inches + extra))
    if title:
        figure.suptitle(title)
    return figure, rows, cols


def _to_numpy(values):
    """NumPy view of arrays, lists or backend tensors (copied only when needed)."""
    if isinstance(values, (np.ndarray, list, tuple)):
        return np.asarray(values)
    return np.asarray(keras.ops.convert_to_numpy(values))


def _class_ids(values, name):
    """Integer class ids from ids, one-hot rows or probability rows."""
    array = _to_numpy(values)
    if array.ndim == 2:
        array = array.argmax(axis=-1)  # one-hot labels or predicted probabilities
    if array.ndim != 1:
        raise ValueError(
            f"`{name}` must be class ids of shape (N,) or scores of shape (N, classes), "
            f"got shape {array.shape}; flatten it or take argmax first."
        )
    return array.astype(np.int64)


# ---------------------------------------------------------------------------
# Training curves and bar charts
# ---------------------------------------------------------------------------


def _history_dict(history):
    logs = getattr(history, "history", history)
    if not hasattr(logs, "keys"):
        raise ValueError(
            f"`history` must be a keras History or a dict of lists, got "
            f"{type(history).__name__}; pass the value returned by model.fit()."
        )
    return logs


def _available_metrics(logs, metrics):
    """Metrics present in the logs; warn about the missing ones."""
    wanted = [metrics] if isinstance(metrics, str) else list(metrics)
    present = [m for m in wanted if m in logs]
    missing = [m for m in wanted if m not in logs]
    if not present:
        raise ValueError(
            f"`metrics` {wanted} are not in the history, which has "
            f"{sorted(logs)}; pass some of those names."
        )
    if missing:
        warnings.warn(f"not in the history, skipped: {missing}", stacklevel=3)
    return present


def plot_learning_curves(history, metrics=("loss", "accuracy"), title=None, targets=None):
    """Training and validation curves, one panel per metric, epochs from 1.

    ``targets`` maps a metric to a level drawn as a dotted line on its panel (e.g. a chapter's
    target accuracy: ``{"accuracy": 0.91}``)."""
    logs = _history_dict(history)
    present = _available_metrics(logs, metrics)
    figure = _new_figure((4.5 * len(present), 3.5))
    if title:
        figure.suptitle(title)
    for index, metric in enumerate(present):
        ax = figure.add_subplot(1, len(present), index + 1)
        _plot_curve(ax, logs[metric], "train")
        if f"val_{metric}" in logs:
            _plot_curve(ax, logs[f"val_{metric}"], "validation")
        if targets and metric in targets:
            ax.axhline(targets[metric], color="grey", linestyle=":", label=f"target {targets[metric]:g}")
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.set_title(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    return figure


def _plot_curve(ax, values, label):
    epochs = np.arange(1, len(values) + 1)
    ax.plot(epochs, values, marker="o", markersize=3, label=label)
    # Integer ticks: a fractional epoch means nothing.
    ax.xaxis.get_major_locator().set_params(integer=True)


def plot_bar(values, title=None, ylabel=None, log=False, ax=None):
    """Labelled bar chart of ``{name: number}`` (e.g. parameters or MACs per model)."""
    if not values:
        raise ValueError("`values` is empty; pass a dict such as {'LeNet': 61706}.")
    figure, ax = _figure_and_axes(ax, (max(4.0, 1.1 * len(values)), 3.5))
    names = [str(name) for name in values]
    bars = ax.bar(names, list(values.values()), color="tab:blue")
    counts = max(abs(v) for v in values.values()) >= 1000
    # Engineering notation (15.5 G) keeps big counts readable; fractions (accuracies) stay plain.
    formatter = EngFormatter(places=1, sep=" ") if counts else (lambda v, pos=None: f"{v:.3g}")
    ax.bar_label(bars, labels=[formatter(v) for v in values.values()], fontsize=8)
    if log:
        ax.set_yscale("log")
    elif counts:
        ax.yaxis.set_major_formatter(formatter)
    ax.set_title(title or "")
    ax.set_ylabel(ylabel or "")
    ax.tick_params(axis="x", labelrotation=30 if len(values) > 4 else 0)
    return figure


# ---------------------------------------------------------------------------
# Images
# ---------------------------------------------------------------------------


def _displayable(image):
    """(array, imshow kwargs) so uint8, [0, 1] and [0, 255] floats all look right."""
    image = _to_numpy(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[-1] not in (3, 4)):
        raise ValueError(
            f"`images` must be (N, H, W) or (N, H, W, C) with C in 1, 3, 4; "
            f"got an image of shape {image.shape}."
        )
    if image.dtype == np.uint8:
        return image, {"vmin": 0, "vmax": 255}
    image = image.astype(np.float32)
    low, high = float(image.min()), float(image.max())
    if image.ndim == 3 and (low < 0 or high > 1):
        # imshow clips colour floats to [0, 1]; rescale instead of clipping.
        image = image / 255.0 if low >= 0 and high <= 255 else _min_max(image)
    if image.ndim == 2 and low >= 0 and high <= 1:
        return image, {"vmin": 0.0, "vmax": 1.0}
    return image, {}


def _min_max(array):
    low, high = float(array.min()), float(array.max())
    return (array - low) / (high - low) if high > low else np.zeros_like(array)


def _name(class_id, class_names):
    return str(class_names[class_id]) if class_names is not None else str(class_id)


def _image_title(index, labels, predictions, class_names):
    """(text, colour) for one panel of the image grid."""
    if predictions is None:
        return _name(labels[index], class_names), "black"
    right = predictions[index] == labels[index]
    text = f"{_name(predictions[index], class_names)} ({_name(labels[index], class_names)})"
    return text, "green" if right else "red"


def plot_image_grid(
    images,
    labels=None,
    class_names=None,
    predictions=None,
    n_cols=8,
    cmap="gray",
    title=None,
):
    """Images in a grid, titled by class; with predictions, "pred (true)" in green/red."""
    images = _to_numpy(images)
    if images.ndim not in (3, 4):
        raise ValueError(
            f"`images` must have shape (N, H, W) or (N, H, W, C), got {images.shape}; "
            "for a single image use images[None]."
        )
    if predictions is not None and labels is None:
        raise ValueError("`predictions` need `labels` to compare with; pass labels=y_true.")
    labels = None if labels is None else _class_ids(labels, "labels")
    predictions = None if predictions is None else _class_ids(predictions, "predictions")
    figure, rows, cols = _grid_figure(len(images), n_cols, "images", title=title)
    for index, image in enumerate(images):
        ax = figure.add_subplot(rows, cols, index + 1)
        pixels, scale = _displayable(image)
        ax.imshow(pixels, cmap=cmap if pixels.ndim == 2 else None, **scale)
        ax.set_axis_off()
        if labels is not None:
            text, colour = _image_title(index, labels, predictions, class_names)
            ax.set_title(text, color=colour, fontsize=8)
    return figure


# ---------------------------------------------------------------------------
# Looking inside a network
# ---------------------------------------------------------------------------


def _batch_of_one(image, model):
    """Add the batch axis (and a channel axis for grey H x W images)."""
    image = _to_numpy(image).astype("float32")
    rank = len(model.inputs[0].shape)  # includes the batch axis
    if image.ndim == rank - 2:
        image = image[..., None]
    if image.ndim == rank - 1:
        image = image[None]
    if image.ndim != rank or image.shape[0] != 1:
        raise ValueError(
            f"`image` has shape {image.shape} but the model takes "
            f"{tuple(model.inputs[0].shape)}; pass one image as (H, W, C) or (H, W)."
        )
    return image


def plot_feature_maps(model, layer_name, image, n_cols=8, max_maps=32):
    """Channels of ``layer_name``'s output for one (preprocessed) image."""
    extractor = keras.Model(model.inputs, model.get_layer(layer_name).output)
    maps = _to_numpy(extractor([_batch_of_one(image, model)], training=False))
    if maps.ndim != 4:
        raise ValueError(
            f"`layer_name` {layer_name!r} outputs shape {maps.shape[1:]}, not a stack "
            "of 2-D maps; pick a convolution or pooling layer."
        )
    count = min(maps.shape[-1], max_maps)
    title = f"{layer_name}: {count} of {maps.shape[-1]} maps"
    figure, rows, cols = _grid_figure(count, n_cols, "max_maps", title=title)
    for channel in range(count):
        ax = figure.add_subplot(rows, cols, channel + 1)
        ax.imshow(maps[0, :, :, channel], cmap="viridis")
        ax.set_title(str(channel), fontsize=7)
        ax.set_axis_off()
    return figure


def plot_filters(layer_or_kernel, n_cols=8, max_filters=64):
    """First-layer kernels (kh, kw, cin, cout) with cin 1 or 3, one small image each."""
    kernel = getattr(layer_or_kernel, "kernel", layer_or_kernel)
    kernel = _to_numpy(kernel)
    if kernel.ndim != 4 or kernel.shape[2] not in (1, 3):
        raise ValueError(
            f"`layer_or_kernel` must be a Conv2D kernel (kh, kw, cin, cout) with "
            f"cin 1 or 3, got shape {kernel.shape}; pass the first convolution layer."
        )
    count = min(kernel.shape[-1], max_filters)
    figure, rows, cols = _grid_figure(count, n_cols, "max_filters", cell_inches=1.0)
    for index in range(count):
        ax = figure.add_subplot(rows, cols, index + 1)
        # Weights are small and signed: stretch each filter to [0, 1] to see its pattern.
        pixels = _min_max(kernel[:, :, :, index])
        if pixels.shape[-1] == 1:
            ax.imshow(pixels[..., 0], cmap="gray", vmin=0, vmax=1)
        else:
            ax.imshow(pixels)
        ax.set_axis_off()
    return figure


# ---------------------------------------------------------------------------
# Model diagram
# ---------------------------------------------------------------------------


def _default_diagram_path(model):
    handle, path = tempfile.mkstemp(prefix=f"{model.name}_", suffix=".png")
    os.close(handle)
    os.remove(path)  # keras writes the file; an empty leftover would look like success
    return path


def _modified_time(path):
    return os.stat(path).st_mtime_ns if os.path.exists(path) else None


def _draw_with_graphviz(model, path, show_shapes, kw):
    """Write the diagram to `path`; return False if pydot/Graphviz are unusable."""
    if shutil.which("dot") is None:
        return False
    before = _modified_time(path)
    try:
        keras.utils.plot_model(model, to_file=path, show_shapes=show_shapes, **kw)
    except (ImportError, OSError):
        return False
    except Exception as error:  # pydot's own errors when `dot` itself fails
        if type(error).__module__.startswith("pydot"):
            return False
        raise
    # Inside Jupyter keras only prints a message when pydot is missing.
    after = _modified_time(path)
    return after is not None and after != before


def _in_ipython():
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return get_ipython() is not None


def plot_model(model, to_file=None, show_shapes=True, **kw):
    """Draw the model graph with Graphviz, or print its summary if Graphviz is missing.

    Returns an ``IPython.display.Image`` inside IPython/Jupyter, the image path
    elsewhere, and None when the text summary was shown instead. Extra keywords
    go to ``keras.utils.plot_model`` (e.g. ``show_layer_names=True``).
    ``to_file=None`` writes to a temporary file.
    """
    path = str(to_file) if to_file is not None else _default_diagram_path(model)
    if not _draw_with_graphviz(model, path, show_shapes, kw):
        print(GRAPHVIZ_NOTE)
        model.summary()
        return None
    if _in_ipython():
        from IPython.display import Image

        return Image(filename=path)
    return path


def _class_colours(count):
    """One distinct RGB colour per class (tab10, then tab20 for more classes)."""
    palette = colormaps["tab10" if count <= 10 else "tab20"]
    return np.array([palette(index % palette.N)[:3] for index in range(count)])


__all__ = [
    "plot_bar",
    "plot_feature_maps",
    "plot_filters",
    "plot_image_grid",
    "plot_learning_curves",
    "plot_model",
]
