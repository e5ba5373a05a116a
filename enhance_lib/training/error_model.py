"""The learnt error model: a small network that maps an HMI input to the log of the local
variance of the shipped network's error (``UNCMODEL``).

What the shipped network cannot know is what HMI's PSF erased: on the synthetic Sun of
:mod:`enhance_lib.training.scenes` its error against the 28 cm truth is dominated by that,
and neither the spread over rotations and flips nor over noise draws ranks pixels by it.
The error model learns it instead, from scenes whose truth is known:

* **samples** (:func:`error_samples`): for each scene, the input ``x`` (the noisy HMI-like
  data normalised by the shipped :class:`~enhance_lib.run.enhancer.Enhancer`'s normaliser,
  what the network sees at run time), and the model error ``e`` = (the shipped network on
  the *clean* input - the 28 cm target) in network units, with a mask leaving out
  :data:`BORDER` output pixels at the edges (the network's own padding);
* **training** (:func:`train_error_model`): a small ``keepsize`` network
  (:data:`ERROR_CONFIG`: input ``x``, one channel on the input grid; output ``z`` on the x2
  grid) minimising the Gaussian negative log-likelihood ``0.5 (z + e^2 exp(-z))``
  (:func:`gaussian_nll`) over the unmasked pixels, whose minimum is at ``z = log e^2``, so
  that ``exp(z)`` estimates the local error variance (Nix & Weigend 1994; Kendall & Gal
  2017), with the 8 rotations and flips (and B -> -B for magnetograms), Adam, and the
  weights of the best validation loss kept;
* **the run** (:class:`enhance_lib.run.error_network.ErrorPredictor`): the saved weights
  are an ordinary Enhance weights file (root attribute ``enhance_product = "error"``), run
  tiled on the same normalised input as the shipped network; ``exp(0.5 z)`` is the 1-sigma
  error in network units, and ``sigma_model = exp(0.5 z) * level`` in the input's units
  (``level``: the normaliser's level on the output grid, ``normalizer.constant`` at disk
  centre).

The scenes' seeds are split by purpose: :data:`TRAIN_SEEDS` train (their last tenth
validates), :data:`CALIBRATION_SEEDS` are kept for fitting the calibration factors of
the total uncertainty and :data:`EVALUATION_SEEDS` for judging (``benchmarks/error_model.py``).
"""

import dataclasses
import logging
import math
import time

import numpy as np

from ..errors import EnhanceError
from ..nets.config import NetworkConfig, receptive_margin
from ..run.error_network import PRODUCT, Z_RANGE
from ..sun.kinds import check_kind

log = logging.getLogger(__name__)

__all__ = [
    "BORDER",
    "CALIBRATION_SEEDS",
    "ERROR_CONFIG",
    "EVALUATION_SEEDS",
    "TRAIN_SEEDS",
    "ErrorSamples",
    "augment",
    "error_attrs",
    "error_samples",
    "gaussian_nll",
    "sigma_scores",
    "train_error_model",
]

#: Output pixels left out of the loss (and of evaluations) at each image edge: twice the shipped
#: networks' receptive margin (13 input pixels), where they saw their reflection padding.
BORDER = 26
#: Scenes (:func:`enhance_lib.training.scenes.truth_scene` seeds) that train the error model.
TRAIN_SEEDS = tuple(range(1000, 1060))
#: Scenes kept for fitting the calibration factors of the total uncertainty: never trained on.
CALIBRATION_SEEDS = tuple(range(2000, 2010))
#: Held-out scenes that judge the error model (``benchmarks/error_model.py``).
EVALUATION_SEEDS = tuple(range(3000, 3010))
#: The error network by default: a small keepsize network (about 20k parameters).
ERROR_CONFIG = NetworkConfig(model="keepsize", depth=2, filters=16, activation="relu", noise=0.0, l2=0.0)


@dataclasses.dataclass(frozen=True)
class ErrorSamples:
    """What an error model learns from: inputs, model errors and loss masks of whole scenes.

    Attributes
    ----------
    kind : {'intensity', 'blos'}
    seeds : tuple of int
        The scenes, in order.
    inputs : numpy.ndarray, float32, shape (n, ny, nx)
        The noisy inputs in network units (what the error network takes).
    errors : numpy.ndarray, float32, shape (n, 2ny, 2nx)
        The shipped network's output on the clean input minus the target, in network units.
    masks : numpy.ndarray, float32, shape (n, 2ny, 2nx)
        1 where a pixel counts, 0 in the :data:`BORDER`.
    levels : numpy.ndarray, float64, shape (n,)
        The normaliser's constant of each scene (input units per network unit).
    """

    kind: str
    seeds: tuple
    inputs: np.ndarray
    errors: np.ndarray
    masks: np.ndarray
    levels: np.ndarray

    def subset(self, index):
        """The samples of the scenes at ``index`` (a sequence of positions)."""
        index = list(index)
        return ErrorSamples(self.kind, tuple(self.seeds[i] for i in index), self.inputs[index],
                            self.errors[index], self.masks[index], self.levels[index])


