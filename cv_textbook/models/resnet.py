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

Backbones: every builder takes keras.applications' ``include_top`` and ``pooling``.
``include_top=False`` leaves out the classifier (global average pooling and the dense layer) and
returns the last feature map (``conv5_block3_out`` of ResNet-50, 7×7×2048 at 224×224);
``pooling="avg"`` or ``"max"`` then adds ``GlobalAveragePooling2D`` (``avg_pool``) or
``GlobalMaxPooling2D`` (``max_pool``); with ``include_top=True`` ``pooling`` is ignored. ResNet-50
without its top has 23,587,712 parameters, as keras.applications'.

Squeeze-and-excitation: every ResNet builder but the plain nets takes ``se_ratio`` (default None:
none). ``se_ratio=16`` puts ``blocks.squeeze_excite`` with reduction 16 on the residual branch of
every block, after its last BatchNormalization and before the Add (Hu et al., 2018, Fig. 3):
layers ``conv2_block1_se_squeeze``, ``_se_reduce``, ``_se_expand``, ``_se_scale``; the model is
named ``se_resnet50`` etc. ``cv_textbook.models.senet`` names these networks (chapter 8).
"""

from __future__ import annotations

import dataclasses
import functools
import sys

import keras
from keras import layers

from cv_textbook.checks import (
    check_bool,
    check_choice,
    check_input_shape,
    check_num_classes,
    check_positive_int,
    check_top,
    check_weight_decay,
    is_int,
)
from cv_textbook.models.blocks import ConvSettings, classification_head, conv_bn, squeeze_excite
from cv_textbook.models.layers import ZeroPadShortcut

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


# Every ResNet convolution: He initialisation (the paper) and keras.applications' BN epsilon;
# the builders set the bias and the weight decay.
SETTINGS = ConvSettings(kernel_initializer="he_normal", bn_epsilon=BN_EPSILON)

# ResNet pads a strided 3×3 or 7×7 convolution by hand, symmetrically (see ``blocks.conv_bn``).
_conv_bn = functools.partial(conv_bn, padding="symmetric")


def shortcut(x, out_channels: int, stride: int, option: str, name: str, settings: ConvSettings = SETTINGS):
    """The shortcut of a block whose residual branch outputs ``out_channels`` maps at ``stride``."""
    reshapes = stride != 1 or x.shape[-1] != out_channels
    if option == "C" or (option == "B" and reshapes):
        return _conv_bn(x, out_channels, 1, stride, f"{name}_0", settings, relu=False)
    if option == "A" and reshapes:
        return ZeroPadShortcut(out_channels, stride, name=f"{name}_0_zeropad")(x)
    return x


def _merge(shortcut_x, x, name: str):
    # Add([shortcut, residual]) as keras.applications does: the order fixes the layer order.
    if shortcut_x is not None:
        x = layers.Add(name=f"{name}_add")([shortcut_x, x])
    return layers.Activation("relu", name=f"{name}_out")(x)


def _excite(x, se_ratio, name: str, settings: ConvSettings):
    # SE-ResNet (Hu et al. 2018, Fig. 3): recalibrate the residual branch before the addition.
    return x if se_ratio is None else squeeze_excite(x, se_ratio, name, settings)


def basic_block(
    x, filters: int, stride: int, name: str, option="B", plain=False, settings=SETTINGS, se_ratio=None
):
    """Two 3×3 convolutions (ResNet-18/34 and the CIFAR nets); output ``filters`` maps.
    ``se_ratio``: a squeeze-and-excitation block of that reduction on the residual branch."""
    short = None if plain else shortcut(x, filters, stride, option, name, settings)
    x = _conv_bn(x, filters, 3, stride, f"{name}_1", settings)
    x = _conv_bn(x, filters, 3, 1, f"{name}_2", settings, relu=False)
    x = _excite(x, se_ratio, name, settings)
    return _merge(short, x, name)


def bottleneck_block(
    x, filters: int, stride: int, name: str, option="B", plain=False, settings=SETTINGS, se_ratio=None
):
    """1×1 reduce (with the stride, as keras.applications) → 3×3 → 1×1 expand to 4·``filters``.
    ``se_ratio``: a squeeze-and-excitation block of that reduction on the residual branch."""
    short = None if plain else shortcut(x, 4 * filters, stride, option, name, settings)
    x = _conv_bn(x, filters, 1, stride, f"{name}_1", settings)
    x = _conv_bn(x, filters, 3, 1, f"{name}_2", settings)
    x = _conv_bn(x, 4 * filters, 1, 1, f"{name}_3", settings, relu=False)
    x = _excite(x, se_ratio, name, settings)
    return _merge(short, x, name)


BLOCKS = {"basic": basic_block, "bottleneck": bottleneck_block}


def _imagenet_stem(x, settings: ConvSettings):
    x = _conv_bn(x, 64, 7, 2, "conv1", settings)  # conv1_pad (3 pixels), conv1_conv, _bn, _relu
    x = layers.ZeroPadding2D(1, name="pool1_pad")(x)
    return layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)


def _cifar_stem(x, settings: ConvSettings):
    return _conv_bn(x, CIFAR_FILTERS[0], 3, 1, "conv1", settings)


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
    settings: ConvSettings = SETTINGS,
    include_top: bool = True,
    pooling: str | None = None,
    se_ratio: int | None = None,
) -> keras.Model:
    """The shared builder. ``stages`` is the stack as data: one ``(filters, blocks, stride)`` per
    stage, named conv2, conv3, ...; e.g. ResNet-50 is ``stem="imagenet"``, ``block="bottleneck"``,
    ``stages=((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2))``. ``include_top`` and
    ``pooling`` as keras.applications (module docstring); ``se_ratio`` adds a
    squeeze-and-excitation block to every residual block (SE-ResNet). Arguments are checked by
    the public builders."""
    _allow_graph_depth(sum(blocks for _, blocks, _ in stages) * (8 if se_ratio is None else 12) + 20)
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
                se_ratio=se_ratio,
            )
    x = classification_head(x, include_top, pooling, num_classes, settings.regularizer())
    return keras.Model(inputs, x, name=name)


def _allow_graph_depth(num_layers: int) -> None:
    """Keras walks a functional graph recursively, one Python frame per layer of depth, when it
    builds a model and again when ``load_model`` rebuilds it. ResNet-1202 (about 4,200 layers deep)
    exceeds Python's default limit of 1,000 frames, so raise the limit (never lower it) for this
    process."""
    needed = 2 * num_layers + 1000
    if sys.getrecursionlimit() < needed:
        sys.setrecursionlimit(needed)


# ---------------------------------------------------------------------------- argument checks


def _se_ratio(se_ratio) -> int | None:
    """None (no squeeze-and-excitation) or the SE blocks' reduction r."""
    if se_ratio is None:
        return None
    hint = "None builds no SE blocks; Hu et al. (2018) used 16."
    return check_positive_int("se_ratio", se_ratio, hint=hint)


