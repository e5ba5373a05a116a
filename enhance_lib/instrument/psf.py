"""HMI's point-spread function and the diffraction pattern of the target telescope.

Díaz Baso & Asensio Ramos (2018, A&A 614, A5; Sect. 3) made their training inputs with the
HMI PSF and their targets with the Airy pattern of a 28 cm telescope. Both are used at run
time (the forward check of every output, :mod:`enhance_lib.run.forward_check`) and by
training (:mod:`enhance_lib.instrument.forward_model`):

* :func:`hmi_psf` -- the Wachter et al. (2012, Sol. Phys. 275, 261) functional form
  of the HMI PSF, with Enhance's or Wachter's parameters;
* :func:`airy_psf` -- the diffraction pattern of a clear circular aperture;
* :func:`mtf` -- a kernel's modulation transfer function.

Angles are in arcsec unless stated otherwise; all functions return new arrays.
"""

import logging
import math

import numpy as np
from scipy import special

from ..errors import EnhanceError

log = logging.getLogger(__name__)

__all__ = [
    "ARCSEC",
    "HMI_DIAMETER",
    "PSF_VARIANTS",
    "TARGET_DIAMETER",
    "TARGET_SCALE",
    "WAVELENGTH",
    "airy_psf",
    "check_positive",
    "hmi_psf",
    "mtf",
    "psf_grid",
]

#: One arcsec in radians.
ARCSEC = math.pi / (180.0 * 3600.0)
#: Enhance target pixel scale (arcsec/px), half the HMI pixel.
TARGET_SCALE = 0.252
#: HMI aperture (m).
HMI_DIAMETER = 0.14
#: Aperture of the diffraction-limited target telescope (m), twice HMI's
#: (Díaz Baso & Asensio Ramos 2018, Sect. 3).
TARGET_DIAMETER = 0.28
#: Fe I 6173 A, the HMI line (m).
WAVELENGTH = 6173e-10

#: Parameters ``(eps, w, W, k)`` of the Wachter et al. (2012) PSF form.
#: ``'wachter'``: Wachter et al. (2012); ``'enhance'``: Díaz Baso & Asensio Ramos
#: (2018), who widened the core and tail to match the observed HMI power spectrum.
PSF_VARIANTS = {
    "enhance": {"eps": 0.1, "w": 2.0, "W": 3.4, "k": 3.0},
    "wachter": {"eps": 0.1, "w": 1.8, "W": 3.0, "k": 3.0},
}

# Finest sub-pixel sampling used when tabulating a PSF, as a fraction of lambda/D.
_SUBSAMPLE_FRACTION = 0.05
_MAX_OVERSAMPLE = 25


def check_positive(name, value):
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise EnhanceError(f"{name} must be a number, got {value!r}") from None
    if not (np.isfinite(value) and value > 0):
        msg = f"{name} must be a positive number, got {value!r}"
        raise EnhanceError(msg)
    return value


def psf_grid(*, pixel_scale, extent, oversample=1):
    """Angular offsets (arcsec) of the sub-pixel samples of a centred square grid.

    Parameters
    ----------
    pixel_scale : float
        Pixel size (arcsec/px).
    extent : float
        Half width of the grid (arcsec); the grid has ``2*floor(extent/pixel_scale)+1``
        pixels on a side (odd, centred on the middle pixel).
    oversample : int
        Samples per pixel along each axis (at the centres of equal sub-pixels).

    Returns
    -------
    theta : ndarray, shape (n*oversample, n*oversample)
        Radial offset of every sub-sample from the grid centre (arcsec).
    n : int
        Pixels on a side.
    """
    pixel_scale = check_positive("pixel_scale", pixel_scale)
    extent = check_positive("extent", extent)
    half = math.floor(extent / pixel_scale + 1e-9)
    n = 2 * half + 1
    oversample = max(1, int(oversample))
    sub = (np.arange(n * oversample) + 0.5) / oversample - n / 2.0  # in pixels
    x = sub * pixel_scale
    theta = np.hypot(x[:, None], x[None, :])
    return theta, n


