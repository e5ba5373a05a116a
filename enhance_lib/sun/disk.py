"""Where the solar disk is on the pixel grid, and mu at each pixel.

The disk comes from the header (RSUN_OBS or R_SUN with CRPIX/CDELT, rotated by CROTA2
or the PC/CD matrix) or, for a full disk without one, from the off-limb NaN region.
:func:`mu_rows` is the one evaluator of mu = cos(heliocentric angle) = sqrt(1 - (r/R)^2)
that the limb-darkening fit, the normaliser and the limb treatment share.

Pixel coordinates are 0-based (numpy) throughout; the x2 output pixel j covers the input
coordinate (j - 0.5) / 2, as in :func:`enhance_lib.io.fits.upsample_header`.
"""

import dataclasses
import logging
import numbers
import warnings

import numpy as np
from astropy import units as u
from astropy.io import fits
from astropy.wcs import WCS
from astropy.wcs.utils import proj_plane_pixel_scales

from ..errors import warn_metadata

log = logging.getLogger(__name__)

__all__ = [
    "MIN_DISK_RADIUS", "DiskGeometry", "disk_geometry", "disk_header", "mu_map", "mu_rows", "partial_disk_geometry",
]

MIN_DISK_RADIUS = 64.0  # px; smaller "disks" are NaN blobs, not the Sun


@dataclasses.dataclass(frozen=True)
class DiskGeometry:
    """Position and size of the solar disk on the pixel grid.

    Attributes
    ----------
    x0, y0 : float
        0-based pixel coordinates (column, row) of the disk centre.
    radius : float
        Radius of the disk in pixels.
    """

    x0: float
    y0: float
    radius: float

    def upsampled(self, factor=2):
        """The same disk on the grid upsampled ``factor`` times (pixel edges kept).

        Parameters
        ----------
        factor : int

        Returns
        -------
        DiskGeometry

        Examples
        --------
        >>> DiskGeometry(10.0, 20.0, 5.0).upsampled(2)
        DiskGeometry(x0=20.5, y0=40.5, radius=10.0)
        """
        shift = (factor - 1) / 2
        return DiskGeometry(factor * self.x0 + shift, factor * self.y0 + shift, factor * self.radius)

    def inside(self, shape, *, tolerance=0.02):
        """Whether the whole limb lies on an image of ``shape`` (within ``tolerance`` * radius)."""
        ny, nx = shape
        slack = tolerance * self.radius
        return (
            self.x0 - self.radius >= -0.5 - slack
            and self.x0 + self.radius <= nx - 0.5 + slack
            and self.y0 - self.radius >= -0.5 - slack
            and self.y0 + self.radius <= ny - 0.5 + slack
        )


def mu_rows(geometry, shape, start, stop, step=1, *, dtype=np.float64, off_disk=np.nan):
    """mu = sqrt(1 - (r/R)^2) at the pixel centres of rows ``start:stop:step`` of ``shape``.

    Parameters
    ----------
    geometry : DiskGeometry
    shape : tuple of int
        (ny, nx) of the grid; columns ``0:nx:step``.
    start, stop, step : int
        Rows (a block of a large grid, or a subsample).
    dtype : numpy dtype
        float64, or float32 for large grids where the result only scales float32 data.
    off_disk : float
        The value off the disk: NaN, or 0 (the limb) where a profile is evaluated.

    Returns
    -------
    numpy.ndarray, shape (rows, columns)

    See Also
    --------
    mu_map : The whole grid at once.
    disk_geometry, partial_disk_geometry : Where ``geometry`` comes from.

    References
    ----------
    Thompson, W. T. 2006, A&A 449, 791, "Coordinate systems for solar image data":
    heliocentric and helioprojective coordinates. With r the distance from the disk centre
    in the image plane and R the disk's apparent radius, mu = cos(theta) = sqrt(1 - (r/R)^2)
    is the observer-at-infinity form (the visible limb is at mu = 0); the observer's finite
    distance, which puts the limb at theta = 90 deg - arcsin(R_sun / d), is neglected.
    """
    y = np.arange(start, stop, step, dtype=dtype)[:, np.newaxis] - dtype(geometry.y0)
    x = np.arange(0, shape[1], step, dtype=dtype)[np.newaxis, :] - dtype(geometry.x0)
    rho2 = (x * x + y * y) / dtype(geometry.radius) ** 2
    if np.isnan(off_disk):
        with np.errstate(invalid="ignore"):
            return np.sqrt(1 - rho2)
    return np.where(rho2 < 1, np.sqrt(np.clip(1 - rho2, 0, 1)), dtype(off_disk))


def mu_map(shape, geometry):
    """The cosine of the heliocentric angle, mu = sqrt(1 - (r/R)^2), at each pixel centre.

    Parameters
    ----------
    shape : tuple of int
        (ny, nx).
    geometry : DiskGeometry

    Returns
    -------
    numpy.ndarray
        float64, NaN off the disk.

    See Also
    --------
    mu_rows : The same by blocks of rows, for large grids.
    """
    return mu_rows(geometry, shape, 0, shape[0])


