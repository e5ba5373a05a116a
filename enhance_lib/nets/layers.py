"""Custom Keras layers of the Enhance networks (serializable)."""

from .backend import import_keras

keras = import_keras()
ops = keras.ops

__all__ = ["CropToScale", "PadToEven", "ReflectionPadding2D"]


@keras.saving.register_keras_serializable(package="enhance")
class ReflectionPadding2D(keras.layers.Layer):
    """Pad the two spatial axes of an NHWC tensor by reflection.

    The original Enhance padded with ``tf.pad(..., "REFLECT")`` before every
    'valid' 3x3 convolution, so that image borders are not darkened by zeros.

    Parameters
    ----------
    padding : int or tuple of int
        Pixels added on each side: ``p`` or ``(p_rows, p_cols)``.
    """

    def __init__(self, padding=1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(padding, int):
            padding = (padding, padding)
        self.padding = tuple(int(p) for p in padding)

    def call(self, inputs):
        py, px = self.padding
        return ops.pad(inputs, [[0, 0], [py, py], [px, px], [0, 0]], mode="reflect")

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        py, px = self.padding
        return (n, None if h is None else h + 2 * py, None if w is None else w + 2 * px, c)

    def get_config(self):
        config = super().get_config()
        config["padding"] = self.padding
        return config


@keras.saving.register_keras_serializable(package="enhance")
class PadToEven(keras.layers.Layer):
    """Pad odd spatial sizes to even ones by reflecting one row/column at the end.

    Used by the encoder-decoder network, which halves the grid once.
    """

    def call(self, inputs):
        shape = ops.shape(inputs)
        # Always pad one row and column, then crop to even: the same result without
        # a data-dependent padding width, which PyTorch's reflect padding rejects
        # when it is zero.
        padded = ops.pad(inputs, [[0, 0], [0, 1], [0, 1], [0, 0]], mode="reflect")
        return padded[:, : shape[1] + shape[1] % 2, : shape[2] + shape[2] % 2, :]

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        return (n, None if h is None else h + h % 2, None if w is None else w + w % 2, c)


@keras.saving.register_keras_serializable(package="enhance")
class CropToScale(keras.layers.Layer):
    """Crop the first input to ``scale`` times the spatial size of the second.

    Parameters
    ----------
    scale : int
        Ratio of output to reference size (2 for Enhance).
    """

    def __init__(self, scale=2, **kwargs):
        super().__init__(**kwargs)
        self.scale = int(scale)

    def call(self, inputs):
        x, reference = inputs
        shape = ops.shape(reference)
        return x[:, : self.scale * shape[1], : self.scale * shape[2], :]

    def compute_output_shape(self, input_shape):
        x_shape, ref_shape = input_shape
        _n, h, w, _ = ref_shape
        return (
            x_shape[0],
            None if h is None else self.scale * h,
            None if w is None else self.scale * w,
            x_shape[3],
        )

    def get_config(self):
        config = super().get_config()
        config["scale"] = self.scale
        return config
