"""The Python face of Enhance: numpy arrays, FITS HDUs and sunpy maps in, enhanced ones out.

Everything here does what the ``enhance`` command does to a file (the data kind from
the header, NaN handling, normalisation, the limb-darkening fit of a full disk, the
header rule for the x2 grid), without files::

    >>> import numpy as np
    >>> import enhance_lib
    >>> image = np.random.default_rng(0).normal(1.0, 0.04, (64, 64))  # I/I_qs
    >>> enhance_lib.enhance(image, kind="intensity").shape  # doctest: +SKIP
    (128, 128)

:class:`Enhancer` builds the network once, for loops and notebooks;
:func:`enhance`, :func:`enhance_hdu` and :func:`enhance_map` build it for one call.
"""

import logging
import os

import numpy as np

from .errors import EnhanceError
from .sun.kinds import resolve_kind

log = logging.getLogger(__name__)

__all__ = ["Enhancer", "enhance", "enhance_hdu", "enhance_map"]


def _import_sunpy_map():
    try:
        import sunpy.map
    except ImportError:
        raise EnhanceError("enhance_map needs sunpy (pip install 'enhance-keras3[sunpy]')") from None
    return sunpy.map


def _map_kind(smap):
    """The kind of data a sunpy map holds (HMI continuum -> intensity, magnetogram -> blos),
    or an error asking for it (or naming the other observable it holds)."""
    meta = {"CONTENT": smap.meta.get("content"), "BUNIT": smap.meta.get("bunit")}
    return resolve_kind(None, meta, source=_map_name(smap), required=True)


#: Metadata keys of an observation time: without one, sunpy dates a map "now".
_DATE_KEYS = ("date-obs", "date_obs", "t_obs", "date-avg", "date-beg")


def _map_name(smap):
    """A map's name for messages: its class and, when its metadata has one, its observation
    time (sunpy's ``name`` would show the current time for a map that has none)."""
    name = type(smap).__name__
    if any(key in smap.meta for key in _DATE_KEYS):
        name += f" of {smap.date.isot[:19]}"
    return name


