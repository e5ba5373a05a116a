"""Training data: patches served from a database, the validation split, and the losses.

:class:`PatchDataset` reads the batches of an Enhance database
(:mod:`enhance_lib.training.database_file`) on demand; :func:`split_indices` keeps the last patches
of a database for validation; :func:`border_mse` and :func:`masked_mse` are the
losses that leave target pixels out (a border on each side, or a database's own
loss mask, which :class:`PatchDataset` serves ``with_mask``).
"""

import math
import os

import h5py
import numpy as np

from ..errors import EnhanceError
from ..nets.backend import import_keras
from .database_file import INPUT_KEY, MASK_KEY, TARGET_KEY

keras = import_keras()

__all__ = ["PatchDataset", "border_mse", "masked_mse", "split_indices"]


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
            raise EnhanceError(f"`batch_size` must be >= 1 (got {batch_size})")
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
    n_val = max(1, round(n * float(fraction)))
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

