"""A synthetic Sun: deterministic high-resolution scenes for when no MURaM run is at hand.

Enhance was trained on MURaM radiative-MHD snapshots (Cheung et al. 2010) degraded to
HMI (Díaz Baso & Asensio Ramos 2018, A&A 614, A5). This module draws cheap stand-ins
with the features that matter at HMI and 0.25" scales:

* granulation: a cellular (Voronoi) pattern from jittered seeds ~1.3" apart, bright
  cells darkening towards their edges and narrow dark intergranular lanes, scaled to
  ~14.5 % rms contrast at 0.06"/px (MURaM continuum contrast at disk centre), which
  degrades to ~4 % at HMI resolution, as observed (Yeo et al. 2014 report ~3.5-4 % for
  HMI; Díaz Baso & Asensio Ramos 2018 quote 3.7 %);
* sunspots: dark umbra (~0.15 I_qs) and penumbra (~0.75 I_qs) with radial filaments;
  line-of-sight field ~2.5-3 kG at the umbral centre, ~1-1.5 kG in the penumbra,
  falling outward;
* pores: small dark features without penumbra, ~1.5 kG;
* network and plage: small (~0.2-0.3") kG flux concentrations in intergranular lanes,
  bright points in the continuum; mixed polarity in the network (at supergranular
  boundaries, ~25" apart), one dominant polarity in plage;
* a weak mixed-polarity internetwork field (tens of G, stronger in lanes).

Everything is drawn from ``numpy.random.default_rng(seed)``: the same arguments give
the same scene bit for bit.
"""

import logging
import math
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage, spatial

from ..errors import EnhanceError
from ..sun.limb_integrals import limb_pixels

log = logging.getLogger(__name__)

__all__ = ["PlageRegion", "Pore", "Scene", "Spot", "granulation", "limb_disk", "synthetic_sun"]

# Granulation model (tuned so that to_hmi gives ~4 % contrast, see tests/test_training_synthetic_sun.py).
GRANULE_SPACING = 1.4  # arcsec between cell seeds
GRANULE_JITTER = 0.45  # seed jitter, fraction of the spacing
LANE_SCALE = 0.13  # arcsec; brightness rises from the lane over this distance
LANE_LEVEL = -1.6  # lane brightness relative to the cell amplitude
CELL_SPREAD = 0.5  # rms of the cell-to-cell amplitude
TEXTURE = 0.15  # rms of the small-scale texture, relative to the cell amplitude
SMOOTH = 0.06  # arcsec, Gaussian sigma of the final smoothing
QS_CONTRAST = 0.145  # rms contrast of the quiet Sun at full resolution
SUPERGRANULE_SPACING = 25.0  # arcsec


@dataclass(frozen=True)
class Spot:
    """A sunspot: umbra and penumbra, position in arcsec from the scene's lower-left corner.

    Attributes
    ----------
    y, x : float
        Centre (arcsec).
    radius : float
        Outer penumbral radius (arcsec).
    umbra_fraction : float
        Umbral radius over penumbral radius (~0.4 in real spots).
    field : float
        Line-of-sight field at the umbral centre (G), sign = polarity.
    umbra_intensity, penumbra_intensity : float
        Mean levels (I/I_qs).
    """

    y: float
    x: float
    radius: float = 8.0
    umbra_fraction: float = 0.42
    field: float = 2800.0
    umbra_intensity: float = 0.15
    penumbra_intensity: float = 0.75


@dataclass(frozen=True)
class Pore:
    """A pore: small dark magnetic feature without penumbra (arcsec, G, I/I_qs)."""

    y: float
    x: float
    radius: float = 1.2
    field: float = 1500.0
    intensity: float = 0.45


@dataclass(frozen=True)
class PlageRegion:
    """A plage: a patch (Gaussian envelope of ``radius`` arcsec) dense in kG elements.

    ``polarity`` is the dominant sign; ``density`` is elements per arcsec^2 at the
    centre, ``purity`` the fraction with the dominant sign.
    """

    y: float
    x: float
    radius: float = 8.0
    polarity: int = 1
    density: float = 3.0
    purity: float = 0.9


