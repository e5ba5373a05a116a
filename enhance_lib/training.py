"""Training Enhance networks: data pipeline, callbacks, loss logs and resume.

A Keras 3 version of the original ``train.py`` (Díaz Baso & Asensio Ramos 2018,
A&A 614, A5, Sect. 3): mean squared error, Adam, the learning rate multiplied
by ``lr_multiplier`` from epoch 20 on, the weights of the best validation loss
kept, and the same output files and JSON loss logs, with root
``f"{output}_{depth}"``:

==========================  ===================================================
``{root}_args.json``        the options of the run (the CLI's parsed flags)
``{root}_model.json``       ``model.to_json()``
``{root}_summary.txt``      ``model.summary()``
``{root}_model.png``        ``keras.utils.plot_model`` (only with pydot and dot)
``{root}.weights.h5``       weights of the best validation loss (Keras 3 format,
                            with the network configuration and the data type
                            attached; the original wrote ``{root}_weights.hdf5``)
``{root}_loss.json``        ``[{"name", "init_t"}, [asctime, loss, val_loss, lr], ...]``
``{root}_loss_batch.json``  ``[{"name", "init_t"}, [asctime, loss, lr], ...]``
==========================  ===================================================

Every file is written atomically (temporary file, then :func:`os.replace`) and
the logs and weights after every epoch, so a killed run leaves readable files
that ``action="continue"`` picks up.

Normalisation: the original divided inputs and targets by the medians of its
training sets, read from a ``normalization.txt`` that was never distributed.
Databases of this package are already normalised when written (intensity to
the quiet-Sun level, magnetograms in kG; recorded in their attributes), which
is also what :mod:`enhance_lib.predict` feeds the network, so the patches are
used as stored.
"""

import dataclasses
import glob
import importlib.util
import json
import logging
import math
import os
import shutil
import tempfile
import time

import h5py
import numpy as np

from .backend import describe, device_scope, import_keras, resolve_device, set_random_seed
from .database import INPUT_KEY, MASK_KEY, TARGET_KEY, check_database
from .atomic import atomic_path
from .errors import EnhanceError
from .models import NetworkConfig, build_model, upsampling_init
from .weights import inspect_weights, load_network, save_weights

keras = import_keras()
log = logging.getLogger(__name__)

__all__ = [
    "LR_EPOCH",
    "EpochOrder",
    "PatchDataset",
    "TrainingFiles",
    "TrainingRecorder",
    "TrainingResult",
    "border_mse",
    "masked_mse",
    "recalibrate_batchnorm",
    "learning_rate",
    "read_loss_log",
    "split_indices",
    "train",
]

#: Epoch (0-based) from which the original multiplied the learning rate by ``lr_multiplier``.
LR_EPOCH = 20
#: Training patches on which BatchNormalization statistics are recomputed before each validation.
BN_PATCHES = 512
#: Root attribute of a saved weights file: the validation loss it reached, its epoch, and
#: the data it was validated on (JSON), so that ``continue`` knows what to beat.
VALIDATION_ATTR = "enhance_validation"


# ----------------------------------------------------------------------------- data


