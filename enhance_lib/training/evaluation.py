"""Figures of merit for enhanced images (Díaz Baso & Asensio Ramos 2018, Sect. 4-5).

Used by ``benchmarks/fidelity.py`` and the tests of the shipped networks.
"""

import numpy as np
from scipy import ndimage

__all__ = [
    "bicubic_x2",
    "contrast",
    "correlation",
    "limb_metrics",
    "radial_power_spectrum",
    "rms",
    "rms_ratio",
    "unsigned_flux",
]


def contrast(image, mask=None):
    """rms contrast ``std(I) / mean(I)`` (over ``mask`` when given).

    See Also
    --------
    radial_power_spectrum : Where the contrast gained lies in spatial frequency.
    enhance_lib.io.figure_data.rms_contrast : The contrast the ``--plot`` figure shows.

    References
    ----------
    Díaz Baso, C. J., & Asensio Ramos, A. 2018, A&A 614, A5, "Enhancing SDO/HMI images
    using deep learning", Sects. 4 and 5: the quiet-Sun granulation contrast of HMI images and of
    their enhanced versions, which the deconvolution raises.
    """
    values = np.asarray(image, dtype=float)
    if mask is not None:
        values = values[np.asarray(mask, dtype=bool)]
    return float(values.std() / values.mean())


def bicubic_x2(image):
    """Cubic-spline x2 interpolation on Enhance's output grid.

    Output pixel ``j`` (0-based) is centred on input coordinate ``(j - 0.5) / 2``,
    the grid of :func:`enhance_lib.io.fits.upsample_header`.

    See Also
    --------
    rms_ratio : The comparison in which it is the baseline.
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
    """RMS(ours - reference) / RMS(baseline - reference): < 1 means closer than the baseline.

    See Also
    --------
    bicubic_x2 : The usual baseline.
    correlation : The other figure of fidelity to a reference.
    """
    ours, reference, baseline = (np.asarray(a, dtype=np.float64) for a in (ours, reference, baseline))
    return rms(ours - reference) / rms(baseline - reference)


def correlation(a, b):
    """Pearson correlation coefficient of two images."""
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    return float(np.corrcoef(a, b)[0, 1])


def unsigned_flux(blos, *, pixel_area=1.0):
    """Total unsigned flux sum(abs(B)) * pixel area (area in any consistent unit).

    See Also
    --------
    enhance_lib.sun.photometry.match_large_scales : Keeps the input's flux on large scales.

    References
    ----------
    Yeo, K. L., Feller, A., Solanki, S. K., et al. 2014, A&A 561, A22: restoring HMI magnetograms with the HMI PSF
    raises the apparent unsigned flux above the noise by about 1.2, so a deconvolved
    magnetogram is not expected to keep the input's unsigned flux exactly.
    """
    return float(np.nansum(np.abs(np.asarray(blos, dtype=np.float64))) * pixel_area)


def radial_power_spectrum(image, *, pixel_scale):
    """Azimuthally averaged power spectrum of an image (mean removed, Hann window).

    Returns
    -------
    k : numpy.ndarray
        Spatial frequency in cycles per arcsec (bin centres).
    power : numpy.ndarray
        Mean power spectral density in each annulus (image units squared times arcsec^2).

    See Also
    --------
    contrast : The rms contrast of the same fluctuations, as one number.
    bicubic_x2 : An interpolation, whose spectrum falls where a deconvolution's does not.

    References
    ----------
    Díaz Baso, C. J., & Asensio Ramos, A. 2018, A&A 614, A5, "Enhancing SDO/HMI images
    using deep learning", Sects. 4 and 5: the azimuthally averaged power spectra of HMI images,
    their enhanced versions and the simulations, from which the power restored at small
    scales is read.

    Harris, F. J. 1978, Proc. IEEE 66, 51, "On the use of windows for harmonic analysis
    with the discrete Fourier transform": the Hann window against leakage from the image's
    edges.
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


