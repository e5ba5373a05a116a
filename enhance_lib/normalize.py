"""Normalisation of the input to the units the networks were trained in, and back.

The intensity network was trained on continuum intensity divided by the quiet-Sun
level near disk centre (I/I_qs), the magnetogram network on B in kG (Díaz Baso &
Asensio Ramos 2018, A&A 614, A5, sect. 2). The original program divided intensity
by the image maximum instead, which fails on NaNs and depends on the brightest
facula in the field. Here intensity is divided by a robust quiet-Sun level, and on
a full-disk image by a fitted centre-to-limb profile I_qs(mu), so that every part
of the disk reaches the network as local I/I_qs.

Pixel coordinates are 0-based (numpy) throughout; the x2 output pixel j covers the
input coordinate (j - 0.5) / 2, as in :func:`enhance_lib.fitsio.upsample_header`.
"""

import dataclasses
import logging
import numbers
import warnings

import numpy as np

from .config import KINDS
from .errors import EnhanceError

log = logging.getLogger(__name__)

__all__ = [
    "parse_method",
    "quiet_sun_level",
    "DiskGeometry",
    "disk_geometry",
    "partial_disk_geometry",
    "mu_map",
    "LimbDarkening",
    "limb_darkening",
    "standard_limb_darkening",
    "NECKEL_LABS_6173",
    "Normalizer",
    "make_normalizer",
]

NAMED_METHODS = ("quiet-sun", "max", "none")
BLOS_DEFAULT = 1000.0  # G -> kG
MIN_DISK_RADIUS = 64.0  # px; smaller "disks" are NaN blobs, not the Sun
_ROWS = 512  # rows per block when a profile is evaluated on a large grid


def quiet_sun_level(image, *, width=0.1, iterations=20):
    """Robust estimate of the quiet-Sun intensity of an image.

    Starts from the median of the finite pixels and repeatedly replaces it with the
    median of the pixels within ``+-width`` (relative) of the current value, until
    it changes by less than 1e-6 (relative) or after ``iterations`` steps. Quiet-Sun
    granulation at HMI resolution has an rms contrast of about 4 %, so a +-10 %
    window holds nearly all of it while excluding umbrae, penumbrae and most
    faculae; as the window is symmetric about its centre, the estimate converges on
    the mode of the quiet-Sun distribution even when a dark spot covers a third of
    the field and shifts the starting median.

    Parameters
    ----------
    image : array_like
        Intensity, any shape; NaN and infinite pixels are ignored.
    width : float
        Half-width of the window, relative to the level.
    iterations : int
        Maximum number of refinements.

    Returns
    -------
    float

    Raises
    ------
    EnhanceError
        If no pixel is finite or the median is not positive (not an intensity image).
    """
    values = np.asarray(image, dtype=np.float64).ravel()
    values = values[np.isfinite(values)]
    if values.size == 0:
        raise EnhanceError("no finite pixels to estimate the quiet-Sun level from")
    level = float(np.median(values))
    if not level > 0:
        msg = f"median intensity {level:g} is not positive; quiet-Sun normalisation needs an intensity image"
        raise EnhanceError(msg)
    for _ in range(iterations):
        window = values[np.abs(values - level) <= width * level]
        if window.size == 0:
            break
        new = float(np.median(window))
        done = abs(new - level) <= 1e-6 * level
        level = new
        if done:
            break
    return level


# --- disk geometry --------------------------------------------------------------------


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


