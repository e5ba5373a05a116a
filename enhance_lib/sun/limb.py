"""The limb treatment: a full disk's limb made invisible to the network, and put back on the
x2 grid with its blur.

A pixel that the limb crosses integrates the disk over the covered part of its area
only, so on a full disk the outermost ring of pixels is a dip (coverage 0-1) next to
the off-limb fill. The networks deconvolve that dip like any other edge: a dark and
bright double rim with negative intensities on the disk. With a known disk geometry
:func:`enhance_lib.run.tiling.enhance_array` therefore

1. divides each limb pixel by its pixel-integrated level (the quiet-Sun profile, or
   the normalisation constant, integrated over the covered part of the pixel,
   :func:`~enhance_lib.sun.limb_integrals.pixel_integrals`), so that in network units it reads as the disk beside it;
2. replaces the off-limb pixels near the limb, and limb pixels covered less than
   ``MIN_COVERAGE``, by the disk mirrored across the limb (:func:`continue_disk`),
   so the network sees no edge at all;
3. multiplies the output by the pixel-integrated level on the x2 grid: the output's
   limb pixels get the x2 grid's own coverage (a limb twice as sharp as the input's),
   off-limb output pixels are 0, and NaN where the input pixel was NaN.

A real limb is also blurred by the telescope's PSF (HMI's: a Gaussian core of about
0.8 pixel sigma and wings reaching several pixels, Wachter et al. 2012), which spreads
the dip over a few pixels on both sides of the limb. The blur's width is estimated on
the image (:func:`~enhance_lib.sun.limb_blur.estimate_blur`: the radial profile near the limb fitted by the disk
blurred by a Gaussian); when it is at least ``MIN_BLUR`` pixel,

1. the limb pixels (from ``BLUR_BAND`` inside the limb out) are divided by the disk's
   profile blurred by that Gaussian and integrated over each pixel
   (:func:`~enhance_lib.sun.limb_integrals.blurred_integrals`), relative to its deficit at ``-BLUR_BAND`` so that the
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

from .limb_blur import MIN_BLUR, estimate_blur
from .limb_darkening import quiet_sun_level
from .limb_integrals import EPS, HALF_DIAGONAL, blur_deficit, blurred_integrals, limb_pixels

log = logging.getLogger(__name__)

__all__ = [
    "BAND", "BLUR_BAND", "BLUR_REACH", "MIN_COVERAGE", "LimbCorrection", "continue_disk", "limb_input", "limb_output",
]

MIN_COVERAGE = 0.1  # limb pixels covered less are continued, not divided (noise / coverage)
BAND = 1.5  # input pixels inside the limb whose level is re-measured (see _limb_correction)
BLUR_BAND = 1.0  # input pixels inside a blurred limb divided by their level (see limb_input)
BLUR_REACH = 3.0  # a blurred limb's band: BLUR_REACH sigma (plus half a diagonal) on each side


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
    near = (d > R - HALF_DIAGONAL - EPS) & (d < R + width) & (d > 0)
    r_idx, c_idx, dx, dy, d = r_idx[near], c_idx[near], dx[near], dy[near], d[near]
    scale = np.minimum(2 * R - d, R - 1.0) / d
    src_c = np.rint(geometry.x0 + dx * scale).astype(np.int64)
    src_r = np.rint(geometry.y0 + dy * scale).astype(np.int64)
    ok = (src_r >= 0) & (src_r < ny) & (src_c >= 0) & (src_c < nx)
    ok[ok] &= ~replace[src_r[ok], src_c[ok]]
    out[r_idx[ok], c_idx[ok]] = values[src_r[ok], src_c[ok]]
    return out


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
    level_distances, level_ratios : numpy.ndarray or None
        The near-limb level measured on the image relative to the profile
        (:func:`_limb_correction`): ``level_ratios`` at ``level_distances`` from the limb
        (input pixels, negative inside).
    ring_rows, ring_cols, ring_index : numpy.ndarray or None
        For sigma > 0, the finite input pixels of the rings whose output keeps the
        input's azimuthal profile, and their ring (0: the reference ring inside).
    ring_sums : numpy.ndarray or None
        The input's sum (of abs(B) for a magnetogram) per ring.
    ring_edges : numpy.ndarray or None
        The rings' edges in distance to the limb (input pixels).
    """

    sigma: float = 0.0
    inner: float = HALF_DIAGONAL
    outer: float = HALF_DIAGONAL
    deficit: float = 1.0
    level_distances: np.ndarray | None = None
    level_ratios: np.ndarray | None = None
    ring_rows: np.ndarray | None = None
    ring_cols: np.ndarray | None = None
    ring_index: np.ndarray | None = None
    ring_sums: np.ndarray | None = None
    ring_edges: np.ndarray | None = None


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
    inside them: the ring fields of :class:`LimbCorrection` (empty
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
    return {"ring_rows": rows, "ring_cols": cols, "ring_index": bins, "ring_sums": np.where(counts >= 20, sums, np.nan),
            "ring_edges": edges}


def limb_input(image, normalized, missing, normalizer, geometry, *, fill, margin, min_coverage=MIN_COVERAGE, band=BAND,
               blur=None):
    """The network's input with the limb treated (steps 1 and 2 of the module's design).

    Parameters
    ----------
    image : numpy.ndarray, shape (ny, nx)
        The plane in physical units.
    normalized : numpy.ndarray
        ``normalizer.normalize(image)``.
    missing : numpy.ndarray of bool
        Non-finite pixels of ``image`` or ``normalized``.
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
        estimated on the image (:func:`~enhance_lib.sun.limb_blur.estimate_blur`); below ``MIN_BLUR`` the
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
    observed = np.where(missing, np.nan, image) if (blur is None or blur >= MIN_BLUR) else None
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
    inner = band if (nodes is not None or sigma > 0) else HALF_DIAGONAL + EPS
    keep = d > -inner
    rows, cols, coverage, level, d = rows[keep], cols[keep], coverage[keep], level[keep], d[keep]
    if nodes is not None:
        level = level * np.interp(d, *nodes)
    deficit = blur_deficit(geometry, coefficients, sigma, band) if sigma > 0 else 1.0
    rings = {}
    if sigma > 0:
        rings = _profile_rings(observed, geometry, sigma=sigma, band=band, outer=outer, signed=signed)
    correction = LimbCorrection(sigma=sigma, inner=inner, outer=outer, deficit=deficit,
                                level_distances=None if nodes is None else nodes[0],
                                level_ratios=None if nodes is None else nodes[1],
                                **rings)
    level = level / deficit
    network_input = np.where(missing, np.float32(fill), normalized).astype(np.float32, copy=False)
    values = image[rows, cols].astype(np.float64)
    ok = np.isfinite(values) & (coverage >= min_coverage) & (level > 0)
    network_input[rows[ok], cols[ok]] = values[ok] / level[ok]
    replace = outside.copy()
    replace[rows[~ok], cols[~ok]] = True
    network_input = continue_disk(network_input, replace, geometry, width=margin + 2, fill=fill)
    off = outside
    off[rows[coverage <= 0], cols[coverage <= 0]] = True
    log.debug("limb: blur %.2f px, %d pixels near the limb, %d divided by their level", sigma, rows.size, int(ok.sum()))
    return network_input, missing | off, correction


def _children(rows, cols, factor):
    sub = np.arange(factor)
    r = factor * rows[:, None, None] + sub[None, :, None] + np.zeros(factor, dtype=rows.dtype)[None, None, :]
    c = factor * cols[:, None, None] + np.zeros(factor, dtype=cols.dtype)[None, :, None] + sub[None, None, :]
    return r.ravel(), c.ravel()


def _match_profile(result, correction, geometry, factor, signed):
    """Scale the output's rings near a blurred limb so that their 2x2-binned sums over the
    input's are the reference ring's (in place on ``result``, the function's own array)."""
    c = correction
    rows, cols = _children(c.ring_rows, c.ring_cols, factor)
    values = result[rows, cols].astype(np.float64).reshape(-1, factor * factor).mean(axis=1)
    values = np.abs(values) if signed else values
    good = np.isfinite(values)
    sums = np.bincount(c.ring_index[good], values[good], c.ring_edges.size - 1)
    with np.errstate(invalid="ignore", divide="ignore"):  # an empty ring: no factor (inf, NaN), not a warning
        ratio = sums / c.ring_sums
        scale = ratio[0] / ratio[1:]
    centres = 0.5 * (c.ring_edges[1:-1] + c.ring_edges[2:])
    usable = np.isfinite(scale) & (scale > 0)
    if not (np.isfinite(ratio[0]) and ratio[0] > 0 and usable.any()):
        return
    nodes = np.concatenate([[c.ring_edges[1]], centres[usable]])
    factors = np.concatenate([[1.0], scale[usable]])
    # every output pixel whose input pixel lies beyond the reference ring
    shape = (result.shape[0] // factor, result.shape[1] // factor)
    prow, pcol, _ = limb_pixels(shape, geometry, inner=-c.ring_edges[1], outer=c.outer)
    d = np.hypot(pcol - geometry.x0, prow - geometry.y0) - geometry.radius
    inside = d > c.ring_edges[1]
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
    nodes = (c.level_distances, c.level_ratios) if c.level_distances is not None else None
    if c.sigma <= 0:
        inner = factor * c.level_distances[0] * -1 if nodes is not None else HALF_DIAGONAL
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
    if c.ring_rows is not None:
        _match_profile(result, c, geometry, factor, getattr(normalizer, "kind", "intensity") == "blos")
    return result
