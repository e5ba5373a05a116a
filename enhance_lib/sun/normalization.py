"""Normalisation of the input to the units the networks were trained in, and back.

The intensity network was trained on continuum intensity divided by the quiet-Sun
level near disk centre (I/I_qs), the magnetogram network on B in kG (Díaz Baso &
Asensio Ramos 2018, A&A 614, A5, sect. 2). The original program divided intensity
by the image maximum instead, which fails on NaNs and depends on the brightest
facula in the field. Here intensity is divided by a robust quiet-Sun level, and on
a full-disk image by a fitted centre-to-limb profile I_qs(mu), so that every part
of the disk reaches the network as local I/I_qs.

Pixel coordinates are 0-based (numpy) throughout; the x2 output pixel j covers the
input coordinate (j - 0.5) / 2, as in :func:`enhance_lib.io.fits.upsample_header`.
"""

import logging
import numbers

import numpy as np

from ..errors import EnhanceError, warn_user
from .disk import disk_geometry, mu_rows, partial_disk_geometry
from .kinds import check_kind
from .limb_darkening import (
    _partial_profile,
    limb_darkening,
    quiet_sun_level,
)
from .limb_integrals import pixel_integrals

log = logging.getLogger(__name__)

__all__ = ["BLOS_DEFAULT", "Normalizer", "check_method", "constant_level", "make_normalizer", "parse_method"]

NAMED_METHODS = ("quiet-sun", "max", "none")
#: The divisor of a magnetogram by default: G -> kG, the units the networks were trained in.
BLOS_DEFAULT = 1000.0
_ROWS = 512  # rows per block when a profile is evaluated on a large grid