def _tabulate(profile, *, pixel_scale, extent, lambda_over_d, oversample):
    """Average ``profile(theta)`` over sub-pixels and normalise to unit sum."""
    if oversample is None:
        step = _SUBSAMPLE_FRACTION * lambda_over_d
        oversample = min(_MAX_OVERSAMPLE, max(1, math.ceil(pixel_scale / step)))
        if oversample % 2 == 0:
            oversample += 1  # keep a sub-sample on the exact centre
    theta, n = psf_grid(pixel_scale=pixel_scale, extent=extent, oversample=oversample)
    values = profile(theta)
    kernel = values.reshape(n, oversample, n, oversample).mean(axis=(1, 3))
    total = kernel.sum()
    if not total > 0:
        msg = f"PSF sums to {total}; check pixel_scale and extent"
        raise EnhanceError(msg)
    return kernel / total


def hmi_psf(
    *,
    pixel_scale,
    variant="enhance",
    eps=None,
    w=None,
    W=None,
    k=None,
    diameter=HMI_DIAMETER,
    wavelength=WAVELENGTH,
    extent=4.4,
    oversample=None,
):
    """The HMI point-spread function, tabulated on a centred square grid.

    .. math::

        \\mathrm{PSF}(r) = (1-\\epsilon)\\, e^{-(r/w)^2}
                         + \\frac{\\epsilon}{1 + (r/W)^k},
        \\qquad r = \\pi D \\theta / \\lambda,

    the form of Wachter et al. (2012, Sol. Phys. 275, 261), as used by Díaz Baso &
    Asensio Ramos (2018, A&A 614, A5, Sect. 3) to make Enhance's training inputs.

    Parameters
    ----------
    pixel_scale : float
        Pixel size of the grid (arcsec/px).
    variant : {'enhance', 'wachter'}
        Default parameters: ``'enhance'`` (eps=0.1, w=2.0, W=3.4, k=3; Díaz Baso &
        Asensio Ramos 2018) or ``'wachter'`` (eps=0.1, w=1.8, W=3.0, k=3; Wachter et
        al. 2012).
    eps, w, W, k : float, optional
        Override the variant's parameters.
    diameter : float
        Aperture D (m); 0.14 for HMI.
    wavelength : float
        lambda (m); 6173e-10 for HMI.
    extent : float
        Half width of the grid (arcsec); the paper used about 4.4".
    oversample : int, optional
        Sub-samples per pixel and axis averaged into each pixel; by default enough to
        sample lambda/D twenty times (so coarse pixel scales are accurate).

    Returns
    -------
    ndarray, shape (n, n)
        The kernel, ``n`` odd, peak at the centre, unit sum.

    See Also
    --------
    PSF_VARIANTS : The parameters of each variant.
    airy_psf : The target telescope's PSF.
    to_hmi : A high-resolution image through this PSF onto HMI's pixels.
    mtf : Its modulation transfer function.

    References
    ----------
    Wachter, R., et al. 2012, Sol. Phys. 275, 261: the functional form (a Gaussian core
    and a power-law wing in r = pi D theta / lambda) and the ``'wachter'`` parameters.

    Díaz Baso, C. J., & Asensio Ramos, A. 2018, A&A 614, A5, "Enhancing SDO/HMI images
    using deep learning", Sect. 3: the ``'enhance'`` parameters (core and wing widened to match the
    observed HMI power spectrum) with which Enhance's training inputs were made.

    Yeo, K. L., Feller, A., Solanki, S. K., et al. 2014, A&A 561, A22, "Point spread
    function of SDO/HMI and the effects of stray light correction on the apparent
    properties of solar surface phenomena": an HMI PSF retrieved from the 2012 transit of
    Venus (five Gaussians whose amplitudes vary with azimuth), and what deconvolving HMI
    data with it does to granulation contrast, magnetic features and flux. Not used here:
    Enhance's networks were trained with the form above.

    Couvidat, S., Schou, J., Hoeksema, J. T., et al. 2016, Sol. Phys. 291, 1887,
    "Observables Processing for the Helioseismic and Magnetic Imager Instrument on the
    Solar Dynamics Observatory": how the continuum intensities and line-of-sight
    magnetograms that this PSF blurs are computed from HMI's filtergrams.
    """
    if variant not in PSF_VARIANTS:
        msg = f"unknown HMI PSF variant {variant!r} (choose from {', '.join(PSF_VARIANTS)})"
        raise EnhanceError(msg)
    params = dict(PSF_VARIANTS[variant])
    for name, value in (("eps", eps), ("w", w), ("W", W), ("k", k)):
        if value is not None:
            params[name] = float(value)
    if not 0.0 <= params["eps"] <= 1.0:
        msg = f"eps must lie in [0, 1], got {params['eps']}"
        raise EnhanceError(msg)
    for name in ("w", "W", "k"):
        check_positive(name, params[name])
    diameter = check_positive("diameter", diameter)
    wavelength = check_positive("wavelength", wavelength)
    factor = math.pi * diameter / wavelength * ARCSEC  # r per arcsec
    e, w_, W_, k_ = params["eps"], params["w"], params["W"], params["k"]

    def profile(theta):
        r = factor * theta
        return (1.0 - e) * np.exp(-((r / w_) ** 2)) + e / (1.0 + (r / W_) ** k_)

    log.debug("HMI PSF %s at %.4g arcsec/px: %s", variant, pixel_scale, params)
    return _tabulate(
        profile,
        pixel_scale=pixel_scale,
        extent=extent,
        lambda_over_d=wavelength / diameter / ARCSEC,
        oversample=oversample,
    )