class PatchDataset(keras.utils.PyDataset):
    """Batches of (input, target) patches read from an Enhance database on demand.

    The HDF5 file is opened lazily, once per process, on the first
    ``__getitem__`` (h5py handles are neither fork- nor pickle-safe), and only
    the patches of one batch are read at a time. Channel 0 is used, as in the
    original.

    Parameters
    ----------
    path : str or os.PathLike
        Database with ``imHMI`` (N, nx, ny, C) and ``imSST`` (N, 2nx, 2ny, C).
    indices : array_like of int, optional
        Patches to use (default: all).
    batch_size : int
        Patches per batch; the last batch may be smaller.
    shuffle : bool
        Draw a new order of the patches every epoch.
    seed : int, optional
        With ``shuffle``, the order of epoch ``e`` is a permutation seeded by
        ``(seed, e)``: reproducible, and the same after a resume.
    epoch : int
        Epoch number of the first epoch served (``initial_epoch`` of a resume).
    with_mask : bool
        Append the database's loss mask (``lossMask``; all ones where it has
        none) to the targets as a second channel, for :func:`masked_mse`.
    **kwargs
        ``workers``, ``use_multiprocessing``, ``max_queue_size`` of
        :class:`keras.utils.PyDataset`.

    Returns
    -------
    Each item is ``(x, y)``: float32 arrays (batch, nx, ny, 1) and (batch, 2nx, 2ny, 1),
    or (batch, 2nx, 2ny, 2) ``with_mask``.
    """

    def __init__(self, path, indices=None, *, batch_size=32, shuffle=False, seed=None, epoch=0,
                 with_mask=False, **kwargs):
        super().__init__(**kwargs)
        self.path = str(path)
        self.with_mask = bool(with_mask)
        with h5py.File(self.path, "r") as f:
            n = f[INPUT_KEY].shape[0]
        indices = np.arange(n) if indices is None else np.unique(np.asarray(indices, dtype=np.int64))
        if indices.size == 0 or indices[0] < 0 or indices[-1] >= n:
            msg = f"patch indices must be a non-empty subset of 0..{n - 1}"
            raise EnhanceError(msg, path=self.path)
        if int(batch_size) < 1:
            raise EnhanceError(f"batch size must be >= 1 (got {batch_size})")
        self.indices = indices
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.seed = seed
        self.epoch = int(epoch)
        self._order = self._epoch_order(self.epoch)
        self._begun = False
        self._h5 = None
        self._pid = None

    def _epoch_order(self, epoch):
        if not self.shuffle:
            return self.indices
        rng = np.random.default_rng(None if self.seed is None else [int(self.seed), int(epoch)])
        return rng.permutation(self.indices)

    def __len__(self):
        return math.ceil(self.indices.size / self.batch_size)

    def batch_sizes(self):
        """Number of patches in each batch, in order (all equal but possibly the last)."""
        n, b = self.indices.size, self.batch_size
        return [min(b, n - i * b) for i in range(len(self))]

    def batch_indices(self, idx):
        """Sorted database indices of batch ``idx`` of the current epoch."""
        if not 0 <= idx < len(self):
            raise IndexError(f"batch {idx} out of range (0..{len(self) - 1})")
        # h5py fancy indexing needs increasing indices; the order within a batch is irrelevant.
        return np.sort(self._order[idx * self.batch_size : (idx + 1) * self.batch_size])

    def _file(self):
        if self._h5 is None or self._pid != os.getpid():
            self._h5 = h5py.File(self.path, "r")
            self._pid = os.getpid()
        return self._h5

    def batch_inputs(self, idx):
        """Only the inputs of batch ``idx`` (batch, nx, ny, 1), float32."""
        return np.asarray(self._file()[INPUT_KEY][self.batch_indices(idx), :, :, 0:1], dtype=np.float32)

    def __getitem__(self, idx):
        rows = self.batch_indices(idx)
        f = self._file()
        x = self.batch_inputs(idx)
        y = np.asarray(f[TARGET_KEY][rows, :, :, 0:1], dtype=np.float32)
        if self.with_mask:
            m = f[MASK_KEY][rows] if MASK_KEY in f else np.ones(y.shape, np.uint8)
            y = np.concatenate([y, np.asarray(m, dtype=np.float32)], axis=-1)
        return x, y

    def set_epoch(self, epoch):
        """Draw the order of epoch ``epoch`` (0-based), which starts now.

        Training calls it at the start of every epoch (:class:`EpochOrder`).
        Keras's own ``on_epoch_begin``/``on_epoch_end`` hooks cannot count
        epochs: before training, the TensorFlow trainer reads batches outside
        any epoch and the PyTorch trainer opens and closes one 'epoch' of a
        single batch, so counting them would be off by one on some backends.
        """
        self.epoch = int(epoch)
        self._order = self._epoch_order(self.epoch)
        self._begun = True

    def close(self):
        """Close the HDF5 file if this process opened it."""
        if self._h5 is not None and self._pid == os.getpid():
            self._h5.close()
        self._h5 = None

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_h5"] = None
        state["_pid"] = None
        return state


def split_indices(n, fraction):
    """Split ``n`` patches deterministically into training and validation indices.

    The validation set is the last ``round(fraction * n)`` patches (at least
    one), as Keras's ``fit(validation_split=...)`` does: independent of any
    seed, so a resumed run validates on the same patches, and, when a database
    is ordered in time or space, the validation patches are the ones least
    correlated with the training patches.

    Returns
    -------
    train, validation : numpy.ndarray of int
    """
    if not 0.0 < float(fraction) < 1.0:
        raise EnhanceError(f"validation split must be between 0 and 1 (got {fraction})")
    n_val = max(1, int(round(n * float(fraction))))
    if n - n_val < 1:
        msg = f"validation split {fraction} of {n} patches leaves none for training"
        raise EnhanceError(msg)
    return np.arange(n - n_val), np.arange(n - n_val, n)


