"""Size and cost of convolutional networks: the formulas from the lecture notes.

Pure formulas (no framework needed):

* :func:`conv_output_size` - spatial size after a convolution or pooling window.
* :func:`conv_params` - number of weights of a convolution layer.
* :func:`receptive_field` - receptive field of a stack of windows.
* :func:`format_count` - ``61706 -> "61.7 K"`` for tables and plots.

Measurements on Keras models:

* :func:`count_params` - total / trainable / non-trainable weights.
* :func:`count_macs`, :func:`count_macs_by_layer` - multiply-accumulates of one
  forward pass for one image.
* :func:`receptive_field_of_model` - receptive field after each conv/pool layer.
"""

import math
from collections.abc import Mapping, Sequence

import keras
import numpy as np

from cv_textbook.checks import check_number, check_positive_int, is_int

# Layer families, grouped by how their cost or geometry is computed. Built on
# demand (not at import) so that importing this module stays cheap.


def _conv_classes():
    """Plain convolutions: cost = output positions x kernel size."""
    return (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)


def _depthwise_classes():
    return (keras.layers.DepthwiseConv1D, keras.layers.DepthwiseConv2D)


def _separable_classes():
    return (keras.layers.SeparableConv1D, keras.layers.SeparableConv2D)


def _transpose_classes():
    return (
        keras.layers.Conv1DTranspose,
        keras.layers.Conv2DTranspose,
        keras.layers.Conv3DTranspose,
    )


def _pooling_classes():
    return (
        keras.layers.MaxPooling1D,
        keras.layers.MaxPooling2D,
        keras.layers.MaxPooling3D,
        keras.layers.AveragePooling1D,
        keras.layers.AveragePooling2D,
        keras.layers.AveragePooling3D,
    )


def _upsampling_classes():
    return _transpose_classes() + (
        keras.layers.UpSampling1D,
        keras.layers.UpSampling2D,
        keras.layers.UpSampling3D,
    )


# ---------------------------------------------------------------------------
# Argument checks
# ---------------------------------------------------------------------------


def _positive_int(name, value):
    """``check_positive_int`` with this module's `backquoted` names and an example value."""
    return check_positive_int(f"`{name}`", value, hint=f"Pass a whole number >= 1, e.g. {name}=3.")


def _check_kernel_2d(kernel_size):
    """Return (k_h, k_w) from an int or a pair of ints."""
    if is_int(kernel_size):
        size = _positive_int("kernel_size", kernel_size)
        return size, size
    if isinstance(kernel_size, Sequence) and len(kernel_size) == 2:
        return tuple(_positive_int("kernel_size", k) for k in kernel_size)
    raise ValueError(
        f"`kernel_size` must be an int or a pair (height, width), got "
        f"{kernel_size!r}; pass e.g. kernel_size=3 or kernel_size=(3, 5)."
    )


# ---------------------------------------------------------------------------
# Formulas
# ---------------------------------------------------------------------------


def conv_output_size(input_size, kernel_size, stride=1, padding=0):
    """Spatial output size of a convolution or pooling window along one axis.

    ``padding`` is the number of zero pixels added on each side, or Keras'
    ``"valid"`` (no padding) or ``"same"`` (output = ceil(input / stride)).
    """
    input_size = _positive_int("input_size", input_size)
    kernel_size = _positive_int("kernel_size", kernel_size)
    stride = _positive_int("stride", stride)
    if padding == "same":
        return math.ceil(input_size / stride)
    if padding == "valid":
        pad = 0
    elif is_int(padding) and padding >= 0:
        pad = int(padding)
    else:
        raise ValueError(
            f"`padding` must be a non-negative int, 'valid' or 'same', got "
            f"{padding!r}; pass e.g. padding=1 or padding='same'."
        )
    size = (input_size + 2 * pad - kernel_size) // stride + 1
    if size < 1:
        raise ValueError(
            f"`input_size`={input_size} is too small for kernel_size="
            f"{kernel_size} with padding={padding!r}: the output would have "
            f"{size} pixels; use a larger input, a smaller kernel or "
            "padding='same'."
        )
    return size


