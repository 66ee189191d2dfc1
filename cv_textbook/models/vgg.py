"""VGG (Simonyan & Zisserman, 2015, "Very Deep Convolutional Networks for Large-Scale Image
Recognition"): the configurations of Table 1 as data, their classroom versions for 28×28
Fashion-MNIST, and the fully connected layers rewritten as convolutions (§3.2).

Every configuration is five blocks of 3×3 convolutions (stride 1, "same" padding, ReLU) of 64,
128, 256, 512 and 512 filters, each block ending in a 2×2 max-pooling of stride 2, then two
fully connected layers of 4,096 units with dropout 0.5 (§3.1) and the classifier. The blocks
differ in depth only (``CONFIGURATIONS``)::

    configuration  weight layers  convolutions per block  parameters (224×224×3, 1000 classes)
    A   (vgg11)    11             1, 1, 2, 2, 2           132,863,336
    A-LRN          11             A, LRN after the first  132,863,336
    B   (vgg13)    13             2, 2, 2, 2, 2           133,047,848
    C              16             2, 2, 3, 3, 3           133,638,952 (the third of blocks 3-5 is 1×1)
    D   (vgg16)    16             2, 2, 3, 3, 3           138,357,544
    E   (vgg19)    19             2, 2, 4, 4, 4           143,667,240

Of D's 138 million parameters, 123.6 million are in the dense layers (fc1 alone: 7·7·512·4,096 +
4,096 = 102,764,544). ``vgg16`` and ``vgg19`` are keras.applications' VGG16 and VGG19: the same
layers in the same order with the same names (``block1_conv1`` ... ``block5_pool``, ``flatten``,
``fc1``, ``fc2``, ``predictions``), so ``transfer_weights`` copies their weights and the outputs
agree. keras.applications has no dropout (its networks are for inference, where dropout does
nothing); ours adds ``fc1_dropout`` and ``fc2_dropout`` after fc1 and fc2 unless ``dropout=0``.
Without the top they have 14,714,688 and 20,024,384 parameters.

``batch_norm=True`` puts a BatchNormalization between every convolution and its ReLU
(``block1_conv1_bn``, ``block1_conv1_relu``); the convolutions keep their biases, as in
torchvision's ``vgg11_bn`` (VGG-11: 132,868,840 trainable parameters, 2 × 2,752 more).

``fully_convolutional(model)`` turns fc1, fc2 and the classifier into a 7×7 and two 1×1
convolutions with the same weights: the network then takes any image of at least 224 pixels
and gives a map of class scores, one per 224×224 window at a stride of 32 (§3.2, "dense
evaluation").
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
from keras import layers

from cv_textbook.checks import (
    check_bool,
    check_choice,
    check_input_shape,
    check_num_classes,
    check_number,
    check_top,
)
from cv_textbook.models.blocks import global_pooling
from cv_textbook.models.layers import BatchNormalization, LocalResponseNormalization

LRN = "LRN"

# Table 1 of the paper, one column per configuration: for each block, its layers in order, a
# convolution as its kernel side ("conv3" is 3, "conv1" is 1) or "LRN".
CONFIGURATIONS = {
    "A": ((3,), (3,), (3, 3), (3, 3), (3, 3)),
    "A-LRN": ((3, LRN), (3,), (3, 3), (3, 3), (3, 3)),
    "B": ((3, 3), (3, 3), (3, 3), (3, 3), (3, 3)),
    "C": ((3, 3), (3, 3), (3, 3, 1), (3, 3, 1), (3, 3, 1)),
    "D": ((3, 3), (3, 3), (3, 3, 3), (3, 3, 3), (3, 3, 3)),
    "E": ((3, 3), (3, 3), (3, 3, 3, 3), (3, 3, 3, 3), (3, 3, 3, 3)),
}
WIDTHS = (64, 128, 256, 512, 512)
DENSE = (4096, 4096)
DEPTHS = {11: "A", 13: "B", 16: "D", 19: "E"}
# BatchNormalization's moving statistics follow the batches at 0.9 (PyTorch's momentum 0.1, with
# which torchvision's vgg*_bn trained), not Keras's 0.99: after the 86 steps of 2 epochs on 6,000
# images, 0.99 still kept 42 % of the initial mean 0 and variance 1 and the classroom VGG-11 tested
# at 0.14 while it trained at 0.71; short classroom runs need statistics that follow within ~20 steps.
BN_MOMENTUM = 0.9

# The classroom versions: a quarter of the widths, fc1 and fc2 of 256 units (a sixteenth).
CLASSROOM_WIDTHS = tuple(width // 4 for width in WIDTHS)
CLASSROOM_DENSE = (256, 256)
# 28-pixel images padded to 32 (as LeNet-5's paper drew its digits on 32×32 canvases): five
# halvings then leave 1×1, where 28 would lose a row and a column at 7 → 3.
CLASSROOM_PADDING = 2


@dataclass(frozen=True)
class Layout:
    """What a VGG network is built from: the blocks of its configuration, their widths, the
    dense widths and the zero padding around the input (the classroom versions')."""

    name: str
    blocks: tuple
    widths: tuple[int, ...] = WIDTHS
    dense: tuple[int, ...] = DENSE
    input_padding: int = 0
    example: tuple[int, int, int] = (224, 224, 3)

    def smallest_side(self) -> int:
        """Each of the five 2×2/2 poolings needs 2 pixels: 2⁵ = 32, less the input padding."""
        return max(1, 2 ** len(self.blocks) - 2 * self.input_padding)


def _check_configuration(configuration) -> str:
    check_choice("configuration", configuration, tuple(CONFIGURATIONS))
    return configuration


def vgg_block(x, layers_of_block, filters: int, block: int, batch_norm: bool = False):
    """One block: its convolutions (block{b}_conv{i}), an LRN where A-LRN has one, the pooling.

    ``layers_of_block`` is one column entry of ``CONFIGURATIONS``, e.g. ``(3, 3, 3)`` for three 3×3
    convolutions; chapter 4's exercise checks a student's block against this one."""
    index = 0
    for entry in layers_of_block:
        if entry == LRN:
            x = LocalResponseNormalization(name=f"block{block}_lrn")(x)
            continue
        index += 1
        name = f"block{block}_conv{index}"
        if batch_norm:
            x = layers.Conv2D(filters, entry, padding="same", name=name)(x)
            x = BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
            x = layers.Activation("relu", name=f"{name}_relu")(x)
        else:
            # keras.applications' layer: the ReLU inside the convolution
            x = layers.Conv2D(filters, entry, padding="same", activation="relu", name=name)(x)
    return layers.MaxPooling2D(2, strides=2, name=f"block{block}_pool")(x)


def build_vgg(
    layout: Layout,
    input_shape,
    num_classes: int,
    batch_norm: bool = False,
    dropout: float = 0.5,
    include_top: bool = True,
    pooling: str | None = None,
) -> keras.Model:
    """The shared builder: ``layout``'s blocks, then (with the top) flatten, fc1, fc2 with
    dropout and the softmax classifier ``predictions``; arguments checked here."""
    batch_norm = check_bool("batch_norm", batch_norm)
    dropout = check_number("dropout", dropout, 0.0, hint="The paper used 0.5.")
    if dropout >= 1:
        raise ValueError(f"dropout must be a rate below 1 (the paper used 0.5), got {dropout}.")
    include_top, pooling = check_top(include_top, pooling)
    input_shape = check_input_shape(input_shape, layout.smallest_side(), layout.name, example=layout.example)
    num_classes = check_num_classes(num_classes)

    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    if layout.input_padding:
        x = layers.ZeroPadding2D(layout.input_padding, name="pad")(x)
    for block, (layers_of_block, filters) in enumerate(zip(layout.blocks, layout.widths), start=1):
        x = vgg_block(x, layers_of_block, filters, block, batch_norm)
    if include_top:
        x = layers.Flatten(name="flatten")(x)
        for index, units in enumerate(layout.dense, start=1):
            x = layers.Dense(units, activation="relu", name=f"fc{index}")(x)
            if dropout:
                x = layers.Dropout(dropout, name=f"fc{index}_dropout")(x)
        # float32 output keeps the softmax and the loss exact under mixed precision.
        x = layers.Dense(num_classes, activation="softmax", dtype="float32", name="predictions")(x)
    else:
        x = global_pooling(x, pooling)
    return keras.Model(inputs, x, name=layout.name)


def _name(configuration: str, suffix: str = "") -> str:
    """vgg11, vgg13, vgg16, vgg19 for A, B, D, E (the depths), vgg_a_lrn and vgg_c for the others."""
    depths = {letter: depth for depth, letter in DEPTHS.items()}
    if configuration in depths:
        return f"vgg{depths[configuration]}{suffix}"
    return f"vgg_{configuration.lower().replace('-', '_')}{suffix}"


def vgg(
    configuration: str = "D",
    input_shape=(224, 224, 3),
    num_classes: int = 1000,
    batch_norm: bool = False,
    dropout: float = 0.5,
    include_top: bool = True,
    pooling: str | None = None,
) -> keras.Model:
    """VGG of any configuration of Table 1 (Simonyan & Zisserman, 2015): "A", "A-LRN", "B", "C", "D", "E".

    ``batch_norm`` adds BatchNormalization before every ReLU; ``dropout`` is fc1's and fc2's
    (0 leaves the Dropout layers out); ``include_top``/``pooling`` as keras.applications.
    Images need at least 32 pixels a side (five 2×2 poolings of stride 2).
    """
    configuration = _check_configuration(configuration)
    layout = Layout(_name(configuration), CONFIGURATIONS[configuration])
    return build_vgg(layout, input_shape, num_classes, batch_norm, dropout, include_top, pooling)


def vgg11(
    input_shape=(224, 224, 3),
    num_classes: int = 1000,
    batch_norm: bool = False,
    dropout: float = 0.5,
    include_top: bool = True,
    pooling: str | None = None,
) -> keras.Model:
    """VGG-11, configuration A: 132,863,336 parameters (132,868,840 trainable with ``batch_norm``)."""
    return vgg("A", input_shape, num_classes, batch_norm, dropout, include_top, pooling)


def vgg13(
    input_shape=(224, 224, 3),
    num_classes: int = 1000,
    batch_norm: bool = False,
    dropout: float = 0.5,
    include_top: bool = True,
    pooling: str | None = None,
) -> keras.Model:
    """VGG-13, configuration B: 133,047,848 parameters."""
    return vgg("B", input_shape, num_classes, batch_norm, dropout, include_top, pooling)


def vgg16(
    input_shape=(224, 224, 3),
    num_classes: int = 1000,
    batch_norm: bool = False,
    dropout: float = 0.5,
    include_top: bool = True,
    pooling: str | None = None,
) -> keras.Model:
    """VGG-16, configuration D: keras.applications.VGG16's layers and 138,357,544 parameters
    (14,714,688 without the top); 15.47 G multiply-accumulates at 224×224."""
    return vgg("D", input_shape, num_classes, batch_norm, dropout, include_top, pooling)


def vgg19(
    input_shape=(224, 224, 3),
    num_classes: int = 1000,
    batch_norm: bool = False,
    dropout: float = 0.5,
    include_top: bool = True,
    pooling: str | None = None,
) -> keras.Model:
    """VGG-19, configuration E: keras.applications.VGG19's layers and 143,667,240 parameters
    (20,024,384 without the top); 19.63 G multiply-accumulates at 224×224."""
    return vgg("E", input_shape, num_classes, batch_norm, dropout, include_top, pooling)


# ---------------------------------------------------------------------------- classroom versions


def vgg_classroom(
    configuration: str = "A",
    input_shape=(28, 28, 1),
    num_classes: int = 10,
    batch_norm: bool = True,
    dropout: float = 0.5,
    include_top: bool = True,
    pooling: str | None = None,
) -> keras.Model:
    """VGG-style network for 28×28 Fashion-MNIST, of any configuration of Table 1.

    Kept: the configuration's blocks of 3×3 convolutions ("same", ReLU), a 2×2/2 max-pooling after
    each of the five blocks, widths doubling from block to block up to block 4, two dense layers
    with dropout 0.5, the layer names. Changed, to fit 28 pixels and a laptop: a quarter of the
    widths (16, 32, 64, 128, 128), fc1 and fc2 of 256 units (a sixteenth of 4,096), and two
    pixels of zeros around the image (``pad``), so that the five poolings take 32 → 16 → 8 → 4
    → 2 → 1 and fc1 reads a 1×1×128 map (smallest input: 28 pixels). ``batch_norm`` is on by
    default: without it the deeper configurations train slowly from Keras's initialisation (the
    paper trained A first and started the deeper networks from its weights, §3.1).
    """
    configuration = _check_configuration(configuration)
    layout = Layout(_name(configuration, suffix="_classroom"), CONFIGURATIONS[configuration],
                    CLASSROOM_WIDTHS, CLASSROOM_DENSE, CLASSROOM_PADDING, example=(28, 28, 1))
    return build_vgg(layout, input_shape, num_classes, batch_norm, dropout, include_top, pooling)


def vgg11_classroom(
    input_shape=(28, 28, 1),
    num_classes: int = 10,
    batch_norm: bool = True,
    dropout: float = 0.5,
    include_top: bool = True,
    pooling: str | None = None,
) -> keras.Model:
    """VGG-11-style network for 28×28 Fashion-MNIST: configuration A at a quarter of the widths.

    679,594 trainable parameters (680,970 with the BatchNormalization statistics) at 10 classes.
    """
    return vgg_classroom("A", input_shape, num_classes, batch_norm, dropout, include_top, pooling)


def vgg13_classroom(
    input_shape=(28, 28, 1),
    num_classes: int = 10,
    batch_norm: bool = True,
    dropout: float = 0.5,
    include_top: bool = True,
    pooling: str | None = None,
) -> keras.Model:
    """VGG-13-style network for 28×28 Fashion-MNIST: configuration B at a quarter of the widths.

    691,258 trainable parameters (692,730 with the BatchNormalization statistics) at 10 classes.
    """
    return vgg_classroom("B", input_shape, num_classes, batch_norm, dropout, include_top, pooling)


def vgg16_classroom(
    input_shape=(28, 28, 1),
    num_classes: int = 10,
    batch_norm: bool = True,
    dropout: float = 0.5,
    include_top: bool = True,
    pooling: str | None = None,
) -> keras.Model:
    """VGG-16-style network for 28×28 Fashion-MNIST: configuration D at a quarter of the widths.

    1,023,994 trainable parameters (1,026,106 with the BatchNormalization statistics) at 10
    classes.
    """
    return vgg_classroom("D", input_shape, num_classes, batch_norm, dropout, include_top, pooling)


# ---------------------------------------------------------------------------- FC = convolution


def _straight_line(model) -> bool:
    """Every layer reads exactly the output of the layer before it."""
    return all(
        not isinstance(layer.input, (list, tuple)) and layer.input is previous.output
        for previous, layer in zip(model.layers, model.layers[1:])
    )


def fully_convolutional(model, input_shape=None) -> keras.Model:
    """``model`` with its dense layers as convolutions of the same weights (Simonyan & Zisserman,
    2015, §3.2; OverFeat): a fully connected layer is a convolution whose kernel covers its
    whole input map.

    fc1, which reads the flattened 7×7×512 map of VGG-16, becomes a 7×7 convolution of 4,096
    filters (its 25,088 × 4,096 kernel reshaped to 7×7×512×4,096, the order in which Flatten
    lays out the map), and fc2 and the classifier 1×1 convolutions; every other layer is copied
    with its weights. At 224×224 the new model's 1×1 map holds the original's outputs; on a
    larger image it slides the whole network over it at the stride of its poolings (32) and
    returns a map of class scores, one per 224×224 window. ``input_shape`` defaults to (None,
    None, channels): any image of at least 224 pixels. Works for any straight-line classifier
    that ends Flatten → Dense layers (the VGG and AlexNet builders' with ``include_top``).
    """
    if not isinstance(model, keras.Model):
        raise ValueError(f"model must be a keras.Model, got {type(model).__name__}.")
    flatten = [layer for layer in model.layers if isinstance(layer, layers.Flatten)]
    if len(flatten) != 1 or not _straight_line(model):
        raise ValueError(
            f"model {model.name!r} must be one chain of layers ending in Flatten and Dense layers, "
            "e.g. vgg16() with include_top=True."
        )
    if input_shape is None:
        input_shape = (None, None, model.input_shape[-1])
    inputs = keras.Input(shape=input_shape, name=model.layers[0].name)
    x = inputs
    map_shape = None  # the map that Flatten lays out for the first dense layer
    for layer in model.layers[1:]:
        if isinstance(layer, layers.Flatten):
            map_shape = tuple(layer.input.shape[1:])
            continue
        if isinstance(layer, layers.Dense):
            # The first dense layer reads the whole map; each later one a 1×1 "map" of features.
            kernel_size = map_shape[:2] if map_shape is not None else (1, 1)
            map_shape = None
            conv = layers.Conv2D(
                layer.units, kernel_size, activation=layer.activation, use_bias=layer.use_bias,
                dtype=layer.dtype_policy, name=layer.name,
            )
            x = conv(x)
            kernel, *bias = layer.get_weights()
            conv.set_weights([kernel.reshape(tuple(conv.kernel.shape)), *bias])
            continue
        copy = layer.__class__.from_config(layer.get_config())
        x = copy(x)
        copy.set_weights(layer.get_weights())
    return keras.Model(inputs, x, name=f"{model.name}_fully_convolutional")