def border_mask(shape, border=BORDER):
    """1 inside, 0 within ``border`` pixels of the edges (float32)."""
    mask = np.zeros(shape, np.float32)
    if 2 * border < min(shape):
        mask[border:shape[0] - border, border:shape[1] - border] = 1.0
    return mask


def scene_samples(scene, enhancer):
    """The error model's input, the model error and the normaliser's constant of one scene.

    Parameters
    ----------
    scene : enhance_lib.training.scenes.TruthScene
    enhancer : enhance_lib.run.enhancer.Enhancer
        The shipped network of the scene's kind.

    Returns
    -------
    x : numpy.ndarray, float32, (ny, nx)
        ``scene.data`` normalised as the network sees it.
    e : numpy.ndarray, float32, (2ny, 2nx)
        (shipped network on ``scene.clean`` - ``scene.target``) / the normaliser's constant.
    level : float
        The normaliser's constant (from the noisy data, as at run time).

    Raises
    ------
    EnhanceError
        When the normaliser is not a constant (a scene placed on a disk).
    """
    prepared = enhancer.prepare_data(np.array(scene.data), scene.header)
    normalizer = prepared.normalizers[0]
    if normalizer.geometry is not None:
        msg = "error samples need a constant normaliser (disk-centre scenes); got one that follows the disk"
        raise EnhanceError(msg)
    x = normalizer.normalize(prepared.planes[0]).astype(np.float32)
    clean = enhancer.predict(enhancer.prepare_data(np.array(scene.clean), scene.header))
    e = (clean.astype(np.float64) - scene.target) / normalizer.constant
    return x, e.astype(np.float32), float(normalizer.constant)


def error_samples(kind, *, seeds=TRAIN_SEEDS, size=1280, border=BORDER, enhancer=None):
    """:class:`ErrorSamples` of truth scenes (:func:`enhance_lib.training.scenes.truth_scene`).

    Parameters
    ----------
    kind : {'intensity', 'blos'}
    seeds : sequence of int
        Scene seeds (:data:`TRAIN_SEEDS` by default; never :data:`CALIBRATION_SEEDS` or
        :data:`EVALUATION_SEEDS` for training).
    size : int
        Truth pixels on a side (1280: 160 x 160 input pixels).
    border : int
        Output pixels left out at the edges.
    enhancer : enhance_lib.run.enhancer.Enhancer, optional
        The network whose error is learnt; the shipped one of ``kind`` by default.

    Returns
    -------
    ErrorSamples
    """
    from ..run.enhancer import Enhancer
    from .scenes import truth_scene

    check_kind(kind)
    seeds = tuple(int(s) for s in seeds)
    if not seeds:
        raise EnhanceError("`seeds` must name at least one scene")
    enhancer = enhancer or Enhancer(kind=kind)
    inputs, errors, levels = [], [], []
    t0 = time.perf_counter()
    for seed in seeds:
        x, e, level = scene_samples(truth_scene(kind, seed=seed, size=size), enhancer)
        inputs.append(x)
        errors.append(e)
        levels.append(level)
        log.debug("%s scene %d: RMS model error %.4g (network units)", kind, seed, float(np.sqrt(np.mean(e ** 2))))
    mask = border_mask(errors[0].shape, border)
    log.info("%s: %d scenes of %d x %d input pixels in %.0f s", kind, len(seeds), *inputs[0].shape,
             time.perf_counter() - t0)
    return ErrorSamples(kind, seeds, np.stack(inputs), np.stack(errors), np.stack([mask] * len(seeds)),
                        np.asarray(levels))


def augment(x, e, mask, index, *, sign=1.0):
    """One of the 8 rotations and flips (``index`` 0-7) of an input and its output-grid maps.

    ``sign`` -1 flips a magnetogram's polarity: the input and the error change sign together
    (the network is odd in B), the mask does not. The last two axes are the image's.
    """
    k, flip = int(index) % 4, int(index) >= 4

    def op(a):
        a = np.rot90(a, k, axes=(-2, -1))
        return a[..., ::-1] if flip else a

    return sign * op(x), sign * op(e), op(mask)


