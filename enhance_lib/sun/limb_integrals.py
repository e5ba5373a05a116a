"""The limb on the pixel grid: which pixels it crosses, and what of the disk each one holds.

The quadrature behind the limb treatment (:mod:`enhance_lib.sun.limb`) and the blur's estimate
(:mod:`enhance_lib.sun.limb_blur`): the pixels near the limb circle (:func:`limb_pixels`), the
part of each pixel the disk covers and a limb-darkening profile integrated over that part
(:func:`pixel_integrals`, exact across the limb), the same for a limb blurred by a Gaussian
(:func:`blurred_integrals`, a straight-edge model with the curvature to first order), and the
coverage of a whole image (:func:`disk_coverage`). Pixel coordinates are 0-based, as in
:mod:`enhance_lib.sun.normalization`.
"""

import numpy as np

__all__ = [
    "EPS", "HALF_DIAGONAL", "blur_deficit", "blurred_integrals", "disk_coverage", "limb_pixels", "near_limb",
    "pixel_integrals",
]

#: Half a pixel's diagonal: how far from the limb circle a pixel centre can be and still be crossed.
HALF_DIAGONAL = float(np.sqrt(0.5))
#: Distances (pixels) this close to a band's edge count as on it (rounding).
EPS = 1e-6
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
    inner = geometry.radius - max(inner, HALF_DIAGONAL) - EPS
    outer = geometry.radius + max(outer, HALF_DIAGONAL) + EPS
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
    dist = np.maximum(np.hypot(dx, dy), EPS)
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


def near_limb(shape, geometry, margin):
    """Whether any pixel of an image of ``shape`` lies within ``margin`` pixels of the limb."""
    ny, nx = shape
    # nearest and farthest points of the image's rectangle from the disk centre
    cx = np.clip(geometry.x0, -0.5, nx - 0.5) - geometry.x0
    cy = np.clip(geometry.y0, -0.5, ny - 0.5) - geometry.y0
    far_x = max(abs(-0.5 - geometry.x0), abs(nx - 0.5 - geometry.x0))
    far_y = max(abs(-0.5 - geometry.y0), abs(ny - 0.5 - geometry.y0))
    return np.hypot(cx, cy) < geometry.radius + margin and np.hypot(far_x, far_y) > geometry.radius - margin


def blur_deficit(geometry, coefficients, sigma, band):
    """The blurred disk over the sharp one, a pixel wide, ``band`` pixels inside the limb (the 1-D model of
    :func:`blurred_integrals`)."""
    reach = band + 2.0
    blurred = _integrals(_edge_table(float(geometry.radius), coefficients, sigma, reach))[0]
    sharp = _integrals(_edge_table(float(geometry.radius), coefficients, min(sigma, 1e-3), reach))[0]
    x = np.array(-band)
    return float((blurred(x + 0.5) - blurred(x - 0.5)) / (sharp(x + 0.5) - sharp(x - 0.5)))
