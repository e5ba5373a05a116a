"""The Enhance networks on Keras 3: ``keepsize`` (published) and ``encdec``.

Both follow Díaz Baso & Asensio Ramos (2018, A&A 614, A5), Fig. 2, layer by
layer as the original Keras 2 code built them, so that the original weight
files load by topological order (see :mod:`enhance_lib.nets.weights`).
"""

import numpy as np

from ..errors import EnhanceError
from .backend import import_keras
from .config import BN_EPSILON, DEFAULT_DEPTH, DEFAULT_FILTERS, DEFAULT_L2
from .layers import CropToScale, PadToEven, ReflectionPadding2D

keras = import_keras()
layers = keras.layers

__all__ = ["build_model", "encdec", "keepsize", "upsampling_init"]

def _conv(filters, *, l2, kernel_size=3, strides=1):
    # Biases are kept even before BatchNormalization: the original (Keras 2
    # default use_bias=True) saved them, and legacy files must load unchanged.
    return layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding="valid",
        kernel_initializer="he_normal",
        kernel_regularizer=keras.regularizers.l2(l2) if l2 else None
    )


def _padded_conv(x, filters, *, l2, strides=1):
    x = ReflectionPadding2D(1)(x)
    return _conv(filters, l2=l2, strides=strides)(x)


def _norm(x, batch_norm):
    return layers.BatchNormalization(epsilon=BN_EPSILON)(x) if batch_norm else x


def _residual_block(x, filters, *, activation, l2, batch_norm):
    shortcut = x
    x = _padded_conv(x, filters, l2=l2)
    x = _norm(x, batch_norm)
    x = layers.Activation(activation)(x)
    x = _padded_conv(x, filters, l2=l2)
    x = _norm(x, batch_norm)
    return layers.Add()([x, shortcut])


def keepsize(*, depth=DEFAULT_DEPTH, filters=DEFAULT_FILTERS, activation="relu", noise=0.0, l2=DEFAULT_L2,
             batch_norm=True, name="keepsize"):
    """Build the published Enhance network (keeps the size, then upsamples x2).

    Input noise -> pad/conv/act (x0) -> ``depth`` residual blocks -> pad/conv/BN
    + x0 -> nearest x2 upsampling -> pad/conv/act -> 1x1 conv (linear).

    Parameters
    ----------
    depth, filters, activation, noise, l2
        See :class:`NetworkConfig`.
    batch_norm : bool
        False builds the inference variant whose convolutions have the
        BatchNormalization folded in (see :func:`enhance_lib.nets.weights.fold_batchnorm`).
    name : str
        Model name.

    Returns
    -------
    keras.Model
        Takes ``(batch, ny, nx, 1)`` of any size, returns ``(batch, 2ny, 2nx, 1)``.
        Depth 5 with 64 filters has 446,657 parameters.
    """
    inputs = keras.Input(shape=(None, None, 1))
    x = layers.GaussianNoise(noise)(inputs) if batch_norm else inputs
    x = _padded_conv(x, filters, l2=l2)
    x0 = layers.Activation(activation)(x)
    x = x0
    for _ in range(depth):
        x = _residual_block(x, filters, activation=activation, l2=l2, batch_norm=batch_norm)
    x = _padded_conv(x, filters, l2=l2)
    x = _norm(x, batch_norm)
    x = layers.Add()([x, x0])
    x = layers.UpSampling2D(size=2, interpolation="nearest")(x)
    x = _padded_conv(x, filters, l2=l2)
    x = layers.Activation(activation)(x)
    outputs = _conv(1, l2=l2, kernel_size=1)(x)
    return keras.Model(inputs, outputs, name=name)