def gaussian_nll(z, e, weight=None):
    """The Gaussian negative log-likelihood of errors ``e`` under log-variances ``z`` (NumPy).

    ``0.5 (z + e^2 exp(-z))`` averaged over the pixels whose ``weight`` is 1 (all by default),
    without the constant ``0.5 log(2 pi)``. For one pixel it is smallest at ``z = log e^2``.

    References
    ----------
    Nix, D. A., & Weigend, A. S. 1994, "Estimating the mean and variance of the target
    probability distribution", Proc. IEEE ICNN, 55.

    Kendall, A., & Gal, Y. 2017, "What uncertainties do we need in Bayesian deep learning for
    computer vision?", NeurIPS 30, Eq. 8 (the log-variance form).

    Examples
    --------
    >>> round(float(gaussian_nll(np.log(4.0), 2.0)), 4)  # 0.5 (log 4 + 1)
    1.1931
    """
    z = np.clip(np.asarray(z, np.float64), *Z_RANGE)
    value = 0.5 * (z + np.square(np.asarray(e, np.float64)) * np.exp(-z))
    if weight is None:
        return value.mean()
    weight = np.broadcast_to(np.asarray(weight, np.float64), value.shape)
    return (weight * value).sum() / max(weight.sum(), 1.0)


def _keras_nll():
    """The loss of :func:`gaussian_nll` for Keras: ``y_true`` carries ``e`` and the mask."""
    from ..nets.backend import import_keras

    ops = import_keras().ops

    def gaussian_nll_loss(y_true, y_pred):
        y_true, y_pred = ops.convert_to_tensor(y_true), ops.convert_to_tensor(y_pred)
        e, weight = y_true[..., 0:1], y_true[..., 1:2]
        z = ops.clip(y_pred, *Z_RANGE)
        value = 0.5 * (z + ops.square(e) * ops.exp(-z))
        return ops.sum(weight * value, axis=(1, 2, 3)) / ops.maximum(ops.sum(weight, axis=(1, 2, 3)), 1.0)

    return gaussian_nll_loss


def _patches(samples, *, patch, count, margin, rng, signs):
    """Random patches (input ``patch`` px) with random rotations/flips (and polarity).

    The loss mask drops ``2 * margin`` output pixels at the sides of a patch cut from inside
    an image (there the error network sees its padding, not the image it will see).
    """
    n, ny, nx = samples.inputs.shape
    xs, ys = [], []
    for _ in range(count):
        i = int(rng.integers(n))
        if patch and patch < min(ny, nx):
            y0, x0 = int(rng.integers(ny - patch + 1)), int(rng.integers(nx - patch + 1))
            y1, x1 = y0 + patch, x0 + patch
        else:
            y0, x0, y1, x1 = 0, 0, ny, nx
        x = samples.inputs[i, y0:y1, x0:x1]
        e = samples.errors[i, 2 * y0:2 * y1, 2 * x0:2 * x1]
        mask = samples.masks[i, 2 * y0:2 * y1, 2 * x0:2 * x1].copy()
        cut = 2 * margin
        if y0 > 0:
            mask[:cut] = 0
        if x0 > 0:
            mask[:, :cut] = 0
        if y1 < ny:
            mask[mask.shape[0] - cut:] = 0
        if x1 < nx:
            mask[:, mask.shape[1] - cut:] = 0
        sign = float(rng.choice([-1.0, 1.0])) if signs else 1.0
        x, e, mask = augment(x, e, mask, int(rng.integers(8)), sign=sign)
        xs.append(x)
        ys.append(np.stack([e, mask], axis=-1))
    return np.stack(xs)[..., None].astype(np.float32), np.stack(ys).astype(np.float32)


def _whole(samples):
    """The samples as whole images, unaugmented (validation)."""
    return (samples.inputs[..., None].astype(np.float32),
            np.stack([samples.errors, samples.masks], axis=-1).astype(np.float32))


def _with_batch_norm(plain, config):
    """A trainable-layout (BatchNormalization) copy of a network trained without it.

    The BatchNormalization layers are identities (scale 1, shift 0, mean 0, variance
    1 - epsilon), so the file holds the layout every Enhance weights reader expects and
    folding them gives back the trained convolutions.
    """
    from ..nets.config import BN_EPSILON
    from ..nets.models import build_model

    net = build_model(config, batch_norm=True)
    convs = iter([layer.get_weights() for layer in plain.layers if layer.weights])
    for layer in net.layers:
        if not layer.weights:
            continue
        if "BatchNormalization" in type(layer).__name__:
            channels = layer.weights[0].shape[0]
            one, zero = np.ones(channels, np.float32), np.zeros(channels, np.float32)
            layer.set_weights([one, zero, zero, np.full(channels, 1 - BN_EPSILON, np.float32)])
        else:
            layer.set_weights(next(convs))
    return net


