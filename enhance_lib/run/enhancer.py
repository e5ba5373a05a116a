"""Enhancing one image: reading and checking it, its normalisation, the network, the x2 header.

:class:`Engine` builds the network once and enhances arrays and files with it;
:func:`prepare` and :func:`prepare_data` do everything before the prediction (read,
check, find the data type, fit the normalisation of each plane); :func:`enhance_file`
is the whole job on one file, as the ``enhance`` command does it.
"""

import dataclasses
import datetime
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np

from .. import __version__
from ..errors import EnhanceError, warn_metadata, warn_user
from ..io.atomic import check_output_folder
from ..sun.kinds import check_kind, resolve_kind

log = logging.getLogger(__name__)

__all__ = [
    "Engine", "check_options", "default_weights", "enhance_file", "out_of_memory", "prepare",
    "prepare_data",
]


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
    folders.append(Path(__file__).resolve().parents[2] / "network")
    folders.append(Path(sys.prefix) / "share" / "enhance" / "network")
    for folder in folders:
        if (folder / name).is_file():
            return folder / name
    return folders[0] / name


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
    from ..sun.normalization import parse_method

    if kind is not None:
        check_kind(kind)
    parse_method(kind or "intensity", normalization)
    if kind is not None and weights is not None:
        from ..nets.weights import check_kind_matches, inspect_weights, recorded_kind

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
        None: from the header (:func:`enhance_lib.sun.kinds.resolve_kind`).
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

    from ..io.fits import FitsImage
    from ..sun.normalization import make_normalizer

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
        if not np.isfinite(plane).any():  # a cube's plane (a 2-D image has a finite pixel, checked above)
            warn_user(f"{source}: plane {index + 1} of {len(planes)} (counted from 1, as ENHNnnnn) has no "
                      "finite pixels; its output is all NaN", stacklevel=4)
            normalizers.append(None)
            continue
        try:
            normalizers.append(make_normalizer(plane, header, kind=kind, method=normalization))
        except EnhanceError as exc:
            raise EnhanceError(exc.message, path=source) from None
        log.debug("plane %d: %s", index + 1, normalizers[-1].describe())
    image = FitsImage(data=data, header=header, hdu_index=None, path=str(source))
    return _Prepared(str(source), image, planes, normalizers, kind)


#: HMI's pixel scale, at which the networks were trained (arcsec per pixel).
HMI_SCALE = 0.504


def _check_pixel_scale(header, source):
    """Warn when the header's pixel scale is more than 10 % from HMI's."""
    from ..io.fits import pixel_scale

    scale = pixel_scale(header)
    if scale is not None and abs(scale / HMI_SCALE - 1) > 0.1:
        warn_metadata(f"{source}: pixel scale {scale:.4g}\"/px is far from HMI's {HMI_SCALE}\"/px; the networks were "
                  "trained at HMI's scale, so features of other sizes are not deconvolved as they should be",
                  stacklevel=4)


def prepare(path, *, kind=None, normalization=None, default_kind=None):
    """Read a file and build the normaliser of each plane (the limb fit of a full disk).

    ``kind`` None takes the kind from the file's header, else ``default_kind``, else
    intensity.

    Raises
    ------
    EnhanceError
        Unreadable or not FITS, a header that promises more than the file holds or the
        memory takes, no image, an all-NaN plane, a bad normalisation, or the memory
        running out all the same (a ``MemoryError`` becomes :func:`out_of_memory`).
    """
    from ..io.fits import read_header, read_image

    try:
        image = read_image(path)
        prepared = prepare_data(image.data, image.header, kind=kind, normalization=normalization, source=str(path),
                                default_kind=default_kind)
    except MemoryError:
        # read_image refuses what will not fit; the memory can still run out (other programs).
        header = read_header(path)
        shape = None if header is None else tuple(header.get(f"NAXIS{i}", 0) for i in range(header["NAXIS"], 0, -1))
        raise out_of_memory("reading", shape, path) from None
    prepared.image = image  # with its HDU index, for the HISTORY
    return prepared


