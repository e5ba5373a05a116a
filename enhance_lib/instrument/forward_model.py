"""The forward model: an image of the Sun put through an instrument (convolution, resampling).

Díaz Baso & Asensio Ramos (2018, A&A 614, A5; Sect. 3) made their training data by
convolving MURaM snapshots (0.0662"/px) with the HMI PSF and resampling them to
HMI's 0.504"/px (the inputs), and by convolving the same snapshots with the Airy
pattern of a 28 cm telescope and resampling them to 0.252"/px (the targets, x2 the
input sampling). This module reproduces that chain with the PSFs of
:mod:`enhance_lib.instrument.psf`:

* :func:`convolve` -- FFT convolution with symmetric (mirror) boundaries;
* :func:`resample` -- flux-conserving (area-weighted) rebinning to any pixel scale;
* :func:`degrade`, :func:`to_hmi`, :func:`to_target` -- the whole chain.

Angles are in arcsec unless stated otherwise; all functions return new arrays.
"""

import math

import numpy as np
from scipy import signal

from ..errors import EnhanceError
from ..nets.config import HMI_SCALE
from .psf import HMI_DIAMETER, TARGET_DIAMETER, TARGET_SCALE, WAVELENGTH, airy_psf, check_positive, hmi_psf

__all__ = [
    "as_image",
    "convolve",
    "degrade",
    "resample",
    "resample_matrix",
    "to_hmi",
    "to_target",
]


def as_image(image, name="image"):
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
    image = as_image(image)
    kernel = as_image(kernel, "kernel")
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
    from_scale = check_positive("from_scale", from_scale)
    to_scale = check_positive("to_scale", to_scale)
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
    image = as_image(image)
    if factor is not None:
        if from_scale is not None or to_scale is not None:
            msg = "give either factor or from_scale and to_scale, not both"
            raise EnhanceError(msg)
        from_scale, to_scale = 1.0, check_positive("factor", factor)
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
    params=None,
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
        HMI PSF variant (see :data:`~enhance_lib.instrument.psf.PSF_VARIANTS`).
    params : dict, optional
        Explicit HMI PSF parameters overriding the variant's (any of ``eps``, ``w``,
        ``W``, ``k``; e.g. :attr:`enhance_lib.instrument.states.InstrumentState.psf_params`).
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
    truth = as_image(truth, "truth")
    unknown = sorted(set(params or {}) - {"eps", "w", "W", "k"})
    if unknown:
        msg = f"`params` holds {', '.join(unknown)}; the HMI PSF takes eps, w, W and k"
        raise EnhanceError(msg)
    if isinstance(psf, str):
        if psf == "hmi":
            kernel = hmi_psf(
                pixel_scale=pixel_scale,
                variant=variant,
                **(params or {}),
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
        kernel = as_image(psf, "psf")
    blurred = convolve(truth, kernel)
    return resample(blurred, from_scale=pixel_scale, to_scale=out_scale)


def to_hmi(truth, *, pixel_scale, out_scale=HMI_SCALE, variant="enhance", params=None, extent=4.4):
    """HMI-like image of a high-resolution truth: HMI PSF, then 0.504"/px.

    The input side of Enhance's training pairs (Díaz Baso & Asensio Ramos 2018,
    Sect. 3). See :func:`degrade` for the parameters; ``params`` (explicit ``eps``, ``w``,
    ``W``, ``k``) observe it in another instrument state
    (:class:`enhance_lib.instrument.states.InstrumentState`).

    See Also
    --------
    to_target : The target side of the pair.
    hmi_psf : The PSF.
    degrade : The chain with any PSF and pixel scale.
    enhance_lib.run.forward_check.forward_check : An enhanced image sent back through it.

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
        params=params,
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
