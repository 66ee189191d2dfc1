"""Copy weights between two models of the same architecture built by different code.

``transfer_weights(keras.applications.ResNet50(weights=None), resnet50())`` proves that the
textbook's ResNet-50 is keras.applications' ResNet-50: after the copy both give the same outputs.
"""

from __future__ import annotations


def _weighted_layers(model) -> list:
    # model.layers of a functional model is in topological order; keep the layers owning weights.
    return [layer for layer in model.layers if layer.weights]


def _describe(layer) -> str:
    shapes = [tuple(weight.shape) for weight in layer.weights]
    return f"{layer.name!r} ({type(layer).__name__}, weight shapes {shapes})"


def _same_kind(a, b) -> bool:
    # A subclass that only changes how a layer computes (the package's BatchNormalization,
    # which trains with TensorFlow's fused kernel) holds the same weights as Keras's layer.
    return isinstance(a, type(b)) or isinstance(b, type(a))


def transfer_weights(source, target):
    """Copy every weight of ``source`` into ``target``, pairing their layers by structure.

    The layers that own weights are walked in both models in topological order; each pair must
    have the same layer class (or one a subclass of the other) and the same weight shapes, else
    a ValueError names the first mismatching pair (its index and both layers). Names may differ.
    Nothing is copied unless every pair matches. Returns ``target``.
    """
    source_layers = _weighted_layers(source)
    target_layers = _weighted_layers(target)
    for index, (src, dst) in enumerate(zip(source_layers, target_layers)):
        same_class = _same_kind(src, dst)
        same_shapes = [tuple(w.shape) for w in src.weights] == [tuple(w.shape) for w in dst.weights]
        if not (same_class and same_shapes):
            what = "layer classes" if not same_class else "weight shapes"
            raise ValueError(
                f"cannot transfer weights from {source.name!r} to {target.name!r}: the {what} of "
                f"weighted layer #{index} differ: source {_describe(src)} vs target {_describe(dst)}."
            )
    if len(source_layers) != len(target_layers):
        shorter, longer = sorted([(source_layers, "source"), (target_layers, "target")], key=lambda p: len(p[0]))
        extra = longer[0][len(shorter[0])]
        raise ValueError(
            f"cannot transfer weights from {source.name!r} to {target.name!r}: the source has "
            f"{len(source_layers)} layers with weights and the target {len(target_layers)}; "
            f"weighted layer #{len(shorter[0])} of the {longer[1]}, {_describe(extra)}, has no partner."
        )
    for src, dst in zip(source_layers, target_layers):
        dst.set_weights(src.get_weights())
    return target