def _model_name(depth, plain: bool, se_ratio) -> str:
    return f"{'plain' if plain else 'se_resnet' if se_ratio is not None else 'resnet'}{depth}"


def _cifar_blocks_per_stage(depth) -> int:
    """n of a 6n+2-layer CIFAR ResNet, or a ValueError naming the nearest valid depths."""
    if not is_int(depth):
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


def _imagenet(
    depth, input_shape, num_classes, use_bias, option, plain, weight_decay, include_top, pooling,
    se_ratio=None,
):
    se_ratio = _se_ratio(se_ratio)
    name = _model_name(depth, plain, se_ratio)
    check_choice("option", option, OPTIONS)
    use_bias = check_bool("use_bias", use_bias)
    weight_decay = check_weight_decay(weight_decay, hint="The paper used 1e-4.")
    include_top, pooling = check_top(include_top, pooling)
    input_shape = check_input_shape(input_shape, IMAGENET_MIN_SIDE, name, example=(224, 224, 3))
    num_classes = check_num_classes(num_classes)
    block, blocks = IMAGENET_STACKS[depth]
    stages = tuple(zip(IMAGENET_FILTERS, blocks, (1, 2, 2, 2)))
    settings = dataclasses.replace(SETTINGS, use_bias=use_bias, weight_decay=weight_decay)
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
        include_top=include_top,
        pooling=pooling,
        se_ratio=se_ratio,
    )