def border_mse(border):
    """Mean squared error over the target patch without ``border`` pixels on each side.

    Near a patch edge the network sees reflected pixels where the target was
    made from the real surroundings (e.g. a teacher network's output computed
    on the whole image); such pixels teach the network to guess what it cannot
    see. With ``border`` at least twice the receptive margin (target pixels),
    the loss compares only outputs that saw all the context their target had.

    Parameters
    ----------
    border : int
        Target pixels ignored on each side (0: plain MSE, the original's loss).

    Returns
    -------
    str or callable
        ``"mse"`` for 0, else a loss function ``f(y_true, y_pred)``.
    """
    border = int(border)
    if border < 0:
        raise EnhanceError(f"loss border must be >= 0 (got {border})")
    if border == 0:
        return "mse"
    ops = keras.ops

    def loss(y_true, y_pred):
        crop = (slice(None), slice(border, -border), slice(border, -border), slice(None))
        return ops.mean(ops.square(y_true[crop] - y_pred[crop]), axis=(1, 2, 3))

    loss.__name__ = f"mse_border{border}"
    return loss


def masked_mse(y_true, y_pred):
    """Mean squared error over the target pixels a database's loss mask keeps.

    ``y_true`` carries the target in channel 0 and the mask (1: counts) in
    channel 1, as :class:`PatchDataset` serves them ``with_mask``. Each patch's
    loss is the mean over its kept pixels, so it is on the scale of plain MSE.
    """
    ops = keras.ops
    y_true, y_pred = ops.convert_to_tensor(y_true), ops.convert_to_tensor(y_pred)
    target, weight = y_true[..., 0:1], y_true[..., 1:2]
    total = ops.sum(weight * ops.square(target - y_pred), axis=(1, 2, 3))
    return total / ops.maximum(ops.sum(weight, axis=(1, 2, 3)), 1.0)


def recalibrate_batchnorm(model, batches):
    """Set every BatchNormalization layer's moving statistics to their values on ``batches``.

    Keras keeps an exponential moving average of the batch statistics, which
    lags behind the weights while they change: at the end of an epoch the
    network evaluates with statistics of older weights (at a learning rate of
    1e-4 this shifted the intensity network's mean output by 2.5 %). Here the
    inputs of all BatchNormalization layers are computed in training mode (each
    normalised with its batch's statistics, as during training) and their
    pooled per-channel mean and variance over the batches become the moving
    statistics ("precise BN").

    Parameters
    ----------
    model : keras.Model
        A functional model; it is updated in place (its BN statistics).
    batches : iterable of numpy.ndarray
        Input batches (batch, ny, nx, C).

    Returns
    -------
    int
        Number of BatchNormalization layers updated.
    """
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    if not norms:
        return 0
    probe = keras.Model(model.inputs[0], [layer.input for layer in norms])
    # Per layer: [sum, sum of squares] per channel, and the number of values (layers
    # at other resolutions, as in encdec, see other numbers of pixels).
    total = [0.0] * len(norms)
    count = [0] * len(norms)
    for x in batches:
        outputs = probe(x, training=True)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        for k, out in enumerate(outputs):
            out = keras.ops.convert_to_numpy(out).astype(np.float64)
            flat = out.reshape(-1, out.shape[-1])
            total[k] = total[k] + np.stack([flat.sum(axis=0), np.square(flat).sum(axis=0)])
            count[k] += flat.shape[0]
    if not all(count):
        return 0
    for layer, (s1, s2), n in zip(norms, total, count):
        mean = s1 / n
        layer.moving_mean.assign(mean.astype(np.float32))
        layer.moving_variance.assign(np.maximum(s2 / n - mean**2, 0.0).astype(np.float32))
    return len(norms)


class _PreciseBatchNorm(keras.callbacks.Callback):
    """Recalibrate BatchNormalization statistics before every validation (and so
    before the weights of an epoch are judged and saved)."""

    def __init__(self, dataset, n_batches):
        super().__init__()
        self.dataset = dataset
        self.n_batches = int(n_batches)

    def on_test_begin(self, logs=None):
        n = min(self.n_batches, len(self.dataset))
        if recalibrate_batchnorm(self.model, (self.dataset.batch_inputs(i) for i in range(n))):
            log.debug("batch-norm statistics recomputed on %d training batches", n)


