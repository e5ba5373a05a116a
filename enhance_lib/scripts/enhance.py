"""``enhance`` (``python enhance.py``): deconvolve and x2 super-resolve HMI FITS files."""

import logging
import os
import sys
import time

from .. import __version__
from ..errors import EnhanceError
from ..io.atomic import check_output_folder
from ..nets.backend import check_installed, resolve_device
from ..nets.config import ACTIVATIONS, COMPRESSIONS, DEVICES, MODELS, PRECISIONS
from ..run.batch import enhance_files, expand_inputs, output_paths, summary
from ..run.cluster import enhance_files_on_cluster, import_distributed
from ..run.enhancer import Enhancer
from ..run.options import EnhanceOptions
from ..sun.kinds import KINDS
from .common import OneLineParser, run_program

log = logging.getLogger(__name__)

__all__ = ["build_parser", "main"]

NORMALIZATIONS = "quiet-sun, max, none, or a number"
#: Parameters of the library whose flag is spelled otherwise (see common.as_flags).
FLAGS = {"kind": "--type", "filters": "--kernels"}


def _file_args(p):
    """The files: inputs and outputs."""
    p.add_argument(
        "-i", "--input", required=True, nargs="+", action="extend", metavar="INPUT",
        help="input FITS file(s) (first HDU with an image; 2-D or a 3-D cube), folders (their *.fits, "
        "*.fits.gz, *.fts) or quoted glob patterns",
    )
    p.add_argument(
        "-o", "--out", required=True,
        help="output FITS file (written atomically), or a folder (an existing one, or a name ending in /) "
        "where it keeps its input's file name; with several inputs, a folder or a pattern, the output folder",
    )


def _network_args(p):
    """The network and its units: data type, weights, architecture, normalisation."""
    p.add_argument(
        "-t", "--type", choices=KINDS,
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


def _compute_args(p):
    """How to compute: tiles, device, precision."""
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
        help="arithmetic: float32 (default, exact) or bfloat16 (~1 %% relative error; faster only where the "
        "hardware computes in it: 2.5x on a Xeon with AMX, 0.6x (slower) on one with AVX512-BF16 and no AMX; "
        "not measured on GPUs; see docs/guide/performance.md)",
    )


def _output_args(p):
    """How outputs are stored and what they hold."""
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
    p.add_argument(
        "--residual", action="store_true",
        help="also write the forward check's residual (the output through HMI's PSF and pixels minus the input, "
        "on the input's grid) as the image HDU RESIDUAL; every output records the check's value as ENHFWD",
    )
    p.add_argument(
        "--uncertainty", action="store_true",
        help="also write 1-sigma maps on the output's grid: UNCERT (calibrated total), UNCNOISE (the input's noise "
        "through the network, by Monte-Carlo) and UNCMODEL (the network's structure-dependent error); costs about "
        "DRAWS + 1 predictions",
    )
    p.add_argument("--noise", type=float, metavar="SIGMA",
                   help="the input's noise per pixel, in its units, for --uncertainty (default: measured from the "
                   "data, recorded as ENHNOISE)")
    p.add_argument("--draws", type=int, default=8, metavar="N",
                   help="Monte-Carlo draws of the noise for UNCNOISE (default 8)")
    p.add_argument("--error-weights", metavar="FILE",
                   help="the error network of UNCMODEL (default: the shipped one, for the shipped networks)")


def _batch_args(p):
    """Batches: Dask, existing outputs; the figure, messages and version."""
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
        "--no-clobber", "--skip-existing", dest="skip_existing", action="store_true",
        help="leave outputs that exist alone (rerun a killed batch to finish it); without it an existing "
        "output is replaced, and the log says so",
    )
    p.add_argument("--plot", metavar="FIGURE",
                   help="also write a figure comparing input and output (one input; a cube's first plane with data, "
                   "which its title names), in the format its name ends with: .png, .pdf or .svg")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress or messages, only errors")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")


def build_parser():
    """The argument parser of ``enhance`` (the original's flags, same meanings)."""
    p = OneLineParser(
        prog="enhance",
        description="Deconvolve and super-resolve (x2) an SDO/HMI continuum image or "
        "line-of-sight magnetogram with Enhance (Diaz Baso & Asensio Ramos 2018, A&A 614, A5).",
    )
    _file_args(p)
    _network_args(p)
    _compute_args(p)
    _output_args(p)
    _batch_args(p)
    return p


