"""How blurred a limb is: the width of the Gaussian that, blurring the disk, fits the image.

A real limb is blurred by the telescope's PSF (HMI's: a Gaussian core of about 0.8 pixel sigma
and wings reaching several pixels, Wachter et al. 2012). :func:`estimate_blur` fits the radial
profile near the limb by the disk's model blurred by a Gaussian
(:func:`~enhance_lib.sun.limb_integrals.blurred_integrals`); the limb treatment
(:func:`~enhance_lib.sun.limb.limb_input`) treats a limb blurred less than :data:`MIN_BLUR` as
sharp.

References
----------
Wachter, R., Schou, J., Rabello-Soares, M. C., et al. 2012, Sol. Phys. 275, 261,
"Image Quality of the Helioseismic and Magnetic Imager (HMI) Onboard the Solar
Dynamics Observatory (SDO)": the HMI PSF, whose core and wings blur the limb.
"""

import logging

import numpy as np

from .limb_integrals import HALF_DIAGONAL, blurred_integrals, limb_pixels

log = logging.getLogger(__name__)

__all__ = ["MIN_BLUR", "estimate_blur"]

#: A limb blurred less (Gaussian sigma, input pixels) is treated as sharp.
MIN_BLUR = 0.2


def estimate_blur(image, geometry, coefficients=None, *, signed=False, inside=6.0, max_sigma=3.0, max_pixels=40000):
    """The width of the limb's blur, from the image's radial profile near the limb.

    For each trial width sigma (0 and steps of 0.25 pixel up to ``max_sigma``) the
    pixels from ``inside`` pixels inside the limb out are divided by their model
    level (:func:`blurred_integrals`, with 0.05 pixel for sigma = 0);
    the medians of that ratio in bins of 0.25 pixel of distance to the limb are
    fitted by a quadratic in the distance (the profile's own slope, and the slow
    deficit that the wings of a real PSF leave near the limb) and the sigma with the
    smallest weighted residual wins, refined by a parabola through its neighbours.
    Medians make it robust to spots and to the texture; a magnetogram is judged by
    abs(B) (``signed``), which follows the blurred disk's coverage only on average,
    so its estimate is noisier.

    Parameters
    ----------
    image : numpy.ndarray, shape (ny, nx)
        The plane in physical units (NaN where missing).
    geometry : enhance_lib.sun.disk.DiskGeometry
    coefficients : sequence of float, optional
        The quiet-Sun profile P(mu); None: a constant.
    signed : bool
        The plane is signed (a magnetogram): abs(image) is fitted.
    inside : float
        Pixels from this far inside the limb out are fitted.
    max_sigma : float
    max_pixels : int
        At most this many pixels (an even subsample) enter the fit.

    Returns
    -------
    float
        sigma in pixels; 0 for a limb as sharp as pixel integration makes it, when
        too few pixels are near the limb to tell, or when the best fit is the widest
        trial (a profile no blur up to ``max_sigma`` explains, such as a disk masked
        flat up to a cut).

    References
    ----------
    Wachter, R., et al. 2012, Sol. Phys. 275, 261: the HMI PSF, a Gaussian core
    (FWHM about 2 pixels) with power-law wings, which blurs the observed limb.
    """
    rows, cols, _ = limb_pixels(image.shape, geometry, inner=inside)
    values = image[rows, cols].astype(np.float64)
    good = np.isfinite(values)
    rows, cols, values = rows[good], cols[good], values[good]
    if rows.size < 200:
        return 0.0
    if rows.size > max_pixels:
        step = int(np.ceil(rows.size / max_pixels))
        rows, cols, values = rows[::step], cols[::step], values[::step]
    values = np.abs(values) if signed else values
    d = np.hypot(cols - geometry.x0, rows - geometry.y0) - geometry.radius
    edges = np.arange(-inside, HALF_DIAGONAL + 0.25, 0.25)
    index = np.digitize(d, edges) - 1

    def misfit(sigma):
        # sigma = 0: the straight-edge model of a sharp limb (pixel_integrals, exact for the
        # curved limb, would cost 5 times as much for a difference of 1 / 8R)
        level = blurred_integrals(rows, cols, geometry, coefficients, sigma=max(sigma, 0.05))
        level = level if coefficients is None else level[1]
        top = np.max(level)
        use = level > 0.2 * top
        ratio = values[use] / level[use]
        medians, centres, weights = [], [], []
        for k in range(edges.size - 1):
            members = index[use] == k
            if members.sum() >= 10:
                medians.append(np.median(ratio[members]))
                centres.append(np.mean(d[use][members]))
                weights.append(np.sqrt(members.sum()))
        if len(medians) < 6:
            return np.inf
        medians, centres, weights = np.array(medians), np.array(centres), np.array(weights)
        fit = np.polynomial.polynomial.Polynomial.fit(centres, medians, 2, w=weights)
        scale = np.median(medians)
        return float(np.sum((weights * (medians - fit(centres)) / scale) ** 2) / np.sum(weights**2))

    trials = np.arange(0.0, max_sigma + 1e-9, 0.25)
    costs = np.array([misfit(t) for t in trials])
    best = int(np.argmin(costs))
    if not np.isfinite(costs[best]) or best == trials.size - 1:
        # no minimum within max_sigma: not a blurred disk's profile (e.g. a disk cut off
        # by a mask inside its limb, flat up to the cut), treated as sharp
        log.debug("limb: no blur resolved (misfit %s)", np.array2string(costs, precision=2))
        return 0.0
    sigma = float(trials[best])
    if 0 < best < trials.size - 1:
        c0, c1, c2 = costs[best - 1 : best + 2]
        curvature = c0 - 2 * c1 + c2
        if curvature > 0:
            sigma += 0.25 * 0.5 * (c0 - c2) / curvature
    log.debug("limb: blur sigma %.3f px (misfit %s)", sigma, np.array2string(costs, precision=2))
    return max(sigma, 0.0)
