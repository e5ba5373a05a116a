"""The solar limb on the pixel grid: the part of each pixel the disk covers, and the
disk continued past the limb for the network.

A pixel that the limb crosses integrates the disk over the covered part of its area
only, so on a full disk the outermost ring of pixels is a dip (coverage 0-1) next to
the off-limb fill. The networks deconvolve that dip like any other edge: a dark and
bright double rim with negative intensities on the disk. With a known disk geometry
:func:`enhance_lib.run.tiling.enhance_array` therefore

1. divides each limb pixel by its pixel-integrated level (the quiet-Sun profile, or
   the normalisation constant, integrated over the covered part of the pixel,
   :func:`pixel_integrals`), so that in network units it reads as the disk beside it;
2. replaces the off-limb pixels near the limb, and limb pixels covered less than
   ``MIN_COVERAGE``, by the disk mirrored across the limb (:func:`continue_disk`),
   so the network sees no edge at all;
3. multiplies the output by the pixel-integrated level on the x2 grid: the output's
   limb pixels get the x2 grid's own coverage (a limb twice as sharp as the input's),
   off-limb output pixels are 0, and NaN where the input pixel was NaN.

A real limb is also blurred by the telescope's PSF (HMI's: a Gaussian core of about
0.8 pixel sigma and wings reaching several pixels, Wachter et al. 2012), which spreads
the dip over a few pixels on both sides of the limb. The blur's width is estimated on
the image (:func:`estimate_blur`: the radial profile near the limb fitted by the disk
blurred by a Gaussian); when it is at least ``MIN_BLUR`` pixel,

1. the limb pixels (from ``BLUR_BAND`` inside the limb out) are divided by the disk's
   profile blurred by that Gaussian and integrated over each pixel
   (:func:`blurred_integrals`), relative to its deficit at ``-BLUR_BAND`` so that the
   network's input has no step there;
2. the output keeps the input's blur: the same level integrated over the x2 grid's
   pixels (whose 2x2 sums are the input's level), and the output's rings from a few
   sigma inside the limb out are scaled to keep the input's azimuthal profile
   relative to the ring inside them (:func:`limb_output` says why).

Only inputs beyond ``R - sqrt(1/2)`` (``R - BAND`` with a profile, ``R - BLUR_BAND``
on a blurred limb) change, so outputs more than the network's receptive margin (plus
one or two pixels) inside the limb are exactly those of the plain pipeline. Pixel
coordinates are 0-based, as in :mod:`enhance_lib.sun.normalization`.

References
----------
Wachter, R., Schou, J., Rabello-Soares, M. C., et al. 2012, Sol. Phys. 275, 261,
"Image Quality of the Helioseismic and Magnetic Imager (HMI) Onboard the Solar
Dynamics Observatory (SDO)": the HMI PSF, whose core and wings blur the limb.
"""

import dataclasses
import logging

import numpy as np

from .limb_darkening import quiet_sun_level

log = logging.getLogger(__name__)

__all__ = [
    "BLUR_BAND", "MIN_BLUR", "MIN_COVERAGE", "LimbCorrection", "blurred_integrals", "continue_disk", "disk_coverage",
    "estimate_blur", "limb_input", "limb_output", "limb_pixels", "pixel_integrals",
]

HALF_DIAGONAL = float(np.sqrt(0.5))
MIN_COVERAGE = 0.1  # limb pixels covered less are continued, not divided (noise / coverage)
BAND = 1.5  # input pixels inside the limb whose level is re-measured (see _limb_correction)
MIN_BLUR = 0.2  # a limb blurred less (Gaussian sigma, input pixels) is treated as sharp
BLUR_BAND = 1.0  # input pixels inside a blurred limb divided by their level (see limb_input)
BLUR_REACH = 3.0  # a blurred limb's band: BLUR_REACH sigma (plus half a diagonal) on each side
_EPS = 1e-6
_ROWS = 512
_CHUNK = 4096  # pixels per block of the quadrature


