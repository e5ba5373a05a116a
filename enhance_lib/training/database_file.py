"""The file format of training databases: the original Enhance HDF5 layout.

A database holds two float32 datasets, ``imHMI`` with shape ``(N, nx, ny, C)``
(HMI-like inputs) and ``imSST`` with shape ``(N, 2nx, 2ny, C)`` (targets at twice
the sampling), as the original ``train.py`` read them, plus file attributes
recording how it was made (lists and dicts as JSON strings). ``pairs`` databases
built with a loss border also hold ``lossMask``, uint8 ``(N, 2nx, 2ny, 1)``: 1 where
a target pixel counts in the training loss (an addition; the original program
ignores it).

This module reads, checks and writes such files; :mod:`enhance_lib.training.simulate` and
:mod:`enhance_lib.training.pairs` make their contents.
"""

import json
import logging
import os

import h5py
import numpy as np

from ..errors import EnhanceError
from ..io.atomic import atomic_path
from ..io.h5attrs import decode_attr

log = logging.getLogger(__name__)

__all__ = ["INPUT_KEY", "MASK_KEY", "TARGET_KEY", "DatabaseInfo", "check_database", "write_database"]

#: Dataset of the inputs (HMI-like patches).
INPUT_KEY = "imHMI"
#: Dataset of the targets (twice the sampling).
TARGET_KEY = "imSST"
#: Dataset of the loss mask (optional).
MASK_KEY = "lossMask"


class DatabaseInfo:
    """What :func:`check_database` found in a database file.

    Attributes
    ----------
    path : str
    n : int
        Number of patch pairs.
    input_shape, target_shape : tuple
        Shape of one input / target patch ``(nx, ny, C)``.
    attrs : dict
        File attributes (JSON strings decoded).
    has_mask : bool
        Whether the database holds a loss mask (``lossMask``).
    """

    def __init__(self, path, n, input_shape, target_shape, attrs, *, has_mask=False):
        self.has_mask = bool(has_mask)
        self.path = str(path)
        self.n = int(n)
        self.input_shape = tuple(input_shape)
        self.target_shape = tuple(target_shape)
        self.attrs = dict(attrs)

    def __repr__(self):
        return (
            f"DatabaseInfo({self.path!r}, n={self.n}, input_shape={self.input_shape}, "
            f"target_shape={self.target_shape}, has_mask={self.has_mask})"
        )



def write_database(path, inputs, targets, *, mask=None, attrs=None):
    """Write a database atomically (temporary file in the same folder, then rename).

    Parameters
    ----------
    path : str or os.PathLike
        Output HDF5 file.
    inputs : array_like, shape (N, nx, ny) or (N, nx, ny, C)
        HMI-like patches.
    targets : array_like, shape (N, 2nx, 2ny) or (N, 2nx, 2ny, C)
        Target patches at twice the sampling.
    mask : array_like of bool, shape (N, 2nx, 2ny) or (N, 2nx, 2ny, 1), optional
        Target pixels that count in the training loss.
    attrs : dict, optional
        Provenance; non-scalar values are stored as JSON strings.
    """
    inputs = np.asarray(inputs, dtype=np.float32)
    targets = np.asarray(targets, dtype=np.float32)
    if inputs.ndim == 3:
        inputs = inputs[..., np.newaxis]
    if targets.ndim == 3:
        targets = targets[..., np.newaxis]
    _check_shapes(path, inputs.shape, targets.shape)
    if mask is not None:
        mask = np.asarray(mask).astype(np.uint8)
        if mask.ndim == 3:
            mask = mask[..., np.newaxis]
        _check_mask(path, mask.shape, targets.shape)
    if not (np.isfinite(inputs).all() and np.isfinite(targets).all()):
        raise EnhanceError("database patches contain NaN or infinite values", path=path)
    with atomic_path(path, suffix=".h5") as tmp, h5py.File(tmp, "w") as f:
        f.create_dataset(INPUT_KEY, data=inputs, chunks=(1,) + inputs.shape[1:])
        f.create_dataset(TARGET_KEY, data=targets, chunks=(1,) + targets.shape[1:])
        if mask is not None:
            f.create_dataset(MASK_KEY, data=mask, chunks=(1,) + mask.shape[1:])
        for key, value in (attrs or {}).items():
            if isinstance(value, (str, int, float, bool, np.integer, np.floating)):
                f.attrs[key] = value
            else:
                f.attrs[key] = json.dumps(value)
    log.info("wrote %d patch pairs to %s", inputs.shape[0], path)


def _check_shapes(path, input_shape, target_shape):
    if len(input_shape) != 4 or len(target_shape) != 4:
        raise EnhanceError(
            f"{INPUT_KEY} and {TARGET_KEY} must be 4-D (N, nx, ny, C); "
            f"got {tuple(input_shape)} and {tuple(target_shape)}",
            path=path,
        )
    n, nx, ny, _ = input_shape
    if target_shape[0] != n or target_shape[1:3] != (2 * nx, 2 * ny):
        raise EnhanceError(
            f"{TARGET_KEY} must be (N, 2nx, 2ny, C) for {INPUT_KEY} {tuple(input_shape)}; "
            f"got {tuple(target_shape)}",
            path=path,
        )
    if n < 1:
        raise EnhanceError("database holds no patches", path=path)


def _check_mask(path, mask_shape, target_shape):
    if tuple(mask_shape) != tuple(target_shape[:3]) + (1,):
        raise EnhanceError(
            f"{MASK_KEY} must be (N, 2nx, 2ny, 1) for {TARGET_KEY} {tuple(target_shape)}; "
            f"got {tuple(mask_shape)}",
            path=path,
        )


def check_database(path, *, check_finite=True, chunk=256):
    """Open a database, check its layout and values, and describe it.

    Parameters
    ----------
    path : str or os.PathLike
    check_finite : bool
        Scan all patches (in chunks, never the whole file at once) for NaN/inf.
    chunk : int
        Patches read at a time while scanning.

    Returns
    -------
    DatabaseInfo

    Raises
    ------
    EnhanceError
        Missing file, not HDF5, datasets missing, shapes that do not match, NaNs.
    """
    if not os.path.exists(path):
        raise EnhanceError("no such file", path=path)
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise EnhanceError(f"not a readable HDF5 file ({exc})", path=path) from None
    with f:
        missing = [k for k in (INPUT_KEY, TARGET_KEY) if k not in f]
        if missing:
            raise EnhanceError(
                f"not an Enhance database: dataset(s) {', '.join(missing)} missing "
                f"(expected {INPUT_KEY} (N, nx, ny, C) and {TARGET_KEY} (N, 2nx, 2ny, C))",
                path=path,
            )
        x, y = f[INPUT_KEY], f[TARGET_KEY]
        _check_shapes(path, x.shape, y.shape)
        has_mask = MASK_KEY in f
        if has_mask:
            _check_mask(path, f[MASK_KEY].shape, y.shape)
        if check_finite:
            for start in range(0, x.shape[0], chunk):
                for name, ds in ((INPUT_KEY, x), (TARGET_KEY, y)):
                    block = ds[start : start + chunk]
                    if not np.isfinite(block).all():
                        raise EnhanceError(
                            f"{name} contains NaN or infinite values (patches from {start})",
                            path=path,
                        )
        attrs = {k: decode_attr(v) for k, v in f.attrs.items()}
        return DatabaseInfo(path, x.shape[0], x.shape[1:], y.shape[1:], attrs, has_mask=has_mask)

