"""Enhancing FITS files: one, or many through one network with overlapped I/O.

:class:`Engine` builds the network once and enhances files with it;
:func:`enhance_files` runs a list of files through it as a pipeline: while one
file is predicted, a thread reads and normalises the next (at most one ahead, so
memory stays bounded) and another writes the last. A file that cannot be done is
reported and skipped; the others go on.
"""

import concurrent.futures
import dataclasses
import datetime
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from . import __version__
from .errors import EnhanceError, warn_user
from .kinds import KINDS, check_kind, resolve_kind

log = logging.getLogger(__name__)

__all__ = [
    "KINDS", "Engine", "Outcome", "default_weights", "enhance_files", "enhance_files_dask",
    "enhance_files_on_cluster", "local_cluster",
    "check_options", "output_paths", "prepare", "prepare_data",
]

# What a folder given as input contributes (sorted).
FITS_PATTERNS = ("*.fits", "*.fits.gz", "*.fts")


def default_weights(kind):
    """Path of the shipped network for ``kind`` ('intensity' or 'blos').

    Looked up in ``$ENHANCE_NETWORK_DIR``, then ``network/`` of the source tree
    (a checkout or editable install), then ``<prefix>/share/enhance/network``
    (a regular install). Returns the first candidate when none exists.
    """
    name = f"{kind}.weights.h5"
    folders = []
    if os.environ.get("ENHANCE_NETWORK_DIR"):
        folders.append(Path(os.environ["ENHANCE_NETWORK_DIR"]))
    folders.append(Path(__file__).resolve().parent.parent / "network")
    folders.append(Path(sys.prefix) / "share" / "enhance" / "network")
    for folder in folders:
        if (folder / name).is_file():
            return folder / name
    return folders[0] / name


def check_output_folder(path):
    """Fail before the (long) prediction when ``path`` cannot be written: a folder, a path
    under a file, a folder that cannot be created or written."""
    if os.path.isdir(path):
        raise EnhanceError("output is a folder, not a file (give a file name)", path=path)
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise EnhanceError(f"cannot create the output folder ({exc.strerror})", path=path) from None
    if not os.access(folder, os.W_OK):
        raise EnhanceError("output folder is not writable", path=path)


@dataclasses.dataclass
class _Prepared:
    """An image and its planes' normalisers: everything before prediction."""

    path: str  # the file, or a name for an array ("array", a map's name)
    image: object  # fitsio.FitsImage
    planes: np.ndarray  # (n, ny, nx)
    normalizers: list
    kind: str = "intensity"


def check_options(*, kind, normalization=None, weights=None):
    """Raise :class:`EnhanceError` for an unknown data kind or normalisation, or weights
    that record another data type than ``kind``.

    ``kind`` None (read from each file's header) is valid.
    """
    from .normalize import parse_method

    if kind is not None:
        check_kind(kind)
    parse_method(kind or "intensity", normalization)
    if kind is not None and weights is not None:
        from .weights import check_kind_matches, inspect_weights, recorded_kind

        if recorded_kind(weights) not in (None, kind):
            check_kind_matches(inspect_weights(weights), kind)


def prepare_data(data, header=None, *, kind=None, normalization=None, source="array", default_kind=None):
    """Check an image and build the normaliser of each plane (the limb fit of a full disk).

    Parameters
    ----------
    data : array_like, shape (ny, nx) or (nplanes, ny, nx)
        In physical units; NaN marks missing pixels. Not modified.
    header : astropy.io.fits.Header, optional
        Locates the disk of a full-disk image; says the kind of data when ``kind`` is None.
    kind : {'intensity', 'blos'} or None
        None: from the header (:func:`enhance_lib.kinds.resolve_kind`).
    normalization : None, 'quiet-sun', 'max', 'none' or float
    source : str
        Name for messages (the file, or what the data came from).
    default_kind : {'intensity', 'blos'} or None
        The kind when neither ``kind`` nor the header says (the weights' recorded kind).

    Raises
    ------
    EnhanceError
        Not a 2-D image or 3-D cube, no finite pixel, a plane without finite pixels,
        a bad kind or normalisation.
    """
    from astropy.io import fits

    from .fitsio import FitsImage
    from .normalize import make_normalizer

    data = np.asarray(data, dtype=np.float32)  # read, never written: the caller's array stays as it is
    if data.ndim not in (2, 3):
        raise EnhanceError(f"data has {data.ndim} dimensions, need a 2-D image or a 3-D cube", path=source)
    if not np.isfinite(data).any():
        raise EnhanceError("all pixels are NaN or infinite", path=source)
    header = fits.Header() if header is None else fits.Header(header, copy=True)
    kind = resolve_kind(kind, header, source=source, default=default_kind)
    _check_pixel_scale(header, source)
    planes = data if data.ndim == 3 else data[np.newaxis]
    normalizers = []
    for index, plane in enumerate(planes):
        if not np.isfinite(plane).any():
            raise EnhanceError(f"plane {index} has no finite pixels", path=source)
        try:
            normalizers.append(make_normalizer(plane, header, kind=kind, method=normalization))
        except EnhanceError as exc:
            raise EnhanceError(exc.message, path=source) from None
        log.debug("plane %d: %s", index, normalizers[-1].describe())
    image = FitsImage(data=data, header=header, hdu_index=None, path=str(source))
    return _Prepared(str(source), image, planes, normalizers, kind)