class Normalizer:
    """Scales one 2-D image to network units and the network's x2 output back.

    Build it with :func:`make_normalizer`.

    Attributes
    ----------
    kind : {'intensity', 'blos'}
    method : {'quiet-sun', 'max', 'none', 'constant'}
    constant : float
        The divisor, in the input's units (written as ENHNORM); with a limb-darkening
        profile, its value at disk centre I_qs(mu=1).
    shape : tuple of int
        Shape of the image it was made for.
    profile : LimbDarkening or None
        The centre-to-limb profile divided out on a full disk.
    disk : DiskGeometry or None
        The disk on the image's grid when known without a profile (e.g. a
        magnetogram), used for the limb's coverage.
    """

    def __init__(self, *, kind, method, constant, shape, profile=None, disk=None):
        self.kind = kind
        self.method = method
        self.constant = float(constant)
        self.shape = tuple(shape)
        self.profile = profile
        self.disk = disk

    @property
    def geometry(self):
        """The disk (DiskGeometry) on the image's grid when known (the profile's, else
        ``disk``), else None."""
        return self.disk if self.profile is None else self.profile.geometry

    def pixel_levels(self, rows, cols, geometry):
        """What the normalisation divides pixels crossed by the limb by, integrated over each pixel.

        Parameters
        ----------
        rows, cols : array_like of int
            Pixels of a grid (the image's, or the x2 output's).
        geometry : DiskGeometry
            The disk on that grid.

        Returns
        -------
        coverage : numpy.ndarray
            Fraction of each pixel on the disk (:func:`enhance_lib.sun.limb_integrals.pixel_integrals`).
        level : numpy.ndarray
            The profile integrated over the covered part of each pixel, or the constant
            times the coverage: a pixel of the disk at the normalised level 1 holds
            ``level`` in the input's units.
        """

        if self.profile is None:
            coverage = pixel_integrals(rows, cols, geometry)
            return coverage, self.constant * coverage
        return pixel_integrals(rows, cols, geometry, self.profile.coefficients)

    def __repr__(self):
        return f"Normalizer({self.describe()!r})"

    def _scale(self, values, geometry, divide):
        values = np.asarray(values)
        out = np.empty(values.shape, dtype=np.float32)
        if self.profile is None:
            factor = 1.0 / self.constant if divide else self.constant
            np.multiply(values, factor, out=out, casting="unsafe")
            return out
        # float32 and Horner's rule: a 4096^2 disk's x2 output is 67 M pixels, and
        # the smooth profile needs no more precision than the float32 result.
        coefficients = np.asarray(self.profile.coefficients, dtype=np.float32)
        for start in range(0, values.shape[0], _ROWS):
            stop = min(start + _ROWS, values.shape[0])
            # off the disk mu = 0: the limb value, as LimbDarkening.__call__ does
            mu = mu_rows(geometry, values.shape, start, stop, dtype=np.float32, off_disk=0.0)
            level = np.full_like(mu, coefficients[-1])
            for c in coefficients[-2::-1]:
                level *= mu
                level += c
            block = values[start:stop]
            if divide:
                np.divide(block, level, out=out[start:stop], casting="unsafe")
            else:
                np.multiply(block, level, out=out[start:stop], casting="unsafe")
        return out

    def normalize(self, image):
        """Return ``image`` in network units (a new float32 array; NaN stays NaN).

        With a limb-darkening profile, finite pixels beyond the limb are divided by
        the limb value I_qs(0), so nothing finite becomes NaN.

        Parameters
        ----------
        image : numpy.ndarray, shape ``self.shape``

        Returns
        -------
        numpy.ndarray
        """
        image = np.asarray(image)
        if self.profile is not None and image.shape != self.shape:
            raise ValueError(f"image shape {image.shape} is not the {self.shape} this normaliser was fitted on")
        return self._scale(image, self.geometry, divide=True)

    def denormalize(self, enhanced, *, factor=2):
        """Return the network's output in the input's units (a new float32 array).

        Parameters
        ----------
        enhanced : numpy.ndarray, shape (factor * ny, factor * nx)
            Output on the upsampled grid; the limb-darkening profile is evaluated
            on that grid exactly (disk centre at ``factor * x0 + (factor - 1) / 2``,
            radius ``factor * R``), not interpolated.
        factor : int

        Returns
        -------
        numpy.ndarray
        """
        enhanced = np.asarray(enhanced)
        if self.profile is None:
            return self._scale(enhanced, None, divide=False)
        expected = (factor * self.shape[0], factor * self.shape[1])
        if enhanced.shape != expected:
            raise ValueError(f"output shape {enhanced.shape} is not {expected}, x{factor} of {self.shape}")
        return self._scale(enhanced, self.geometry.upsampled(factor), divide=False)

    def describe(self):
        """One line for logs and HISTORY cards."""
        c = self.constant
        if self.method == "quiet-sun" and self.profile is not None and self.profile.source == "standard":
            g = self.geometry
            return (
                f"quiet-sun: divided by the Neckel & Labs (1994) 6173 A limb-darkening law scaled to the "
                f"image's quiet Sun (disk centre {g.x0:.1f}, {g.y0:.1f} px, radius {g.radius:.1f} px from the WCS), "
                f"I_qs(mu=1) = {c:.6g}"
            )
        if self.method == "quiet-sun" and self.profile is not None:
            g = self.geometry
            return (
                f"quiet-sun: divided by the limb-darkening profile I_qs(mu) fitted on the disk "
                f"(centre {g.x0:.1f}, {g.y0:.1f} px, radius {g.radius:.1f} px), I_qs(mu=1) = {c:.6g}"
            )
        if self.method == "quiet-sun":
            return f"quiet-sun: divided by the quiet-Sun level {c:.6g}"
        if self.method == "max":
            return f"max: divided by the image maximum {c:.6g}"
        if self.method == "none":
            return "none: data used as they are"
        unit = " (G -> kG)" if self.kind == "blos" and c == BLOS_DEFAULT else ""
        return f"constant: divided by {c:g}{unit}"