class Enhancer:
    """An Enhance network, built once, that enhances arrays, HDUs, maps and files.

    Parameters
    ----------
    kind : {'intensity', 'blos'} or None
        The kind of data. None: from each input's header (HMI's CONTENT, then BUNIT;
        intensity when it says neither), with one network built per kind met.
    weights : str or os.PathLike, optional
        Weights file; default the shipped network for the kind.
    normalization : None, 'quiet-sun', 'max', 'none' or float
        None: the quiet-Sun level (a limb-darkening fit on a full disk) for
        intensity, 1000 (G -> kG) for blos.
    tile : int, optional
        Tile size in input pixels (0: the whole image at once); None for the default.
    precision : {'float32', 'bfloat16'}
    device : {'auto', 'cpu', 'gpu'}
    conserve_flux : bool
        Invert the network's response to uniform inputs, so that a uniform input
        comes back unchanged (photometry, flux balance); default False: the
        network's output as it is (the published networks darken intensity by
        ~1.8 % and add a few gauss to a field-free magnetogram).
    model, depth, filters, activation : optional
        Checked against the weights file.

    Raises
    ------
    EnhanceError
        Bad options or weights (raised when the network is built: at once when
        ``kind`` is given, else at the first input).

    Examples
    --------
    >>> from enhance_lib import Enhancer
    >>> enhancer = Enhancer(kind="blos")  # doctest: +SKIP
    >>> outputs = [enhancer.enhance(b) for b in magnetograms]  # doctest: +SKIP
    """

    def __init__(self, *, kind=None, weights=None, normalization=None, tile=None, precision="float32",
                 device="auto", conserve_flux=False, model=None, depth=None, filters=None, activation=None):
        from .run.enhancer import check_options

        check_options(kind=kind, normalization=normalization, weights=weights)
        self.kind = kind
        self._options = dict(weights=weights, normalization=normalization, tile=tile, precision=precision,
                             device=device, conserve_flux=conserve_flux, model=model, depth=depth, filters=filters,
                             activation=activation)
        self._engines = {}
        # the data type the weights file records (None: it does not say, or the shipped
        # networks), read once: it decides the kind of inputs whose header says nothing
        self._weights_kind = None
        if weights is not None:
            from .nets.weights import recorded_kind

            self._weights_kind = recorded_kind(weights)
        if kind is not None:
            self.engine(kind)

    def engine(self, kind):
        """The :class:`~enhance_lib.pipeline.Engine` for ``kind`` (built on first use)."""
        from .run.enhancer import Engine

        if kind not in self._engines:
            self._engines[kind] = Engine(kind=kind, **self._options)
        return self._engines[kind]

    def _run(self, data, header, source, kind=None):
        from .run.enhancer import prepare_data

        prepared = prepare_data(data, header, kind=kind or self.kind, normalization=self._options["normalization"],
                                source=source, default_kind=self._weights_kind)
        engine = self.engine(prepared.kind)
        result = engine.predict(prepared)
        return result, engine.output_header(prepared, result)

    def enhance(self, data, header=None):
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
        numpy.ndarray, float32, shape (2ny, 2nx) or (nplanes, 2ny, 2nx)
            In the input's units; NaN at the 2x2 output pixels of each NaN input pixel.
        """
        return self._run(*self._data_and_header(data, header))[0]

    @staticmethod
    def _data_and_header(data, header):
        """An array and its header, and a name for messages: a path is read as FITS; anything
        else must be numbers."""
        if isinstance(data, (str, os.PathLike)):
            from .io.fits import read_image

            image = read_image(data)
            return image.data, image.header if header is None else header, image.path
        array = np.asarray(data)
        if array.dtype.kind not in "biuf":
            raise EnhanceError(f"data must be an array of numbers or a FITS file's path, not {type(data).__name__} "
                               f"of {array.dtype}")
        return array, header, "array"

    def enhance_header(self, data, header=None):
        """Like :meth:`enhance`, and the header of the result.

        Returns
        -------
        data : numpy.ndarray
        header : astropy.io.fits.Header
            ``header`` (or an empty one) updated for the x2 grid as the CLI writes
            it: CDELT/CD halved, CRPIX moved so that pixel edges coincide, HMI's
            R_SUN, X0_MP, Y0_MP and IMSCL_MP rescaled, storage keywords and stale
            statistics dropped, ENHNORM and HISTORY added.
        """
        return self._run(*self._data_and_header(data, header))

    def enhance_hdu(self, hdu):
        """Enhance an astropy image HDU, or a ``(data, header)`` pair.

        Parameters
        ----------
        hdu : astropy.io.fits.PrimaryHDU, ImageHDU, CompImageHDU or (array, Header)

        Returns
        -------
        astropy.io.fits.ImageHDU (a PrimaryHDU for a PrimaryHDU), or (numpy.ndarray, Header)
            The same form as the input, with the header updated as by :meth:`enhance_header`.
        """
        from astropy.io import fits

        if isinstance(hdu, tuple):
            if len(hdu) != 2:
                raise EnhanceError("give an HDU or a (data, header) pair")
            return self._run(hdu[0], hdu[1], "array")
        if not isinstance(hdu, (fits.PrimaryHDU, fits.ImageHDU, fits.CompImageHDU)):
            raise EnhanceError(f"not an image HDU: {type(hdu).__name__}")
        if hdu.data is None:
            raise EnhanceError("the HDU holds no data")
        from .io.fits import image_data

        data = image_data(hdu.data, hdu.header)
        name = hdu.name or type(hdu).__name__
        result, header = self._run(data, hdu.header, name)
        cls = fits.PrimaryHDU if isinstance(hdu, fits.PrimaryHDU) else fits.ImageHDU
        return cls(data=result, header=header)

    def enhance_map(self, smap):
        """Enhance a :class:`sunpy.map.GenericMap` (an ``HMIMap``, say).

        The kind comes from the enhancer, else from the map (HMI continuum ->
        intensity, HMI magnetogram -> blos); a map that does not say is an error
        asking for ``kind``.

        Returns
        -------
        sunpy.map.GenericMap
            A new map with the x2 data and metadata updated for the x2 grid; its
            date, observer, ``rsun_obs`` and measurement are the input's.

        Raises
        ------
        EnhanceError
            sunpy not installed; the kind unknown.
        """
        sunpy_map = _import_sunpy_map()
        kind = self.kind or _map_kind(smap)
        header = smap.fits_header
        result, header = self._run(np.asarray(smap.data), header, _map_name(smap), kind=kind)
        # plot settings (colour map, normalisation) are the input's: keep them
        return sunpy_map.Map(result, header, plot_settings=dict(smap.plot_settings))

    def enhance_file(self, input_path, output_path, *, progress=False):
        """Enhance a FITS file and write the result (atomically) as the CLI does.

        Returns
        -------
        numpy.ndarray
            The enhanced data as written.
        """
        from .io.atomic import check_output_folder
        from .run.enhancer import prepare

        check_output_folder(output_path)
        prepared = prepare(input_path, kind=self.kind, normalization=self._options["normalization"],
                           default_kind=self._weights_kind)
        return self.engine(prepared.kind).enhance_file(input_path, output_path, progress=progress,
                                                       prepared=prepared)


def enhance(data, *, kind=None, header=None, weights=None, normalization=None, tile=None, precision="float32",
            device="auto", conserve_flux=False):
    """Enhance (deconvolve and super-resolve x2) an HMI image or magnetogram given as an array.

    Builds the network for this call; to enhance many arrays, use :class:`Enhancer`.

    Parameters
    ----------
    data : array_like, shape (ny, nx) or (nplanes, ny, nx), or str or os.PathLike
        Continuum intensity (any units: it is normalised by its quiet-Sun level, or
        a limb-darkening fit on a full disk) or B_los in G; NaN where missing.
        Not modified. A path: the FITS file's first image and its header.
    kind : {'intensity', 'blos'} or None
        None: from ``header`` (HMI's CONTENT, then BUNIT), else intensity.
    header : astropy.io.fits.Header or dict-like, optional
        Places the limb of a full disk (RSUN_OBS or R_SUN, CRPIX, CDELT).
    weights : str or os.PathLike, optional
        Weights file; default the shipped network.
    normalization : None, 'quiet-sun', 'max', 'none' or float
    tile : int, optional
        Tile size in input pixels; None for the default.
    precision : {'float32', 'bfloat16'}
    device : {'auto', 'cpu', 'gpu'}
    conserve_flux : bool
        Invert the network's flat-field response (see :class:`Enhancer`).

    Returns
    -------
    numpy.ndarray, float32, shape (2ny, 2nx) or (nplanes, 2ny, 2nx)
        In the input's units.

    Raises
    ------
    EnhanceError
        With the messages of the ``enhance`` command.
    """
    enhancer = Enhancer(kind=kind, weights=weights, normalization=normalization, tile=tile, precision=precision,
                        device=device, conserve_flux=conserve_flux)
    return enhancer.enhance(data, header)


def enhance_hdu(hdu, *, kind=None, weights=None, normalization=None, tile=None, precision="float32",
                device="auto", conserve_flux=False):
    """Enhance an astropy image HDU or a ``(data, header)`` pair (see :meth:`Enhancer.enhance_hdu`).

    Returns the same form as given, with the header updated for the x2 grid.
    """
    enhancer = Enhancer(kind=kind, weights=weights, normalization=normalization, tile=tile, precision=precision,
                        device=device, conserve_flux=conserve_flux)
    return enhancer.enhance_hdu(hdu)


def enhance_map(smap, *, kind=None, weights=None, normalization=None, tile=None, precision="float32",
                device="auto", conserve_flux=False):
    """Enhance a sunpy map; return a new map on the x2 grid (see :meth:`Enhancer.enhance_map`).

    Parameters
    ----------
    smap : sunpy.map.GenericMap
    kind : {'intensity', 'blos'} or None
        None: from the map (HMI continuum -> intensity, magnetogram -> blos);
        an error when the map does not say.

    Raises
    ------
    EnhanceError
        sunpy not installed (name of the extra); the kind unknown; bad data.
    """
    _import_sunpy_map()
    if kind is None:
        kind = _map_kind(smap)  # before building a network: a map that does not say fails at once
    enhancer = Enhancer(kind=kind, weights=weights, normalization=normalization, tile=tile, precision=precision,
                        device=device, conserve_flux=conserve_flux)
    return enhancer.enhance_map(smap)