#: HMI's pixel scale, at which the networks were trained (arcsec per pixel).
HMI_SCALE = 0.504


def _check_pixel_scale(header, source):
    """Warn when the header's pixel scale is more than 10 % from HMI's."""
    from .fitsio import pixel_scale

    scale = pixel_scale(header)
    if scale is not None and abs(scale / HMI_SCALE - 1) > 0.1:
        warn_user(f"{source}: pixel scale {scale:.4g}\"/px is far from HMI's {HMI_SCALE}\"/px; the networks were "
                  "trained at HMI's scale, so features of other sizes are not deconvolved as they should be",
                  stacklevel=4)


def prepare(path, *, kind=None, normalization=None, default_kind=None):
    """Read a file and build the normaliser of each plane (the limb fit of a full disk).

    ``kind`` None takes the kind from the file's header, else ``default_kind``, else
    intensity.

    Raises
    ------
    EnhanceError
        Unreadable or not FITS, no image, an all-NaN plane, a bad normalisation.
    """
    from .fitsio import read_image

    image = read_image(path)
    prepared = prepare_data(image.data, image.header, kind=kind, normalization=normalization, source=str(path),
                            default_kind=default_kind)
    prepared.image = image  # with its HDU index, for the HISTORY
    return prepared


class Engine:
    """An Enhance network built once, and the steps to enhance FITS files with it.

    Parameters
    ----------
    kind : {'intensity', 'blos'}
        The kind of data it enhances (files whose header says otherwise are
        enhanced as this kind, with a warning).
    weights : str or os.PathLike, optional
        Weights file; default the shipped network for ``kind``.
    model, depth, filters, activation : optional
        Checked against the weights file.
    normalization : None, 'quiet-sun', 'max', 'none' or float
    tile : int, optional
        Tile size (input pixels); None for the default of the device and backend.
    precision : {'float32', 'bfloat16'}
    device : {'auto', 'cpu', 'gpu'}
        Where to compute; ``auto`` takes a GPU when the Keras backend sees one.
    conserve_flux : bool
        Invert the network's response to uniform inputs (measured when the engine is
        built, :mod:`enhance_lib.photometry`), so that a uniform input comes back
        unchanged; default False, the network's output as it is.
    compress : {None, 'none', 'gzip', 'rice'}
        How :meth:`write` stores the output (:func:`enhance_lib.fitsio.write_image`).

    Raises
    ------
    EnhanceError
        Bad options or weights, or a backend that cannot run.
    """

    def __init__(self, *, kind="intensity", weights=None, model=None, depth=None, filters=None, activation=None,
                 normalization=None, tile=None, precision="float32", device="auto", conserve_flux=False,
                 compress=None):
        from .backend import describe, device_scope, resolve_device
        from .fitsio import COMPRESSION
        from .predict import Predictor
        from .weights import load_network

        check_kind(kind)
        check_options(kind=kind, normalization=normalization)  # fail before any work
        if compress not in (None, "none", *COMPRESSION):
            raise EnhanceError(f"unknown compression {compress!r}; choose none, gzip or rice")
        self.compress = compress
        if weights is None:
            weights = default_weights(kind)
            if not Path(weights).is_file():
                raise EnhanceError(
                    f"no shipped {kind} network found; pass a weights file with --weights PATH "
                    "(a Keras 3 .weights.h5 from enhance-train, or an original Enhance HDF5 file)",
                    path=weights,
                )
        self.kind = kind
        self.weights = weights
        self.normalization = normalization
        self.precision = precision
        self.device = resolve_device(device)
        self.backend = describe(self.device)
        if precision == "bfloat16" and self.device == "cpu":
            from .backend import cpu_flags

            if "amx_bf16" not in cpu_flags():
                warn_user("--precision bfloat16 will not be faster on this CPU: it has no AMX (bfloat16 ran "
                          "0.61x as fast as float32 on an AVX512-BF16 Xeon without AMX; see README, Performance)")
        with device_scope(self.device):
            net, self.config = load_network(weights, model=model, depth=depth, filters=filters, activation=activation,
                                            kind=kind)
            self.predictor = Predictor(net, self.config, tile=tile, precision=precision, device=self.device)
            self.response = None
            if conserve_flux:
                from .photometry import measure_response

                self.response = measure_response(self.predictor, kind)
        log.info(
            "network %s depth %d, %d filters (%s); %s",
            self.config.model, self.config.depth, self.config.filters, weights, self.backend,
        )

    def prepare(self, path):
        """Read a file and build the normaliser of each plane (:func:`prepare`).

        A header that says another kind of data than the engine's gives an
        :class:`~enhance_lib.errors.EnhanceUserWarning`; the engine's kind is used.
        """
        return prepare(path, kind=self.kind, normalization=self.normalization)

    def prepare_data(self, data, header=None, *, source="array"):
        """An array (and its header) ready to predict (:func:`prepare_data`)."""
        return prepare_data(data, header, kind=self.kind, normalization=self.normalization, source=source)

    def predict(self, prepared, *, progress=False):
        """The enhanced data (2-D, or 3-D for a cube) in the input's units."""
        from .predict import enhance_array

        outputs = [
            enhance_array(plane, self.predictor, normalizer, progress=progress, response=self.response)
            for plane, normalizer in zip(prepared.planes, prepared.normalizers)
        ]
        return np.stack(outputs) if prepared.image.data.ndim == 3 else outputs[0]

    def output_header(self, prepared, result):
        """The header of ``result``: the input's, updated for the x2 grid, with HISTORY.

        See :func:`enhance_lib.fitsio.upsample_header` for the WCS rule.
        """
        from .fitsio import add_history, upsample_header

        image, config = prepared.image, self.config
        header = upsample_header(image.header, shape=result.shape[-2:], factor=2)
        normalizers = prepared.normalizers
        header["ENHNORM"] = (float(normalizers[0].constant), "Enhance normalisation constant (input units)")
        if len(normalizers) > 1:  # a cube: every plane's constant (ENHNnnnn, 1-based as FITS axes)
            for k, normalizer in enumerate(normalizers, 1):
                header[f"ENHN{k:04d}"] = (float(normalizer.constant), f"Enhance normalisation of plane {k}")
        header["DATE"] = (datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"),
                          "file written (UTC)")
        source = os.path.basename(prepared.path)
        if image.hdu_index is not None:
            source += f" HDU {image.hdu_index}"
        if len(normalizers) == 1:
            normalisation = [f"normalisation: {normalizers[0].describe()}"]
        else:
            normalisation = [f"normalisation, plane {k}: {n.describe()}" for k, n in enumerate(normalizers, 1)]
        photometry = (self.response.describe(self.kind, constant=normalizers[0].constant)
                      if self.response is not None else "the network's output as it is (faithful)")
        return add_history(
            header,
            [
                f"Enhanced x2 by enhance_lib {__version__} (Diaz Baso+Asensio Ramos 2018)",
                f"network: {self.kind} {config.model} depth={config.depth} filters={config.filters} "
                f"activation={config.activation}",
                f"weights: {os.path.basename(str(self.weights))}",
                f"backend: {self.backend} ({self.precision})",
                *normalisation,
                f"photometry: {photometry}",
                f"input: {source}",
            ],
        )

    def write(self, prepared, result, output_path):
        """Write the result with the header updated for the x2 grid (atomically)."""
        from .fitsio import write_image

        write_image(output_path, result, self.output_header(prepared, result), input_path=prepared.path,
                    compress=self.compress)
        log.debug("wrote %s", output_path)

    def enhance_file(self, input_path, output_path, *, progress=False, prepared=None):
        """Enhance one file; return the enhanced data as written.

        ``prepared`` (from :func:`prepare`) saves reading the file again.

        Raises
        ------
        EnhanceError
            The input cannot be enhanced or the output cannot be written.
        """
        from .fitsio import same_file

        if same_file(input_path, output_path):
            raise EnhanceError("output would overwrite the input file", path=output_path)
        check_output_folder(output_path)
        prepared = self.prepare(input_path) if prepared is None else prepared
        start = time.perf_counter()
        result = self.predict(prepared, progress=progress)
        from .plotting import shape_text

        log.info("%s: prediction took %.2f s; new size %s", input_path, time.perf_counter() - start,
                 shape_text(result.shape) if result.ndim == 2 else f"{result.shape[0]} planes of "
                 + shape_text(result.shape[1:]))
        self.write(prepared, result, output_path)
        return result