def learning_rate(epoch, *, lr, lr_multiplier=1.0, lr_epoch=LR_EPOCH):
    """Learning rate of epoch ``epoch`` (0-based): ``lr``, times ``lr_multiplier`` from ``lr_epoch`` on."""
    return float(lr) * float(lr_multiplier) if epoch >= lr_epoch else float(lr)


# ----------------------------------------------------------------------------- files


@dataclasses.dataclass(frozen=True)
class TrainingFiles:
    """Paths of the files of a training run with root ``f"{output}_{depth}"``."""

    root: str

    @property
    def args(self):
        return f"{self.root}_args.json"

    @property
    def model_json(self):
        return f"{self.root}_model.json"

    @property
    def summary(self):
        return f"{self.root}_summary.txt"

    @property
    def plot(self):
        return f"{self.root}_model.png"

    @property
    def weights(self):
        return f"{self.root}.weights.h5"

    @property
    def loss(self):
        return f"{self.root}_loss.json"

    @property
    def loss_batch(self):
        return f"{self.root}_loss_batch.json"

    @classmethod
    def for_run(cls, output, depth):
        return cls(f"{output}_{int(depth)}")


def _atomic_write(path, text):
    with atomic_path(path, suffix=".part") as tmp:
        with open(tmp, "w") as f:
            f.write(text)


def _finite_or_none(value):
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _write_json(path, obj):
    # NaN/inf are written as null: the logs stay strict JSON.
    _atomic_write(path, json.dumps(obj, indent=1, allow_nan=False) + "\n")


def read_loss_log(path, *, row_length):
    """Read a loss log written by :func:`train` (or the original program).

    Parameters
    ----------
    path : str
    row_length : int
        4 for ``_loss.json`` (time, loss, val_loss, lr), 3 for ``_loss_batch.json``.

    Returns
    -------
    header : dict
    rows : list of list

    Raises
    ------
    EnhanceError
        Missing file or not the expected layout.
    """
    try:
        with open(path) as f:
            data = json.load(f)
    except FileNotFoundError:
        raise EnhanceError("loss log not found", path=path) from None
    except (OSError, ValueError) as exc:
        raise EnhanceError(f"unreadable loss log ({exc})", path=path) from None
    ok = isinstance(data, list) and data and isinstance(data[0], dict)
    ok = ok and all(isinstance(r, list) and len(r) == row_length for r in data[1:])
    if not ok:
        msg = f"not a loss log: expected a JSON list of a header dict and rows of {row_length} values"
        raise EnhanceError(msg, path=path)
    return data[0], data[1:]


# ----------------------------------------------------------------------------- callbacks


class EpochOrder(keras.callbacks.Callback):
    """Tell a shuffled :class:`PatchDataset` which epoch starts, before it serves a batch.

    Parameters
    ----------
    data : PatchDataset
    """

    def __init__(self, data):
        super().__init__()
        self.data = data

    def on_epoch_begin(self, epoch, logs=None):
        self.data.set_epoch(epoch)


