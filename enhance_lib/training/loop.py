"""Training Enhance networks: the loop, :func:`train`, over checked :class:`TrainOptions`.

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
is also what :mod:`enhance_lib.run.tiling` feeds the network, so the patches are
used as stored.

The parts live in their own modules, whose public names this one also offers:
:mod:`enhance_lib.training.data` (:class:`PatchDataset`, :func:`split_indices`, the
losses), :mod:`enhance_lib.training.files` (:class:`TrainingFiles`, the loss logs,
resume) and :mod:`enhance_lib.training.callbacks` (:class:`EpochOrder`, precise
BatchNormalization, :class:`TrainingRecorder`, the learning-rate schedule).
"""

import dataclasses
import logging
import math
import os
import time

import numpy as np

from ..errors import EnhanceError, warn_user
from ..io.atomic import check_output_folder
from ..nets.backend import (
    describe,
    device_scope,
    import_keras,
    resolve_device,
    set_random_seed,
)
from ..nets.config import DEFAULT_LR, LR_EPOCH, NetworkConfig, receptive_margin
from ..nets.models import build_model, upsampling_init
from ..nets.weights import load_network, stamp_attrs
from ..run.forward_check import DOMAIN_ATTR, DomainLevel, pooled_percent
from ..sun.kinds import KINDS, check_kind
from .callbacks import (
    BN_PATCHES,
    EpochOrder,
    PreciseBatchNorm,
    TrainingRecorder,
    learning_rate,
)
from .data import PatchDataset, border_mse, masked_mse, split_indices
from .database_file import check_database
from .files import (
    TrainingFiles,
    read_previous_run,
    write_description,
    write_json,
)

keras = import_keras()
log = logging.getLogger(__name__)

__all__ = ["TrainOptions", "TrainingResult", "train"]

#: Ways to initialise a new network (:attr:`TrainOptions.init`).
INITS = ("auto", "upsampling", "he_normal")


@dataclasses.dataclass(frozen=True)
class TrainOptions:
    """The options of :func:`train`, checked when made (before any file is read or written).

    The attributes are the parameters of :func:`train`, which documents them.

    Raises
    ------
    EnhanceError
        An option out of range or options that contradict each other; the message names
        the parameters in backticks (```epochs```).

    Examples
    --------
    >>> TrainOptions(database="db.h5", output="net", validation_split=0.1).network_init
    'upsampling'
    >>> TrainOptions(database="db.h5", output="net", validation_split=0.1, epochs=0)
    Traceback (most recent call last):
    ...
    enhance_lib.errors.EnhanceError: `epochs` must be >= 1 (got 0)
    """

    database: object
    output: str
    config: NetworkConfig = None
    validation: object = None
    validation_split: float = None
    action: str = "start"
    epochs: int = 10
    lr: float = DEFAULT_LR
    lr_multiplier: float = 1.0
    lr_epoch: int = LR_EPOCH
    batch_size: int = 32
    seed: int = None
    loss_border: int = 0
    init: str = "auto"
    device: str = "auto"
    verbose: int = 0
    flags: dict = None
    callbacks: tuple = ()
    kind: str = None

    def __post_init__(self):
        if self.config is None:
            object.__setattr__(self, "config", NetworkConfig())
        config = self.config
        if self.action not in ("start", "continue"):
            raise EnhanceError(f"`action` must be start or continue (got {self.action!r})")
        if int(self.epochs) < 1:
            raise EnhanceError(f"`epochs` must be >= 1 (got {self.epochs})")
        if int(self.batch_size) < 1:
            raise EnhanceError(f"`batch_size` must be >= 1 (got {self.batch_size})")
        if not float(self.lr) > 0:
            raise EnhanceError(f"`lr` must be > 0 (got {self.lr})")
        if float(config.noise) < 0 or float(config.l2) < 0:
            raise EnhanceError(f"`noise` and `l2` must be >= 0 (got {config.noise}, {config.l2})")
        if int(self.loss_border) < 0:
            raise EnhanceError(f"`loss_border` must be >= 0 (got {self.loss_border})")
        if self.init not in INITS:
            raise EnhanceError(f"`init` must be auto, upsampling or he_normal (got {self.init!r})")
        if self.init == "upsampling" and not self._can_upsample:
            raise EnhanceError("`init` upsampling needs a keepsize network with ReLU and >= 2 kernels")
        if (self.validation is None) == (self.validation_split is None):
            raise EnhanceError("give either a validation database or a validation split (not both)")
        if self.kind is not None:
            check_kind(self.kind)

    @property
    def _can_upsample(self):
        c = self.config
        return c.model == "keepsize" and c.activation == "relu" and c.filters >= 2

    @property
    def network_init(self):
        """How a new network starts: ``init``, with ``auto`` resolved."""
        if self.init != "auto":
            return self.init
        return "upsampling" if self._can_upsample else "he_normal"

    @property
    def files(self):
        """The run's files (:class:`TrainingFiles`)."""
        return TrainingFiles.for_run(self.output, self.config.depth)


