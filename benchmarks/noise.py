#!/usr/bin/env python
"""Accuracy of the white-noise estimator (``enhance_lib.sun.noise.estimate_noise``) on synthetic HMI images.

    python benchmarks/noise.py [--data ../shared/data] [--no-real-crop]

* synthetic scenes (``synthetic_sun`` at 0.063"/px through ``to_hmi``: 192 x 192 HMI pixels of
  quiet Sun, of a spot with pores, of plage with pores), and a 256 x 256 full disk of a spot
  scene (Neckel & Labs limb darkening for intensity, NaN off the limb); Gaussian noise of known
  sigma added (intensity: photon noise, sigma at I = 1; blos: white, constant); the ratio
  estimate / truth for each kernel, and the estimate on the noise-free image (the structure
  floor);
* on the real HMI crops (true noise unknown): the estimate with each kernel, and the amplitude of
  the power spectrum in bands of frequency, which shows whether their noise is white.

Results go to stdout and ``benchmarks/results/noise.{json,md}``. Accuracy only: no timings.
"""

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.report import SHARED_DATA_HELP, require_files, write_results

SCALE = 0.063
SIGMAS = {"intensity": (0.001, 0.002, 0.003, 0.005, 0.01), "blos": (1.0, 2.0, 3.0, 10.0, 30.0)}
SCENES = {"quiet": {}, "spot": {"spots": 1, "pores": 3}, "plage": {"plage": 1, "pores": 3}}
KERNELS = ("immerkaer", "fourth", "sixth")
BANDS = {  # cycles/px, both axes unless said
    "0.3-0.4": lambda kx, ky: (kx > 0.3) & (kx < 0.4) & (ky > 0.3) & (ky < 0.4),
    "corner >0.4": lambda kx, ky: (kx > 0.4) & (ky > 0.4),
    "x>0.4, y<0.1": lambda kx, ky: (kx > 0.4) & (ky < 0.1),
}


def _ratios(clean, kind, kernel):
    """Floor and estimate/truth for each sigma (intensity: the estimate at I = 1)."""
    from enhance_lib.sun.noise import estimate_noise

    rng = np.random.default_rng(7)
    row = {"floor": estimate_noise(clean, kind=kind, kernel=kernel).sigma}
    for sigma in SIGMAS[kind]:
        scale = np.sqrt(np.clip(np.nan_to_num(clean), 0, None)) if kind == "intensity" else 1.0
        estimate = estimate_noise(clean + sigma * scale * rng.standard_normal(clean.shape), kind=kind, kernel=kernel)
        row[f"{sigma:g}"] = float(estimate.at(1.0) if kind == "intensity" else estimate.sigma) / sigma
    return row


def _band_amplitudes(image):
    """sqrt of the mean power (white noise of sigma gives sigma) in each of :data:`BANDS`."""
    d = image - image.mean()
    w = np.outer(np.hanning(d.shape[0]), np.hanning(d.shape[1]))
    power = np.abs(np.fft.fft2(d * w)) ** 2 / (w**2).sum()
    ky = np.abs(np.fft.fftfreq(d.shape[0]))[:, None]
    kx = np.abs(np.fft.fftfreq(d.shape[1]))[None, :]
    return {name: float(np.sqrt(power[band(kx, ky)].mean())) for name, band in BANDS.items()}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=os.environ.get("ENHANCE_TEST_DATA") or str(REPO.parent / "shared" / "data"))
    p.add_argument("--no-real-crop", action="store_true", help="only the synthetic numbers (no --data needed)")
    args = p.parse_args(argv)
    data = Path(args.data)
    if not args.no_real_crop:
        require_files("benchmarks/noise.py", [data / "hmi_sample_left.fits", data / "blos_sample_left.fits"],
                      hint=SHARED_DATA_HELP + " (or --no-real-crop for the synthetic numbers alone)")

    from enhance_lib.instrument.forward_model import to_hmi
    from enhance_lib.sun.disk import DiskGeometry
    from enhance_lib.sun.limb_darkening import NECKEL_LABS_6173
    from enhance_lib.sun.noise import estimate_noise
    from enhance_lib.training.synthetic_sun import limb_disk, synthetic_sun

    result = {"synthetic": {}, "real_crop": {}}
    for name, features in SCENES.items():
        scene = synthetic_sun(shape=(1536, 1536), pixel_scale=SCALE, seed=11, **features)
        for kind in ("intensity", "blos"):
            clean = to_hmi(getattr(scene, kind), pixel_scale=SCALE)
            for kernel in KERNELS:
                result["synthetic"][f"{kind} {name} {kernel}"] = _ratios(clean, kind, kernel)
    scene = synthetic_sun(shape=(2048, 2048), pixel_scale=SCALE, seed=12, spots=1, pores=3, plage=1)
    geometry = DiskGeometry(127.3, 128.6, 110.2)

    def law(mu):
        return np.polynomial.polynomial.polyval(mu, NECKEL_LABS_6173) / np.sum(NECKEL_LABS_6173)

    for kind in ("intensity", "blos"):
        hmi = to_hmi(getattr(scene, kind), pixel_scale=SCALE)
        disk = limb_disk(hmi.shape, geometry, profile=law if kind == "intensity" else None, texture=hmi)
        result["synthetic"][f"{kind} disk fourth"] = _ratios(disk.astype(np.float64), kind, "fourth")
    if not args.no_real_crop:
        from astropy.io import fits

        for kind, file in (("intensity", "hmi_sample_left.fits"), ("blos", "blos_sample_left.fits")):
            image = fits.getdata(data / file).astype(np.float64)
            result["real_crop"][kind] = {
                "file": file,
                **{kernel: estimate_noise(image, kind=kind, kernel=kernel).sigma for kernel in KERNELS},
                "band_amplitude": _band_amplitudes(image),
            }
    print(json.dumps(result, indent=1))
    lines = ["Estimate / true noise (intensity: photon noise, sigma at I = 1 in I/I_qs; blos: white, G); "
             "'floor': the estimate on the noise-free image.", ""]
    for kind in ("intensity", "blos"):
        header = ["kind scene kernel", "floor", *[f"{s:g}" for s in SIGMAS[kind]]]
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for key, row in result["synthetic"].items():
            if key.startswith(kind):
                lines.append(f"| {key} | {row['floor']:.3g} | "
                             + " | ".join(f"{row[f'{s:g}']:.3f}" for s in SIGMAS[kind]) + " |")
        lines.append("")
    for kind, r in result["real_crop"].items():
        bands = ", ".join(f"{k}: {v:.3g}" for k, v in r["band_amplitude"].items())
        lines.append(f"{r['file']} ({kind}): " + ", ".join(f"{k} {r[k]:.3g}" for k in KERNELS)
                     + f"; power-spectrum amplitude in bands (cycles/px) {bands}")
    text = "\n".join(lines)
    print(text)
    write_results("noise", result, text)


if __name__ == "__main__":
    main()
