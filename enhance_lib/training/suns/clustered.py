"""The ``'clustered'`` family: spectral granulation, a δ-spot, log-normal flux in clusters.

Rules (each range drawn uniformly per seed, :data:`RANGES`):

* **granulation**: no cells drawn as such; the lanes are the zero contours of a random field
  whose power lies in a ring at 1.3 times the granule scale (1.0-1.6", ring width 0.3-0.45
  in ln k), dark over a band of the field's values (0.12-0.22 of its rms), and the granules
  between them brighten away from the lanes, so that lane width and granule shape follow
  the field rather than a tessellation. In an emerging-flux region (radius 5-8") the ring
  is stretched 1.6-2.6 times along the line joining its polarities: elongated granules,
  with elongated fibrils of opposite field (200-600 G) on either side. The contrast is set
  so that HMI sees 1.12 times :data:`~enhance_lib.training.suns.features.HMI_CONTRAST` in
  8" boxes (3.8-4.5 %): this family's quiet Sun, measured as one region away from its
  features (``benchmarks/families.py``), then shows 3.4-3.9 %, for its granulation's
  contrast varies more from box to box than the other families';
* **δ-spot**: two umbrae of opposite polarity (radii 0.3-0.45 of the spot's 5-8.5",
  0.6-1.1 of it apart) in one penumbra shaped like a stadium around them; the penumbra
  on each side has its umbra's polarity, so that the field reverses across a steep
  polarity inversion line; umbral levels 0.1-0.3 I/I_qs, penumbra 0.72-0.85, fields
  2-3.3 kG;
* **pores**: one to four, 0.7-1.8", 1-1.6 kG, away from the spot;
* **network**: flux elements in clusters (Neyman-Scott: 0.004-0.01 parents per arcsec^2 on
  a network mask, the zero contours of a random field at the supergranular scale, 18-30";
  2-7 children within 0.4" of each, kept mostly on granular lanes) of log-normal flux
  (median 0.5-0.9 kG peak, ln-sigma 0.6-1.0), element size 0.07-0.13";
* **plage**: a dense clustering (1.5-3 parents per arcsec^2 at its centre, in a Gaussian
  envelope of 6-10", kept wherever they fall) of one polarity (80-95 %), median element
  0.5-0.9 kG;
* **internetwork**: mixed-polarity field of 8-25 G rms on the granular lanes.

References
----------
Nordlund, Å., Stein, R. F., & Asplund, M. 2009, Living Rev. Sol. Phys. 6, 2, "Solar
Surface Convection": broad granules and narrow, connected lanes.

Cheung, M. C. M., Schüssler, M., Tarbell, T. D., & Title, A. M. 2008, ApJ 687, 1373,
"Solar Surface Emerging Flux Regions: A Comparative Study of Radiative MHD Modeling and
Hinode SOT Observations": elongated granules and opposite-polarity streaks of emerging flux.

Künzel, H. 1960, Astron. Nachr. 285, 271; Zirin, H., & Liggett, M. A. 1987, Sol. Phys. 113,
267: δ-spots, umbrae of opposite polarity in one penumbra.

Abramenko, V., & Longcope, D. 2005, ApJ 619, 1160, "Distribution of the Magnetic Flux in
Elements of the Magnetic Field in Active Regions": log-normal flux distributions.

Yeo, K. L., Feller, A., Solanki, S. K., et al. 2014, A&A 561, A22: HMI's granulation
contrast, 3.5-4 % at disk centre.
"""

import math

import numpy as np
from scipy import ndimage

from .features import (
    HMI_CONTRAST,
    Sun,
    bandpass_field,
    flux_blobs,
    grid,
    hmi_contrast_scale,
    random_field,
    shrink,
    smoothstep,
)

__all__ = ["RANGES", "draw", "draw_params", "granulation"]

