"""The one object that runs the network: :class:`Enhancer`.

The programs (a file, a batch), the Dask workers and the Python functions all enhance through
an :class:`Enhancer`: it reads the weights file once, builds each data type's network once
(BatchNormalization folded in, one Keras model), and takes an image from
:class:`~enhance_lib.run.prepare.Prepared` to the x2 data, its header and the output file.
"""

import dataclasses
import logging
import os
import time

import numpy as np
from astropy.io import fits

from ..errors import EnhanceError, warn_user
from ..io.atomic import check_output_folder
from ..io.figure_data import shape_text
from ..io.figures import check_figure_path, plot_comparison
from ..io.fits import read_image, same_file, write_image
from ..nets import backend
from ..nets.backend import describe, device_scope, resolve_device
from ..nets.config import receptive_margin
from ..nets.weights import build_network, check_kind_matches, default_weights, inspect_weights
from ..sun.photometry import measure_response
from .error_network import ErrorPredictor
from .forward_check import DomainLevel, forward_check
from .options import EnhanceOptions
from .prepare import Prepared, out_of_memory, prepare_data, prepare_file
from .provenance import UNCERTAINTY_MAPS, extension_header, output_header, residual_header
from .tiling import Predictor, enhance_array
from .uncertainty import Calibration, plane_uncertainty

log = logging.getLogger(__name__)

__all__ = ["Enhanced", "Enhancer", "Network"]


@dataclasses.dataclass
class Network:
    """One data type's network, built: what the :class:`Enhancer` predicts with.

    Attributes
    ----------
    kind : {'intensity', 'blos'}
    weights : str
        The file it was read from.
    config : enhance_lib.nets.config.NetworkConfig
    predictor : enhance_lib.run.tiling.Predictor
    response : enhance_lib.sun.photometry.FlatResponse or None
        Its response to uniform inputs, with ``conserve_flux``.
    backend : str
        The Keras backend, its version and the device, for logs and HISTORY.
    domain : enhance_lib.run.forward_check.DomainLevel or None
        The forward residual it reaches on data like its training data, as its weights
        record it (None: not recorded, no input is reported as unlike them).
    error_predictor : enhance_lib.run.error_network.ErrorPredictor or None
        The error network of ``UNCMODEL`` (built with ``uncertainty``).
    error_weights : str or None
        Its file.
    calibration : enhance_lib.run.uncertainty.Calibration or None
        The factors of ``UNCERT``, as the error network's weights record them.
    """

    kind: str
    weights: str
    config: object
    predictor: object
    response: object
    backend: str
    domain: DomainLevel | None = None
    error_predictor: ErrorPredictor | None = None
    error_weights: str | None = None
    calibration: Calibration | None = None


@dataclasses.dataclass(frozen=True)
class Enhanced:
    """An enhanced image and what was measured about it: what :meth:`Enhancer.run` returns,
    and the array functions when a product beyond the data is asked for.

    Attributes
    ----------
    data : numpy.ndarray, float32, shape (2ny, 2nx) or (nplanes, 2ny, 2nx)
        In the input's units.
    header : astropy.io.fits.Header or None
        Its header (:meth:`Enhancer.output_header`); None where none was asked for.
    forward_percent : tuple of float
        The forward check of each plane (``ENHFWD``, percent; NaN for an all-NaN plane).
    residual : numpy.ndarray or None
        With ``residual``: the forward model of the output minus the input, on the input's
        grid and in its units, NaN where not compared.
    uncertainty, uncertainty_noise, uncertainty_model : numpy.ndarray or None
        With ``uncertainty``: ``UNCERT`` (the calibrated 1-sigma), ``UNCNOISE`` and
        ``UNCMODEL``, on the output's grid and in its units
        (:mod:`enhance_lib.run.uncertainty`).
    input_noise : tuple of float
        With ``uncertainty``: the input noise each plane's maps assumed (``ENHNOISE``, input
        units per pixel).
    extensions : tuple of (str, numpy.ndarray, astropy.io.fits.Header)
        The image HDUs written after the data (``RESIDUAL``, ``UNCERT``, ``UNCNOISE``,
        ``UNCMODEL``).
    """

    data: np.ndarray
    header: fits.Header | None
    forward_percent: tuple
    residual: np.ndarray | None = None
    uncertainty: np.ndarray | None = None
    uncertainty_noise: np.ndarray | None = None
    uncertainty_model: np.ndarray | None = None
    input_noise: tuple = ()
    extensions: tuple = ()


