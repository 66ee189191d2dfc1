"""SE-ResNet (Hu, Shen & Sun, 2018, "Squeeze-and-Excitation Networks").

A squeeze-and-excitation block (``blocks.squeeze_excite``) learns one weight per channel from the
whole feature map: global average pooling ("squeeze"), Dense C/r + ReLU and Dense C + sigmoid
("excitation"), then each channel times its weight. SE-ResNet puts one on the residual branch of
every ResNet block, after its last BatchNormalization and before the addition (Fig. 3), with
r = 16. These builders are the ResNets of ``cv_textbook.models.resnet`` with ``se_ratio=16``:
the same stem, stages and layer names, plus ``conv2_block1_se_squeeze``, ``_se_reduce``,
``_se_expand`` and ``_se_scale`` in each block. Any other network takes the block the same way:
``x = squeeze_excite(x, 16, name="block3")`` after any layer that outputs a feature map.

Figures: SE-ResNet-50 without convolution biases has 28,088,024 trainable parameters at
224×224×3 (timm's ``seresnet50``: ResNet-50's 25,557,032 plus 2,530,992 in the SE blocks) and
``analysis.count_macs`` gives 3.8605 G multiply-accumulates against ResNet-50's 3.8580 G: it counts
the SE blocks' dense layers (2,514,944) but not the pooling's additions nor the channel scaling
(5,519,360 each), which bring the total to the paper's 3.87 G against 3.86 G. Table 2: top-1
error 24.80 % → 23.29 %. The CIFAR SE-ResNets (option A shortcuts, as ResNet-20) add
2·C·(C // r) + C // r + C parameters per block: 2,373 for SE-ResNet-20 (272,095 trainable at
32×32×3, 271,807 at 28×28×1).
"""

from __future__ import annotations

import keras

from cv_textbook.models import resnet

SE_RATIO = 16  # the paper's reduction r, chosen by its ablation of r


def se_resnet18(
    input_shape=(224, 224, 3),
    num_classes: int = 1000,
    use_bias: bool = True,
    option: str = "B",
    weight_decay=None,
    include_top: bool = True,
    pooling: str | None = None,
    se_ratio: int = SE_RATIO,
) -> keras.Model:
    """SE-ResNet-18 (Hu et al., 2018): ResNet-18 with a squeeze-and-excitation block in every block."""
    return resnet.resnet18(
        input_shape, num_classes, use_bias, option, weight_decay, include_top, pooling, se_ratio
    )


def se_resnet34(
    input_shape=(224, 224, 3),
    num_classes: int = 1000,
    use_bias: bool = True,
    option: str = "B",
    weight_decay=None,
    include_top: bool = True,
    pooling: str | None = None,
    se_ratio: int = SE_RATIO,
) -> keras.Model:
    """SE-ResNet-34 (Hu et al., 2018): ResNet-34 with a squeeze-and-excitation block in every block."""
    return resnet.resnet34(
        input_shape, num_classes, use_bias, option, weight_decay, include_top, pooling, se_ratio
    )


def se_resnet50(
    input_shape=(224, 224, 3),
    num_classes: int = 1000,
    use_bias: bool = True,
    option: str = "B",
    weight_decay=None,
    include_top: bool = True,
    pooling: str | None = None,
    se_ratio: int = SE_RATIO,
) -> keras.Model:
    """SE-ResNet-50 (Hu et al., 2018): ResNet-50 with a squeeze-and-excitation block in every block.

    ``use_bias=False`` gives timm's 28,088,024 parameters (ResNet-50's 25,557,032 + 2,530,992);
    Table 2: 23.29 % top-1 error against ResNet-50's 24.80 %, for 3.87 against 3.86 GFLOPs.
    """
    return resnet.resnet50(
        input_shape, num_classes, use_bias, option, weight_decay, include_top, pooling, se_ratio
    )


