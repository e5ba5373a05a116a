"""The ``'basins'`` family: granules as the basins of a random field, irregular twisted spots.

Rules (each range drawn uniformly per seed, :func:`draw_params`):

* **granulation**: a random field smoothed over 0.2 of the granule scale (1.1-1.7"); each
  of its local maxima seeds a granule, which is the maximum's basin (the watershed of
  the field), so that granules vary in size and shape as they do on the Sun rather than
  sitting on a jittered lattice. A granule is bright where the field is high, falls to a
  dark lane over the lane width (0.09-0.16") at the basin's boundary and has its own
  brightness (cell-to-cell spread 0.3-0.6). The contrast is set so that HMI sees
  :data:`~enhance_lib.training.suns.features.HMI_CONTRAST` (3.4-4 %);
* **sunspot**: an irregular one (umbral and penumbral boundaries modulated by random
  harmonics up to 15 %), umbra 0.35-0.5 of the spot's radius (4.5-8.5"), umbral level
  0.08-0.25 I/I_qs with umbral dots (0.1-0.2", up to 0.3-0.6 I/I_qs), penumbra
  0.7-0.85 I/I_qs of filaments that twist by up to 0.8 rad across it, a light bridge
  (0.4-0.9" wide, 0.5-0.8 I/I_qs) in half the spots; umbral field 2.2-3.3 kG, reduced in
  the bridge;
* **pores**: two to five, irregular, 0.7-2" radius, 1-1.8 kG, around the spot;
* **plage**: an irregular patch (a smoothed random field thresholded inside a 7-11"
  envelope) filled with kG elements on granular lanes (6-12 per arcsec^2, 85-95 % of one
  polarity), exponential fluxes, abnormal granulation (20-40 % less contrast);
* **network**: elements with exponentially distributed flux on the granular lanes along
  the boundaries of supergranular basins (20-30"), of both polarities; element size
  (Gaussian sigma) 0.08-0.14";
* **internetwork**: mixed-polarity field of 10-30 G rms, stronger in lanes.

References
----------
Hirzberger, J., Vázquez, M., Bonet, J. A., Hanslmeier, A., & Sobotka, M. 1997, ApJ 480,
406, "Time Series of Solar Granulation Images. I.": granule sizes (a broad distribution
with a mean near 1.3-1.5") and shapes.

Solanki, S. K. 2003, A&ARv 11, 153, "Sunspots: an overview of observational evidence":
umbral (0.05-0.3 I_qs in the visible) and penumbral (0.75-0.85) levels, umbral fields of
2-3.5 kG, umbral dots, light bridges, penumbral filaments.

Sobotka, M., Brandt, P. N., & Simon, G. W. 1997, A&A 328, 682, "Fine structure in sunspots.
I.": umbral dots of 0.2-0.5" at up to about half the quiet-Sun level.

Yeo, K. L., Feller, A., Solanki, S. K., et al. 2014, A&A 561, A22: HMI's granulation
contrast, 3.5-4 % at disk centre.
"""

import math

import numpy as np
from scipy import ndimage

from .features import HMI_CONTRAST, Sun, flux_blobs, grid, hmi_contrast_scale, random_field, shrink, smoothstep

__all__ = ["RANGES", "draw", "draw_params", "granulation"]

#: The ranges ``(low, high)`` of the parameters drawn per seed (arcsec, G, I/I_qs).
RANGES = {
    "granule_scale": (1.1, 1.7), "lane_width": (0.09, 0.16), "cell_spread": (0.3, 0.6),
    "hmi_contrast": HMI_CONTRAST, "spot_radius": (4.5, 8.5), "umbra_fraction": (0.35, 0.5),
    "umbra_level": (0.08, 0.25), "penumbra_level": (0.7, 0.85), "spot_field": (2200.0, 3300.0),
    "irregularity": (0.03, 0.15), "twist": (-0.8, 0.8), "dot_level": (0.3, 0.6), "bridge_width": (0.4, 0.9),
    "bridge_level": (0.5, 0.8), "pores": (2, 5), "pore_radius": (0.7, 2.0), "pore_field": (1000.0, 1800.0),
    "plage_radius": (7.0, 11.0), "plage_density": (6.0, 12.0), "plage_purity": (0.85, 0.95),
    "abnormal": (0.2, 0.4), "supergranule": (20.0, 30.0), "network_density": (0.02, 0.05),
    "element_sigma": (0.08, 0.14), "internetwork": (10.0, 30.0),
}


