"""ResNet (He, Zhang, Ren & Sun, 2015, "Deep Residual Learning for Image Recognition").

Two layouts from the paper, built by one shared builder from a stack description:

* ImageNet (Table 1): a 7×7/2 convolution and a 3×3/2 max-pooling stem, four stages conv2_x to
  conv5_x of 64/128/256/512 filters (the last three halve the map), global average pooling and a
  1000-way dense layer. ResNet-18/34 stack *basic* blocks (two 3×3 convolutions), ResNet-50/101/152
  *bottleneck* blocks (1×1 reduce, 3×3, 1×1 expand ×4). The details follow
  ``keras.applications.ResNet50``: the stride of a bottleneck sits in its first 1×1 convolution,
  convolutions have biases (``use_bias=True``; ``use_bias=False`` gives torchvision's parameter
  counts), BatchNormalization uses epsilon 1.001e-5, and the layer names and order are the same,
  so ``transfer_weights(keras.applications.ResNet50(), resnet50())`` copies all weights.
* CIFAR (§4.2): 6n+2 layers; a 3×3 convolution of 16 filters, three stages of n basic blocks with
  16/32/64 filters on 32/16/8 maps (28/14/7 for Fashion-MNIST), global average pooling, dense.
  Kernels start from He initialisation (``he_normal``), as in the paper.

Shortcuts where a block changes the shape of the map (§3.3): ``option="A"`` zero-pads the new
channels of a subsampled identity (no parameters, ``ZeroPadShortcut``), ``"B"`` projects with a
1×1 convolution + BN only there, ``"C"`` projects on every block. ``plain*`` models are the same
stacks without any shortcut (the paper's plain baselines).

Layer names follow keras.applications so ``summary()`` reads like Table 1: ``conv1_conv``,
``pool1_pool``, ``conv2_block1_1_conv``/``_1_bn``/``_1_relu``, ``conv2_block1_0_conv`` (projection),
``conv2_block1_add``, ``conv2_block1_out``, ``avg_pool``, ``predictions``. A 3×3 convolution with
stride 2 gets an explicit one-pixel ``ZeroPadding2D`` (``..._1_pad``) like PyTorch's padding=1,
so its outputs are centred on the same pixels (0, 2, 4, ...) that the shortcut reads.

Figures (``trainable`` = trainable parameters, ``total`` = ``count_params()``):
ResNet-50/101/152 at 224×224×3: total 25,636,712 / 44,707,176 / 60,419,944 (= keras.applications);
with ``use_bias=False`` ResNet-18/34/50 have 11,689,512 / 21,797,672 / 25,557,032 trainable
(= torchvision). CIFAR option A at 32×32×3, 10 classes: ResNet-20/32/44/56/110/1202 have
269,722 / 464,154 / 658,586 / 853,018 / 1,727,962 / 19,421,274 trainable; the plain nets the same.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import keras
from keras import layers

from cv_textbook.models._checks import check_choice, check_input_shape, check_num_classes
from cv_textbook.models.layers import BatchNormalization, ZeroPadShortcut

OPTIONS = ("A", "B", "C")
BN_EPSILON = 1.001e-5  # keras.applications' value

# depth -> (block, blocks per stage conv2_x .. conv5_x), Table 1 of the paper
IMAGENET_STACKS = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}
IMAGENET_FILTERS = (64, 128, 256, 512)
CIFAR_FILTERS = (16, 32, 64)
CIFAR_DEPTHS = (20, 32, 44, 56, 110, 1202)  # the depths of the paper's Table 6

# Smallest input side at which every stride-2 step still halves a map of at least 2 pixels:
# the ImageNet layout divides by 32 (as keras.applications' min_size), the CIFAR layout by 4.
IMAGENET_MIN_SIDE = 32
CIFAR_MIN_SIDE = 4


@dataclass(frozen=True)
class ConvSettings:
    """How every convolution of a model is made: bias, initialiser, L2 weight decay."""

    use_bias: bool = True
    kernel_initializer: str = "he_normal"
    weight_decay: float | None = None

    def regularizer(self):
        return keras.regularizers.L2(self.weight_decay) if self.weight_decay else None


def conv_bn(x, filters: int, kernel: int, stride: int, name: str, settings: ConvSettings, relu: bool = True):
    """Convolution → BatchNormalization (→ ReLU); layers ``{name}_conv``, ``_bn``, ``_relu``."""
    if kernel > 1 and stride > 1:
        # Symmetric padding: Keras's "same" would pad only bottom/right for even maps.
        x = layers.ZeroPadding2D(kernel // 2, name=f"{name}_pad")(x)
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
        name=f"{name}_conv",
    )(x)
    x = BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_bn")(x)
    if relu:
        x = layers.Activation("relu", name=f"{name}_relu")(x)
    return x


def shortcut(x, out_channels: int, stride: int, option: str, name: str, settings: ConvSettings):
    """The shortcut of a block whose residual branch outputs ``out_channels`` maps at ``stride``."""
    reshapes = stride != 1 or x.shape[-1] != out_channels
    if option == "C" or (option == "B" and reshapes):
        return conv_bn(x, out_channels, 1, stride, f"{name}_0", settings, relu=False)
    if option == "A" and reshapes:
        return ZeroPadShortcut(out_channels, stride, name=f"{name}_0_zeropad")(x)
    return x


def _merge(shortcut_x, x, name: str):
    # Add([shortcut, residual]) as keras.applications does: the order fixes the layer order.
    if shortcut_x is not None:
        x = layers.Add(name=f"{name}_add")([shortcut_x, x])
    return layers.Activation("relu", name=f"{name}_out")(x)


def basic_block(x, filters: int, stride: int, name: str, option="B", plain=False, settings=ConvSettings()):
    """Two 3×3 convolutions (ResNet-18/34 and the CIFAR nets); output ``filters`` maps."""
    short = None if plain else shortcut(x, filters, stride, option, name, settings)
    x = conv_bn(x, filters, 3, stride, f"{name}_1", settings)
    x = conv_bn(x, filters, 3, 1, f"{name}_2", settings, relu=False)
    return _merge(short, x, name)


def bottleneck_block(x, filters: int, stride: int, name: str, option="B", plain=False, settings=ConvSettings()):
    """1×1 reduce (with the stride, as keras.applications) → 3×3 → 1×1 expand to 4·``filters``."""
    short = None if plain else shortcut(x, 4 * filters, stride, option, name, settings)
    x = conv_bn(x, filters, 1, stride, f"{name}_1", settings)
    x = conv_bn(x, filters, 3, 1, f"{name}_2", settings)
    x = conv_bn(x, 4 * filters, 1, 1, f"{name}_3", settings, relu=False)
    return _merge(short, x, name)


BLOCKS = {"basic": basic_block, "bottleneck": bottleneck_block}


def _imagenet_stem(x, settings: ConvSettings):
    x = layers.ZeroPadding2D(3, name="conv1_pad")(x)
    x = layers.Conv2D(
        64,
        7,
        strides=2,
        use_bias=settings.use_bias,
        kernel_initializer=settings.kernel_initializer,
        kernel_regularizer=settings.regularizer(),
        name="conv1_conv",
    )(x)
    x = BatchNormalization(epsilon=BN_EPSILON, name="conv1_bn")(x)
    x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.ZeroPadding2D(1, name="pool1_pad")(x)
    return layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)


def _cifar_stem(x, settings: ConvSettings):
    return conv_bn(x, CIFAR_FILTERS[0], 3, 1, "conv1", settings)


STEMS = {"imagenet": _imagenet_stem, "cifar": _cifar_stem}


def build_resnet(
    name: str,
    input_shape,
    num_classes: int,
    *,
    stem: str,
    block: str,
    stages,
    option: str = "B",
    plain: bool = False,
    settings: ConvSettings = ConvSettings(),
) -> keras.Model:
    """The shared builder. ``stages`` is the stack as data: one ``(filters, blocks, stride)`` per
    stage, named conv2, conv3, ...; e.g. ResNet-50 is ``stem="imagenet"``, ``block="bottleneck"``,
    ``stages=((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2))``. Arguments are checked by the
    public builders."""
    _allow_graph_depth(sum(blocks for _, blocks, _ in stages) * 8 + 20)
    inputs = keras.Input(shape=input_shape, name="image")
    x = STEMS[stem](inputs, settings)
    block_fn = BLOCKS[block]
    for stage, (filters, blocks, stride) in enumerate(stages, start=2):
        for index in range(1, blocks + 1):
            x = block_fn(
                x,
                filters,
                stride if index == 1 else 1,
                f"conv{stage}_block{index}",
                option=option,
                plain=plain,
                settings=settings,
            )
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    # float32 output keeps the softmax and the loss exact under mixed precision.
    outputs = layers.Dense(
        num_classes,
        activation="softmax",
        kernel_regularizer=settings.regularizer(),
        dtype="float32",
        name="predictions",
    )(x)
    return keras.Model(inputs, outputs, name=name)


def _allow_graph_depth(num_layers: int) -> None:
    """Keras walks a functional graph recursively, one Python frame per layer of depth, when it
    builds a model and again when ``load_model`` rebuilds it. ResNet-1202 (about 4,200 layers deep)
    exceeds Python's default limit of 1,000 frames, so raise the limit (never lower it) for this
    process."""
    needed = 2 * num_layers + 1000
    if sys.getrecursionlimit() < needed:
        sys.setrecursionlimit(needed)


# ---------------------------------------------------------------------------- argument checks


def _check_weight_decay(weight_decay) -> float | None:
    if weight_decay is None:
        return None
    if isinstance(weight_decay, bool) or not isinstance(weight_decay, (int, float)) or not weight_decay >= 0:
        raise ValueError(
            "weight_decay must be None or a number of at least 0 (smallest valid value: 0; "
            f"the paper used 1e-4), got {weight_decay!r}."
        )
    return float(weight_decay) or None


def _check_bool(name: str, value) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}.")
    return value


def _cifar_blocks_per_stage(depth) -> int:
    """n of a 6n+2-layer CIFAR ResNet, or a ValueError naming the nearest valid depths."""
    if not isinstance(depth, int) or isinstance(depth, bool):
        raise ValueError(f"depth must be an integer 6n+2 such as {CIFAR_DEPTHS}, got {depth!r}.")
    if depth >= 8 and (depth - 2) % 6 == 0:
        return (depth - 2) // 6
    lower = (depth - 2) // 6 * 6 + 2
    nearest = f"nearest valid depths: {lower} and {lower + 6}" if lower >= 8 else "nearest valid depth: 8"
    raise ValueError(
        f"depth must be 6n+2 with n >= 1 (the paper used {', '.join(map(str, CIFAR_DEPTHS))}; "
        f"smallest valid value: 8), got {depth}; {nearest}."
    )


# ---------------------------------------------------------------------------- ImageNet layout


def _imagenet(depth, input_shape, num_classes, use_bias, option, plain, weight_decay) -> keras.Model:
    name = f"{'plain' if plain else 'resnet'}{depth}"
    check_choice("option", option, OPTIONS)
    use_bias = _check_bool("use_bias", use_bias)
    weight_decay = _check_weight_decay(weight_decay)
    input_shape = check_input_shape(input_shape, IMAGENET_MIN_SIDE, name, example=(224, 224, 3))
    num_classes = check_num_classes(num_classes)
    block, blocks = IMAGENET_STACKS[depth]
    stages = tuple(zip(IMAGENET_FILTERS, blocks, (1, 2, 2, 2)))
    settings = ConvSettings(use_bias=use_bias, weight_decay=weight_decay)
    return build_resnet(
        name,
        input_shape,
        num_classes,
        stem="imagenet",
        block=block,
        stages=stages,
        option=option,
        plain=plain,
        settings=settings,
    )


def resnet18(
    input_shape=(224, 224, 3),
    num_classes: int = 1000,
    use_bias: bool = True,
    option: str = "B",
    weight_decay=None,
) -> keras.Model:
    """ResNet-18 (He et al., 2015), ImageNet layout: basic blocks [2, 2, 2, 2].

    ``use_bias=False`` gives torchvision's 11,689,512 parameters; ``option`` picks the shortcut
    where the shape changes ("A" zero-padding, "B" projection, "C" projection everywhere).
    """
    return _imagenet(18, input_shape, num_classes, use_bias, option, False, weight_decay)


def resnet34(
    input_shape=(224, 224, 3),
    num_classes: int = 1000,
    use_bias: bool = True,
    option: str = "B",
    weight_decay=None,
) -> keras.Model:
    """ResNet-34 (He et al., 2015), ImageNet layout: basic blocks [3, 4, 6, 3].

    ``use_bias=False`` gives torchvision's 21,797,672 parameters; Table 3 compares options A, B, C.
    """
    return _imagenet(34, input_shape, num_classes, use_bias, option, False, weight_decay)


def resnet50(
    input_shape=(224, 224, 3),
    num_classes: int = 1000,
    use_bias: bool = True,
    option: str = "B",
    weight_decay=None,
) -> keras.Model:
    """ResNet-50 (He et al., 2015), ImageNet layout: bottleneck blocks [3, 4, 6, 3].

    Same layers, names and 25,636,712 parameters as keras.applications.ResNet50; with
    ``use_bias=False`` torchvision's 25,557,032.
    """
    return _imagenet(50, input_shape, num_classes, use_bias, option, False, weight_decay)


def resnet101(
    input_shape=(224, 224, 3),
    num_classes: int = 1000,
    use_bias: bool = True,
    option: str = "B",
    weight_decay=None,
) -> keras.Model:
    """ResNet-101 (He et al., 2015), ImageNet layout: bottleneck blocks [3, 4, 23, 3].

    Same layers, names and 44,707,176 parameters as keras.applications.ResNet101.
    """
    return _imagenet(101, input_shape, num_classes, use_bias, option, False, weight_decay)


def resnet152(
    input_shape=(224, 224, 3),
    num_classes: int = 1000,
    use_bias: bool = True,
    option: str = "B",
    weight_decay=None,
) -> keras.Model:
    """ResNet-152 (He et al., 2015), ImageNet layout: bottleneck blocks [3, 8, 36, 3].

    Same layers, names and 60,419,944 parameters as keras.applications.ResNet152.
    """
    return _imagenet(152, input_shape, num_classes, use_bias, option, False, weight_decay)


def plain18(
    input_shape=(224, 224, 3),
    num_classes: int = 1000,
    use_bias: bool = True,
    weight_decay=None,
) -> keras.Model:
    """Plain-18 (He et al., 2015): ResNet-18's layers without shortcuts, the paper's baseline."""
    return _imagenet(18, input_shape, num_classes, use_bias, "B", True, weight_decay)


def plain34(
    input_shape=(224, 224, 3),
    num_classes: int = 1000,
    use_bias: bool = True,
    weight_decay=None,
) -> keras.Model:
    """Plain-34 (He et al., 2015): ResNet-34's layers without shortcuts (Table 3: 28.54 % top-1 error)."""
    return _imagenet(34, input_shape, num_classes, use_bias, "B", True, weight_decay)


