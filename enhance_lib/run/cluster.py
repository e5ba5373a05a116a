"""Many files on Dask: local worker processes or an existing cluster (dask-jobqueue, SLURM, ...).

All the files of a batch, of every data type, go to one client with one
:class:`~enhance_lib.run.options.EnhanceOptions`: each worker keeps one
:class:`~enhance_lib.run.enhancer.Enhancer` per set of options (each data type's network built
once) and enhances the files it is given. Outputs are written atomically, so a file that Dask
reruns after its worker died never sees a partial output. Skipped files are decided before
any cluster is started: a batch with nothing left to do starts none.
"""

import contextlib
import logging
import os

from ..errors import EnhanceError
from ..io.atomic import clean_folder
from ..nets.backend import backend_name
from .batch import Outcome, log_stopped
from .enhancer import Enhancer
from .progress import file_progress

log = logging.getLogger(__name__)

__all__ = ["enhance_files_dask", "enhance_files_on_cluster", "import_distributed", "local_cluster"]

_WORKER_ENHANCERS = {}  # per worker process: EnhanceOptions -> Enhancer, built once


def _enhance_on_worker(input_path, output_path, options):
    """One file on a Dask worker, with the worker's Enhancer for ``options`` (made on first use)."""
    if options not in _WORKER_ENHANCERS:
        _WORKER_ENHANCERS[options] = Enhancer(options, build=False)
    outcome = Outcome(os.fspath(input_path), os.fspath(output_path), "done", replaced=os.path.exists(output_path))
    try:
        _WORKER_ENHANCERS[options].enhance_file(input_path, output_path)
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


def _plan(inputs, outputs, *, skip_existing):
    """The outcome of every file (skipped ones decided) and the indices of the files to run."""
    outcomes = [Outcome(os.fspath(i), os.fspath(o), "pending") for i, o in zip(inputs, outputs, strict=True)]
    todo = []
    for k, outcome in enumerate(outcomes):
        if skip_existing and os.path.exists(outcome.output):
            outcome.status = "skipped"
        else:
            todo.append(k)
    for folder in {os.path.dirname(os.path.abspath(o.output)) for o in outcomes}:
        clean_folder(folder)  # what killed runs or workers left there (on this host)
    return outcomes, todo


def _run_on_client(client, outcomes, todo, options, *, progress, retries):
    """Submit the ``todo`` files (indices in ``outcomes``) to ``client``; fill in their outcomes."""
    distributed = import_distributed()
    futures = {
        client.submit(_enhance_on_worker, outcomes[k].input, outcomes[k].output, options, pure=False,
                      retries=retries): k
        for k in todo
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


def enhance_files_dask(client, inputs, outputs, *, options, skip_existing=False, progress=False, retries=2):
    """Enhance many files on a Dask cluster; each worker builds each data type's network once.

    Parameters
    ----------
    client : dask.distributed.Client
        Connected to a :func:`local_cluster`, a ``dask-jobqueue`` cluster or any
        scheduler whose workers see the same files.
    inputs, outputs : sequence of str or os.PathLike
        Paired input and output files, of any data types.
    options : EnhanceOptions
        What the workers' :class:`~enhance_lib.run.enhancer.Enhancer` is made of (shipped as it
        is: frozen and hashable).
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
        In the order of ``inputs``.
    """
    outcomes, todo = _plan(inputs, outputs, skip_existing=skip_existing)
    return _run_on_client(client, outcomes, todo, options, progress=progress, retries=retries)


def enhance_files_on_cluster(inputs, outputs, *, options, workers=None, scheduler=None, skip_existing=False,
                             progress=False, retries=2):
    """:func:`enhance_files_dask` on ``workers`` local processes or the cluster at ``scheduler``,
    started (or connected to) once, and only when some file is left to do.

    Paths (inputs, outputs, weights) are made absolute: workers may run elsewhere.

    Parameters
    ----------
    inputs, outputs, options, skip_existing, progress, retries
        As for :func:`enhance_files_dask`.
    workers : int, optional
        Local worker processes (:func:`local_cluster`); ignored with ``scheduler``.
    scheduler : str, optional
        Address of a running scheduler (``tcp://host:8786``).

    Returns
    -------
    list of Outcome
        In the order of ``inputs``.

    Raises
    ------
    EnhanceError
        dask.distributed is not installed, or neither ``workers`` nor ``scheduler`` is given.
    """
    distributed = import_distributed()
    if not scheduler and not workers:
        raise EnhanceError("give `workers` (local processes) or `scheduler` (an existing cluster's address)")
    if options.weights is not None:
        options = options.replace(weights=os.path.abspath(options.weights))
    inputs = [os.path.abspath(p) for p in inputs]
    outputs = [os.path.abspath(p) for p in outputs]
    outcomes, todo = _plan(inputs, outputs, skip_existing=skip_existing)
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
        return _run_on_client(client, outcomes, todo, options, progress=progress, retries=retries)
