"""The files of a training run: their names, the loss logs, and what a resume reads back.

With root ``f"{output}_{depth}"`` (:class:`TrainingFiles`) a run writes
``{root}_args.json``, ``{root}_model.json``, ``{root}_summary.txt``,
``{root}_model.png``, ``{root}.weights.h5``, ``{root}_loss.json`` and
``{root}_loss_batch.json`` (see :mod:`enhance_lib.training.loop`), each atomically.
"""

import dataclasses
import glob
import importlib.util
import json
import logging
import math
import os
import shutil

from ..errors import EnhanceError, warn_user
from ..io.atomic import atomic_path
from ..nets.backend import import_keras
from ..nets.weights import inspect_weights

log = logging.getLogger(__name__)

__all__ = [
    "VALIDATION_ATTR", "TrainingFiles", "atomic_write", "finite_or_none", "read_loss_log", "read_previous_run",
    "write_description", "write_json",
]

#: Root attribute of a saved weights file: the validation loss it reached, its epoch, and
#: the data it was validated on (JSON), so that ``continue`` knows what to beat.
VALIDATION_ATTR = "enhance_validation"


@dataclasses.dataclass(frozen=True)
class TrainingFiles:
    """Paths of the files of a training run with root ``f"{output}_{depth}"``.

    Examples
    --------
    >>> TrainingFiles.for_run("network/test", 5).weights
    'network/test_5.weights.h5'
    """

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
        """The files of the run of ``output`` with a network of ``depth`` blocks."""
        return cls(f"{output}_{int(depth)}")


def atomic_write(path, text):
    """Write ``text`` to ``path`` atomically (a temporary file, then a rename)."""
    with atomic_path(path, suffix=".part") as tmp, open(tmp, "w") as f:
        f.write(text)


def finite_or_none(value):
    """``value`` as a float, or None for None, NaN and infinities (JSON's null)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def write_json(path, obj):
    """Write ``obj`` as indented JSON, atomically; NaN or infinities are an error (the logs
    store them as null, :func:`finite_or_none`, and stay strict JSON)."""
    atomic_write(path, json.dumps(obj, indent=1, allow_nan=False) + "\n")


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



def read_previous_run(files, *, output, config, data, kind=None):
    """Logs and best validation loss of the run to continue.

    Parameters
    ----------
    files : TrainingFiles
    output : str
        The run's ``output`` (to name other depths' runs when this one is missing).
    config : NetworkConfig
        The network asked for: model, depth, filters and activation must match the saved one.
    data : dict
        What this call validates on (see the notes).
    kind : {'intensity', 'blos'}, optional
        The data type trained on, which must match the saved weights' when both say.

    Returns
    -------
    loss_log, batch_log : list
        The logs, header first.
    best : float
        The validation loss to beat.

    Raises
    ------
    EnhanceError
        No previous run, another network, another data type, or an unusable loss log.

    Warns
    -----
    EnhanceUserWarning
        When the batch log is unusable: a new one is started.

    Notes
    -----
    ``data``: what this call validates on and how (``database``, ``validation``,
    ``validation_split``, ``loss_border``). The saved weights record the
    validation loss they reached and on what (:data:`VALIDATION_ATTR`); on other
    data that loss is not comparable, so the best starts afresh and the first
    epoch of this call saves its weights.
    """

    if not os.path.exists(files.weights):
        others = sorted(p for p in glob.glob(f"{glob.escape(output)}_*.weights.h5") if p != files.weights)
        hint = f" (found {', '.join(others)}: check `depth`)" if others else " (run with `action` 'start' first)"
        raise EnhanceError(f"no previous run to continue: {files.weights} not found{hint}")
    info = inspect_weights(files.weights)
    saved = info.config
    keys = ("model", "depth", "filters", "activation")
    if any(getattr(saved, k) != getattr(config, k) for k in keys):
        have = ", ".join(f"{k} {getattr(saved, k)}" for k in keys)
        want = ", ".join(f"{k} {getattr(config, k)}" for k in keys)
        msg = f"cannot continue: the previous run has {have}; asked for {want} (`model`/`depth`/`filters`/`activation`)"
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
        warn_user(f"{exc}; starting a new batch log")
        batch_header, batch_rows = dict(header), []
    saved = info.attrs.get(VALIDATION_ATTR)
    # weights saved before the validation was recorded: trust the log
    if not (isinstance(saved, dict) and "val_loss" in saved):
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



def write_description(model, files):
    """Write the network's description: ``{root}_model.json``, ``_summary.txt`` and, with
    pydot and Graphviz, ``_model.png``.

    Warns
    -----
    EnhanceUserWarning
        When the plot cannot be written (the run goes on).
    """

    keras = import_keras()
    write_json(files.model_json, json.loads(model.to_json()))
    lines = []
    model.summary(print_fn=lambda text, *a, **k: lines.append(text))
    atomic_write(files.summary, "\n".join(lines).rstrip("\n") + "\n")
    if importlib.util.find_spec("pydot") is None or shutil.which("dot") is None:
        log.info("not writing %s: keras.utils.plot_model needs pydot and Graphviz's dot", files.plot)
        return
    try:
        with atomic_path(files.plot, suffix=".png") as tmp:
            keras.utils.plot_model(model, to_file=tmp, show_shapes=True)
    except (ImportError, OSError, RuntimeError, ValueError) as exc:
        warn_user(f"could not write {files.plot} ({exc})")