def disk_header(geometry, *, pixel_scale):
    """A minimal helioprojective header that places ``geometry``'s disk: the inverse of
    :func:`disk_geometry` (disk centre at the reference pixel, on the Sun's centre).

    For arrays without a header whose disk is known, e.g. synthetic full disks.

    Parameters
    ----------
    geometry : DiskGeometry
    pixel_scale : float
        Arcsec per pixel.

    Returns
    -------
    astropy.io.fits.Header

    See Also
    --------
    disk_geometry : Reads it back.

    References
    ----------
    Thompson, W. T. 2006, A&A 449, 791, "Coordinate systems for solar image data": the
    helioprojective axes ``HPLN-TAN``/``HPLT-TAN`` and the Sun's centre at (0", 0").

    Examples
    --------
    >>> h = disk_header(DiskGeometry(2047.5, 2047.5, 1900.0), pixel_scale=0.504)
    >>> h["CRPIX1"], h["RSUN_OBS"]
    (2048.5, 957.6)
    """

    h = fits.Header()
    h["CTYPE1"], h["CTYPE2"] = "HPLN-TAN", "HPLT-TAN"
    h["CUNIT1"] = h["CUNIT2"] = "arcsec"
    h["CDELT1"] = h["CDELT2"] = float(pixel_scale)
    h["CRPIX1"], h["CRPIX2"] = geometry.x0 + 1.0, geometry.y0 + 1.0  # FITS pixels are 1-based
    h["CRVAL1"] = h["CRVAL2"] = 0.0
    h["RSUN_OBS"] = geometry.radius * float(pixel_scale)
    return h


def _number(header, key):
    value = header.get(key) if header is not None else None
    if isinstance(value, numbers.Real) and not isinstance(value, bool) and np.isfinite(value):
        return float(value)
    return None


def _geometry_from_header(header):
    """Disk centre from the WCS (pixel of helioprojective (0, 0)), radius from RSUN_OBS or R_SUN."""
    keys = ("CRPIX1", "CRPIX2", "CRVAL1", "CRVAL2")
    if header is None or any(_number(header, k) is None for k in keys):
        return None
    has_scale = _number(header, "CDELT1") is not None or _number(header, "CD1_1") is not None
    if not has_scale:
        return None

    # A two-axis copy: a cube's third axis and HMI's non-WCS keywords stay out of it.
    sub = fits.Header()
    sub["NAXIS"] = 2
    for i, (lon_lat, default) in enumerate((("LN", "HPLN-TAN"), ("LT", "HPLT-TAN")), start=1):
        ctype = str(header.get(f"CTYPE{i}", ""))
        sub[f"CTYPE{i}"] = ctype if ctype.startswith("HP" + lon_lat) else default
        sub[f"CUNIT{i}"] = str(header.get(f"CUNIT{i}", "arcsec")) or "arcsec"
    pattern = ["CRPIX1", "CRPIX2", "CRVAL1", "CRVAL2", "CDELT1", "CDELT2", "CROTA2"]
    pattern += [f"{p}{i}_{j}" for p in ("PC", "CD") for i in (1, 2) for j in (1, 2)]
    for key in pattern:
        value = _number(header, key)
        if value is not None:
            sub[key] = value
    try:
        with warnings.catch_warnings():
            # FITSFixedWarning about units normalised to degrees: expected here.
            warnings.simplefilter("ignore")
            wcs = WCS(sub)
            px, py = wcs.world_to_pixel_values(0.0, 0.0)
            scale = float(np.sqrt(np.prod(proj_plane_pixel_scales(wcs))))
            scale_arcsec = scale * u.Unit(wcs.wcs.cunit[0]).to(u.arcsec)
    except Exception as exc:  # astropy raises many kinds for a bad WCS; the mask is the fallback
        log.debug("no disk geometry from the WCS: %s", exc)
        return None
    rsun_obs = _number(header, "RSUN_OBS")
    if rsun_obs is not None and scale_arcsec > 0:
        radius = rsun_obs / scale_arcsec
    else:
        radius = _number(header, "R_SUN")
    if radius is None or not (np.isfinite(px) and np.isfinite(py) and radius > 0):
        return None
    return DiskGeometry(float(px), float(py), float(radius))


def _geometry_from_mask(data, min_radius):
    """Disk from the finite pixels, when the off-limb NaN region reaches all four corners."""
    finite = np.isfinite(data)
    ny, nx = finite.shape
    if finite[0, 0] or finite[0, -1] or finite[-1, 0] or finite[-1, -1]:
        return None
    area = int(finite.sum())
    radius = np.sqrt(area / np.pi)
    if radius <= min_radius:
        return None
    x0 = float(finite.sum(axis=0) @ np.arange(nx)) / area
    y0 = float(finite.sum(axis=1) @ np.arange(ny)) / area
    geometry = DiskGeometry(x0, y0, float(radius))
    # A disk, not any NaN pattern: nearly all finite inside, nearly none outside.
    step = max(1, int(np.ceil(max(ny, nx) / 1024)))
    r = np.hypot(np.arange(0, nx, step)[np.newaxis, :] - x0, np.arange(0, ny, step)[:, np.newaxis] - y0)
    sample = finite[::step, ::step]
    inner = sample[r < radius - 2]
    outer = sample[r > radius + 2]
    if inner.size == 0 or inner.mean() < 0.95 or (outer.size and outer.mean() > 0.01):
        return None
    return geometry


