"""DenseNet (Huang, Liu, van der Maaten & Weinberger, 2017, "Densely Connected Convolutional Networks").

Every layer of a dense block reads the concatenation of all the maps before it in the block and
adds ``growth_rate`` (k) maps of its own. Two layouts from the paper, built by one shared builder
from a stack description (the number of layers per dense block, as data):

* ImageNet (Table 1): a 7×7/2 convolution of 64 filters, BN, ReLU and a 3×3/2 max-pooling; four
  dense blocks of 6/12/24/16 (DenseNet-121), 6/12/32/32 (169) or 6/12/48/32 (201) layers with
  k = 32; a transition between two blocks; BN, ReLU, global average pooling, a 1000-way dense
  layer. The details follow ``keras.applications.DenseNet121``: the same layers in the same order
  with the same names, convolutions without biases, BatchNormalization epsilon 1.001e-5, so
  ``transfer_weights(keras.applications.DenseNet121(weights=None), densenet121())`` copies all
  weights and both compute the same function.
* CIFAR (§3, DenseNet-BC): a 3×3 convolution of 2k filters, three dense blocks of (L − 4)/6
  layers on 32/16/8 maps (28/14/7 for Fashion-MNIST), BN, ReLU, global average pooling, dense.

A layer of a dense block is DenseNet-B's bottleneck: BN → ReLU → 1×1 convolution of 4k filters
→ BN → ReLU → 3×3 convolution of k filters, concatenated to its input (``conv2_block1_0_bn``,
``_0_relu``, ``_1_conv``, ``_1_bn``, ``_1_relu``, ``_2_conv``, ``_concat``). A transition is
DenseNet-C's compression: BN → ReLU → 1×1 convolution to ⌊θ·C⌋ of the C maps → 2×2 average
pooling of stride 2 (``pool2_bn``, ``_relu``, ``_conv``, ``_pool``); θ = ``compression`` = 0.5
halves the channels.

keras.applications leaves its two stem paddings unnamed; here they are ``conv1_pad`` and
``pool1_pad`` (the names keras.applications' ResNet gives the same layers). Every other name is
keras.applications'.

Figures (``trainable`` = trainable parameters, ``total`` = ``count_params()``, which adds the
BatchNormalization moving statistics): DenseNet-121/169/201 at 224×224×3 have 8,062,504 /
14,307,880 / 20,242,984 total (= keras.applications) and 7,978,856 / 14,149,480 / 20,013,928
trainable (= torchvision); without the top 7,037,504 / 12,642,880 / 18,321,984 total.
DenseNet-BC at 32×32×3 with 10 classes: (L=100, k=12) 769,162 trainable (793,150 total; the
paper's 0.8 M), (250, 24) 15,324,406 and (190, 40) 25,624,430 trainable (the paper's 15.3 M and
25.6 M, Table 2).

Backbones: every builder takes keras.applications' ``include_top`` and ``pooling``; without the
top the model returns the map after the final BN and ReLU (``relu``, 7×7×1024 for DenseNet-121 at
224×224), with ``pooling="avg"``/``"max"`` reduced to one value per channel.
"""

from __future__ import annotations

import dataclasses

import keras
from keras import layers

from cv_textbook.checks import (
    check_input_shape,
    check_num_classes,
    check_number,
    check_positive_int,
    check_top,
    check_weight_decay,
    is_int,
)
from cv_textbook.models.blocks import ConvSettings, classification_head, conv_bn
from cv_textbook.models.layers import BatchNormalization

BN_EPSILON = 1.001e-5  # keras.applications' value
BOTTLENECK_WIDTH = 4  # the 1×1 convolution of a dense layer makes 4k maps (§3, DenseNet-B)

# depth -> layers per dense block conv2 .. conv5, Table 1 of the paper (growth rate 32)
IMAGENET_BLOCKS = {
    121: (6, 12, 24, 16),
    169: (6, 12, 32, 32),
    201: (6, 12, 48, 32),
}
IMAGENET_GROWTH_RATE = 32
IMAGENET_COMPRESSION = 0.5
IMAGENET_STEM_FILTERS = 64

# DenseNet-BC on CIFAR (Table 2): L = 100, 250, 190 with k = 12, 24, 40.
CIFAR_BC_CONFIGURATIONS = ((100, 12), (250, 24), (190, 40))
CIFAR_DENSE_BLOCKS = 3

