"""The fast inference network, written once with ``keras.ops``, compiled per backend.

The predictor (:mod:`enhance_lib.predict`) runs keepsize not as the Keras model
but as a function of its (BatchNormalization-folded) weights, with two exact
reformulations that cut the work:

* **Sub-pixel tail.** keepsize ends with nearest x2 upsampling, reflection
  padding, a 3x3 convolution, the activation and a 1x1 convolution. On a
  nearest-upsampled map, output pixel (2i+a, 2j+b) of the 3x3 convolution sees
  only a 2x2 neighbourhood of the low-resolution map (the taps falling on the
  same source pixel add up), and reflection padding of the upsampled map is
  edge padding of the low-resolution one. So the four output phases are four
  2x2 convolutions at the input resolution, interleaved by depth-to-space: 16
  instead of 36 multiply-adds per channel pair, and no 64-channel map at twice
  the resolution.
* **Padding-free interior tiles.** Inside the image, the reflection padding
  before each convolution only changes pixels within the receptive margin of
  a tile's edge, which are cropped away. So a tile extended by the margin
  (``2 depth + 3``) on every side can run 'valid' convolutions that shrink it
  layer by layer (residual shortcuts cropped to match): the output is exactly
  the tile's core at x2, with no padding copies and fewer pixels per layer.

Both give the Keras model's output to float32 rounding (tested). The function
is compiled once per backend (:func:`compile_function`): a ``tf.function`` with
one trace for every tile shape on TensorFlow, ``jax.jit`` on JAX (one
compilation per tile shape, which the tiler keeps few), and eager no-grad calls
on PyTorch, in its native channels-first layout.
"""

import numpy as np

from .backend import backend_name, import_keras

__all__ = ["KeepsizeFunction", "compile_function", "compile_model", "data_format", "phase_kernel"]


def data_format():
    """Tensor layout of the fast network on this backend.

    PyTorch's convolutions are channels-first: keras.ops transposes around
    each channels-last convolution there. TensorFlow's CPU kernels (oneDNN)
    and XLA prefer channels-last.
    """
    return "channels_first" if backend_name() == "torch" else "channels_last"


def phase_kernel(kernel, a, axis):
    """Collapse a 3-tap axis of a kernel to the 2 taps that output phase ``a`` sees."""
    k0, k1, k2 = (np.take(kernel, i, axis=axis) for i in range(3))
    return np.stack([k0, k1 + k2] if a == 0 else [k0 + k1, k2], axis=axis)


class KeepsizeFunction:
    """keepsize (BatchNormalization folded) as a function of its weights.

    Parameters
    ----------
    net : keras.Model
        A keepsize network without BatchNormalization
        (:func:`enhance_lib.weights.fold_batchnorm`).
    config : NetworkConfig
        Its architecture.

    Attributes
    ----------
    params : dict of numpy.ndarray
        Weights as the function takes them: convolution kernels (kh, kw, in,
        out), biases shaped to broadcast in the backend's layout, and the four
        2x2 phase kernels of the convolution after the upsampling.
    """

    def __init__(self, net, config):
        keras = import_keras()
        convs = [layer.get_weights() for layer in net.layers if isinstance(layer, keras.layers.Conv2D)]
        if config.model != "keepsize" or len(convs) != 2 * config.depth + 4:
            raise ValueError("KeepsizeFunction needs a folded keepsize network")
        self.depth = config.depth
        self.activation = config.activation
        self.data_format = data_format()
        bias_shape = (-1,) if self.data_format == "channels_last" else (-1, 1, 1)
        params = {}
        for i, (kernel, bias) in enumerate(convs):
            params[f"k{i}"] = np.asarray(kernel, np.float32)
            params[f"b{i}"] = np.asarray(bias, np.float32).reshape(bias_shape)
        up = 2 + 2 * config.depth  # the 3x3 convolution after the upsampling
        kernel = params.pop(f"k{up}")
        for a in (0, 1):
            for b in (0, 1):
                params[f"up{a}{b}"] = phase_kernel(phase_kernel(kernel, a, 0), b, 1)
        self.params = params

    def __call__(self, params, x, *, padded):
        """The x2 output of ``x`` (batch, 1 channel, in this backend's layout).

        Parameters
        ----------
        params : dict
            :attr:`params`, as backend tensors of the compute dtype.
        x : tensor
            Input of the compute dtype.
        padded : bool
            True: reflection padding as the Keras model (the output covers the
            whole input). False: valid convolutions for interior tiles; the
            output covers the input less ``2 depth + 3`` pixels on each side.
        """
        keras = import_keras()
        ops = keras.ops
        act = keras.activations.get(self.activation)
        fmt = self.data_format
        last = fmt == "channels_last"

        def crop(z, top, bottom, left, right):
            rows = slice(top, -bottom if bottom else None)
            cols = slice(left, -right if right else None)
            return z[:, rows, cols, :] if last else z[:, :, rows, cols]

        def pad(z, mode):
            widths = [[0, 0], [1, 1], [1, 1], [0, 0]] if last else [[0, 0], [0, 0], [1, 1], [1, 1]]
            return ops.pad(z, widths, mode=mode)

        def conv(z, i, kernel=None):
            kernel = params[f"k{i}"] if kernel is None else kernel
            return ops.conv(z, kernel, padding="valid", data_format=fmt) + params[f"b{i}"]

        def conv3(z, i):  # a padded 3x3 convolution of the model
            return conv(pad(z, "reflect") if padded else z, i)

        def shortcut(z, k):
            return z if padded else crop(z, k, k, k, k)

        x0 = act(conv3(x, 0))
        h = x0
        for block in range(self.depth):
            h = conv3(act(conv3(h, 1 + 2 * block)), 2 + 2 * block) + shortcut(h, 2)
        features = conv3(h, 1 + 2 * self.depth) + shortcut(x0, 2 * self.depth + 1)
        if padded:  # reflection padding of the x2 map = edge padding of this one
            features = pad(features, "symmetric")
        up = 2 + 2 * self.depth
        phases = []
        for a in (0, 1):
            for b in (0, 1):
                # Phase a sees feature rows (i-1, i) for a = 0, (i, i+1) for a = 1.
                part = crop(features, a, 1 - a, b, 1 - b)
                z = act(conv(part, up, params[f"up{a}{b}"]))
                phases.append(conv(z, up + 1))
        return ops.depth_to_space(ops.concatenate(phases, axis=-1 if last else 1), 2, data_format=fmt)