def out_of_memory(step, shape, path):
    """The :class:`EnhanceError` that stands for a ``MemoryError`` at ``step`` of enhancing an image.

    Parameters
    ----------
    step : str
        'reading', 'enhancing' or 'writing'.
    shape : tuple of int or None
        (ny, nx) or (nplanes, ny, nx) of the input image, when known.
    path : str or os.PathLike
        The file.

    Returns
    -------
    EnhanceError
        'out of memory enhancing the image of 4096 x 4096 pixels (67.1 MB as float32; its x2
        output is 4 times that)', naming the file.

    Examples
    --------
    >>> out_of_memory("enhancing", (4096, 4096), "hmi.fits").message
    'out of memory enhancing the image of 4096 x 4096 pixels (67.1 MB as float32; its x2 output is 4 times that)'
    """
    if not shape:
        return EnhanceError(f"out of memory {step} the image", path=path)
    *planes, ny, nx = (int(n) for n in shape)
    size = 4 * nx * ny * (planes[0] if planes else 1)
    what = f"{nx} x {ny} pixels" + (f" x {planes[0]} planes" if planes else "")
    return EnhanceError(f"out of memory {step} the image of {what} ({size / 1e6:.3g} MB as float32; its x2 output "
                        "is 4 times that)", path=path)


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
        built, :mod:`enhance_lib.sun.photometry`), so that a uniform input comes back
        unchanged; default False, the network's output as it is.
    compress : {None, 'none', 'gzip', 'rice'}
        How :meth:`write` stores the output (:func:`enhance_lib.io.fits.write_image`).

    Raises
    ------
    EnhanceError
        Bad options or weights, or a backend that cannot run.
    """

    def __init__(self, *, kind="intensity", weights=None, model=None, depth=None, filters=None, activation=None,
                 normalization=None, tile=None, precision="float32", device="auto", conserve_flux=False,
                 compress=None):
        from ..io.fits import COMPRESSION
        from ..nets.backend import describe, device_scope, resolve_device
        from ..nets.weights import load_network
        from .tiling import Predictor

        check_kind(kind)
        check_options(kind=kind, normalization=normalization)  # fail before any work
        if compress not in (None, "none", *COMPRESSION):
            raise EnhanceError(f"unknown compression {compress!r}; choose none, gzip or rice")
        self.compress = compress
        if weights is None:
            weights = default_weights(kind)
            if not Path(weights).is_file():
                raise EnhanceError(
                    f"no shipped {kind} network found; pass a weights file as `weights` "
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
            from ..nets.backend import cpu_flags

            if "amx_bf16" not in cpu_flags():
                warn_user("`precision` bfloat16 will not be faster on this CPU: it has no AMX (bfloat16 ran "
                          "0.61x as fast as float32 on an AVX512-BF16 Xeon without AMX; see the Performance guide, "
                          "docs/guide/performance.md)")
        with device_scope(self.device):
            net, self.config = load_network(weights, model=model, depth=depth, filters=filters, activation=activation,
                                            kind=kind)
            self.predictor = Predictor(net, self.config, tile=tile, precision=precision, device=self.device)
            self.response = None
            if conserve_flux:
                from ..sun.photometry import measure_response

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
        """The enhanced data (2-D, or 3-D for a cube) in the input's units; an all-NaN plane of a
        cube comes out all NaN.

        Raises
        ------
        EnhanceError
            An image smaller than the network's reach; out of memory (:func:`out_of_memory`; a
            ``MemoryError`` would end a batch or the program with a traceback).
        """
        from .tiling import enhance_array

        ny, nx = prepared.planes.shape[-2:]
        reach = 2 * self.predictor.margin + 1
        if min(ny, nx) < reach:
            raise EnhanceError(
                f"image is {ny} x {nx} pixels, smaller than the network's reach ({reach} x {reach}: each output "
                f"pixel depends on the input up to {self.predictor.margin} pixels away), so the output would be "
                "made mostly from the padding at its edges; enhance a larger region", path=prepared.path)
        try:
            outputs = [
                np.full((2 * ny, 2 * nx), np.nan, np.float32) if normalizer is None
                else enhance_array(plane, self.predictor, normalizer, progress=progress, response=self.response)
                for plane, normalizer in zip(prepared.planes, prepared.normalizers, strict=True)
            ]
            return np.stack(outputs) if prepared.image.data.ndim == 3 else outputs[0]
        except MemoryError:
            raise out_of_memory("enhancing", prepared.image.data.shape, prepared.path) from None

    def output_header(self, prepared, result):
        """The header of ``result``: the input's, updated for the x2 grid, with HISTORY.

        See :func:`enhance_lib.io.fits.upsample_header` for the WCS rule.
        """
        from ..io.fits import add_history, upsample_header

        image, config = prepared.image, self.config
        header = upsample_header(image.header, shape=result.shape[-2:], factor=2)
        normalizers = prepared.normalizers
        first = next(n for n in normalizers if n is not None)  # prepare_data refuses data with no finite pixel
        header["ENHNORM"] = (float(first.constant), "Enhance normalisation constant (input units)")
        if len(normalizers) > 1:  # a cube: every plane's constant (ENHNnnnn, 1-based as FITS axes)
            for k, normalizer in enumerate(normalizers, 1):
                if normalizer is not None:  # an all-NaN plane has none (its HISTORY line says so)
                    header[f"ENHN{k:04d}"] = (float(normalizer.constant), f"Enhance normalisation of plane {k}")
        header["DATE"] = (datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"),
                          "file written (UTC)")
        source = os.path.basename(prepared.path)
        if image.hdu_index is not None:
            source += f" HDU {image.hdu_index}"
        if len(normalizers) == 1:
            normalisation = [f"normalisation: {first.describe()}"]
        else:
            normalisation = [f"normalisation, plane {k}: " + (n.describe() if n is not None else
                                                              "none (no finite pixels: output all NaN)")
                             for k, n in enumerate(normalizers, 1)]
        photometry = (self.response.describe(self.kind, constant=first.constant)
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
        """Write the result with the header updated for the x2 grid (atomically).

        Returns
        -------
        bool
            True when it replaced a file that was there.

        Raises
        ------
        EnhanceError
            The output cannot be written, or the memory runs out (:func:`out_of_memory`).
        """
        from ..io.fits import write_image

        try:
            return write_image(output_path, result, self.output_header(prepared, result), input_path=prepared.path,
                               compress=self.compress)
        except MemoryError:
            raise out_of_memory("writing", prepared.image.data.shape, prepared.path) from None

    def enhance_file(self, input_path, output_path, *, progress=False, prepared=None):
        """Enhance one file; return the enhanced data as written.

        ``prepared`` (from :func:`prepare`) saves reading the file again.

        Raises
        ------
        EnhanceError
            The input cannot be enhanced or the output cannot be written.
        """
        from ..io.fits import same_file

        if same_file(input_path, output_path):
            raise EnhanceError("output would overwrite the input file", path=output_path)
        check_output_folder(output_path)
        prepared = self.prepare(input_path) if prepared is None else prepared
        start = time.perf_counter()
        result = self.predict(prepared, progress=progress)
        from ..io.figures import shape_text

        log.info("%s: prediction took %.2f s; new size %s", input_path, time.perf_counter() - start,
                 shape_text(result.shape) if result.ndim == 2 else f"{result.shape[0]} planes of "
                 + shape_text(result.shape[1:]))
        replaced = self.write(prepared, result, output_path)
        log.info("wrote %s%s", output_path, " (replaced the file that was there)" if replaced else "")
        return result


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
        Invert the network's response to uniform inputs (:mod:`enhance_lib.sun.photometry`).
    compress : {None, 'none', 'gzip', 'rice'}
        Output storage (:func:`enhance_lib.io.fits.write_image`).
    plot : str, optional
        PNG comparison figure.
    progress : bool
        Progress bars.

    Returns
    -------
    numpy.ndarray
        The enhanced data as written.
    """
    from ..io.fits import same_file
    from ..nets.weights import recorded_kind

    # Bad options, input and output fail before the network is built.
    check_options(kind=kind, normalization=normalization, weights=weights)
    if same_file(input_path, output_path):
        raise EnhanceError("output would overwrite the input file", path=output_path)
    check_output_folder(output_path)
    prepared = prepare(input_path, kind=kind, normalization=normalization, default_kind=recorded_kind(weights))
    kind = prepared.kind
    engine = Engine(kind=kind, weights=weights, model=model, depth=depth, filters=filters, activation=activation,
                    normalization=normalization, tile=tile, precision=precision, device=device,
                    conserve_flux=conserve_flux, compress=compress)
    result = engine.enhance_file(input_path, output_path, progress=progress, prepared=prepared)
    if plot:
        from ..io.figures import plot_comparison

        # the first plane with data (a cube's all-NaN planes have no normaliser)
        index = next(k for k, n in enumerate(prepared.normalizers) if n is not None)
        plane, normalizer = prepared.planes[index], prepared.normalizers[index]
        enhanced = result if result.ndim == 2 else result[index]
        local = local_enhanced = None
        if kind == "intensity":  # contrast on I/I_qs: limb darkening is not contrast
            local = normalizer.normalize(plane)
            # the quiet-Sun level on the output's grid, then the output over it in the same
            # array: one output-sized array (a read-only broadcast 1 costs no memory)
            local_enhanced = normalizer.denormalize(np.broadcast_to(np.float32(1), enhanced.shape))
            np.divide(enhanced, local_enhanced, out=local_enhanced)
        plot_comparison(plot, plane, enhanced, kind=kind, title=os.path.basename(str(input_path)),
                        header=prepared.image.header, local=local, local_enhanced=local_enhanced)
        log.info("wrote %s", plot)
    return result
