"""The forward model: HMI and Airy point-spread functions, convolution, resampling.

Díaz Baso & Asensio Ramos (2018, A&A 614, A5; Sect. 3) made their training data by
convolving MURaM snapshots (0.0662"/px) with the HMI PSF and resampling them to
HMI's 0.504"/px (the inputs), and by convolving the same snapshots with the Airy
pattern of a 28 cm telescope and resampling them to 0.252"/px (the targets, x2 the
input sampling). This module reproduces that chain:

* :func:`hmi_psf` -- the Wachter et al. (2012, Sol. Phys. 275, 261) functional form
  of the HMI PSF, with Enhance's or Wachter's parameters;
* :func:`airy_psf` -- the diffraction pattern of a clear circular aperture;
* :func:`convolve` -- FFT convolution with symmetric (mirror) boundaries;
* :func:`resample` -- flux-conserving (area-weighted) rebinning to any pixel scale;
* :func:`degrade`, :func:`to_hmi`, :func:`to_target` -- the whole chain.

Angles are in arcsec unless stated otherwise; all functions return new arrays.
"""

import logging
import math

import numpy as np
from scipy import signal, special

from ..errors import EnhanceError
from ..nets.config import HMI_SCALE

log = logging.getLogger(__name__)

__all__ = [
    "ARCSEC",
    "HMI_DIAMETER",
    "PSF_VARIANTS",
    "TARGET_DIAMETER",
    "TARGET_SCALE",
    "WAVELENGTH",
    "airy_psf",
    "convolve",
    "degrade",
    "hmi_psf",
    "mtf",
    "psf_grid",
    "resample",
    "resample_matrix",
    "to_hmi",
    "to_target",
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


def _check_positive(name, value):
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
    pixel_scale = _check_positive("pixel_scale", pixel_scale)
    extent = _check_positive("extent", extent)
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
        _check_positive(name, params[name])
    diameter = _check_positive("diameter", diameter)
    wavelength = _check_positive("wavelength", wavelength)
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
    diameter = _check_positive("diameter", diameter)
    wavelength = _check_positive("wavelength", wavelength)
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


def _as_image(image, name="image"):
    arr = np.asarray(image, dtype=float)
    if arr.ndim != 2:
        msg = f"{name} must be 2-D, got shape {arr.shape}"
        raise EnhanceError(msg)
    if arr.size == 0:
        msg = f"{name} is empty"
        raise EnhanceError(msg)
    if not np.isfinite(arr).all():
        msg = f"{name} contains NaN or infinite values; fill or crop them first"
        raise EnhanceError(msg)
    return arr


def convolve(image, kernel):
    """Convolve an image with a kernel by FFT, with mirror-symmetric boundaries.

    The image is extended by ``numpy.pad(mode='symmetric')`` so that no flux wraps
    around from the opposite edge, and the output has the image's shape. The kernel
    centre is pixel ``(ny//2, nx//2)`` of the kernel (the middle one for odd sizes),
    so a centred delta kernel returns the image unchanged.

    Parameters
    ----------
    image : array_like, 2-D
        Finite values only.
    kernel : array_like, 2-D

    Returns
    -------
    ndarray of float64, same shape as ``image``
    """
    image = _as_image(image)
    kernel = _as_image(kernel, "kernel")
    ky, kx = kernel.shape
    pad = ((ky - 1 - ky // 2, ky // 2), (kx - 1 - kx // 2, kx // 2))
    padded = np.pad(image, pad, mode="symmetric")
    return signal.fftconvolve(padded, kernel, mode="valid")


def resample_matrix(n_in, *, from_scale, to_scale, n_out=None):
    """The 1-D area-overlap matrix rebinning ``n_in`` pixels to a new pixel scale.

    Input pixel ``i`` covers ``[i, i+1) * from_scale`` and output pixel ``j`` covers
    ``[j, j+1) * to_scale`` (both grids start at the same edge). Entry ``(j, i)`` is
    the overlap length divided by ``to_scale``, so each fully covered output pixel is
    the area-weighted mean of the input pixels under it (rows sum to 1).

    Parameters
    ----------
    n_in : int
    from_scale, to_scale : float
        Input and output pixel sizes (same units).
    n_out : int, optional
        Output pixels; default ``floor(n_in * from_scale / to_scale)`` (only fully
        covered output pixels).

    Returns
    -------
    ndarray, shape (n_out, n_in)
    """
    from_scale = _check_positive("from_scale", from_scale)
    to_scale = _check_positive("to_scale", to_scale)
    length = n_in * from_scale
    if n_out is None:
        n_out = math.floor(length / to_scale + 1e-9)
    if n_out < 1:
        msg = (
            f"{n_in} pixels at {from_scale:g} make less than one pixel at {to_scale:g} "
            "(image too small)"
        )
        raise EnhanceError(msg)
    in_edges = np.arange(n_in + 1) * from_scale
    out_edges = np.arange(n_out + 1) * to_scale
    lo = np.maximum(out_edges[:-1, None], in_edges[None, :-1])
    hi = np.minimum(out_edges[1:, None], in_edges[None, 1:])
    return np.clip(hi - lo, 0.0, None) / to_scale


def resample(image, *, factor=None, from_scale=None, to_scale=None, shape=None):
    """Rebin an image to a new pixel scale, conserving the mean (area-weighted).

    Each output pixel is the mean of the input over its area (overlaps of input
    pixels weighted by area), computed with separable 1-D overlap matrices, so any
    ratio of scales works (e.g. 0.0662"/px -> 0.504"/px). Both grids start at the
    image's outer corner; output pixels that would extend beyond the image are
    dropped.

    Parameters
    ----------
    image : array_like, 2-D
    factor : float, optional
        Output pixel size in input pixels (``to_scale / from_scale``): 2 bins 2x2,
        0.5 doubles the sampling. Give either ``factor`` or both scales.
    from_scale, to_scale : float, optional
        Input and output pixel sizes (arcsec/px).
    shape : tuple of int, optional
        Output shape (default: whole output pixels only).

    Returns
    -------
    ndarray of float64
    """
    image = _as_image(image)
    if factor is not None:
        if from_scale is not None or to_scale is not None:
            msg = "give either factor or from_scale and to_scale, not both"
            raise EnhanceError(msg)
        from_scale, to_scale = 1.0, _check_positive("factor", factor)
    elif from_scale is None or to_scale is None:
        msg = "resample needs factor, or both from_scale and to_scale"
        raise EnhanceError(msg)
    ny, nx = image.shape
    out_y, out_x = (None, None) if shape is None else shape
    my = resample_matrix(ny, from_scale=from_scale, to_scale=to_scale, n_out=out_y)
    mx = resample_matrix(nx, from_scale=from_scale, to_scale=to_scale, n_out=out_x)
    return my @ image @ mx.T


def degrade(
    truth,
    *,
    pixel_scale,
    out_scale,
    psf="hmi",
    variant="enhance",
    diameter=None,
    wavelength=WAVELENGTH,
    extent=4.4,
):
    """Convolve a high-resolution image with a PSF, then resample it.

    Parameters
    ----------
    truth : array_like, 2-D
        The high-resolution image (e.g. a MURaM snapshot or :mod:`enhance_lib.training.synthetic_sun`).
    pixel_scale : float
        Its pixel size (arcsec/px).
    out_scale : float
        Output pixel size (arcsec/px).
    psf : {'hmi', 'airy'} or array_like
        ``'hmi'``: :func:`hmi_psf` with ``variant``; ``'airy'``: :func:`airy_psf`;
        an array: a kernel already tabulated at ``pixel_scale`` (unit sum assumed).
    variant : str
        HMI PSF variant (see :data:`PSF_VARIANTS`).
    diameter : float, optional
        Aperture (m); default 0.14 for 'hmi' and 0.28 for 'airy'.
    wavelength : float
        Wavelength (m).
    extent : float
        PSF half width (arcsec).

    Returns
    -------
    ndarray of float64

    See Also
    --------
    to_hmi, to_target : The two sides of a training pair.
    convolve, resample : The two steps.
    """
    truth = _as_image(truth, "truth")
    if isinstance(psf, str):
        if psf == "hmi":
            kernel = hmi_psf(
                pixel_scale=pixel_scale,
                variant=variant,
                diameter=HMI_DIAMETER if diameter is None else diameter,
                wavelength=wavelength,
                extent=extent,
            )
        elif psf == "airy":
            kernel = airy_psf(
                pixel_scale=pixel_scale,
                diameter=TARGET_DIAMETER if diameter is None else diameter,
                wavelength=wavelength,
                extent=extent,
            )
        else:
            msg = f"unknown PSF {psf!r} (choose 'hmi', 'airy' or give an array)"
            raise EnhanceError(msg)
    else:
        kernel = _as_image(psf, "psf")
    blurred = convolve(truth, kernel)
    return resample(blurred, from_scale=pixel_scale, to_scale=out_scale)


def to_hmi(truth, *, pixel_scale, out_scale=HMI_SCALE, variant="enhance", extent=4.4):
    """HMI-like image of a high-resolution truth: HMI PSF, then 0.504"/px.

    The input side of Enhance's training pairs (Díaz Baso & Asensio Ramos 2018,
    Sect. 3). See :func:`degrade` for the parameters.

    See Also
    --------
    to_target : The target side of the pair.
    hmi_psf : The PSF.
    degrade : The chain with any PSF and pixel scale.
    enhance_lib.training.evaluation.forward_residual : An enhanced image sent back through it.

    References
    ----------
    Díaz Baso, C. J., & Asensio Ramos, A. 2018, A&A 614, A5, "Enhancing SDO/HMI images
    using deep learning", Sect. 3: MURaM snapshots through the HMI PSF, resampled to 0.504"/px.

    Wachter, R., et al. 2012, Sol. Phys. 275, 261: the form of the HMI PSF.
    """
    return degrade(
        truth,
        pixel_scale=pixel_scale,
        out_scale=out_scale,
        psf="hmi",
        variant=variant,
        extent=extent,
    )


def to_target(
    truth,
    *,
    pixel_scale,
    out_scale=TARGET_SCALE,
    diameter=TARGET_DIAMETER,
    wavelength=WAVELENGTH,
    extent=4.4,
):
    """Target image of a high-resolution truth: Airy of a 28 cm aperture, 0.252"/px.

    The target side of Enhance's training pairs (Díaz Baso & Asensio Ramos 2018,
    Sect. 3). See :func:`degrade` for the parameters.

    See Also
    --------
    to_hmi : The input side of the pair.
    airy_psf : The PSF.
    degrade : The chain with any PSF and pixel scale.

    References
    ----------
    Díaz Baso, C. J., & Asensio Ramos, A. 2018, A&A 614, A5, "Enhancing SDO/HMI images
    using deep learning", Sect. 3: the same snapshots through the Airy pattern of a 28 cm aperture
    (twice HMI's), resampled to 0.252"/px (half HMI's pixel).
    """
    return degrade(
        truth,
        pixel_scale=pixel_scale,
        out_scale=out_scale,
        psf="airy",
        diameter=diameter,
        wavelength=wavelength,
        extent=extent,
    )