def parse_method(kind, method):
    """Check a normalisation method for ``kind``; return ``(name, number or None)``.

    Raises
    ------
    EnhanceError
        Unknown names, non-numeric or non-positive constants.
    """
    if method is None:
        return ("quiet-sun", None) if kind == "intensity" else ("constant", BLOS_DEFAULT)
    if isinstance(method, str):
        name = method.strip().lower()
        if name in NAMED_METHODS:
            return name, None
        try:
            value = float(name)
        except ValueError:
            msg = f"unknown normalisation {method!r}; use quiet-sun, max, none or a positive number"
            raise EnhanceError(msg) from None
    elif isinstance(method, numbers.Real) and not isinstance(method, bool):
        value = float(method)
    else:
        msg = f"unknown normalisation {method!r}; use quiet-sun, max, none or a positive number"
        raise EnhanceError(msg)
    if not (np.isfinite(value) and value > 0):
        msg = f"normalisation constant must be a positive number (got {method})"
        raise EnhanceError(msg)
    return "constant", value


def check_method(kind, method):
    """:func:`parse_method`, refusing 'quiet-sun' for a magnetogram.

    Raises
    ------
    EnhanceError
        As :func:`parse_method`, or 'quiet-sun' for another kind than intensity.
    """
    name, value = parse_method(kind, method)
    if name == "quiet-sun" and kind != "intensity":
        raise EnhanceError("quiet-sun normalisation applies to intensity only")
    return name, value


def constant_level(name, value, finite):
    """The divisor of a method (from :func:`parse_method`) without a limb-darkening profile.

    Parameters
    ----------
    name : {'quiet-sun', 'max', 'none', 'constant'}
    value : float or None
        The constant of 'constant'.
    finite : numpy.ndarray
        The finite pixels of the image.

    Returns
    -------
    float
    """
    if name == "quiet-sun":
        return quiet_sun_level(finite)
    if name == "max":
        level = float(finite.max())
        if not level > 0:
            raise EnhanceError(f"image maximum {level:g} is not positive; cannot normalise by it")
        return level
    if name == "none":
        return 1.0
    return value


def make_normalizer(data, header=None, *, kind, method=None):
    """Choose and fit the normalisation of one 2-D image.

    Parameters
    ----------
    data : numpy.ndarray, shape (ny, nx)
        The image in its physical units; NaN where missing or off the limb.
    header : astropy.io.fits.Header or None
        Used to locate the disk of a full-disk image (see :func:`disk_geometry`), or
        of a cut-out from its WCS (:func:`partial_disk_geometry`).
    kind : {'intensity', 'blos'}
    method : None, 'quiet-sun', 'max', 'none', float or numeric str
        None: 'quiet-sun' for intensity, 1000 (G -> kG) for blos. 'quiet-sun'
        divides by :func:`quiet_sun_level`, or on a full disk by the fitted profile
        of :func:`limb_darkening`; 'max' by the largest finite pixel (the original
        program's choice); 'none' leaves the data alone; a number divides by it.
        On a cut-out whose header locates the disk, 'quiet-sun' divides by a
        profile in mu too: fitted when the image spans mu <= 0.2 to >= 0.9, else
        :func:`standard_limb_darkening`. The disk, when known, is kept
        (``Normalizer.geometry``) for the limb's coverage in
        :func:`enhance_lib.run.tiling.enhance_array`.

    Returns
    -------
    Normalizer

    Raises
    ------
    EnhanceError
        For an unknown kind or method, a non-positive constant, 'quiet-sun' for a
        magnetogram, or an image whose level cannot be measured.
    """
    check_kind(kind)
    data = np.asarray(data)
    if data.ndim != 2:
        raise ValueError(f"a normaliser is made for one 2-D image (one per plane of a cube), got shape {data.shape}")
    name, value = check_method(kind, method)
    finite = data[np.isfinite(data)]
    if name in ("quiet-sun", "max") and finite.size == 0:
        raise EnhanceError("image has no finite pixels")

    profile = None
    geometry = disk_geometry(header, data)
    full = geometry is not None
    if not full:
        geometry = partial_disk_geometry(header, data.shape)
    if name == "quiet-sun" and geometry is not None:
        try:
            profile = limb_darkening(data, geometry) if full else _partial_profile(data, geometry)
        except EnhanceError as exc:
            warn_user(f"{exc}; normalising by one quiet-Sun level instead")
    value = profile.centre if profile is not None else constant_level(name, value, finite)
    return Normalizer(kind=kind, method=name, constant=value, shape=data.shape, profile=profile, disk=geometry)
