"""The ``enhance`` command: deconvolve and x2 super-resolve HMI FITS files."""

import glob
import logging
import os
import time

import numpy as np

from . import __version__
from .scripts.common import OneLineParser, run_cli, setup_logging
from .errors import EnhanceError
from .config import ACTIVATIONS, COMPRESSIONS, DEVICES, KINDS, MODELS, PRECISIONS
from .kinds import resolve_kind
from .pipeline import FITS_PATTERNS, Engine, default_weights, enhance_files, output_paths

log = logging.getLogger(__name__)

__all__ = ["build_parser", "default_weights", "enhance_file", "enhance_main", "expand_inputs"]

TYPES = KINDS
NORMALIZATIONS = "quiet-sun, max, none, or a number"


def build_parser():
    """The argument parser of ``enhance`` (the original's flags, same meanings)."""
    p = OneLineParser(
        prog="enhance",
        description="Deconvolve and super-resolve (x2) an SDO/HMI continuum image or "
        "line-of-sight magnetogram with Enhance (Diaz Baso & Asensio Ramos 2018, A&A 614, A5).",
    )
    p.add_argument(
        "-i", "--input", required=True, nargs="+", action="extend", metavar="INPUT",
        help="input FITS file(s) (first HDU with an image; 2-D or a 3-D cube), folders (their *.fits, "
        "*.fits.gz, *.fts) or quoted glob patterns",
    )
    p.add_argument(
        "-o", "--out", required=True,
        help="output FITS file (written atomically); with several inputs, a folder or a pattern, the "
        "output folder, where each output keeps its input's file name",
    )
    p.add_argument(
        "-t", "--type", choices=TYPES,
        help="kind of data (default: from the header's CONTENT, then BUNIT; intensity when it says neither)",
    )
    p.add_argument(
        "-w",
        "--weights",
        help="network weights: Keras 3 .weights.h5 or the original's Keras 2 HDF5 "
        "(default: network/{type}.weights.h5, the shipped network)",
    )
    p.add_argument("-d", "--depth", type=int, help="residual blocks; read from the weights, checked if given")
    p.add_argument("-k", "--kernels", type=int, help="filters per layer; read from the weights, checked if given")
    p.add_argument(
        "-m", "--model", choices=MODELS, help="network family; read from the weights, checked if given"
    )
    p.add_argument(
        "-c",
        "--activation",
        choices=ACTIVATIONS,
        help="activation; read from Keras 3 weights of this program, else relu",
    )
    p.add_argument(
        "-n",
        "--normalization",
        metavar="METHOD",
        help=f"{NORMALIZATIONS}; default quiet-sun for intensity (with a limb-darkening fit for "
        "full-disk images), 1000 (G -> kG) for blos",
    )
    p.add_argument(
        "--tile",
        type=int,
        default=None,
        help="tile size in input pixels for large images (0: whole image at once; default on a "
        "CPU 512 with TensorFlow, 128 with JAX or PyTorch; 2048 on a GPU)",
    )
    p.add_argument(
        "--device",
        choices=DEVICES,
        default="auto",
        help="where to compute (default auto: a GPU when the Keras backend sees one); "
        "the backend is chosen with KERAS_BACKEND=tensorflow (default), jax or torch",
    )
    p.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="float32",
        help="arithmetic: float32 (default, exact) or bfloat16 (faster on CPUs with AVX512-BF16 "
        "and on GPUs, ~1 %% relative error)",
    )
    p.add_argument(
        "--compress", choices=COMPRESSIONS, default="none",
        help="output storage: none (default; a 4096^2 output is 268 MB), gzip (tile-compressed, lossless) or rice "
        "(tile-compressed, quantised to 1/16 of the noise: lossy, ~4x smaller than gzip)",
    )
    p.add_argument(
        "--conserve-flux", action="store_true",
        help="invert the network's response to uniform inputs, so that a uniform input comes back unchanged "
        "(the networks darken intensity by ~1.8 %% and add a few G to a field-free magnetogram); default: "
        "the network's output as it is, as the published method",
    )
    cluster = p.add_mutually_exclusive_group()
    cluster.add_argument(
        "--workers", type=int, metavar="N",
        help="run the files on N local Dask worker processes (needs the [dask] extra)",
    )
    cluster.add_argument(
        "--scheduler", metavar="ADDRESS",
        help="run the files on an existing Dask cluster (e.g. tcp://host:8786, started by dask-jobqueue "
        "or dask scheduler/worker on hosts sharing the files; needs the [dask] extra)",
    )
    p.add_argument(
        "--skip-existing", action="store_true",
        help="leave inputs whose output exists alone (rerun a killed batch to finish it)",
    )
    p.add_argument("--plot", metavar="PNG", help="also write a figure comparing input and output (one input)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress or messages, only errors")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return p


