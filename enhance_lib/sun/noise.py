"""The noise level of an HMI image, and its correlation between pixels, measured from the image alone.

:func:`estimate_noise` returns a :class:`NoiseEstimate`: one standard deviation per pixel, in
the image's units, and the width of the Gaussian that correlates the noise between neighbouring
pixels (0: white). The HMI PSF (FWHM about 2 pixels) leaves little solar structure at the
highest spatial frequencies, while white noise has the same power at every frequency; a
high-pass filter whose response is concentrated at the Nyquist corner therefore sees mostly
noise, and the median absolute deviation of its output ignores the few pixels where structure
leaks through (spot and pore edges, strong network elements).

Noise that the data's processing has correlated between neighbouring pixels has less power at
the Nyquist corner than its per-pixel variance says. The model here is white noise convolved
with a Gaussian of width ``s`` pixels and rescaled to its per-pixel sigma
(:func:`correlated_noise`): each high-pass sees a known fraction of it (:func:`kernel_gain`),
a different one for each kernel, while the Sun's structure reaches them as noise of about 1 px
would (:data:`SUN_CORRELATION`): the readings of three high-passes, fitted with the two, give
``s`` and the per-pixel sigma.
"""

import dataclasses
import logging

import numpy as np
from scipy import ndimage, optimize

from ..errors import EnhanceError
from .kinds import check_kind
from .limb_darkening import quiet_sun_level

log = logging.getLogger(__name__)

__all__ = [
    "KERNELS",
    "MAX_CORRELATION",
    "SUN_CORRELATION",
    "WHITE_BELOW",
    "NoiseEstimate",
    "correlated_noise",
    "correlation_taps",
    "estimate_noise",
    "kernel_gain",
]

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

#: Gaussian widths (input pixels) below which the noise is taken as white: the estimate is then
#: the high-pass's reading, unchanged. Below 0.45 px the kernels lose less than 30 % of the
#: noise (``kernel_gain('sixth', 0.45)`` = 0.72), and white noise on 160 x 160 synthetic HMI
#: pixels is fitted with widths of 0-0.36 px (``benchmarks/results/noise.md``).
WHITE_BELOW = 0.45

#: The widest correlation fitted (input pixels). Beyond it the noise reaches the high-passes as
#: the Sun's own structure does (:data:`SUN_CORRELATION`), and the two cannot be told apart.
MAX_CORRELATION = 0.85

#: The Sun seen through HMI's PSF reaches the three high-passes as noise correlated by a
#: Gaussian of this width would: the noise-free synthetic scenes read 2nd : 4th : 6th
#: differences in the ratios 6.7 : 2.0 : 1 (blos) and 5.7 : 2.1 : 1 (intensity), and
#: :func:`kernel_gain` at 0.97 px gives 6.3 : 2.0 : 1. The shape of the leak that
#: :func:`estimate_noise` fits beside the noise.
SUN_CORRELATION = 0.97

#: The fitted widths, 0.01 px apart.
_WIDTHS = np.round(np.arange(0.0, MAX_CORRELATION + 0.005, 0.01), 2)

