"""Figures of merit for enhanced images (Díaz Baso & Asensio Ramos 2018, Sect. 4-5).

Used by ``benchmarks/fidelity.py`` and the tests of the shipped networks.
"""

import numpy as np
from scipy import ndimage

from .psf import HMI_SCALE, to_hmi
from .sun import contrast  # noqa: F401  (re-exported: one definition of rms contrast)

__all__ = [
    "bicubic_x2",
    "rms",
    "rms_ratio",
    "correlation",
    "contrast",
    "unsigned_flux",
    "forward_residual",
    "radial_power_spectrum",
]


def bicubic_x2(image):
    """Cubic-spline x2 interpolation on Enhance's output grid.

    Output pixel ``j`` (0-based) is centred on input coordinate ``(j - 0.5) / 2``,
    the grid of :func:`enhance_lib.fitsio.upsample_header`.
    """
    image = np.asarray(image, dtype=np.float64)
    ny, nx = image.shape
    y = (np.arange(2 * ny) - 0.5) / 2
    x = (np.arange(2 * nx) - 0.5) / 2
    yy, xx = np.meshgrid(y, x, indexing="ij")
    return ndimage.map_coordinates(image, [yy, xx], order=3, mode="mirror").astype(np.float32)


def rms(a):
    """Root mean square of the finite values."""
    a = np.asarray(a, dtype=np.float64)
    return float(np.sqrt(np.mean(a[np.isfinite(a)] ** 2)))


def rms_ratio(ours, reference, baseline):
    """RMS(ours - reference) / RMS(baseline - reference): < 1 means closer than the baseline."""
    ours, reference, baseline = (np.asarray(a, dtype=np.float64) for a in (ours, reference, baseline))
    return rms(ours - reference) / rms(baseline - reference)


def correlation(a, b):
    """Pearson correlation coefficient of two images."""
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    return float(np.corrcoef(a, b)[0, 1])


def unsigned_flux(blos, *, pixel_area=1.0):
    """Total unsigned flux sum(|B|) * pixel area (area in any consistent unit)."""
    return float(np.nansum(np.abs(np.asarray(blos, dtype=np.float64))) * pixel_area)


def forward_residual(enhanced, original, *, out_scale=HMI_SCALE, region=None):
    """Re-convolve an x2 output with the HMI PSF, resample to HMI pixels, compare with the input.

    Parameters
    ----------
    enhanced : numpy.ndarray, shape (2ny, 2nx)
    original : numpy.ndarray, shape (ny, nx)
    out_scale : float
        HMI pixel scale (arcsec); the output has half of it.
    region : tuple of slice, optional
        Input-pixel region where the comparison is made (away from the edges).

    Returns
    -------
    float
        RMS(reconvolved - input) / RMS(input) in the region: the paper's
        consistency check (~4 % for magnetograms).
    """
    back = to_hmi(np.asarray(enhanced, dtype=np.float64), pixel_scale=out_scale / 2, out_scale=out_scale)
    back = back[: original.shape[0], : original.shape[1]]
    original = np.asarray(original, dtype=np.float64)
    if region is not None:
        back, original = back[region], original[region]
    return rms(back - original) / rms(original)


def radial_power_spectrum(image, *, pixel_scale):
    """Azimuthally averaged power spectrum of an image (mean removed, Hann window).

    Returns
    -------
    k : numpy.ndarray
        Spatial frequency in cycles per arcsec (bin centres).
    power : numpy.ndarray
        Mean power spectral density in each annulus (image units squared times arcsec^2).
    """
    image = np.asarray(image, dtype=np.float64)
    image = image - image.mean()
    ny, nx = image.shape
    window = np.outer(np.hanning(ny), np.hanning(nx))
    power = np.abs(np.fft.fftshift(np.fft.fft2(image * window))) ** 2
    fy = np.fft.fftshift(np.fft.fftfreq(ny, d=pixel_scale))
    fx = np.fft.fftshift(np.fft.fftfreq(nx, d=pixel_scale))
    k = np.hypot(*np.meshgrid(fy, fx, indexing="ij"))
    # Power spectral density: |FFT|^2 times the pixel area over the pixel count, so
    # images of the same scene at different samplings agree at low frequencies.
    power *= pixel_scale**2 / (ny * nx)
    step = 1.0 / (pixel_scale * max(ny, nx))
    bins = np.arange(0, k.max() + step, step)
    index = np.digitize(k.ravel(), bins)
    total = np.bincount(index, weights=power.ravel(), minlength=bins.size + 1)
    count = np.bincount(index, minlength=bins.size + 1)
    valid = count[1 : bins.size] > 0
    centres = 0.5 * (bins[:-1] + bins[1:])
    return centres[valid], total[1 : bins.size][valid] / count[1 : bins.size][valid]
