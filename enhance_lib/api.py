"""The Python face of Enhance: numpy arrays, FITS HDUs and sunpy maps in, enhanced ones out.

Everything here does what the ``enhance`` command does to a file (the data type from
the header, NaN handling, normalisation, the limb-darkening fit of a full disk, the
header rule for the x2 grid), through the same :class:`~enhance_lib.run.enhancer.Enhancer`::

    >>> import numpy as np
    >>> import enhance_lib
    >>> image = np.random.default_rng(0).normal(1.0, 0.04, (64, 64))  # I/I_qs
    >>> enhance_lib.enhance(image, kind="intensity").shape  # doctest: +SKIP
    (128, 128)

Each function builds the network for its call; :class:`~enhance_lib.run.enhancer.Enhancer`
builds it once, for loops and notebooks. The keyword options of all of them are the fields
of :class:`~enhance_lib.run.options.EnhanceOptions`, which documents them.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np
from astropy.io import fits

from .io.maps import import_sunpy_map, map_kind
from .run.enhancer import Enhancer
from .run.options import EnhanceOptions

if TYPE_CHECKING:
    import sunpy.map

__all__ = ["enhance", "enhance_hdu", "enhance_map"]

#: What :func:`enhance_hdu` takes and gives back.
HDULike = fits.PrimaryHDU | fits.ImageHDU | fits.CompImageHDU | tuple[np.ndarray, fits.Header]


def enhance(data: np.typing.ArrayLike | str | os.PathLike, *, header: fits.Header | dict | None = None,
            **options: Any) -> np.ndarray:
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
    numpy.ndarray, float32, shape (2ny, 2nx) or (nplanes, 2ny, 2nx)
        In the input's units.

    Raises
    ------
    EnhanceError
        With the messages of the ``enhance`` command.

    See Also
    --------
    enhance_lib.run.enhancer.Enhancer.enhance : the same with the network built once.
    """
    return Enhancer(EnhanceOptions.from_keywords(options, where="enhance")).enhance(data, header)


def enhance_hdu(hdu: HDULike, **options: Any) -> HDULike:
    """Enhance an astropy image HDU or a ``(data, header)`` pair
    (:meth:`~enhance_lib.run.enhancer.Enhancer.enhance_hdu`).

    Returns the same form as given, with the header updated for the x2 grid. ``options``: the
    fields of :class:`~enhance_lib.run.options.EnhanceOptions`.
    """
    return Enhancer(EnhanceOptions.from_keywords(options, where="enhance_hdu")).enhance_hdu(hdu)


def enhance_map(smap: sunpy.map.GenericMap, **options: Any) -> sunpy.map.GenericMap:
    """Enhance a sunpy map; return a new map on the x2 grid
    (:meth:`~enhance_lib.run.enhancer.Enhancer.enhance_map`).

    Parameters
    ----------
    smap : sunpy.map.GenericMap
    **options
        The fields of :class:`~enhance_lib.run.options.EnhanceOptions`. Without ``kind``, the
        data type comes from the map (HMI continuum -> intensity, magnetogram -> blos); a map
        that does not say is an error.

    Raises
    ------
    EnhanceError
        sunpy not installed (name of the extra); the data type unknown; bad data.
    """
    import_sunpy_map()
    options = EnhanceOptions.from_keywords(options, where="enhance_map")
    if options.kind is None:  # before building a network: a map that does not say fails at once
        options = options.replace(kind=map_kind(smap))
    return Enhancer(options).enhance_map(smap)