def encdec(*, depth=DEFAULT_DEPTH, filters=DEFAULT_FILTERS, activation="relu", noise=0.0, l2=DEFAULT_L2,
           batch_norm=True, name="encdec"):
    """Build the encoder-decoder Enhance network of the early versions.

    pad/conv(n)/BN/act -> pad/conv(2n, stride 2)/BN/act -> ``depth`` residual
    blocks of 2n filters -> (x2 upsampling, pad/conv(n)/BN/act) twice -> 1x1
    conv. Odd sizes are padded by reflection to even and the output is cropped
    back, so the output is always exactly twice the input in each axis.

    Parameters
    ----------
    depth, filters, activation, l2, batch_norm, name
        See :func:`keepsize`.
    noise : float
        Ignored: the original ``encdec`` had no noise layer.

    Returns
    -------
    keras.Model
    """
    del noise
    inputs = keras.Input(shape=(None, None, 1))
    x = PadToEven()(inputs)
    x = _padded_conv(x, filters, l2=l2)
    x = layers.Activation(activation)(_norm(x, batch_norm))
    x = _padded_conv(x, 2 * filters, l2=l2, strides=2)
    x = layers.Activation(activation)(_norm(x, batch_norm))
    for _ in range(depth):
        x = _residual_block(x, 2 * filters, activation=activation, l2=l2, batch_norm=batch_norm)
    for _ in range(2):
        x = layers.UpSampling2D(size=2, interpolation="nearest")(x)
        x = _padded_conv(x, filters, l2=l2)
        x = layers.Activation(activation)(_norm(x, batch_norm))
    x = _conv(1, l2=l2, kernel_size=1)(x)
    outputs = CropToScale(2)([x, inputs])
    return keras.Model(inputs, outputs, name=name)


def build_model(config, *, batch_norm=True):
    """Build the network described by a :class:`NetworkConfig`."""
    builder = {"keepsize": keepsize, "encdec": encdec}[config.model]
    return builder(
        depth=config.depth,
        filters=config.filters,
        activation=config.activation,
        noise=config.noise,
        l2=config.l2,
        batch_norm=batch_norm,
        name=config.model,
    )


def upsampling_init(net, config):
    """Initialise a ReLU keepsize network so that it starts as nearest x2 upsampling.

    Two channels of the first convolution carry ``relu(x)`` and ``relu(-x)``
    (signed magnetograms survive the ReLU); the last BatchNormalization of every
    residual block and the one after the blocks start with zero scale and shift,
    so the residual trunk starts as the identity ("zero-init residual", Goyal et
    al. 2017); the convolution after the upsampling passes the two channels on
    and the final 1x1 convolution outputs their difference. All other weights
    keep their He-normal draws and start learning at once. Training then learns
    the correction to upsampling (the deconvolution) instead of first having to
    discover the identity, which takes thousands of steps from a random start.
    The architecture is unchanged.

    Parameters
    ----------
    net : keras.Model
        A keepsize network from :func:`build_model` with BatchNormalization.
    config : NetworkConfig
        Its configuration: ``model`` must be keepsize, ``activation`` relu, and
        ``filters`` at least 2.

    Returns
    -------
    keras.Model
        ``net`` itself, its weights changed in place (it is freshly built).
    """

    if config.model != "keepsize" or config.activation != "relu" or config.filters < 2:
        raise EnhanceError("upsampling initialisation needs a keepsize network with ReLU and >= 2 filters")
    convs = [layer for layer in net.layers if isinstance(layer, layers.Conv2D)]
    norms = [layer for layer in net.layers if isinstance(layer, layers.BatchNormalization)]

    kernel, bias = convs[0].get_weights()
    kernel[..., :2] = 0.0
    kernel[1, 1, 0, 0], kernel[1, 1, 0, 1] = 1.0, -1.0
    bias[:2] = 0.0
    convs[0].set_weights([kernel, bias])
    for bn in norms[1:-1:2] + norms[-1:]:  # second BN of each block, then the BN after the blocks
        gamma, beta, mean, var = bn.get_weights()
        bn.set_weights([np.zeros_like(gamma), np.zeros_like(beta), mean, var])
    kernel, bias = convs[-2].get_weights()
    kernel[..., :2] = 0.0
    kernel[1, 1, 0, 0] = kernel[1, 1, 1, 1] = 1.0
    bias[:2] = 0.0
    convs[-2].set_weights([kernel, bias])
    kernel, bias = convs[-1].get_weights()
    kernel[...] = 0.0
    kernel[0, 0, 0, 0], kernel[0, 0, 1, 0] = 1.0, -1.0
    convs[-1].set_weights([kernel, np.zeros_like(bias)])
    return net