# Smallest input sides. ImageNet layout: the 7×7/2 convolution (padding 3) gives ⌊(s − 1)/2⌋ + 1
# pixels, the 3×3/2 max-pooling (padding 1) ⌊(a − 1)/2⌋ + 1, and each of the three 2×2 average
# poolings halves, rounding down: a map of at least 8 after the max-pooling needs a ≥ 15, so
# s ≥ 29 (keras.applications asks for 32). CIFAR layout: two halvings need 4 pixels.
IMAGENET_MIN_SIDE = 29
CIFAR_MIN_SIDE = 4

# Every DenseNet convolution: no bias (the paper and keras.applications), He initialisation (the
# paper's code), keras.applications' BN epsilon; the builders set the weight decay.
SETTINGS = ConvSettings(use_bias=False, kernel_initializer="he_normal", bn_epsilon=BN_EPSILON)


# ---------------------------------------------------------------------------- blocks


def _bn_relu(x, bn_name: str, relu_name: str, settings: ConvSettings):
    # DenseNet normalises before each convolution (pre-activation), unlike conv_bn's conv → BN.
    x = BatchNormalization(epsilon=settings.bn_epsilon, name=bn_name)(x)
    return layers.Activation("relu", name=relu_name)(x)


def _conv(x, filters: int, kernel: int, name: str, settings: ConvSettings):
    return layers.Conv2D(
        filters,
        kernel,
        padding="same",
        use_bias=settings.use_bias,
        kernel_initializer=settings.kernel_initializer,
        kernel_regularizer=settings.regularizer(),
        name=name,
    )(x)


def dense_layer(x, growth_rate: int, name: str, settings: ConvSettings = SETTINGS):
    """BN → ReLU → 1×1 conv (4k) → BN → ReLU → 3×3 conv (k), concatenated to the input: the
    input's C maps become C + k (keras.applications' ``conv_block``)."""
    new = _bn_relu(x, f"{name}_0_bn", f"{name}_0_relu", settings)
    new = _conv(new, BOTTLENECK_WIDTH * growth_rate, 1, f"{name}_1_conv", settings)
    new = _bn_relu(new, f"{name}_1_bn", f"{name}_1_relu", settings)
    new = _conv(new, growth_rate, 3, f"{name}_2_conv", settings)
    return layers.Concatenate(name=f"{name}_concat")([x, new])


def dense_block(x, num_layers: int, growth_rate: int, name: str, settings: ConvSettings = SETTINGS):
    """``num_layers`` dense layers ``{name}_block1`` ..., each adding ``growth_rate`` maps."""
    for index in range(1, num_layers + 1):
        x = dense_layer(x, growth_rate, f"{name}_block{index}", settings)
    return x


def transition(x, compression: float, name: str, settings: ConvSettings = SETTINGS):
    """BN → ReLU → 1×1 conv to ⌊compression · C⌋ maps → 2×2 average pooling of stride 2."""
    channels = int(x.shape[-1] * compression)
    x = _bn_relu(x, f"{name}_bn", f"{name}_relu", settings)
    x = _conv(x, channels, 1, f"{name}_conv", settings)
    return layers.AveragePooling2D(2, strides=2, name=f"{name}_pool")(x)


def _imagenet_stem(x, growth_rate: int, settings: ConvSettings):
    # conv1_pad (3 pixels), conv1_conv, conv1_bn, conv1_relu, as keras.applications
    x = conv_bn(x, IMAGENET_STEM_FILTERS, 7, 2, "conv1", settings, padding="symmetric")
    x = layers.ZeroPadding2D(1, name="pool1_pad")(x)
    return layers.MaxPooling2D(3, strides=2, name="pool1")(x)


def _cifar_stem(x, growth_rate: int, settings: ConvSettings):
    # DenseNet-BC's first convolution has 2k filters and no BN of its own: the first dense layer
    # begins with one.
    return _conv(x, 2 * growth_rate, 3, "conv1_conv", settings)


STEMS = {"imagenet": _imagenet_stem, "cifar": _cifar_stem}