def expand_inputs(items):
    """The input files of ``-i``: files as given, folders' FITS files and glob patterns sorted.

    Returns
    -------
    files : list of str
    batch : bool
        True when the output is a folder: several inputs, a folder or a pattern.

    Raises
    ------
    EnhanceError
        A folder or pattern with no FITS files.
    """
    files, batch = [], len(items) > 1
    for item in items:
        if os.path.isdir(item):
            found = sorted({f for pattern in FITS_PATTERNS for f in glob.glob(os.path.join(glob.escape(item), pattern))})
            if not found:
                raise EnhanceError("no FITS files (*.fits, *.fits.gz, *.fts) in this folder", path=item)
            files += found
            batch = True
        elif glob.has_magic(item) and not os.path.exists(item):
            found = sorted(glob.glob(item))
            if not found:
                raise EnhanceError("no file matches this pattern", path=item)
            files += found
            batch = True
        else:
            files.append(item)
    return files, batch


def enhance_file(input_path, output_path, *, kind=None, weights=None, model=None, depth=None,
                 filters=None, activation=None, normalization=None, tile=None, precision="float32",
                 device="auto", conserve_flux=False, compress=None, plot=None, progress=False):
    """Enhance a FITS file and write the x2 result with an updated header.

    Parameters
    ----------
    input_path, output_path : str or os.PathLike
    kind : {'intensity', 'blos'} or None
        None: from the file's header (CONTENT, then BUNIT; else intensity).
    weights : str, optional
        Weights file; default the shipped network for ``kind``.
    model, depth, filters, activation : optional
        Checked against the weights file.
    normalization : None, 'quiet-sun', 'max', 'none' or float
    tile : int, optional
        Tile size (input pixels); None for the default.
    precision : {'float32', 'bfloat16'}
    device : {'auto', 'cpu', 'gpu'}
        Where to compute; ``auto`` takes a GPU when the Keras backend sees one.
    conserve_flux : bool
        Invert the network's response to uniform inputs (:mod:`enhance_lib.photometry`).
    compress : {None, 'none', 'gzip', 'rice'}
        Output storage (:func:`enhance_lib.fitsio.write_image`).
    plot : str, optional
        PNG comparison figure.
    progress : bool
        Progress bars.

    Returns
    -------
    numpy.ndarray
        The enhanced data as written.
    """
    from .fitsio import same_file
    from .pipeline import check_options, check_output_folder, prepare

    # Bad options, input and output fail before the network is built.
    check_options(kind=kind, normalization=normalization, weights=weights)
    if same_file(input_path, output_path):
        raise EnhanceError("output would overwrite the input file", path=output_path)
    check_output_folder(output_path)
    from .weights import recorded_kind

    prepared = prepare(input_path, kind=kind, normalization=normalization, default_kind=recorded_kind(weights))
    kind = prepared.kind
    engine = Engine(kind=kind, weights=weights, model=model, depth=depth, filters=filters, activation=activation,
                    normalization=normalization, tile=tile, precision=precision, device=device,
                    conserve_flux=conserve_flux, compress=compress)
    result = engine.enhance_file(input_path, output_path, progress=progress, prepared=prepared)
    log.info("wrote %s", output_path)
    if plot:
        from .plotting import plot_comparison

        plane, normalizer = prepared.planes[0], prepared.normalizers[0]
        enhanced = result if result.ndim == 2 else result[0]
        local = local_enhanced = None
        if kind == "intensity":  # contrast on I/I_qs: limb darkening is not contrast
            local = normalizer.normalize(plane)
            local_enhanced = enhanced / normalizer.denormalize(np.ones(enhanced.shape, np.float32))
        plot_comparison(plot, plane, enhanced, kind=kind, title=os.path.basename(str(input_path)),
                        header=prepared.image.header, local=local, local_enhanced=local_enhanced)
        log.info("wrote %s", plot)
    return result


def _engine_options(args, kind):
    return dict(kind=kind, weights=args.weights, model=args.model, depth=args.depth, filters=args.kernels,
                activation=args.activation, normalization=args.normalization, tile=args.tile,
                precision=args.precision, device=args.device, conserve_flux=args.conserve_flux,
                compress=args.compress)


