"""U-Nets for semantic segmentation: one output class per pixel.

``unet_xception``
    The "U-Net-like" network of the keras-io example *Image segmentation with a U-Net-like
    architecture* (Oxford-IIIT Pets): an Xception-style encoder (separable convolutions,
    strided 1×1 residual projections) and a decoder of transposed convolutions, with a
    residual branch in every block. At 160×160×3 and 3 classes it has 2,058,979 parameters
    (2,055,203 trainable, 3,776 BatchNormalization moving statistics) in 72 layers. Despite
    its name it has **no** encoder–decoder concatenations; ``skip_connections=True`` adds them,
    which makes it a real U-Net, and ``residual_projection=False`` removes the residual branches
    (an ablation).

``unet_classic``
    The network of Ronneberger, Fischer & Brox (2015), "U-Net: Convolutional Networks for
    Biomedical Image Segmentation", figure 1: per level two unpadded 3×3 convolutions with
    ReLU, 2×2 max-pooling that halves the map, and on the way up a 2×2 up-convolution that
    halves the channels, a concatenation with the cropped encoder map of the same level, and
    two 3×3 convolutions; a final 1×1 convolution maps 64 channels to the classes. At
    572×572×1 with 2 classes: 31,030,658 parameters and a 388×388×2 output.

Layer names echo the structure (``down1_sepconv1``, ``down1_project``, ``up2_concat``,
``enc3_conv2``, ``dec3_crop``, ...), so ``model.summary()`` reads like the figure.
"""

from __future__ import annotations

import keras
from keras import layers

from cv_textbook.checks import (
    check_bool,
    check_choice,
    check_input_shape,
    check_num_classes,
    check_positive_int,
    is_int,
)
from cv_textbook.models.blocks import conv_bn, separable_block
from cv_textbook.models.layers import BatchNormalization

PADDINGS = ("valid", "same")


# --------------------------------------------------------------------------- helpers


def _check_filters(filters) -> tuple[int, ...]:
    try:
        values = tuple(filters)
    except TypeError:
        values = None
    if values is None or len(values) < 2 or any(not is_int(f) or f < 1 for f in values):
        raise ValueError(
            "filters must be a sequence of at least 2 positive integers: the entry convolution's "
            f"filters, then one entry per down block, such as (32, 64, 128, 256); got {filters!r}."
        )
    return tuple(int(f) for f in values)


def _nearest_multiples(side: int, multiple: int) -> list[int]:
    below = side // multiple * multiple
    return [s for s in (below, below + multiple) if s >= multiple]


def _describe_choices(values: list[int]) -> str:
    return " or ".join(str(v) for v in values)


# --------------------------------------------------------------------------- keras-io U-Net


def _entry_block(x, filters: int):
    # Keras's defaults throughout (bias, Glorot initialiser, BN epsilon 1e-3), as the keras-io example.
    return conv_bn(x, filters, 3, 2, "entry", padding="same")  # entry_conv, entry_bn, entry_relu


def _down_block(x, filters: int, index: int, residual_projection: bool):
    """2 × (ReLU → 3×3 separable convolution → BN), 3×3/2 max-pooling, strided 1×1 projection,
    the encoder block Xception shares (``blocks.separable_block``): down1_relu1, down1_sepconv1,
    down1_bn1, ..., down1_pool, down1_project, down1_add."""
    return separable_block(x, filters, f"down{index}", residual="project" if residual_projection else None)


def _up_block(x, filters: int, index: int, residual_projection: bool):
    """2 × (ReLU → 3×3 transposed convolution → BN), 2× upsampling, upsampled 1×1 projection."""
    name = f"up{index}"
    block_input = x
    for i in (1, 2):
        x = layers.Activation("relu", name=f"{name}_relu{i}")(x)
        x = layers.Conv2DTranspose(filters, 3, padding="same", name=f"{name}_convT{i}")(x)
        x = BatchNormalization(name=f"{name}_bn{i}")(x)
    x = layers.UpSampling2D(2, name=f"{name}_upsample")(x)
    if residual_projection:
        residual = layers.UpSampling2D(2, name=f"{name}_residual_upsample")(block_input)
        residual = layers.Conv2D(filters, 1, padding="same", name=f"{name}_project")(residual)
        x = layers.Add(name=f"{name}_add")([x, residual])
    return x


