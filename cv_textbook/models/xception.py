"""Xception (Chollet, 2017, "Xception: Deep Learning with Depthwise Separable Convolutions").

The network of the paper's Fig. 5, as data (``XceptionLayout``): a stem of two 3×3 convolutions;
the **entry flow**, blocks of two separable convolutions and a 3×3/2 max-pooling with a strided
1×1 projection of the block input added; the **middle flow**, eight repeats of three separable
convolutions with the block input itself added; the **exit flow**, one more pooled block and two
separable convolutions, then global average pooling and the classifier. Every separable
convolution is ReLU → SeparableConv2D → BN (the last two are SeparableConv2D → BN → ReLU); the
blocks are ``blocks.separable_block``, which the U-Net's encoder shares.

``xception()`` *is* ``keras.applications.Xception``: the same layers in the same order, with the
same names (the residual branches and their Add layers unnamed, as there), 22,910,480 parameters
at 299×299×3 (22,855,952 trainable: the paper's count) and 20,861,480 without the top, so
``transfer_weights(keras.applications.Xception(weights=None), xception())`` copies every weight
and both compute the same outputs.

The paper's ablations are arguments: ``residual=False`` removes every residual connection (Fig. 9:
the projections of the entry and exit flows and the identities of the middle flow), and
``intermediate_activation="relu"`` or ``"elu"`` puts an activation between the depthwise and the
pointwise step of every separable convolution (Fig. 10), which splits each ``SeparableConv2D``
into ``DepthwiseConv2D`` → activation → 1×1 ``Conv2D`` (``blocks.separable_conv``; same
parameters).

``xception_classroom`` keeps the flows for 28×28 Fashion-MNIST, smaller (see its docstring).
"""

from __future__ import annotations

import dataclasses

import keras
from keras import layers

from cv_textbook.checks import (
    check_bool,
    check_choice,
    check_input_shape,
    check_num_classes,
    check_number,
    check_positive_int,
    check_top,
    check_weight_decay,
)
from cv_textbook.models.blocks import (
    INTERMEDIATE_ACTIVATIONS,
    ConvSettings,
    LayerNames,
    classification_head,
    conv_bn,
    separable_block,
    separable_conv,
)
from cv_textbook.models.layers import BatchNormalization


@dataclasses.dataclass(frozen=True)
class XceptionLayout:
    """An Xception as data: the stem's convolutions, then the widths of each flow's blocks."""

    stem: tuple[tuple[int, int], ...]  # (filters, stride) of each 3×3 convolution
    stem_padding: str
    entry: tuple[int, ...]  # one pooled block of two separable convolutions of this width each
    middle_width: int
    middle_repeats: int  # blocks of three separable convolutions and an identity residual
    exit_block: tuple[int, int]  # the last pooled block's two widths
    exit_convs: tuple[int, int]  # the two separable convolutions before the pooling


# Fig. 5 of the paper (and keras.applications): block1 the stem, block2-4 the entry flow,
# block5-12 the middle flow, block13-14 the exit flow.
PAPER = XceptionLayout(
    stem=((32, 2), (64, 1)),
    stem_padding="valid",
    entry=(128, 256, 728),
    middle_width=728,
    middle_repeats=8,
    exit_block=(728, 1024),
    exit_convs=(1536, 2048),
)

# Every width a quarter of the paper's (182 = 728 / 4); no stride in the stem and "same" padding,
# so that 28×28 still leaves 4×4 maps in the middle flow (the paper's 299×299 leaves 19×19).
CLASSROOM = XceptionLayout(
    stem=((8, 1), (16, 1)),
    stem_padding="same",
    entry=(32, 64, 182),
    middle_width=182,
    middle_repeats=8,
    exit_block=(182, 256),
    exit_convs=(384, 512),
)

# keras.applications' names: block1_conv1, block1_conv1_bn, block1_conv1_act; block2_sepconv1,
# block2_sepconv1_bn, block2_sepconv2_act, ...; the residual branches and the Add layers unnamed.
STEM_NAMES = LayerNames(conv="{block}", bn="{block}_bn", activation="{block}_act")
SEPARABLE_NAMES = LayerNames(
    conv="{block}_sepconv{i}",
    bn="{block}_sepconv{i}_bn",
    activation="{block}_sepconv{i}_act",
    pool="{block}_pool",
    project=None,
    project_bn=None,
    add=None,
)

