"""LeNet-5 (LeCun, Bottou, Bengio & Haffner, 1998).

Layer names follow the paper's figure 2: C1 convolution, S2 subsampling, C3 convolution,
S4 subsampling, C5 (a 120-unit layer), F6 (84 units) and the output layer.

``variant="modern"`` is how LeNet-5 is taught today: ReLU and max-pooling.
``variant="1998"`` keeps the paper's tanh and average-pooling subsampling; two details of the
paper are simplified in both, as in most textbooks: C3 connects to all six S2 maps (the paper
used a sparse table) and the output is a softmax layer instead of Euclidean RBF units.
With 28×28×1 inputs and 10 classes both have 61,706 parameters.

As a backbone (``include_top=False``, keras.applications' convention) LeNet-5 keeps its feature
extractor C1–S4 and drops the classifier: Flatten, C5, F6 and the output. C5 is drawn as a
convolution in the paper, but its 5×5 kernels cover the whole 5×5 S4 map, so it is the first
fully connected layer. What remains returns S4's maps, 5×5×16 for a 28×28 input, with 2,572
parameters; ``pooling="avg"``/``"max"`` reduces them to 16 features.
"""

from __future__ import annotations

import keras
from keras import layers

from cv_textbook.checks import check_choice, check_input_shape, check_num_classes, check_top
from cv_textbook.models.blocks import global_pooling

VARIANTS = ("modern", "1998")


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

    ``c1_padding="same"`` pads 28×28 images by two pixels on each side, which is what the
    paper did by drawing its 20×20 digits on 32×32 canvases; use ``"valid"`` with 32×32 inputs.
    ``include_top=False`` returns S4's 5×5×16 maps (module docstring); ``pooling`` is then None,
    "avg" or "max", and ignored with the top, as in keras.applications.
    """
    check_choice("variant", variant, VARIANTS)
    check_choice("c1_padding", c1_padding, ("same", "valid"))
    include_top, pooling = check_top(include_top, pooling)
    input_shape = check_input_shape(input_shape, _smallest_input(c1_padding), "lenet5")
    num_classes = check_num_classes(num_classes)
    activation = "relu" if variant == "modern" else "tanh"
    pool = layers.MaxPooling2D if variant == "modern" else layers.AveragePooling2D

    inputs = keras.Input(shape=input_shape, name="image")
    x = layers.Conv2D(6, 5, padding=c1_padding, activation=activation, name="c1_conv")(inputs)
    x = pool(2, name="s2_pool")(x)
    x = layers.Conv2D(16, 5, activation=activation, name="c3_conv")(x)
    x = pool(2, name="s4_pool")(x)
    if include_top:
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(120, activation=activation, name="c5_dense")(x)
        x = layers.Dense(84, activation=activation, name="f6_dense")(x)
        # float32 output keeps the softmax and the loss exact under mixed precision.
        x = layers.Dense(num_classes, activation="softmax", dtype="float32", name="output")(x)
    else:
        x = global_pooling(x, pooling)
    name = "lenet5" if variant == "modern" else "lenet5_1998"
    return keras.Model(inputs, x, name=name)