def _check_multiple_of(shape: tuple[int, int, int], stride: int, why: str) -> None:
    height, width, _ = shape
    bad = [(label, side) for label, side in (("height", height), ("width", width)) if side % stride]
    if not bad:
        return
    if len(bad) == 2 and height == width:
        examples = _describe_choices(_nearest_multiples(height, stride))
    else:
        examples = " and ".join(
            f"{_describe_choices(_nearest_multiples(side, stride))} for the {label}" for label, side in bad
        )
    raise ValueError(
        f"input_shape {shape}: height and width must be multiples of {stride} for this network, "
        f"e.g. {examples}: {why}, and the decoder multiplies it by {stride} again, so any other "
        "size would come out at a different size than it went in."
    )


def unet_xception(
    input_shape=(160, 160, 3),
    num_classes: int = 3,
    filters=(32, 64, 128, 256),
    residual_projection: bool = True,
    skip_connections: bool = False,
) -> keras.Model:
    """The keras-io U-Net-like segmentation network (Xception-style encoder, residual decoder).

    ``filters`` are the entry convolution's filters followed by one entry per down block; the
    up blocks use them in reverse order, so the default gives down blocks of 64/128/256 and
    up blocks of 256/128/64/32 filters. The entry convolution (stride 2) and each down block's
    pooling halve the map, so height and width must be multiples of ``2 ** len(filters)``
    (16 by default); the decoder doubles the map as often, and the output has the input's size
    with one softmax channel per class.

    ``residual_projection=False`` drops every residual branch (no Add layers, no 1×1
    projections, no residual upsampling): an ablation to see what the shortcuts buy.

    ``skip_connections=True`` concatenates the input of each up block after the first with the
    encoder feature map of the same resolution (up2 with the output of the last-but-one down
    block, ..., the last up block with the entry block's output; layers ``up{i}_concat``). The
    first up block gets none: its input *is* the deepest encoder map. The concatenation then
    feeds both the main path and the residual projection of that block.
    """
    filters = _check_filters(filters)
    stride = 2 ** len(filters)
    input_shape = check_input_shape(input_shape, stride, "unet_xception", example=(160, 160, 3))
    _check_multiple_of(
        input_shape, stride, f"the entry convolution's stride 2 and {len(filters) - 1} poolings divide the size by {stride}"
    )
    num_classes = check_num_classes(num_classes)
    residual_projection = check_bool("residual_projection", residual_projection)
    skip_connections = check_bool("skip_connections", skip_connections)

    inputs = keras.Input(shape=input_shape, name="image")
    x = _entry_block(inputs, filters[0])
    encoder_maps = [x]  # the entry output (1/2 resolution), then each down block's (1/4, 1/8, ...)
    for index, width in enumerate(filters[1:], start=1):
        x = _down_block(x, width, index, residual_projection)
        encoder_maps.append(x)

    for index, width in enumerate(reversed(filters), start=1):
        if skip_connections and index > 1:
            # After index - 1 up blocks the map is back at the resolution of encoder_maps[-index].
            x = layers.Concatenate(name=f"up{index}_concat")([x, encoder_maps[-index]])
        x = _up_block(x, width, index, residual_projection)

    # float32 output keeps the softmax and the loss exact under mixed precision.
    outputs = layers.Conv2D(
        num_classes, 3, padding="same", activation="softmax", dtype="float32", name="output"
    )(x)
    name = "unet_xception" + ("" if residual_projection else "_plain") + ("_skips" if skip_connections else "")
    return keras.Model(inputs, outputs, name=name)


# --------------------------------------------------------------------------- Ronneberger et al.


def classic_output_side(side: int, depth: int = 4, padding: str = "valid") -> int | None:
    """The output side of ``unet_classic`` for an input side, or None if that side does not work.

    With ``"valid"`` padding every 3×3 convolution removes 2 pixels, so a level removes 4, each
    pooling needs an even size, and the decoder must keep a positive size; with ``"same"`` the
    side must divide by ``2 ** depth``.
    """
    if side < 1:
        return None
    if padding == "same":
        return side if side % 2**depth == 0 else None
    for _ in range(depth):  # contracting path
        side -= 4
        if side <= 0 or side % 2:
            return None
        side //= 2
    side -= 4  # the two convolutions at the bottom
    if side <= 0:
        return None
    for _ in range(depth):  # expansive path: up-convolution ×2, then two convolutions −4
        side = side * 2 - 4
        if side <= 0:
            return None
    return side


