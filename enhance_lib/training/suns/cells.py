"""The ``'cells'`` family: today's synthetic Sun (:mod:`enhance_lib.training.synthetic_sun`), wrapped.

Granulation as Voronoi cells of jittered seeds ~1.4" apart, a round sunspot with radial
penumbral filaments, three pores, a plage region of Gaussian envelope and network
elements of uniform flux at supergranular boundaries (the rules of
:func:`enhance_lib.training.synthetic_sun.synthetic_sun`). Per seed it draws what the
truth scenes have always drawn: the spot's position (left third), radius (5-8") and
umbral field (2.4-3 kG, either polarity), the plage's position (right third), radius
(6-9") and polarity, and three pores (0.8-1.8", 1.2-1.7 kG, 0.35-0.6 I/I_qs) away from
the spot. The granulation's size and contrast, the umbral and penumbral levels and the
network are the module's constants: the shipped error network was calibrated on these
scenes, so they are kept byte for byte.
"""

import math

import numpy as np

from .. import synthetic_sun as sun
from .features import Sun, shrink

__all__ = ["draw", "place_features"]


def place_features(seed, extent):
    """The spot (left third), the plage (right third) and three pores (away from the spot) of one seed.

    Parameters
    ----------
    seed : int
    extent : float
        The scene's side (arcsec); features shrink below 80".

    Returns
    -------
    spots, pores, plage : list
        :class:`~enhance_lib.training.synthetic_sun.Spot`,
        :class:`~enhance_lib.training.synthetic_sun.Pore` and
        :class:`~enhance_lib.training.synthetic_sun.PlageRegion` objects.
    """
    rng = np.random.default_rng([int(seed), 21])
    factor = shrink(extent)
    spot_r = rng.uniform(5.0, 8.0) * factor
    spot = sun.Spot(
        y=rng.uniform(0.35, 0.65) * extent,
        x=rng.uniform(0.24, 0.32) * extent,
        radius=spot_r,
        field=(1 if rng.random() < 0.5 else -1) * rng.uniform(2400.0, 3000.0),
    )
    plage = sun.PlageRegion(
        y=rng.uniform(0.35, 0.65) * extent,
        x=rng.uniform(0.68, 0.76) * extent,
        radius=rng.uniform(6.0, 9.0) * factor,
        polarity=1 if rng.random() < 0.5 else -1,
    )
    pores = []
    while len(pores) < 3:
        y, x = rng.uniform(0.12, 0.88, 2) * extent
        if math.hypot(y - spot.y, x - spot.x) < spot_r + 4.0:
            continue
        pores.append(sun.Pore(
            y, x, radius=rng.uniform(0.8, 1.8), field=(1 if rng.random() < 0.5 else -1) * rng.uniform(1200, 1700),
            intensity=rng.uniform(0.35, 0.6),
        ))
    return [spot], pores, [plage]


def draw(seed, *, size, pixel_scale):
    """One ``'cells'`` scene of ``size`` x ``size`` pixels at ``pixel_scale`` arcsec/px.

    Returns
    -------
    Sun

    References
    ----------
    Díaz Baso, C. J., & Asensio Ramos, A. 2018, A&A 614, A5: the features that matter at
    HMI's and the 28 cm target's scales (see :mod:`enhance_lib.training.synthetic_sun`).
    """
    spots, pores, plage = place_features(seed, size * pixel_scale)
    scene = sun.synthetic_sun(shape=(size, size), pixel_scale=pixel_scale, seed=int(seed), spots=spots,
                              pores=pores, plage=plage)
    spot = spots[0]
    params = {"spot_radius": spot.radius, "spot_field": spot.field, "plage_radius": plage[0].radius,
              "plage_polarity": plage[0].polarity, "pore_radii": [p.radius for p in pores]}
    return Sun(intensity=scene.intensity, blos=scene.blos, family="cells", seed=int(seed), params=params)
