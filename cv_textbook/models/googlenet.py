"""GoogLeNet (Szegedy et al., 2014, "Going Deeper with Convolutions").

The stack is the paper's Table 1 as data: a stem (7×7/2 convolution, 3×3/2 max-pooling, local
response normalisation, 1×1 reduction, 3×3 convolution, LRN, 3×3/2 max-pooling; the LRNs where
the paper's Fig. 3 draws them), nine Inception modules 3a-5b with a 3×3/2 max-pooling before 4a
and before 5a, global average pooling, dropout 0.4 and a softmax classifier. An Inception module
runs four branches on the same input and concatenates their outputs: a 1×1 convolution; a 1×1
reduction then a 3×3 convolution; a 1×1 reduction then a 5×5 convolution; a 3×3/1 max-pooling
then a 1×1 projection ("pool proj"). Every convolution has a bias and a ReLU.

At 224×224×3 with 1000 classes ``googlenet()`` has 6,998,552 parameters (about 12 times fewer
than AlexNet) and 1.58 billion multiply-accumulates (the paper: "1.5 billion multiply-adds").
``aux_classifiers=True`` adds the two auxiliary classifiers of §5 on the outputs of 4a and 4d
(5×5/3 average pooling, 1×1 convolution of 128 filters + ReLU, fully connected 1024 + ReLU,
dropout 0.7, softmax): 13,378,280 parameters and three outputs, the main head first
(``predictions``, ``aux1``, ``aux2``). They are trained on the same labels with loss weights
1, 0.3, 0.3 (the recipe's ``loss_weights``) and left out at inference (``cv_textbook.tasks``
saves the main head alone).

``batch_norm=True`` puts BatchNormalization after every convolution and drops the LRNs (the
BN-Inception of Ioffe & Szegedy, 2015, without its other changes). torchvision's ``googlenet``
has 6,624,904 parameters because it normalises (BN, no LRN), its convolutions have no biases and
its "5×5" branch convolves 3×3: ``googlenet(batch_norm=True, use_bias=False,
five_by_five_kernel=3)`` has those 6,624,904 trainable parameters (13,004,888 with the auxiliary
classifiers).

Layer names follow the paper and its Caffe release (``conv1_7x7_s2``, ``pool1_norm1``,
``inception_3a_3x3_reduce``, ``inception_3a_pool_proj``, ``inception_3a_output``,
``pool4_3x3_s2``), with ``_relu`` and ``_bn`` after a convolution's name.

``googlenet_classroom`` keeps the pattern for 28×28 Fashion-MNIST; ``inception_classroom`` is a
wider Inception network with BN of about ``xception_classroom``'s size, for the Xception paper's
comparison with Inception (its Fig. 6).
"""

from __future__ import annotations

import keras
from keras import layers

from cv_textbook.checks import check_bool, check_choice, check_int, check_input_shape, check_num_classes, check_top
from cv_textbook.models.blocks import ConvSettings, LayerNames, conv_bn, global_pooling
from cv_textbook.models.layers import LocalResponseNormalization