class TrainingRecorder(keras.callbacks.Callback):
    """Keep the best weights and write the loss logs after every epoch.

    The weights of the epoch with the lowest validation loss so far are saved
    atomically with :func:`enhance_lib.weights.save_weights` (configuration
    attached) and kept in memory; the logs are rewritten atomically. Must come
    after any callback that changes the learning rate.

    Per-batch losses: Keras's per-batch ``logs["loss"]`` is the running mean
    over the epoch so far, weighted by batch size. The loss of batch ``k``
    itself is recovered as ``(N_k m_k - N_{k-1} m_{k-1}) / n_k`` (``N_k``
    patches seen, ``m_k`` the running mean, ``n_k`` the batch size); for
    equal batches ``k m_k - (k-1) m_{k-1}``. The means are float32, so the
    recovered value carries a relative rounding error of about ``k * 6e-8``.
    The original logged the running mean.

    The weights are saved before the logs are rewritten: a run killed between
    the two leaves weights one epoch newer than the log, and a resume then
    takes its threshold from the log (the best logged validation loss).

    Parameters
    ----------
    files : TrainingFiles
    config : NetworkConfig
    loss_log, batch_log : list
        The logs so far (header first); rows are appended.
    batch_sizes : list of int
        Patches in each training batch.
    best : float
        Validation loss to beat (that of the weights file on a resume).
    data : dict, optional
        What the validation loss is measured on; saved with the weights
        (:data:`VALIDATION_ATTR`) together with the loss and the epoch.
    kind : {'intensity', 'blos'}, optional
        The data type trained for, recorded in the weights (:func:`save_weights`).
    """

    def __init__(self, *, files, config, loss_log, batch_log, batch_sizes, best=math.inf, data=None, kind=None):
        super().__init__()
        self.kind = kind
        self.data = dict(data or {})
        self.files = files
        self.config = config
        self.loss_log = loss_log
        self.batch_log = batch_log
        self.batch_sizes = list(batch_sizes)
        self.best = float(best)
        self.best_weights = None
        self.best_epoch = None
        self._rows = []
        self._seen = 0
        self._mean = 0.0

    def _lr(self):
        return float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))

    def on_epoch_begin(self, epoch, logs=None):
        self._rows = []
        self._seen = 0
        self._mean = 0.0

    def on_train_batch_end(self, batch, logs=None):
        mean = float((logs or {}).get("loss", math.nan))
        n = self.batch_sizes[batch] if batch < len(self.batch_sizes) else self.batch_sizes[-1]
        seen = self._seen + n
        loss = (seen * mean - self._seen * self._mean) / n
        self._seen, self._mean = seen, mean
        self._rows.append([time.asctime(), _finite_or_none(loss), self._lr()])

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        loss = _finite_or_none(logs.get("loss"))
        val = _finite_or_none(logs.get("val_loss"))
        lr = self._lr()
        if val is not None and val < self.best:
            record = {"val_loss": val, "epoch": epoch + 1, **self.data}
            save_weights(self.model, self.files.weights, config=self.config, kind=self.kind,
                         attrs={VALIDATION_ATTR: record})
            log.debug("epoch %d: val_loss improved from %.6g to %.6g, saved %s", epoch + 1, self.best, val,
                     self.files.weights)
            self.best, self.best_epoch = val, epoch
            self.best_weights = self.model.get_weights()
        self.batch_log.extend(self._rows)
        self.loss_log.append([time.asctime(), loss, val, lr])
        self._rows = []
        _write_json(self.files.loss_batch, self.batch_log)
        _write_json(self.files.loss, self.loss_log)


# ----------------------------------------------------------------------------- train


@dataclasses.dataclass
class TrainingResult:
    """What :func:`train` did.

    Attributes
    ----------
    model : keras.Model
        The trained network, holding the weights of the best validation loss
        (the ones in ``files.weights``).
    config : NetworkConfig
    files : TrainingFiles
    initial_epoch : int
        Epochs done before this call (0 for ``start``).
    epochs : int
        Epochs done in total after this call.
    best_val_loss : float
    loss_log : list
        The whole epoch log (header first).
    """

    model: object
    config: NetworkConfig
    files: TrainingFiles
    initial_epoch: int
    epochs: int
    best_val_loss: float
    loss_log: list


def _check_output_folder(root):
    """Fail early, before writing anything, if the run's folder cannot be written."""
    folder = os.path.dirname(os.path.abspath(root))
    probe = folder
    while not os.path.exists(probe):
        probe = os.path.dirname(probe)
    if not os.path.isdir(probe):
        raise EnhanceError(f"cannot create the output folder: {probe} is not a folder", path=root)
    try:  # os.access is not enough (root, read-only file systems)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-write-test-", dir=probe)
        os.close(fd)
        os.remove(tmp)
    except OSError as exc:
        raise EnhanceError(f"output folder {probe} is not writable ({exc.strerror})", path=root) from None
    return folder


