"""Small custom layers of the model builders, registered so that saved ``.keras`` files load
under the default ``safe_mode`` (no Lambda layers anywhere in the package).

Every layer here runs on every Keras backend. ``ZeroPadShortcut`` uses ``keras.ops`` only;
``BatchNormalization`` is Keras's own layer that, when training on TensorFlow, hands the work to
TensorFlow's fused kernel (imported only then) and otherwise computes exactly as Keras does.

The 1998 LeNet-5 (LeCun et al., "Gradient-based learning applied to document recognition",
§II.B and Appendix A) needs three things Keras lacks, written here with ``keras.ops`` only:
``scaled_tanh`` (the paper's squashing function), ``TrainableSubsampling`` (its S2 and S4) and
``ConnectionTableConv2D`` (its C3, whose maps each read only some of S2's maps, Table I).
AlexNet's (and GoogLeNet's stem's) ``LocalResponseNormalization`` is the fourth.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from cv_textbook.checks import check_bool, check_choice, check_int, check_number, check_positive_int


@keras.saving.register_keras_serializable(package="cv_textbook")
class ZeroPadShortcut(keras.layers.Layer):
    """The parameter-free shortcut "option A" of He et al. (2015), §3.3 and §4.2.

    Where a residual block halves the feature map and widens it, the identity shortcut no longer
    fits. Option A subsamples the input by taking every ``stride``-th pixel (pixels 0, 2, 4, ...,
    the same pixels a strided 1×1 convolution would read) and appends zero channels up to
    ``out_channels``. It has no weights. Channels-last inputs (batch, height, width, channels).
    """

    def __init__(self, out_channels: int, stride: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.out_channels = check_positive_int("out_channels", out_channels)
        self.stride = check_positive_int("stride", stride)

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is not None and channels > self.out_channels:
            raise ValueError(
                f"{self.name}: out_channels={self.out_channels} is smaller than the {channels} input "
                "channels; option A can only add channels (smallest valid value: "
                f"{channels})."
            )
        self.built = True

    def call(self, inputs):
        x = inputs
        if self.stride > 1:
            x = x[:, :: self.stride, :: self.stride, :]
        extra = self.out_channels - x.shape[-1]
        if extra > 0:
            x = ops.pad(x, [[0, 0], [0, 0], [0, 0], [0, extra]])
        return x

    def compute_output_shape(self, input_shape):
        def subsample(side):
            return None if side is None else -(-side // self.stride)  # ceil, like "same" stride

        batch, height, width, _ = input_shape
        return (batch, subsample(height), subsample(width), self.out_channels)

    def get_config(self):
        config = super().get_config()
        config.update({"out_channels": self.out_channels, "stride": self.stride})
        return config


@keras.saving.register_keras_serializable(package="cv_textbook")
class BatchNormalization(keras.layers.BatchNormalization):
    """``keras.layers.BatchNormalization``, trained with TensorFlow's fused kernel where it applies.

    Same weights, same configuration and the same arithmetic as Keras's layer; only the training
    step on the TensorFlow backend differs in how it is computed. Keras 3 normalises with a chain
    of separate element-wise operations in float32 (casts, moments, subtract, multiply, add),
    forwards and backwards. ``tf.nn.fused_batch_norm`` does the same in one kernel that reads
    bfloat16 or float16 directly and keeps its sums in float32, as tf.keras 2 did by default.
    Measured on a 2-core CPU, ResNet-20 trained 1.67x faster with it in bfloat16 and 1.40x in
    float32 (README, "Training speed, measured"). Inference, the other backends and the settings
    the kernel does not cover (masks, renormalisation, synchronised statistics, other axes or
    ranks) use Keras's own code, so a model copied from ``keras.applications`` computes the same
    function.
    """

    def call(self, inputs, training=None, mask=None):
        if training and self.trainable and self._fused_kernel_applies(inputs, mask):
            return self._fused_training_step(inputs)
        return super().call(inputs, training=training, mask=mask)

    def _fused_kernel_applies(self, inputs, mask) -> bool:
        rank = len(inputs.shape)
        return (
            keras.backend.backend() == "tensorflow"
            and mask is None
            and not self.renorm
            and not self.synchronized
            and rank == 4
            and self.axis % rank == rank - 1
            and keras.backend.standardize_dtype(inputs.dtype) in ("float32", "bfloat16", "float16")
        )

    def _fused_training_step(self, inputs):
        import tensorflow as tf  # only reached on the TensorFlow backend

        channels = inputs.shape[-1]
        gamma = ops.cast(self.gamma, "float32") if self.scale else ops.ones((channels,), "float32")
        beta = ops.cast(self.beta, "float32") if self.center else ops.zeros((channels,), "float32")
        outputs, mean, unbiased_variance = tf.compat.v1.nn.fused_batch_norm(
            inputs, gamma, beta, epsilon=self.epsilon, is_training=True
        )[:3]
        # The kernel normalises with the batch variance but returns it Bessel-corrected, n/(n-1)
        # (with n-1 taken as 1 when n is 1); Keras averages the uncorrected one.
        count = ops.cast(ops.size(inputs) // channels, "float32")
        variance = unbiased_variance * ops.maximum(count - 1.0, 1.0) / count
        self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
        self.moving_variance.assign(
            self.moving_variance * self.momentum + variance * (1.0 - self.momentum)
        )
        return ops.cast(outputs, self.compute_dtype)


# LeCun et al. (1998), Appendix A: f(a) = A tanh(S a) with A = 1.7159 and S = 2/3, chosen so that
# f(1) = 1 and f(-1) = -1, where the second derivative of f is largest.
SCALED_TANH_AMPLITUDE = 1.7159
SCALED_TANH_SLOPE = 2.0 / 3.0


@keras.saving.register_keras_serializable(package="cv_textbook")
def scaled_tanh(x):
    """The 1998 LeNet-5's squashing function f(a) = 1.7159 tanh(2a/3) (the paper's Appendix A).

    A tanh stretched so that f(±1) = ±1, where its second derivative is largest: targets of ±1
    then sit where f bends most, not in its flat tails, and with inputs normalised to unit
    variance the gain of f stays about 1 (f'(0) = A·S ≈ 1.14).
    """
    return SCALED_TANH_AMPLITUDE * ops.tanh(SCALED_TANH_SLOPE * x)


@keras.saving.register_keras_serializable(package="cv_textbook")
class TrainableSubsampling(keras.layers.Layer):
    """The 1998 LeNet-5's subsampling layers S2 and S4 (LeCun et al. 1998, §II.B).

    Each map's non-overlapping ``pool_size``×``pool_size`` windows are summed, multiplied by one
    trainable coefficient per map and shifted by one trainable bias per map; ``activation`` (the
    paper's squashing function, ``scaled_tanh``) follows. Two parameters per map: 12 for S2's six
    maps, 32 for S4's sixteen. As the paper explains, a small coefficient keeps the unit in the
    squashing's quasi-linear part (the layer blurs its input); a large one makes it a noisy OR or
    a noisy AND, depending on the bias. The coefficient starts at 1 / pool_size², so the untrained
    layer is average pooling.
    """

    def __init__(self, pool_size: int = 2, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = check_positive_int("pool_size", pool_size, hint="LeNet-5's S2 and S4 use 2.")
        self.activation = keras.activations.get(activation)

    def build(self, input_shape):
        channels = input_shape[-1]
        self.coefficient = self.add_weight(
            shape=(channels,), name="coefficient",
            initializer=keras.initializers.Constant(1.0 / self.pool_size**2),
        )
        self.bias = self.add_weight(shape=(channels,), name="bias", initializer="zeros")

    def call(self, inputs):
        # Keras has no sum pooling: a window's sum is its mean times its size.
        window_sums = ops.average_pool(inputs, self.pool_size, self.pool_size, padding="valid")
        window_sums = window_sums * float(self.pool_size**2)
        return self.activation(window_sums * self.coefficient + self.bias)

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape

        def pooled(side):
            return None if side is None else side // self.pool_size

        return (batch, pooled(height), pooled(width), channels)

    def get_config(self):
        config = super().get_config()
        activation = keras.activations.serialize(self.activation)
        config.update({"pool_size": self.pool_size, "activation": activation})
        return config


def _connection_table(connections) -> tuple[tuple[int, ...], ...]:
    """``connections`` as a tuple per output map of the input maps it reads."""
    example = "((0, 1, 2), (1, 2, 3, 4))"
    try:
        maps = [tuple(inputs) for inputs in connections]
    except TypeError:
        raise ValueError(
            "connections must be a sequence with one entry per output map, each a sequence of the input "
            f"maps that output map reads, such as {example}; got {connections!r}."
        ) from None
    if not maps:
        raise ValueError(
            f"connections must list at least one output map, such as {example}; got {connections!r}."
        )
    for output_map, inputs in enumerate(maps):
        if not inputs:
            raise ValueError(
                f"connections[{output_map}] is empty: every output map must read at least one input map "
                "(smallest valid entry: one index, such as (0,))."
            )
        for position, input_map in enumerate(inputs):
            check_int(f"connections[{output_map}][{position}]", input_map, 0)
        if len(set(inputs)) != len(inputs):
            raise ValueError(
                f"connections[{output_map}] = {inputs} reads an input map twice; list each input map once."
            )
    return tuple(tuple(int(input_map) for input_map in inputs) for inputs in maps)


def _kernel_size(kernel_size) -> tuple[int, int]:
    if isinstance(kernel_size, (tuple, list)) and len(kernel_size) == 2:
        height, width = kernel_size
        return check_positive_int("kernel_size[0]", height), check_positive_int("kernel_size[1]", width)
    side = check_positive_int("kernel_size", kernel_size, hint="Give one side (5) or two, (5, 5).")
    return side, side


@keras.saving.register_keras_serializable(package="cv_textbook")
class ConnectionTableConv2D(keras.layers.Layer):
    """A convolution whose output maps each read only some input maps: the 1998 LeNet-5's C3.

    ``connections[o]`` lists the input maps that output map ``o`` reads; there are
    ``len(connections)`` output maps. LeCun et al. (1998, §II.B, Table I) connected C3 this way
    to keep the number of connections in bounds and, above all, to break the symmetry between
    maps, so that different maps are forced to extract different features.

    Only the connected kernels are weights: ``kernel`` has shape (kh, kw, connections), its
    c-th slice the kernel of the c-th (output map, input map) pair in the order of
    ``connections`` (output map 0's inputs first, in the order listed). C3's table has 60 pairs:
    60 × 25 + 16 biases = 1,516 trainable parameters, where a full 6 → 16 convolution has 2,416.
    Each call gathers them into a full (kh, kw, inputs, outputs) kernel, zeros for the missing
    pairs, and runs one ordinary convolution: the zeros are constants, so training leaves them 0.
    With every pair connected it computes exactly what ``keras.layers.Conv2D`` computes.

    Kernels start as ``kernel_initializer`` draws them for the full kernel (glorot_uniform, as
    ``Conv2D``), the missing pairs then being dropped; the paper drew each weight uniformly in
    ±2.4 / fan-in instead. Stride 1, channels-last inputs.
    """

    def __init__(
        self,
        connections,
        kernel_size,
        padding: str = "valid",
        activation=None,
        use_bias: bool = True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.connections = _connection_table(connections)
        self.filters = len(self.connections)
        self.kernel_size = _kernel_size(kernel_size)
        check_choice("padding", padding, ("valid", "same"))
        self.padding = padding
        self.activation = keras.activations.get(activation)
        self.use_bias = check_bool("use_bias", use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def build(self, input_shape):
        inputs = input_shape[-1]
        if inputs is None:
            raise ValueError(f"{self.name}: the number of input maps (the last axis) must be known to build.")
        for output_map, input_maps in enumerate(self.connections):
            if max(input_maps) >= inputs:
                raise ValueError(
                    f"connections[{output_map}] = {input_maps} reads input map {max(input_maps)}, but the "
                    f"input has {inputs} maps, numbered 0 to {inputs - 1}."
                )
        # Where each connected kernel sits among the inputs × outputs pairs of a full kernel
        # (input-major, as Conv2D's kernel is laid out), and for every pair the connected
        # kernel it takes, or the appended zero kernel when the pair is not connected.
        self._pair_of_connection = np.array(
            [input_map * self.filters + output_map
             for output_map, input_maps in enumerate(self.connections) for input_map in input_maps],
            dtype="int32",
        )
        connection_of_pair = np.full(inputs * self.filters, len(self._pair_of_connection), dtype="int32")
        connection_of_pair[self._pair_of_connection] = np.arange(len(self._pair_of_connection))
        self._connection_of_pair = connection_of_pair
        self._input_maps = inputs
        height, width = self.kernel_size

        def connected_part_of_a_full_kernel(shape, dtype=None):
            full = self.kernel_initializer((height, width, inputs, self.filters), dtype=dtype)
            full = ops.reshape(full, (height, width, inputs * self.filters))
            return ops.take(full, self._pair_of_connection, axis=-1)

        self.kernel = self.add_weight(
            shape=(height, width, len(self._pair_of_connection)), name="kernel",
            initializer=connected_part_of_a_full_kernel,
        )
        self.bias = (
            self.add_weight(shape=(self.filters,), name="bias", initializer=self.bias_initializer)
            if self.use_bias else None
        )

    def full_kernel(self):
        """The (kh, kw, inputs, outputs) kernel of an ordinary convolution, zero where not connected."""
        kernel = ops.convert_to_tensor(self.kernel)
        with_zero = ops.concatenate([kernel, ops.zeros_like(kernel[..., :1])], axis=-1)
        full = ops.take(with_zero, self._connection_of_pair, axis=-1)
        return ops.reshape(full, (*self.kernel_size, self._input_maps, self.filters))

    def call(self, inputs):
        outputs = ops.conv(inputs, self.full_kernel(), strides=1, padding=self.padding)
        if self.use_bias:
            outputs = outputs + self.bias
        return self.activation(outputs)

    def compute_output_shape(self, input_shape):
        batch, height, width, _ = input_shape

        def convolved(side, kernel_side):
            if side is None or self.padding == "same":
                return side
            return side - kernel_side + 1

        kernel_height, kernel_width = self.kernel_size
        return (batch, convolved(height, kernel_height), convolved(width, kernel_width), self.filters)

    def get_config(self):
        config = super().get_config()
        config.update({
            "connections": [list(input_maps) for input_maps in self.connections],
            "kernel_size": list(self.kernel_size),
            "padding": self.padding,
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        })
        return config


@keras.saving.register_keras_serializable(package="cv_textbook")
class LocalResponseNormalization(keras.layers.Layer):
    """AlexNet's local response normalisation across channels (Krizhevsky, Sutskever & Hinton 2012,
    §3.3), which GoogLeNet's stem uses too; Keras has none.

    b[c] = a[c] / (k + α · Σ a[j]²)^β, the sum over the ``size`` channels j centred on c (fewer at
    the edges), with the paper's k = 2, n = 5, α = 1e-4, β = 0.75. α multiplies the sum itself,
    as in the paper and in ``tf.nn.local_response_normalization`` (whose ``depth_radius`` is
    (n − 1) / 2); Caffe and PyTorch divide α by n instead. Channels last; no weights. The
    windowed sum of squares is one 1-D convolution over the channel axis, in ``keras.ops``.
    """

    def __init__(self, size: int = 5, k: float = 2.0, alpha: float = 1e-4, beta: float = 0.75, **kwargs):
        super().__init__(**kwargs)
        self.size = check_positive_int("size", size, hint="AlexNet uses 5.")
        if self.size % 2 == 0:
            raise ValueError(f"size must be odd (a window centred on each channel; AlexNet uses 5), got {size}.")
        self.k = check_number("k", k, 0.0)
        self.alpha = check_number("alpha", alpha, 0.0)
        self.beta = check_number("beta", beta, 0.0)

    def call(self, inputs):
        x = ops.cast(inputs, "float32")  # squares of bfloat16 activations lose the sum's precision
        squares = ops.square(x)
        shape = ops.shape(squares)
        # (batch·H·W, channels, 1) → the sum of each window of `size` channels, zeros past the edges
        columns = ops.reshape(squares, (-1, shape[-1], 1))
        window = ops.ones((self.size, 1, 1), dtype="float32")
        sums = ops.conv(columns, window, strides=1, padding="same")
        sums = ops.reshape(sums, shape)
        outputs = x / ops.power(self.k + self.alpha * sums, self.beta)
        return ops.cast(outputs, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"size": self.size, "k": self.k, "alpha": self.alpha, "beta": self.beta})
        return config
