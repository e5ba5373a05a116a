"""The white-noise level of an HMI image, measured from the image alone.

:func:`estimate_noise` returns a :class:`NoiseEstimate`: one standard deviation per pixel, in
the image's units. The HMI PSF (FWHM about 2 pixels) leaves little solar structure at the
highest spatial frequencies, while white noise has the same power at every frequency; a
high-pass filter whose response is concentrated at the Nyquist corner therefore sees mostly
noise, and the median absolute deviation of its output ignores the few pixels where structure
leaks through (spot and pore edges, strong network elements).

What it measures: the level of the *white* part of the noise, at the diagonal Nyquist corner.
Noise that the instrument's processing has correlated between neighbouring pixels (an
interpolation, for instance) has less power there than its per-pixel variance says, and is
underestimated.
"""

import dataclasses
import logging

import numpy as np
from scipy import ndimage

from ..errors import EnhanceError
from .kinds import check_kind
from .limb_darkening import quiet_sun_level

log = logging.getLogger(__name__)

__all__ = ["KERNELS", "NoiseEstimate", "estimate_noise"]

#: The one-dimensional factors of the separable high-pass kernels, binomial differences whose
#: response is ``(2 sin(pi f))**order`` per axis: ``'fourth'`` (5x5), the default;
#: ``'immerkaer'``, the second difference (3x3, Immerkaer 1996), which lets about three times
#: more granulation through; ``'sixth'`` (7x7), half the default's granulation, but the
#: narrowest band of frequencies, the most sensitive to noise that is not white.
KERNELS = {
    "fourth": np.array([1.0, -4.0, 6.0, -4.0, 1.0]),
    "immerkaer": np.array([1.0, -2.0, 1.0]),
    "sixth": np.array([1.0, -6.0, 15.0, -20.0, 15.0, -6.0, 1.0]),
}

#: Pixels closer than this to a NaN or to the image's edge are left out (the 5x5 kernel's reach;
#: 3 pixels for ``'sixth'``): the high-pass there would mix in the fill.
MARGIN = 2

#: 1 / Phi^-1(3/4): the median absolute deviation of a unit normal distribution is 0.6745.
_MAD_TO_SIGMA = 1.482602218505602


@dataclasses.dataclass(frozen=True)
class NoiseEstimate:
    """A white-noise level measured by :func:`estimate_noise`.

    Attributes
    ----------
    sigma : float
        Standard deviation of the noise of one pixel, in the image's units. For intensity with
        the photon scaling (the default) it is the noise at the intensity ``level``; else one
        value for the whole image.
    method : str
        How it was measured, short enough for a FITS HISTORY line.
    n_pixels : int
        The pixels it was measured on.
    level : float or None
        The intensity ``sigma`` refers to when the noise is scaled as photon noise, else None.
    """

    sigma: float
    method: str
    n_pixels: int
    level: float | None = None

    def at(self, values):
        """The noise expected at the pixel values ``values``.

        With a ``level`` (photon noise), ``sigma * sqrt(values / level)``, 0 where ``values``
        is not positive; without, ``sigma`` everywhere. NaN stays NaN.

        Parameters
        ----------
        values : array_like
            Intensities (or any values, without a ``level``), in the image's units.

        Returns
        -------
        numpy.ndarray
            float64, the shape of ``values``.

        Examples
        --------
        >>> NoiseEstimate(sigma=0.002, method="", n_pixels=1, level=1.0).at([1.0, 0.25]).tolist()
        [0.002, 0.001]
        """
        values = np.asarray(values, dtype=np.float64)
        if self.level is None:
            return np.where(np.isnan(values), np.nan, self.sigma)
        with np.errstate(invalid="ignore"):
            return self.sigma * np.sqrt(np.clip(values, 0.0, None) / self.level)


def _high_pass(data, taps):
    """The separable high-pass of ``data``, normalised to unit gain for white noise."""
    out = ndimage.correlate1d(data, taps, axis=0, mode="nearest")
    out = ndimage.correlate1d(out, taps, axis=1, mode="nearest")
    return out / float(np.sum(taps**2))  # the 2-D kernel's L2 norm is sum(taps**2)


def _check_count(usable, min_pixels, what):
    n_pixels = int(np.count_nonzero(usable))
    if n_pixels < min_pixels:
        msg = f"too few pixels to estimate the noise from: {n_pixels} {what}, fewer than `min_pixels` ({min_pixels})"
        raise EnhanceError(msg)