def se_resnet101(
    input_shape=(224, 224, 3),
    num_classes: int = 1000,
    use_bias: bool = True,
    option: str = "B",
    weight_decay=None,
    include_top: bool = True,
    pooling: str | None = None,
    se_ratio: int = SE_RATIO,
) -> keras.Model:
    """SE-ResNet-101 (Hu et al., 2018): ResNet-101 with a squeeze-and-excitation block in every block."""
    return resnet.resnet101(
        input_shape, num_classes, use_bias, option, weight_decay, include_top, pooling, se_ratio
    )


def se_resnet152(
    input_shape=(224, 224, 3),
    num_classes: int = 1000,
    use_bias: bool = True,
    option: str = "B",
    weight_decay=None,
    include_top: bool = True,
    pooling: str | None = None,
    se_ratio: int = SE_RATIO,
) -> keras.Model:
    """SE-ResNet-152 (Hu et al., 2018): ResNet-152 with a squeeze-and-excitation block in every block."""
    return resnet.resnet152(
        input_shape, num_classes, use_bias, option, weight_decay, include_top, pooling, se_ratio
    )


def se_resnet20(
    input_shape=(32, 32, 3),
    num_classes: int = 10,
    option: str = "A",
    weight_decay=None,
    include_top: bool = True,
    pooling: str | None = None,
    se_ratio: int = SE_RATIO,
) -> keras.Model:
    """SE-ResNet-20 (Hu et al., 2018), CIFAR layout: ResNet-20 with an SE block in each of its 9 blocks.

    272,095 trainable parameters at 32×32×3 (ResNet-20's 269,722 + 2,373), 271,807 at 28×28×1.
    The SE blocks of the first stage have 16 // 16 = 1 hidden unit, of the second 2, of the third 4.
    """
    return resnet.resnet_cifar(
        20, option, input_shape, num_classes, False, weight_decay, include_top, pooling, se_ratio
    )


def se_resnet32(
    input_shape=(32, 32, 3),
    num_classes: int = 10,
    option: str = "A",
    weight_decay=None,
    include_top: bool = True,
    pooling: str | None = None,
    se_ratio: int = SE_RATIO,
) -> keras.Model:
    """SE-ResNet-32 (Hu et al., 2018), CIFAR layout: ResNet-32 with an SE block in each of its 15 blocks."""
    return resnet.resnet_cifar(
        32, option, input_shape, num_classes, False, weight_decay, include_top, pooling, se_ratio
    )


def se_resnet44(
    input_shape=(32, 32, 3),
    num_classes: int = 10,
    option: str = "A",
    weight_decay=None,
    include_top: bool = True,
    pooling: str | None = None,
    se_ratio: int = SE_RATIO,
) -> keras.Model:
    """SE-ResNet-44 (Hu et al., 2018), CIFAR layout: ResNet-44 with an SE block in each of its 21 blocks."""
    return resnet.resnet_cifar(
        44, option, input_shape, num_classes, False, weight_decay, include_top, pooling, se_ratio
    )


def se_resnet56(
    input_shape=(32, 32, 3),
    num_classes: int = 10,
    option: str = "A",
    weight_decay=None,
    include_top: bool = True,
    pooling: str | None = None,
    se_ratio: int = SE_RATIO,
) -> keras.Model:
    """SE-ResNet-56 (Hu et al., 2018), CIFAR layout: ResNet-56 with an SE block in each of its 27 blocks."""
    return resnet.resnet_cifar(
        56, option, input_shape, num_classes, False, weight_decay, include_top, pooling, se_ratio
    )


def se_resnet110(
    input_shape=(32, 32, 3),
    num_classes: int = 10,
    option: str = "A",
    weight_decay=None,
    include_top: bool = True,
    pooling: str | None = None,
    se_ratio: int = SE_RATIO,
) -> keras.Model:
    """SE-ResNet-110 (Hu et al., 2018), CIFAR layout: ResNet-110 with an SE block in each of its 54 blocks.

    The paper's CIFAR-10 error: 6.37 % → 5.21 % (Table 4).
    """
    return resnet.resnet_cifar(
        110, option, input_shape, num_classes, False, weight_decay, include_top, pooling, se_ratio
    )