def conv_params(kernel_size, in_channels, out_channels, use_bias=True, groups=1):
    """Number of weights of a 2-D convolution: k_h*k_w*(in/groups)*out + bias."""
    k_h, k_w = _check_kernel_2d(kernel_size)
    in_channels = _positive_int("in_channels", in_channels)
    out_channels = _positive_int("out_channels", out_channels)
    groups = _positive_int("groups", groups)
    for name, channels in (("in_channels", in_channels), ("out_channels", out_channels)):
        if channels % groups:
            raise ValueError(
                f"`{name}`={channels} is not divisible by groups={groups}; "
                f"choose a number of groups that divides both channel counts."
            )
    weights = k_h * k_w * (in_channels // groups) * out_channels
    return weights + (out_channels if use_bias else 0)


def _window_from_item(item, index):
    """Return (kernel, stride, dilation) of one entry of `receptive_field`'s list."""
    if isinstance(item, Mapping):
        unknown = set(item) - {"kernel_size", "stride", "dilation"}
        if unknown or "kernel_size" not in item:
            raise ValueError(
                f"`layers[{index}]` must have the key 'kernel_size' and "
                f"optionally 'stride' and 'dilation', got keys {sorted(item)}; "
                "pass e.g. {'kernel_size': 3, 'stride': 2}."
            )
        values = (item["kernel_size"], item.get("stride", 1), item.get("dilation", 1))
    elif isinstance(item, Sequence) and len(item) in (2, 3):
        values = tuple(item) + (1,) * (3 - len(item))
    else:
        raise ValueError(
            f"`layers[{index}]` must be a (kernel_size, stride) pair, a "
            f"(kernel_size, stride, dilation) triple or a dict, got {item!r}; "
            "pass e.g. (3, 1)."
        )
    names = ("kernel_size", "stride", "dilation")
    return tuple(
        _positive_int(f"layers[{index}].{name}", value)
        for name, value in zip(names, values)
    )


def _grow(rf, jump, kernel, stride, dilation):
    """One step of the receptive-field recurrence."""
    effective_kernel = dilation * (kernel - 1) + 1
    return rf + (effective_kernel - 1) * jump, jump * stride


def receptive_field(layers, per_layer=False):
    """Receptive field, in input pixels, of one output unit of a stack of windows.

    ``layers`` is a sequence of ``(kernel_size, stride)`` pairs, optional
    ``(kernel_size, stride, dilation)`` triples, or dicts with those keys
    (``stride`` and ``dilation`` default to 1). With ``per_layer=True`` the
    receptive field after every layer is returned as a list.

    Uses r_l = r_{l-1} + (k_l - 1) * j_{l-1} and j_l = j_{l-1} * s_l, r_0 = j_0 = 1.
    """
    if isinstance(layers, (str, bytes, Mapping)) or not isinstance(layers, Sequence):
        raise ValueError(
            f"`layers` must be a list of (kernel_size, stride) pairs, got "
            f"{type(layers).__name__}; pass e.g. [(3, 1), (3, 1), (2, 2)]."
        )
    rf, jump, history = 1, 1, []
    for index, item in enumerate(layers):
        rf, jump = _grow(rf, jump, *_window_from_item(item, index))
        history.append(rf)
    return history if per_layer else rf


# ---------------------------------------------------------------------------
# Receptive field of a Keras model
# ---------------------------------------------------------------------------


def _as_list(tensors):
    if tensors is None:
        return []
    return list(tensors) if isinstance(tensors, (list, tuple)) else [tensors]


def _layer_tensors(layer, attribute):
    """`layer.input` / `layer.output` as a list, with a clear error if unbuilt."""
    try:
        return _as_list(getattr(layer, attribute))
    except (AttributeError, ValueError) as error:
        raise ValueError(
            f"`model` layer {layer.name!r} has no defined {attribute} ({error}); "
            "build the model with a fixed input shape first, e.g. start it "
            "with keras.Input(shape=(224, 224, 3))."
        ) from error


def _spatial_window(layer):
    """(kernels, strides, dilations) per spatial axis, or None if geometry is kept."""
    if isinstance(layer, _upsampling_classes()):
        raise ValueError(
            f"`model` contains {type(layer).__name__} layer {layer.name!r}, "
            "which upsamples; receptive_field_of_model only models downsampling "
            "chains, so pass the encoder part of the model instead."
        )
    if isinstance(layer, _conv_classes() + _depthwise_classes() + _separable_classes()):
        return layer.kernel_size, layer.strides, layer.dilation_rate
    if isinstance(layer, _pooling_classes()):
        return layer.pool_size, layer.strides, (1,) * len(layer.pool_size)
    return None


def _merge_states(states, rank):
    """Receptive field where several branches meet: the widest branch wins."""
    if not states:
        return (1,) * rank, (1,) * rank
    rfs, jumps = zip(*states)
    return tuple(map(max, zip(*rfs))), tuple(map(max, zip(*jumps)))


def _spatial_rank(model):
    shape = _layer_tensors(model, "input")[0].shape
    return max(len(shape) - 2, 1)  # drop batch and channel axes


def _walk_receptive_fields(model, input_state, prefix, rank, rows):
    """Propagate (rf, jump) through `model`'s graph; append rows; return output state."""
    states = {}  # id(output tensor) -> (rf per axis, jump per axis)
    for layer in model.layers:
        incoming = [
            states.get(id(tensor), input_state)
            for tensor in _layer_tensors(layer, "input")
        ]
        state = _merge_states(incoming, rank) if incoming else input_state
        if isinstance(layer, keras.Model):
            state = _walk_receptive_fields(
                layer, state, f"{prefix}{layer.name}/", rank, rows
            )
        else:
            window = _spatial_window(layer)
            if window is not None:
                rf, jump = state
                grown = [_grow(*axis) for axis in zip(rf, jump, *window)]
                state = tuple(zip(*grown))
                rows.append((prefix + layer.name, _squash(state[0])))
        for tensor in _layer_tensors(layer, "output"):
            states[id(tensor)] = state
    outputs = _layer_tensors(model, "output")
    return _merge_states([states.get(id(t), input_state) for t in outputs], rank)


def _squash(values):
    """An int when all axes agree (the usual square case), else the tuple."""
    return values[0] if len(set(values)) == 1 else tuple(values)


def receptive_field_of_model(model):
    """Receptive field after each conv/pooling layer of a Keras model.

    Returns ``[(layer_name, rf), ...]`` in layer order; ``rf`` is an int for
    square windows, else a tuple per spatial axis. Layers inside nested models
    are named ``"outer/inner"``. The walk follows the graph; where branches
    merge (e.g. a ResNet ``Add``) it keeps the widest branch, i.e. the main path.
    Global pooling, Flatten and Dense are not listed (they see the whole image);
    transposed convolutions and upsampling are not supported.
    """
    rank = _spatial_rank(model)
    start = ((1,) * rank, (1,) * rank)
    rows = []
    _walk_receptive_fields(model, start, "", rank, rows)
    return rows


# ---------------------------------------------------------------------------
# Parameters and multiply-accumulates
# ---------------------------------------------------------------------------


def _size(shape):
    return int(np.prod(shape, dtype=np.int64))


def count_params(model):
    """Weights of a built model: ``{"total", "trainable", "non_trainable"}``."""
    if not model.built:
        raise ValueError(
            f"`model` {model.name!r} is not built, so it has no weights yet; "
            "call model.build(input_shape) or start it with keras.Input(...)."
        )
    trainable = sum(_size(w.shape) for w in model.trainable_weights)
    non_trainable = sum(_size(w.shape) for w in model.non_trainable_weights)
    return {
        "total": trainable + non_trainable,
        "trainable": trainable,
        "non_trainable": non_trainable,
    }


def _known_shape(layer, attribute):
    """Shape of the layer's first input/output without the batch axis; all known."""
    shape = tuple(_layer_tensors(layer, attribute)[0].shape)[1:]
    if any(dim is None for dim in shape):
        raise ValueError(
            f"`model` layer {layer.name!r} has {attribute} shape {shape} with "
            "unknown sizes, so its cost depends on the image; build the model "
            "with a fixed input size, e.g. keras.Input(shape=(224, 224, 3))."
        )
    return shape


def _layer_macs(layer):
    """MACs of one call of `layer` on one image, or None if it is not counted."""
    # Transposed first: each *input* pixel scatters a whole kernel.
    if isinstance(layer, _transpose_classes()):
        positions = _size(_known_shape(layer, "input")[:-1])
        return positions * _size(layer.kernel.shape)
    # Kernel shapes already hold the per-group / depth-multiplier factors, so
    # every convolution costs (output positions) x (weights per position).
    if isinstance(layer, _conv_classes() + _depthwise_classes()):
        positions = _size(_known_shape(layer, "output")[:-1])
        return positions * _size(layer.kernel.shape)
    if isinstance(layer, _separable_classes()):
        positions = _size(_known_shape(layer, "output")[:-1])
        kernels = _size(layer.depthwise_kernel.shape) + _size(layer.pointwise_kernel.shape)
        return positions * kernels
    if isinstance(layer, keras.layers.Dense):
        # Dense on (..., features) runs once per leading position.
        positions = _size(_known_shape(layer, "output")[:-1])
        return positions * _size(layer.kernel.shape)
    return None


def _collect_macs(model, prefix, rows):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            _collect_macs(layer, f"{prefix}{layer.name}/", rows)
            continue
        macs = _layer_macs(layer)
        if macs is not None:
            rows.append((prefix + layer.name, type(layer).__name__, macs))


def count_macs_by_layer(model):
    """``[(layer_name, layer_class, macs), ...]`` for the layers that do MACs.

    Counts Conv1D/2D/3D (with groups), depthwise, separable and transposed
    convolutions and Dense for one image; BN, activations, pooling and merges
    are free. Nested models are entered (names ``"outer/inner"``). A shared
    layer is counted once, with the shapes of its first call.
    """
    if not model.built:
        raise ValueError(
            f"`model` {model.name!r} is not built, so its shapes are unknown; "
            "call model.build(input_shape) or start it with keras.Input(...)."
        )
    rows = []
    _collect_macs(model, "", rows)
    return rows


def count_macs(model):
    """Multiply-accumulates of one forward pass for one image (see count_macs_by_layer)."""
    return sum(macs for _, _, macs in count_macs_by_layer(model))


# ---------------------------------------------------------------------------
# Formatting
# ---------------------------------------------------------------------------

_UNITS = ((1e3, "K"), (1e6, "M"), (1e9, "G"), (1e12, "T"))


def _shortest(value, max_decimals=2, tolerance=1e-3):
    """Fewest decimals (up to max_decimals) that keep the relative error < tolerance."""
    for decimals in range(max_decimals + 1):
        text = f"{value:.{decimals}f}"
        if value == 0 or abs(float(text) - value) / abs(value) < tolerance:
            return text
    return text


def format_count(n):
    """Compact count for tables: 61706 -> "61.7 K", 15.47e9 -> "15.47 G".

    Uses as few decimals (at most two) as keep the rounding error under 0.1 %.
    """
    check_number("`n`", n, hint="Pass e.g. format_count(61706).")
    if not math.isfinite(n):
        raise ValueError(f"`n` must be finite, got {n!r}; pass a real count.")
    text = str(int(n)) if float(n).is_integer() else _shortest(float(n))
    for scale, unit in _UNITS:
        # Move up a unit while the number would need four digits; checking the
        # rounded text makes 999_960 read "1 M", not "1000 K".
        if abs(float(text.split()[0])) < 1000:
            break
        text = f"{_shortest(n / scale)} {unit}"
    return text


__all__ = [
    "conv_output_size",
    "conv_params",
    "count_macs",
    "count_macs_by_layer",
    "count_params",
    "format_count",
    "receptive_field",
    "receptive_field_of_model",
]