def _previous_run(files, output, config, data, kind=None):
    """Logs and best validation loss of the run to continue.

    ``data``: what this call validates on and how (``database``, ``validation``,
    ``validation_split``, ``loss_border``). The saved weights record the
    validation loss they reached and on what (:data:`VALIDATION_ATTR`); on other
    data that loss is not comparable, so the best starts afresh and the first
    epoch of this call saves its weights.
    """
    if not os.path.exists(files.weights):
        others = sorted(p for p in glob.glob(f"{glob.escape(output)}_*.weights.h5") if p != files.weights)
        hint = f" (found {', '.join(others)}: check --depth)" if others else " (run with action start first)"
        raise EnhanceError(f"no previous run to continue: {files.weights} not found{hint}")
    info = inspect_weights(files.weights)
    saved = info.config
    keys = ("model", "depth", "filters", "activation")
    if any(getattr(saved, k) != getattr(config, k) for k in keys):
        have = ", ".join(f"{k} {getattr(saved, k)}" for k in keys)
        want = ", ".join(f"{k} {getattr(config, k)}" for k in keys)
        msg = f"cannot continue: the previous run has {have}; asked for {want} (--model/--depth/--kernels/--activation)"
        raise EnhanceError(msg, path=files.weights)
    if kind is not None and info.kind is not None and info.kind != kind:
        msg = f"cannot continue: the previous run was trained on {info.kind} data, this database holds {kind}"
        raise EnhanceError(msg, path=files.weights)
    header, rows = read_loss_log(files.loss, row_length=4)
    if not rows:
        raise EnhanceError("cannot continue: the loss log has no finished epoch", path=files.loss)
    try:
        batch_header, batch_rows = read_loss_log(files.loss_batch, row_length=3)
    except EnhanceError as exc:
        log.warning("%s; starting a new batch log", exc)
        batch_header, batch_rows = dict(header), []
    saved = info.attrs.get(VALIDATION_ATTR)
    if not (isinstance(saved, dict) and "val_loss" in saved):  # weights saved before the validation was recorded: trust the log
        vals = [r[2] for r in rows if isinstance(r[2], (int, float)) and math.isfinite(r[2])]
        best = min(vals) if vals else math.inf
    elif all(saved.get(k) == v for k, v in data.items()):
        best = float(saved["val_loss"])
    else:
        changed = ", ".join(k for k, v in data.items() if saved.get(k) != v)
        log.info("%s changed since the saved weights were validated: validation losses are not "
                 "comparable, the best starts afresh", changed)
        best = math.inf
    return [header, *rows], [batch_header, *batch_rows], best


def _database_kind(path, info, kind):
    """The data type to train for: ``kind``, checked against the database's ``type`` attribute."""
    recorded = info.attrs.get("type")
    if recorded is not None and recorded not in ("intensity", "blos"):
        log.warning("%s: unknown data type %r in its attributes; ignored", path, recorded)
        recorded = None
    if kind is not None and kind not in ("intensity", "blos"):
        raise EnhanceError(f"unknown type {kind!r}; choose intensity or blos")
    if kind is not None and recorded is not None and kind != recorded:
        msg = f"the database holds {recorded} data (its 'type' attribute), not {kind} (-t {recorded}, or another database)"
        raise EnhanceError(msg, path=path)
    return kind or recorded


def _write_description(model, files):
    _write_json(files.model_json, json.loads(model.to_json()))
    lines = []
    model.summary(print_fn=lambda text, *a, **k: lines.append(text))
    _atomic_write(files.summary, "\n".join(lines).rstrip("\n") + "\n")
    if importlib.util.find_spec("pydot") is None or shutil.which("dot") is None:
        log.info("not writing %s: keras.utils.plot_model needs pydot and Graphviz's dot", files.plot)
        return
    try:
        with atomic_path(files.plot, suffix=".png") as tmp:
            keras.utils.plot_model(model, to_file=tmp, show_shapes=True)
    except (ImportError, OSError, RuntimeError, ValueError) as exc:
        log.warning("could not write %s (%s)", files.plot, exc)