#: The ranges ``(low, high)`` of the parameters drawn per seed (arcsec, G, I/I_qs).
RANGES = {
    "granule_scale": (1.0, 1.6), "ring_width": (0.3, 0.45), "lane_level": (0.12, 0.22),
    "hmi_contrast": (HMI_CONTRAST[0] * 1.12, HMI_CONTRAST[1] * 1.12),
    "efr_radius": (5.0, 8.0), "elongation": (1.6, 2.6), "efr_field": (200.0, 600.0),
    "spot_radius": (5.0, 8.5), "umbra_fraction": (0.3, 0.45), "separation": (0.6, 1.1),
    "umbra_level": (0.1, 0.3), "penumbra_level": (0.72, 0.85), "spot_field": (2000.0, 3300.0),
    "pores": (1, 4), "pore_radius": (0.7, 1.8), "pore_field": (1000.0, 1600.0),
    "supergranule": (18.0, 30.0), "parents": (0.004, 0.01), "children": (2.0, 7.0),
    "flux_median": (0.5, 0.9), "flux_sigma": (0.6, 1.0), "element_sigma": (0.07, 0.13),
    "plage_radius": (6.0, 10.0), "plage_parents": (3.0, 6.0), "plage_purity": (0.8, 0.95),
    "internetwork": (8.0, 25.0),
}


def draw_params(rng, extent):
    """The parameters of one scene (a dict of plain numbers) and where its features sit."""
    p = {name: float(rng.uniform(*RANGES[name])) for name in RANGES if name != "pores"}
    factor = shrink(extent)
    for name in ("spot_radius", "plage_radius", "efr_radius"):
        p[name] *= factor
    p["pores"] = int(rng.integers(RANGES["pores"][0], RANGES["pores"][1] + 1))
    left = rng.random() < 0.5
    p["spot_y"] = float(rng.uniform(0.35, 0.65)) * extent
    p["spot_x"] = float((0.28 if left else 0.72) + rng.uniform(-0.03, 0.03)) * extent
    p["spot_angle"] = float(rng.uniform(0, math.pi))
    p["spot_sign"] = 1 if rng.random() < 0.5 else -1
    side = 0.72 if left else 0.28
    p["plage_y"], p["plage_x"] = float(rng.uniform(0.62, 0.75)) * extent, side * extent
    p["efr_y"], p["efr_x"] = float(rng.uniform(0.22, 0.35)) * extent, side * extent
    p["efr_angle"] = float(rng.uniform(0, math.pi))
    p["plage_sign"] = 1 if rng.random() < 0.5 else -1
    return p


def _lanes(field, p, pixel_scale):
    """Granulation from a field: dark lanes along its zero contours (a connected network),
    granules between them, brightest where the field is farthest from zero."""
    depth = np.exp(-((field / p["lane_level"]) ** 2))
    image = (1.0 + 0.35 * np.tanh(np.abs(field))) * (1.0 - depth) - 0.6 * depth
    return ndimage.gaussian_filter(image, 0.04 / pixel_scale, mode="reflect")


def granulation(rng, shape, pixel_scale, p):
    """Quiet granulation (mean 1, HMI contrast ``p['hmi_contrast']`` outside the emerging flux),
    the intergranular weight (1 in lanes), the emerging-flux region's envelope and its field."""
    period = 1.3 * p["granule_scale"] / pixel_scale  # the zero contours of a field of period P enclose cells of ~P
    iso = bandpass_field(rng, shape, period_px=period, width=p["ring_width"])
    long = bandpass_field(rng, shape, period_px=period, width=p["ring_width"], elongation=p["elongation"],
                          angle=p["efr_angle"])
    yy, xx = grid(shape, pixel_scale)
    env = np.exp(-(((yy - p["efr_y"]) ** 2 + (xx - p["efr_x"]) ** 2) / p["efr_radius"] ** 2))
    field = (iso * (1 - env) + long * env) / np.sqrt((1 - env) ** 2 + env**2)
    quiet = _lanes(iso, p, pixel_scale)  # the contrast is set on the quiet (isotropic) granulation
    mean, std = quiet.mean(), max(quiet.std(), 1e-12)
    scale = hmi_contrast_scale(1.0 + 0.1 * (quiet - mean) / std, pixel_scale=pixel_scale, target=p["hmi_contrast"])
    image = (_lanes(field, p, pixel_scale) - mean) / std
    lane = np.exp(-((field / (2 * p["lane_level"])) ** 2))
    return 1.0 + 0.1 * scale * image, lane, env, long


def _filaments(rng, rho, phi, radius):
    """Radial penumbral filaments (narrow in azimuth, long in rho), mean 0, rms 1."""
    n_phi = max(64, int(2 * math.pi * radius / 0.1))
    noise = ndimage.gaussian_filter(rng.standard_normal((64, n_phi)), (5.0, 0.2 * n_phi / (2 * math.pi * radius)),
                                    mode=("nearest", "wrap"))
    noise /= max(noise.std(), 1e-12)
    angle = np.mod(phi + math.pi, 2 * math.pi) / (2 * math.pi) * n_phi
    return ndimage.map_coordinates(noise, [np.clip(rho, 0, 1) * 63, angle], order=1, mode="grid-wrap")