def limb_pixels(shape, geometry, *, inner=HALF_DIAGONAL, outer=HALF_DIAGONAL):
    """The pixels the limb circle crosses, and those wholly off the disk.

    Parameters
    ----------
    shape : tuple of int
        (ny, nx).
    geometry : enhance_lib.sun.disk.DiskGeometry
        The disk on this grid.
    inner : float
        How far inside the limb the band of pixels listed reaches (at least
        sqrt(1/2), the pixels that can be partly covered).
    outer : float
        How far outside it the band reaches (at least sqrt(1/2); more for a blurred
        limb, whose light reaches past the disk).

    Returns
    -------
    rows, cols : numpy.ndarray of int
        The pixels whose centre lies between ``inner`` inside and ``outer``
        outside the limb circle.
    outside : numpy.ndarray of bool, shape ``shape``
        Pixels beyond the band: with the default ``outer``, those with no part on the disk.
    """
    ny, nx = shape
    inner = geometry.radius - max(inner, HALF_DIAGONAL) - _EPS
    outer = geometry.radius + max(outer, HALF_DIAGONAL) + _EPS
    outside = np.ones(shape, dtype=bool)
    x = np.arange(nx, dtype=np.float64) - geometry.x0
    first = max(0, int(np.floor(geometry.y0 - outer)))
    last = min(ny, int(np.ceil(geometry.y0 + outer)) + 1)
    rows, cols = [], []
    for start in range(first, last, _ROWS):
        stop = min(start + _ROWS, last)
        y = np.arange(start, stop, dtype=np.float64)[:, np.newaxis] - geometry.y0
        d = np.sqrt(x * x + y * y)
        outside[start:stop] = d >= outer
        r, c = np.nonzero((d > inner) & (d < outer))
        rows.append(r + start)
        cols.append(c)
    if not rows:
        return np.zeros(0, int), np.zeros(0, int), outside
    return np.concatenate(rows), np.concatenate(cols), outside


def pixel_integrals(rows, cols, geometry, coefficients=None, *, samples=32, nodes=8):
    """Coverage of pixels by the disk, and a profile in mu integrated over the covered part.

    Exact across the limb: for each of ``samples`` columns of a pixel (midpoint rule
    along the limb; rows instead of columns where the limb runs closer to the y axis)
    the chord of the disk is clipped to the pixel; along it, with y = h sin(t) (h the
    chord's half-length), mu = h cos(t) / R and dy = h cos(t) dt, so the integrand
    is smooth and an ``nodes``-point Gauss-Legendre rule in t integrates the profile
    to ~1e-6 despite its square-root behaviour at the limb.

    Parameters
    ----------
    rows, cols : array_like of int
        Pixels (0-based; pixel (r, c) covers [c - 0.5, c + 0.5] x [r - 0.5, r + 0.5]).
    geometry : enhance_lib.sun.disk.DiskGeometry
    coefficients : sequence of float, optional
        Profile P(mu) = sum_k c_k mu^k (increasing powers).
    samples, nodes : int

    Returns
    -------
    coverage : numpy.ndarray
        Covered fraction of each pixel's area, in [0, 1].
    integral : numpy.ndarray
        Only with ``coefficients``: the integral of P(mu) over the covered part,
        in units of the pixel's area (so P's value for a fully covered pixel).
    """
    rows = np.asarray(rows, dtype=np.float64).ravel()
    cols = np.asarray(cols, dtype=np.float64).ravel()
    radius = float(geometry.radius)
    sub = (np.arange(samples, dtype=np.float64) + 0.5) / samples - 0.5
    t_nodes, t_weights = np.polynomial.legendre.leggauss(nodes)
    coverage = np.empty(rows.size)
    integral = np.empty(rows.size) if coefficients is not None else None
    for start in range(0, rows.size, _CHUNK):
        stop = min(start + _CHUNK, rows.size)
        xc = cols[start:stop] - geometry.x0
        yc = rows[start:stop] - geometry.y0
        # integrate exactly across the limb: along y where it runs along x, else swapped
        swap = np.abs(xc) > np.abs(yc)
        xc, yc = np.where(swap, yc, xc), np.where(swap, xc, yc)
        xs = xc[:, np.newaxis] + sub
        yc = yc[:, np.newaxis]
        h = np.sqrt(np.clip(radius * radius - xs * xs, 0.0, None))
        ya = np.clip(yc - 0.5, -h, h)
        yb = np.clip(yc + 0.5, -h, h)
        coverage[start:stop] = np.mean(yb - ya, axis=1)
        if coefficients is None:
            continue
        safe = np.where(h > 0, h, 1.0)
        ta = np.arcsin(np.clip(ya / safe, -1.0, 1.0))
        tb = np.arcsin(np.clip(yb / safe, -1.0, 1.0))
        half = 0.5 * (tb - ta)
        t = (0.5 * (ta + tb))[..., np.newaxis] + half[..., np.newaxis] * t_nodes
        hcos = h[..., np.newaxis] * np.cos(t)
        f = np.polynomial.polynomial.polyval(hcos / radius, coefficients) * hcos
        integral[start:stop] = np.mean(half * (f @ t_weights), axis=1)
    np.clip(coverage, 0.0, 1.0, out=coverage)
    return coverage if coefficients is None else (coverage, integral)


