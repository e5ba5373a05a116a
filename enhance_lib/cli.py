"""The ``enhance`` command: deconvolve and x2 super-resolve an HMI FITS file."""

import logging
import os
import sys
import time
from pathlib import Path

import numpy as np

from . import __version__
from .clitools import OneLineParser, run_cli, setup_logging
from .errors import EnhanceError

log = logging.getLogger(__name__)

__all__ = ["build_parser", "default_weights", "enhance_file", "enhance_main"]

TYPES = ("intensity", "blos")
NORMALIZATIONS = "quiet-sun, max, none, or a number"


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


def build_parser():
    """The argument parser of ``enhance`` (the original's flags, same meanings)."""
    p = OneLineParser(
        prog="enhance",
        description="Deconvolve and super-resolve (x2) an SDO/HMI continuum image or "
        "line-of-sight magnetogram with Enhance (Diaz Baso & Asensio Ramos 2018, A&A 614, A5).",
    )
    p.add_argument("-i", "--input", required=True, help="input FITS file (first HDU with an image; 2-D or a 3-D cube)")
    p.add_argument("-o", "--out", required=True, help="output FITS file (written atomically)")
    p.add_argument("-t", "--type", default="intensity", choices=TYPES, help="kind of data (default: intensity)")
    p.add_argument(
        "-w",
        "--weights",
        help="network weights: Keras 3 .weights.h5 or the original's Keras 2 HDF5 "
        "(default: network/{type}.weights.h5, the shipped network)",
    )
    p.add_argument("-d", "--depth", type=int, help="residual blocks; read from the weights, checked if given")
    p.add_argument("-k", "--kernels", type=int, help="filters per layer; read from the weights, checked if given")
    p.add_argument(
        "-m", "--model", choices=("keepsize", "encdec"), help="network family; read from the weights, checked if given"
    )
    p.add_argument(
        "-c",
        "--activation",
        choices=("relu", "elu"),
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
        choices=("auto", "cpu", "gpu"),
        default="auto",
        help="where to compute (default auto: a GPU when the Keras backend sees one); "
        "the backend is chosen with KERAS_BACKEND=tensorflow (default), jax or torch",
    )
    p.add_argument(
        "--precision",
        choices=("float32", "bfloat16"),
        default="float32",
        help="arithmetic: float32 (default, exact) or bfloat16 (faster on CPUs with AVX512-BF16 "
        "and on GPUs, ~1 %% relative error)",
    )
    p.add_argument("--plot", metavar="PNG", help="also write a figure comparing input and output")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress or messages, only errors")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return p


def _check_output_folder(path):
    """Fail before the (long) prediction when the output cannot be written."""
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise EnhanceError(f"cannot create the output folder ({exc.strerror})", path=path) from None
    if not os.access(folder, os.W_OK):
        raise EnhanceError("output folder is not writable", path=path)


def enhance_file(
    input_path,
    output_path,
    *,
    kind="intensity",
    weights=None,
    model=None,
    depth=None,
    filters=None,
    activation=None,
    normalization=None,
    tile=None,
    precision="float32",
    device="auto",
    plot=None,
    progress=False,
):
    """Enhance a FITS file and write the x2 result with an updated header.

    Parameters
    ----------
    input_path, output_path : str or os.PathLike
    kind : {'intensity', 'blos'}
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
    plot : str, optional
        PNG comparison figure.
    progress : bool
        Progress bars.

    Returns
    -------
    numpy.ndarray
        The enhanced data as written.
    """
    from .backend import describe, device_scope, resolve_device
    from .fitsio import add_history, read_image, same_file, upsample_header, write_image
    from .normalize import make_normalizer, parse_method
    from .predict import Predictor, enhance_array
    from .weights import load_network

    if kind not in TYPES:
        raise EnhanceError(f"unknown type {kind!r}; choose intensity or blos")
    parse_method(kind, normalization)  # fail before any work
    if same_file(input_path, output_path):
        raise EnhanceError("output would overwrite the input file", path=output_path)
    if weights is None:
        weights = default_weights(kind)
        if not Path(weights).is_file():
            raise EnhanceError(
                f"no shipped {kind} network found; pass a weights file with --weights PATH "
                "(a Keras 3 .weights.h5 from enhance-train, or an original Enhance HDF5 file)",
                path=weights,
            )
    _check_output_folder(output_path)
    image = read_image(input_path)
    device = resolve_device(device)
    backend = describe(device)
    with device_scope(device):
        net, config = load_network(weights, model=model, depth=depth, filters=filters, activation=activation)
        predictor = Predictor(net, config, tile=tile, precision=precision, device=device)
    planes = image.data if image.data.ndim == 3 else image.data[np.newaxis]
    log.info(
        "%s: %s, %d plane(s) of %d x %d px; network %s depth %d, %d filters (%s); %s",
        input_path,
        kind,
        planes.shape[0],
        planes.shape[1],
        planes.shape[2],
        config.model,
        config.depth,
        config.filters,
        weights,
        backend,
    )
    start = time.perf_counter()
    outputs, constants, descriptions = [], [], []
    for index, plane in enumerate(planes):
        if not np.isfinite(plane).any():
            raise EnhanceError(f"plane {index} has no finite pixels", path=input_path)
        normalizer = make_normalizer(plane, image.header, kind=kind, method=normalization)
        constants.append(normalizer.constant)
        descriptions.append(normalizer.describe())
        log.debug("plane %d: %s", index, normalizer.describe())
        outputs.append(enhance_array(plane, predictor, normalizer, progress=progress))
    result = np.stack(outputs) if image.data.ndim == 3 else outputs[0]
    log.info("prediction took %.2f s; new size %s", time.perf_counter() - start, "x".join(map(str, result.shape)))

    header = upsample_header(image.header, shape=result.shape[-2:], factor=2)
    header["ENHNORM"] = (float(constants[0]), "Enhance normalisation constant (input units)")
    header = add_history(
        header,
        [
            f"Enhanced x2 by enhance_lib {__version__} (Diaz Baso+Asensio Ramos 2018)",
            f"network: {kind} {config.model} depth={config.depth} filters={config.filters} "
            f"activation={config.activation}",
            f"weights: {os.path.basename(str(weights))}",
            f"backend: {backend} ({precision})",
            f"normalisation: {descriptions[0]}",
            f"input: {os.path.basename(str(input_path))} HDU {image.hdu_index}",
        ],
    )
    write_image(output_path, result, header, input_path=input_path)
    log.info("wrote %s", output_path)
    if plot:
        from .plotting import plot_comparison

        first_in = planes[0]
        first_out = result if result.ndim == 2 else result[0]
        plot_comparison(plot, first_in, first_out, kind=kind, title=os.path.basename(str(input_path)))
        log.info("wrote %s", plot)
    return result


def _run(args):
    enhance_file(
        args.input,
        args.out,
        kind=args.type,
        weights=args.weights,
        model=args.model,
        depth=args.depth,
        filters=args.kernels,
        activation=args.activation,
        normalization=args.normalization,
        tile=args.tile,
        precision=args.precision,
        device=args.device,
        plot=args.plot,
        progress=not args.quiet,
    )


def enhance_main(argv=None):
    """Entry point of ``enhance`` / ``python enhance.py``; returns the exit code."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # -h, --version, usage errors: keep main() a function
        return exc.code
    setup_logging(quiet=args.quiet)
    return run_cli("enhance", _run, args)