def _delta_spot(rng, yy, xx, pixel_scale, p):
    """Weight, intensity and field of the δ-spot of ``p``."""
    half = 0.5 * p["separation"] * p["spot_radius"]
    c, s = math.cos(p["spot_angle"]), math.sin(p["spot_angle"])
    centres = [(p["spot_y"] + half * s, p["spot_x"] + half * c), (p["spot_y"] - half * s, p["spot_x"] - half * c)]
    ru = p["umbra_fraction"] * p["spot_radius"] * np.array([1.0, rng.uniform(0.7, 1.0)])
    r = np.stack([np.hypot(yy - cy, xx - cx) for cy, cx in centres])
    near = np.argmin(r / ru[:, None, None], axis=0)
    r_near = np.take_along_axis(r, near[None], 0)[0]
    ru_near = ru[near]
    phi = np.where(near == 0, np.arctan2(yy - centres[0][0], xx - centres[0][1]),
                   np.arctan2(yy - centres[1][0], xx - centres[1][1]))
    along = np.clip((yy - p["spot_y"]) * s + (xx - p["spot_x"]) * c, -half, half)
    seg = np.hypot(yy - p["spot_y"] - along * s, xx - p["spot_x"] - along * c)  # distance to the segment
    outer = p["spot_radius"] * (1.0 + 0.08 * np.cos(3 * phi + rng.uniform(0, 6.3)))
    width = max(0.4, 2 * pixel_scale)
    w_spot = smoothstep((outer - seg) / width + 0.5)
    w_umbra = smoothstep((ru_near - r_near) / width + 0.5)
    rho = np.clip((r_near - ru_near) / np.maximum(r_near - ru_near + outer - seg, 1e-6), 0, 1)
    fil = _filaments(rng, rho, phi, p["spot_radius"])
    penumbra = p["penumbra_level"] * (1.0 + 0.16 * fil)
    levels = p["umbra_level"] * np.array([1.0, rng.uniform(0.8, 1.4)])
    umbra = levels[near] * (1.0 + 0.1 * random_field(rng, r_near.shape, 0.2 / pixel_scale))
    umbra *= 0.85 + 0.15 * (r_near / ru_near) ** 2
    intensity = np.clip(penumbra * (1 - w_umbra) + umbra * w_umbra, 0.02, None)
    # each side keeps its umbra's polarity: a soft choice of the nearer umbra across the inversion line
    share = 1.0 / (1.0 + np.exp(np.clip((r[0] - r[1]) / 0.4, -50, 50)))
    strength = p["spot_field"] * np.array([1.0, rng.uniform(0.75, 1.0)])
    profile = [np.exp(-((r[i] / (ru[i] / 0.42 * 0.9)) ** 2)) for i in (0, 1)]
    blos = p["spot_sign"] * (share * strength[0] * profile[0] - (1 - share) * strength[1] * profile[1])
    blos = blos * (1.0 - 0.1 * fil * (1 - w_umbra))
    blos = blos * np.maximum(w_spot, np.exp(-(((seg - outer) / 1.0) ** 2)) * (seg > outer))
    return w_spot, intensity, blos


def _pores(rng, yy, xx, p):
    """Round pores away from the spot: weight, intensity and field."""
    weight, core, blos = np.zeros_like(yy), np.zeros_like(yy), np.zeros_like(yy)
    extent = yy.max()
    placed = 0
    while placed < p["pores"]:
        y, x = rng.uniform(0.12, 0.88, 2) * extent
        if math.hypot(y - p["spot_y"], x - p["spot_x"]) < 1.6 * p["spot_radius"] + 3 or math.hypot(
                y - p["plage_y"], x - p["plage_x"]) < p["plage_radius"]:
            continue
        placed += 1
        radius = rng.uniform(*RANGES["pore_radius"]) * min(1.0, p["spot_radius"] / 4.0)
        rr = np.hypot(yy - y, xx - x) / radius
        w = np.exp(-(rr**4))
        weight = np.maximum(weight, w)
        core = np.maximum(core, w * rng.uniform(0.35, 0.65) * (0.9 + 0.1 * rr**2))
        blos += (1 if rng.random() < 0.5 else -1) * rng.uniform(*RANGES["pore_field"]) * np.exp(-((rr / 1.1) ** 4))
    return weight, core, blos


