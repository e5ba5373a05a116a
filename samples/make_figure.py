#!/usr/bin/env python
"""README figure: the samples, their enhanced versions and azimuthally averaged power spectra.

    python samples/make_figure.py [-o samples/enhance_samples.png]

Enhances ``samples/hmi.fits`` and ``samples/blos.fits`` with the shipped networks
(``network/*.weights.h5``) and plots input, output and the power spectra of both
against spatial frequency (the output's reaches twice as far, to its Nyquist
frequency of 1/(2 x 0.252") ~ 2 cycles/arcsec).
"""

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("-o", "--out", default=str(REPO / "samples" / "enhance_samples.png"))
    args = p.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from astropy.io import fits

    from enhance_lib.cli import default_weights
    from enhance_lib.evaluation import bicubic_x2, radial_power_spectrum
    from enhance_lib.normalize import make_normalizer
    from enhance_lib.predict import Predictor, enhance_array
    from enhance_lib.weights import load_network

    fig, axes = plt.subplots(2, 3, figsize=(15, 9.5), constrained_layout=True)
    for row, (kind, name, unit) in enumerate((("intensity", "hmi.fits", "I / I_qs"), ("blos", "blos.fits", "G"))):
        path = REPO / "samples" / name
        image = fits.getdata(path).astype(np.float32)
        scale = float(fits.getheader(path).get("CDELT1", 0.504))
        net, config = load_network(default_weights(kind))
        out = enhance_array(image, Predictor(net, config), make_normalizer(image, fits.getheader(path), kind=kind))
        if kind == "blos":
            vmax = np.percentile(np.abs(image), 99.5)
            vmin = -vmax
        else:
            vmin, vmax = np.percentile(image, [0.5, 99.5])
        ny, nx = image.shape
        extent = [0, nx * scale, 0, ny * scale]
        for ax, img, title in ((axes[row, 0], image, f"HMI-like input ({scale:.3f}\"/px)"), (axes[row, 1], out, f"Enhance x2 ({scale / 2:.3f}\"/px)")):
            im = ax.imshow(img, origin="lower", cmap="gray", vmin=vmin, vmax=vmax, extent=extent, interpolation="nearest")
            ax.set_title(f"{kind}: {title}")
            ax.set_xlabel("arcsec")
        fig.colorbar(im, ax=axes[row, :2], shrink=0.8, label=unit)
        ax = axes[row, 2]
        for img, s, label in ((image, scale, "input"), (bicubic_x2(image), scale / 2, "bicubic x2"), (out, scale / 2, "Enhance x2")):
            k, power = radial_power_spectrum(img, pixel_scale=s)
            ax.loglog(k[1:], power[1:], label=label)
        ax.axvline(1 / (2 * scale), color="gray", ls=":", lw=1)
        ax.set_xlabel("spatial frequency (1/arcsec)")
        ax.set_ylabel("power")
        ax.set_title(f"{kind}: azimuthally averaged power spectrum")
        ax.legend()
    fig.savefig(args.out, dpi=72)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