def resnet18(
    input_shape=(224, 224, 3),
    num_classes: int = 1000,
    use_bias: bool = True,
    option: str = "B",
    weight_decay=None,
    include_top: bool = True,
    pooling: str | None = None,
    se_ratio: int | None = None,
) -> keras.Model:
    """ResNet-18 (He et al., 2015), ImageNet layout: basic blocks [2, 2, 2, 2].

    ``use_bias=False`` gives torchvision's 11,689,512 parameters; ``option`` picks the shortcut
    where the shape changes ("A" zero-padding, "B" projection, "C" projection everywhere).
    """
    return _imagenet(
        18, input_shape, num_classes, use_bias, option, False, weight_decay, include_top, pooling, se_ratio
    )


def resnet34(
    input_shape=(224, 224, 3),
    num_classes: int = 1000,
    use_bias: bool = True,
    option: str = "B",
    weight_decay=None,
    include_top: bool = True,
    pooling: str | None = None,
    se_ratio: int | None = None,
) -> keras.Model:
    """ResNet-34 (He et al., 2015), ImageNet layout: basic blocks [3, 4, 6, 3].

    ``use_bias=False`` gives torchvision's 21,797,672 parameters; Table 3 compares options A, B, C.
    """
    return _imagenet(
        34, input_shape, num_classes, use_bias, option, False, weight_decay, include_top, pooling, se_ratio
    )


def resnet50(
    input_shape=(224, 224, 3),
    num_classes: int = 1000,
    use_bias: bool = True,
    option: str = "B",
    weight_decay=None,
    include_top: bool = True,
    pooling: str | None = None,
    se_ratio: int | None = None,
) -> keras.Model:
    """ResNet-50 (He et al., 2015), ImageNet layout: bottleneck blocks [3, 4, 6, 3].

    Same layers, names and 25,636,712 parameters as keras.applications.ResNet50; with
    ``use_bias=False`` torchvision's 25,557,032.
    """
    return _imagenet(
        50, input_shape, num_classes, use_bias, option, False, weight_decay, include_top, pooling, se_ratio
    )


def resnet101(
    input_shape=(224, 224, 3),
    num_classes: int = 1000,
    use_bias: bool = True,
    option: str = "B",
    weight_decay=None,
    include_top: bool = True,
    pooling: str | None = None,
    se_ratio: int | None = None,
) -> keras.Model:
    """ResNet-101 (He et al., 2015), ImageNet layout: bottleneck blocks [3, 4, 23, 3].

    Same layers, names and 44,707,176 parameters as keras.applications.ResNet101.
    """
    return _imagenet(
        101, input_shape, num_classes, use_bias, option, False, weight_decay, include_top, pooling, se_ratio
    )


def resnet152(
    input_shape=(224, 224, 3),
    num_classes: int = 1000,
    use_bias: bool = True,
    option: str = "B",
    weight_decay=None,
    include_top: bool = True,
    pooling: str | None = None,
    se_ratio: int | None = None,
) -> keras.Model:
    """ResNet-152 (He et al., 2015), ImageNet layout: bottleneck blocks [3, 8, 36, 3].

    Same layers, names and 60,419,944 parameters as keras.applications.ResNet152.
    """
    return _imagenet(
        152, input_shape, num_classes, use_bias, option, False, weight_decay, include_top, pooling, se_ratio
    )


def plain18(
    input_shape=(224, 224, 3),
    num_classes: int = 1000,
    use_bias: bool = True,
    weight_decay=None,
    include_top: bool = True,
    pooling: str | None = None,
) -> keras.Model:
    """Plain-18 (He et al., 2015): ResNet-18's layers without shortcuts, the paper's baseline."""
    return _imagenet(18, input_shape, num_classes, use_bias, "B", True, weight_decay, include_top, pooling)


