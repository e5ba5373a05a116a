"""Richardson-Lucy deconvolution, for positive images and for magnetograms.

The classical alternative to Enhance's network: deconvolve the HMI image with the HMI
PSF by Richardson-Lucy iterations (Richardson 1972; Lucy 1974), as the HMI team does for
the stray-light-corrected JSOC series ``*_dcon`` and ``*_dconS`` (Norton et al. 2025),
then interpolate to the x2 grid. ``benchmarks/truth.py`` compares the two on truth scenes.

* :func:`richardson_lucy` -- the iteration for a non-negative image;
* :func:`richardson_lucy_signed` -- magnetograms: the two circular polarisations
  ``c + B`` and ``c - B`` deconvolved apart and differenced;
* :func:`hmi_deconvolve` -- either one with the HMI PSF on HMI's pixels and the
  iteration counts of :data:`HMI_ITERATIONS`.

The convolutions are FFT convolutions with mirror-symmetric boundaries, as
:func:`enhance_lib.instrument.forward_model.convolve`; the back-projection uses the exact
adjoint of that operator, so each iteration conserves the image's total exactly.
"""

import numpy as np
from scipy import signal

from ..errors import EnhanceError
from ..instrument.forward_model import as_image
from ..instrument.psf import hmi_psf
from ..nets.config import HMI_SCALE
from ..sun.kinds import check_kind

__all__ = ["HMI_ITERATIONS", "hmi_deconvolve", "richardson_lucy", "richardson_lucy_signed"]

#: Iterations of :func:`hmi_deconvolve` per kind: those with the smallest RMS error
#: against the 28 cm target (after bicubic x2) on the calibration scene of
#: :mod:`enhance_lib.training.scenes` (seed 0, not among the seeds that
#: ``benchmarks/truth.py`` judges; default size and noise), PSF ``'enhance'``, searched
#: over 5-300 iterations (``benchmarks/truth.py --calibrate`` measures them again).
#: Intensity: 0.62 of bicubic's RMS error at 100-200 iterations, 150 the best, worse
#: again by 300; blos: 0.81 at 3-5 iterations, 4 the best, 0.95 at 30 and worse than
#: bicubic from 50 on (the 10 G noise is amplified; the offset of
#: :func:`richardson_lucy_signed` changed the error by < 1e-3 between 0 and 1e4 G).
HMI_ITERATIONS = {"intensity": 150, "blos": 4}