def _edge_table(radius, coefficients, sigma, reach):
    """The radial profile across the limb blurred by a Gaussian, and its first two integrals.

    On a grid of step h in s = r - R, with 0 on a cell edge: the profile P(mu(R + s))
    inside the limb and 0 outside, averaged over each cell (midpoint), convolved
    with a Gaussian of ``sigma`` pixels (unit sum on the grid) into ``f``, piecewise
    constant. Returns (first edge, h, f, F1, F2) with F1, F2 the integrals of f and F1
    at the cell edges, from which :func:`_integrals` evaluates both exactly for the tabulated f.
    """
    h = min(1.0 / 64.0, sigma / 16.0)
    pad = 6.0 * sigma
    half = int(np.ceil((reach + pad) / h))
    s = (np.arange(-half, half, dtype=np.float64) + 0.5) * h
    if coefficients is None:
        g = (s < 0).astype(np.float64)
    else:
        mu = np.sqrt(np.clip(-s * (2.0 * radius + s), 0.0, None)) / radius
        g = np.where(s < 0, np.polynomial.polynomial.polyval(np.minimum(mu, 1.0), coefficients), 0.0)
    taps = np.arange(-int(np.ceil(pad / h)), int(np.ceil(pad / h)) + 1) * h
    kernel = np.exp(-0.5 * (taps / sigma) ** 2)
    f = np.convolve(g, kernel / kernel.sum(), mode="same")
    f1 = np.concatenate([[0.0], np.cumsum(f) * h])
    f2 = np.concatenate([[0.0], np.cumsum(0.5 * h * (f1[:-1] + f1[1:]))])
    return -half * h, h, f, f1, f2


def _integrals(table):
    """The first and second integrals of a table of :func:`_edge_table` as functions of s
    (exact for its piecewise-constant f)."""
    start, h, f, f1, f2 = table

    def integral2(t):
        i = np.clip(np.floor((t - start) / h).astype(np.int64), 0, f.size - 1)
        u = t - (start + i * h)
        return f2[i] + f1[i] * u + 0.5 * f[i] * u * u

    def integral1(t):
        i = np.clip(np.floor((t - start) / h).astype(np.int64), 0, f.size - 1)
        return f1[i] + f[i] * (t - (start + i * h))

    return integral1, integral2