def _nearest_classic_sides(side: int, depth: int, padding: str) -> list[int]:
    period = 2 ** (depth + 1)  # valid sides repeat with period 2**depth; this is a safe search span
    below = next((s for s in range(side - 1, max(0, side - 4 * period), -1) if classic_output_side(s, depth, padding)), None)
    above = next((s for s in range(side + 1, side + 100 * period) if classic_output_side(s, depth, padding)), None)
    return [s for s in (below, above) if s is not None]


def _check_classic_shape(shape: tuple[int, int, int], depth: int, padding: str) -> None:
    for label, side in (("height", shape[0]), ("width", shape[1])):
        if classic_output_side(side, depth, padding) is not None:
            continue
        suggestions = _nearest_classic_sides(side, depth, padding)
        if padding == "valid":
            why = (
                "with padding='valid' each level's two 3×3 convolutions remove 4 pixels, the size must "
                "be even before each of the "
                f"{depth} 2×2 poolings and stay positive through the decoder"
            )
        else:
            why = f"with padding='same' the {depth} 2×2 poolings need a multiple of {2**depth}"
        raise ValueError(
            f"input_shape {shape}: {label} {side} does not work for unet_classic (depth {depth}): {why}. "
            f"Nearest sizes that work: {_describe_choices(suggestions)}"
            + (f" (smallest valid value: {suggestions[0]})." if suggestions[0] > side else ".")
        )


def _conv_pair(x, filters: int, padding: str, name: str):
    for i in (1, 2):
        # He et al. initialisation, as the paper recommends (std sqrt(2/N)).
        x = layers.Conv2D(
            filters, 3, padding=padding, activation="relu", kernel_initializer="he_normal", name=f"{name}_conv{i}"
        )(x)
    return x


def _center_crop(skip, target, name: str):
    """Crop the encoder map ``skip`` to the spatial size of ``target`` (the paper's grey arrows)."""
    skip_h, skip_w = skip.shape[1], skip.shape[2]
    target_h, target_w = target.shape[1], target.shape[2]
    dh, dw = skip_h - target_h, skip_w - target_w
    if dh == 0 and dw == 0:
        return skip
    return layers.Cropping2D(((dh // 2, dh - dh // 2), (dw // 2, dw - dw // 2)), name=name)(skip)


def unet_classic(
    input_shape=(572, 572, 1),
    num_classes: int = 2,
    padding: str = "valid",
    base_filters: int = 64,
    depth: int = 4,
) -> keras.Model:
    """The U-Net of Ronneberger, Fischer & Brox (2015): contracting path, expansive path, crops.

    Level ``i`` (1 = top) has ``base_filters * 2**(i-1)`` filters; below the ``depth``-th
    pooling the bottom level has ``base_filters * 2**depth`` (1024 in the paper). With
    ``padding="valid"`` (the paper) the output is smaller than the input, 388×388 for 572×572,
    and each encoder map is centre-cropped (``Cropping2D``, sizes computed from the shapes)
    before it is concatenated; ``padding="same"`` keeps the input size and needs no cropping.
    The paper's dropout at the end of the contracting path has no weights and is left out.
    """
    check_choice("padding", padding, PADDINGS)
    depth = check_positive_int("depth", depth, hint="The paper used 4.")
    base_filters = check_positive_int("base_filters", base_filters, hint="The paper used 64.")
    input_shape = check_input_shape(input_shape, 1, "unet_classic", example=(572, 572, 1))
    _check_classic_shape(input_shape, depth, padding)
    num_classes = check_num_classes(num_classes)

    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    encoder_maps = []
    for level in range(1, depth + 1):
        x = _conv_pair(x, base_filters * 2 ** (level - 1), padding, f"enc{level}")
        encoder_maps.append(x)
        x = layers.MaxPooling2D(2, name=f"enc{level}_pool")(x)
    x = _conv_pair(x, base_filters * 2**depth, padding, "bottom")

    for level in range(depth, 0, -1):
        filters = base_filters * 2 ** (level - 1)
        x = layers.Conv2DTranspose(filters, 2, strides=2, kernel_initializer="he_normal", name=f"dec{level}_upconv")(x)
        skip = _center_crop(encoder_maps[level - 1], x, f"dec{level}_crop")
        x = layers.Concatenate(name=f"dec{level}_concat")([skip, x])
        x = _conv_pair(x, filters, padding, f"dec{level}")

    outputs = layers.Conv2D(num_classes, 1, activation="softmax", dtype="float32", name="output")(x)
    return keras.Model(inputs, outputs, name="unet_classic" if padding == "valid" else "unet_classic_same")
