"""Read a model's inner feature maps: a model on the same input whose outputs are named layers'.

``feature_extractor(resnet50(include_top=False), ["conv3_block4_out", "conv4_block6_out"])`` gives
the multi-scale maps a detector or a segmentation decoder builds on. The new model shares the
layers, so it shares their weights: training one trains the other.
"""

from __future__ import annotations

import difflib

# keras is imported inside feature_extractor: cv_textbook.models can then export it and still
# load no framework when a model name is only checked.


def _closest_names(name: str, model) -> str:
    names = [layer.name for layer in model.layers]
    close = difflib.get_close_matches(name, names, n=5, cutoff=0.5)
    if close:
        return f"closest layer names: {', '.join(close)}"
    return f"its {len(names)} layers are listed by model.summary(), e.g. {', '.join(names[-3:])}"


def _layer_output(model, name):
    if not isinstance(name, str):
        raise ValueError(f"layer_names must hold layer names (str), got {name!r}.")
    try:
        return model.get_layer(name).output
    except ValueError:
        raise ValueError(
            f"model {model.name!r} has no layer named {name!r}; {_closest_names(name, model)}."
        ) from None


def feature_extractor(model, layer_names):
    """A ``keras.Model`` on ``model``'s input whose outputs are the outputs of the named layers.

    One name gives a model with one output, a list (or tuple) of names a model whose
    ``outputs`` follow the list (called on a batch, Keras returns a one-element list's output as
    a plain tensor, as for any functional model). The layers are ``model``'s own, not copies:
    the extractor shares every weight with ``model``. A name that is not a layer of ``model``
    raises a ValueError listing the closest layer names. Only ``model``'s own layers are found,
    not those nested inside a sub-model.
    """
    import keras

    if not isinstance(model, keras.Model):
        raise ValueError(f"model must be a keras.Model, got {type(model).__name__}.")
    if isinstance(layer_names, str):
        outputs = _layer_output(model, layer_names)
    else:
        try:
            names = list(layer_names)
        except TypeError:
            raise ValueError(
                f"layer_names must be a layer name or a list of them, got {layer_names!r}."
            ) from None
        if not names:
            raise ValueError("layer_names is empty; pass at least one layer name, e.g. 'conv5_block3_out'.")
        outputs = [_layer_output(model, name) for name in names]
    return keras.Model(model.input, outputs, name=f"{model.name}_features")


__all__ = ["feature_extractor"]
