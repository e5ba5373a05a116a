"""Many files on Dask: local worker processes or an existing cluster (dask-jobqueue, SLURM, ...).

All the files of a batch, of every data type, go to one client: each worker builds the
network once per set of options and enhances the files it is given. Outputs are written
atomically, so a file that Dask reruns after its worker died never sees a partial output.
Skipped files are decided before any cluster is started: a batch with nothing left to do
starts none.
"""

import contextlib
import logging
import os

from ..errors import EnhanceError
from ..io.atomic import clean_folder
from .batch import Outcome, log_stopped
from .enhancer import Engine
from .progress import file_progress

log = logging.getLogger(__name__)

__all__ = [
    "enhance_files_dask", "enhance_files_on_cluster", "enhance_groups_dask", "enhance_groups_on_cluster",
    "import_distributed", "local_cluster",
]

_WORKER_ENGINES = {}  # per worker process: engine options -> Engine, built once


def _engine_key(options):
    return tuple(sorted((k, str(v)) for k, v in options.items()))


def _enhance_on_worker(input_path, output_path, options):
    """One file on a Dask worker, with the worker's cached network (built on first use)."""
    key = _engine_key(options)
    if key not in _WORKER_ENGINES:
        _WORKER_ENGINES[key] = Engine(**options)
    outcome = Outcome(os.fspath(input_path), os.fspath(output_path), "done", replaced=os.path.exists(output_path))
    try:
        _WORKER_ENGINES[key].enhance_file(input_path, output_path)
    except (EnhanceError, OSError) as exc:
        outcome.fail(exc)
    return outcome


def import_distributed():
    """``dask.distributed``, or a one-line :class:`EnhanceError` naming the extra."""
    try:
        import dask.distributed
    except ImportError:
        msg = "`workers` and `scheduler` need dask and distributed (pip install 'enhance-keras3[dask]')"
        raise EnhanceError(msg) from None
    return dask.distributed