@dataclass
class Scene:
    """A synthetic high-resolution scene.

    Attributes
    ----------
    intensity : ndarray, float32 (ny, nx)
        Continuum intensity in units of the quiet-Sun mean (I/I_qs).
    blos : ndarray, float32 (ny, nx)
        Line-of-sight magnetic field (G).
    pixel_scale : float
        arcsec/px.
    seed : int
    spots, pores, plage : list
        The features drawn.
    quiet : ndarray of bool
        Pixels away from spots, pores and plage (for quiet-Sun statistics).
    """

    intensity: np.ndarray
    blos: np.ndarray
    pixel_scale: float
    seed: int
    spots: list = field(default_factory=list)
    pores: list = field(default_factory=list)
    plage: list = field(default_factory=list)
    quiet: np.ndarray = None

    @property
    def shape(self):
        return self.intensity.shape


def _gaussian_fft(image, sigma_px):
    """Gaussian smoothing by FFT (periodic; used on random fields only)."""
    ny, nx = image.shape
    fy = np.fft.fftfreq(ny)[:, None]
    fx = np.fft.rfftfreq(nx)[None, :]
    transfer = np.exp(-2.0 * (math.pi * sigma_px) ** 2 * (fy**2 + fx**2))
    return np.fft.irfft2(np.fft.rfft2(image) * transfer, s=image.shape)


def _jittered_seeds(rng, ny, nx, spacing_px, jitter, margin_px):
    ys = np.arange(-margin_px, ny + margin_px, spacing_px)
    xs = np.arange(-margin_px, nx + margin_px, spacing_px)
    gy, gx = np.meshgrid(ys, xs, indexing="ij")
    pts = np.stack([gy.ravel(), gx.ravel()], axis=1)
    # Offset alternate rows by half a cell (hexagonal-like packing), then jitter.
    row = np.round((pts[:, 0] + margin_px) / spacing_px).astype(int)
    pts[:, 1] += 0.5 * spacing_px * (row % 2)
    pts += rng.uniform(-jitter, jitter, pts.shape) * spacing_px
    return pts


def granulation(*, shape, pixel_scale, rng, spacing=None):
    """Quiet-Sun granulation (mean 1, rms ``QS_CONTRAST``) and the lane distance.

    Parameters
    ----------
    shape : tuple of int
    pixel_scale : float
        arcsec/px.
    rng : numpy.random.Generator
    spacing : float, optional
        Mean distance between granule centres (arcsec); default ``GRANULE_SPACING``.

    Returns
    -------
    intensity : ndarray (ny, nx)
    edge : ndarray (ny, nx)
        Distance (arcsec) to the nearest cell boundary (small in lanes).
    """
    ny, nx = shape
    spacing = GRANULE_SPACING if spacing is None else float(spacing)
    spacing_px = spacing / pixel_scale
    seeds = _jittered_seeds(rng, ny, nx, spacing_px, GRANULE_JITTER, 2 * spacing_px)
    tree = spatial.cKDTree(seeds)
    # Distances on a grid at most ~0.06" (coarser scenes are fine; finer ones are
    # interpolated, the edge distance being piecewise smooth).
    step = max(1, round(0.06 / pixel_scale))
    gy = np.arange(0, ny - 1 + step, step, dtype=float)
    gx = np.arange(0, nx - 1 + step, step, dtype=float)
    yy, xx = np.meshgrid(gy, gx, indexing="ij")
    dist, idx = tree.query(np.stack([yy.ravel(), xx.ravel()], axis=1), k=2, workers=-1)
    d1 = dist[:, 0].reshape(yy.shape)
    owner = idx[:, 0].reshape(yy.shape)
    p1 = seeds[idx[:, 0]]
    p2 = seeds[idx[:, 1]]
    # Exact distance from the sample to the bisector of its two nearest seeds.
    q = np.stack([yy.ravel(), xx.ravel()], axis=1)
    diff = p2 - p1
    norm = np.hypot(diff[:, 0], diff[:, 1])
    mid = 0.5 * (p1 + p2)
    edge = (np.einsum("ij,ij->i", mid - q, diff) / norm).reshape(yy.shape) * pixel_scale
    if step > 1:
        coords = np.meshgrid(np.arange(ny) / step, np.arange(nx) / step, indexing="ij")
        edge = ndimage.map_coordinates(edge, coords, order=1)
        d1 = ndimage.map_coordinates(d1, coords, order=1)
        owner = ndimage.map_coordinates(owner, coords, order=0)
    d1 = d1 * pixel_scale
    # Per-cell amplitude: larger granules are brighter, plus scatter.
    n_cells = seeds.shape[0]
    amp = 1.0 + CELL_SPREAD * rng.standard_normal(n_cells)
    amp_map = amp[owner]
    profile = 1.0 - np.exp(-edge / LANE_SCALE)
    # Bright, domed centre; the lane level is a fixed dark floor.
    dome = 1.0 - 0.25 * (d1 / spacing) ** 2
    image = amp_map * profile * dome + LANE_LEVEL * np.exp(-edge / LANE_SCALE)
    # Small-scale texture.
    texture = _gaussian_fft(rng.standard_normal(shape), 0.15 / pixel_scale)
    image += TEXTURE * texture / max(texture.std(), 1e-12)
    image = ndimage.gaussian_filter(image, SMOOTH / pixel_scale, mode="reflect")
    image = 1.0 + QS_CONTRAST * (image - image.mean()) / image.std()
    return image, edge