def plain34(
    input_shape=(224, 224, 3),
    num_classes: int = 1000,
    use_bias: bool = True,
    weight_decay=None,
    include_top: bool = True,
    pooling: str | None = None,
) -> keras.Model:
    """Plain-34 (He et al., 2015): ResNet-34's layers without shortcuts (Table 3: 28.54 % top-1 error)."""
    return _imagenet(34, input_shape, num_classes, use_bias, "B", True, weight_decay, include_top, pooling)


# ---------------------------------------------------------------------------- CIFAR layout


def resnet_cifar(
    depth: int = 20,
    option: str = "A",
    input_shape=(32, 32, 3),
    num_classes: int = 10,
    plain: bool = False,
    weight_decay=None,
    include_top: bool = True,
    pooling: str | None = None,
    se_ratio: int | None = None,
) -> keras.Model:
    """CIFAR ResNet (He et al., 2015, §4.2) of any depth 6n+2: 3 stages of n basic blocks, 16/32/64 filters.

    ``option`` is the shortcut where the shape changes ("A" zero-padding as in the paper, "B"
    projection there, "C" projection on every block); ``plain=True`` drops all shortcuts (and
    ignores ``option``). ``weight_decay`` adds an L2 penalty to every kernel (the paper: 1e-4).
    Grayscale 28×28×1 inputs (Fashion-MNIST) give 28/14/7 maps and change only the first
    convolution. ``include_top=False`` returns the last feature map (8×8×64 at 32×32), with
    ``pooling="avg"``/``"max"`` pooled to 64 features. ``se_ratio=16`` adds a
    squeeze-and-excitation block to every residual block (SE-ResNet, named ``se_resnet{depth}``).
    """
    blocks = _cifar_blocks_per_stage(depth)
    check_choice("option", option, OPTIONS)
    plain = check_bool("plain", plain)
    weight_decay = check_weight_decay(weight_decay, hint="The paper used 1e-4.")
    include_top, pooling = check_top(include_top, pooling)
    se_ratio = _se_ratio(se_ratio)
    name = _model_name(depth, plain, se_ratio)
    input_shape = check_input_shape(input_shape, CIFAR_MIN_SIDE, name, example=(32, 32, 3))
    num_classes = check_num_classes(num_classes)
    stages = tuple(zip(CIFAR_FILTERS, (blocks,) * 3, (1, 2, 2)))
    settings = dataclasses.replace(SETTINGS, use_bias=False, weight_decay=weight_decay)
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
        include_top=include_top,
        pooling=pooling,
        se_ratio=se_ratio,
    )


def resnet20(
    input_shape=(32, 32, 3),
    num_classes: int = 10,
    option: str = "A",
    weight_decay=None,
    include_top: bool = True,
    pooling: str | None = None,
    se_ratio: int | None = None,
) -> keras.Model:
    """ResNet-20 (He et al., 2015), CIFAR layout, n=3: 269,722 parameters (Table 6: 8.75 % error)."""
    return resnet_cifar(
        20, option, input_shape, num_classes, False, weight_decay, include_top, pooling, se_ratio
    )


def resnet32(
    input_shape=(32, 32, 3),
    num_classes: int = 10,
    option: str = "A",
    weight_decay=None,
    include_top: bool = True,
    pooling: str | None = None,
    se_ratio: int | None = None,
) -> keras.Model:
    """ResNet-32 (He et al., 2015), CIFAR layout, n=5: 464,154 parameters (Table 6: 7.51 % error)."""
    return resnet_cifar(
        32, option, input_shape, num_classes, False, weight_decay, include_top, pooling, se_ratio
    )