def local_cluster(workers):
    """A ``LocalCluster`` of ``workers`` processes sharing this machine's cores.

    Each worker runs one file at a time, and its backend gets cores/workers threads
    (so that N workers do not oversubscribe the cores); the workers use this
    process's Keras backend.
    """
    from ..nets.backend import backend_name

    distributed = import_distributed()
    threads = max(1, (os.cpu_count() or 1) // int(workers))
    env = {
        "KERAS_BACKEND": backend_name(),
        "OMP_NUM_THREADS": str(threads),
        "TF_NUM_INTRAOP_THREADS": str(threads),
        "TF_NUM_INTEROP_THREADS": "1",
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }
    return distributed.LocalCluster(n_workers=int(workers), threads_per_worker=1, processes=True,
                                    dashboard_address=None, env=env)


def _plan(groups, *, skip_existing):
    """The outcome of every file of ``groups`` (skipped ones decided) and the files to run.

    Returns
    -------
    outcomes : list of Outcome
        The groups' files in order, ``'skipped'`` or ``'pending'``.
    todo : list of (int, dict)
        Index in ``outcomes`` and engine options of each pending file.
    """
    outcomes, todo = [], []
    for inputs, outputs, options in groups.values():
        for path, output in zip(inputs, outputs, strict=True):
            outcome = Outcome(os.fspath(path), os.fspath(output), "pending")
            if skip_existing and os.path.exists(outcome.output):
                outcome.status = "skipped"
            else:
                todo.append((len(outcomes), options))
            outcomes.append(outcome)
    for folder in {os.path.dirname(os.path.abspath(o.output)) for o in outcomes}:
        clean_folder(folder)  # what killed runs or workers left there (on this host)
    return outcomes, todo


def _run_on_client(client, outcomes, todo, *, progress, retries):
    """Submit the ``todo`` files of :func:`_plan` to ``client``; fill in their outcomes."""
    distributed = import_distributed()
    futures = {
        client.submit(_enhance_on_worker, outcomes[k].input, outcomes[k].output, options, pure=False,
                      retries=retries): k
        for k, options in todo
    }
    try:
        with file_progress(len(outcomes), initial=len(outcomes) - len(todo), enabled=progress) as bar:
            for future in distributed.as_completed(futures):
                k = futures[future]
                try:
                    outcomes[k] = future.result()
                except Exception as exc:  # workers died too often while running it, or a bug there
                    outcomes[k].status, outcomes[k].message = "failed", f"on the worker: {exc}"
                if outcomes[k].status == "failed":
                    log.error("%s: %s", outcomes[k].input, outcomes[k].message)
                bar.update()
    except KeyboardInterrupt:
        # Ctrl-C or SIGTERM: the files not finished are cancelled (a worker stopped mid-write leaves
        # a temporary file that the next run into the folder removes); say how far the batch got.
        client.cancel(list(futures))
        log_stopped(outcomes)
        raise
    return outcomes


def enhance_groups_dask(client, groups, *, skip_existing=False, progress=False, retries=2):
    """Enhance groups of files, each with its own engine options, on one Dask client.

    Every file of every group is submitted at once, so the workers share all the files
    of a batch; each worker builds one network per distinct set of options.

    Parameters
    ----------
    client : dask.distributed.Client
        Connected to a :func:`local_cluster`, a ``dask-jobqueue`` cluster or any
        scheduler whose workers see the same files.
    groups : dict
        Any key (the data type, for the CLI) -> ``(inputs, outputs, engine_options)``:
        paired input and output files and the keyword arguments of :class:`Engine`
        that the workers build for them.
    skip_existing : bool
        Leave inputs whose output exists alone.
    progress : bool
        Progress over all the files (:func:`~enhance_lib.run.progress.file_progress`).
    retries : int
        Times Dask reruns a file whose task raised an unexpected error on the worker.
        A file whose worker died is rerun elsewhere anyway (up to distributed's
        ``allowed-failures`` deaths); outputs are atomic, so a rerun never sees a
        partial file.

    Returns
    -------
    list of Outcome
        The groups' files in order: the first group's, then the second's, ...
    """
    outcomes, todo = _plan(groups, skip_existing=skip_existing)
    return _run_on_client(client, outcomes, todo, progress=progress, retries=retries)


def enhance_files_dask(client, inputs, outputs, *, engine_options, skip_existing=False, progress=False,
                       retries=2):
    """Enhance many files with one set of engine options on a Dask cluster
    (:func:`enhance_groups_dask` with one group).

    Parameters
    ----------
    client : dask.distributed.Client
    inputs, outputs : sequence of str or os.PathLike
    engine_options : dict
        Keyword arguments of :class:`Engine` (the workers build it).
    skip_existing, progress, retries
        As for :func:`enhance_groups_dask`.

    Returns
    -------
    list of Outcome
        In the order of ``inputs``.
    """
    return enhance_groups_dask(client, {engine_options.get("kind"): (inputs, outputs, engine_options)},
                               skip_existing=skip_existing, progress=progress, retries=retries)


def _absolute(groups):
    """``groups`` with absolute paths (inputs, outputs, weights): workers may run elsewhere."""
    absolute = {}
    for key, (inputs, outputs, options) in groups.items():
        options = dict(options)
        if options.get("weights") is not None:
            options["weights"] = os.path.abspath(options["weights"])
        absolute[key] = ([os.path.abspath(p) for p in inputs], [os.path.abspath(p) for p in outputs], options)
    return absolute


def enhance_groups_on_cluster(groups, *, workers=None, scheduler=None, skip_existing=False, progress=False,
                              retries=2):
    """:func:`enhance_groups_dask` on one cluster: ``workers`` local processes or the
    cluster at ``scheduler``, started (or connected to) once for all the groups, and only
    when some file is left to do.

    Parameters
    ----------
    groups : dict
        Any key -> ``(inputs, outputs, engine_options)``, as for :func:`enhance_groups_dask`.
        Paths (inputs, outputs, weights) are made absolute: workers may run elsewhere.
    workers : int, optional
        Local worker processes (:func:`local_cluster`); ignored with ``scheduler``.
    scheduler : str, optional
        Address of a running scheduler (``tcp://host:8786``).
    skip_existing, progress, retries
        As for :func:`enhance_groups_dask`.

    Returns
    -------
    list of Outcome
        The groups' files in order.

    Raises
    ------
    EnhanceError
        dask.distributed is not installed, or neither ``workers`` nor ``scheduler`` is given.
    """
    distributed = import_distributed()
    if not scheduler and not workers:
        raise EnhanceError("give `workers` (local processes) or `scheduler` (an existing cluster's address)")
    outcomes, todo = _plan(_absolute(groups), skip_existing=skip_existing)
    if not todo:
        log.info("nothing to do: every output exists; no Dask cluster started")
        return outcomes
    with contextlib.ExitStack() as stack:
        if scheduler:
            client = stack.enter_context(distributed.Client(scheduler))
            log.info("Dask: %s", scheduler)
        else:
            cluster = stack.enter_context(local_cluster(workers))
            client = stack.enter_context(distributed.Client(cluster))
            log.info("Dask: %d local workers", workers)
        return _run_on_client(client, outcomes, todo, progress=progress, retries=retries)


def enhance_files_on_cluster(inputs, outputs, *, engine_options, workers=None, scheduler=None,
                             skip_existing=False, progress=False, retries=2):
    """:func:`enhance_groups_on_cluster` with one group: many files, one set of engine options.

    Returns
    -------
    list of Outcome
        In the order of ``inputs``.

    Raises
    ------
    EnhanceError
        dask.distributed is not installed.
    """
    return enhance_groups_on_cluster({engine_options.get("kind"): (inputs, outputs, engine_options)},
                                     workers=workers, scheduler=scheduler, skip_existing=skip_existing,
                                     progress=progress, retries=retries)