def draw_params(rng, extent):
    """The parameters of one scene (a dict of plain numbers) and where its features sit."""
    u = {name: float(rng.uniform(*RANGES[name])) for name in RANGES if name not in ("pores",)}
    factor = shrink(extent)
    u["spot_radius"] *= factor
    u["plage_radius"] *= factor
    u["spot_sign"] = 1 if rng.random() < 0.5 else -1
    u["plage_sign"] = 1 if rng.random() < 0.5 else -1
    u["bridge"] = bool(rng.random() < 0.5)
    u["bridge_angle"] = float(rng.uniform(0, math.pi))
    left = rng.random() < 0.5  # the spot on one side, the plage on the other
    u["spot_y"], u["plage_y"] = (float(v) for v in rng.uniform(0.3, 0.7, 2) * extent)
    u["spot_x"] = float((0.27 if left else 0.73) + rng.uniform(-0.04, 0.04)) * extent
    u["plage_x"] = float((0.73 if left else 0.27) + rng.uniform(-0.04, 0.04)) * extent
    u["pores"] = int(rng.integers(RANGES["pores"][0], RANGES["pores"][1] + 1))
    return u


def _basins(field):
    """Labels of the basins of attraction of ``field``'s local maxima (periodic).

    Each pixel points to the highest of itself and its eight neighbours; following the
    pointers (by pointer doubling) leads every pixel up the field to the maximum whose basin
    it lies in, so that the basins' boundaries run along the field's valleys.
    """
    ny, nx = field.shape
    index = np.arange(ny * nx).reshape(ny, nx)
    best, target = field.copy(), index.copy()
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dy or dx:
                shifted = np.roll(field, (-dy, -dx), axis=(0, 1))
                higher = shifted > best
                best = np.where(higher, shifted, best)
                target = np.where(higher, np.roll(index, (-dy, -dx), axis=(0, 1)), target)
    pointer = target.ravel()
    while True:
        jumped = pointer[pointer]
        if np.array_equal(jumped, pointer):
            break
        pointer = jumped
    _, labels = np.unique(pointer, return_inverse=True)
    return labels.reshape(ny, nx)


def _boundary_distance(labels, pixel_scale):
    """Distance (arcsec) from each pixel to the nearest boundary between two labels."""
    edge = np.zeros(labels.shape, dtype=bool)
    edge[:-1] |= labels[:-1] != labels[1:]
    edge[:, :-1] |= labels[:, :-1] != labels[:, 1:]
    return ndimage.distance_transform_edt(~edge) * pixel_scale