def blurred_integrals(rows, cols, geometry, coefficients=None, *, sigma):
    """Coverage and profile of pixels near a limb blurred by a Gaussian of ``sigma`` pixels.

    The disk's radial profile (1, or P(mu) = sum_k c_k mu^k, 0 beyond the limb) is
    convolved with a Gaussian along the radius and averaged over each pixel's
    projection on the radius, the trapezoid of a unit square seen at the angle of
    the limb's normal. This treats the limb as a straight edge moved inward by
    sigma^2 / 2R (the curvature to first order) and is exact otherwise: a straight
    edge's blur by a radially symmetric kernel is its convolution with the kernel's
    line-spread function, here a Gaussian of the same width.

    Parameters
    ----------
    rows, cols : array_like of int
        Pixels within a few ``sigma`` of the limb (0-based).
    geometry : enhance_lib.sun.disk.DiskGeometry
    coefficients : sequence of float, optional
        Profile P(mu) (increasing powers).
    sigma : float
        The blur in pixels of this grid (> 0).

    Returns
    -------
    coverage : numpy.ndarray
        The blurred disk's mean over each pixel (the covered fraction when sigma -> 0).
    integral : numpy.ndarray
        Only with ``coefficients``: the blurred profile's mean over each pixel.

    See Also
    --------
    pixel_integrals : The same without blur, exact for a curved limb.
    """
    rows = np.asarray(rows, dtype=np.float64).ravel()
    cols = np.asarray(cols, dtype=np.float64).ravel()
    dx, dy = cols - geometry.x0, rows - geometry.y0
    dist = np.maximum(np.hypot(dx, dy), _EPS)
    # the limb's curvature to first order: a Gaussian's weight beyond a circle is that
    # beyond a straight edge moved inward by <y^2> / 2R = sigma^2 / 2R
    d = dist - geometry.radius + sigma * sigma / (2.0 * geometry.radius)
    a, b = np.abs(dx) / dist, np.abs(dy) / dist
    a, b = np.maximum(a, b), np.minimum(a, b)
    reach = float(np.max(np.abs(d), initial=0.0)) + 1.0
    results = []
    for coeffs in ([None] if coefficients is None else [None, coefficients]):
        table = _edge_table(float(geometry.radius), coeffs, float(sigma), reach)
        integral1, integral2 = _integrals(table)
        thin = b < 0.05
        bb = np.where(thin, 1.0, b)
        trapezoid = (integral2(d + (a + bb) / 2) - integral2(d + (a - bb) / 2) - integral2(d - (a - bb) / 2)
                     + integral2(d - (a + bb) / 2)) / (a * bb)
        box = (integral1(d + a / 2) - integral1(d - a / 2)) / a
        results.append(np.where(thin, box, trapezoid))
    results[0] = np.clip(results[0], 0.0, 1.0)
    return results[0] if coefficients is None else tuple(results)


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


def disk_coverage(shape, geometry):
    """The fraction of each pixel's area on the disk (1 inside, 0 off the limb).

    Parameters
    ----------
    shape : tuple of int
    geometry : enhance_lib.sun.disk.DiskGeometry

    Returns
    -------
    numpy.ndarray
        float64, shape ``shape``.
    """
    rows, cols, outside = limb_pixels(shape, geometry)
    out = np.where(outside, 0.0, 1.0)
    out[rows, cols] = pixel_integrals(rows, cols, geometry)
    return out


def continue_disk(values, replace, geometry, *, width, fill):
    """Return a copy of ``values`` with pixels ``replace`` continuing the disk past the limb.

    A replaced pixel at distance r from the disk centre, with
    ``R - sqrt(1/2) < r < R + width``, takes the value of the pixel nearest to its
    mirror image across the limb (the point on the same radius at distance
    ``min(2R - r, R - 1)``), when that pixel is on the image and not replaced
    itself; all other replaced pixels get ``fill``. The continuation is symmetric
    about the limb, so a network sees neither an edge nor a jump in texture there.

    Parameters
    ----------
    values : numpy.ndarray, shape (ny, nx)
    replace : numpy.ndarray of bool, shape (ny, nx)
    geometry : enhance_lib.sun.disk.DiskGeometry
    width : float
        Pixels beyond the limb that are mirrored (the network's receptive margin
        is enough).
    fill : float

    Returns
    -------
    numpy.ndarray
    """
    out = np.array(values, copy=True)
    ny, nx = out.shape
    r_idx, c_idx = np.nonzero(replace)
    out[r_idx, c_idx] = fill
    dx = c_idx - geometry.x0
    dy = r_idx - geometry.y0
    d = np.hypot(dx, dy)
    R = geometry.radius
    near = (d > R - HALF_DIAGONAL - _EPS) & (d < R + width) & (d > 0)
    r_idx, c_idx, dx, dy, d = r_idx[near], c_idx[near], dx[near], dy[near], d[near]
    scale = np.minimum(2 * R - d, R - 1.0) / d
    src_c = np.rint(geometry.x0 + dx * scale).astype(np.int64)
    src_r = np.rint(geometry.y0 + dy * scale).astype(np.int64)
    ok = (src_r >= 0) & (src_r < ny) & (src_c >= 0) & (src_c < nx)
    ok[ok] &= ~replace[src_r[ok], src_c[ok]]
    out[r_idx[ok], c_idx[ok]] = values[src_r[ok], src_c[ok]]
    return out