class _Blur:
    """The PSF as an operator with mirror-symmetric boundaries, and its exact adjoint."""

    def __init__(self, psf, shape):
        ky, kx = psf.shape
        self.kernel = psf
        self.flipped = psf[::-1, ::-1]
        self.pad = ((ky - 1 - ky // 2, ky // 2), (kx - 1 - kx // 2, kx // 2))
        if any(max(p) > n for p, n in zip(self.pad, shape, strict=True)):
            msg = f"the PSF ({ky}x{kx}) is larger than twice the image ({shape[0]}x{shape[1]})"
            raise EnhanceError(msg)

    def __call__(self, u):
        return signal.fftconvolve(np.pad(u, self.pad, mode="symmetric"), self.kernel, mode="valid")

    def adjoint(self, r):
        g = signal.fftconvolve(r, self.flipped, mode="full")  # on the padded grid
        (a0, b0), (a1, b1) = self.pad
        ny, nx = r.shape
        # the adjoint of numpy.pad(mode='symmetric'): fold each border back onto the pixels it copies
        rows = g[a0 : a0 + ny].copy()
        if a0:
            rows[:a0] += g[:a0][::-1]
        if b0:
            rows[ny - b0 :] += g[a0 + ny :][::-1]
        out = rows[:, a1 : a1 + nx].copy()
        if a1:
            out[:, :a1] += rows[:, :a1][:, ::-1]
        if b1:
            out[:, nx - b1 :] += rows[:, a1 + nx :][:, ::-1]
        return out


def richardson_lucy(image, psf, *, iterations, initial=None, floor=1e-12):
    """Richardson-Lucy deconvolution of a non-negative image.

    .. math::

        u_{k+1} = u_k \\, K^T\\!\\left(\\frac{d}{K u_k}\\right),

    with ``K`` the convolution with ``psf`` (mirror-symmetric boundaries) and ``K^T`` its
    exact adjoint: the estimate stays non-negative, and its total equals the image's
    after every iteration. The iteration is the maximum-likelihood solution for Poisson
    noise; it sharpens the image more with each iteration and, on noisy data, amplifies
    the noise, so the number of iterations is the regularisation.

    Parameters
    ----------
    image : array_like, 2-D
        The observed image ``d``, >= 0 everywhere, finite.
    psf : array_like, 2-D
        The PSF on the image's pixels (normalised to unit sum here), centre at
        ``(ny//2, nx//2)`` as :func:`enhance_lib.instrument.psf.hmi_psf` returns it.
    iterations : int
        Number of iterations (>= 0; 0 returns the first estimate).
    initial : array_like, optional
        First estimate (> 0); default the image itself.
    floor : float
        Denominators ``K u`` below it are taken as ``floor`` (pixels where the estimate
        vanishes).

    Returns
    -------
    numpy.ndarray of float64, the image's shape

    Raises
    ------
    EnhanceError
        A negative or non-finite image, a bad PSF or iteration count.

    See Also
    --------
    richardson_lucy_signed : For magnetograms.
    hmi_deconvolve : With the HMI PSF on HMI's pixels.

    References
    ----------
    Richardson, W. H. 1972, J. Opt. Soc. Am. 62, 55, "Bayesian-based iterative method of
    image restoration".

    Lucy, L. B. 1974, AJ 79, 745, "An iterative technique for the rectification of
    observed distributions".

    Examples
    --------
    >>> import numpy as np
    >>> from enhance_lib.instrument.forward_model import convolve
    >>> psf = np.outer(*2 * [np.exp(-0.5 * (np.arange(-6, 7) / 1.5) ** 2)])
    >>> psf /= psf.sum()
    >>> point = np.full((32, 32), 0.01); point[16, 16] = 1.0
    >>> blurred = convolve(point, psf)
    >>> restored = richardson_lucy(blurred, psf, iterations=50)
    >>> bool(restored[16, 16] > 3 * blurred[16, 16]), bool(np.isclose(restored.sum(), blurred.sum()))
    (True, True)
    """
    d = as_image(image, "`image`")
    if (d < 0).any():
        msg = "`image` has negative values; Richardson-Lucy needs >= 0 (richardson_lucy_signed is for magnetograms)"
        raise EnhanceError(msg)
    k = as_image(psf, "`psf`")
    if (k < 0).any() or not k.sum() > 0:
        msg = "`psf` must be >= 0 with a positive sum"
        raise EnhanceError(msg)
    try:
        iterations = int(iterations)
    except (TypeError, ValueError):
        msg = f"`iterations` must be an integer, got {iterations!r}"
        raise EnhanceError(msg) from None
    if iterations < 0:
        msg = f"`iterations` must be >= 0, got {iterations}"
        raise EnhanceError(msg)
    blur = _Blur(k / k.sum(), d.shape)
    if initial is None:
        u = d.copy()
    else:
        u = as_image(initial, "`initial`").copy()
        if u.shape != d.shape or (u <= 0).any():
            msg = "`initial` must be > 0 and of the image's shape"
            raise EnhanceError(msg)
    for _ in range(iterations):
        u *= blur.adjoint(d / np.maximum(blur(u), floor))
    return u


def richardson_lucy_signed(image, psf, *, iterations, offset=None, **keywords):
    """Richardson-Lucy deconvolution of a signed image (a magnetogram).

    HMI's deconvolved magnetograms (``hmi.M_*_dconS``) come from Stokes images
    deconvolved before the field is computed (Norton et al. 2025), and the circularly
    polarised intensities ``I + V`` and ``I - V`` are positive where ``V`` is not. With a
    magnetogram alone, the same holds for the two images ``c + B`` and ``c - B``, with
    ``c = max(abs(B)) + offset``: each is deconvolved by :func:`richardson_lucy` and the
    result is half their difference,

    .. math::

        \\hat B = \\tfrac12\\left[\\mathrm{RL}(c + B) - \\mathrm{RL}(c - B)\\right].

    Unlike RL on ``B - min(B) + offset``, this is odd in ``B`` (a magnetogram of reversed
    polarity gives the reversed result exactly) and treats both polarities alike; unlike
    RL on the positive and negative parts separately, the support of each polarity can
    grow and noise of either sign is not clipped. Both images are deconvolved with the
    same number of iterations; the mean field is conserved exactly.

    Parameters
    ----------
    image : array_like, 2-D
        The magnetogram (G), finite.
    psf : array_like, 2-D
        The PSF on its pixels.
    iterations : int
    offset : float, optional
        Added to ``max(abs(B))`` to make ``c``; default ``max(abs(B))``, so that ``c`` is
        twice the largest field and both images lie between ``c/2`` and ``3c/2``.
    **keywords
        Passed to :func:`richardson_lucy` (``floor``).

    Returns
    -------
    numpy.ndarray of float64

    See Also
    --------
    richardson_lucy : The iteration.

    References
    ----------
    Norton, A. A., Duvall, T. L., Jr., Schou, J., et al. 2025, "Stray Light Correction for
    the Helioseismic and Magnetic Imager", arXiv:2511.13348: the JSOC series with ``_dcon``
    (filtergrams deconvolved) and ``_dconS`` (Stokes images deconvolved), Richardson-Lucy
    with their HMI PSF.

    Richardson, W. H. 1972, J. Opt. Soc. Am. 62, 55; Lucy, L. B. 1974, AJ 79, 745.

    Examples
    --------
    >>> import numpy as np
    >>> psf = np.outer(*2 * [np.exp(-0.5 * (np.arange(-4, 5) / 1.2) ** 2)])
    >>> b = np.zeros((24, 24)); b[8, 8], b[15, 15] = 800.0, -800.0
    >>> out = richardson_lucy_signed(b, psf, iterations=5)
    >>> bool(np.allclose(richardson_lucy_signed(-b, psf, iterations=5), -out))
    True
    """
    b = as_image(image, "`image`")
    top = float(np.abs(b).max())
    offset = top if offset is None else float(offset)
    if not (np.isfinite(offset) and offset >= 0) or top + offset <= 0:
        msg = f"`offset` must be >= 0 (and the image not all zero when it is 0), got {offset!r}"
        raise EnhanceError(msg)
    c = top + offset
    plus = richardson_lucy(c + b, psf, iterations=iterations, **keywords)
    minus = richardson_lucy(c - b, psf, iterations=iterations, **keywords)
    return 0.5 * (plus - minus)


def hmi_deconvolve(image, *, kind, iterations=None, pixel_scale=HMI_SCALE, variant="enhance", offset=None):
    """An HMI image deconvolved with the HMI PSF on its own pixels.

    :func:`richardson_lucy` for intensity, :func:`richardson_lucy_signed` for magnetograms,
    with :func:`enhance_lib.instrument.psf.hmi_psf` tabulated at the image's pixel
    scale (averaged over each pixel, as the forward model's resampling does).

    Parameters
    ----------
    image : array_like, 2-D
        Intensity (any positive unit) or line-of-sight field (G).
    kind : {'intensity', 'blos'}
    iterations : int, optional
        Default :data:`HMI_ITERATIONS` of the kind.
    pixel_scale : float
        arcsec/px of the image.
    variant : str
        The PSF's parameters (:data:`enhance_lib.instrument.psf.PSF_VARIANTS`);
        ``'enhance'`` is the PSF of Enhance's training inputs and of the truth scenes.
    offset : float, optional
        For blos, :func:`richardson_lucy_signed`'s offset.

    Returns
    -------
    numpy.ndarray of float64, the image's shape
    """
    check_kind(kind)
    iterations = HMI_ITERATIONS[kind] if iterations is None else iterations
    kernel = hmi_psf(pixel_scale=pixel_scale, variant=variant)
    if kind == "blos":
        return richardson_lucy_signed(image, kernel, iterations=iterations, offset=offset)
    return richardson_lucy(image, kernel, iterations=iterations)