def _smoothstep(x):
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _polar_noise(rng, n_phi, n_r, sigma_phi, sigma_r):
    noise = rng.standard_normal((n_r, n_phi))
    noise = ndimage.gaussian_filter(noise, (sigma_r, sigma_phi), mode=("nearest", "wrap"))
    return noise / noise.std()


def _draw_spot(spot, yy, xx, pixel_scale, rng):
    """Weight (0..1), intensity and field maps of one sunspot."""
    dy = yy - spot.y
    dx = xx - spot.x
    r = np.hypot(dy, dx)
    phi = np.arctan2(dy, dx)
    rp = spot.radius
    ru = spot.umbra_fraction * rp
    width = max(0.4, 2 * pixel_scale)
    w_spot = _smoothstep((rp + width / 2 - r) / width)
    w_umbra = _smoothstep((ru + width / 2 - r) / width)
    # Penumbral filaments: noise narrow in azimuth (~0.2") and long in radius (~2").
    n_phi = max(64, int(2 * math.pi * rp / 0.1))
    n_r = 64
    fil = _polar_noise(rng, n_phi, n_r, sigma_phi=0.2 * n_phi / (2 * math.pi * rp), sigma_r=4.0)
    ir = np.clip((r - ru) / max(rp - ru, 1e-6), 0, 1) * (n_r - 1)
    ip = (phi + math.pi) / (2 * math.pi) * n_phi
    fil_map = ndimage.map_coordinates(fil, [ir, ip], order=1, mode="grid-wrap")
    penumbra = spot.penumbra_intensity * (1.0 + 0.15 * fil_map)
    # Umbral dots / texture.
    udots = _gaussian_fft(rng.standard_normal(r.shape), 0.15 / pixel_scale)
    udots = udots / max(udots.std(), 1e-12)
    umbra = spot.umbra_intensity * (1.0 + 0.15 * udots) * (0.85 + 0.15 * (r / max(ru, 1e-6)) ** 2)
    intensity = np.clip(penumbra * (1 - w_umbra) + umbra * w_umbra, 0.02, None)
    # Field: ~B0 at the centre, ~0.75 B0 at the umbral edge, ~0.3 B0 at the outer edge,
    # then a fast decay (canopy); spines (darker filaments) more vertical -> stronger.
    profile = np.exp(-((r / (0.9 * rp)) ** 2))
    blos = spot.field * profile * (1.0 - 0.08 * fil_map * (1 - w_umbra) * (r > ru))
    blos = blos * np.maximum(w_spot, np.exp(-(((r - rp) / 1.0) ** 2)) * (r > rp))
    return w_spot, intensity, blos


def _draw_pore(pore, yy, xx, pixel_scale):
    r = np.hypot(yy - pore.y, xx - pore.x)
    w = np.exp(-((r / pore.radius) ** 4))
    core = pore.intensity * (0.9 + 0.1 * (r / pore.radius) ** 2)
    return w, core, pore.field * np.exp(-((r / (1.1 * pore.radius)) ** 4))