def _initialise(net, samples, *, highpass):
    """Start from a sensible variance: the last layer outputs log(mean e^2) everywhere (its
    kernel small); optionally first-layer kernels that sum to zero (they see the input's
    contrast, not its level: intensities sit near 1 in network units)."""
    weighted = [layer for layer in net.layers if layer.weights]
    if highpass:
        kernel, bias = weighted[0].get_weights()
        kernel = kernel - kernel.mean(axis=(0, 1, 2), keepdims=True)
        weighted[0].set_weights([kernel * 10.0, bias])
    kernel, bias = weighted[-1].get_weights()
    m = samples.masks > 0
    start = math.log(max(float(np.mean(np.square(samples.errors[m]))), 1e-12))
    weighted[-1].set_weights([kernel * 0.01, np.full_like(bias, start)])
    return start


def train_error_model(kind, *, seeds=TRAIN_SEEDS, samples=None, config=ERROR_CONFIG, epochs=60, steps=40,
                      batch_size=8, patch=64, lr=2e-3, validation=0.1, seed=1, highpass=True):
    """Train an error model: input -> log of the local variance of the shipped network's error.

    Parameters
    ----------
    kind : {'intensity', 'blos'}
    seeds : sequence of int
        Training scenes (:data:`TRAIN_SEEDS`), when ``samples`` is not given.
    samples : ErrorSamples, optional
        Samples made already (:func:`error_samples`); their scenes are used instead of ``seeds``.
    config : NetworkConfig
        A ``keepsize`` network (:data:`ERROR_CONFIG`: depth 2, 16 filters).
    epochs : int
        Epochs of ``steps`` batches each; validation after each.
    steps : int
        Batches per epoch.
    batch_size : int
        Patches per batch.
    patch : int
        Input pixels on a side of a patch (0: whole scenes).
    lr : float
        Adam's learning rate (divided by 10 over the last third of the epochs).
    validation : float
        Fraction of the scenes (the last ones) kept for validation; the weights of the
        best validation loss are returned.
    seed : int
        Seeds the patches, the augmentation and the initial weights.
    highpass : bool
        Start the first layer's kernels with zero sum (see :func:`_initialise`).

    Returns
    -------
    net : keras.Model
        In the BatchNormalization layout (identity normalisations), for
        :func:`enhance_lib.nets.weights.save_weights`.
    history : dict
        ``loss`` and ``val_loss`` per epoch, ``best_epoch``, ``best_val_loss``,
        ``start_z``, ``seconds``, ``train_seeds``, ``validation_seeds``.

    Raises
    ------
    EnhanceError
        For a config that is not ``keepsize``, or bad counts.

    References
    ----------
    Nix, D. A., & Weigend, A. S. 1994, "Estimating the mean and variance of the target
    probability distribution", Proc. IEEE ICNN, 55.

    Kendall, A., & Gal, Y. 2017, "What uncertainties do we need in Bayesian deep learning for
    computer vision?", NeurIPS 30.
    """
    from ..nets.backend import import_keras, set_random_seed
    from ..nets.models import build_model

    check_kind(kind)
    if config.model != "keepsize":
        raise EnhanceError(f"the error model is a keepsize network, not {config.model!r} (`config`)")
    for name, value in (("epochs", epochs), ("steps", steps), ("batch_size", batch_size)):
        if int(value) < 1:
            raise EnhanceError(f"`{name}` must be >= 1, got {value}")
    if not 0 <= validation < 1:
        raise EnhanceError(f"`validation` must be in [0, 1), got {validation}")
    if samples is None:
        samples = error_samples(kind, seeds=seeds)
    elif samples.kind != kind:
        raise EnhanceError(f"samples of {samples.kind} given to train a {kind} error model (`samples`)")
    n = len(samples.seeds)
    n_val = round(validation * n) if n > 1 else 0
    train, valid = samples.subset(range(n - n_val)), samples.subset(range(n - n_val, n))
    keras = import_keras()
    set_random_seed(seed)
    rng = np.random.default_rng(seed)
    net = build_model(config, batch_norm=False)
    start = _initialise(net, train, highpass=highpass)
    net.compile(optimizer=keras.optimizers.Adam(learning_rate=lr), loss=_keras_nll())
    margin = receptive_margin(config)
    x_val, y_val = _whole(valid if n_val else train)
    best, best_weights, best_epoch = math.inf, net.get_weights(), -1
    history = {"loss": [], "val_loss": []}
    t0 = time.perf_counter()
    for epoch in range(int(epochs)):
        if epoch == int(epochs) - max(1, int(epochs) // 3):
            net.optimizer.learning_rate.assign(lr / 10)
        x, y = _patches(train, patch=patch, count=int(steps) * int(batch_size), margin=margin, rng=rng,
                        signs=kind == "blos")
        fit = net.fit(x, y, batch_size=int(batch_size), epochs=1, verbose=0, shuffle=False)
        loss = float(fit.history["loss"][-1])
        val = float(net.evaluate(x_val, y_val, batch_size=4, verbose=0))
        history["loss"].append(loss)
        history["val_loss"].append(val)
        if val < best:
            best, best_weights, best_epoch = val, net.get_weights(), epoch
        log.info("%s error model, epoch %d/%d: loss %.4f, validation %.4f%s (%.0f s)", kind, epoch + 1, epochs, loss,
                 val, " *" if best_epoch == epoch else "", time.perf_counter() - t0)
    net.set_weights(best_weights)
    history.update(best_epoch=best_epoch, best_val_loss=best, start_z=start, seconds=round(time.perf_counter() - t0, 1),
                   train_seeds=list(train.seeds), validation_seeds=list(valid.seeds))
    return _with_batch_norm(net, config), history


def error_attrs(kind, history, *, config, epochs, patch, lr, batch_size, steps):
    """The root attributes of a shipped error model's weights file (``enhance_product``,
    ``error_model``: what it learnt and how)."""
    return {
        "enhance_product": PRODUCT,
        "error_model": {
            "kind": kind,
            "seeds": history["train_seeds"] + history["validation_seeds"],
            "train_seeds": history["train_seeds"],
            "validation_seeds": history["validation_seeds"],
            "loss": "gaussian_nll",
            "target": "shipped network on the clean input minus the 28 cm target",
            "input": "the noisy input normalised by the shipped network's normaliser (1 channel, input grid)",
            "output": "z = log of the local error variance in network units (x2 grid); "
                      "sigma = exp(0.5 z) * the normaliser's level",
            "border_output_px": BORDER,
            "epochs": int(epochs),
            "steps": int(steps),
            "batch_size": int(batch_size),
            "patch_input_px": int(patch),
            "lr": float(lr),
            "best_epoch": int(history["best_epoch"]),
            "best_val_loss": float(history["best_val_loss"]),
            "seconds": float(history["seconds"]),
            "config": config.to_dict(),
        },
    }


def sigma_scores(sigma, error, *, bins=10, seed=0):
    """How well an uncertainty map ``sigma`` predicts the size of ``error``.

    Parameters
    ----------
    sigma, error : array_like
        Of the same shape; only their finite pixels count (pool scenes by concatenating).
    bins : int
        Quantile bins of ``sigma`` for the skill.
    seed : int
        Breaks ties of ``sigma`` at random (a constant ``sigma`` has skill 1, not an
        order by position).

    Returns
    -------
    dict
        ``skill``: the RMS error in the top bin of ``sigma`` over that in the bottom bin;
        ``rms_bins``: the RMS error per bin, lowest ``sigma`` first; ``spearman``: the rank
        correlation of ``sigma`` with ``abs(error)`` (0 for a constant); ``scale``: the one
        factor that makes ``error / (scale sigma)`` of unit RMS; ``coverage1`` and
        ``coverage2``: the shares of pixels with ``abs(error) <= scale sigma`` and
        ``<= 2 scale sigma`` (0.683 and 0.954 for Gaussian errors whose ``sigma`` is right).
    """
    from scipy import stats

    sigma = np.asarray(sigma, np.float64).ravel()
    error = np.asarray(error, np.float64).ravel()
    good = np.isfinite(sigma) & np.isfinite(error)
    sigma, error = sigma[good], error[good]
    rng = np.random.default_rng(seed)
    order = np.lexsort((rng.random(sigma.size), sigma))
    rms = [float(np.sqrt(np.mean(np.square(error[part])))) for part in np.array_split(order, bins)]
    constant = np.ptp(sigma) == 0
    spearman = 0.0 if constant else float(stats.spearmanr(sigma, np.abs(error)).statistic)
    safe = np.maximum(sigma, np.finfo(np.float64).tiny)
    scale = float(np.sqrt(np.mean(np.square(error / safe))))
    ratio = np.abs(error) / (scale * safe)
    return {"skill": rms[-1] / rms[0], "rms_bins": rms, "spearman": spearman, "scale": scale,
            "coverage1": float(np.mean(ratio <= 1)), "coverage2": float(np.mean(ratio <= 2))}