def near_limb(shape, geometry, margin):
    """Whether any pixel of an image of ``shape`` lies within ``margin`` pixels of the limb."""
    ny, nx = shape
    # nearest and farthest points of the image's rectangle from the disk centre
    cx = np.clip(geometry.x0, -0.5, nx - 0.5) - geometry.x0
    cy = np.clip(geometry.y0, -0.5, ny - 0.5) - geometry.y0
    far_x = max(abs(-0.5 - geometry.x0), abs(nx - 0.5 - geometry.x0))
    far_y = max(abs(-0.5 - geometry.y0), abs(ny - 0.5 - geometry.y0))
    return np.hypot(cx, cy) < geometry.radius + margin and np.hypot(far_x, far_y) > geometry.radius - margin


def _limb_correction(image, rows, cols, coverage, level, geometry, *, band, min_coverage, outer=HALF_DIAGONAL):
    """The quiet-Sun level near the limb relative to the level just inside, per distance to the limb.

    A limb-darkening profile fitted at mu >= 0.1 is extrapolated to the limb, where it
    can be off by several per cent: the limb pixels, divided by it, would still form a
    (shallow) dip that the network deepens. In bins of 0.25 pixel of distance to the
    limb from ``band`` inside it to ``outer`` outside, the robust quiet-Sun level of the
    pixels over their pixel-integrated level is measured relative to the one in the ring of 3
    pixels just inside the band; it is 1 at ``-band`` and is interpolated linearly
    in the distance. Returns the (distance, factor) nodes, or None when a ring has
    too few pixels.
    """

    d = np.hypot(cols - geometry.x0, rows - geometry.y0) - geometry.radius
    values = image[rows, cols].astype(np.float64) / np.where(level > 0, level, np.nan)
    good = np.isfinite(values) & (coverage >= min_coverage)
    ring = good & (d <= -band)
    if ring.sum() < 100:
        return None
    target = quiet_sun_level(values[ring])
    nodes, factors = [-band], [1.0]
    for lo in np.arange(-band, outer, 0.25):
        members = good & (d > lo) & (d <= lo + 0.25)
        if members.sum() < 50:
            continue
        nodes.append(float(np.mean(d[members])))
        factors.append(quiet_sun_level(values[members]) / target)
    return np.array(nodes), np.array(factors)


@dataclasses.dataclass(frozen=True)
class LimbCorrection:
    """What :func:`limb_input` measured on the image, for :func:`limb_output`.

    Attributes
    ----------
    sigma : float
        The limb's blur (Gaussian sigma, input pixels; 0: a sharp, pixel-integrated limb).
    inner, outer : float
        For sigma > 0, the input pixels between ``inner`` inside and ``outer``
        outside the limb were divided by their level.
    deficit : float
        For sigma > 0, the blurred disk over the sharp one at ``-inner``: the limb
        pixels' levels are divided by it, so that the network's input does not step
        there (in its level, or for a magnetogram in its amplitude).
    nodes, factors : numpy.ndarray or None
        The near-limb level measured on the image relative to the profile
        (:func:`_limb_correction`), against the distance to the limb in input pixels.
    rows, cols, bins : numpy.ndarray or None
        For sigma > 0, the finite input pixels of the rings whose output keeps the
        input's azimuthal profile, and their ring (0: the reference ring inside).
    sums : numpy.ndarray or None
        The input's sum (of abs(B) for a magnetogram) per ring.
    edges : numpy.ndarray or None
        The rings' edges in distance to the limb (input pixels).
    """

    sigma: float = 0.0
    inner: float = HALF_DIAGONAL
    outer: float = HALF_DIAGONAL
    deficit: float = 1.0
    nodes: np.ndarray | None = None
    factors: np.ndarray | None = None
    rows: np.ndarray | None = None
    cols: np.ndarray | None = None
    bins: np.ndarray | None = None
    sums: np.ndarray | None = None
    edges: np.ndarray | None = None