def _place_random(rng, n, ny_arc, nx_arc, margin, kind):
    out = []
    for _ in range(n):
        y = rng.uniform(margin, max(margin, ny_arc - margin))
        x = rng.uniform(margin, max(margin, nx_arc - margin))
        if kind == "spot":
            radius = rng.uniform(5.0, 10.0)
            sign = 1 if rng.random() < 0.5 else -1
            out.append(Spot(y, x, radius=radius, field=sign * rng.uniform(2400, 3000)))
        elif kind == "pore":
            sign = 1 if rng.random() < 0.5 else -1
            out.append(
                Pore(
                    y,
                    x,
                    radius=rng.uniform(0.8, 1.8),
                    field=sign * rng.uniform(1200, 1700),
                    intensity=rng.uniform(0.35, 0.6),
                )
            )
        else:
            sign = 1 if rng.random() < 0.5 else -1
            out.append(PlageRegion(y, x, radius=rng.uniform(5.0, 12.0), polarity=sign))
    return out


def _features(value, rng, ny_arc, nx_arc, margin, kind, cls):
    if value is None:
        return []
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        if value < 0:
            msg = f"number of {kind}s must be >= 0, got {value}"
            raise EnhanceError(msg)
        return _place_random(rng, int(value), ny_arc, nx_arc, margin, kind)
    items = list(value)
    for item in items:
        if not isinstance(item, cls):
            msg = f"{kind}s must be a count or {cls.__name__} objects, got {item!r}"
            raise EnhanceError(msg)
    return items


def _scene_args(shape, pixel_scale):
    """``(ny, nx, pixel_scale)`` of a scene of :func:`synthetic_sun`, checked."""
    try:
        ny, nx = (int(v) for v in shape)
    except (TypeError, ValueError):
        msg = f"shape must be (ny, nx), got {shape!r}"
        raise EnhanceError(msg) from None
    if ny < 16 or nx < 16:
        msg = f"scene too small: {shape} (at least 16x16 pixels)"
        raise EnhanceError(msg)
    pixel_scale = float(pixel_scale)
    if not pixel_scale > 0:
        msg = f"pixel_scale must be positive, got {pixel_scale}"
        raise EnhanceError(msg)
    return ny, nx, pixel_scale


def _network_elements(rng, edge, yy, xx, pixel_scale, network, plage):
    """The network and plage elements of :func:`synthetic_sun`: unit fluxes on lane pixels
    (``elements``), and the pixels away from plage (``quiet``)."""
    ny, nx = edge.shape
    ny_arc, nx_arc = ny * pixel_scale, nx * pixel_scale
    # Network and plage elements: deltas in lanes, smoothed to ~0.25" FWHM blobs.
    area = ny_arc * nx_arc
    elements = np.zeros((ny, nx))
    lane_idx = np.flatnonzero(edge.ravel() < 0.08)
    quiet = np.ones((ny, nx), dtype=bool)
    if lane_idx.size:
        sg = _jittered_seeds(
            rng, ny_arc, nx_arc, SUPERGRANULE_SPACING, 0.35, SUPERGRANULE_SPACING
        )
        sg_tree = spatial.cKDTree(sg)
        n_cand = rng.poisson(network * area * 4)
        cand = rng.choice(lane_idx, size=n_cand)
        cy, cx = (np.unravel_index(cand, (ny, nx)) + np.array(0.5)[..., None]) * pixel_scale
        d, _i = sg_tree.query(np.stack([cy, cx], axis=1), k=2)
        sg_edge = 0.5 * (d[:, 1] - d[:, 0]) if d.size else np.zeros(0)
        keep = rng.random(n_cand) < np.exp(-((sg_edge / 3.0) ** 2))
        flux = rng.uniform(0.6, 1.4, n_cand) * np.where(rng.random(n_cand) < 0.5, -1, 1)
        np.add.at(elements.ravel(), cand[keep], flux[keep])
        ly, lx = (np.unravel_index(lane_idx, (ny, nx)) + np.array(0.5)[..., None]) * pixel_scale
        for region in plage:
            # Lane pixels within 2 radii; accepted with the Gaussian envelope, so that
            # the element density at the centre is region.density per arcsec^2.
            d2 = (ly - region.y) ** 2 + (lx - region.x) ** 2
            local = lane_idx[d2 < (2 * region.radius) ** 2]
            if local.size == 0:
                continue
            n_pl = rng.poisson(region.density * math.pi * (2 * region.radius) ** 2)
            pick = rng.choice(local, size=n_pl)
            py, px = (np.unravel_index(pick, (ny, nx)) + np.array(0.5)[..., None]) * pixel_scale
            env = np.exp(-(((py - region.y) ** 2 + (px - region.x) ** 2) / region.radius**2))
            ok = rng.random(n_pl) < env
            sign = np.where(rng.random(n_pl) < region.purity, region.polarity, -region.polarity)
            np.add.at(elements.ravel(), pick[ok], sign[ok] * rng.uniform(0.7, 1.3, n_pl)[ok])
            quiet &= ((yy - region.y) ** 2 + (xx - region.x) ** 2) > (2 * region.radius) ** 2
    return elements, quiet


