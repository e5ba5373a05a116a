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

Only inputs beyond ``R - sqrt(1/2)`` change, so outputs more than the network's
receptive margin (plus one pixel) inside the limb are exactly those of the plain
pipeline. Pixel coordinates are 0-based, as in :mod:`enhance_lib.sun.normalization`.
"""

import logging

import numpy as np

from .limb_darkening import quiet_sun_level

log = logging.getLogger(__name__)

__all__ = [
    "MIN_COVERAGE", "continue_disk", "disk_coverage", "limb_input", "limb_output", "limb_pixels", "pixel_integrals",
]

HALF_DIAGONAL = float(np.sqrt(0.5))
MIN_COVERAGE = 0.1  # limb pixels covered less are continued, not divided (noise / coverage)
BAND = 1.5  # input pixels inside the limb whose level is re-measured (see _limb_correction)
_EPS = 1e-6
_ROWS = 512
_CHUNK = 4096  # pixels per block of the quadrature


def limb_pixels(shape, geometry, *, inner=HALF_DIAGONAL):
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

    Returns
    -------
    rows, cols : numpy.ndarray of int
        The pixels whose centre lies between ``inner`` inside and sqrt(1/2)
        outside the limb circle.
    outside : numpy.ndarray of bool, shape ``shape``
        Pixels with no part on the disk.
    """
    ny, nx = shape
    inner = geometry.radius - max(inner, HALF_DIAGONAL) - _EPS
    outer = geometry.radius + HALF_DIAGONAL + _EPS
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


def _limb_correction(image, rows, cols, coverage, level, geometry, *, band, min_coverage):
    """The quiet-Sun level near the limb relative to the level just inside, per distance to the limb.

    A limb-darkening profile fitted at mu >= 0.1 is extrapolated to the limb, where it
    can be off by several per cent: the limb pixels, divided by it, would still form a
    (shallow) dip that the network deepens. In bins of 0.25 pixel of distance to the
    limb from ``band`` inside it out, the robust quiet-Sun level of the pixels over
    their pixel-integrated level is measured relative to the one in the ring of 3
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
    for lo in np.arange(-band, HALF_DIAGONAL, 0.25):
        members = good & (d > lo) & (d <= lo + 0.25)
        if members.sum() < 50:
            continue
        nodes.append(float(np.mean(d[members])))
        factors.append(quiet_sun_level(values[members]) / target)
    return np.array(nodes), np.array(factors)


def limb_input(image, scaled, bad, normalizer, geometry, *, fill, margin, min_coverage=MIN_COVERAGE, band=BAND):
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
        With a limb-darkening profile, pixels up to ``band`` inside the limb are
        divided by their level measured on the image (:func:`_limb_correction`).

    Returns
    -------
    network_input : numpy.ndarray, float32
    skip : numpy.ndarray of bool
        Pixels whose output is not needed: missing, or wholly off the disk.
    correction : tuple of numpy.ndarray or None
        The nodes of the near-limb level (for :func:`limb_output`).
    """
    profiled = getattr(normalizer, "profile", None) is not None
    rows, cols, outside = limb_pixels(image.shape, geometry, inner=band + 3 if profiled else HALF_DIAGONAL)
    coverage, level = normalizer.pixel_levels(rows, cols, geometry)
    correction = None
    if profiled:
        correction = _limb_correction(image, rows, cols, coverage, level, geometry, band=band,
                                      min_coverage=min_coverage)
        d = np.hypot(cols - geometry.x0, rows - geometry.y0) - geometry.radius
        keep = d > (-band if correction is not None else -HALF_DIAGONAL - _EPS)
        rows, cols, coverage, level = rows[keep], cols[keep], coverage[keep], level[keep]
        if correction is not None:
            level = level * np.interp(d[keep], *correction)
    network_input = np.where(bad, np.float32(fill), scaled).astype(np.float32, copy=False)
    values = image[rows, cols].astype(np.float64)
    ok = np.isfinite(values) & (coverage >= min_coverage) & (level > 0)
    network_input[rows[ok], cols[ok]] = values[ok] / level[ok]
    replace = outside.copy()
    replace[rows[~ok], cols[~ok]] = True
    network_input = continue_disk(network_input, replace, geometry, width=margin + 2, fill=fill)
    off = outside
    off[rows[coverage <= 0], cols[coverage <= 0]] = True
    log.debug("limb: %d pixels near the limb, %d divided by their level", rows.size, int(ok.sum()))
    return network_input, bad | off, correction


def limb_output(out, normalizer, geometry, *, correction=None, factor=2):
    """The network's output in the input's units, with the limb's coverage on the x``factor`` grid.

    Parameters
    ----------
    out : numpy.ndarray, shape (factor * ny, factor * nx)
        The network's output (network units).
    normalizer : enhance_lib.sun.normalization.Normalizer
    geometry : enhance_lib.sun.disk.DiskGeometry
        The disk on the input grid.
    correction : tuple of numpy.ndarray, optional
        The near-limb level of :func:`limb_input` (distances in input pixels).
    factor : int

    Returns
    -------
    numpy.ndarray, float32
        Off-limb pixels 0 (the caller restores NaN where the input was NaN).
    """
    fine = geometry.upsampled(factor)
    result = np.asarray(normalizer.denormalize(out, factor=factor), dtype=np.float32)
    inner = factor * correction[0][0] * -1 if correction is not None else HALF_DIAGONAL
    rows, cols, outside = limb_pixels(out.shape, fine, inner=inner)
    coverage, level = normalizer.pixel_levels(rows, cols, fine)
    if correction is not None:
        d = (np.hypot(cols - fine.x0, rows - fine.y0) - fine.radius) / factor
        level = level * np.interp(d, *correction)
    result[rows, cols] = out[rows, cols] * level
    result[rows[coverage <= 0], cols[coverage <= 0]] = 0.0
    result[outside] = 0.0
    return result