def _to_layout(block, fmt):
    """A 2-D numpy block as a (1, ny, nx, 1) or (1, 1, ny, nx) array."""
    return block[np.newaxis, :, :, np.newaxis] if fmt == "channels_last" else block[np.newaxis, np.newaxis]


def _from_layout(y, fmt):
    """The 2-D image of a one-image, one-channel numpy output."""
    return y[0, :, :, 0] if fmt == "channels_last" else y[0, 0]


def compile_function(fn, params, *, dtype="float32", fmt="channels_last"):
    """Compile ``fn(params, x)`` for this backend; return a numpy-in, numpy-out callable.

    Parameters
    ----------
    fn : callable
        ``fn(params, x) -> y`` on backend tensors, written with keras.ops.
    params : dict of numpy.ndarray
        Constant weights; converted once to the compute dtype.
    dtype : {'float32', 'bfloat16'}
        Compute dtype (inputs and weights are cast to it; outputs come back as float32).
    fmt : {'channels_last', 'channels_first'}
        Layout ``fn`` expects.

    Returns
    -------
    callable
        ``call(block)``: a 2-D float32 array in, the 2-D float32 output out. Call it
        in the device scope it was compiled in.
    """
    keras = import_keras()
    ops = keras.ops
    name = backend_name()
    tensors = {k: ops.cast(ops.convert_to_tensor(v), dtype) for k, v in params.items()}
    if name == "tensorflow":
        import tensorflow as tf

        shape = [None, None, None, 1] if fmt == "channels_last" else [None, 1, None, None]
        # One trace for every tile shape: no retracing per tile.
        compiled = tf.function(
            lambda x: tf.cast(fn(tensors, tf.cast(x, dtype)), tf.float32),
            input_signature=[tf.TensorSpec(shape, tf.float32)],
            reduce_retracing=True,
        )

        def call(block):
            return _from_layout(compiled(_to_layout(block, fmt)).numpy(), fmt)

    elif name == "jax":
        import jax
        import jax.numpy as jnp

        # XLA compiles once per input shape; the tiler keeps the shapes few.
        jitted = jax.jit(lambda p, x: fn(p, x.astype(dtype)).astype(jnp.float32))

        def call(block):
            return _from_layout(np.asarray(jitted(tensors, _to_layout(block, fmt))), fmt)

    else:
        import torch

        device = ops.convert_to_tensor(np.zeros(1, np.float32)).device

        def call(block):
            with torch.inference_mode():
                x = torch.from_numpy(np.ascontiguousarray(_to_layout(block, fmt))).to(device)
                y = fn(tensors, x.to(getattr(torch, dtype)))
                return _from_layout(y.float().cpu().numpy(), fmt)

    return call


def compile_model(net):
    """Compile a Keras model's inference call for this backend (the general path).

    Used for networks without a fast function (encdec) and for measuring the
    fast path against the plain model.

    Returns
    -------
    callable
        ``call(block)``: a 2-D float32 array in, the 2-D float32 output out.
    """
    keras = import_keras()
    name = backend_name()
    if name == "tensorflow":
        import tensorflow as tf

        compiled = tf.function(
            lambda x: tf.cast(net(x, training=False), tf.float32),
            input_signature=[tf.TensorSpec([None, None, None, 1], tf.float32)],
            reduce_retracing=True,
        )

        def call(block):
            return compiled(block[np.newaxis, :, :, np.newaxis]).numpy()[0, :, :, 0]

    elif name == "jax":
        import jax
        import jax.numpy as jnp

        trainable = [v.value for v in net.trainable_variables]
        frozen = [v.value for v in net.non_trainable_variables]
        jitted = jax.jit(
            lambda t, f, x: net.stateless_call(t, f, x, training=False)[0].astype(jnp.float32)
        )

        def call(block):
            return np.asarray(jitted(trainable, frozen, block[np.newaxis, :, :, np.newaxis]))[0, :, :, 0]

    else:
        import torch

        def call(block):
            with torch.inference_mode():
                y = net(keras.ops.convert_to_tensor(block[np.newaxis, :, :, np.newaxis]), training=False)
                return keras.ops.convert_to_numpy(keras.ops.cast(y, "float32"))[0, :, :, 0]

    return call