@dataclasses.dataclass(frozen=True)
class _Data:
    """The databases of a run, checked (the first step of :func:`train`)."""

    info: object  # DatabaseInfo of the training database
    kind: str  # the data type, or None when no database says
    loss: object  # the Keras loss
    train_indices: object  # None: all patches of the training database
    val_path: str
    val_indices: object

    def record(self, options):
        """What the validation loss is measured on and how (kept with the weights)."""
        return {
            "database": str(options.database),
            "validation": None if options.validation is None else str(options.validation),
            "validation_split": options.validation_split,
            "loss_border": int(options.loss_border),
        }


@dataclasses.dataclass
class _Start:
    """Where the run starts: the logs so far, the loss to beat, the first epoch."""

    loss_log: list
    batch_log: list
    best: float
    initial_epoch: int



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
    saved : bool
        Whether this call wrote new weights (an epoch beat the best validation loss); only
        then is the in-domain forward check recorded with them.
    """

    model: object
    config: NetworkConfig
    files: TrainingFiles
    initial_epoch: int
    epochs: int
    best_val_loss: float
    loss_log: list
    saved: bool = False


def train(
    database,
    output,
    *,
    config=None,
    validation=None,
    validation_split=None,
    action="start",
    epochs=10,
    lr=DEFAULT_LR,
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
        as the original did; ``upsampling`` (:func:`~enhance_lib.nets.models.upsampling_init`)
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

    Warns
    -----
    EnhanceUserWarning
        Problems the run survives: an earlier run with the same root replaced (``start``),
        training stopped early (a NaN loss), an unreadable batch log on ``continue``, the
        network's plot not written, an unknown data type in a database's attributes.

    Notes
    -----
    The steps: check the options (:class:`TrainOptions`) and the databases, then the
    output folder; read where to start (a new run, or the one to continue); build the
    network; write the run's description; fit, keeping the best weights.

    Adam's moment estimates are not saved, so a resumed run restarts them,
    as the original's did.
    """
    options = TrainOptions(
        database=database, output=output, config=config, validation=validation, validation_split=validation_split,
        action=action, epochs=epochs, lr=lr, lr_multiplier=lr_multiplier, lr_epoch=lr_epoch, batch_size=batch_size,
        seed=seed, loss_border=loss_border, init=init, device=device, verbose=verbose, flags=flags,
        callbacks=tuple(callbacks), kind=kind,
    )
    data = _check_databases(options)
    _check_output_root(options.files.root)
    device = resolve_device(options.device)
    log.info("training on %s", describe(device))
    start = _where_to_start(options, data)
    # Everything checked: from here on files are written.
    check_output_folder(options.files.weights)
    with device_scope(device):
        if options.seed is not None:
            set_random_seed(int(options.seed))
        model = _build_network(options, start)
        _write_run_files(model, options, data)
        result = _fit(model, options, data, start)
        _record_domain(result, options, data)
        return result