def _clusters(rng, lane, yy, xx, pixel_scale, p):
    """Network and plage flux: Neyman-Scott clusters of log-normal elements on the network mask."""
    shape = lane.shape
    step = max(1, round(1.0 / pixel_scale))
    small = bandpass_field(rng, tuple(-(-n // step) for n in shape), period_px=p["supergranule"] / (step * pixel_scale),
                           width=0.3)
    mask = np.kron(np.exp(-((small / 0.3) ** 2)), np.ones((step, step)))[: shape[0], : shape[1]]
    d2 = (yy - p["plage_y"]) ** 2 + (xx - p["plage_x"]) ** 2
    plage = np.exp(-d2 / p["plage_radius"] ** 2)
    density = p["parents"] * mask + p["plage_parents"] * plage  # parents per arcsec^2
    area = pixel_scale**2
    n_max = rng.poisson(density.max() * area * density.size)
    cand = rng.integers(0, density.size, n_max)
    parents = cand[rng.random(n_max) < density.ravel()[cand] / density.max()]
    n_child = rng.poisson(p["children"], parents.size)
    py, px = np.unravel_index(np.repeat(parents, n_child), shape)
    rows = np.clip(np.round(py + rng.normal(0, 0.4 / pixel_scale, py.size)).astype(int), 0, shape[0] - 1)
    cols = np.clip(np.round(px + rng.normal(0, 0.4 / pixel_scale, px.size)).astype(int), 0, shape[1] - 1)
    keep = rng.random(rows.size) < np.maximum(0.2 + 0.8 * lane[rows, cols], plage[rows, cols])
    rows, cols = rows[keep], cols[keep]
    share = p["plage_parents"] * plage[rows, cols]
    in_plage = rng.random(rows.size) < share / (share + p["parents"] * mask[rows, cols] + 1e-12)
    parent_sign = np.repeat(np.where(rng.random(parents.size) < 0.5, -1, 1), n_child)[keep]
    plage_sign = np.where(rng.random(rows.size) < p["plage_purity"], p["plage_sign"], -p["plage_sign"])
    sign = np.where(in_plage, plage_sign, parent_sign)
    flux = p["flux_median"] * np.exp(p["flux_sigma"] * rng.standard_normal(rows.size))
    return flux_blobs(shape, rows, cols, sign * flux, sigma_px=p["element_sigma"] / pixel_scale)


def draw(seed, *, size, pixel_scale):
    """One ``'clustered'`` scene of ``size`` x ``size`` pixels at ``pixel_scale`` arcsec/px.

    Every draw comes from ``numpy.random.default_rng([seed, 28, 3])``.

    Returns
    -------
    Sun
    """
    rng = np.random.default_rng([int(seed), 28, 3])
    shape = (size, size)
    p = draw_params(rng, size * pixel_scale)
    gran, lane, env, long = granulation(rng, shape, pixel_scale, p)
    yy, xx = grid(shape, pixel_scale)
    blos = p["internetwork"] * random_field(rng, shape, 0.25 / pixel_scale) * (0.4 + 1.6 * lane)
    elements = _clusters(rng, lane, yy, xx, pixel_scale, p)
    # emerging flux: elongated fibrils, one polarity on either side of the region's centre
    along = (xx - p["efr_x"]) * math.cos(p["efr_angle"]) + (yy - p["efr_y"]) * math.sin(p["efr_angle"])
    fibrils = p["efr_field"] * env * np.tanh(along / (0.3 * p["efr_radius"])) * np.clip(-long, 0, None)
    blos = blos + elements + fibrils
    intensity = gran + 0.3 * np.tanh(np.abs(elements) / 1000.0) * lane
    w, core, b = _pores(rng, yy, xx, p)
    intensity = intensity * (1 - w) + core
    blos = blos * (1 - w) + b
    w, spot_i, b = _delta_spot(rng, yy, xx, pixel_scale, p)
    intensity = intensity * (1 - w) + spot_i * w
    blos = blos * (1 - w) + b
    return Sun(intensity=intensity.astype(np.float32), blos=blos.astype(np.float32), family="clustered",
               seed=int(seed), params=p)