def _blur_deficit(geometry, coefficients, sigma, band):
    """The blurred disk over the sharp one, a pixel wide, ``band`` pixels inside the limb (1-D model)."""
    reach = band + 2.0
    blurred = _integrals(_edge_table(float(geometry.radius), coefficients, sigma, reach))[0]
    sharp = _integrals(_edge_table(float(geometry.radius), coefficients, min(sigma, 1e-3), reach))[0]
    x = np.array(-band)
    return float((blurred(x + 0.5) - blurred(x - 0.5)) / (sharp(x + 0.5) - sharp(x - 0.5)))


def _levels(normalizer, rows, cols, geometry, sigma):
    """(coverage, level) of pixels: the normaliser's, blurred by ``sigma`` pixels of this grid."""
    if sigma <= 0:
        return normalizer.pixel_levels(rows, cols, geometry)
    if normalizer.profile is None:
        coverage = blurred_integrals(rows, cols, geometry, sigma=sigma)
        return coverage, normalizer.constant * coverage
    return blurred_integrals(rows, cols, geometry, normalizer.profile.coefficients, sigma=sigma)


def _profile_rings(image, geometry, *, sigma, band, outer, signed):
    """The rings, 0.5 input pixel wide, from BLUR_REACH sigma inside ``-band`` out to ``outer``
    whose output is matched to the input's azimuthal profile, and a reference ring of 3 pixels
    inside them: the fields rows, cols, bins, sums, edges of :class:`LimbCorrection` (empty
    when the reference ring has too few finite pixels)."""
    start = band + BLUR_REACH * sigma
    edges = np.concatenate([[-start - 3.0], np.arange(-start, outer + 0.5, 0.5)])
    rows, cols, _ = limb_pixels(image.shape, geometry, inner=-edges[0], outer=edges[-1])
    values = image[rows, cols].astype(np.float64)
    d = np.hypot(cols - geometry.x0, rows - geometry.y0) - geometry.radius
    good = np.isfinite(values) & (d > edges[0]) & (d <= edges[-1])
    rows, cols, values, d = rows[good], cols[good], values[good], d[good]
    bins = np.clip(np.searchsorted(edges, d) - 1, 0, edges.size - 2)
    sums = np.bincount(bins, np.abs(values) if signed else values, edges.size - 1)
    counts = np.bincount(bins, None, edges.size - 1)
    if counts[0] < 100:
        return {}
    return {"rows": rows, "cols": cols, "bins": bins, "sums": np.where(counts >= 20, sums, np.nan), "edges": edges}