# ---------------------------------------------------------------------------- CIFAR layout


def resnet_cifar(
    depth: int = 20,
    option: str = "A",
    input_shape=(32, 32, 3),
    num_classes: int = 10,
    plain: bool = False,
    weight_decay=None,
) -> keras.Model:
    """CIFAR ResNet (He et al., 2015, §4.2) of any depth 6n+2: 3 stages of n basic blocks, 16/32/64 filters.

    ``option`` is the shortcut where the shape changes ("A" zero-padding as in the paper, "B"
    projection there, "C" projection on every block); ``plain=True`` drops all shortcuts (and
    ignores ``option``). ``weight_decay`` adds an L2 penalty to every kernel (the paper: 1e-4).
    Grayscale 28×28×1 inputs (Fashion-MNIST) give 28/14/7 maps and change only the first
    convolution.
    """
    blocks = _cifar_blocks_per_stage(depth)
    check_choice("option", option, OPTIONS)
    plain = _check_bool("plain", plain)
    weight_decay = _check_weight_decay(weight_decay)
    name = f"{'plain' if plain else 'resnet'}{depth}"
    input_shape = check_input_shape(input_shape, CIFAR_MIN_SIDE, name, example=(32, 32, 3))
    num_classes = check_num_classes(num_classes)
    stages = tuple(zip(CIFAR_FILTERS, (blocks,) * 3, (1, 2, 2)))
    settings = ConvSettings(use_bias=False, kernel_initializer="he_normal", weight_decay=weight_decay)
    return build_resnet(
        name,
        input_shape,
        num_classes,
        stem="cifar",
        block="basic",
        stages=stages,
        option=option,
        plain=plain,
        settings=settings,
    )