def _record_domain(result, options, data):
    """Step 7 of :func:`train`: the forward check the network reaches on the validation inputs
    (data like its training data), recorded with its weights
    (:class:`~enhance_lib.run.forward_check.DomainLevel`), so that an image unlike them is
    reported when it is enhanced."""
    if not result.saved:  # the weights file is as it was: so is its level
        return
    val_data = PatchDataset(data.val_path, data.val_indices, batch_size=options.batch_size)
    # the network's own padding reaches its receptive margin into each patch: left out (at most
    # a quarter of the patch, so that small patches still count)
    margin = min(receptive_margin(result.config), (min(data.info.input_shape[:2]) - 1) // 4)

    def pairs():
        for k in range(len(val_data)):
            inputs = val_data.batch_inputs(k)
            outputs = np.asarray(result.model.predict(inputs, verbose=0))
            yield from zip(inputs[..., 0], outputs[..., 0], strict=True)

    try:
        percent = pooled_percent(pairs(), border=margin)
    finally:
        val_data.close()
    if not np.isfinite(percent):
        return
    where = options.validation or f"{options.validation_split:g} of {options.database}"
    level = DomainLevel(percent, f"the validation patches of training ({os.path.basename(str(where))})")
    stamp_attrs(result.files.weights, {DOMAIN_ATTR: level.to_attr()})
    log.info("forward check on the validation inputs: %.2f %% (recorded with the weights)", percent)


def _database_kind(path, info, kind):
    """The data type to train for: ``kind``, checked against the database's ``type`` attribute."""
    recorded = info.attrs.get("type")
    if recorded is not None and recorded not in KINDS:
        warn_user(f"{path}: unknown data type {recorded!r} in its attributes; ignored")
        recorded = None
    if kind is not None and recorded is not None and kind != recorded:
        msg = (f"the database holds {recorded} data (its 'type' attribute), not {kind} "
               f"(`kind` {recorded}, or another database)")
        raise EnhanceError(msg, path=path)
    return kind or recorded


def _check_databases(options):
    """Step 1 of :func:`train`: check the databases, their data type and the loss they call for.

    Returns
    -------
    _Data
    """
    database, validation, loss_border = options.database, options.validation, int(options.loss_border)
    info = check_database(database)
    kind = _database_kind(database, info, options.kind)
    loss = border_mse(loss_border)
    if info.has_mask:
        if loss_border:
            msg = "the database has its own loss mask (built with `loss_border`); leave `loss_border` at 0"
            raise EnhanceError(msg, path=database)
        loss = masked_mse
    if 2 * loss_border >= min(info.target_shape[:2]):
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
        train_idx, val_idx = split_indices(info.n, options.validation_split)
        val_path = database
    log.info("training database %s: %d patches %s -> %s", database, info.n, info.input_shape, info.target_shape)
    if info.attrs:
        log.debug("database attributes: %s", info.attrs)
    if kind is None:
        log.info("the database does not say which data type it holds: the weights will not record one "
                 "(give `kind`, 'intensity' or 'blos', to record it)")
    return _Data(info=info, kind=kind, loss=loss, train_indices=train_idx, val_path=val_path, val_indices=val_idx)


def _check_output_root(root):
    """Step 2 of :func:`train`, before anything is written: the folder of the run's files
    must be a folder or creatable (whether it is writable,
    :func:`enhance_lib.pipeline.check_output_folder` checks when it is made)."""
    probe = os.path.dirname(os.path.abspath(root))
    while not os.path.exists(probe):
        probe = os.path.dirname(probe)
    if not os.path.isdir(probe):
        raise EnhanceError(f"cannot create the output folder: {probe} is not a folder", path=root)


def _where_to_start(options, data):
    """Step 3 of :func:`train`: a new run's empty logs, or those of the run to continue.

    Returns
    -------
    _Start
    """
    files = options.files
    if options.action == "continue":
        loss_log, batch_log, best = read_previous_run(files, output=options.output, config=options.config,
                                                      data=data.record(options), kind=data.kind)
        return _Start(loss_log, batch_log, best, initial_epoch=len(loss_log) - 1)
    header = {"name": files.root, "init_t": time.asctime()}
    return _Start([header], [dict(header)], math.inf, initial_epoch=0)


def _build_network(options, start):
    """Step 4 of :func:`train`: the network, new (initialised as asked, the logs of an earlier
    run with the same root replaced) or with the weights of the run to continue."""
    config, files = options.config, options.files
    model = build_model(config)
    if options.action == "continue":
        previous, _ = load_network(files.weights, model=config.model, depth=config.depth, filters=config.filters)
        model.set_weights(previous.get_weights())
        log.info("continuing %s after %d epochs (best val_loss %.6g)", files.root, start.initial_epoch, start.best)
        return model
    if options.network_init == "upsampling":
        upsampling_init(model, config)
    if os.path.exists(files.weights):
        warn_user(f"starting afresh: replacing the earlier run {files.root}")
        os.remove(files.weights)
    write_json(files.loss, start.loss_log)
    write_json(files.loss_batch, start.batch_log)
    return model


def _write_run_files(model, options, data):
    """Step 5 of :func:`train`: ``_args.json`` and the network's description."""
    flags = options.flags
    if flags is None:
        flags = {
            "database": str(options.database),
            "validation": None if options.validation is None else str(options.validation),
            "validation_split": options.validation_split,
            "output": str(options.output),
            "action": options.action,
            "epochs": int(options.epochs),
            "lr": float(options.lr),
            "lr_multiplier": float(options.lr_multiplier),
            "lr_epoch": int(options.lr_epoch),
            "batch_size": int(options.batch_size),
            "seed": options.seed,
            "loss_border": int(options.loss_border),
            "init": options.network_init,
            "type": data.kind,
            **options.config.to_dict(),
        }
    write_json(options.files.args, {**flags, "type": data.kind})
    write_description(model, options.files)


def _fit(model, options, data, start):
    """Step 6 of :func:`train`: the epochs, with the callbacks that record them.

    Returns
    -------
    TrainingResult
        The model holds the weights of the best validation loss.
    """
    files, epochs, initial_epoch = options.files, int(options.epochs), start.initial_epoch

    def schedule(epoch, current=None):
        return learning_rate(epoch, lr=options.lr, lr_multiplier=options.lr_multiplier, lr_epoch=options.lr_epoch)

    has_mask = data.info.has_mask
    train_data = PatchDataset(options.database, data.train_indices, batch_size=options.batch_size, shuffle=True,
                              seed=options.seed, epoch=initial_epoch, with_mask=has_mask)
    val_data = PatchDataset(data.val_path, data.val_indices, batch_size=options.batch_size, with_mask=has_mask)
    recorder = TrainingRecorder(files=files, config=options.config, loss_log=start.loss_log,
                                batch_log=start.batch_log, batch_sizes=train_data.batch_sizes(), best=start.best,
                                data=data.record(options), kind=data.kind)
    # Batches of the epoch's shuffled order: about BN_PATCHES patches, a fair sample.
    precise_bn = PreciseBatchNorm(train_data, math.ceil(BN_PATCHES / train_data.batch_size))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=schedule(initial_epoch)), loss=data.loss)
    previous = model.get_weights() if options.action == "continue" else None
    try:
        model.fit(
            train_data,
            validation_data=val_data,
            epochs=initial_epoch + epochs,
            initial_epoch=initial_epoch,
            shuffle=False,  # the dataset shuffles patches itself; Keras would reorder whole batches
            verbose=options.verbose,
            callbacks=[
                EpochOrder(train_data),
                keras.callbacks.LearningRateScheduler(schedule),
                keras.callbacks.TerminateOnNaN(),
                precise_bn,
                recorder,
                *options.callbacks,
            ],
        )
    finally:
        train_data.close()
        val_data.close()
    done = len(start.loss_log) - 1
    if done < initial_epoch + epochs:
        warn_user(f"training stopped after {done - initial_epoch} of {epochs} epochs")
    if recorder.best_weights is not None:
        model.set_weights(recorder.best_weights)
    elif options.action == "continue":
        model.set_weights(previous)
        log.info("no epoch beat the best val_loss %.6g: %s unchanged", start.best, files.weights)
    return TrainingResult(model, options.config, files, initial_epoch, done, recorder.best, start.loss_log,
                          saved=recorder.best_weights is not None)