def _run(args):
    from .backend import check_installed, resolve_device

    check_installed()  # an unusable KERAS_BACKEND, or no GPU for --device gpu, fails before any file is read
    if args.device == "gpu":
        resolve_device("gpu")
    if args.workers or args.scheduler:
        from .pipeline import import_distributed

        import_distributed()
    inputs, batch = expand_inputs(args.input)
    if args.workers is not None and args.workers < 1:
        raise EnhanceError(f"--workers must be >= 1 (got {args.workers})")
    if not batch and (args.workers or args.scheduler):
        start = time.perf_counter()
        options = _engine_options(args, _file_kind(args.type, inputs[0], args.weights))
        return _report(_run_dask(args, inputs, [args.out], options), start)
    if not batch:
        if args.skip_existing and os.path.exists(args.out):
            log.info("%s exists: skipped", args.out)
            return 0
        enhance_file(args.input[0], args.out, plot=args.plot, progress=not args.quiet,
                     **_engine_options(args, args.type))
        return 0
    if args.plot:
        raise EnhanceError("--plot takes one input")
    if os.path.isfile(args.out):
        raise EnhanceError("with several inputs the output must be a folder", path=args.out)
    for item in args.input:
        if os.path.isdir(item) and os.path.isdir(args.out) and os.path.samefile(item, args.out):
            raise EnhanceError("the output folder is an input folder; choose another", path=args.out)
    outputs = output_paths(inputs, args.out)
    try:
        os.makedirs(args.out, exist_ok=True)
    except OSError as exc:
        raise EnhanceError(f"cannot create the output folder ({exc.strerror})", path=args.out) from None
    start = time.perf_counter()
    outcomes = []
    for kind, (group_inputs, group_outputs) in _by_kind(args.type, inputs, outputs, args.weights).items():
        options = _engine_options(args, kind)
        if args.workers or args.scheduler:
            outcomes += _run_dask(args, group_inputs, group_outputs, options)
            continue
        if args.skip_existing and all(os.path.exists(o) for o in group_outputs):
            engine = None  # nothing to do: no network to build
        else:
            engine = Engine(**options)
        outcomes += enhance_files(engine, group_inputs, group_outputs, skip_existing=args.skip_existing,
                                  progress=not args.quiet)
    order = {path: k for k, path in enumerate(map(os.path.abspath, outputs))}
    outcomes.sort(key=lambda o: order[os.path.abspath(o.output)])
    return _report(outcomes, start)


def _by_kind(kind, inputs, outputs, weights=None):
    """The files of each kind of data: all of ``kind`` when given, else each file's header's.

    Returns a dict kind -> (inputs, outputs), in the order the kinds first occur.
    """
    groups = {}
    for path, output in zip(inputs, outputs):
        found = kind or _file_kind(None, path, weights)
        group = groups.setdefault(found, ([], []))
        group[0].append(path)
        group[1].append(output)
    return groups


def _file_kind(kind, path, weights=None):
    """``kind``, or the kind the file's header says, or the one the weights record (an
    unreadable file gets the default: reading it for real then says what is wrong)."""
    from .fitsio import read_header
    from .weights import recorded_kind

    return resolve_kind(kind, read_header(path), source=path, default=recorded_kind(weights))


def _run_dask(args, inputs, outputs, options):
    from .pipeline import enhance_files_on_cluster

    return enhance_files_on_cluster(inputs, outputs, engine_options=options, workers=args.workers,
                                    scheduler=args.scheduler, skip_existing=args.skip_existing,
                                    progress=not args.quiet)


def _report(outcomes, start):
    """Log the summary line; the exit code (1 when any file failed)."""
    counts = {status: sum(o.status == status for o in outcomes) for status in ("done", "skipped", "failed")}
    summary = (f"{counts['done']} done, {counts['skipped']} skipped, {counts['failed']} failed "
               f"in {time.perf_counter() - start:.1f} s")
    (log.warning if counts["failed"] else log.info)("%s", summary)
    return 1 if counts["failed"] else 0


def enhance_main(argv=None):
    """Entry point of ``enhance`` / ``python enhance.py``; returns the exit code."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # -h, --version, usage errors: keep main() a function
        return exc.code
    setup_logging(quiet=args.quiet)
    return run_cli("enhance", _run, args)