def limb_metrics(image, output, geometry, *, kind="intensity", reference=None, inner=15, rim=5):
    """Figures of merit of an enhanced full disk at the limb.

    Parameters
    ----------
    image : numpy.ndarray, shape (ny, nx)
        The input (NaN off the disk).
    output : numpy.ndarray, shape (2ny, 2nx)
        The enhanced image.
    geometry : enhance_lib.sun.disk.DiskGeometry
        The disk on the input grid.
    kind : {'intensity', 'blos'}
        For 'blos' the flux ratios are of abs(B) and the ring's mean field is compared too.
    reference : numpy.ndarray, optional
        Another output of the same input (e.g. without the limb treatment): the
        largest change inside ``inner`` input pixels from the limb is reported.
    inner, rim : int
        Rings from ``inner`` pixels inside the limb out; the bright-rim search
        within ``rim`` pixels of it.

    Returns
    -------
    dict
        ``negative``: output pixels < 0 whose input pixel is > 0; ``min_over_limb``:
        the smallest output within ``inner`` pixels of the limb over the mean input
        in the ring 1-3 pixels inside it; ``rings``: per one-input-pixel ring
        (floor(r - R) from -inner to 0), the 2x2-binned output over the input
        (sums; of abs(B) for magnetograms), relative to the same ratio inside the
        rings; ``ring_max_dev``: the largest absolute deviation; ``overshoot``: the largest
        excess of the azimuthally averaged output (abs(B) for magnetograms) over the
        input's at the same radius within ``rim`` pixels of the limb (beyond
        R - 1 over the input's level at R - 1), relative to the interior's ratio; ``mean_b_dev`` (blos): the largest
        abs(ring mean of the binned output - ring mean of the input) over the mean abs(B)
        inside; ``interior_change``: with ``reference``, max abs(output - reference) /
        max abs(reference) over output pixels more than ``inner`` input pixels inside.

    See Also
    --------
    enhance_lib.sun.limb : The limb treatment these figures judge.
    enhance_lib.run.tiling.enhance_array : Which applies it.
    """
    image = np.asarray(image, dtype=np.float64)
    output = np.asarray(output, dtype=np.float64)
    ny, nx = image.shape
    signed = kind == "blos"
    mag = np.abs if signed else (lambda a: a)
    binned = output.reshape(ny, 2, nx, 2).mean(axis=(1, 3))
    y = np.arange(ny)[:, None] - geometry.y0
    x = np.arange(nx)[None, :] - geometry.x0
    d = np.hypot(x, y) - geometry.radius
    finite = np.isfinite(image) & np.isfinite(binned)
    negative = int(np.sum((np.kron(np.nan_to_num(image, nan=-1.0), np.ones((2, 2))) > 0) & (output < 0)))
    interior = finite & (d < -inner)
    base = mag(binned[interior]).sum() / mag(image[interior]).sum()
    rings, mean_dev = {}, {}
    mean_abs = np.abs(image[interior]).mean()
    for k in range(-inner, 1):
        ring = finite & (np.floor(d) == k)
        if not ring.any():
            continue
        rings[k] = float(mag(binned[ring]).sum() / mag(image[ring]).sum() / base - 1)
        if signed:
            mean_dev[k] = float(abs(binned[ring].mean() - image[ring].mean()) / mean_abs)
    near = (d > -inner) & (d < 1)
    level = image[finite & (d > -3) & (d < -1)]
    min_over = float(np.nanmin(output[np.kron(near, np.ones((2, 2), bool))]) / mag(level).mean())
    # azimuthal profiles in bins of 0.5 input pixels of radius
    y2 = (np.arange(2 * ny)[:, None] + 0.5) / 2 - 0.5 - geometry.y0
    x2 = (np.arange(2 * nx)[None, :] + 0.5) / 2 - 0.5 - geometry.x0
    d2 = np.hypot(x2, y2) - geometry.radius
    edges = np.arange(-rim, 0.01, 0.5)
    out_ok = np.isfinite(output) & (d2 > -rim) & (d2 < 0)
    out_prof = np.bincount(np.digitize(d2[out_ok], edges), mag(output[out_ok]), len(edges) + 1)
    out_prof /= np.maximum(np.bincount(np.digitize(d2[out_ok], edges), None, len(edges) + 1), 1)
    in_ok = finite & (d > -rim - 1) & (d < -0.75)
    in_prof = np.bincount(np.digitize(d[in_ok], edges), mag(image[in_ok]), len(edges) + 1)
    in_prof /= np.maximum(np.bincount(np.digitize(d[in_ok], edges), None, len(edges) + 1), 1)
    local = in_prof.copy()
    last = np.searchsorted(edges, -1.0)  # bins from R - 1 on: the input's level at R - 1
    local[last + 1 :] = local[last]
    valid = slice(1, len(edges))
    overshoot = float(np.max(out_prof[valid] / local[valid] / base - 1))
    result = {
        "negative": negative,
        "min_over_limb": min_over,
        "rings": rings,
        "ring_max_dev": float(max(abs(v) for v in rings.values())),
        "overshoot": overshoot,
    }
    if signed:
        result["mean_b_dev"] = float(max(mean_dev.values()))
    if reference is not None:
        keep = np.isfinite(output) & np.isfinite(reference) & (d2 < -inner)
        change = np.abs(output[keep] - reference[keep]).max() / np.abs(reference[keep]).max()
        result["interior_change"] = float(change)
    return result
