"""The fast inference network, written once and compiled per backend.

The predictor (:mod:`enhance_lib.run.tiling`) runs keepsize not as the Keras model
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

Both give the Keras model's output to float32 rounding (tested). The network
is written once (:meth:`KeepsizeFunction.__call__`) over a handful of tensor
operations: ``keras.ops`` in channels-last layout on TensorFlow and JAX
(:class:`KerasOps`), and ``torch.nn.functional`` on PyTorch (:class:`TorchOps`),
whose channels-last memory format is faster on a CPU than ``keras.ops`` there, which
transposes around every convolution. It is compiled once per backend
(:func:`compile_function`): a ``tf.function`` with one trace for every tile shape on
TensorFlow, ``jax.jit`` on JAX (one compilation per tile shape; the tiler keeps the shapes
few), and eager calls in inference mode on PyTorch (``torch.compile`` cost more to compile
than it saved on a CPU). The measurements: ``benchmarks/predict.py --backend NAME``, its
results in ``benchmarks/results/predict_*.md`` and the Performance guide
(``docs/guide/performance.md``).
"""

import numpy as np

from .backend import backend_name, import_keras

__all__ = [
    "KeepsizeFunction", "KerasOps", "TorchOps", "compile_function", "compile_model", "phase_kernel", "tensor_ops",
]


def phase_kernel(kernel, a, axis):
    """Collapse a 3-tap axis of a kernel to the 2 taps that output phase ``a`` sees."""
    k0, k1, k2 = (np.take(kernel, i, axis=axis) for i in range(3))
    return np.stack([k0, k1 + k2] if a == 0 else [k0 + k1, k2], axis=axis)


class KerasOps:
    """The operations of the fast network with ``keras.ops``, channels-last (TensorFlow, JAX)."""

    def __init__(self):
        self.ops = import_keras().ops

    def prepare(self, params, dtype):
        """Weights as backend tensors of the compute dtype (kernels (kh, kw, in, out))."""
        return {k: self.ops.cast(self.ops.convert_to_tensor(v), dtype) for k, v in params.items()}

    def result(self, y):
        """The 2-D numpy image of the network's (float32) output."""
        return np.asarray(self.ops.convert_to_numpy(y))[0, :, :, 0]

    def conv(self, z, kernel, bias):
        return self.ops.conv(z, kernel, padding="valid", data_format="channels_last") + bias

    def pad(self, z, mode):
        """One pixel on each side: ``reflect`` or ``edge``."""
        return self.ops.pad(z, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="symmetric" if mode == "edge" else mode)

    def crop(self, z, top, bottom, left, right):
        return z[:, top : -bottom if bottom else None, left : -right if right else None, :]

    def activation(self, name):
        return import_keras().activations.get(name)

    def interleave(self, phases):
        """Four one-channel phase images (a, b) = (0, 0), (0, 1), (1, 0), (1, 1) as one x2 image."""
        return self.ops.depth_to_space(self.ops.concatenate(phases, axis=-1), 2, data_format="channels_last")


class TorchOps:
    """The same operations with ``torch.nn.functional``: NCHW, channels-last memory.

    Parameters
    ----------
    device : torch.device
    """

    def __init__(self, device):
        import torch
        import torch.nn.functional

        self.torch = torch
        self.F = torch.nn.functional
        self.device = device

    def prepare(self, params, dtype):
        """Kernels (out, in, kh, kw) in channels-last memory; biases 1-D; on the device."""
        torch = self.torch
        dtype = getattr(torch, dtype)
        out = {}
        for k, v in params.items():
            t = torch.from_numpy(np.ascontiguousarray(v))
            if t.ndim == 4:
                t = t.permute(3, 2, 0, 1).contiguous(memory_format=torch.channels_last)
            out[k] = t.to(self.device, dtype)
        return out

    def image(self, block, dtype):
        """A 2-D numpy block as the network's input tensor (1, 1, ny, nx) of ``dtype`` on the device
        (TensorFlow and JAX take the numpy block as it is)."""
        t = self.torch.from_numpy(np.ascontiguousarray(block))[None, None]
        return t.to(self.device, getattr(self.torch, dtype)).contiguous(memory_format=self.torch.channels_last)

    def result(self, y):
        return y.float().cpu().numpy()[0, 0]

    def conv(self, z, kernel, bias):
        return self.F.conv2d(z, kernel, bias)

    def pad(self, z, mode):
        return self.F.pad(z, (1, 1, 1, 1), mode="replicate" if mode == "edge" else mode)

    def crop(self, z, top, bottom, left, right):
        return z[:, :, top : -bottom if bottom else None, left : -right if right else None]

    def activation(self, name):
        function = getattr(self.F, name)
        # In place: it is only ever applied to a convolution's fresh output.
        return lambda z: function(z, inplace=True)

    def interleave(self, phases):
        return self.F.pixel_shuffle(self.torch.cat(phases, dim=1), 2)