def resnet44(
    input_shape=(32, 32, 3),
    num_classes: int = 10,
    option: str = "A",
    weight_decay=None,
    include_top: bool = True,
    pooling: str | None = None,
    se_ratio: int | None = None,
) -> keras.Model:
    """ResNet-44 (He et al., 2015), CIFAR layout, n=7: 658,586 parameters (Table 6: 7.17 % error)."""
    return resnet_cifar(
        44, option, input_shape, num_classes, False, weight_decay, include_top, pooling, se_ratio
    )


def resnet56(
    input_shape=(32, 32, 3),
    num_classes: int = 10,
    option: str = "A",
    weight_decay=None,
    include_top: bool = True,
    pooling: str | None = None,
    se_ratio: int | None = None,
) -> keras.Model:
    """ResNet-56 (He et al., 2015), CIFAR layout, n=9: 853,018 parameters (Table 6: 6.97 % error)."""
    return resnet_cifar(
        56, option, input_shape, num_classes, False, weight_decay, include_top, pooling, se_ratio
    )


def resnet110(
    input_shape=(32, 32, 3),
    num_classes: int = 10,
    option: str = "A",
    weight_decay=None,
    include_top: bool = True,
    pooling: str | None = None,
    se_ratio: int | None = None,
) -> keras.Model:
    """ResNet-110 (He et al., 2015), CIFAR layout, n=18: 1,727,962 parameters (Table 6: 6.43 % error)."""
    return resnet_cifar(
        110, option, input_shape, num_classes, False, weight_decay, include_top, pooling, se_ratio
    )


def resnet1202(
    input_shape=(32, 32, 3),
    num_classes: int = 10,
    option: str = "A",
    weight_decay=None,
    include_top: bool = True,
    pooling: str | None = None,
    se_ratio: int | None = None,
) -> keras.Model:
    """ResNet-1202 (He et al., 2015), CIFAR layout, n=200: 19,421,274 parameters (Table 6: 7.93 %, overfits)."""
    return resnet_cifar(
        1202, option, input_shape, num_classes, False, weight_decay, include_top, pooling, se_ratio
    )


def plain20(
    input_shape=(32, 32, 3),
    num_classes: int = 10,
    weight_decay=None,
    include_top: bool = True,
    pooling: str | None = None,
) -> keras.Model:
    """Plain-20 (He et al., 2015), CIFAR layout: ResNet-20 without shortcuts, same 269,722 parameters."""
    return resnet_cifar(20, "A", input_shape, num_classes, True, weight_decay, include_top, pooling)


def plain32(
    input_shape=(32, 32, 3),
    num_classes: int = 10,
    weight_decay=None,
    include_top: bool = True,
    pooling: str | None = None,
) -> keras.Model:
    """Plain-32 (He et al., 2015), CIFAR layout: ResNet-32 without shortcuts, same 464,154 parameters."""
    return resnet_cifar(32, "A", input_shape, num_classes, True, weight_decay, include_top, pooling)


def plain44(
    input_shape=(32, 32, 3),
    num_classes: int = 10,
    weight_decay=None,
    include_top: bool = True,
    pooling: str | None = None,
) -> keras.Model:
    """Plain-44 (He et al., 2015), CIFAR layout: ResNet-44 without shortcuts, same 658,586 parameters."""
    return resnet_cifar(44, "A", input_shape, num_classes, True, weight_decay, include_top, pooling)


def plain56(
    input_shape=(32, 32, 3),
    num_classes: int = 10,
    weight_decay=None,
    include_top: bool = True,
    pooling: str | None = None,
) -> keras.Model:
    """Plain-56 (He et al., 2015), CIFAR layout: ResNet-56 without shortcuts, same 853,018 parameters."""
    return resnet_cifar(56, "A", input_shape, num_classes, True, weight_decay, include_top, pooling)


def plain110(
    input_shape=(32, 32, 3),
    num_classes: int = 10,
    weight_decay=None,
    include_top: bool = True,
    pooling: str | None = None,
) -> keras.Model:
    """Plain-110 (He et al., 2015), CIFAR layout: ResNet-110 without shortcuts, same 1,727,962 parameters."""
    return resnet_cifar(110, "A", input_shape, num_classes, True, weight_decay, include_top, pooling)
