"""Small custom layers of the model builders, registered so that saved ``.keras`` files load
under the default ``safe_mode`` (no Lambda layers anywhere in the package).

Every layer here uses ``keras.ops`` only, so it runs on every Keras backend.
"""

from __future__ import annotations

import keras
from keras import ops


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
        if not isinstance(out_channels, int) or isinstance(out_channels, bool) or out_channels < 1:
            raise ValueError(f"out_channels must be a positive integer, got {out_channels!r}.")
        if not isinstance(stride, int) or isinstance(stride, bool) or stride < 1:
            raise ValueError(f"stride must be a positive integer (smallest valid value: 1), got {stride!r}.")
        self.out_channels = out_channels
        self.stride = stride

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