def limb_input(image, scaled, bad, normalizer, geometry, *, fill, margin, min_coverage=MIN_COVERAGE, band=BAND,
               blur=None):
    """The network's input with the limb treated (steps 1 and 2 of the module's design).

    Parameters
    ----------
    image : numpy.ndarray, shape (ny, nx)
        The plane in physical units.
    scaled : numpy.ndarray
        ``normalizer.normalize(image)``.
    bad : numpy.ndarray of bool
        Non-finite pixels of ``image`` or ``scaled``.
    normalizer : enhance_lib.sun.normalization.Normalizer
    geometry : enhance_lib.sun.disk.DiskGeometry
    fill : float
        Value for missing pixels on the disk and for off-limb pixels far from it.
    margin : int
        The network's receptive margin, in input pixels.
    min_coverage : float
    band : float
        Pixels up to ``band`` inside the limb are divided by their level: with a
        limb-darkening profile, measured on the image (:func:`_limb_correction`);
        on a blurred limb, always. Not further: the outputs more than ``margin``
        plus ``band`` pixels inside the limb stay those of the plain pipeline.
    blur : float, optional
        The limb's blur (Gaussian sigma in input pixels; 0: sharp). By default
        estimated on the image (:func:`estimate_blur`); below ``MIN_BLUR`` the
        limb is treated as sharp.

    Returns
    -------
    network_input : numpy.ndarray, float32
    skip : numpy.ndarray of bool
        Pixels whose output is not needed: missing, or wholly off the disk.
    correction : LimbCorrection
        The limb's blur and near-limb level (for :func:`limb_output`).
    """
    profiled = getattr(normalizer, "profile", None) is not None
    signed = getattr(normalizer, "kind", "intensity") == "blos"
    coefficients = normalizer.profile.coefficients if profiled else None
    observed = np.where(bad, np.nan, image) if (blur is None or blur >= MIN_BLUR) else None
    if blur is None:
        blur = estimate_blur(observed, geometry, coefficients, signed=signed)
    sigma = float(blur) if blur >= MIN_BLUR else 0.0
    if sigma > 0:
        band = min(band, BLUR_BAND)
    # a blurred limb's light reaches BLUR_REACH sigma past it
    outer = BLUR_REACH * sigma + HALF_DIAGONAL if sigma > 0 else HALF_DIAGONAL
    rows, cols, outside = limb_pixels(image.shape, geometry, inner=band + 3 if profiled else band, outer=outer)
    coverage, level = _levels(normalizer, rows, cols, geometry, sigma)
    nodes = None
    d = np.hypot(cols - geometry.x0, rows - geometry.y0) - geometry.radius
    if profiled:
        nodes = _limb_correction(image, rows, cols, coverage, level, geometry, band=band,
                                 min_coverage=min_coverage, outer=outer)
    inner = band if (nodes is not None or sigma > 0) else HALF_DIAGONAL + _EPS
    keep = d > -inner
    rows, cols, coverage, level, d = rows[keep], cols[keep], coverage[keep], level[keep], d[keep]
    if nodes is not None:
        level = level * np.interp(d, *nodes)
    deficit = _blur_deficit(geometry, coefficients, sigma, band) if sigma > 0 else 1.0
    rings = {}
    if sigma > 0:
        rings = _profile_rings(observed, geometry, sigma=sigma, band=band, outer=outer, signed=signed)
    correction = LimbCorrection(sigma=sigma, inner=inner, outer=outer, deficit=deficit,
                                nodes=None if nodes is None else nodes[0],
                                factors=None if nodes is None else nodes[1],
                                **rings)
    level = level / deficit
    network_input = np.where(bad, np.float32(fill), scaled).astype(np.float32, copy=False)
    values = image[rows, cols].astype(np.float64)
    ok = np.isfinite(values) & (coverage >= min_coverage) & (level > 0)
    network_input[rows[ok], cols[ok]] = values[ok] / level[ok]
    replace = outside.copy()
    replace[rows[~ok], cols[~ok]] = True
    network_input = continue_disk(network_input, replace, geometry, width=margin + 2, fill=fill)
    off = outside
    off[rows[coverage <= 0], cols[coverage <= 0]] = True
    log.debug("limb: blur %.2f px, %d pixels near the limb, %d divided by their level", sigma, rows.size, int(ok.sum()))
    return network_input, bad | off, correction


def _children(rows, cols, factor):
    sub = np.arange(factor)
    r = factor * rows[:, None, None] + sub[None, :, None] + np.zeros(factor, dtype=rows.dtype)[None, None, :]
    c = factor * cols[:, None, None] + np.zeros(factor, dtype=cols.dtype)[None, :, None] + sub[None, None, :]
    return r.ravel(), c.ravel()