@dataclasses.dataclass
class Outcome:
    """What happened to one input of :func:`enhance_files`.

    Attributes
    ----------
    input, output : str
    status : {'done', 'skipped', 'failed'}
    message : str
        Why it failed (empty otherwise).
    """

    input: str
    output: str
    status: str
    message: str = ""

    def fail(self, exc):
        """Mark it failed, with the error's message (without the path an EnhanceError prefixes)."""
        self.status, self.message = "failed", getattr(exc, "message", None) or str(exc)


def output_paths(inputs, folder):
    """Output paths in ``folder`` keeping each input's file name (a ``.gz`` ending dropped:
    outputs are not compressed).

    Raises
    ------
    EnhanceError
        Two inputs with the same file name (their outputs would collide).
    """
    outputs, seen = [], {}
    for path in inputs:
        name = os.path.basename(os.fspath(path))
        name = name[:-3] if name.endswith(".gz") else name
        if name in seen:
            raise EnhanceError(f"{seen[name]} and {path} would both be written as {name}", path=folder)
        seen[name] = path
        outputs.append(os.path.join(os.fspath(folder), name))
    return outputs


def enhance_files(engine, inputs, outputs, *, skip_existing=False, progress=False):
    """Enhance many files through one network, reading ahead and writing behind.

    While file k is predicted, a thread reads and normalises file k+1 (at most
    one file ahead) and another writes file k-1. A file that cannot be done is
    logged as one error line naming it; the others go on.

    Parameters
    ----------
    engine : Engine
        May be None when every output exists and ``skip_existing`` is set.
    inputs, outputs : sequence of str or os.PathLike
        Paired input and output files.
    skip_existing : bool
        Leave inputs whose output exists alone (to finish an interrupted run).
    progress : bool
        One progress bar over the files.

    Returns
    -------
    list of Outcome
        In the order of ``inputs``.
    """
    from .fitsio import same_file

    outcomes = [Outcome(os.fspath(i), os.fspath(o), "pending") for i, o in zip(inputs, outputs)]
    todo = []
    for outcome in outcomes:
        if skip_existing and os.path.exists(outcome.output):
            outcome.status = "skipped"
        elif same_file(outcome.input, outcome.output):
            outcome.status, outcome.message = "failed", "output would overwrite the input file"
        else:
            todo.append(outcome)

    def fail(outcome, exc):
        outcome.fail(exc)
        log.error("%s: %s", outcome.input, outcome.message)

    def prepare(outcome):
        check_output_folder(outcome.output)
        return engine.prepare(outcome.input)

    bar = tqdm(total=len(outcomes), disable=not progress, unit="file", desc="enhancing")
    bar.update(len(outcomes) - len(todo))
    with concurrent.futures.ThreadPoolExecutor(1) as reader, concurrent.futures.ThreadPoolExecutor(1) as writer:
        ahead = reader.submit(prepare, todo[0]) if todo else None
        writing = None
        for k, outcome in enumerate(todo):
            current = ahead
            ahead = reader.submit(prepare, todo[k + 1]) if k + 1 < len(todo) else None
            try:
                prepared = current.result()
                result = engine.predict(prepared)
            except (EnhanceError, OSError) as exc:
                fail(outcome, exc)
                bar.update()
                continue
            if writing is not None:
                _finish_write(*writing, bar, fail)
            writing = (writer.submit(engine.write, prepared, result, outcome.output), outcome)
        if writing is not None:
            _finish_write(*writing, bar, fail)
    bar.close()
    return outcomes


def _finish_write(future, outcome, bar, fail):
    try:
        future.result()
        outcome.status = "done"
    except (EnhanceError, OSError) as exc:
        fail(outcome, exc)
    bar.update()


# ---- Dask: the same files on local worker processes or an existing cluster ----

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
        msg = "--workers and --scheduler need dask and distributed (pip install 'enhance-keras3[dask]')"
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
        One progress bar over the files.
    retries : int
        Times Dask reruns a file whose worker died (outputs are atomic, so a
        rerun never sees a partial file).

    Returns
    -------
    list of Outcome
        In the order of ``inputs``.
    """
    distributed = import_distributed()
    outcomes = [Outcome(os.fspath(i), os.fspath(o), "pending") for i, o in zip(inputs, outputs)]
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
    with tqdm(total=len(outcomes), initial=len(outcomes) - len(todo), disable=not progress, unit="file",
              desc="enhancing") as bar:
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