def resnet20(input_shape=(32, 32, 3), num_classes: int = 10, option: str = "A", weight_decay=None) -> keras.Model:
    """ResNet-20 (He et al., 2015), CIFAR layout, n=3: 269,722 parameters (Table 6: 8.75 % error)."""
    return resnet_cifar(20, option, input_shape, num_classes, False, weight_decay)


def resnet32(input_shape=(32, 32, 3), num_classes: int = 10, option: str = "A", weight_decay=None) -> keras.Model:
    """ResNet-32 (He et al., 2015), CIFAR layout, n=5: 464,154 parameters (Table 6: 7.51 % error)."""
    return resnet_cifar(32, option, input_shape, num_classes, False, weight_decay)


def resnet44(input_shape=(32, 32, 3), num_classes: int = 10, option: str = "A", weight_decay=None) -> keras.Model:
    """ResNet-44 (He et al., 2015), CIFAR layout, n=7: 658,586 parameters (Table 6: 7.17 % error)."""
    return resnet_cifar(44, option, input_shape, num_classes, False, weight_decay)


def resnet56(input_shape=(32, 32, 3), num_classes: int = 10, option: str = "A", weight_decay=None) -> keras.Model:
    """ResNet-56 (He et al., 2015), CIFAR layout, n=9: 853,018 parameters (Table 6: 6.97 % error)."""
    return resnet_cifar(56, option, input_shape, num_classes, False, weight_decay)


