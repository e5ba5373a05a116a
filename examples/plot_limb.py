"""
The limb without ringing
========================

A deconvolution network rings at any sharp edge, and the limb of a full disk is one: the
partly covered pixels next to the off-limb region make a dip that the network deepens
into negative intensities and a bright rim. :func:`enhance_lib.run.tiling.enhance_array`
divides the limb pixels by their coverage of the disk, continues the disk past the limb
for the network and applies the coverage of the x2 grid to the output
(:mod:`enhance_lib.sun.limb`). Here on a small synthetic disk with a pixel-integrated limb.
"""

import matplotlib.pyplot as plt
import numpy as np

from enhance_lib.nets.weights import default_weights, load_network
from enhance_lib.run.tiling import Predictor, enhance_array
from enhance_lib.sun.disk import DiskGeometry, disk_header
from enhance_lib.sun.limb_darkening import NECKEL_LABS_6173
from enhance_lib.sun.normalization import make_normalizer
from enhance_lib.training.synthetic_sun import limb_disk

n, geometry = 256, DiskGeometry(127.3, 128.1, 112.6)
rng = np.random.default_rng(0)
texture = 1 + 0.03 * rng.standard_normal((n, n))
disk = limb_disk((n, n), geometry, profile=lambda mu: 5e4 * np.polynomial.polynomial.polyval(mu, NECKEL_LABS_6173),
                 texture=texture)
header = disk_header(geometry, pixel_scale=8.0)  # where the disk is, as a full-disk file's header says

net, config = load_network(default_weights("intensity"))
predictor = Predictor(net, config)
normalizer = make_normalizer(disk, header, kind="intensity")
before = enhance_array(disk, predictor, normalizer, limb=False)
after = enhance_array(disk, predictor, normalizer)
print("negative output pixels: before", int(np.sum(before < 0)), "after", int(np.sum(after < 0)))

# %%
# A section along the row through the centre, across the right-hand limb.
row = round(geometry.y0)
x_in = np.arange(n)
x_out = (np.arange(2 * n) - 0.5) / 2
fig, ax = plt.subplots(figsize=(9, 4.5), constrained_layout=True)
ax.step(x_in, disk[row] / 5e4, where="mid", color="k", label="input")
ax.step(x_out, before[2 * row] / 5e4, where="mid", color="tab:red", label="Enhance, limb as it is")
ax.step(x_out, after[2 * row] / 5e4, where="mid", color="tab:blue", label="Enhance, limb treated")
ax.axvline(geometry.x0 + geometry.radius, color="gray", ls=":", label="limb")
ax.set_xlim(geometry.x0 + geometry.radius - 12, geometry.x0 + geometry.radius + 3)
ax.set_xlabel("input pixel")
ax.set_ylabel("I / I(disk centre)")
ax.legend()
plt.show()