def _options(args):
    """The run's options, from the flags (checked when made)."""
    return EnhanceOptions(kind=args.type, weights=args.weights, model=args.model, depth=args.depth,
                          filters=args.kernels, activation=args.activation, normalization=args.normalization,
                          tile=args.tile, precision=args.precision, device=args.device,
                          conserve_flux=args.conserve_flux, compress=args.compress, residual=args.residual,
                          uncertainty=args.uncertainty, noise=args.noise, draws=args.draws,
                          error_weights=args.error_weights)


def _run(args):

    check_installed()  # an unusable KERAS_BACKEND, or no GPU for --device gpu, fails before any file is read
    if args.device == "gpu":
        resolve_device("gpu")
    if args.workers is not None and args.workers < 1:
        raise EnhanceError(f"--workers must be >= 1 (got {args.workers})")
    if args.workers or args.scheduler:

        import_distributed()
    options = _options(args)
    inputs, batch = expand_inputs(args.input)
    if batch:
        return _run_batch(args, options, inputs)
    output = _single_output(inputs[0], args.out)
    if args.workers or args.scheduler:
        return _run_dask(args, options, inputs, [output])
    if args.skip_existing and os.path.exists(output):
        log.info("%s exists: left as it is (--no-clobber)", output)
        return 0
    Enhancer(options, build=False).enhance_file(inputs[0], output, plot=args.plot, progress=not args.quiet)
    return 0


def _run_batch(args, options, inputs):
    """Many inputs into the output folder, through one Enhancer (or on Dask)."""
    if args.plot:
        raise EnhanceError("--plot takes one input")
    if os.path.isfile(args.out):
        raise EnhanceError("with several inputs the output must be a folder", path=args.out)
    if args.out.lower().endswith(FITS_ENDINGS):
        raise EnhanceError("with several inputs the output is a folder, and this name ends like a FITS file; "
                           "give a folder name", path=args.out)
    for item in args.input:
        if os.path.isdir(item) and os.path.isdir(args.out) and os.path.samefile(item, args.out):
            raise EnhanceError("the output folder is an input folder; choose another", path=args.out)
    outputs = output_paths(inputs, args.out)
    check_output_folder(os.path.join(args.out, "x"))  # fails early; the folder is made by the first write
    if args.workers or args.scheduler:
        return _run_dask(args, options, inputs, outputs)
    start = time.perf_counter()
    outcomes = enhance_files(Enhancer(options, build=False), inputs, outputs, skip_existing=args.skip_existing,
                             progress=not args.quiet)
    return _report(outcomes, start)


#: Endings of a FITS file name (as `-o` for a batch, a usage error).
FITS_ENDINGS = (".fits", ".fits.gz", ".fts", ".fit")


def _single_output(input_path, out):
    """The output file of one input: ``out``, or ``out/<input name>`` when ``out`` is an existing
    folder or ends with a path separator (a ``.gz`` ending dropped: outputs are not compressed)."""
    if out.endswith(("/", os.sep)) or os.path.isdir(out):
        return output_paths([input_path], out)[0]
    return out


def _run_dask(args, options, inputs, outputs):
    """The files on one Dask cluster (local processes or a scheduler's)."""

    start = time.perf_counter()
    outcomes = enhance_files_on_cluster(inputs, outputs, options=options, workers=args.workers,
                                        scheduler=args.scheduler, skip_existing=args.skip_existing,
                                        progress=not args.quiet)
    return _report(outcomes, start)


def _report(outcomes, start):
    """Log the summary line; the exit code (1 when any file failed)."""
    failed = any(o.status == "failed" for o in outcomes)
    (log.warning if failed else log.info)("%s in %.1f s", summary(outcomes), time.perf_counter() - start)
    return 1 if failed else 0


def main(argv=None):
    """Entry point of ``enhance`` / ``python enhance.py``; returns the exit code
    (:func:`~enhance_lib.scripts.common.run_program`)."""
    return run_program(build_parser(), _run, argv, flags=FLAGS)


if __name__ == "__main__":
    sys.exit(main())