def estimate_noise(image, *, kind, kernel="fourth", photon=None, level=None, min_pixels=100):
    """Estimate the per-pixel white-noise standard deviation of an image from its data.

    The image is filtered with a separable high-pass kernel ``h = t t^T`` (``t`` =
    ``[1, -4, 6, -4, 1]`` by default, the fourth difference in each axis), divided by its L2
    norm ``sum(t**2)`` so that white noise of standard deviation sigma comes out with the same
    sigma. Its frequency response, ``(2 sin(pi fx))**4 (2 sin(pi fy))**4``, vanishes to fourth
    order towards either frequency axis and peaks at the Nyquist corner (0.5, 0.5) cycles/px,
    where the HMI PSF has removed most of the solar structure. The estimate is the normalised
    median absolute deviation of the filtered pixels,

        sigma = MAD(h * image / ||h||) / 0.6745,

    the finest-scale rule of Donoho & Johnstone (1994), which ignores the minority of pixels
    where structure leaks through (spot edges, strong field). Pixels within :data:`MARGIN`
    pixels (the kernel's half-width) of a NaN or infinite pixel or of the image's edge are
    not used.

    Intensity noise is mostly photon noise, proportional to the square root of the intensity.
    With ``photon`` (the default for intensity), each filtered pixel is divided by
    ``sqrt(I_local / level)``, ``I_local`` being the 5x5 mean around it, so that a limb-darkened
    disk or a dark spot measures the noise at one intensity, ``level``. By default that is the
    quiet-Sun level of the image (:func:`~enhance_lib.sun.limb_darkening.quiet_sun_level` of
    ``I_local``): on a crop near disk centre the quiet Sun's intensity, on a full disk the mode
    of the disk's intensities, some 5-10 % below the disk centre's (0.92 of it on a synthetic
    disk with the Neckel & Labs law). Give ``level`` (the disk centre's intensity, say) to refer
    ``sigma`` to another intensity; :meth:`NoiseEstimate.at` gives the noise at any intensity,
    ``sigma * sqrt(I / level)``.

    Parameters
    ----------
    image : array_like, 2-D
        One plane (intensity, any units, or blos in G); NaN or infinite off the limb or where
        missing. It is not modified.
    kind : {'intensity', 'blos'}
        The data type.
    kernel : {'fourth', 'immerkaer', 'sixth'}
        The high-pass (see :data:`KERNELS`).
    photon : bool or None
        Scale the noise as photon noise; None: for intensity only.
    level : float or None
        The intensity the photon-scaled ``sigma`` refers to; None: the image's quiet-Sun level.
    min_pixels : int
        Fewest usable pixels to measure on.

    Returns
    -------
    NoiseEstimate

    Raises
    ------
    EnhanceError
        If the image is not 2-D, ``kind`` or ``kernel`` is unknown, fewer than ``min_pixels``
        pixels are usable, or the photon scaling finds no positive intensity.

    Notes
    -----
    Solar structure that survives the filter adds in quadrature. On noise-free synthetic HMI
    images (the synthetic Sun through :func:`enhance_lib.instrument.forward_model.to_hmi`, quiet
    Sun, a spot, plage) the estimate is 1.2e-3 for intensity (I/I_qs) and 0.25 G for blos with
    ``'fourth'`` (3.3e-3 and 0.8 G with ``'immerkaer'``, 5.8e-4 and 0.12 G with ``'sixth'``):
    with ``'fourth'``, white noise is measured within 10 % from 0.003 I_qs and 1 G, within 20 %
    from 0.002 I_qs; with ``'sixth'``, within 15 % from 0.001 I_qs (``benchmarks/noise.py``).

    Noise that the data's processing has correlated between pixels (an interpolation) has less
    power at the Nyquist corner than its variance says, and is underestimated. The real HMI
    crops of the test data show it: the blos estimate falls from 5.4 G (``'immerkaer'``) to
    3.2 G (``'fourth'``) and 2.5 G (``'sixth'``) while the synthetic structure floor is below
    1 G, and their power spectra drop by a factor of about 5 in amplitude from frequencies
    (0.35, 0.35) to the corner, where white noise is flat. On such data ``sigma`` is a lower
    bound of the per-pixel noise.

    References
    ----------
    Donoho, D. L., & Johnstone, I. M. 1994, Biometrika 81, 425, "Ideal spatial adaptation by
    wavelet shrinkage": sigma = MAD / 0.6745 of the finest-scale coefficients.

    Immerkaer, J. 1996, Computer Vision and Image Understanding 64, 300, "Fast noise variance
    estimation": the 3x3 kernel of second differences (``'immerkaer'``).

    Examples
    --------
    A smooth blos field with 10 G of white noise:

    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> y, x = np.mgrid[:128, :128]
    >>> blos = 300 * np.exp(-((x - 64) ** 2 + (y - 64) ** 2) / 400.0) + 10 * rng.standard_normal((128, 128))
    >>> round(estimate_noise(blos, kind="blos").sigma)
    10
    """
    check_kind(kind)
    if kernel not in KERNELS:
        msg = f"unknown `kernel` {kernel!r}; choose {' or '.join(KERNELS)}"
        raise EnhanceError(msg)
    data = np.array(image, dtype=np.float64)  # a copy: the caller's array is not touched
    if data.ndim != 2:
        msg = f"the noise is estimated on one 2-D plane at a time; got an image of shape {data.shape}"
        raise EnhanceError(msg)
    finite = np.isfinite(data)
    data[~finite] = 0.0
    taps = KERNELS[kernel]
    margin = max(MARGIN, taps.size // 2)
    usable = ndimage.binary_erosion(finite, np.ones((2 * margin + 1,) * 2, bool), border_value=0)
    _check_count(usable, min_pixels, f"finite pixels at least {margin} pixels from a NaN and from the edge")
    residual = _high_pass(data, taps)
    photon = kind == "intensity" if photon is None else bool(photon)
    if photon:
        local = ndimage.uniform_filter(data, 2 * MARGIN + 1, mode="nearest")
        usable &= local > 0
        _check_count(usable, min_pixels, "pixels of positive intensity away from NaN and the edge")
        if level is None:
            level = quiet_sun_level(local[usable])
        if not level > 0:
            msg = f"the photon scaling needs a positive intensity `level`; got {level}"
            raise EnhanceError(msg)
        residual = residual / np.sqrt(np.where(usable, local, level) / level)
    n_pixels = int(np.count_nonzero(usable))
    values = residual[usable]
    sigma = _MAD_TO_SIGMA * float(np.median(np.abs(values - np.median(values))))
    order = {"fourth": "4th", "immerkaer": "2nd", "sixth": "6th"}[kernel]
    method = f"noise: MAD/0.6745 of the {order}-difference high-pass, {n_pixels} px"
    if photon:
        method += f", photon-scaled to I={level:.4g}"
    log.debug("%s: sigma %.4g", method, sigma)
    return NoiseEstimate(sigma=sigma, method=method, n_pixels=n_pixels, level=float(level) if photon else None)
