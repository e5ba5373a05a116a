"""
A sunpy map in, a sunpy map out
===============================

:func:`enhance_lib.enhance_map` returns a new map on the x2 grid whose coordinates are
the input's: the centre of input pixel (i, j) is output pixel (2i + 0.5, 2j + 0.5). The
data type comes from the map (an HMI continuum image here). Needs sunpy
(``pip install -e ".[sunpy]"``).
"""

from pathlib import Path

import astropy.units as u
import matplotlib.pyplot as plt
import sunpy.map

import enhance_lib

SAMPLES = Path(enhance_lib.__file__).resolve().parent.parent / "samples"

smap = sunpy.map.Map(SAMPLES / "synthetic_hmi.fits")
big = enhance_lib.enhance_map(smap)
print(type(big).__name__, big.data.shape, big.scale.axis1, big.measurement, big.date)

# %%
# The sky is where it was.
before = smap.pixel_to_world(100 * u.pix, 60 * u.pix)
after = big.pixel_to_world(200.5 * u.pix, 120.5 * u.pix)
print(f"separation: {before.separation(after).to(u.arcsec):.2e}")

# %%
# The same part of the Sun in both, on their own world coordinates.
fig = plt.figure(figsize=(11, 5))
for k, (m, title) in enumerate(((smap, "synthetic HMI"), (big, "Enhance x2"))):
    part = m.submap(before.__class__(-270 * u.arcsec, 165 * u.arcsec, frame=m.coordinate_frame),
                    top_right=before.__class__(-230 * u.arcsec, 205 * u.arcsec, frame=m.coordinate_frame))
    ax = fig.add_subplot(1, 2, k + 1, projection=part)
    part.plot(axes=ax, cmap="gray", title=title)
plt.show()