def _draw_features(intensity, blos, quiet, yy, xx, pixel_scale, rng, pores, spots):
    """Pores, then spots, drawn over a scene of :func:`synthetic_sun` (``quiet`` loses their
    surroundings)."""
    for pore in pores:
        w, core, b = _draw_pore(pore, yy, xx, pixel_scale)
        intensity = intensity * (1 - w) + core * w
        blos = blos * (1 - w) + b
        quiet &= np.hypot(yy - pore.y, xx - pore.x) > 3 * pore.radius
    for spot in spots:
        w, spot_i, b = _draw_spot(spot, yy, xx, pixel_scale, rng)
        intensity = intensity * (1 - w) + spot_i * w
        blos = blos * (1 - w) + b
        quiet &= np.hypot(yy - spot.y, xx - spot.x) > 1.5 * spot.radius + 2
    return intensity, blos, quiet


def synthetic_sun(
    *,
    shape=(512, 512),
    pixel_scale=0.06,
    seed=0,
    spots=0,
    pores=0,
    plage=0,
    network=0.03,
    internetwork=25.0,
):
    """Draw a synthetic high-resolution scene of the solar photosphere at disk centre.

    Parameters
    ----------
    shape : tuple of int
        ``(ny, nx)`` pixels.
    pixel_scale : float
        arcsec/px; ~0.06 (close to MURaM's 0.0662"/px in Díaz Baso & Asensio Ramos 2018).
    seed : int
        Seed of ``numpy.random.default_rng``.
    spots, pores, plage : int or sequence
        A number of randomly placed features, or explicit :class:`Spot`,
        :class:`Pore`, :class:`PlageRegion` objects (positions in arcsec).
    network : float
        Network elements per arcsec^2 (concentrated at supergranular boundaries).
    internetwork : float
        rms of the weak internetwork field (G).

    Returns
    -------
    Scene
    """
    ny, nx, pixel_scale = _scene_args(shape, pixel_scale)
    rng = np.random.default_rng(seed)
    ny_arc, nx_arc = ny * pixel_scale, nx * pixel_scale
    gran, edge = granulation(shape=(ny, nx), pixel_scale=pixel_scale, rng=rng)
    yy, xx = np.meshgrid(
        (np.arange(ny) + 0.5) * pixel_scale, (np.arange(nx) + 0.5) * pixel_scale, indexing="ij"
    )
    feat_rng = np.random.default_rng([seed, 1])
    spots = _features(spots, feat_rng, ny_arc, nx_arc, 8.0, "spot", Spot)
    pores = _features(pores, feat_rng, ny_arc, nx_arc, 3.0, "pore", Pore)
    plage = _features(plage, feat_rng, ny_arc, nx_arc, 5.0, "plage", PlageRegion)

    lane = np.exp(-edge / 0.15)  # 1 in lanes, ~0 inside granules
    # Weak internetwork field: mixed polarity on granular scales, stronger in lanes.
    weak = _gaussian_fft(rng.standard_normal((ny, nx)), 0.25 / pixel_scale)
    weak *= internetwork / max(weak.std(), 1e-12)
    blos = weak * (0.5 + 1.5 * lane)

    elements, quiet = _network_elements(rng, edge, yy, xx, pixel_scale, network, plage)
    sigma_px = 0.11 / pixel_scale
    # A delta of unit flux becomes a blob of peak 1 kG.
    elem = ndimage.gaussian_filter(elements, sigma_px, mode="constant") * (2 * math.pi * sigma_px**2)
    elem_field = 1600.0 * np.tanh(elem * 1000.0 / 1600.0)  # saturate overlapping elements
    blos = blos + elem_field
    # Bright points: magnetic elements are brighter than the lanes they sit in.
    intensity = gran + 0.35 * np.tanh(np.abs(elem_field) / 1000.0) * lane
    # Plage: slightly reduced granular contrast (abnormal granulation).
    for region in plage:
        env = np.exp(-(((yy - region.y) ** 2 + (xx - region.x) ** 2) / region.radius**2))
        intensity = intensity - 0.3 * env * (gran - 1.0)

    intensity, blos, quiet = _draw_features(intensity, blos, quiet, yy, xx, pixel_scale, rng, pores, spots)
    log.debug(
        "synthetic Sun %dx%d at %.3g arcsec/px: %d spots, %d pores, %d plage",
        ny, nx, pixel_scale, len(spots), len(pores), len(plage),
    )
    return Scene(
        intensity=intensity.astype(np.float32),
        blos=blos.astype(np.float32),
        pixel_scale=pixel_scale,
        seed=seed,
        spots=spots,
        pores=pores,
        plage=plage,
        quiet=quiet,
    )