def tensor_ops(device="cpu"):
    """The operations for this backend (:class:`TorchOps` on PyTorch, else :class:`KerasOps`)."""
    if backend_name() != "torch":
        return KerasOps()
    import torch

    return TorchOps(torch.device("cuda" if device == "gpu" else "cpu"))


class KeepsizeFunction:
    """keepsize (BatchNormalization folded) as a function of its weights.

    Parameters
    ----------
    net : keras.Model
        A keepsize network without BatchNormalization
        (:func:`enhance_lib.nets.weights.fold_batchnorm`).
    config : NetworkConfig
        Its architecture.

    Attributes
    ----------
    params : dict of numpy.ndarray
        Weights as the function takes them: convolution kernels ``k{i}`` (kh, kw,
        in, out) and biases ``b{i}`` in topological order, and for the 3x3
        convolution after the upsampling its four 2x2 phase kernels ``up{a}{b}``.
    """

    def __init__(self, net, config):
        keras = import_keras()
        convs = [layer.get_weights() for layer in net.layers if isinstance(layer, keras.layers.Conv2D)]
        if config.model != "keepsize" or len(convs) != 2 * config.depth + 4:
            raise ValueError("KeepsizeFunction needs a folded keepsize network")
        self.depth = config.depth
        self.activation = config.activation
        params = {}
        for i, (kernel, bias) in enumerate(convs):
            params[f"k{i}"] = np.asarray(kernel, np.float32)
            params[f"b{i}"] = np.asarray(bias, np.float32)
        up = 2 + 2 * config.depth  # the 3x3 convolution after the upsampling
        kernel = params.pop(f"k{up}")
        for a in (0, 1):
            for b in (0, 1):
                params[f"up{a}{b}"] = phase_kernel(phase_kernel(kernel, a, 0), b, 1)
        self.params = params

    def __call__(self, ops, params, x, *, padded):
        """The x2 output of ``x`` (one image, one channel).

        Parameters
        ----------
        ops : KerasOps or TorchOps
        params : dict
            :attr:`params` prepared by ``ops`` (backend tensors of the compute dtype).
        x : tensor
            Input in the layout and dtype of ``ops``.
        padded : bool
            True: reflection padding as the Keras model (the output covers the
            whole input). False: valid convolutions for interior tiles; the
            output covers the input less ``2 depth + 3`` pixels on each side.
        """
        act = ops.activation(self.activation)

        def conv(z, i, kernel=None):
            return ops.conv(z, params[f"k{i}"] if kernel is None else kernel, params[f"b{i}"])

        def conv3(z, i):  # a padded 3x3 convolution of the model
            return conv(ops.pad(z, "reflect") if padded else z, i)

        def shortcut(z, k):
            return z if padded else ops.crop(z, k, k, k, k)

        x0 = act(conv3(x, 0))
        h = x0
        for block in range(self.depth):
            h = conv3(act(conv3(h, 1 + 2 * block)), 2 + 2 * block) + shortcut(h, 2)
        features = conv3(h, 1 + 2 * self.depth) + shortcut(x0, 2 * self.depth + 1)
        if padded:  # reflection padding of the x2 map = edge padding of this one
            features = ops.pad(features, "edge")
        up = 2 + 2 * self.depth
        phases = []
        for a in (0, 1):
            for b in (0, 1):
                # Phase a sees feature rows (i-1, i) for a = 0, (i, i+1) for a = 1.
                part = ops.crop(features, a, 1 - a, b, 1 - b)
                z = act(conv(part, up, params[f"up{a}{b}"]))
                phases.append(conv(z, up + 1))
        return ops.interleave(phases)