def _match_profile(result, correction, geometry, factor, signed):
    """Scale the output's rings near a blurred limb so that their 2x2-binned sums over the
    input's are the reference ring's (in place on ``result``, the function's own array)."""
    c = correction
    rows, cols = _children(c.rows, c.cols, factor)
    values = result[rows, cols].astype(np.float64).reshape(-1, factor * factor).mean(axis=1)
    values = np.abs(values) if signed else values
    good = np.isfinite(values)
    sums = np.bincount(c.bins[good], values[good], c.edges.size - 1)
    with np.errstate(invalid="ignore", divide="ignore"):  # an empty ring: no factor (inf, NaN), not a warning
        ratio = sums / c.sums
        scale = ratio[0] / ratio[1:]
    centres = 0.5 * (c.edges[1:-1] + c.edges[2:])
    usable = np.isfinite(scale) & (scale > 0)
    if not (np.isfinite(ratio[0]) and ratio[0] > 0 and usable.any()):
        return
    nodes = np.concatenate([[c.edges[1]], centres[usable]])
    factors = np.concatenate([[1.0], scale[usable]])
    # every output pixel whose input pixel lies beyond the reference ring
    shape = (result.shape[0] // factor, result.shape[1] // factor)
    prow, pcol, _ = limb_pixels(shape, geometry, inner=-c.edges[1], outer=c.outer)
    d = np.hypot(pcol - geometry.x0, prow - geometry.y0) - geometry.radius
    inside = d > c.edges[1]
    rows, cols = _children(prow[inside], pcol[inside], factor)
    result[rows, cols] *= np.repeat(np.interp(d[inside], nodes, factors), factor * factor).astype(result.dtype)
    log.debug("limb: output rings scaled by %s at %s", np.round(factors, 3), np.round(nodes, 2))


def limb_output(out, normalizer, geometry, *, correction=None, factor=2):
    """The network's output in the input's units, with the limb's level on the x``factor`` grid.

    A sharp limb gets the x``factor`` grid's own coverage (a limb ``factor`` times
    sharper than the input's, 0 off the disk). A blurred limb keeps its blur: each
    output pixel of an input pixel that :func:`limb_input` divided by its level is
    multiplied by the same blurred model integrated over the output pixel (whose
    ``factor`` x ``factor`` sums are the input's level), and the rings from a few
    sigma inside the limb out are scaled so that their binned sums keep the
    input's azimuthal profile relative to the ring inside them. The network still
    sharpens the disk's texture there, but not the limb's profile, which it would
    otherwise partly deconvolve (from pixels that the treatment leaves as they are,
    to keep the interior's outputs unchanged): a blurred limb's photometry is kept
    ring by ring, rather than guessing the PSF that a sharper limb would need.

    Parameters
    ----------
    out : numpy.ndarray, shape (factor * ny, factor * nx)
        The network's output (network units).
    normalizer : enhance_lib.sun.normalization.Normalizer
    geometry : enhance_lib.sun.disk.DiskGeometry
        The disk on the input grid.
    correction : LimbCorrection, optional
        What :func:`limb_input` measured (default: a sharp limb, no near-limb level).
    factor : int

    Returns
    -------
    numpy.ndarray, float32
        Off-limb pixels 0 (the caller restores NaN where the input was NaN).
    """
    c = correction if correction is not None else LimbCorrection()
    fine = geometry.upsampled(factor)
    result = np.asarray(normalizer.denormalize(out, factor=factor), dtype=np.float32)
    nodes = (c.nodes, c.factors) if c.nodes is not None else None
    if c.sigma <= 0:
        inner = factor * c.nodes[0] * -1 if nodes is not None else HALF_DIAGONAL
        rows, cols, outside = limb_pixels(out.shape, fine, inner=inner)
        coverage, level = normalizer.pixel_levels(rows, cols, fine)
        if nodes is not None:
            d = (np.hypot(cols - fine.x0, rows - fine.y0) - fine.radius) / factor
            level = level * np.interp(d, *nodes)
        result[rows, cols] = out[rows, cols] * level
        result[rows[coverage <= 0], cols[coverage <= 0]] = 0.0
        result[outside] = 0.0
        return result
    # the output pixels of the input pixels that limb_input divided, as judged on the input grid
    shape = (out.shape[0] // factor, out.shape[1] // factor)
    prow, pcol, outside = limb_pixels(shape, geometry, inner=c.inner, outer=c.outer)
    d = np.hypot(pcol - geometry.x0, prow - geometry.y0) - geometry.radius
    keep = d > -c.inner
    rows, cols = _children(prow[keep], pcol[keep], factor)
    d = np.repeat(d[keep], factor * factor)
    _coverage, level = _levels(normalizer, rows, cols, fine, factor * c.sigma)
    if nodes is not None:
        level = level * np.interp(d, *nodes)
    result[rows, cols] = out[rows, cols] * (level / c.deficit)
    result[np.repeat(np.repeat(outside, factor, axis=0), factor, axis=1)] = 0.0
    if c.rows is not None:
        _match_profile(result, c, geometry, factor, getattr(normalizer, "kind", "intensity") == "blos")
    return result