class Enhancer:
    """An Enhance network, built once, that enhances files, arrays, HDUs and sunpy maps.

    Parameters
    ----------
    options : EnhanceOptions, optional
        The choices; else made from ``keywords``.
    build : bool
        With a ``kind``, build its network now, so that bad weights fail at once (default);
        False: at the first input (the programs read their input first, so that a bad file
        fails before a network is built).
    **keywords
        The fields of :class:`~enhance_lib.run.options.EnhanceOptions` (``kind``, ``weights``,
        ``normalization``, ``tile``, ``precision``, ``device``, ``conserve_flux``, ...), which
        documents them.

    Raises
    ------
    EnhanceError
        Bad options or weights (the weights' data type against ``kind`` at once; the network
        when it is built).

    Examples
    --------
    >>> from enhance_lib import Enhancer
    >>> enhancer = Enhancer(kind="blos")  # doctest: +SKIP
    >>> outputs = [enhancer.enhance(b) for b in magnetograms]  # doctest: +SKIP
    """

    def __init__(self, options: EnhanceOptions | None = None, /, *, build: bool = True, **keywords):
        if options is None:
            options = EnhanceOptions.from_keywords(keywords, where="Enhancer")
        elif keywords:
            raise EnhanceError("give an EnhanceOptions or keywords, not both")
        self.options = options
        self._networks = {}
        # the weights file, read once: its data type decides the inputs whose header says nothing
        self._info = None
        self._shipped = {}  # kind -> the shipped weights file's WeightsInfo, read once
        if options.weights is not None:
            self._info = inspect_weights(options.weights)
            check_kind_matches(self._info, options.kind)
        if build and options.kind is not None:
            self.network(options.kind)

    @property
    def kind(self):
        """The data type asked for (None: from each input)."""
        return self.options.kind

    @property
    def weights_kind(self):
        """The data type the given weights file records, or None."""
        return self._info.kind if self._info is not None else None

    # -- the network ------------------------------------------------------------------------

    def network(self, kind: str) -> Network:
        """The :class:`Network` for ``kind``, built on first use."""
        if kind not in self._networks:
            self._networks[kind] = self._build(kind)
        return self._networks[kind]

    def _weights_info(self, kind):
        """The weights file ``kind``'s network is built from, read (once): the given one, else
        the shipped one."""
        if self._info is not None:
            return self._info
        if kind not in self._shipped:
            path = default_weights(kind)
            if not path.is_file():
                raise EnhanceError(f"no shipped {kind} network found; pass a weights file as `weights` (a Keras 3 "
                                   ".weights.h5 from enhance-train, or an original Enhance HDF5 file)", path=path)
            self._shipped[kind] = inspect_weights(path)
        return self._shipped[kind]

    def _build(self, kind):

        options = self.options
        info = self._weights_info(kind)
        device = resolve_device(options.device)
        if options.precision == "bfloat16" and device == "cpu" and "amx_bf16" not in backend.cpu_flags():
            warn_user("`precision` bfloat16 will not be faster on this CPU: it has no AMX (without AMX it ran slower "
                      "than float32 where measured, AVX512-BF16 or not; see the Performance guide, "
                      "docs/guide/performance.md)")
        with device_scope(device):
            # given weights were checked against a given kind when the Enhancer was made
            checked = self._info is not None and options.kind is not None
            net, config = build_network(info, model=options.model, depth=options.depth, filters=options.filters,
                                        activation=options.activation, kind=None if checked else kind, fold=True,
                                        precision=options.precision)
            predictor = Predictor(net, config, tile=options.tile, precision=options.precision, device=device)
            response = measure_response(predictor, kind) if options.conserve_flux else None
            error, error_path, calibration = self._error_network(kind, device) if options.uncertainty else (None,) * 3
        network = Network(kind, str(info.path), config, predictor, response, describe(device),
                          DomainLevel.from_attrs(info.attrs), error, error_path, calibration)
        log.info("network %s depth %d, %d filters (%s); %s", config.model, config.depth, config.filters,
                 network.weights, network.backend)
        return network

    def _error_network(self, kind, device):
        """The error network of ``UNCMODEL``, tiled, its file and its calibration."""
        options = self.options
        path = options.error_weights
        if path is None:
            if options.weights is not None and not same_file(options.weights, default_weights(kind)):
                raise EnhanceError("`uncertainty` with your own weights needs their error network as `error_weights` "
                                   "(python -m enhance_lib.scripts.error_model trains one); the shipped one was "
                                   "learnt for the shipped network")
            path = default_weights(kind, product="error")
            if not path.is_file():
                raise EnhanceError(f"no shipped {kind} error network found for `uncertainty`", path=path)
        error = ErrorPredictor.from_file(path, kind=kind, tile=options.tile, device=device)
        calibration = Calibration.from_attrs(error.attrs, conserve_flux=options.conserve_flux)
        return error, os.fspath(path), calibration

    # -- one image ----------------------------------------------------------------------------

    def prepare_file(self, path: str | os.PathLike) -> Prepared:
        """A FITS file's first image, read, checked and normalised (:func:`~enhance_lib.run.prepare.prepare_file`)."""
        options = self.options
        return prepare_file(path, kind=options.kind, normalization=options.normalization,
                            default_kind=self.weights_kind)

    def prepare_data(self, data, header=None, *, source="array", kind=None) -> Prepared:
        """An array (and its header) checked and normalised (:func:`~enhance_lib.run.prepare.prepare_data`)."""
        return prepare_data(data, header, kind=kind or self.options.kind, normalization=self.options.normalization,
                            source=source, default_kind=self.weights_kind)

    def predict(self, prepared: Prepared, *, progress: bool = False) -> np.ndarray:
        """The enhanced data (2-D, or 3-D for a cube) in the input's units; an all-NaN plane of a
        cube comes out all NaN.

        Raises
        ------
        EnhanceError
            An image smaller than the network's reach; out of memory
            (:func:`~enhance_lib.run.prepare.out_of_memory`: a ``MemoryError`` would end a batch
            or the program with a traceback).
        """

        ny, nx = prepared.planes.shape[-2:]
        # the reach from the weights file, before the network is built (seconds): a small image fails at once
        margin = receptive_margin(self._weights_info(prepared.kind).config)
        reach = 2 * margin + 1
        if min(ny, nx) < reach:
            raise EnhanceError(
                f"image is {ny} x {nx} pixels, smaller than the network's reach ({reach} x {reach}: each output "
                f"pixel depends on the input up to {margin} pixels away), so the output would be "
                "made mostly from the padding at its edges; enhance a larger region", path=prepared.source)
        network = self.network(prepared.kind)
        try:
            outputs = [None if normalizer is None
                       else enhance_array(plane, network.predictor, normalizer, progress=progress,
                                          response=network.response)
                       for plane, normalizer in zip(prepared.planes, prepared.normalizers, strict=True)]
            return _planes_result(prepared, outputs, (2 * ny, 2 * nx))
        except MemoryError:
            raise out_of_memory("enhancing", prepared.data.shape, prepared.source) from None

    def forward_checks(self, prepared: Prepared, result: np.ndarray, *, residual: bool = False):
        """The forward check of each plane (:func:`~enhance_lib.run.forward_check.forward_check`),
        and the network's in-domain level checked (one warning per image beyond it).

        Returns
        -------
        list of enhance_lib.run.forward_check.ForwardCheck or None
            One per plane; None for an all-NaN plane.
        """
        network = self.network(prepared.kind)
        outputs = result if result.ndim == 3 else result[None]
        checks = [None if normalizer is None else forward_check(plane, output, residual=residual)
                  for plane, output, normalizer in zip(prepared.planes, outputs, prepared.normalizers, strict=True)]
        worst = max((c.percent for c in checks if c is not None and np.isfinite(c.percent)), default=np.nan)
        if network.domain is not None:
            network.domain.check(worst, source=prepared.source)
        return checks

    def run(self, prepared: Prepared, *, progress: bool = False, header: bool = True,
            residual: bool | None = None) -> Enhanced:
        """Enhance a prepared image: the data, its forward check and the products asked for.

        Parameters
        ----------
        prepared : Prepared
        progress : bool
            A progress bar over the tiles.
        header : bool
            Also make the output's header (:func:`~enhance_lib.run.provenance.output_header`).
        residual : bool, optional
            Also the forward check's residual image (for the ``--plot`` figure, say); with the
            ``residual`` option it is computed and an extension too.

        Returns
        -------
        Enhanced
        """
        options = self.options
        residual = options.residual or bool(residual)
        result = self.predict(prepared, progress=progress)
        checks = self.forward_checks(prepared, result, residual=residual)
        forward = tuple(np.nan if c is None else c.percent for c in checks)
        shape = prepared.planes.shape[-2:]
        difference = _planes_result(prepared, [None if c is None else c.residual for c in checks],
                                    shape) if residual else None
        maps = self.uncertainty(prepared) if options.uncertainty else None
        network = self.network(prepared.kind)
        out_header = (output_header(prepared, network, result, forward, precision=options.precision, uncertainty=maps,
                                    draws=options.draws) if header else None)
        extensions = []
        if options.residual and header:
            extensions.append(("RESIDUAL", difference, residual_header(prepared)))
        if maps is None:
            return Enhanced(result, out_header, forward, difference, extensions=tuple(extensions))
        images = {attr: _planes_result(prepared, [None if m is None else getattr(m, attr) for m in maps],
                                       result.shape[-2:]) for _, attr, _ in UNCERTAINTY_MAPS}
        if header:
            extensions += [(name, images[attr], extension_header(out_header, name, text))
                           for name, attr, text in UNCERTAINTY_MAPS]
        sigmas = tuple(np.nan if m is None else m.sigma for m in maps)
        return Enhanced(result, out_header, forward, difference, images["total"], images["noise"], images["model"],
                        sigmas, tuple(extensions))

    def uncertainty(self, prepared: Prepared):
        """The uncertainty maps of each plane (:func:`~enhance_lib.run.uncertainty.plane_uncertainty`;
        None for an all-NaN plane)."""
        network = self.network(prepared.kind)
        options = self.options
        try:
            return [None if normalizer is None else plane_uncertainty(
                plane, normalizer, predictor=network.predictor, error_predictor=network.error_predictor,
                calibration=network.calibration, kind=prepared.kind, noise=options.noise, draws=options.draws,
                response=network.response)
                for plane, normalizer in zip(prepared.planes, prepared.normalizers, strict=True)]
        except MemoryError:
            raise out_of_memory("computing the uncertainty of", prepared.data.shape, prepared.source) from None

    def write(self, prepared: Prepared, enhanced: Enhanced, output_path) -> bool:
        """Write an :class:`Enhanced` image with its header and extensions (atomically); True when it
        replaced a file that was there.

        The caller has checked the output (:meth:`enhance_file`, the batch runner).

        Raises
        ------
        EnhanceError
            The output cannot be written, or the memory runs out.
        """
        try:
            return write_image(output_path, enhanced.data, enhanced.header, compress=self.options.compress,
                               extensions=enhanced.extensions)
        except MemoryError:
            raise out_of_memory("writing", prepared.data.shape, prepared.source) from None

    # -- the front doors ----------------------------------------------------------------------

    def enhance_file(self, input_path, output_path, *, progress: bool = False, plot=None) -> Enhanced:
        """Enhance a FITS file and write the result (atomically), as the ``enhance`` command does.

        Parameters
        ----------
        input_path, output_path : str or os.PathLike
        progress : bool
            A progress bar over the tiles.
        plot : str or os.PathLike, optional
            Also a figure comparing input and output, with the forward check's residual
            (:func:`~enhance_lib.io.figures.plot_comparison`; PNG, PDF or SVG as its name
            ends), of a cube's first plane with data, which its title names.

        Returns
        -------
        Enhanced
            The enhanced data, header and products as written.

        Raises
        ------
        EnhanceError
            The input cannot be enhanced or the output or figure cannot be written (checked
            before the input is read).
        """
        if same_file(input_path, output_path):
            raise EnhanceError("output would overwrite the input file", path=output_path)
        check_output_folder(output_path)
        if plot:
            check_figure_path(plot)
        prepared = self.prepare_file(input_path)
        start = time.perf_counter()
        enhanced = self.run(prepared, progress=progress, residual=bool(plot))
        result = enhanced.data
        log.info("%s: enhanced in %.2f s; new size %s; forward check %s %%", input_path,
                 time.perf_counter() - start,
                 shape_text(result.shape) if result.ndim == 2 else f"{result.shape[0]} planes of "
                 + shape_text(result.shape[1:]), ", ".join(f"{f:.2f}" for f in enhanced.forward_percent))
        replaced = self.write(prepared, enhanced, output_path)
        log.info("wrote %s%s", output_path, " (replaced the file that was there)" if replaced else "")
        if plot:
            shown = self._plot(plot, prepared, enhanced, title=os.path.basename(os.fspath(input_path)))
            log.info("wrote %s%s", plot, f" ({shown})" if shown else "")
        return enhanced

    @staticmethod
    def _plot(path, prepared, enhanced, *, title):
        """Write the figure of ``enhanced``'s first plane with data; for a cube, which plane that
        is (``'plane 2 of 3, the first with data'``), also in the figure's title; else None."""
        index = prepared.first_plane
        shown = None
        if enhanced.data.ndim == 3:
            count = enhanced.data.shape[0]
            shown = f"plane {index + 1} of {count}" + (", the first with data" if index else "")
            title = f"{title}: {shown}"
        plane, normalizer = prepared.planes[index], prepared.normalizers[index]
        result = enhanced.data
        output = result if result.ndim == 2 else result[index]
        residual = uncertainty = None
        if enhanced.residual is not None:
            residual = enhanced.residual if enhanced.residual.ndim == 2 else enhanced.residual[index]
        if enhanced.uncertainty is not None:
            uncertainty = enhanced.uncertainty if enhanced.uncertainty.ndim == 2 else enhanced.uncertainty[index]
        local = local_enhanced = None
        if prepared.kind == "intensity":  # contrast on I/I_qs: limb darkening is not contrast
            local = normalizer.normalize(plane)
            # the quiet-Sun level on the output's grid, then the output over it in the same
            # array: one output-sized array (a read-only broadcast 1 costs no memory)
            local_enhanced = normalizer.denormalize(np.broadcast_to(np.float32(1), output.shape))
            np.divide(output, local_enhanced, out=local_enhanced)
        plot_comparison(path, plane, output, kind=prepared.kind, title=title, header=prepared.header, local=local,
                        local_enhanced=local_enhanced, residual=residual, forward=enhanced.forward_percent[index],
                        uncertainty=uncertainty)
        return shown

    def enhance(self, data, header: fits.Header | dict | None = None) -> np.ndarray | Enhanced:
        """Enhance an image or a cube given as an array (or a FITS file's path).

        Parameters
        ----------
        data : array_like, shape (ny, nx) or (nplanes, ny, nx), or str or os.PathLike
            In physical units (I or I/I_qs; G for blos); NaN where missing (off-limb).
            Not modified. A path: the file's first image, with its header (unless
            ``header`` is given); :meth:`enhance_file` writes the result to a file.
        header : astropy.io.fits.Header or dict-like, optional
            Its disk geometry (RSUN_OBS, CRPIX, CDELT, ...) places the limb of a full
            disk; its CONTENT / BUNIT say the kind when the enhancer has none.

        Returns
        -------
        numpy.ndarray, float32, shape (2ny, 2nx) or (nplanes, 2ny, 2nx), or Enhanced
            In the input's units; NaN at the 2x2 output pixels of each NaN input pixel. With
            the ``residual`` or ``uncertainty`` options, an :class:`Enhanced` holding the data
            with its header, forward check, residual image and uncertainty maps
            (``.uncertainty``, the calibrated 1-sigma, alongside ``.data``).

        Warns
        -----
        EnhanceDomainWarning
            The forward check far above the network's in-domain level.
        """
        prepared = self.prepare(data, header)
        if self.options.residual or self.options.uncertainty:
            return self.run(prepared)
        return self.run(prepared, header=False).data

    def enhance_header(self, data, header: fits.Header | dict | None = None) -> tuple[np.ndarray, fits.Header]:
        """Like :meth:`enhance`, and the header of the result.

        Returns
        -------
        data : numpy.ndarray
        header : astropy.io.fits.Header
            ``header`` (or an empty one) updated for the x2 grid as the CLI writes
            it: CDELT/CD halved, CRPIX moved so that pixel edges coincide, HMI's
            R_SUN, X0_MP, Y0_MP and IMSCL_MP rescaled, storage keywords and stale
            statistics dropped, ENHNORM, ENHFWD and HISTORY added.
        """
        enhanced = self.run(self.prepare(data, header))
        return enhanced.data, enhanced.header

    def prepare(self, data, header: fits.Header | dict | None = None) -> Prepared:
        """An array (and its header) or a FITS file's path, prepared: a path is read as FITS
        (its header used unless ``header`` is given); anything else must be numbers."""
        if isinstance(data, (str, os.PathLike)):
            image = read_image(data)
            return self.prepare_data(image.data, image.header if header is None else header, source=image.path)
        array = np.asarray(data)
        if array.dtype.kind not in "biuf":
            raise EnhanceError(f"data must be an array of numbers or a FITS file's path, not {type(data).__name__} "
                               f"of {array.dtype}")
        return self.prepare_data(array, header)


def _planes_result(prepared, planes, shape):
    """Per-plane images as the input's form: a cube for a cube, one image for an image; a plane
    that is None (an all-NaN input plane) all NaN, of ``shape``."""
    planes = [np.full(shape, np.nan, np.float32) if plane is None else plane for plane in planes]
    return np.stack(planes) if prepared.data.ndim == 3 else planes[0]
