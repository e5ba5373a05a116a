"""
From Python: arrays, HDUs and a reusable enhancer
=================================================

:func:`enhance_lib.enhance` takes a numpy array (and, optionally, its header) and returns
the x2 array in the input's units; :class:`enhance_lib.Enhancer` builds the network once
for many arrays; :func:`enhance_lib.enhance_hdu` keeps the header right for the x2 grid.
"""

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from astropy.io import fits

import enhance_lib

SAMPLES = Path(enhance_lib.__file__).resolve().parent.parent / "samples"

# %%
# An array and its header: the header's ``CONTENT`` says it is a magnetogram.
data, header = fits.getdata(SAMPLES / "blos.fits"), fits.getheader(SAMPLES / "blos.fits")
out = enhance_lib.enhance(data, header=header)
print(data.shape, "->", out.shape, "; net flux", f"{data.mean():.2f} G ->", f"{out.mean():.2f} G")

# %%
# The network built once, for any number of arrays (here the two halves of the sample):
# each half's output equals the whole image's output away from the cut, as the network
# sees 13 pixels around each pixel.
enhancer = enhance_lib.Enhancer(kind="blos")
top, bottom = enhancer.enhance(data[:100]), enhancer.enhance(data[100:])
print("top half away from the cut equals the whole:", np.allclose(top[:170], out[:170], atol=1e-3))

# %%
# An HDU in, an HDU out: the pixel scale halves, the HISTORY says what was done.
with fits.open(SAMPLES / "blos.fits") as hdul:
    hdu = enhance_lib.enhance_hdu(hdul[0])
print(hdul[0].header["CDELT1"], "->", hdu.header["CDELT1"], "arcsec/px")
print("\n".join(str(line) for line in hdu.header["HISTORY"][-7:]))

# %%
# The sunspot's penumbra, before and after.
region = (slice(60, 110), slice(40, 100))
fig, axes = plt.subplots(1, 2, figsize=(10, 4.5), constrained_layout=True)
limit = np.percentile(np.abs(data), 99.5)
axes[0].imshow(data[region], origin="lower", cmap="RdBu_r", vmin=-limit, vmax=limit)
axes[0].set_title("HMI blos (0.504\"/px)")
up = (slice(2 * region[0].start, 2 * region[0].stop), slice(2 * region[1].start, 2 * region[1].stop))
image = axes[1].imshow(out[up], origin="lower", cmap="RdBu_r", vmin=-limit, vmax=limit)
axes[1].set_title("Enhance x2 (0.252\"/px)")
fig.colorbar(image, ax=axes, label="G")
plt.show()
