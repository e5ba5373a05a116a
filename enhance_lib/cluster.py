"""Many files on Dask: local worker processes or an existing cluster (dask-jobqueue, SLURM, ...).

Each worker builds the network once (per set of options) and enhances the files it is
given; outputs are written atomically, so a file rerun after a worker died never sees a
partial output.
"""

import logging
import os

from .batch import Outcome
from .engine import Engine
from .errors import EnhanceError
from .progress import file_progress

log = logging.getLogger(__name__)

__all__ = ["enhance_files_dask", "enhance_files_on_cluster", "import_distributed", "local_cluster"]

_WORKER_ENGINES = {}  # per worker process: engine options -> Engine, built once


def _engine_key(options):
    return tuple(sorted((k, str(v)) for k, v in options.items()))


def _enhance_on_worker(input_path, output_path, options):
    """One file on a Dask worker, with the worker's cached network (built on first use)."""
    key = _engine_key(options)
    if key not in _WORKER_ENGINES:
        _WORKER_ENGINES[key] = Engine(**options)
    outcome = Outcome(os.fspath(input_path), os.fspath(output_path), "done")
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
    from .backend import backend_name

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


def enhance_files_dask(client, inputs, outputs, *, engine_options, skip_existing=False, progress=False,
                       retries=2):
    """Enhance many files on a Dask cluster; each worker builds the network once.

    Parameters
    ----------
    client : dask.distributed.Client
        Connected to a :func:`local_cluster`, a ``dask-jobqueue`` cluster or any
        scheduler whose workers see the same files.
    inputs, outputs : sequence of str or os.PathLike
    engine_options : dict
        Keyword arguments of :class:`Engine` (the workers build it).
    skip_existing : bool
    progress : bool
        Progress over the files (:func:`~enhance_lib.progress.file_progress`).
    retries : int
        Times Dask reruns a file whose worker died (outputs are atomic, so a
        rerun never sees a partial file).

    Returns
    -------
    list of Outcome
        In the order of ``inputs``.
    """
    distributed = import_distributed()
    outcomes = [Outcome(os.fspath(i), os.fspath(o), "pending") for i, o in zip(inputs, outputs, strict=True)]
    todo = []
    for k, outcome in enumerate(outcomes):
        if skip_existing and os.path.exists(outcome.output):
            outcome.status = "skipped"
        else:
            todo.append(k)
    futures = {
        client.submit(_enhance_on_worker, outcomes[k].input, outcomes[k].output, engine_options,
                      pure=False, retries=retries): k
        for k in todo
    }
    with file_progress(len(outcomes), initial=len(outcomes) - len(todo), enabled=progress) as bar:
        for future in distributed.as_completed(futures):
            k = futures[future]
            try:
                outcomes[k] = future.result()
            except Exception as exc:  # the worker died more than `retries` times, or a bug there
                outcomes[k].status, outcomes[k].message = "failed", f"on the worker: {exc}"
            if outcomes[k].status == "failed":
                log.error("%s: %s", outcomes[k].input, outcomes[k].message)
            bar.update()
    return outcomes


def enhance_files_on_cluster(inputs, outputs, *, engine_options, workers=None, scheduler=None,
                             skip_existing=False, progress=False):
    """:func:`enhance_files_dask` on ``workers`` local processes or the cluster at ``scheduler``.

    Paths (inputs, outputs, weights) are made absolute: workers may run elsewhere.

    Raises
    ------
    EnhanceError
        dask.distributed is not installed.
    """
    distributed = import_distributed()
    options = dict(engine_options)
    if options.get("weights") is not None:
        options["weights"] = os.path.abspath(options["weights"])
    inputs = [os.path.abspath(p) for p in inputs]
    outputs = [os.path.abspath(p) for p in outputs]
    cluster = None if scheduler else local_cluster(workers)
    client = distributed.Client(scheduler or cluster)
    try:
        log.info("Dask: %s", f"{workers} local workers" if cluster is not None else scheduler)
        return enhance_files_dask(client, inputs, outputs, engine_options=options, skip_existing=skip_existing,
                                  progress=progress)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