def airy_psf(
    *,
    pixel_scale,
    diameter=TARGET_DIAMETER,
    wavelength=WAVELENGTH,
    extent=4.4,
    oversample=None,
):
    """The Airy pattern of a clear circular aperture, tabulated on a centred grid.

    .. math::

        \\mathrm{PSF}(x) = \\left[\\frac{2 J_1(x)}{x}\\right]^2,
        \\qquad x = \\pi D \\theta / \\lambda.

    Díaz Baso & Asensio Ramos (2018, A&A 614, A5, Sect. 3) used a 28 cm aperture
    (twice HMI's) for Enhance's targets.

    Parameters
    ----------
    pixel_scale : float
        Pixel size (arcsec/px).
    diameter : float
        Aperture D (m).
    wavelength : float
        lambda (m).
    extent : float
        Half width of the grid (arcsec).
    oversample : int, optional
        Sub-samples per pixel and axis (default: lambda/D sampled twenty times).

    Returns
    -------
    ndarray, shape (n, n)
        Unit-sum kernel, ``n`` odd.

    See Also
    --------
    hmi_psf : HMI's PSF, for the inputs.
    to_target : A high-resolution image through this PSF onto the target's pixels.
    TARGET_DIAMETER : The aperture of Enhance's targets.

    References
    ----------
    Born, M., & Wolf, E. 1999, Principles of Optics, 7th ed. (Cambridge University
    Press), Sect. 8.5.2: Fraunhofer diffraction at a circular aperture, the Airy pattern.

    Díaz Baso, C. J., & Asensio Ramos, A. 2018, A&A 614, A5, "Enhancing SDO/HMI images
    using deep learning", Sect. 3: the diffraction-limited 28 cm telescope of the targets.
    """
    diameter = check_positive("diameter", diameter)
    wavelength = check_positive("wavelength", wavelength)
    factor = math.pi * diameter / wavelength * ARCSEC

    def profile(theta):
        x = factor * theta
        out = np.ones_like(x)
        nz = x > 0
        out[nz] = (2.0 * special.j1(x[nz]) / x[nz]) ** 2
        return out

    return _tabulate(
        profile,
        pixel_scale=pixel_scale,
        extent=extent,
        lambda_over_d=wavelength / diameter / ARCSEC,
        oversample=oversample,
    )


def mtf(kernel, *, shape=None):
    """Modulation transfer function ``|FFT(kernel)|`` normalised to 1 at zero frequency.

    Parameters
    ----------
    kernel : array_like, 2-D
    shape : tuple of int, optional
        Zero-pad the kernel to this shape first (finer frequency sampling).

    Returns
    -------
    ndarray
        ``fftshift``-ed MTF; frequencies are ``fftshift(fftfreq(n, d=pixel_scale))``
        cycles per arcsec.
    """
    kernel = np.asarray(kernel, dtype=float)
    spec = np.abs(np.fft.fft2(kernel, s=shape))
    return np.fft.fftshift(spec / spec[0, 0])