def disk_geometry(header, data, *, min_radius=MIN_DISK_RADIUS):
    """Find the solar disk of a full-disk image.

    From the header when it has the keywords (disk centre: the pixel of
    helioprojective (0", 0") through the WCS, CRPIXi/CRVALi with CDELTi or CDi_j,
    PCi_j or CROTA2; radius: RSUN_OBS [arcsec] over the pixel scale, else R_SUN
    [px]); else from the off-limb NaN region: centroid of the finite pixels and
    radius sqrt(area / pi), accepted only when the NaN region covers the four
    corners and the finite pixels form a disk.

    An image is a full disk only when the whole limb lies on it (within 2 % of the
    radius) and the radius exceeds ``min_radius``; a cut-out of a full-disk
    observation, whose header locates the disk, is not one.

    Parameters
    ----------
    header : astropy.io.fits.Header or None
    data : numpy.ndarray, shape (ny, nx)
    min_radius : float
        Smallest radius, in pixels, taken for a disk.

    Returns
    -------
    DiskGeometry or None
        None when the image is not a full disk.

    See Also
    --------
    partial_disk_geometry : The disk of a cut-out, from its header alone.
    disk_header : A header that places a known disk.
    enhance_lib.sun.limb_darkening.limb_darkening : The profile fitted on the disk found.

    References
    ----------
    Greisen, E. W., & Calabretta, M. R. 2002, A&A 395, 1061, "Representations of world
    coordinates in FITS"; Calabretta, M. R., & Greisen, E. W. 2002, A&A 395, 1077,
    "Representations of celestial coordinates in FITS": the WCS keywords (CRPIXi, CRVALi,
    CDELTi, CDi_j, PCi_j, CROTA2) and the gnomonic (TAN) projection through which the disk
    centre is found.

    Thompson, W. T. 2006, A&A 449, 791, "Coordinate systems for solar image data":
    helioprojective coordinates, in which the Sun's centre is at (0", 0").
    """
    data = np.asarray(data)
    if data.ndim != 2:
        raise ValueError(f"data must be a 2-D image, got shape {data.shape}")
    from_header = _geometry_from_header(header)
    from_mask = _geometry_from_mask(data, min_radius)
    if from_header is not None and from_mask is not None:
        off = np.hypot(from_header.x0 - from_mask.x0, from_header.y0 - from_mask.y0)
        if off > 0.02 * from_mask.radius or abs(from_header.radius / from_mask.radius - 1) > 0.02:
            warn_metadata(
                f"the header's disk (centre {from_header.x0:.1f}, {from_header.y0:.1f}, radius "
                f"{from_header.radius:.1f} px) disagrees with the off-limb NaN mask ({from_mask.x0:.1f}, "
                f"{from_mask.y0:.1f}, {from_mask.radius:.1f} px); using the mask"
            )
            return from_mask
    geometry = from_header if from_header is not None else from_mask
    if geometry is None:
        return None
    if geometry.radius <= min_radius or not geometry.inside(data.shape):
        log.debug("not a full disk: %s on an image of %s", geometry, data.shape)
        return None
    return geometry


def partial_disk_geometry(header, shape, *, min_radius=MIN_DISK_RADIUS):
    """The solar disk of an image that is not a full disk, from its header's WCS.

    The same keywords as :func:`disk_geometry` (CRPIXi/CRVALi with CDELTi or CDi_j,
    PCi_j or CROTA2; RSUN_OBS or R_SUN); with no mask to check them against, the
    header is trusted. For cut-outs of a full-disk observation (e.g. a sunpy
    submap): mu is then known at every pixel although the limb is off the image.

    Parameters
    ----------
    header : astropy.io.fits.Header or None
    shape : tuple of int
        (ny, nx) of the image.
    min_radius : float

    Returns
    -------
    DiskGeometry or None
        None without the keywords, for a disk smaller than ``min_radius``, or when
        no pixel of the image is on the disk.

    See Also
    --------
    disk_geometry : The disk of a full-disk image.
    enhance_lib.sun.limb_darkening.standard_limb_darkening : The profile of a cut-out that spans little of mu.

    References
    ----------
    Thompson, W. T. 2006, A&A 449, 791, "Coordinate systems for solar image data".
    """
    geometry = _geometry_from_header(header)
    if geometry is None or geometry.radius <= min_radius:
        return None
    ny, nx = shape
    nearest_x = np.clip(geometry.x0, -0.5, nx - 0.5) - geometry.x0
    nearest_y = np.clip(geometry.y0, -0.5, ny - 0.5) - geometry.y0
    if np.hypot(nearest_x, nearest_y) >= geometry.radius:
        return None
    return geometry
