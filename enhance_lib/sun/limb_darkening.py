"""The quiet-Sun level of an image, and its centre-to-limb profile I_qs(mu).

:func:`quiet_sun_level` is a robust mode of the granulation; :func:`limb_darkening` fits
the profile of a full disk (or of a partial disk that spans enough of it);
:func:`standard_limb_darkening` scales the Neckel & Labs (1994) law at 6173 A to an image
that does not.
"""

import dataclasses
import logging

import numpy as np

from ..errors import EnhanceError
from .disk import DiskGeometry, mu_rows

log = logging.getLogger(__name__)

__all__ = ["HMI_WAVELENGTH_NM", "NECKEL_LABS_6173", "LimbDarkening", "limb_darkening", "quiet_sun_level",
           "standard_limb_darkening"]

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

    See Also
    --------
    limb_darkening : The level in bins of mu across a full disk.
    enhance_lib.sun.normalization.make_normalizer : Where it becomes the normalisation.

    References
    ----------
    Díaz Baso, C. J., & Asensio Ramos, A. 2018, A&A 614, A5, "Enhancing SDO/HMI images
    using deep learning": the networks and their training data; intensities reach them in units of
    the quiet-Sun level (I/I_qs), which this estimate defines for an image.

    Examples
    --------
    A quiet Sun at 1.0 with 4 % granulation, a third of it covered by a spot at 0.3:

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> image = 1 + 0.04 * rng.standard_normal((90, 90))
    >>> image[:30] = 0.3
    >>> round(quiet_sun_level(image), 2)
    1.0
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
            out[start:stop] = self(mu_rows(geometry, shape, start, stop))
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

    See Also
    --------
    standard_limb_darkening : The standard law scaled to an image that spans too little of mu.
    quiet_sun_level : The level of each bin.
    enhance_lib.sun.disk.mu_rows : mu at each pixel.

    References
    ----------
    Pierce, A. K., & Slaughter, C. D. 1977, Sol. Phys. 51, 25: continuum limb darkening
    as a polynomial in mu fitted over the whole disk.

    Neckel, H., & Labs, D. 1994, Sol. Phys. 153, 91, "The solar radiation between 3300 and
    12500 Å": the polynomial law in mu for continuum windows, here at 6173 Å
    (:data:`NECKEL_LABS_6173`), one of the two profiles fitted.
    """
    data = np.asarray(data)
    ny, nx = data.shape
    # A few million pixels fix 18 medians to far better than the granulation rms;
    # a regular subsample keeps 4096^2 images fast.
    step = max(1, int(np.ceil(np.sqrt(ny * nx / 4e6))))
    sample = np.asarray(data[::step, ::step], dtype=np.float64)
    mu = mu_rows(geometry, (ny, nx), 0, ny, step)
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
# transcribed right (tests/test_sun_limb_darkening.py checks it).
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

    See Also
    --------
    limb_darkening : The profile fitted on a full disk.
    NECKEL_LABS_6173 : The coefficients A_k.

    References
    ----------
    Neckel, H., & Labs, D. 1994, Sol. Phys. 153, 91, "The solar radiation between 3300 and
    12500 Å": the coefficients of I(mu)/I(1) as a polynomial of degree 5 in mu for
    continuum windows; the rows at 610.975 and 640.970 nm, interpolated to 617.33 nm.
    """
    data = np.asarray(data)
    mu = mu_rows(geometry, data.shape, 0, data.shape[0])
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
    mu = mu_rows(geometry, data.shape, 0, data.shape[0], step)
    mu = mu[np.isfinite(mu) & np.isfinite(np.asarray(data[::step, ::step], dtype=np.float64))]
    if mu.size and mu.min() <= span[0] and mu.max() >= span[1]:
        try:
            return limb_darkening(data, geometry)
        except EnhanceError as exc:
            log.debug("no limb-darkening fit on the partial disk (%s); the standard law instead", exc)
    return standard_limb_darkening(data, geometry)