def resnet110(input_shape=(32, 32, 3), num_classes: int = 10, option: str = "A", weight_decay=None) -> keras.Model:
    """ResNet-110 (He et al., 2015), CIFAR layout, n=18: 1,727,962 parameters (Table 6: 6.43 % error)."""
    return resnet_cifar(110, option, input_shape, num_classes, False, weight_decay)


def resnet1202(input_shape=(32, 32, 3), num_classes: int = 10, option: str = "A", weight_decay=None) -> keras.Model:
    """ResNet-1202 (He et al., 2015), CIFAR layout, n=200: 19,421,274 parameters (Table 6: 7.93 %, overfits)."""
    return resnet_cifar(1202, option, input_shape, num_classes, False, weight_decay)


def plain20(input_shape=(32, 32, 3), num_classes: int = 10, weight_decay=None) -> keras.Model:
    """Plain-20 (He et al., 2015), CIFAR layout: ResNet-20 without shortcuts, same 269,722 parameters."""
    return resnet_cifar(20, "A", input_shape, num_classes, True, weight_decay)


def plain32(input_shape=(32, 32, 3), num_classes: int = 10, weight_decay=None) -> keras.Model:
    """Plain-32 (He et al., 2015), CIFAR layout: ResNet-32 without shortcuts, same 464,154 parameters."""
    return resnet_cifar(32, "A", input_shape, num_classes, True, weight_decay)


def plain44(input_shape=(32, 32, 3), num_classes: int = 10, weight_decay=None) -> keras.Model:
    """Plain-44 (He et al., 2015), CIFAR layout: ResNet-44 without shortcuts, same 658,586 parameters."""
    return resnet_cifar(44, "A", input_shape, num_classes, True, weight_decay)


def plain56(input_shape=(32, 32, 3), num_classes: int = 10, weight_decay=None) -> keras.Model:
    """Plain-56 (He et al., 2015), CIFAR layout: ResNet-56 without shortcuts, same 853,018 parameters."""
    return resnet_cifar(56, "A", input_shape, num_classes, True, weight_decay)


def plain110(input_shape=(32, 32, 3), num_classes: int = 10, weight_decay=None) -> keras.Model:
    """Plain-110 (He et al., 2015), CIFAR layout: ResNet-110 without shortcuts, same 1,727,962 parameters."""
    return resnet_cifar(110, "A", input_shape, num_classes, True, weight_decay)