def build_densenet(
    name: str,
    input_shape,
    num_classes: int,
    *,
    stem: str,
    blocks,
    growth_rate: int,
    compression: float,
    settings: ConvSettings = SETTINGS,
    include_top: bool = True,
    pooling: str | None = None,
) -> keras.Model:
    """The shared builder. ``blocks`` is the stack as data: the number of dense layers in each
    dense block, named conv2, conv3, ...; a transition ``pool2``, ``pool3``, ... follows every
    block but the last. E.g. DenseNet-121 is ``stem="imagenet"``, ``blocks=(6, 12, 24, 16)``,
    ``growth_rate=32``, ``compression=0.5``. Arguments are checked by the public builders."""
    inputs = keras.Input(shape=input_shape, name="image")
    x = STEMS[stem](inputs, growth_rate, settings)
    for stage, num_layers in enumerate(blocks, start=2):
        x = dense_block(x, num_layers, growth_rate, f"conv{stage}", settings)
        if stage < len(blocks) + 1:
            x = transition(x, compression, f"pool{stage}", settings)
    x = _bn_relu(x, "bn", "relu", settings)
    x = classification_head(x, include_top, pooling, num_classes, settings.regularizer())
    return keras.Model(inputs, x, name=name)


# ---------------------------------------------------------------------------- argument checks


def _settings(weight_decay) -> ConvSettings:
    """``SETTINGS`` with ``weight_decay`` checked (0 or None: no penalty)."""
    return dataclasses.replace(SETTINGS, weight_decay=check_weight_decay(weight_decay, hint="The paper used 1e-4."))


def _compression(compression) -> float:
    """θ of DenseNet-C: 0 < θ ≤ 1 (1 keeps every map, the paper's DenseNet without C)."""
    hint = "The paper's DenseNet-BC used 0.5; 1 keeps every map."
    compression = check_number("compression", compression, 0, hint=hint)
    if not 0 < compression <= 1:  # check_number bounds only from below
        raise ValueError(f"compression must be a number in (0, 1], got {compression!r}. {hint}")
    return compression


def _layers_per_block(depth) -> int:
    """n = (L − 4)/6 of a depth-L DenseNet-BC, or a ValueError naming the nearest valid depths.

    L counts the first convolution, two convolutions per bottleneck layer, one per transition (2)
    and the classifier: 1 + 3 · 2n + 2 + 1 = 6n + 4.
    """
    if not is_int(depth):
        raise ValueError(f"depth must be an integer 6n+4 such as 100, got {depth!r}.")
    if depth >= 10 and (depth - 4) % 6 == 0:
        return (depth - 4) // 6
    lower = (depth - 4) // 6 * 6 + 4
    nearest = f"nearest valid depths: {lower} and {lower + 6}" if lower >= 10 else "nearest valid depth: 10"
    paper = ", ".join(str(d) for d, _ in CIFAR_BC_CONFIGURATIONS)
    raise ValueError(
        f"depth must be 6n+4 with n >= 1 (the paper used {paper}; smallest valid value: 10), "
        f"got {depth}; {nearest}."
    )


# ---------------------------------------------------------------------------- ImageNet layout


def _imagenet(depth, input_shape, num_classes, weight_decay, include_top, pooling) -> keras.Model:
    name = f"densenet{depth}"
    settings = _settings(weight_decay)
    include_top, pooling = check_top(include_top, pooling)
    input_shape = check_input_shape(input_shape, IMAGENET_MIN_SIDE, name, example=(224, 224, 3))
    num_classes = check_num_classes(num_classes)
    return build_densenet(
        name,
        input_shape,
        num_classes,
        stem="imagenet",
        blocks=IMAGENET_BLOCKS[depth],
        growth_rate=IMAGENET_GROWTH_RATE,
        compression=IMAGENET_COMPRESSION,
        settings=settings,
        include_top=include_top,
        pooling=pooling,
    )


def densenet121(
    input_shape=(224, 224, 3),
    num_classes: int = 1000,
    weight_decay=None,
    include_top: bool = True,
    pooling: str | None = None,
) -> keras.Model:
    """DenseNet-121 (Huang et al., 2017), ImageNet layout: dense blocks (6, 12, 24, 16), k = 32.

    Same layers, names and 8,062,504 parameters as keras.applications.DenseNet121 (7,978,856
    trainable, torchvision's count); 2.83 G multiply-accumulates at 224×224.
    """
    return _imagenet(121, input_shape, num_classes, weight_decay, include_top, pooling)


def densenet169(
    input_shape=(224, 224, 3),
    num_classes: int = 1000,
    weight_decay=None,
    include_top: bool = True,
    pooling: str | None = None,
) -> keras.Model:
    """DenseNet-169 (Huang et al., 2017), ImageNet layout: dense blocks (6, 12, 32, 32), k = 32.

    Same layers, names and 14,307,880 parameters as keras.applications.DenseNet169.
    """
    return _imagenet(169, input_shape, num_classes, weight_decay, include_top, pooling)


