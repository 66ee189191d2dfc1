"""Blocks shared by the model families: one function per block, ``block(x, ...) -> x``.

``conv_bn``
    Convolution → BatchNormalization (→ ReLU): every unit of ResNet, the U-Net's entry block,
    Xception's stem.
``separable_conv``
    One 3×3 depthwise separable convolution: Keras's ``SeparableConv2D``, or the same operation
    split into ``DepthwiseConv2D`` → (activation →) 1×1 ``Conv2D`` where an activation goes
    between the two (the Xception paper's Fig. 10 ablation).
``separable_block``
    n × (ReLU → 3×3 separable convolution → BN), an optional 3×3/2 max-pooling, and a residual
    branch (a strided 1×1 projection of the block input, or the input itself) added at the end:
    the U-Net's down blocks and Xception's entry, middle and exit flows.
``global_pooling``
    A backbone's optional global average or max pooling (keras.applications' ``pooling``).

The families differ in how their convolutions are made (``ConvSettings``: bias, initialiser,
weight decay, BatchNormalization epsilon) and in the names of their layers (``LayerNames``:
templates such as ``"{block}_sepconv{i}"``). Each family passes its own, so one function builds
both the U-Net's ``down1_sepconv1`` and keras.applications' ``block2_sepconv1`` and every model
keeps the layer names of its paper or of keras.applications.

``squeeze_excite``
    Squeeze-and-excitation (Hu et al., 2018): global average pooling → Dense C/r + ReLU → Dense C
    + sigmoid → channel-wise scale. It maps a feature map to one of the same shape, so it drops
    into any network after any block: SE-ResNet puts it after a block's last
    BatchNormalization, before the residual Add (the paper's Fig. 3).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import keras
from keras import layers

from cv_textbook.checks import POOLINGS, check_bool, check_choice, check_positive_int, is_int
from cv_textbook.models.layers import BatchNormalization

PADDINGS = ("same", "valid", "symmetric")
RESIDUALS = ("project", "identity", None)
# Between the depthwise and the pointwise step of a separable convolution: nothing (Xception,
# Keras's SeparableConv2D), or one of the activations Chollet (2017) compares in Fig. 10.
INTERMEDIATE_ACTIVATIONS = (None, "relu", "elu")


@dataclass(frozen=True)
class ConvSettings:
    """How every convolution of a model is made, and the BatchNormalization after it.

    The defaults are Keras's own (``Conv2D``'s bias and Glorot-uniform initialiser,
    ``BatchNormalization``'s epsilon 1e-3); a family states what it changes, e.g. ResNet's
    He initialisation and keras.applications' epsilon 1.001e-5.
    """

    use_bias: bool = True
    kernel_initializer: str = "glorot_uniform"
    weight_decay: float | None = None  # L2 factor on every kernel; None or 0: no penalty
    bn_epsilon: float = 1e-3

    def regularizer(self):
        return keras.regularizers.L2(self.weight_decay) if self.weight_decay else None


@dataclass(frozen=True)
class LayerNames:
    """Name templates of a block's layers: ``{block}`` is the block's name, ``{i}`` the number of
    the convolution inside the block (from 1). ``None`` lets Keras number the layer, as
    keras.applications' Xception leaves its residual branches unnamed.

    The defaults are ``conv_bn``'s names in ResNet and in the U-Net's entry block:
    ``conv2_block1_1_conv``, ``_bn``, ``_relu``, ``_pad``.
    """

    conv: str | None = "{block}_conv"
    bn: str | None = "{block}_bn"
    activation: str | None = "{block}_relu"
    pad: str | None = "{block}_pad"
    pool: str | None = "{block}_pool"
    project: str | None = "{block}_project"
    project_bn: str | None = "{block}_project_bn"
    add: str | None = "{block}_add"

    def of(self, role: str, block: str, i: int | None = None) -> str | None:
        template = getattr(self, role)
        return None if template is None else template.format(block=block, i=i)


# The U-Net's down blocks: down1_relu1, down1_sepconv1, down1_bn1, ..., down1_pool,
# down1_project, down1_add.
SEPARABLE_NAMES = LayerNames(conv="{block}_sepconv{i}", bn="{block}_bn{i}", activation="{block}_relu{i}")


def conv_bn(
    x,
    filters: int,
    kernel: int,
    stride: int,
    name: str,
    settings: ConvSettings = ConvSettings(),
    relu: bool = True,
    *,
    padding: str = "same",
    names: LayerNames = LayerNames(),
):
    """Convolution → BatchNormalization (→ ReLU); by default layers ``{name}_conv``, ``_bn``, ``_relu``.

    ``padding`` is Keras's ``"same"`` or ``"valid"``, or ``"symmetric"``: a strided convolution
    wider than 1×1 gets an explicit ``ZeroPadding2D`` of ``kernel // 2`` pixels on every side
    (``{name}_pad``, PyTorch's ``padding=kernel // 2``) and no further padding, because Keras's
    "same" pads only the bottom and right of an even map and so shifts the outputs by half a
    pixel; other convolutions pad "same" (1×1: none).
    """
    check_choice("padding", padding, PADDINGS)
    if padding == "symmetric":
        if kernel > 1 and stride > 1:
            x = layers.ZeroPadding2D(kernel // 2, name=names.of("pad", name))(x)
            padding = "valid"
        else:
            padding = "same" if kernel > 1 else "valid"
    x = layers.Conv2D(
        filters,
        kernel,
        strides=stride,
        padding=padding,
        use_bias=settings.use_bias,
        kernel_initializer=settings.kernel_initializer,
        kernel_regularizer=settings.regularizer(),
        name=names.of("conv", name),
    )(x)
    x = BatchNormalization(epsilon=settings.bn_epsilon, name=names.of("bn", name))(x)
    if relu:
        x = layers.Activation("relu", name=names.of("activation", name))(x)
    return x


def _widths(filters) -> tuple[int, ...]:
    """One width per separable convolution; an int means two of that width."""
    if is_int(filters):
        filters = (filters, filters)
    try:
        widths = tuple(filters)
    except TypeError:
        widths = ()
    if not widths:
        raise ValueError(f"filters must be an int or a sequence of ints such as (128, 128), got {filters!r}.")
    hint = "Pass one width per separable convolution, e.g. (128, 128)."
    return tuple(check_positive_int("filters", width, hint=hint) for width in widths)


def separable_conv(
    x,
    filters: int,
    name: str | None,
    settings: ConvSettings = ConvSettings(),
    *,
    intermediate_activation: str | None = None,
    split: bool = False,
):
    """A 3×3 depthwise separable convolution ("same" padding) of ``filters`` output maps, named ``name``.

    Without ``intermediate_activation`` it is one ``SeparableConv2D`` (so keras.applications'
    weights transfer). With ``intermediate_activation="relu"`` or ``"elu"``, or with
    ``split=True``, it is the same operation in two layers, ``{name}_depthwise``
    (``DepthwiseConv2D``, one 3×3 filter per input map, no bias) and ``{name}_pointwise`` (1×1
    ``Conv2D``, with the bias ``settings`` asks for), with the activation ``{name}_{activation}``
    between them: Keras's ``SeparableConv2D`` has no place for it. The parameters are the same
    either way. ``name=None`` lets Keras number the layers.
    """
    check_choice("intermediate_activation", intermediate_activation, INTERMEDIATE_ACTIVATIONS)
    split = check_bool("split", split) or intermediate_activation is not None
    if not split:
        return layers.SeparableConv2D(
            filters,
            3,
            padding="same",
            use_bias=settings.use_bias,
            depthwise_initializer=settings.kernel_initializer,
            pointwise_initializer=settings.kernel_initializer,
            depthwise_regularizer=settings.regularizer(),
            pointwise_regularizer=settings.regularizer(),
            name=name,
        )(x)

    def part(suffix):
        return None if name is None else f"{name}_{suffix}"

    x = layers.DepthwiseConv2D(
        3,
        padding="same",
        use_bias=False,  # SeparableConv2D's one bias comes after the pointwise step
        depthwise_initializer=settings.kernel_initializer,
        depthwise_regularizer=settings.regularizer(),
        name=part("depthwise"),
    )(x)
    if intermediate_activation is not None:
        x = layers.Activation(intermediate_activation, name=part(intermediate_activation))(x)
    return layers.Conv2D(
        filters,
        1,
        use_bias=settings.use_bias,
        kernel_initializer=settings.kernel_initializer,
        kernel_regularizer=settings.regularizer(),
        name=part("pointwise"),
    )(x)


def separable_block(
    x,
    filters,
    name: str,
    settings: ConvSettings = ConvSettings(),
    *,
    names: LayerNames = SEPARABLE_NAMES,
    first_relu: bool = True,
    pool: bool = True,
    residual: str | None = "project",
    project_bn: bool = False,
    intermediate_activation: str | None = None,
):
    """(ReLU →) 3×3 separable convolution → BN, once per entry of ``filters``, then (with ``pool``)
    3×3 max-pooling of stride 2, plus the residual branch, added: ``Add([x, residual])``.

    * ``filters``: one width per separable convolution, e.g. ``(728, 1024)`` for Xception's exit
      block, or one int for two convolutions of that width (the U-Net's down blocks).
    * ``first_relu=False`` leaves out the ReLU before the first convolution (Xception's first
      entry block, which follows the stem's own ReLU).
    * ``residual="project"``: the block input through a 1×1 convolution with the pooling's stride
      (then a BatchNormalization if ``project_bn``, as Xception); ``"identity"``: the input
      itself (Xception's middle flow: ``pool=False`` and the input's width); ``None``: no
      residual branch (an ablation).
    * ``intermediate_activation``: None (default), ``"relu"`` or ``"elu"`` between the depthwise
      and the pointwise step of every separable convolution (``separable_conv``).

    U-Net ``down1``: ``separable_block(x, 64, "down1")``. Xception ``block2``:
    ``separable_block(x, 128, "block2", ConvSettings(use_bias=False), names=..., first_relu=False,
    project_bn=True)`` with names ``block2_sepconv1``, ``block2_sepconv1_bn``,
    ``block2_sepconv2_act``, ..., ``block2_pool`` and an unnamed residual branch.
    """
    widths = _widths(filters)
    first_relu = check_bool("first_relu", first_relu)
    pool = check_bool("pool", pool)
    check_choice("residual", residual, RESIDUALS)
    project_bn = check_bool("project_bn", project_bn)
    check_choice("intermediate_activation", intermediate_activation, INTERMEDIATE_ACTIVATIONS)

    block_input = x
    for i, width in enumerate(widths, start=1):
        if i > 1 or first_relu:
            x = layers.Activation("relu", name=names.of("activation", name, i))(x)
        x = separable_conv(
            x, width, names.of("conv", name, i), settings, intermediate_activation=intermediate_activation
        )
        x = BatchNormalization(epsilon=settings.bn_epsilon, name=names.of("bn", name, i))(x)
    if pool:
        x = layers.MaxPooling2D(3, strides=2, padding="same", name=names.of("pool", name))(x)
    if residual is None:
        return x
    shortcut = block_input
    if residual == "project":
        # Project the block input to the block's width and (with pool) its halved map.
        shortcut = layers.Conv2D(
            widths[-1],
            1,
            strides=2 if pool else 1,
            padding="same",
            use_bias=settings.use_bias,
            kernel_initializer=settings.kernel_initializer,
            kernel_regularizer=settings.regularizer(),
            name=names.of("project", name),
        )(shortcut)
        if project_bn:
            shortcut = BatchNormalization(
                epsilon=settings.bn_epsilon, name=names.of("project_bn", name)
            )(shortcut)
    return layers.Add(name=names.of("add", name))([x, shortcut])


def squeeze_excite(x, ratio: int = 16, name: str | None = None, settings: ConvSettings = ConvSettings()):
    """Squeeze-and-excitation (Hu, Shen & Sun, 2018, §3 and Fig. 2) of a 4-D feature map
    (batch, height, width, C), channels last; returns a map of the same shape.

    Squeeze: global average pooling to one value per channel (``{name}_se_squeeze``, kept as a
    1×1×C map so that the scale broadcasts). Excitation: Dense C/r + ReLU (``{name}_se_reduce``),
    Dense C + sigmoid (``{name}_se_expand``), both with biases. Scale: the input times its
    channel weights (``{name}_se_scale``). ``ratio`` is the reduction r (the paper's 16); a map of
    fewer than r channels keeps one hidden unit. ``name=None`` lets Keras number the layers, so
    the block can be called any number of times without names. ``settings`` gives the Dense
    layers a family's initialiser and weight decay. Parameters: 2·C·(C // r) + C // r + C.
    """
    ratio = check_positive_int("ratio", ratio, hint="Hu et al. (2018) used 16.")
    if len(x.shape) != 4 or x.shape[-1] is None:
        raise ValueError(
            f"squeeze_excite needs a 4-D feature map (batch, height, width, channels) with a known "
            f"number of channels, got shape {tuple(x.shape)}."
        )
    channels = x.shape[-1]

    def layer_name(role):
        return None if name is None else f"{name}_se_{role}"

    dense = functools.partial(
        layers.Dense,
        kernel_initializer=settings.kernel_initializer,
        kernel_regularizer=settings.regularizer(),
    )
    weights = layers.GlobalAveragePooling2D(keepdims=True, name=layer_name("squeeze"))(x)
    weights = dense(max(1, channels // ratio), activation="relu", name=layer_name("reduce"))(weights)
    weights = dense(channels, activation="sigmoid", name=layer_name("expand"))(weights)
    return layers.Multiply(name=layer_name("scale"))([x, weights])


def global_pooling(x, pooling: str | None):
    """A backbone's optional last step (keras.applications' ``pooling`` without the top): None
    keeps the feature map, "avg" and "max" reduce it to one value per channel (``avg_pool``,
    ``max_pool``)."""
    check_choice("pooling", pooling, POOLINGS)
    if pooling == "avg":
        return layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if pooling == "max":
        return layers.GlobalMaxPooling2D(name="max_pool")(x)
    return x


def classification_head(x, include_top: bool, pooling: str | None, num_classes: int, kernel_regularizer=None,
                        dropout: float = 0.0):
    """keras.applications' end of a classifier: with the top, global average pooling (``avg_pool``) and a
    softmax ``Dense`` (``predictions``); without it, :func:`global_pooling`. The output layer computes in
    float32, which keeps the softmax and the loss exact under mixed precision. ``dropout`` > 0 puts a
    ``Dropout`` layer (``dropout``) between the pooling and the softmax, as Xception's paper trained (§4.3)."""
    if not include_top:
        return global_pooling(x, pooling)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if dropout:
        x = layers.Dropout(dropout, name="dropout")(x)
    return layers.Dense(num_classes, activation="softmax", kernel_regularizer=kernel_regularizer,
                        dtype="float32", name="predictions")(x)


__all__ = [
    "ConvSettings",
    "INTERMEDIATE_ACTIVATIONS",
    "LayerNames",
    "SEPARABLE_NAMES",
    "classification_head",
    "conv_bn",
    "global_pooling",
    "separable_block",
    "separable_conv",
    "squeeze_excite",
]