def limb_disk(shape, geometry, *, profile=None, texture=None, supersample=32):
    """A full disk with a pixel-integrated (anti-aliased) limb, NaN off the disk.

    Each pixel holds ``texture`` times the mean of ``profile(mu)`` over its area, the
    part off the disk counting 0: inside the limb that is the profile at the pixel
    (its mean over the pixel, to the curvature of the profile), on the limb the
    profile integrated over the covered part, by brute force on a
    ``supersample`` x ``supersample`` grid of points per pixel (independent of the
    quadrature of :func:`enhance_lib.sun.limb_integrals.pixel_integrals`).

    Parameters
    ----------
    shape : tuple of int
    geometry : enhance_lib.sun.disk.DiskGeometry
    profile : callable or None
        I(mu) (vectorised); None: 1 (e.g. a magnetogram in ``texture``).
    texture : numpy.ndarray or None
        Multiplies each pixel (granulation contrast, or the field of a magnetogram).
    supersample : int

    Returns
    -------
    numpy.ndarray
        float32.
    """

    profile = profile if profile is not None else (lambda mu: np.ones_like(mu))
    ny, nx = shape
    rows, cols, outside = limb_pixels(shape, geometry)
    y = np.arange(ny, dtype=np.float64)[:, None] - geometry.y0
    x = np.arange(nx, dtype=np.float64)[None, :] - geometry.x0
    mu = np.sqrt(np.clip(1.0 - (x * x + y * y) / geometry.radius**2, 0.0, 1.0))
    image = profile(mu)
    sub = (np.arange(supersample) + 0.5) / supersample - 0.5
    sy, sx = [a.ravel() for a in np.meshgrid(sub, sub, indexing="ij")]
    for start in range(0, rows.size, 2048):
        r, c = rows[start : start + 2048, None], cols[start : start + 2048, None]
        rho2 = ((c + sx - geometry.x0) ** 2 + (r + sy - geometry.y0) ** 2) / geometry.radius**2
        inside = rho2 < 1.0
        values = np.where(inside, profile(np.sqrt(np.clip(1.0 - rho2, 0.0, 1.0))), 0.0)
        image[rows[start : start + 2048], cols[start : start + 2048]] = values.mean(axis=1)
    if texture is not None:
        image = image * texture
    image[outside] = np.nan
    image[rows[image[rows, cols] == 0], cols[image[rows, cols] == 0]] = np.nan
    return image.astype(np.float32)
