"""The Python face of Enhance: numpy arrays, FITS HDUs and sunpy maps in, enhanced ones out.

Everything here does what the ``enhance`` command does to a file (the data type from
the header, NaN handling, normalisation, the limb-darkening fit of a full disk, the
header rule for the x2 grid), through the same :class:`~enhance_lib.run.enhancer.Enhancer`::

    >>> import numpy as np
    >>> import enhance_lib
    >>> image = np.random.default_rng(0).normal(1.0, 0.04, (64, 64))  # I/I_qs
    >>> enhance_lib.enhance(image, kind="intensity").shape  # doctest: +SKIP
    (128, 128)

Each function builds the network for its call; an :class:`~enhance_lib.run.enhancer.Enhancer`
builds it once, for loops and notebooks (``enhancer.enhance(array)``,
``enhance_hdu(hdu, enhancer=enhancer)``, ``enhance_map(smap, enhancer=enhancer)``). The keyword
options of all of them are the fields of :class:`~enhance_lib.run.options.EnhanceOptions`, which
documents them.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np
from astropy.io import fits

from .errors import EnhanceError
from .io.fits import image_data
from .io.maps import import_sunpy_map, map_kind, map_name
from .run.enhancer import Enhanced, Enhancer
from .run.options import EnhanceOptions

if TYPE_CHECKING:
    import sunpy.map

__all__ = ["enhance", "enhance_hdu", "enhance_map"]

#: What :func:`enhance_hdu` takes and gives back.
HDULike = fits.PrimaryHDU | fits.ImageHDU | fits.CompImageHDU | tuple[np.ndarray, fits.Header]


def enhance(data: np.typing.ArrayLike | str | os.PathLike, *, header: fits.Header | dict | None = None,
            **options: Any) -> np.ndarray | Enhanced:
    """Enhance (deconvolve and super-resolve x2) an HMI image or magnetogram given as an array.

    Parameters
    ----------
    data : array_like, shape (ny, nx) or (nplanes, ny, nx), or str or os.PathLike
        Continuum intensity (any units: it is normalised by its quiet-Sun level, or
        a limb-darkening fit on a full disk) or B_los in G; NaN where missing.
        Not modified. A path: the FITS file's first image and its header.
    header : astropy.io.fits.Header or dict-like, optional
        Places the limb of a full disk (RSUN_OBS or R_SUN, CRPIX, CDELT); says the data
        type (CONTENT, BUNIT) when ``kind`` is not given.
    **options
        The fields of :class:`~enhance_lib.run.options.EnhanceOptions` (``kind``, ``weights``,
        ``normalization``, ``tile``, ``precision``, ``device``, ``conserve_flux``, ...).

    Returns
    -------
    numpy.ndarray, float32, shape (2ny, 2nx) or (nplanes, 2ny, 2nx), or Enhanced
        In the input's units. With the ``residual`` or ``uncertainty`` options, an
        :class:`~enhance_lib.run.enhancer.Enhanced` holding the data (``.data``) with its
        header, forward check, residual image and uncertainty maps.

    Raises
    ------
    EnhanceError
        With the messages of the ``enhance`` command.

    See Also
    --------
    enhance_lib.run.enhancer.Enhancer.enhance : the same with the network built once.
    """
    return Enhancer(EnhanceOptions.from_keywords(options, where="enhance")).enhance(data, header)


def enhance_hdu(hdu: HDULike, *, enhancer: Enhancer | None = None, **options: Any) -> HDULike | fits.HDUList:
    """Enhance an astropy image HDU, or a ``(data, header)`` pair.

    Parameters
    ----------
    hdu : astropy.io.fits.PrimaryHDU, ImageHDU, CompImageHDU or (array, Header)
    enhancer : Enhancer, optional
        The network built once (for loops); else one is built from ``options``.
    **options
        The fields of :class:`~enhance_lib.run.options.EnhanceOptions` (not with ``enhancer``).

    Returns
    -------
    astropy.io.fits.ImageHDU (a PrimaryHDU for a PrimaryHDU), or (numpy.ndarray, Header)
        The same form as the input, with the header updated for the x2 grid as the command
        writes it (:meth:`~enhance_lib.run.enhancer.Enhancer.enhance_header`). With the
        ``residual`` or ``uncertainty`` options, an :class:`astropy.io.fits.HDUList` of that
        HDU (a PrimaryHDU) and the ``RESIDUAL``, ``UNCERT``, ``UNCNOISE`` and ``UNCMODEL``
        ImageHDUs asked for, for either form.

    Raises
    ------
    EnhanceError
        Not an image HDU, no data, bad data or options.
    """
    enhancer = _enhancer(enhancer, options, where="enhance_hdu")
    if isinstance(hdu, tuple):
        if len(hdu) != 2:
            raise EnhanceError("give an HDU or a (data, header) pair")
        prepared = enhancer.prepare(*hdu)
    elif not isinstance(hdu, (fits.PrimaryHDU, fits.ImageHDU, fits.CompImageHDU)):
        raise EnhanceError(f"not an image HDU: {type(hdu).__name__}")
    elif hdu.data is None:
        raise EnhanceError("the HDU holds no data")
    else:
        prepared = enhancer.prepare_data(image_data(hdu.data, hdu.header), hdu.header,
                                         source=hdu.name or type(hdu).__name__)
    enhanced = enhancer.run(prepared)
    if enhanced.extensions:
        extensions = [fits.ImageHDU(image, extra, name=name) for name, image, extra in enhanced.extensions]
        return fits.HDUList([fits.PrimaryHDU(enhanced.data, enhanced.header), *extensions])
    if isinstance(hdu, tuple):
        return enhanced.data, enhanced.header
    cls = fits.PrimaryHDU if isinstance(hdu, fits.PrimaryHDU) else fits.ImageHDU
    return cls(data=enhanced.data, header=enhanced.header)


def enhance_map(smap: sunpy.map.GenericMap, *, enhancer: Enhancer | None = None,
                **options: Any) -> sunpy.map.GenericMap | tuple[sunpy.map.GenericMap, sunpy.map.GenericMap]:
    """Enhance a sunpy map (an ``HMIMap``, say); return a new map on the x2 grid.

    Parameters
    ----------
    smap : sunpy.map.GenericMap
    enhancer : Enhancer, optional
        The network built once (for loops); else one is built from ``options``.
    **options
        The fields of :class:`~enhance_lib.run.options.EnhanceOptions` (not with ``enhancer``).
        The data type is the enhancer's ``kind``, else the map's (HMI continuum -> intensity,
        magnetogram -> blos); a map that does not say is an error asking for ``kind``.

    Returns
    -------
    sunpy.map.GenericMap, or (sunpy.map.GenericMap, sunpy.map.GenericMap)
        A new map with the x2 data and metadata updated for the x2 grid (ENHFWD among them);
        its date, observer, ``rsun_obs`` and measurement are the input's. With
        ``uncertainty``, its ``.uncertainty`` is ``UNCERT`` as an
        :class:`astropy.nddata.StdDevUncertainty`. With the ``residual`` option, also the
        forward check's residual as a map on the input's grid.

    Raises
    ------
    EnhanceError
        sunpy not installed (name of the extra); the data type unknown; bad data.
    """
    sunpy_map = import_sunpy_map()
    if enhancer is None:
        options = EnhanceOptions.from_keywords(options, where="enhance_map")
        if options.kind is None:  # before building a network: a map that does not say fails at once
            options = options.replace(kind=map_kind(smap))
    enhancer = _enhancer(enhancer, options, where="enhance_map")
    kind = enhancer.kind or map_kind(smap)
    enhanced = enhancer.run(enhancer.prepare_data(np.asarray(smap.data), smap.fits_header, source=map_name(smap),
                                                  kind=kind))
    # plot settings (colour map, normalisation) are the input's: keep them
    extra = {}
    if enhanced.uncertainty is not None:
        from astropy.nddata import StdDevUncertainty

        extra["uncertainty"] = StdDevUncertainty(enhanced.uncertainty)
    out = sunpy_map.Map(enhanced.data, enhanced.header, plot_settings=dict(smap.plot_settings), **extra)
    if not enhancer.options.residual:
        return out
    _, residual, header = enhanced.extensions[0]
    return out, sunpy_map.Map(residual, header, plot_settings=dict(smap.plot_settings))


def _enhancer(enhancer, options, *, where):
    """The given enhancer, or one built from ``options`` (an :class:`EnhanceOptions` or keywords)."""
    if enhancer is None:
        if not isinstance(options, EnhanceOptions):
            options = EnhanceOptions.from_keywords(options, where=where)
        return Enhancer(options)
    if options:
        raise EnhanceError(f"`{where}`: give an `enhancer` or options, not both")
    return enhancer