# Table 1: module -> (#1×1, #3×3 reduce, #3×3, #5×5 reduce, #5×5, pool proj).
TABLE_1 = {
    "3a": (64, 96, 128, 16, 32, 32),
    "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64),
    "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}
POOL_BEFORE = {"4a": "pool3_3x3_s2", "5a": "pool4_3x3_s2"}  # 3×3/2 max-pooling: 28 → 14 → 7
AUX_AFTER = ("4a", "4d")  # §5: the auxiliary classifiers read these modules' outputs

# The stem (Table 1 and Fig. 3) as steps: ("conv", name, filters, kernel, stride),
# ("max_pool", name) a 3×3/2 max-pooling, ("lrn", name) local response normalisation.
PAPER_STEM = (
    ("conv", "conv1_7x7_s2", 64, 7, 2),
    ("max_pool", "pool1_3x3_s2"),
    ("lrn", "pool1_norm1"),
    ("conv", "conv2_3x3_reduce", 64, 1, 1),
    ("conv", "conv2_3x3", 192, 3, 1),
    ("lrn", "conv2_norm2"),
    ("max_pool", "pool2_3x3_s2"),
)

# §5: 5×5/3 average pooling, 1×1 convolution, fully connected layer, dropout 0.7.
AUX_FILTERS, AUX_UNITS, AUX_DROPOUT = 128, 1024, 0.7
DROPOUT = 0.4  # before the classifier (Table 1)
# The paper gives no LRN constants; those of its Caffe release (bvlc_googlenet: n = 5,
# alpha = 1e-4 divided by n, beta = 0.75, k = 1) in this package's convention (alpha not divided).
LRN = {"size": 5, "k": 1.0, "alpha": 1e-4 / 5, "beta": 0.75}
FIVE_BY_FIVE_KERNELS = (5, 3)

CONV_NAMES = LayerNames(conv="{block}", bn="{block}_bn", activation="{block}_relu")


def _conv(x, filters: int, kernel: int, name: str, settings: ConvSettings, batch_norm: bool, stride: int = 1):
    """Convolution ("same" padding) (→ BN) → ReLU: ``name``, ``{name}_bn``, ``{name}_relu``."""
    if batch_norm:
        return conv_bn(x, filters, kernel, stride, name, settings, names=CONV_NAMES)
    x = layers.Conv2D(
        filters, kernel, strides=stride, padding="same", use_bias=settings.use_bias,
        kernel_initializer=settings.kernel_initializer, kernel_regularizer=settings.regularizer(), name=name,
    )(x)
    return layers.Activation("relu", name=f"{name}_relu")(x)


def inception_module(x, widths, name: str, settings: ConvSettings = ConvSettings(), batch_norm: bool = False,
                     five_by_five_kernel: int = 5):
    """The four branches of Fig. 2(b) on ``x``, concatenated (``{name}_output``); ``widths`` is a row of
    Table 1: (#1×1, #3×3 reduce, #3×3, #5×5 reduce, #5×5, pool proj)."""
    ones, reduce3, threes, reduce5, fives, pool_proj = widths
    branch1 = _conv(x, ones, 1, f"{name}_1x1", settings, batch_norm)
    branch3 = _conv(x, reduce3, 1, f"{name}_3x3_reduce", settings, batch_norm)
    branch3 = _conv(branch3, threes, 3, f"{name}_3x3", settings, batch_norm)
    branch5 = _conv(x, reduce5, 1, f"{name}_5x5_reduce", settings, batch_norm)
    branch5 = _conv(branch5, fives, five_by_five_kernel, f"{name}_5x5", settings, batch_norm)
    branch_pool = layers.MaxPooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    branch_pool = _conv(branch_pool, pool_proj, 1, f"{name}_pool_proj", settings, batch_norm)
    return layers.Concatenate(name=f"{name}_output")([branch1, branch3, branch5, branch_pool])


def auxiliary_classifier(x, num_classes: int, name: str, settings: ConvSettings = ConvSettings(),
                         batch_norm: bool = False, filters: int = AUX_FILTERS, units: int = AUX_UNITS):
    """§5's auxiliary classifier on a module's output: 5×5/3 average pooling, 1×1 convolution
    + ReLU, fully connected + ReLU, dropout 0.7, softmax (output ``name``)."""
    x = layers.AveragePooling2D(5, strides=3, name=f"{name}_ave_pool")(x)
    x = _conv(x, filters, 1, f"{name}_conv", settings, batch_norm)
    x = layers.Flatten(name=f"{name}_flatten")(x)
    x = layers.Dense(units, activation="relu", kernel_regularizer=settings.regularizer(),
                     name=f"{name}_fc")(x)
    x = layers.Dropout(AUX_DROPOUT, name=f"{name}_dropout")(x)
    return layers.Dense(num_classes, activation="softmax", dtype="float32", name=name)(x)


def _map_sides(side: int, stem) -> tuple[list[int], int]:
    """The sides of the maps entering each stride-2 step ("same" padding halves rounding up), and
    the side of 4a's output (where the first auxiliary classifier reads)."""
    sides = []
    for step in stem:
        stride = step[4] if step[0] == "conv" else 2 if step[0] == "max_pool" else 1
        if stride > 1:
            sides.append(side)
            side = -(-side // stride)
    for pool in POOL_BEFORE.values():
        sides.append(side)
        side = -(-side // 2)
        if pool == POOL_BEFORE["4a"]:
            side_4a = side
    return sides, side_4a


def smallest_side(stem, aux_classifiers: bool) -> int:
    """The smallest input side at which every stride-2 step halves a map of at least 2 pixels and,
    with the auxiliary classifiers, 4a's map still holds one 5×5 pooling window: 17 and 65 for
    the paper's stem (224 → 14×14 at 4a), 5 and 17 for the classroom's."""
    side = 1
    while True:
        sides, side_4a = _map_sides(side, stem)
        if min(sides) >= 2 and (side_4a >= 5 or not aux_classifiers):
            return side
        side += 1


def build_googlenet(
    name: str,
    input_shape,
    num_classes: int,
    *,
    stem=PAPER_STEM,
    table: dict = TABLE_1,
    width_divisor: int = 1,
    aux_classifiers: bool = False,
    batch_norm: bool = False,
    settings: ConvSettings = ConvSettings(),
    five_by_five_kernel: int = 5,
    include_top: bool = True,
    pooling: str | None = None,
) -> keras.Model:
    """The shared builder: ``stem`` (steps, see ``PAPER_STEM``) and ``table`` (Table 1's rows) are
    the stack as data; every width of the stem, the table and the auxiliary classifiers is
    divided by ``width_divisor``. With ``batch_norm`` the stem's LRNs are left out. Arguments are
    checked by the public builders."""
    def width(filters):
        return filters // width_divisor

    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    for kind, step_name, *conv in stem:
        if kind == "conv":
            filters, kernel, stride = conv
            x = _conv(x, width(filters), kernel, step_name, settings, batch_norm, stride)
        elif kind == "max_pool":
            x = layers.MaxPooling2D(3, strides=2, padding="same", name=step_name)(x)
        elif not batch_norm:
            x = LocalResponseNormalization(**LRN, name=step_name)(x)

    auxiliary = []
    for module, widths in table.items():
        if module in POOL_BEFORE:
            x = layers.MaxPooling2D(3, strides=2, padding="same", name=POOL_BEFORE[module])(x)
        widths = tuple(width(filters) for filters in widths)
        x = inception_module(x, widths, f"inception_{module}", settings, batch_norm, five_by_five_kernel)
        if aux_classifiers and module in AUX_AFTER:
            head = f"aux{AUX_AFTER.index(module) + 1}"
            auxiliary.append(auxiliary_classifier(x, num_classes, head, settings, batch_norm,
                                                  width(AUX_FILTERS), width(AUX_UNITS)))

    if not include_top:
        return keras.Model(inputs, global_pooling(x, pooling), name=name)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    x = layers.Dropout(DROPOUT, name="dropout")(x)
    # float32 output keeps the softmax and the loss exact under mixed precision.
    x = layers.Dense(num_classes, activation="softmax", kernel_regularizer=settings.regularizer(),
                     dtype="float32", name="predictions")(x)
    return keras.Model(inputs, [x, *auxiliary] if auxiliary else x, name=name)


def _build(name, stem, input_shape, num_classes, aux_classifiers, batch_norm, use_bias, five_by_five_kernel,
           include_top, pooling, example, **options):
    aux_classifiers = check_bool("aux_classifiers", aux_classifiers)
    batch_norm = check_bool("batch_norm", batch_norm)
    use_bias = check_bool("use_bias", use_bias)
    check_choice("five_by_five_kernel", five_by_five_kernel, FIVE_BY_FIVE_KERNELS)
    include_top, pooling = check_top(include_top, pooling)
    if aux_classifiers and not include_top:
        raise ValueError(
            "aux_classifiers=True needs include_top=True: the auxiliary classifiers train alongside the "
            "classifier; a backbone without its top has none (pass aux_classifiers=False)."
        )
    input_shape = check_input_shape(input_shape, smallest_side(stem, aux_classifiers), name, example=example)
    num_classes = check_num_classes(num_classes)
    return build_googlenet(
        name, input_shape, num_classes, stem=stem, aux_classifiers=aux_classifiers, batch_norm=batch_norm,
        settings=ConvSettings(use_bias=use_bias), five_by_five_kernel=five_by_five_kernel,
        include_top=include_top, pooling=pooling, **options,
    )


def googlenet(
    input_shape=(224, 224, 3),
    num_classes: int = 1000,
    aux_classifiers: bool = False,
    batch_norm: bool = False,
    use_bias: bool = True,
    five_by_five_kernel: int = 5,
    include_top: bool = True,
    pooling: str | None = None,
) -> keras.Model:
    """GoogLeNet (Szegedy et al., 2014), Table 1: 6,998,552 parameters at 224×224×3, 1000 classes.

    ``aux_classifiers=True`` adds §5's two auxiliary classifiers on 4a and 4d (13,378,280
    parameters; outputs ``predictions``, ``aux1``, ``aux2``, the main head first).
    ``batch_norm=True`` normalises after every convolution instead of the stem's LRNs;
    ``use_bias=False`` and ``five_by_five_kernel=3`` with it give torchvision's 6,624,904
    trainable parameters. Inputs from 17×17 (65×65 with the auxiliary classifiers, whose 5×5/3
    pooling needs a 5×5 map at 4a).
    """
    return _build("googlenet", PAPER_STEM, input_shape, num_classes, aux_classifiers, batch_norm, use_bias,
                  five_by_five_kernel, include_top, pooling, example=(224, 224, 3))


# For 28×28: the stem keeps its order (convolution, LRN, 1×1 reduction, 3×3 convolution, LRN,
# max-pooling) and its widths (before the divisor), without the first convolution's stride and
# the first pooling, which would leave too little of a 28×28 image.
CLASSROOM_STEM = (
    ("conv", "conv1_3x3", 64, 3, 1),
    ("lrn", "conv1_norm1"),
    ("conv", "conv2_3x3_reduce", 64, 1, 1),
    ("conv", "conv2_3x3", 192, 3, 1),
    ("lrn", "conv2_norm2"),
    ("max_pool", "pool2_3x3_s2"),
)
CLASSROOM_DIVISOR = 4  # googlenet_classroom: every width a quarter of the paper's
MAX_WIDTH_DIVISOR = min(min(widths) for widths in TABLE_1.values())  # every branch keeps a filter
INCEPTION_DIVISOR = 2  # inception_classroom: half the widths give about xception_classroom's size


def googlenet_classroom(
    input_shape=(28, 28, 1),
    num_classes: int = 10,
    aux_classifiers: bool = False,
    batch_norm: bool = False,
    include_top: bool = True,
    pooling: str | None = None,
    width_divisor: int = CLASSROOM_DIVISOR,
) -> keras.Model:
    """GoogLeNet-style network for 28×28 Fashion-MNIST: Table 1's nine Inception modules at a quarter width.

    What is kept: the stem's order (convolution, LRN, 1×1 reduction, 3×3 convolution, LRN, 3×3/2
    max-pooling), modules 3a-3b, 4a-4e and 5a-5b with their four branches (a true 5×5) and the
    relative widths of Table 1, the 3×3/2 max-poolings before 4a and 5a, global average pooling,
    dropout 0.4, biases and ReLUs; with ``aux_classifiers=True`` §5's two auxiliary classifiers
    on 4a and 4d (5×5/3 average pooling, 1×1 convolution, fully connected, dropout 0.7).
    What changed: every width is a quarter of the paper's (3a: 16, 24, 32, 4, 8, 8; the auxiliary
    classifiers 32 filters and 256 units), the stem's first convolution is 3×3 without stride and
    its first pooling is gone, so the modules see 14×14, 7×7 and 4×4 maps (the paper's 28, 14, 7);
    the auxiliary pooling then leaves a 1×1 map (the paper's 4×4). 376,838 parameters at
    28×28×1 with 10 classes (407,258 with the auxiliary classifiers). Inputs from 5×5 (17×17
    with the auxiliary classifiers).

    ``width_divisor`` divides every width of the paper (4 by default; 8 gives the narrower network
    that chapter 05's short ablations train several times). It must leave every layer at least
    one filter: at most 16, Table 1's narrowest layer (3a's and 4a's #5×5 reduce).
    """
    narrowest = min(min(widths) for widths in TABLE_1.values())
    width_divisor = check_int("width_divisor", width_divisor, 1)
    if width_divisor > narrowest:
        raise ValueError(
            f"width_divisor must be between 1 and {narrowest} (Table 1's narrowest layer has {narrowest} "
            f"filters and needs at least one), got {width_divisor}."
        )
    return _build("googlenet_classroom", CLASSROOM_STEM, input_shape, num_classes, aux_classifiers,
                  batch_norm, True, 5, include_top, pooling, example=(28, 28, 1),
                  width_divisor=width_divisor)


def inception_classroom(
    input_shape=(28, 28, 1),
    num_classes: int = 10,
    include_top: bool = True,
    pooling: str | None = None,
    width_divisor: int = INCEPTION_DIVISOR,
) -> keras.Model:
    """Inception-style network of about xception_classroom's size, for the Xception paper's Fig. 6.

    Chollet compares Xception with Inception V3 at about the same number of parameters: what the
    separable convolutions buy is then not capacity. This is ``googlenet_classroom``'s layout
    with Table 1's widths halved (3a: 32, 48, 64, 8, 16, 16) and, like Xception and Inception V3,
    BatchNormalization after every convolution instead of LRN; no auxiliary classifiers.
    1,512,834 parameters at 28×28×1 with 10 classes (1,505,554 trainable), against
    xception_classroom's 1,368,332. Inputs from 5×5. ``width_divisor`` divides Table 1's widths
    (2 by default; 8 gives about the size of ``xception_classroom(width_divisor=4)``, which chapter
    9 compares it with; at most 16, Table 1's narrowest branch).
    """
    check_choice("width_divisor", width_divisor, tuple(range(1, MAX_WIDTH_DIVISOR + 1)))
    return _build("inception_classroom", CLASSROOM_STEM, input_shape, num_classes, False, True, True, 5,
                  include_top, pooling, example=(28, 28, 1), width_divisor=width_divisor)


__all__ = [
    "PAPER_STEM",
    "TABLE_1",
    "auxiliary_classifier",
    "build_googlenet",
    "googlenet",
    "googlenet_classroom",
    "inception_classroom",
    "inception_module",
    "smallest_side",
]