def densenet201(
    input_shape=(224, 224, 3),
    num_classes: int = 1000,
    weight_decay=None,
    include_top: bool = True,
    pooling: str | None = None,
) -> keras.Model:
    """DenseNet-201 (Huang et al., 2017), ImageNet layout: dense blocks (6, 12, 48, 32), k = 32.

    Same layers, names and 20,242,984 parameters as keras.applications.DenseNet201.
    """
    return _imagenet(201, input_shape, num_classes, weight_decay, include_top, pooling)


# ---------------------------------------------------------------------------- CIFAR layout


def densenet_bc(
    depth: int = 100,
    growth_rate: int = 12,
    compression: float = 0.5,
    input_shape=(32, 32, 3),
    num_classes: int = 10,
    weight_decay=None,
    include_top: bool = True,
    pooling: str | None = None,
) -> keras.Model:
    """DenseNet-BC (Huang et al., 2017), CIFAR layout, of any depth 6n+4: three dense blocks of n layers.

    The first convolution has 2k filters (k = ``growth_rate``); each transition keeps
    ⌊``compression`` · C⌋ of its C maps. L = 100, k = 12 at 32×32×3 and 10 classes: 769,162
    trainable parameters (the paper's 0.8 M, Table 2: 4.51 % error on CIFAR-10 with
    augmentation). Grayscale 28×28×1 inputs (Fashion-MNIST) give 28/14/7 maps.
    ``weight_decay`` adds an L2 penalty to every kernel (the paper: 1e-4).
    """
    return _cifar(
        depth, growth_rate, compression, input_shape, num_classes, weight_decay, include_top, pooling
    )


def _cifar(
    depth, growth_rate, compression, input_shape, num_classes, weight_decay, include_top, pooling, name=None
) -> keras.Model:
    num_layers = _layers_per_block(depth)
    growth_rate = check_positive_int("growth_rate", growth_rate, hint="The paper used 12, 24 or 40.")
    compression = _compression(compression)
    settings = _settings(weight_decay)
    include_top, pooling = check_top(include_top, pooling)
    name = name or f"densenet_bc{depth}_k{growth_rate}"
    input_shape = check_input_shape(input_shape, CIFAR_MIN_SIDE, name, example=(32, 32, 3))
    num_classes = check_num_classes(num_classes)
    return build_densenet(
        name,
        input_shape,
        num_classes,
        stem="cifar",
        blocks=(num_layers,) * CIFAR_DENSE_BLOCKS,
        growth_rate=growth_rate,
        compression=compression,
        settings=settings,
        include_top=include_top,
        pooling=pooling,
    )



# ---------------------------------------------------------------------------- classroom variant

# DenseNet-BC with n = 8 layers per block and k = 12: 264,154 trainable parameters at 28×28×1,
# about ResNet-20's 269,722, so that chapter 7 compares concatenation with addition at the same size.
CLASSROOM_DEPTH = 52
CLASSROOM_GROWTH_RATE = 12


def densenet_classroom(
    input_shape=(28, 28, 1),
    num_classes: int = 10,
    weight_decay=None,
    include_top: bool = True,
    pooling: str | None = None,
) -> keras.Model:
    """DenseNet-BC for Fashion-MNIST on a CPU: the paper's CIFAR layout, L = 52, k = 12, θ = 0.5.

    What changed from the paper's smallest DenseNet-BC (L = 100, k = 12, 769,162 parameters) and
    why: 8 instead of 16 dense layers per block, so that the network has ResNet-20's size
    (264,154 trainable parameters at 28×28×1 against 269,722) and about 81 M multiply-accumulates
    per image instead of 0.22 G, which a 2-core CPU trains in minutes. Everything else is the
    paper's: the 3×3 stem of 2k maps, bottleneck layers BN → ReLU → 1×1 (4k) → BN → ReLU → 3×3
    (k) concatenated to their input, transitions that halve the channels and the map (28/14/7 for
    28×28 inputs), BN → ReLU → global average pooling → softmax.
    """
    return _cifar(
        CLASSROOM_DEPTH, CLASSROOM_GROWTH_RATE, 0.5, input_shape, num_classes, weight_decay, include_top,
        pooling, name="densenet_classroom",
    )