#: The Gaussian's reach in widths (as :func:`scipy.ndimage.gaussian_filter`'s ``truncate``).
_TRUNCATE = 4.0


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
    correlation : float
        The width (standard deviation, input pixels) of the Gaussian that correlates the noise
        between pixels (:func:`correlated_noise`); 0.0: white, or not measured.
    """

    sigma: float
    method: str
    n_pixels: int
    level: float | None = None
    correlation: float = 0.0

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


def correlation_taps(width):
    """The one-dimensional taps (unit sum) of the Gaussian of ``width`` pixels that correlates the
    noise, reaching 4 widths (as :func:`scipy.ndimage.gaussian_filter`); ``[1.0]`` for 0.

    Examples
    --------
    >>> correlation_taps(0.0).tolist(), correlation_taps(0.5).size
    ([1.0], 5)
    """
    width = float(width)
    if not width > 0:
        return np.array([1.0])
    radius = int(_TRUNCATE * width + 0.5)
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / width) ** 2)
    return taps / taps.sum()


def correlated_noise(white, width):
    """Noise correlated between pixels, of unit per-pixel standard deviation, made of ``white``.

    ``white`` (unit normal deviates, 2-D) convolved with the Gaussian of ``width`` pixels in
    each axis (:func:`correlation_taps`, periodic at the edges, so that every pixel has the same
    variance) and divided by the kernel's L2 norm, which restores unit variance per pixel.
    ``width`` 0 returns ``white`` itself.

    Parameters
    ----------
    white : numpy.ndarray, 2-D
    width : float
        Input pixels.

    Returns
    -------
    numpy.ndarray
        float64, the shape of ``white`` (``white`` itself for width 0).

    Examples
    --------
    >>> import numpy as np
    >>> noise = correlated_noise(np.random.default_rng(0).standard_normal((256, 256)), 0.7)
    >>> round(float(noise.std()), 2), round(float(np.mean(noise[:, 1:] * noise[:, :-1])), 1)
    (1.0, 0.6)
    """
    taps = correlation_taps(width)
    if taps.size == 1:
        return white
    out = ndimage.correlate1d(np.asarray(white, dtype=np.float64), taps, axis=0, mode="wrap")
    out = ndimage.correlate1d(out, taps, axis=1, mode="wrap")
    return out / float(np.sum(taps**2))  # the 2-D kernel's L2 norm is sum(taps**2)


def kernel_gain(kernel, width):
    """The fraction of correlated noise's per-pixel sigma that a high-pass of :data:`KERNELS` reads.

    For noise of :func:`correlated_noise` (width ``width``) the normalised high-pass's output has
    the standard deviation ``kernel_gain * sigma``: ``sum((t * g)**2) / (sum(t**2) sum(g**2))``,
    ``t`` the kernel's and ``g`` the Gaussian's taps (the two are separable, so the 2-D gain is
    the 1-D variance ratio). 1 for white noise.

    Examples
    --------
    >>> kernel_gain("sixth", 0.0), round(kernel_gain("sixth", 0.7), 3), round(kernel_gain("immerkaer", 0.7), 3)
    (1.0, 0.138, 0.268)
    """
    taps, gauss = KERNELS[kernel], correlation_taps(width)
    return float(np.sum(np.convolve(taps, gauss) ** 2) / (np.sum(taps**2) * np.sum(gauss**2)))


def _fit_correlation(readings):
    """The per-pixel sigma and width of correlated noise, and the amplitude of the Sun's leak, that
    best give the ``readings`` of the high-passes of :data:`KERNELS` (in their order).

    ``reading_k**2 = sigma**2 gain_k(width)**2 + floor**2 gain_k(SUN_CORRELATION)**2``, each
    equation relative to its reading; non-negative least squares in (sigma**2, floor**2) at each
    of the widths up to :data:`MAX_CORRELATION`, the width of the least residual.
    """
    readings = np.asarray(readings, dtype=np.float64)
    if not np.all(readings > 0):
        return 0.0, 0.0, 0.0
    sun = np.array([kernel_gain(k, SUN_CORRELATION) for k in KERNELS]) ** 2
    best = None
    for width in _WIDTHS:
        noise = np.array([kernel_gain(k, width) for k in KERNELS]) ** 2
        x, residual = optimize.nnls(np.stack([noise, sun], axis=1) / readings[:, None] ** 2, np.ones(readings.size))
        if best is None or residual < best[0]:
            best = (residual, float(width), x)
    _, width, (noise_var, sun_var) = best
    return float(np.sqrt(noise_var)), width, float(np.sqrt(sun_var))


def _mad_sigma(residual, usable):
    values = residual[usable]
    return _MAD_TO_SIGMA * float(np.median(np.abs(values - np.median(values))))


def _usable(finite, margin):
    return ndimage.binary_erosion(finite, np.ones((2 * margin + 1,) * 2, bool), border_value=0)


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


def estimate_noise(image, *, kind, kernel="fourth", photon=None, level=None, correlated=None, min_pixels=100):
    """Estimate the per-pixel noise standard deviation of an image, and its correlation, from its data.

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

    With ``correlated`` (the default for blos), the noise's correlation between pixels is
    measured too. Noise of :func:`correlated_noise` (white noise convolved with a Gaussian of
    width ``s`` pixels, rescaled to its per-pixel sigma) reaches each high-pass attenuated by
    :func:`kernel_gain`, the more so the higher the kernel's order, and the Sun's structure
    reaches them as noise of :data:`SUN_CORRELATION` would. The readings of the three kernels
    (second, fourth, sixth differences) are fitted with the two, ``reading_k**2 = sigma**2
    gain_k(s)**2 + floor**2 gain_k(0.97)**2`` for ``s`` from 0 to :data:`MAX_CORRELATION`.
    When the fitted ``s`` reaches :data:`WHITE_BELOW` and the fitted sigma exceeds the
    ``kernel``'s reading, that is the estimate; else the noise is taken as white and ``sigma``
    is the reading, exactly as without ``correlated``.

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
    correlated : bool or None
        Measure the noise's correlation and correct ``sigma`` for it; None: for blos only. On
        intensity at HMI's noise levels the solar structure that leaks through the high-passes
        (granulation seen through the PSF) is as strong as the noise, and white noise of 1e-3
        I/I_qs would be read as correlated by 0.6 px and 4-5 times larger (6e-4: 17-20 times;
        ``benchmarks/results/noise.md``).
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

    Without ``correlated``, noise correlated between pixels is underestimated: by 0.57 with a
    Gaussian of 0.5 px and 0.14 with 0.7 px (``'sixth'``). With it, on the synthetic truth scenes
    (:func:`enhance_lib.training.scenes.truth_scene`, 160 x 160 px) with blos noise of 10 G and
    6.3 G, white noise and noise correlated by 0.5 or 0.7 px are measured within 20 %, and the
    width within 0.05 px. Noise correlated by 1 px or more reaches the high-passes as the Sun
    does, is not told apart from it, and is read as white (the reading is then a lower bound,
    by a factor of about 50). The width of the core of the weak-field pixels' distribution
    (Liu et al. 2012), which does not depend on the correlation, reads 1.6-2.1 times the noise
    on these scenes, whose internetwork field has an 11 G core of its own at HMI's resolution,
    and is not used (``benchmarks/results/noise.md``).

    References
    ----------
    Donoho, D. L., & Johnstone, I. M. 1994, Biometrika 81, 425, "Ideal spatial adaptation by
    wavelet shrinkage": sigma = MAD / 0.6745 of the finest-scale coefficients.

    Immerkaer, J. 1996, Computer Vision and Image Understanding 64, 300, "Fast noise variance
    estimation": the 3x3 kernel of second differences (``'immerkaer'``).

    Liu, Y., Hoeksema, J. T., Scherrer, P. H., et al. 2012, Sol. Phys. 279, 295, "Comparison of
    line-of-sight magnetograms taken by the Solar Dynamics Observatory/Helioseismic and Magnetic
    Imager and Solar and Heliospheric Observatory/Michelson Doppler Imager": the noise of HMI's
    magnetograms from the width of the distribution of weak-field pixels (10.2 G at 45 s).

    Examples
    --------
    A smooth blos field with 10 G of white noise:

    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> y, x = np.mgrid[:128, :128]
    >>> blos = 300 * np.exp(-((x - 64) ** 2 + (y - 64) ** 2) / 400.0) + 10 * rng.standard_normal((128, 128))
    >>> round(estimate_noise(blos, kind="blos").sigma), estimate_noise(blos, kind="blos").correlation
    (10, 0.0)

    The same noise correlated by a Gaussian of 0.7 px:

    >>> blos = 300 * np.exp(-((x - 64) ** 2 + (y - 64) ** 2) / 400.0) + 10 * correlated_noise(
    ...     rng.standard_normal((128, 128)), 0.7)
    >>> estimate = estimate_noise(blos, kind="blos")
    >>> round(estimate.sigma), round(estimate.correlation, 1)
    (9, 0.7)
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
    margin = max(MARGIN, KERNELS[kernel].size // 2)
    usable = _usable(finite, margin)
    _check_count(usable, min_pixels, f"finite pixels at least {margin} pixels from a NaN and from the edge")
    photon = kind == "intensity" if photon is None else bool(photon)
    scale = 1.0
    if photon:
        local = ndimage.uniform_filter(data, 2 * MARGIN + 1, mode="nearest")
        usable &= local > 0
        _check_count(usable, min_pixels, "pixels of positive intensity away from NaN and the edge")
        if level is None:
            level = quiet_sun_level(local[usable])
        if not level > 0:
            msg = f"the photon scaling needs a positive intensity `level`; got {level}"
            raise EnhanceError(msg)
        scale = np.sqrt(np.where(usable, local, level) / level)
    n_pixels = int(np.count_nonzero(usable))
    sigma = _mad_sigma(_high_pass(data, KERNELS[kernel]) / scale, usable)
    order = {"fourth": "4th", "immerkaer": "2nd", "sixth": "6th"}[kernel]
    method = f"noise: MAD/0.6745 of the {order}-difference high-pass, {n_pixels} px"
    if photon:
        method += f", photon-scaled to I={level:.4g}"
    correlation = 0.0
    if kind == "blos" if correlated is None else correlated:
        fitted, correlation = _correlation(data, scale, usable & _usable(finite, KERNELS["sixth"].size // 2))
        if correlation >= WHITE_BELOW and fitted > sigma:
            sigma = fitted
            method = (f"noise: correlated (Gaussian {correlation:.2f} px) and solar structure fitted to the MAD/0.6745 "
                      f"of the 2nd, 4th and 6th-difference high-passes, {n_pixels} px")
            if photon:
                method += f", photon-scaled to I={level:.4g}"
        else:
            correlation = 0.0
            method += f", white (no correlation of {WHITE_BELOW:g} px or more resolved from the solar structure)"
    log.debug("%s: sigma %.4g", method, sigma)
    return NoiseEstimate(sigma=sigma, method=method, n_pixels=n_pixels, level=float(level) if photon else None,
                         correlation=correlation)


def _correlation(data, scale, usable):
    """The noise's per-pixel sigma and correlation width fitted to the readings of :data:`KERNELS`."""
    readings = [_mad_sigma(_high_pass(data, taps) / scale, usable) for taps in KERNELS.values()]
    sigma, width, _ = _fit_correlation(readings)
    return sigma, width