def _mu_rows(geometry, shape, start, stop, step=1):
    """mu = sqrt(1 - (r/R)^2) for rows start:stop:step of ``shape``; NaN off the disk."""
    y = np.arange(start, stop, step, dtype=np.float64)[:, np.newaxis] - geometry.y0
    x = np.arange(0, shape[1], step, dtype=np.float64)[np.newaxis, :] - geometry.x0
    rho2 = (x * x + y * y) / geometry.radius**2
    with np.errstate(invalid="ignore"):
        return np.sqrt(1.0 - rho2)


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
    """
    return _mu_rows(geometry, shape, 0, shape[0])


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
    from astropy import units as u
    from astropy.io import fits
    from astropy.wcs import WCS
    from astropy.wcs.utils import proj_plane_pixel_scales

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
    """
    data = np.asarray(data)
    if data.ndim != 2:
        raise ValueError(f"data must be a 2-D image, got shape {data.shape}")
    from_header = _geometry_from_header(header)
    from_mask = _geometry_from_mask(data, min_radius)
    if from_header is not None and from_mask is not None:
        off = np.hypot(from_header.x0 - from_mask.x0, from_header.y0 - from_mask.y0)
        if off > 0.02 * from_mask.radius or abs(from_header.radius / from_mask.radius - 1) > 0.02:
            log.warning(
                "the header's disk (centre %.1f, %.1f, radius %.1f px) disagrees with the off-limb NaN mask "
                "(%.1f, %.1f, %.1f px); using the mask",
                from_header.x0,
                from_header.y0,
                from_header.radius,
                from_mask.x0,
                from_mask.y0,
                from_mask.radius,
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


# --- limb darkening -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class LimbDarkening:
    """A fitted quiet-Sun centre-to-limb profile I_qs(mu) = sum_k c_k mu^k.

    Attributes
    ----------
    coefficients : tuple of float
        c_0, c_1, ... (increasing powers of mu), in the units of the image.
    geometry : DiskGeometry
        The disk the profile was fitted on.
    source : {'fit', 'standard'}
        Fitted on the image, or the standard law of :func:`standard_limb_darkening`
        scaled to the image's quiet Sun.
    """

    coefficients: tuple
    geometry: DiskGeometry
    source: str = "fit"

    def __call__(self, mu):
        """I_qs at ``mu`` (clipped to [0, 1]; NaN, i.e. off the disk, counts as the limb, mu = 0)."""
        mu = np.clip(np.nan_to_num(np.asarray(mu, dtype=np.float64), nan=0.0), 0.0, 1.0)
        return np.polynomial.polynomial.polyval(mu, self.coefficients)

    @property
    def centre(self):
        """I_qs at disk centre (mu = 1)."""
        return float(self(1.0))

    def evaluate(self, shape, *, geometry=None):
        """I_qs at each pixel centre of a grid (the limb value off the disk).

        Parameters
        ----------
        shape : tuple of int
            (ny, nx).
        geometry : DiskGeometry, optional
            The disk on that grid; default the one fitted
            (``self.geometry.upsampled(2)`` for the x2 output grid).

        Returns
        -------
        numpy.ndarray
            float32.
        """
        geometry = self.geometry if geometry is None else geometry
        out = np.empty(shape, dtype=np.float32)
        for start in range(0, shape[0], _ROWS):
            stop = min(start + _ROWS, shape[0])
            out[start:stop] = self(_mu_rows(geometry, shape, start, stop))
        return out


def limb_darkening(data, geometry, *, degree=3, nbins=18, mu_min=0.1, width=0.1, min_pixels=100):
    """Fit the quiet-Sun centre-to-limb intensity profile of a full-disk image.

    The disk between ``mu_min`` and 1 is cut into ``nbins`` equal bins of
    mu = sqrt(1 - (r/R)^2); in each, the quiet-Sun level is the robust estimate of
    :func:`quiet_sun_level` (so spots and faculae do not bias it, and NaNs are
    ignored). Two profiles are fitted to the levels by least squares weighted by
    sqrt(pixels in the bin), and the one with the smaller weighted residual is kept:

    * a polynomial of ``degree`` in mu, the classical form of continuum limb
      darkening (Pierce & Slaughter 1977, Sol. Phys. 51, 25 used degree 5 over the
      whole disk; degree 3 follows the shape at 6173 A without oscillating between
      bins);
    * the standard law at 6173 A (:data:`NECKEL_LABS_6173`, degree 5) times a
      polynomial of ``degree - 1``: the law carries the Sun's shape near the limb,
      where a cubic fitted at mu >= 0.1 bends 1-2 % away from it between mu 0.1 and
      0.15, and the factor absorbs the instrument's and the day's departures.

    Closer to the limb than ``mu_min`` the profile is extrapolated: there the
    pixels are few and the profile is steepest within one pixel.

    Parameters
    ----------
    data : numpy.ndarray, shape (ny, nx)
        Intensity; NaN off the limb or where missing.
    geometry : DiskGeometry
    degree : int
    nbins : int
    mu_min : float
    width : float
        Window of :func:`quiet_sun_level`.
    min_pixels : int
        Bins with fewer finite pixels are not used.

    Returns
    -------
    LimbDarkening

    Raises
    ------
    EnhanceError
        If too few bins have enough pixels, or the fitted profile is not positive
        over the disk.
    """
    data = np.asarray(data)
    ny, nx = data.shape
    # A few million pixels fix 18 medians to far better than the granulation rms;
    # a regular subsample keeps 4096^2 images fast.
    step = max(1, int(np.ceil(np.sqrt(ny * nx / 4e6))))
    sample = np.asarray(data[::step, ::step], dtype=np.float64)
    mu = _mu_rows(geometry, (ny, nx), 0, ny, step)
    good = np.isfinite(sample) & np.isfinite(mu) & (mu >= mu_min)
    mu, values = mu[good], sample[good]
    edges = np.linspace(mu_min, 1.0, nbins + 1)
    index = np.clip(np.searchsorted(edges, mu, side="right") - 1, 0, nbins - 1)
    order = np.argsort(index, kind="stable")
    counts = np.bincount(index, minlength=nbins)
    bounds = np.concatenate([[0], np.cumsum(counts)])
    centres, levels, weights = [], [], []
    for b in range(nbins):
        if counts[b] < min_pixels:
            continue
        members = order[bounds[b] : bounds[b + 1]]
        try:
            level = quiet_sun_level(values[members], width=width)
        except EnhanceError:
            continue
        centres.append(float(np.mean(mu[members])))
        levels.append(level)
        weights.append(np.sqrt(counts[b]))
    if len(levels) < degree + 2:
        msg = f"too few on-disk pixels to fit a limb-darkening profile ({len(levels)} usable mu bins)"
        raise EnhanceError(msg)
    poly = np.polynomial.polynomial
    centres, levels, weights = np.asarray(centres), np.asarray(levels), np.asarray(weights)
    law = poly.polyval(centres, NECKEL_LABS_6173)
    candidates = (
        poly.polyfit(centres, levels, degree, w=weights),
        # weights on the ratio scaled by the law, so that both fits minimise the same residual
        poly.polymul(NECKEL_LABS_6173, poly.polyfit(centres, levels / law, degree - 1, w=weights * law)),
    )
    residuals = [np.sum((weights * (poly.polyval(centres, c) - levels)) ** 2) for c in candidates]
    coefficients = candidates[int(np.argmin(residuals))]
    profile = LimbDarkening(tuple(float(c) for c in coefficients), geometry)
    check = profile(np.linspace(0.0, 1.0, 101))
    if not (np.all(np.isfinite(check)) and check.min() > 0.05 * profile.centre > 0):
        raise EnhanceError("the fitted limb-darkening profile is not positive over the disk")
    log.debug("limb darkening: %d bins, coefficients %s", len(levels), profile.coefficients)
    return profile


# Neckel & Labs (1994), Sol. Phys. 153, 91, Table II: I(mu)/I(1) = sum_k A_k mu^k for
# continuum windows; the rows at 610.975 nm and 640.970 nm, linearly interpolated to HMI's
# 617.33 nm (Fe I 6173 A) and renormalised to sum 1 (mu = 1). The same rows give
# 2 * integral(I mu dmu) = 0.8221 and 0.8290, the table's F/I(1) column: the coefficients are
# transcribed right (tests/test_normalize.py checks it).
_NL94_ROWS = (
    (610.975, (0.30854, 1.36620, -1.83572, 2.33221, -1.63082, 0.45959)),
    (640.970, (0.33644, 1.30590, -1.79238, 2.45040, -1.89979, 0.59943)),
)
HMI_WAVELENGTH_NM = 617.33


def _interpolated_law(wavelength):
    (w0, a0), (w1, a1) = _NL94_ROWS
    t = (wavelength - w0) / (w1 - w0)
    law = (1 - t) * np.asarray(a0) + t * np.asarray(a1)
    return tuple(float(c) for c in law / law.sum())


NECKEL_LABS_6173 = _interpolated_law(HMI_WAVELENGTH_NM)


def standard_limb_darkening(data, geometry, *, width=0.1, mu_min=0.1):
    """The standard continuum limb darkening at 6173 A, scaled to an image's quiet Sun.

    I_qs(mu) = s * sum_k A_k mu^k with the Neckel & Labs (1994, Sol. Phys. 153, 91)
    coefficients interpolated to 617.33 nm (:data:`NECKEL_LABS_6173`), and ``s``
    the quiet-Sun level (:func:`quiet_sun_level`) of the image divided by the law,
    over the pixels at ``mu >= mu_min`` (all on-disk pixels when there are none).
    For images that do not span enough of the disk to fit a profile, e.g. limb
    cut-outs.

    Parameters
    ----------
    data : numpy.ndarray, shape (ny, nx)
    geometry : DiskGeometry
        The disk on this image's grid (it may extend beyond the image).
    width : float
        Window of :func:`quiet_sun_level`.
    mu_min : float

    Returns
    -------
    LimbDarkening

    Raises
    ------
    EnhanceError
        If no finite pixel is on the disk.
    """
    data = np.asarray(data)
    mu = _mu_rows(geometry, data.shape, 0, data.shape[0])
    law = np.polynomial.polynomial.polyval(np.nan_to_num(mu, nan=0.0), NECKEL_LABS_6173)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(np.isfinite(mu), data / law, np.nan)
    usable = np.isfinite(ratio) & (mu >= mu_min)
    if not usable.any():
        usable = np.isfinite(ratio)
    if not usable.any():
        raise EnhanceError("no finite pixels on the disk to scale the standard limb-darkening law to")
    scale = quiet_sun_level(ratio[usable], width=width)
    return LimbDarkening(tuple(scale * c for c in NECKEL_LABS_6173), geometry, "standard")


def _partial_profile(data, geometry, *, span=(0.2, 0.9)):
    """A profile fitted on the image when its disk spans mu from <= span[0] to >= span[1],
    else the standard law scaled to it (a short span would be extrapolated far)."""
    data = np.asarray(data)
    step = max(1, int(np.ceil(np.sqrt(data.size / 1e6))))
    mu = _mu_rows(geometry, data.shape, 0, data.shape[0], step)
    mu = mu[np.isfinite(mu) & np.isfinite(np.asarray(data[::step, ::step], dtype=np.float64))]
    if mu.size and mu.min() <= span[0] and mu.max() >= span[1]:
        try:
            return limb_darkening(data, geometry)
        except EnhanceError as exc:
            log.debug("no limb-darkening fit on the partial disk (%s); the standard law instead", exc)
    return standard_limb_darkening(data, geometry)


# --- the normaliser -------------------------------------------------------------------


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
            Fraction of each pixel on the disk (:func:`enhance_lib.limb.pixel_integrals`).
        level : numpy.ndarray
            The profile integrated over the covered part of each pixel, or the constant
            times the coverage: a pixel of the disk at the normalised level 1 holds
            ``level`` in the input's units.
        """
        from .limb import pixel_integrals

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
        x = np.arange(values.shape[1], dtype=np.float32) - np.float32(geometry.x0)
        x2 = (x * x)[np.newaxis, :]
        r2 = np.float32(geometry.radius) ** 2
        for start in range(0, values.shape[0], _ROWS):
            stop = min(start + _ROWS, values.shape[0])
            y = np.arange(start, stop, dtype=np.float32)[:, np.newaxis] - np.float32(geometry.y0)
            # off the disk mu = 0: the limb value, as LimbDarkening.__call__ does
            mu = np.sqrt(np.clip(1 - (x2 + y * y) / r2, 0, 1))
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
        :func:`enhance_lib.predict.enhance_array`.

    Returns
    -------
    Normalizer

    Raises
    ------
    EnhanceError
        For an unknown kind or method, a non-positive constant, 'quiet-sun' for a
        magnetogram, or an image whose level cannot be measured.
    """
    if kind not in KINDS:
        raise EnhanceError(f"unknown type {kind!r}; choose intensity or blos")
    data = np.asarray(data)
    if data.ndim != 2:
        raise ValueError(f"a normaliser is made for one 2-D image (one per plane of a cube), got shape {data.shape}")
    name, value = parse_method(kind, method)
    if name == "quiet-sun" and kind != "intensity":
        raise EnhanceError("quiet-sun normalisation applies to intensity only")
    finite = data[np.isfinite(data)]
    if name in ("quiet-sun", "max") and finite.size == 0:
        raise EnhanceError("image has no finite pixels")

    profile = None
    geometry = disk_geometry(header, data)
    full = geometry is not None
    if not full:
        geometry = partial_disk_geometry(header, data.shape)
    if name == "quiet-sun":
        if geometry is not None:
            try:
                profile = limb_darkening(data, geometry) if full else _partial_profile(data, geometry)
            except EnhanceError as exc:
                log.warning("%s; normalising by one quiet-Sun level instead", exc)
        value = profile.centre if profile is not None else quiet_sun_level(finite)
    elif name == "max":
        value = float(finite.max())
        if not value > 0:
            raise EnhanceError(f"image maximum {value:g} is not positive; cannot normalise by it")
    elif name == "none":
        value = 1.0
    return Normalizer(kind=kind, method=name, constant=value, shape=data.shape, profile=profile, disk=geometry)
