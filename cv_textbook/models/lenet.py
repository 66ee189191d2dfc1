"""LeNet-5 (LeCun, Bottou, Bengio & Haffner, 1998, "Gradient-based learning applied to document
recognition", §II.B).

Layer names follow the paper's figure 2: C1 convolution, S2 subsampling, C3 convolution,
S4 subsampling, C5 (a 120-unit layer), F6 (84 units) and the output layer. Three variants share
those layers and sizes and differ in what they keep of the paper:

``variant="1998"``, the paper's network
    The scaled tanh f(a) = 1.7159 tanh(2a/3) (Appendix A) after C1, S2, C3, S4, C5 and F6;
    trainable subsampling in S2 and S4 (each map: the sum of a 2×2 window times a trainable
    coefficient plus a trainable bias, then f); C3 connected by the paper's Table I, each of its
    16 maps reading 3, 4 or all 6 of S2's maps (``C3_CONNECTIONS``). One departure: the output
    is a softmax Dense layer. The paper's output was 10 Euclidean RBF units whose weights were
    not learned but fixed by hand, +1 or -1 from a 7×12 bitmap of each character (hence F6's
    84 = 7 × 12 units), trained with a criterion of its own (§II.B-C); a softmax trains with the
    cross-entropy the rest of the package uses.
``variant="1998_simplified"``, the textbooks' 1998 LeNet-5
    Plain tanh and average pooling, C3 connected to all six S2 maps, softmax output: the
    paper's shape and saturating units without its two special layers.
``variant="modern"``, how LeNet-5 is taught today
    The simplified network with ReLU and max pooling.

Parameters at 28×28×1 with ``c1_padding="same"`` and 10 classes (``count_params()``)::

    layer   1998                                     1998_simplified and modern
    C1      5·5·1·6 + 6                     =    156  156
    S2      6 coefficients + 6 biases       =     12  0 (pooling has no weights)
    C3      60 kernels of 5·5 + 16 biases   =  1,516  5·5·6·16 + 16 = 2,416
    S4      16 coefficients + 16 biases     =     32  0
    C5      400·120 + 120                   = 48,120  48,120
    F6      120·84 + 84                     = 10,164  10,164
    output  84·10 + 10                      =    850  850
    total                                     60,850  61,706

C1 to F6 of the 1998 variant hold 60,000 parameters, the paper's count for LeNet-5: its RBF
output units had fixed weights. The paper drew 20×20 digits on 32×32 canvases, which
``c1_padding="same"`` reproduces for 28×28 images; it also scaled pixels so that the background
is -0.1 and ink 1.175 (mean about 0, variance about 1), where the package's pipeline gives 0 to 1.

As a backbone (``include_top=False``, keras.applications' convention) LeNet-5 keeps its feature
extractor C1–S4 and drops the classifier: Flatten, C5, F6 and the output. C5 is drawn as a
convolution in the paper, but its 5×5 kernels cover the whole 5×5 S4 map, so it is the first
fully connected layer. What remains returns S4's maps, 5×5×16 for a 28×28 input, with 2,572
parameters (1,716 for ``"1998"``); ``pooling="avg"``/``"max"`` reduces them to 16 features.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable

import keras
from keras import layers

from cv_textbook.checks import check_choice, check_input_shape, check_num_classes, check_top
from cv_textbook.models.blocks import global_pooling
from cv_textbook.models.layers import ConnectionTableConv2D, TrainableSubsampling, scaled_tanh

# LeCun et al. 1998, Table I: the S2 maps that each of C3's 16 maps reads. Maps 0-5 read three
# contiguous maps, 6-11 four contiguous ones, 12-14 four discontinuous ones, 15 all six (60 in all).
C3_CONNECTIONS = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (0, 4, 5), (0, 1, 5),
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (0, 3, 4, 5), (0, 1, 4, 5), (0, 1, 2, 5),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)


@dataclass(frozen=True)
class Variant:
    """What a variant puts in LeNet-5's places: the units' activation, the subsampling layer of
    S2 and S4 and the convolution of C3 (each called with the layer's name)."""

    model_name: str
    activation: str | Callable
    subsampling: Callable[..., keras.layers.Layer]
    c3: Callable[..., keras.layers.Layer]


_FULL_C3 = partial(layers.Conv2D, 16, 5)
VARIANTS = {
    "modern": Variant("lenet5", "relu", partial(layers.MaxPooling2D, 2), _FULL_C3),
    "1998": Variant(
        "lenet5_1998",
        scaled_tanh,
        partial(TrainableSubsampling, 2, activation=scaled_tanh),
        partial(ConnectionTableConv2D, C3_CONNECTIONS, 5),
    ),
    "1998_simplified": Variant(
        "lenet5_1998_simplified", "tanh", partial(layers.AveragePooling2D, 2), _FULL_C3
    ),
}


def _smallest_input(c1_padding: str) -> int:
    # Working backwards from one pixel after S4: S4 ×2, C3 (5×5 valid) +4, S2 ×2, C1 +4 if valid.
    side = 2 * (1 * 2 + 4)
    return side + (4 if c1_padding == "valid" else 0)


def lenet5(
    input_shape=(28, 28, 1),
    num_classes: int = 10,
    variant: str = "modern",
    c1_padding: str = "same",
    include_top: bool = True,
    pooling: str | None = None,
) -> keras.Model:
    """LeNet-5 as a functional model.

    ``variant`` is "modern" (ReLU, max pooling), "1998" (the paper's network: scaled tanh,
    trainable subsampling, C3's connection table; 60,850 parameters at 28×28×1) or
    "1998_simplified" (tanh, average pooling, full C3); the module docstring compares them.
    ``c1_padding="same"`` pads 28×28 images by two pixels on each side, which is what the
    paper did by drawing its 20×20 digits on 32×32 canvases; use ``"valid"`` with 32×32 inputs.
    ``include_top=False`` returns S4's 5×5×16 maps (module docstring); ``pooling`` is then None,
    "avg" or "max", and ignored with the top, as in keras.applications.
    """
    check_choice("variant", variant, tuple(VARIANTS))
    check_choice("c1_padding", c1_padding, ("same", "valid"))
    include_top, pooling = check_top(include_top, pooling)
    input_shape = check_input_shape(input_shape, _smallest_input(c1_padding), "lenet5")
    num_classes = check_num_classes(num_classes)
    chosen = VARIANTS[variant]
    activation = chosen.activation

    inputs = keras.Input(shape=input_shape, name="image")
    x = layers.Conv2D(6, 5, padding=c1_padding, activation=activation, name="c1_conv")(inputs)
    x = chosen.subsampling(name="s2_pool")(x)
    x = chosen.c3(activation=activation, name="c3_conv")(x)
    x = chosen.subsampling(name="s4_pool")(x)
    if include_top:
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(120, activation=activation, name="c5_dense")(x)
        x = layers.Dense(84, activation=activation, name="f6_dense")(x)
        # float32 output keeps the softmax and the loss exact under mixed precision.
        x = layers.Dense(num_classes, activation="softmax", dtype="float32", name="output")(x)
    else:
        x = global_pooling(x, pooling)
    return keras.Model(inputs, x, name=chosen.model_name)