def granulation(rng, shape, pixel_scale, params):
    """Quiet granulation (mean 1, HMI contrast ``params['hmi_contrast']``) and the lane distance (arcsec)."""
    coarse = 2  # the basins on a grid twice as coarse: boundaries to 0.13", lanes drawn at full resolution
    small = tuple(-(-n // coarse) for n in shape)
    field = random_field(rng, small, 0.2 * params["granule_scale"] / (coarse * pixel_scale))
    labels = _basins(field)
    labels = np.kron(labels, np.ones((coarse, coarse), dtype=labels.dtype))[: shape[0], : shape[1]]
    f_full = ndimage.zoom(field, coarse, order=1, mode="grid-wrap", grid_mode=True)[: shape[0], : shape[1]]
    edge = _boundary_distance(labels, pixel_scale)
    amp = 1.0 + params["cell_spread"] * rng.standard_normal(labels.max() + 1)
    profile = 1.0 - np.exp(-edge / params["lane_width"])
    image = amp[labels] * profile * (1.0 + 0.3 * np.tanh(f_full)) - 1.2 * np.exp(-edge / params["lane_width"])
    image += 0.1 * random_field(rng, shape, 0.12 / pixel_scale)
    image = ndimage.gaussian_filter(image, 0.05 / pixel_scale, mode="reflect")
    image = (image - image.mean()) / max(image.std(), 1e-12)
    scale = hmi_contrast_scale(1.0 + 0.1 * image, pixel_scale=pixel_scale, target=params["hmi_contrast"])
    return 1.0 + 0.1 * scale * image, edge


def _harmonics(rng, phi, amplitude, orders=6):
    """A random closed curve's radial modulation, rms ``amplitude``, of azimuthal orders 2..orders."""
    out = np.zeros_like(phi)
    weights = []
    for m in range(2, orders + 1):
        a = rng.standard_normal() / m
        weights.append(a)
        out += a * np.cos(m * phi + rng.uniform(0, 2 * math.pi))
    return amplitude * out / math.sqrt(max(0.5 * sum(w * w for w in weights), 1e-12))


def _penumbral_filaments(rng, rho, phi, radius, twist):
    """Filaments narrow in azimuth (~0.2") and long along the radius, twisted by ``twist`` rad across the penumbra."""
    n_phi = max(64, int(2 * math.pi * radius / 0.1))
    noise = ndimage.gaussian_filter(rng.standard_normal((64, n_phi)), (4.0, 0.2 * n_phi / (2 * math.pi * radius)),
                                    mode=("nearest", "wrap"))
    noise /= max(noise.std(), 1e-12)
    angle = np.mod(phi + twist * rho + math.pi, 2 * math.pi) / (2 * math.pi) * n_phi
    return ndimage.map_coordinates(noise, [np.clip(rho, 0, 1) * 63, angle], order=1, mode="grid-wrap")


def _spot(rng, yy, xx, pixel_scale, p):
    """Weight, intensity and field of the irregular spot of ``p``."""
    dy, dx = yy - p["spot_y"], xx - p["spot_x"]
    r, phi = np.hypot(dy, dx), np.arctan2(dy, dx)
    rp = p["spot_radius"] * (1.0 + _harmonics(rng, phi, p["irregularity"]))
    ru = p["umbra_fraction"] * p["spot_radius"] * (1.0 + _harmonics(rng, phi, p["irregularity"]))
    width = max(0.4, 2 * pixel_scale)
    w_spot = smoothstep((rp + width / 2 - r) / width)
    w_umbra = smoothstep((ru + width / 2 - r) / width)
    rho = (r - ru) / np.maximum(rp - ru, 1e-6)
    fil = _penumbral_filaments(rng, rho, phi, p["spot_radius"], p["twist"])
    penumbra = p["penumbra_level"] * (1.0 + 0.17 * fil) * (1.04 - 0.08 * np.clip(rho, 0, 1))
    umbra = p["umbra_level"] * (1.0 + 0.1 * random_field(rng, r.shape, 0.2 / pixel_scale))
    umbra = umbra * (0.85 + 0.15 * (r / ru) ** 2)
    dots = _umbral_dots(rng, yy, xx, r, ru, pixel_scale, p)
    umbra = np.maximum(umbra, dots)
    bridge = np.zeros_like(r)
    if p["bridge"]:
        a = p["bridge_angle"]
        d = np.abs(-dx * math.sin(a) + dy * math.cos(a)) - 0.3 * p["bridge_width"] * np.sin(3 * r / ru)
        bridge = np.exp(-((d / (0.5 * p["bridge_width"])) ** 2)) * (r < ru * 1.05)
    umbra = umbra * (1 - bridge) + p["bridge_level"] * (1.0 + 0.1 * fil) * bridge
    intensity = np.clip(penumbra * (1 - w_umbra) + umbra * w_umbra, 0.02, None)
    profile = np.exp(-((r / (0.9 * rp)) ** 2)) * (1.0 - 0.5 * bridge)
    blos = p["spot_sign"] * p["spot_field"] * profile * (1.0 - 0.1 * fil * (1 - w_umbra))
    blos = blos * np.maximum(w_spot, np.exp(-(((r - rp) / 1.0) ** 2)) * (r > rp))
    return w_spot, intensity, blos


def _umbral_dots(rng, yy, xx, r, ru, pixel_scale, p):
    """Umbral dots: small Gaussian brightenings scattered over the umbra (about one per 2 arcsec^2)."""
    n = rng.poisson(math.pi * (p["umbra_fraction"] * p["spot_radius"]) ** 2 / 2.0)
    rad = p["umbra_fraction"] * p["spot_radius"] * np.sqrt(rng.random(n)) * 0.9
    ang = rng.uniform(0, 2 * math.pi, n)
    rows = np.clip(((p["spot_y"] + rad * np.sin(ang)) / pixel_scale).astype(int), 0, r.shape[0] - 1)
    cols = np.clip(((p["spot_x"] + rad * np.cos(ang)) / pixel_scale).astype(int), 0, r.shape[1] - 1)
    dots = flux_blobs(r.shape, rows, cols, rng.uniform(0.5, 1.0, n), sigma_px=rng.uniform(0.05, 0.1) / pixel_scale,
                      peak=1.0, saturation=1.0)
    return p["dot_level"] * dots * (r < ru)


def _pores(rng, yy, xx, p, avoid):
    """Irregular pores around the spot: weight, intensity and field, summed."""
    weight, core, blos = np.zeros_like(yy), np.zeros_like(yy), np.zeros_like(yy)
    placed = 0
    while placed < p["pores"]:
        ang, dist = rng.uniform(0, 2 * math.pi), p["spot_radius"] * rng.uniform(1.4, 2.6)
        y, x = p["spot_y"] + dist * math.sin(ang), p["spot_x"] + dist * math.cos(ang)
        if not (2 < y < yy.max() - 2 and 2 < x < xx.max() - 2) or avoid(y, x):
            continue
        placed += 1
        radius = rng.uniform(*RANGES["pore_radius"]) * min(1.0, p["spot_radius"] / 4.0)
        r, phi = np.hypot(yy - y, xx - x), np.arctan2(yy - y, xx - x)
        rr = r / (radius * (1.0 + _harmonics(rng, phi, 0.12, orders=4)))
        w = np.exp(-(rr**4))
        weight = np.maximum(weight, w)
        core = np.maximum(core, w * rng.uniform(0.3, 0.6) * (0.9 + 0.1 * rr**2))
        sign = p["spot_sign"] if rng.random() < 0.7 else -p["spot_sign"]
        blos += sign * rng.uniform(*RANGES["pore_field"]) * np.exp(-((rr / 1.1) ** 4))
    return weight, core, blos


def _elements(rng, edge, yy, xx, pixel_scale, p):
    """Network and plage flux (deltas on granular lanes, exponential fluxes) and the plage envelope."""
    shape = edge.shape
    lanes = np.flatnonzero(edge.ravel() < 0.08)
    # supergranular basins on a 1" grid: network where their boundaries are
    step = max(1, round(1.0 / pixel_scale))
    coarse = random_field(rng, tuple(-(-n // step) for n in shape), 0.2 * p["supergranule"] / (step * pixel_scale))
    sg_edge = _boundary_distance(_basins(coarse), step * pixel_scale)
    sg_edge = np.kron(sg_edge, np.ones((step, step)))[: shape[0], : shape[1]].ravel()
    area = shape[0] * shape[1] * pixel_scale**2
    cand = rng.choice(lanes, size=rng.poisson(4 * p["network_density"] * area))
    cand = cand[rng.random(cand.size) < np.exp(-((sg_edge[cand] / 2.5) ** 2))]
    flux = rng.exponential(0.8, cand.size) * np.where(rng.random(cand.size) < 0.5, -1, 1)
    # plage: an irregular patch in a Gaussian envelope
    d2 = (yy - p["plage_y"]) ** 2 + (xx - p["plage_x"]) ** 2
    envelope = np.exp(-d2 / p["plage_radius"] ** 2)
    patch = smoothstep((envelope + 0.35 * random_field(rng, shape, 1.5 / pixel_scale) - 0.35) / 0.3)
    weight = patch.ravel()[lanes]
    n_pl = rng.poisson(p["plage_density"] * patch.sum() * pixel_scale**2)
    pick = rng.choice(lanes, size=n_pl, p=weight / weight.sum()) if weight.sum() > 0 else lanes[:0]
    sign = np.where(rng.random(pick.size) < p["plage_purity"], p["plage_sign"], -p["plage_sign"])
    pix = np.concatenate([cand, pick])
    fluxes = np.concatenate([flux, sign * rng.exponential(1.0, pick.size)])
    rows, cols = np.unravel_index(pix, shape)
    field = flux_blobs(shape, rows, cols, fluxes, sigma_px=p["element_sigma"] / pixel_scale)
    return field, patch


def draw(seed, *, size, pixel_scale):
    """One ``'basins'`` scene of ``size`` x ``size`` pixels at ``pixel_scale`` arcsec/px.

    Every draw comes from ``numpy.random.default_rng([seed, 28, 2])``.

    Returns
    -------
    Sun
    """
    rng = np.random.default_rng([int(seed), 28, 2])
    shape = (size, size)
    p = draw_params(rng, size * pixel_scale)
    gran, edge = granulation(rng, shape, pixel_scale, p)
    yy, xx = grid(shape, pixel_scale)
    lane = np.exp(-edge / 0.15)
    blos = p["internetwork"] * random_field(rng, shape, 0.25 / pixel_scale) * (0.5 + 1.5 * lane)
    elements, patch = _elements(rng, edge, yy, xx, pixel_scale, p)
    blos = blos + elements
    intensity = gran - p["abnormal"] * patch * (gran - 1.0) + 0.3 * np.tanh(np.abs(elements) / 1000.0) * lane
    spot_reach = p["spot_radius"] * 1.3

    def avoid(y, x):
        return math.hypot(y - p["plage_y"], x - p["plage_x"]) < p["plage_radius"] or (
            math.hypot(y - p["spot_y"], x - p["spot_x"]) < spot_reach)

    w, core, b = _pores(rng, yy, xx, p, avoid)
    intensity = intensity * (1 - w) + core
    blos = blos * (1 - w) + b
    w, spot_i, b = _spot(rng, yy, xx, pixel_scale, p)
    intensity = intensity * (1 - w) + spot_i * w
    blos = blos * (1 - w) + b
    return Sun(intensity=intensity.astype(np.float32), blos=blos.astype(np.float32), family="basins",
               seed=int(seed), params=p)
