"""AlexNet (Krizhevsky, Sutskever & Hinton, 2012, "ImageNet Classification with Deep Convolutional
Neural Networks") and ZFNet (Zeiler & Fergus, 2014, "Visualizing and Understanding Convolutional
Networks", Fig. 3), and their classroom versions for 28×28 Fashion-MNIST.

Both networks are five convolutions and three fully connected layers, written below as a table
(``Architecture``): one row per convolution with its filters, kernel, stride, padding, whether it
is split between AlexNet's two GPUs, whether local response normalisation follows it and whether
a 3×3 max-pooling of stride 2 follows it. Layer names are Caffe's reference AlexNet's, which number
the layers as the paper does: ``conv1``, ``relu1``, ``norm1``, ``pool1``, ..., ``pool5``,
``flatten``, ``fc6``, ``drop6``, ``fc7``, ``drop7``, ``fc8``.

AlexNet at 227×227×3 (the paper's "224" does not divide: (224 − 11) / 4 + 1 is not whole)::

    layer   kernel/stride  padding  maps          two towers (groups=2)         one tower
    conv1   11×11/4 · 96   valid    55×55×96      11·11·3·96 + 96   =  34,944   34,944
    pool1   3×3/2          valid    27×27×96
    conv2   5×5 · 256      same     27×27×256     5·5·48·256 + 256  = 307,456   614,656
    pool2   3×3/2          valid    13×13×256
    conv3   3×3 · 384      same     13×13×384     3·3·256·384 + 384 = 885,120   885,120
    conv4   3×3 · 384      same     13×13×384     3·3·192·384 + 384 = 663,936   1,327,488
    conv5   3×3 · 256      same     13×13×256     3·3·192·256 + 256 = 442,624   884,992
    pool5   3×3/2          valid    6×6×256
    fc6     9,216 → 4,096                         37,752,832
    fc7     4,096 → 4,096                         16,781,312
    fc8     4,096 → 1,000                          4,097,000
    total                                         60,965,224                    62,378,344

``towers=2`` is the network of the paper's Fig. 2, trained on two GPUs: conv2, conv4 and conv5
see only the maps of their own GPU (``Conv2D(groups=2)``), conv3 and the dense layers see both.
conv1 is split too, but each half reads the whole image, which is one ordinary convolution.

ZFNet at 224×224×3 follows Fig. 3 of Zeiler & Fergus: conv1 7×7/2 (AlexNet's 11×11/4 aliased,
their visualisations showed), conv2 5×5/2, one tower, and the maps of Fig. 3, 110 → 55 → 26 → 13
→ 13 → 13 → 6. The figure gives no paddings; these give its sizes: one pixel of zeros around the
image before conv1 ((226 − 7) / 2 + 1 = 110), "same" pooling after conv1 and conv2 (110 → 55,
26 → 13), a valid conv2 ((55 − 5) / 2 + 1 = 26) and a valid pool5 (13 → 6). ZFNet normalises the
*pooled* maps ("max pooled ... and contrast normalized across feature maps"), AlexNet the maps
before pooling. Parameters: 14,208 + 614,656 + 885,120 + 1,327,488 + 884,992 convolutions plus
AlexNet's 58,631,144 dense = 62,357,608.

Options: ``normalization="lrn"`` is the paper's local response normalisation after the ReLU of
conv1 and conv2 (``LocalResponseNormalization``, k=2, n=5, α=1e-4, β=0.75), ``"batch"`` puts
BatchNormalization between every convolution and its ReLU instead (how the network was trained
once Ioffe & Szegedy (2015) had published it; the convolutions keep their biases, as torchvision's
``vgg*_bn``, so the count grows by 2 × 1,376 trainable and 2 × 1,376 moving statistics), None
neither. ``dropout`` 0.5 in fc6 and fc7 (§4.2). ``max_pooling="overlapping"`` is the paper's 3×3/2
pooling (§3.4: top-1 error 0.4 points lower), ``"2x2"`` the non-overlapping 2×2/2 pooling it was
compared with, which gives the same map sizes. Weights start from Keras's defaults, not the
paper's N(0, 0.01) and biases of 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
from keras import layers

from cv_textbook.checks import (
    check_choice,
    check_input_shape,
    check_num_classes,
    check_number,
    check_top,
    smallest_input_side,
)
from cv_textbook.models.blocks import global_pooling
from cv_textbook.models.layers import BatchNormalization, LocalResponseNormalization

NORMALIZATIONS = ("lrn", "batch", None)
MAX_POOLINGS = {"overlapping": 3, "2x2": 2}  # window side; the stride is 2 either way
TOWERS = (1, 2)
# BatchNormalization's moving statistics follow the batches at 0.9 (PyTorch's default), not
# Keras's 0.99, which after a short classroom run (86 steps) still holds 42 % of the initial
# statistics and tests far below what it trains at (as models.vgg measured).
BN_MOMENTUM = 0.9


@dataclass(frozen=True)
class Conv:
    """One row of the table: a convolution and what follows it.

    ``padding`` is Keras's "valid" or "same", or an int: that many zero pixels around the map
    (``pad{i}``) before a valid convolution. ``grouped``: split between the towers (AlexNet's
    conv2, conv4, conv5). ``lrn``: local response normalisation follows. ``pool``: None, or the
    padding of the max-pooling that follows ("valid" in AlexNet, "same" where ZFNet's sizes need it).
    """

    filters: int
    kernel: int
    stride: int = 1
    padding: str | int = "same"
    grouped: bool = False
    lrn: bool = False
    pool: str | None = None


@dataclass(frozen=True)
class Architecture:
    """A network of the family: its convolutions, its two hidden dense widths and whether the
    normalisation comes after the pooling (ZFNet) or before it (AlexNet)."""

    name: str
    convs: tuple[Conv, ...]
    dense: tuple[int, ...] = (4096, 4096)
    lrn_after_pool: bool = False
    example: tuple[int, int, int] = (227, 227, 3)


ALEXNET = Architecture("alexnet", (
    Conv(96, 11, 4, "valid", lrn=True, pool="valid"),
    Conv(256, 5, grouped=True, lrn=True, pool="valid"),
    Conv(384, 3),
    Conv(384, 3, grouped=True),
    Conv(256, 3, grouped=True, pool="valid"),
))

ZFNET = Architecture("zfnet", (
    Conv(96, 7, 2, 1, lrn=True, pool="same"),
    Conv(256, 5, 2, "valid", lrn=True, pool="same"),
    Conv(384, 3),
    Conv(384, 3),
    Conv(256, 3, pool="valid"),
), lrn_after_pool=True, example=(224, 224, 3))

# The classroom versions (28×28×1). AlexNet's pattern kept: its five convolutions in its order, a
# large strided first kernel, LRN after conv1 and conv2, overlapping 3×3/2 pooling after conv1,
# conv2 and conv5, the grouped conv2, conv4, conv5 (with towers=2), dropout 0.5 in fc6 and fc7.
# Widths are a quarter of the paper's (24, 64, 96, 96, 64) and the dense layers a sixteenth
# (256). What changed: conv1 is 5×5/2
# instead of 11×11/4 (a 28-pixel image has no room for a stride of 4), and every padding is
# "same", so that 28 → 14 → 7 → 4 → 2 keeps a 2×2 map for fc6 (AlexNet's valid 3×3 poolings
# would leave nothing of 28 pixels after pool5).
ALEXNET_CLASSROOM = Architecture("alexnet_classroom", (
    Conv(24, 5, 2, lrn=True, pool="same"),
    Conv(64, 5, grouped=True, lrn=True, pool="same"),
    Conv(96, 3),
    Conv(96, 3, grouped=True),
    Conv(64, 3, grouped=True, pool="same"),
), dense=(256, 256), example=(28, 28, 1))

# ZFNet's changes made to the classroom AlexNet: a smaller first kernel and stride (3×3/1 against
# 5×5/2, as ZFNet's 7×7/2 against 11×11/4), conv2 strided instead (so that the later maps keep
# their sizes, 28 → 14 → 7 → 4 → 2), one tower, normalisation after the pooling.
ZFNET_CLASSROOM = Architecture("zfnet_classroom", (
    Conv(24, 3, 1, lrn=True, pool="same"),
    Conv(64, 5, 2, lrn=True, pool="same"),
    Conv(96, 3),
    Conv(96, 3),
    Conv(64, 3, pool="same"),
), dense=(256, 256), lrn_after_pool=True, example=(28, 28, 1))


def windows(architecture: Architecture, pool_size: int = 3) -> list[tuple[int, int, str | int]]:
    """The network's sliding windows in order, ``(kernel, stride, padding)``, for
    ``checks.smallest_input_side``."""
    steps = []
    for conv in architecture.convs:
        steps.append((conv.kernel, conv.stride, conv.padding))
        if conv.pool is not None:
            steps.append((pool_size, 2, conv.pool))
    return steps


def _conv_layer(x, conv: Conv, index: int, towers: int, normalization, pool_size: int, lrn_after_pool: bool):
    """conv{i} (→ bn{i}) → relu{i} (→ norm{i}) (→ pool{i}), with norm{i} after pool{i} for ZFNet."""
    padding = conv.padding
    if not isinstance(padding, str):
        x = layers.ZeroPadding2D(padding, name=f"pad{index}")(x)
        padding = "valid"
    x = layers.Conv2D(
        conv.filters, conv.kernel, strides=conv.stride, padding=padding, groups=towers if conv.grouped else 1,
        name=f"conv{index}",
    )(x)
    if normalization == "batch":
        x = BatchNormalization(momentum=BN_MOMENTUM, name=f"bn{index}")(x)
    x = layers.Activation("relu", name=f"relu{index}")(x)

    def normalize(x):
        if conv.lrn and normalization == "lrn":
            x = LocalResponseNormalization(name=f"norm{index}")(x)
        return x

    if not lrn_after_pool:
        x = normalize(x)
    if conv.pool is not None:
        x = layers.MaxPooling2D(pool_size, strides=2, padding=conv.pool, name=f"pool{index}")(x)
    if lrn_after_pool:
        x = normalize(x)
    return x


def build_alexnet(
    architecture: Architecture,
    input_shape,
    num_classes: int = 1000,
    towers: int = 1,
    normalization: str | None = "lrn",
    max_pooling: str = "overlapping",
    dropout: float = 0.5,
    include_top: bool = True,
    pooling: str | None = None,
) -> keras.Model:
    """The shared builder: ``architecture``'s table as a functional model, arguments checked.

    ``include_top=False`` returns pool5's maps (6×6×256 for AlexNet), with ``pooling`` "avg" or
    "max" reduced to one value per channel, as keras.applications.
    """
    check_choice("towers", towers, TOWERS)
    check_choice("normalization", normalization, NORMALIZATIONS)
    check_choice("max_pooling", max_pooling, tuple(MAX_POOLINGS))
    dropout = check_number("dropout", dropout, 0.0, hint="The paper used 0.5.")
    if dropout >= 1:
        raise ValueError(f"dropout must be a rate below 1 (the paper used 0.5), got {dropout}.")
    include_top, pooling = check_top(include_top, pooling)
    pool_size = MAX_POOLINGS[max_pooling]
    smallest = smallest_input_side(windows(architecture, pool_size))
    input_shape = check_input_shape(input_shape, smallest, architecture.name, example=architecture.example)
    num_classes = check_num_classes(num_classes)

    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    for index, conv in enumerate(architecture.convs, start=1):
        x = _conv_layer(x, conv, index, towers, normalization, pool_size, architecture.lrn_after_pool)
    if include_top:
        x = layers.Flatten(name="flatten")(x)
        for index, units in enumerate(architecture.dense, start=len(architecture.convs) + 1):
            x = layers.Dense(units, activation="relu", name=f"fc{index}")(x)
            if dropout:
                x = layers.Dropout(dropout, name=f"drop{index}")(x)
        # float32 output keeps the softmax and the loss exact under mixed precision.
        x = layers.Dense(
            num_classes, activation="softmax", dtype="float32", name=f"fc{len(architecture.convs) + 3}"
        )(x)
    else:
        x = global_pooling(x, pooling)
    return keras.Model(inputs, x, name=architecture.name)


def alexnet(
    input_shape=(227, 227, 3),
    num_classes: int = 1000,
    towers: int = 2,
    normalization: str | None = "lrn",
    max_pooling: str = "overlapping",
    dropout: float = 0.5,
    include_top: bool = True,
    pooling: str | None = None,
) -> keras.Model:
    """AlexNet (Krizhevsky et al., 2012) at 227×227×3: 60,965,224 parameters with ``towers=2``.

    ``towers=2`` groups conv2, conv4 and conv5 between the two GPUs' halves (``Conv2D(groups=2)``),
    ``towers=1`` is the single-tower network (62,378,344). ``normalization`` "lrn" (the paper:
    after the ReLU of conv1 and conv2, before the pooling), "batch" (BatchNormalization before
    every ReLU) or None; ``max_pooling`` "overlapping" (3×3/2, the paper) or "2x2"; ``dropout``
    in fc6 and fc7. Images need at least 67 pixels a side (39 with 2×2 pooling). The module
    docstring tabulates the layers.
    """
    return build_alexnet(ALEXNET, input_shape, num_classes, towers, normalization, max_pooling, dropout,
                         include_top, pooling)


def zfnet(
    input_shape=(224, 224, 3),
    num_classes: int = 1000,
    normalization: str | None = "lrn",
    dropout: float = 0.5,
    include_top: bool = True,
    pooling: str | None = None,
) -> keras.Model:
    """ZFNet (Zeiler & Fergus, 2014, Fig. 3) at 224×224×3: 62,357,608 parameters.

    AlexNet on one GPU with a 7×7/2 conv1 and a 5×5/2 conv2, maps 110, 55, 26, 13, 13, 13, 6
    (paddings in the module docstring); normalisation of the pooled maps of conv1 and conv2.
    Images need at least 53 pixels a side.
    """
    return build_alexnet(ZFNET, input_shape, num_classes, 1, normalization, "overlapping", dropout,
                         include_top, pooling)


def alexnet_classroom(
    input_shape=(28, 28, 1),
    num_classes: int = 10,
    towers: int = 1,
    normalization: str | None = "lrn",
    max_pooling: str = "overlapping",
    dropout: float = 0.5,
    include_top: bool = True,
    pooling: str | None = None,
) -> keras.Model:
    """AlexNet-style network for 28×28 Fashion-MNIST: AlexNet's pattern at a quarter of its widths.

    Kept: five convolutions in AlexNet's order (a large strided first kernel, then 5×5 and three
    3×3), ReLU, LRN after conv1 and conv2 before pooling, overlapping 3×3/2 max-pooling after
    conv1, conv2 and conv5, dropout 0.5 in fc6 and fc7; the same options as ``alexnet``.
    Changed, to fit 28 pixels and a laptop: widths 24, 64, 96, 96, 64 (a quarter of 96, 256, 384,
    384, 256), fc6 and fc7 of 256 units (a sixteenth of 4,096), conv1 5×5/2 instead of 11×11/4,
    and "same" padding everywhere, so that the maps go 28 → 14 (conv1) → 7 (pool1) → 4 (pool2)
    → 2 (pool5) and fc6 reads a 2×2×64 map. One tower by default: the towers split the network
    between two 3 GB GPUs of 2012, and on a CPU TensorFlow runs a grouped convolution through
    XLA's generic kernel, which made a training step 2.5-4 times slower (measured on a 2-core
    CPU); ``towers=2`` groups conv2, conv4 and conv5 as the paper. Parameters (10 classes): conv1
    624, conv2 38,464, conv3 55,392, conv4 83,040, conv5 55,360, fc6 65,792, fc7 65,792, fc8
    2,570: 367,034 (278,714 with two towers).
    """
    return build_alexnet(ALEXNET_CLASSROOM, input_shape, num_classes, towers, normalization, max_pooling,
                         dropout, include_top, pooling)


def zfnet_classroom(
    input_shape=(28, 28, 1),
    num_classes: int = 10,
    normalization: str | None = "lrn",
    dropout: float = 0.5,
    include_top: bool = True,
    pooling: str | None = None,
) -> keras.Model:
    """ZFNet-style network for 28×28 Fashion-MNIST: the classroom AlexNet changed as ZFNet changed AlexNet.

    A smaller first kernel and stride (3×3/1 against the classroom AlexNet's 5×5/2, as ZFNet's
    7×7/2 against 11×11/4), the stride moved to conv2 (5×5/2) so that the later maps keep their
    sizes (28 (conv1) → 14 (pool1) → 7 (conv2) → 4 (pool2) → 2 (pool5)), one tower, LRN after
    the pooling of conv1 and conv2; widths and dense layers as ``alexnet_classroom``. Parameters
    (10 classes): conv1 240, conv2 38,464, conv3 55,392, conv4 83,040, conv5 55,360, fc6 65,792,
    fc7 65,792, fc8 2,570: 366,650.
    """
    return build_alexnet(ZFNET_CLASSROOM, input_shape, num_classes, 1, normalization, "overlapping", dropout,
                         include_top, pooling)