# Xception's convolutions have no bias (each is followed by BN); Keras's default initialiser and epsilon.
SETTINGS = ConvSettings(use_bias=False)


def _map_sides(side: int, layout: XceptionLayout) -> list[int] | None:
    """The side of the map entering each stride-2 step (a strided stem convolution, a pooling),
    or None where a "valid" stem convolution has nothing left to convolve."""
    sides = []
    for _, stride in layout.stem:
        if stride > 1:
            sides.append(side)
        side = (side - 3) // stride + 1 if layout.stem_padding == "valid" else -(-side // stride)
        if side < 1:
            return None
    for _ in range(len(layout.entry) + 1):  # the entry blocks' and the exit block's poolings ("same")
        sides.append(side)
        side = -(-side // 2)
    return sides


def smallest_side(layout: XceptionLayout) -> int:
    """The smallest input side at which every stride-2 step still halves a map of at least 2
    pixels: 23 for the paper's layout (keras.applications asks for 71 by its own rule), 9 for
    the classroom's."""
    side = 1
    while not (sides := _map_sides(side, layout)) or min(sides) < 2:
        side += 1
    return side


def build_xception(
    name: str,
    input_shape,
    num_classes: int,
    layout: XceptionLayout = PAPER,
    *,
    residual: bool = True,
    intermediate_activation: str | None = None,
    include_top: bool = True,
    pooling: str | None = None,
    dropout: float = 0.0,
    weight_decay: float | None = None,
) -> keras.Model:
    """The shared builder: ``layout`` is the stack as data. Arguments are checked by the public builders."""
    settings = dataclasses.replace(SETTINGS, weight_decay=weight_decay)
    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    for index, (filters, stride) in enumerate(layout.stem, start=1):
        x = conv_bn(x, filters, 3, stride, f"block1_conv{index}", settings, padding=layout.stem_padding,
                    names=STEM_NAMES)

    def block(x, filters, number, **options):
        return separable_block(
            x, filters, f"block{number}", settings, names=SEPARABLE_NAMES, project_bn=True,
            intermediate_activation=intermediate_activation, **options,
        )

    number = 2
    for position, width in enumerate(layout.entry):
        # The first entry block follows the stem's own ReLU.
        x = block(x, width, number, first_relu=position > 0, residual="project" if residual else None)
        number += 1
    for _ in range(layout.middle_repeats):
        middle = (layout.middle_width,) * 3
        x = block(x, middle, number, pool=False, residual="identity" if residual else None)
        number += 1
    x = block(x, layout.exit_block, number, residual="project" if residual else None)
    number += 1
    for index, width in enumerate(layout.exit_convs, start=1):
        # The exit flow's last two: separable convolution → BN → ReLU.
        conv_name = f"block{number}_sepconv{index}"
        x = separable_conv(x, width, conv_name, settings, intermediate_activation=intermediate_activation)
        x = BatchNormalization(epsilon=settings.bn_epsilon, name=f"{conv_name}_bn")(x)
        x = layers.Activation("relu", name=f"{conv_name}_act")(x)

    x = classification_head(x, include_top, pooling, num_classes, settings.regularizer(), dropout=dropout)
    return keras.Model(inputs, x, name=name)


def narrower(layout: XceptionLayout, width_divisor: int = 1, middle_repeats: int | None = None) -> XceptionLayout:
    """``layout`` with every width divided by ``width_divisor`` (rounded down, at least 1) and, if given,
    another number of middle-flow blocks: the same flows, cheaper to train."""
    width_divisor = check_positive_int("width_divisor", width_divisor, hint="1 keeps the layout's widths.")
    if middle_repeats is not None:
        middle_repeats = check_positive_int("middle_repeats", middle_repeats, hint="The paper has 8.")

    def width(filters):
        return max(1, filters // width_divisor)

    return dataclasses.replace(
        layout,
        stem=tuple((width(filters), stride) for filters, stride in layout.stem),
        entry=tuple(width(filters) for filters in layout.entry),
        middle_width=width(layout.middle_width),
        middle_repeats=layout.middle_repeats if middle_repeats is None else middle_repeats,
        exit_block=tuple(width(filters) for filters in layout.exit_block),
        exit_convs=tuple(width(filters) for filters in layout.exit_convs),
    )


def _build(name, layout, input_shape, num_classes, residual, intermediate_activation, include_top, pooling,
           example, dropout=0.0, weight_decay=None):
    residual = check_bool("residual", residual)
    check_choice("intermediate_activation", intermediate_activation, INTERMEDIATE_ACTIVATIONS)
    include_top, pooling = check_top(include_top, pooling)
    input_shape = check_input_shape(input_shape, smallest_side(layout), name, example=example)
    num_classes = check_num_classes(num_classes)
    return build_xception(
        name, input_shape, num_classes, layout, residual=residual,
        intermediate_activation=intermediate_activation, include_top=include_top, pooling=pooling,
        dropout=dropout, weight_decay=weight_decay,
    )


def xception(
    input_shape=(299, 299, 3),
    num_classes: int = 1000,
    residual: bool = True,
    intermediate_activation: str | None = None,
    include_top: bool = True,
    pooling: str | None = None,
) -> keras.Model:
    """Xception (Chollet, 2017): keras.applications.Xception's layers, names and 22,910,480 parameters.

    Entry flow (blocks 2-4: 128, 256, 728), middle flow (blocks 5-12: 3 × 728, identity residuals),
    exit flow (block 13: 728, 1024; block 14: 1536, 2048), all separable convolutions. 22,855,952
    trainable parameters (the paper's count), 20,861,480 in all without the top.
    ``residual=False`` removes the residual connections (the paper's Fig. 9);
    ``intermediate_activation`` = None, "relu" or "elu" goes between the depthwise and the
    pointwise convolutions (Fig. 10). Inputs from 23×23 (the smallest side at which every
    pooling still halves a map).
    """
    return _build("xception", PAPER, input_shape, num_classes, residual, intermediate_activation, include_top,
                  pooling, example=(299, 299, 3))


def xception_classroom(
    input_shape=(28, 28, 1),
    num_classes: int = 10,
    residual: bool = True,
    intermediate_activation: str | None = None,
    include_top: bool = True,
    pooling: str | None = None,
    width_divisor: int = 1,
    middle_repeats: int = CLASSROOM.middle_repeats,
    dropout: float = 0.0,
    weight_decay: float | None = None,
) -> keras.Model:
    """Xception-style network for 28×28 Fashion-MNIST: the paper's flows at a quarter of the width.

    What is kept: the stem of two 3×3 convolutions; three entry blocks, eight middle blocks and the
    exit flow, each as in the paper (ReLU → separable convolution → BN, 3×3/2 max-pooling, strided
    1×1 projections with BN; identity residuals in the middle flow; separable convolution → BN →
    ReLU at the end), global average pooling and a softmax, no dropout, 36 convolutional layers.
    What changed: every width is a quarter of the paper's (stem 8, 16; entry 32, 64, 182; middle
    182; exit 182, 256, then 384, 512), and the stem has no stride and pads "same", so the maps
    are 28 → 14 → 7 → 4 (middle flow) → 2 (exit flow) instead of 299 → ... 19 → 10.
    1,368,332 parameters at 28×28×1 with 10 classes (1,354,700 trainable). ``residual`` and
    ``intermediate_activation`` as ``xception`` (the paper's ablations). Inputs from 9×9.
    ``width_divisor`` divides every width further and ``middle_repeats`` sets the number of
    middle-flow blocks (``narrower``): chapter 9's ablations train ``width_divisor=4``, which
    is much faster on a CPU and keeps every pattern. ``dropout`` (the paper: 0.5, §4.3) goes before the
    softmax; ``weight_decay`` adds an L2 penalty to every kernel (the paper: 1e-5; biases and BN none).
    """
    layout = narrower(CLASSROOM, width_divisor, middle_repeats)
    dropout = check_number("dropout", dropout, 0.0, hint="The paper trained with 0.5 before the softmax (§4.3).")
    weight_decay = check_weight_decay(weight_decay,
                                      hint="The paper used 1e-5 (§4.3); ResNet-20's classroom recipe 1e-4.")
    return _build("xception_classroom", layout, input_shape, num_classes, residual,
                  intermediate_activation, include_top, pooling, example=(28, 28, 1), dropout=dropout,
                  weight_decay=weight_decay)


__all__ = ["CLASSROOM", "PAPER", "XceptionLayout", "build_xception", "narrower", "smallest_side", "xception",
           "xception_classroom"]