def compile_function(fn, params, *, dtype="float32", device="cpu"):
    """Compile ``fn(ops, params, x)`` for this backend; return a numpy-in, numpy-out callable.

    Parameters
    ----------
    fn : callable
        ``fn(ops, params, x) -> y``, written with the operations of ``ops``
        (:func:`tensor_ops`).
    params : dict of numpy.ndarray
        Constant weights; converted once to the compute dtype.
    dtype : {'float32', 'bfloat16'}
        Compute dtype (inputs and weights are cast to it; outputs come back as float32).
    device : {'cpu', 'gpu'}
        Where PyTorch computes (TensorFlow and JAX follow the device scope).

    Returns
    -------
    callable
        ``call(block)``: a 2-D float32 array in, the 2-D float32 output out. Call it
        in the device scope it was compiled in.
    """
    ops = tensor_ops(device)
    tensors = ops.prepare(params, dtype)
    if backend_name() == "torch":  # TorchOps.image casts the input; TorchOps.result the output
        return _compile(lambda p, x: fn(ops, p, x), lambda: tensors, to_input=lambda block: ops.image(block, dtype),
                        to_numpy=ops.result)
    cast = ops.ops.cast
    return _compile(lambda p, x: cast(fn(ops, p, cast(x, dtype)), "float32"), lambda: tensors, to_input=_nhwc,
                    to_numpy=ops.result)


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
    if backend_name() == "jax":
        # stateless: the variables' current arrays at each call (Keras replaces them, e.g. in predict())
        def forward(variables, x):
            return net.stateless_call(*variables, x, training=False)[0].astype("float32")

        def arguments():
            return [v.value for v in net.trainable_variables], [v.value for v in net.non_trainable_variables]
    else:
        def forward(_, x):
            return keras.ops.cast(net(x, training=False), "float32")

        def arguments():
            return None

    to_input = (lambda block: keras.ops.convert_to_tensor(_nhwc(block))) if backend_name() == "torch" else _nhwc
    return _compile(forward, arguments, to_input=to_input,
                    to_numpy=lambda y: np.asarray(keras.ops.convert_to_numpy(y))[0, :, :, 0])


def _nhwc(block):
    """A 2-D block as a batch of one one-channel image, channels last: (1, ny, nx, 1)."""
    return block[np.newaxis, :, :, np.newaxis]


def _compile(forward, arguments, *, to_input, to_numpy):
    """``forward(arguments(), x)`` compiled for this backend, as a numpy-in, numpy-out callable.

    TensorFlow traces it once for every tile shape (no retracing per tile; ``arguments()`` is
    read at the trace), JAX jits it with the arguments as inputs (XLA compiles once per input
    shape, and the tiler keeps the shapes few), PyTorch runs it in inference mode.
    ``to_input(block)`` makes the network's input of a 2-D float32 block, ``to_numpy(y)`` the
    2-D float32 image of its output.
    """
    name = backend_name()
    if name == "tensorflow":
        import tensorflow as tf

        run = tf.function(lambda x: forward(arguments(), x),
                          input_signature=[tf.TensorSpec([None, None, None, 1], tf.float32)], reduce_retracing=True)
    elif name == "jax":
        import jax

        jitted = jax.jit(forward)

        def run(x):
            return jitted(arguments(), x)
    else:
        import torch

        def run(x):
            with torch.inference_mode():
                return forward(arguments(), x)

    def call(block):
        return to_numpy(run(to_input(block)))

    return call
