#!/usr/bin/env python
"""README figure: the real HMI samples, enhanced by ours and by the published networks.

    python samples/make_figure.py [-o samples/enhance_samples.png]

For each real sample (``samples/hmi.fits``, ``samples/blos.fits``: SDO/HMI crops) it
shows the input, our enhancement (the shipped ``network/*.weights.h5``), the published
Enhance networks' output (``samples/*_published.fits``), bicubic x2 interpolation, and
the azimuthally averaged power spectra of all four against spatial frequency (the x2
images reach twice as far, to their Nyquist frequency 1/(2 x 0.252") ~ 2 cycles/arcsec).
Needs only ``samples/`` and ``network/``.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

ROWS = (("intensity", "hmi", "I / I_qs"), ("blos", "blos", "G"))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("-o", "--out", default=str(REPO / "samples" / "enhance_samples.png"))
    args = p.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from astropy.io import fits

    import enhance_lib
    from enhance_lib.evaluation import bicubic_x2, radial_power_spectrum

    fig, axes = plt.subplots(2, 5, figsize=(21, 8.2), constrained_layout=True,
                             gridspec_kw={"width_ratios": [1, 1, 1, 1, 1.5]})
    for row, (kind, name, unit) in enumerate(ROWS):
        path = REPO / "samples" / f"{name}.fits"
        header = fits.getheader(path)
        image = fits.getdata(path).astype(np.float32)
        scale = float(header.get("CDELT1", 0.504))
        ours = enhance_lib.enhance(image, kind=kind, header=header)
        published = fits.getdata(REPO / "samples" / f"{name}_published.fits").astype(np.float32)
        bicubic = bicubic_x2(image)
        if kind == "blos":
            vmax = np.percentile(np.abs(image), 99.5)
            vmin, cmap = -vmax, "RdBu_r"
        else:
            (vmin, vmax), cmap = np.percentile(image, [0.5, 99.5]), "gray"
        ny, nx = image.shape
        extent = [0, nx * scale, 0, ny * scale]
        panels = (
            (image, f'SDO/HMI input ({scale:.3f}"/px)'),
            (ours, f'Enhance x2, ours ({scale / 2:.3f}"/px)'),
            (published, "Enhance x2, published"),
            (bicubic, "bicubic x2"),
        )
        for ax, (img, title) in zip(axes[row, :4], panels, strict=True):
            im = ax.imshow(img, origin="lower", cmap=cmap, vmin=vmin, vmax=vmax, extent=extent,
                           interpolation="nearest")
            ax.set_title(f"{kind}: {title}", fontsize=10)
            ax.set_xlabel("arcsec")
        fig.colorbar(im, ax=axes[row, :4], shrink=0.8, label=unit)
        ax = axes[row, 4]
        for img, s, label in ((image, scale, "HMI input"), (bicubic, scale / 2, "bicubic x2"),
                              (published, scale / 2, "published x2"), (ours, scale / 2, "ours x2")):
            k, power = radial_power_spectrum(img, pixel_scale=s)
            ax.loglog(k[1:], power[1:], label=label)
        ax.axvline(1 / (2 * scale), color="gray", ls=":", lw=1)
        ax.set_xlabel("spatial frequency (1/arcsec)")
        ax.set_ylabel("power")
        ax.set_title(f"{kind}: azimuthally averaged power spectrum", fontsize=10)
        ax.legend(fontsize=9)
    fig.suptitle("Real SDO/HMI samples (200 x 140 crops); the published output's last ~26 columns used "
                 "input pixels the crop lacks", fontsize=10)
    fig.savefig(args.out, dpi=72)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