def train(
    database,
    output,
    *,
    config=None,
    validation=None,
    validation_split=None,
    action="start",
    epochs=10,
    lr=1e-4,
    lr_multiplier=1.0,
    lr_epoch=LR_EPOCH,
    batch_size=32,
    seed=None,
    loss_border=0,
    init="auto",
    device="auto",
    verbose=0,
    flags=None,
    callbacks=(),
    kind=None,
):
    """Train (``start``) or go on training (``continue``) an Enhance network.

    Parameters
    ----------
    database : str or os.PathLike
        Training database (:mod:`enhance_lib.database`), already normalised.
    output : str
        Root of the output files; they are named ``f"{output}_{depth}..."``
        (see the module docstring).
    config : NetworkConfig, optional
        Architecture and regularisation (default ``NetworkConfig()``). On
        ``continue`` model, depth, filters and activation must match the saved
        network; noise and l2 are training options and may change.
    validation : str or os.PathLike, optional
        Validation database.
    validation_split : float, optional
        Instead of ``validation``: the fraction of ``database`` kept for
        validation (:func:`split_indices`).
    action : {'start', 'continue'}
        ``start`` builds a new network (replacing the files of an earlier run
        with the same root); ``continue`` reloads ``{root}.weights.h5`` and the
        loss logs, and goes on from the next epoch.
    epochs : int
        Epochs to run in this call. On ``continue`` they are added to those
        already logged (the epoch numbering, the learning-rate schedule and
        the logs go on; no epoch is counted twice).
    lr : float
        Adam learning rate.
    lr_multiplier : float
        Factor applied to ``lr`` from epoch ``lr_epoch`` (0-based) on.
    lr_epoch : int
        See ``lr_multiplier``; 20 in the original.
    batch_size : int
    seed : int, optional
        Seeds Python, NumPy and the backend (:func:`keras.utils.set_random_seed`)
        and the per-epoch shuffling, for reproducible runs.
    loss_border : int
        Target pixels on each side of a patch left out of the loss
        (:func:`border_mse`); 0, the original's plain MSE, by default. A
        database with a loss mask (``pairs --loss-border``) brings its own:
        then the loss is :func:`masked_mse` and this must be 0.
    init : {'auto', 'upsampling', 'he_normal'}
        How ``start`` initialises the network: ``he_normal`` draws all weights
        as the original did; ``upsampling`` (:func:`~enhance_lib.models.upsampling_init`)
        starts from nearest x2 upsampling, which converges much faster; ``auto``
        uses ``upsampling`` where it applies (keepsize with ReLU), else ``he_normal``.
    device : {'auto', 'cpu', 'gpu'}
        Where to train; ``auto`` takes a GPU when the Keras backend sees one.
    verbose : {0, 1, 2}
        Keras's progress output (0: none).
    flags : dict, optional
        What to record in ``_args.json`` (the CLI's parsed flags); default the
        arguments of this call.
    callbacks : sequence of keras.callbacks.Callback
        Extra callbacks, run after the built-in ones.
    kind : {'intensity', 'blos'}, optional
        The data type of the databases, recorded in the weights (root attribute
        ``enhance_kind``) so that ``enhance`` can refuse them for the other type.
        Default: the databases' own record (their ``type`` attribute, which
        ``enhance-database`` writes); an explicit ``kind`` that contradicts it is
        an error. When neither says, the weights record no data type.

    Returns
    -------
    TrainingResult

    Raises
    ------
    EnhanceError
        Bad options, unusable databases, an unwritable output folder, or on
        ``continue`` a missing or mismatched previous run; raised before any
        file is written.

    Notes
    -----
    Adam's moment estimates are not saved, so a resumed run restarts them,
    as the original's did.
    """
    config = NetworkConfig() if config is None else config
    if action not in ("start", "continue"):
        raise EnhanceError(f"action must be start or continue (got {action!r})")
    if int(epochs) < 1:
        raise EnhanceError(f"epochs must be >= 1 (got {epochs})")
    if int(batch_size) < 1:
        raise EnhanceError(f"batch size must be >= 1 (got {batch_size})")
    if not float(lr) > 0:
        raise EnhanceError(f"learning rate must be > 0 (got {lr})")
    if float(config.noise) < 0 or float(config.l2) < 0:
        raise EnhanceError(f"noise and l2 must be >= 0 (got {config.noise}, {config.l2})")
    loss = border_mse(loss_border)
    if init not in ("auto", "upsampling", "he_normal"):
        raise EnhanceError(f"init must be auto, upsampling or he_normal (got {init!r})")
    can_upsample = config.model == "keepsize" and config.activation == "relu" and config.filters >= 2
    if init == "upsampling" and not can_upsample:
        raise EnhanceError("--init upsampling needs a keepsize network with ReLU and >= 2 kernels")
    if init == "auto":
        init = "upsampling" if can_upsample else "he_normal"
    if (validation is None) == (validation_split is None):
        raise EnhanceError("give either a validation database or a validation split (not both)")

    info = check_database(database)
    kind = _database_kind(database, info, kind)
    if info.has_mask:
        if int(loss_border):
            msg = "the database has its own loss mask (built with --loss-border); leave --loss-border at 0"
            raise EnhanceError(msg, path=database)
        loss = masked_mse
    if 2 * int(loss_border) >= min(info.target_shape[:2]):
        raise EnhanceError(
            f"loss border {loss_border} leaves nothing of {info.target_shape[0]}x{info.target_shape[1]} targets",
            path=database,
        )
    if validation is not None:
        val_kind = _database_kind(validation, check_database(validation), None)
        if kind is not None and val_kind is not None and val_kind != kind:
            msg = f"the validation database holds {val_kind} data, the training database {kind}"
            raise EnhanceError(msg, path=validation)
        kind = kind or val_kind
        train_idx, val_idx, val_path = None, None, validation
    else:
        train_idx, val_idx = split_indices(info.n, validation_split)
        val_path = database
    log.info("training database %s: %d patches %s -> %s", database, info.n, info.input_shape, info.target_shape)
    if info.attrs:
        log.debug("database attributes: %s", info.attrs)
    if kind is None:
        log.info("the database does not say which data type it holds: the weights will not record one "
                 "(give the type, -t intensity or -t blos, to record it)")

    files = TrainingFiles.for_run(output, config.depth)
    folder = _check_output_folder(files.root)
    device = resolve_device(device)
    log.info("training on %s", describe(device))
    data = {
        "database": str(database),
        "validation": None if validation is None else str(validation),
        "validation_split": validation_split,
        "loss_border": int(loss_border),
    }
    if action == "continue":
        loss_log, batch_log, best = _previous_run(files, output, config, data, kind)
        initial_epoch = len(loss_log) - 1
    else:
        header = {"name": files.root, "init_t": time.asctime()}
        loss_log, batch_log, best = [header], [dict(header)], math.inf
        initial_epoch = 0

    # Everything checked: from here on files are written.
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise EnhanceError(f"cannot create the output folder ({exc.strerror})", path=folder) from None
    with device_scope(device):
        if seed is not None:
            set_random_seed(int(seed))
        model = build_model(config)
        if action == "start" and init == "upsampling":
            upsampling_init(model, config)
        if action == "continue":
            previous, _ = load_network(files.weights, model=config.model, depth=config.depth, filters=config.filters)
            model.set_weights(previous.get_weights())
            log.info("continuing %s after %d epochs (best val_loss %.6g)", files.root, initial_epoch, best)
        else:
            if os.path.exists(files.weights):
                log.warning("starting afresh: replacing the earlier run %s", files.root)
                os.remove(files.weights)
            _write_json(files.loss, loss_log)
            _write_json(files.loss_batch, batch_log)

        if flags is None:
            flags = {
                "database": str(database),
                "validation": None if validation is None else str(validation),
                "validation_split": validation_split,
                "output": str(output),
                "action": action,
                "epochs": int(epochs),
                "lr": float(lr),
                "lr_multiplier": float(lr_multiplier),
                "lr_epoch": int(lr_epoch),
                "batch_size": int(batch_size),
                "seed": seed,
                "loss_border": int(loss_border),
                "init": init,
                "type": kind,
                **config.to_dict(),
            }
        _write_json(files.args, {**flags, "type": kind})
        _write_description(model, files)

        def schedule(epoch, current=None):
            return learning_rate(epoch, lr=lr, lr_multiplier=lr_multiplier, lr_epoch=lr_epoch)

        train_data = PatchDataset(database, train_idx, batch_size=batch_size, shuffle=True, seed=seed,
                                  epoch=initial_epoch, with_mask=info.has_mask)
        val_data = PatchDataset(val_path, val_idx, batch_size=batch_size, with_mask=info.has_mask)
        recorder = TrainingRecorder(files=files, config=config, loss_log=loss_log, batch_log=batch_log,
                                    batch_sizes=train_data.batch_sizes(), best=best, data=data, kind=kind)
        # Batches of the epoch's shuffled order: about BN_PATCHES patches, a fair sample.
        precise_bn = _PreciseBatchNorm(train_data, math.ceil(BN_PATCHES / train_data.batch_size))
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=schedule(initial_epoch)), loss=loss)
        try:
            model.fit(
                train_data,
                validation_data=val_data,
                epochs=initial_epoch + int(epochs),
                initial_epoch=initial_epoch,
                shuffle=False,  # the dataset shuffles patches itself; Keras would reorder whole batches
                verbose=verbose,
                callbacks=[
                    EpochOrder(train_data),
                    keras.callbacks.LearningRateScheduler(schedule),
                    keras.callbacks.TerminateOnNaN(),
                    precise_bn,
                    recorder,
                    *callbacks,
                ],
            )
        finally:
            train_data.close()
            val_data.close()
        done = len(loss_log) - 1
        if done < initial_epoch + int(epochs):
            log.warning("training stopped after %d of %d epochs", done - initial_epoch, int(epochs))
        if recorder.best_weights is not None:
            model.set_weights(recorder.best_weights)
        elif action == "continue":
            model.set_weights(previous.get_weights())
            log.info("no epoch beat the best val_loss %.6g: %s unchanged", best, files.weights)
    return TrainingResult(model, config, files, initial_epoch, done, recorder.best, loss_log)
