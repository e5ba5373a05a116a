#!/usr/bin/env python
"""Accuracy of the noise estimator (``enhance_lib.sun.noise.estimate_noise``) on synthetic HMI images.

    python benchmarks/noise.py [--no-real-crop]

* synthetic scenes (``synthetic_sun`` at 0.063"/px through ``to_hmi``: 192 x 192 HMI pixels of
  quiet Sun, of a spot with pores, of plage with pores), and a 256 x 256 full disk of a spot
  scene (Neckel & Labs limb darkening for intensity, NaN off the limb); Gaussian noise of known
  sigma added (intensity: photon noise, sigma at I = 1; blos: white, constant); the ratio
  estimate / truth for each kernel, and the estimate on the noise-free image (the structure
  floor);
* white and correlated noise (white noise convolved with a Gaussian of 0.5, 0.7, 1 px, rescaled
  to its per-pixel sigma: ``correlated_noise``) at the levels of HMI's 45 s and 720 s series
  (blos: 10.2 G, Liu et al. 2012, Sol. Phys. 279, 295, and 6.3 G, the nominal noise of
  hmi.M_720s in JSOC's series description; intensity: 1e-3 I/I_qs, the published networks'
  training noise, and 6e-4, scaled from it by the magnetograms' 6.3/10.2) on each family of
  truth scenes (``SCENE_FAMILIES``; three seeds each), as ``ENHNOISE`` measures it (``'sixth'``,
  the correlation measured for blos): estimate / truth and the fitted width against the true;
  for intensity also with the correlation measured (not the default), to show why not;
* on the real HMI crops (``samples/hmi.fits``, ``samples/blos.fits``; true noise unknown): the
  estimate with each kernel, ``ENHNOISE`` and its width, and the amplitude of the power spectrum
  in bands of frequency, which shows whether their noise is white.

Results go to stdout and ``benchmarks/results/noise.{json,md}``. Accuracy only: no timings.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.report import write_results

SCALE = 0.063
SIGMAS = {"intensity": (0.001, 0.002, 0.003, 0.005, 0.01), "blos": (1.0, 2.0, 3.0, 10.0, 30.0)}
SCENES = {"quiet": {}, "spot": {"spots": 1, "pores": 3}, "plage": {"plage": 1, "pores": 3}}
KERNELS = ("immerkaer", "fourth", "sixth")
#: Per-pixel noise of HMI's 45 s and 720 s series (see the module's docstring).
LEVELS = {"intensity": (1e-3, 6e-4), "blos": (10.2, 6.3)}
WIDTHS = (0.0, 0.5, 0.7, 1.0)
SEEDS = (1, 2, 3)
#: The families of synthetic truth scenes: name -> function(kind, seed) returning the noise-free
#: HMI-like input (only :func:`enhance_lib.training.scenes.truth_scene`'s for now).
SCENE_FAMILIES = {"truth_scene": lambda kind, seed: truth_scene_clean(kind, seed)}
PUBLISHED = {"blos": "10.2 G for hmi.M_45s (Liu et al. 2012, Sol. Phys. 279, 295); 6.3 G nominal for hmi.M_720s "
                     "(JSOC's series description)",
             "intensity": "no per-pixel level found in the sources consulted; the published networks were "
                          "trained with 1e-3 I/I_qs (Diaz Baso & Asensio Ramos 2018)"}


def truth_scene_clean(kind, seed):
    from enhance_lib.training.scenes import truth_scene

    return np.asarray(truth_scene(kind, seed=seed, sigma=0.0).clean, dtype=np.float64)


def _correlated_rows(kind, clean_of, correlated=None):
    """For each level and width: min-max over the seeds of estimate/truth and of the fitted width."""
    from enhance_lib.sun.noise import correlated_noise, estimate_noise

    rows = {}
    for sigma in LEVELS[kind]:
        for width in WIDTHS:
            ratios, widths = [], []
            for seed in SEEDS:
                clean = clean_of(kind, seed)
                white = np.random.default_rng([seed, 28]).standard_normal(clean.shape)
                scale = np.sqrt(np.clip(clean, 0, None)) if kind == "intensity" else 1.0
                e = estimate_noise(clean + sigma * scale * correlated_noise(white, width), kind=kind, kernel="sixth",
                                   correlated=correlated)
                ratios.append(float(e.at(1.0) if kind == "intensity" else e.sigma) / sigma)
                widths.append(e.correlation)
            rows[f"{sigma:g} {width:g}"] = {"ratio": [min(ratios), max(ratios)], "width": [min(widths), max(widths)]}
    return rows
BANDS = {  # cycles/px, both axes unless said
    "0.3-0.4": lambda kx, ky: (kx > 0.3) & (kx < 0.4) & (ky > 0.3) & (ky < 0.4),
    "corner >0.4": lambda kx, ky: (kx > 0.4) & (ky > 0.4),
    "x>0.4, y<0.1": lambda kx, ky: (kx > 0.4) & (ky < 0.1),
}


def _ratios(clean, kind, kernel):
    """Floor and estimate/truth for each sigma (intensity: the estimate at I = 1)."""
    from enhance_lib.sun.noise import estimate_noise

    rng = np.random.default_rng(7)
    row = {"floor": estimate_noise(clean, kind=kind, kernel=kernel, correlated=False).sigma}
    for sigma in SIGMAS[kind]:
        scale = np.sqrt(np.clip(np.nan_to_num(clean), 0, None)) if kind == "intensity" else 1.0
        estimate = estimate_noise(clean + sigma * scale * rng.standard_normal(clean.shape), kind=kind, kernel=kernel,
                                  correlated=False)
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
    p.add_argument("--no-real-crop", action="store_true", help="only the synthetic numbers")
    args = p.parse_args(argv)

    from enhance_lib.instrument.forward_model import to_hmi
    from enhance_lib.sun.disk import DiskGeometry
    from enhance_lib.sun.limb_darkening import NECKEL_LABS_6173
    from enhance_lib.sun.noise import estimate_noise
    from enhance_lib.training.synthetic_sun import limb_disk, synthetic_sun

    result = {"synthetic": {}, "correlated": {}, "real_crop": {}}
    for family, clean_of in SCENE_FAMILIES.items():
        for kind in ("intensity", "blos"):
            result["correlated"][f"{family} {kind}"] = _correlated_rows(kind, clean_of)
        result["correlated"][f"{family} intensity, correlation measured"] = _correlated_rows(
            "intensity", clean_of, correlated=True)
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

        for kind, file in (("intensity", "samples/hmi.fits"), ("blos", "samples/blos.fits")):
            image = fits.getdata(REPO / file).astype(np.float64)
            enhnoise = estimate_noise(image, kind=kind, kernel="sixth")
            result["real_crop"][kind] = {
                "file": file,
                **{kernel: estimate_noise(image, kind=kind, kernel=kernel, correlated=False).sigma
                   for kernel in KERNELS},
                "ENHNOISE": enhnoise.sigma, "ENHNCORR": enhnoise.correlation, "method": enhnoise.method,
                "published": PUBLISHED[kind],
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
    lines += ["White and correlated noise (Gaussian width in px; 0: white) at HMI's 45 s and 720 s levels, as "
              f"ENHNOISE measures it (kernel 'sixth'): estimate / truth and fitted width, min-max over seeds {SEEDS}.",
              ""]
    for name, rows in result["correlated"].items():
        lines += [f"| {name}: level, width | estimate / truth | fitted width |", "|---|---|---|"]
        for key, row in rows.items():
            lines.append(f"| {key} | {row['ratio'][0]:.2f}-{row['ratio'][1]:.2f} | "
                         f"{row['width'][0]:.2f}-{row['width'][1]:.2f} |")
        lines.append("")
    for kind, r in result["real_crop"].items():
        bands = ", ".join(f"{k}: {v:.3g}" for k, v in r["band_amplitude"].items())
        lines.append(f"{r['file']} ({kind}): ENHNOISE {r['ENHNOISE']:.3g}, ENHNCORR {r['ENHNCORR']:.2f} px; "
                     "white readings " + ", ".join(f"{k} {r[k]:.3g}" for k in KERNELS)
                     + f"; published: {r['published']}; power-spectrum amplitude in bands (cycles/px) {bands}")
    text = "\n".join(lines)
    print(text)
    write_results("noise", result, text)


if __name__ == "__main__":
    main()
