"""Everything before the network: an image read and checked, its data type found, each plane's
normalisation fitted (the limb-darkening fit of a full disk).
"""

import dataclasses
import logging

import numpy as np
from astropy.io import fits

from ..errors import EnhanceError, warn_metadata, warn_user
from ..io.fits import read_header, read_image
from ..io.headers import pixel_scale
from ..nets.config import HMI_SCALE
from ..sun.kinds import resolve_kind
from ..sun.normalization import make_normalizer

log = logging.getLogger(__name__)

__all__ = ["Prepared", "out_of_memory", "prepare_data", "prepare_file"]


@dataclasses.dataclass
class Prepared:
    """An image ready for the network.

    Attributes
    ----------
    source : str
        The file, or what the data came from (``'array'``, a map's name), for messages.
    data : numpy.ndarray
        float32, (ny, nx) or (nplanes, ny, nx), in physical units.
    header : astropy.io.fits.Header
        A copy of the image's header (empty for an array given without one).
    planes : numpy.ndarray
        (nplanes, ny, nx): a view of ``data``.
    normalizers : list
        One :class:`~enhance_lib.sun.normalization.Normalizer` per plane; None for a cube's
        plane without finite pixels (its output is all NaN).
    kind : {'intensity', 'blos'}
    hdu_index : int or None
        The HDU of the file it came from (None for an array).
    """

    source: str
    data: np.ndarray
    header: fits.Header
    planes: np.ndarray
    normalizers: list
    kind: str
    hdu_index: int | None = None

    @property
    def first_plane(self):
        """Index of the first plane with data (a cube's all-NaN planes have no normaliser)."""
        return next(k for k, n in enumerate(self.normalizers) if n is not None)


def prepare_data(data, header=None, *, kind=None, normalization=None, source="array", default_kind=None,
                 hdu_index=None):
    """Check an image and build the normaliser of each plane (the limb fit of a full disk).

    Parameters
    ----------
    data : array_like, shape (ny, nx) or (nplanes, ny, nx)
        In physical units; NaN marks missing pixels. Not modified.
    header : astropy.io.fits.Header or dict-like, optional
        Locates the disk of a full-disk image; says the kind of data when ``kind`` is None.
        Not modified.
    kind, normalization
        As :class:`~enhance_lib.run.options.EnhanceOptions` has them.
    source : str
        Name for messages (the file, or what the data came from).
    default_kind : {'intensity', 'blos'} or None
        The kind when neither ``kind`` nor the header says (the weights' recorded kind).
    hdu_index : int, optional
        The HDU the data came from, for the HISTORY.

    Returns
    -------
    Prepared

    Raises
    ------
    EnhanceError
        Not a 2-D image or 3-D cube, no finite pixel, a header naming another observable, a
        bad normalisation.
    """
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
                      "finite pixels; its output is all NaN")
            normalizers.append(None)
            continue
        try:
            normalizers.append(make_normalizer(plane, header, kind=kind, method=normalization))
        except EnhanceError as exc:
            raise EnhanceError(exc.message, path=source) from None
        log.debug("plane %d: %s", index + 1, normalizers[-1].describe())
    return Prepared(str(source), data, header, planes, normalizers, kind, hdu_index)


def _check_pixel_scale(header, source):
    """Warn when the header's pixel scale is more than 10 % from HMI's, at which the networks were trained."""
    scale = pixel_scale(header)
    if scale is not None and abs(scale / HMI_SCALE - 1) > 0.1:
        warn_metadata(f"{source}: pixel scale {scale:.4g}\"/px is far from HMI's {HMI_SCALE}\"/px; the networks were "
                      "trained at HMI's scale, so features of other sizes are not deconvolved as they should be")


def prepare_file(path, *, kind=None, normalization=None, default_kind=None):
    """Read a FITS file's first image and prepare it (:func:`prepare_data`).

    Raises
    ------
    EnhanceError
        Unreadable or not FITS, a header that promises more than the file holds or the
        memory takes, no image, a bad normalisation, or the memory running out all the
        same (a ``MemoryError`` becomes :func:`out_of_memory`).
    """
    try:
        image = read_image(path)
        return prepare_data(image.data, image.header, kind=kind, normalization=normalization, source=str(path),
                            default_kind=default_kind, hdu_index=image.hdu_index)
    except MemoryError:
        # read_image refuses what will not fit; the memory can still run out (other programs).
        header = read_header(path)
        shape = None if header is None else tuple(header.get(f"NAXIS{i}", 0) for i in range(header["NAXIS"], 0, -1))
        raise out_of_memory("reading", shape, path) from None


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
