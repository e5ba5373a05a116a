#!/usr/bin/env python
"""Are the families of synthetic Suns plausible at HMI's resolution? Each against the real samples.

    python benchmarks/families.py                  # seeds 1-4 of every family, ~1 min on 2 cores
    python benchmarks/families.py --seeds 1 2 --families basins

For each family of :data:`enhance_lib.training.suns.FAMILIES`, the truth scenes of
:func:`enhance_lib.training.scenes.truth_scene` (1280^2 truth pixels, 160^2 HMI pixels) in
the default instrument state (Enhance's PSF, 1e-3 I/I_qs, 10 G, white), and measures on the
HMI-like input:

* the rms granulation contrast of the quiet Sun (the noise-free input where the whole
  2x2 of target pixels is labelled quiet), HMI's observed 3.5-4 % the goal; and the same
  through a drawn instrument state's PSF (:func:`enhance_lib.instrument.states.draw_state`,
  seed = the scene's), to show what the PSF's spread does;
* the azimuthally averaged power spectrum of the intensity input (with noise) against
  that of the real ``samples/hmi.fits``, as a ratio at 0.1, 0.2, 0.4, 0.6 and 0.8
  cycles/arcsec (each image normalised by its mean first);
* the mean umbral and penumbral levels of the input (I/I_qs, on the region map);
* percentiles (50, 90, 99, 99.9) of abs(B) of the magnetogram input against those of
  ``samples/blos.fits`` (an active region: more plage than these scenes hold);
* the time to draw one truth.

Writes ``benchmarks/results/families.{json,md}`` and ``families.png`` (each family's
HMI-like intensity and magnetogram beside the real crops).
"""

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.predict import cpu_model
from benchmarks.report import write_results

FREQUENCIES = (0.1, 0.2, 0.4, 0.6, 0.8)
PERCENTILES = (50, 90, 99, 99.9)


def power_at(k, power, frequencies, width=0.05):
    """Mean power in +-width around each frequency."""
    return [float(power[np.abs(k - f) <= width].mean()) for f in frequencies]


def quiet_input(scene):
    """The input pixels whose 2x2 target pixels are all quiet Sun."""
    ny, nx = scene.clean.shape
    return scene.mask("quiet")[: 2 * ny, : 2 * nx].reshape(ny, 2, nx, 2).all(axis=(1, 3))


def real_numbers():
    from astropy.io import fits

    from enhance_lib.training.evaluation import radial_power_spectrum

    hmi = fits.getdata(REPO / "samples" / "hmi.fits").astype(np.float64)
    blos = fits.getdata(REPO / "samples" / "blos.fits").astype(np.float64)
    k, p = radial_power_spectrum(hmi / hmi.mean(), pixel_scale=0.504)
    return {"power": power_at(k, p, FREQUENCIES), "abs_b_percentiles": np.percentile(np.abs(blos), PERCENTILES).tolist(),
            "min_intensity": float(hmi.min())}


def measure(family, seed, size):
    from enhance_lib.instrument.forward_model import to_hmi
    from enhance_lib.instrument.states import draw_state
    from enhance_lib.training import scenes
    from enhance_lib.training.evaluation import radial_power_spectrum
    from enhance_lib.training.suns import FAMILIES

    t0 = time.perf_counter()
    FAMILIES[family](seed, size=size, pixel_scale=scenes.SCENE_SCALE)
    seconds = time.perf_counter() - t0
    intensity = scenes.truth_scene("intensity", seed=seed, family=family, size=size)
    blos = scenes.truth_scene("blos", seed=seed, family=family, size=size)
    quiet = quiet_input(intensity)
    clean = np.asarray(intensity.clean, dtype=np.float64)
    state = draw_state(seed)
    other = to_hmi(intensity.truth, pixel_scale=intensity.pixel_scale, params=state.psf_params)
    k, p = radial_power_spectrum(intensity.data / intensity.data.mean(), pixel_scale=0.504)
    ny, nx = clean.shape

    def level(name):
        mask = intensity.mask(name)[: 2 * ny, : 2 * nx].reshape(ny, 2, nx, 2).all(axis=(1, 3))
        return float(clean[mask].mean()) if mask.any() else None

    return {"seed": seed, "seconds": round(seconds, 2),
            "contrast_quiet": float(clean[quiet].std() / clean[quiet].mean()),
            "contrast_quiet_drawn_psf": float(other[quiet].std() / other[quiet].mean()),
            "drawn_psf": state.psf_params, "umbra": level("umbra"), "penumbra": level("penumbra"),
            "power": power_at(k, p, FREQUENCIES),
            "abs_b_percentiles": np.percentile(np.abs(blos.data), PERCENTILES).tolist(),
            "region_fraction": {n: float(intensity.mask(n).mean()) for n in ("quiet", "plage", "penumbra", "umbra")}}


def summary(rows, real):
    def stat(key):
        values = [r[key] for r in rows if r[key] is not None]
        return {"mean": float(np.mean(values)), "min": float(np.min(values)), "max": float(np.max(values))}

    power = np.mean([r["power"] for r in rows], axis=0)
    return {"contrast_quiet": stat("contrast_quiet"), "contrast_quiet_drawn_psf": stat("contrast_quiet_drawn_psf"),
            "umbra": stat("umbra"), "penumbra": stat("penumbra"), "seconds": stat("seconds"),
            "power_vs_real": (power / np.asarray(real["power"])).tolist(),
            "abs_b_percentiles": np.mean([r["abs_b_percentiles"] for r in rows], axis=0).tolist()}


def render(results):
    real = results["real"]
    lines = [f"CPU: {results['cpu']}", "",
             f"Truth scenes of each family (seeds {', '.join(map(str, results['seeds']))}, {results['size']}^2 truth "
             f"pixels, {results['size'] // 8}^2 HMI pixels), default instrument state; means (min-max) over the seeds.",
             "", "| family | quiet contrast (%) | with a drawn PSF (%) | umbra (I/I_qs) | penumbra (I/I_qs) | "
             + " | ".join(f"P({f:g}) / real" for f in FREQUENCIES) + " | "
             + " | ".join(f"abs(B) p{p:g} (G)" for p in PERCENTILES) + " | s per truth |",
             "|" + "---|" * (6 + len(FREQUENCIES) + len(PERCENTILES))]
    for family, block in results["families"].items():
        s = block["summary"]

        def rng(key, scale=1.0, spec=".2f", s=s):
            v = s[key]
            return f"{scale * v['mean']:{spec}} ({scale * v['min']:{spec}}-{scale * v['max']:{spec}})"

        lines.append(f"| {family} | {rng('contrast_quiet', 100)} | {rng('contrast_quiet_drawn_psf', 100)} | "
                     f"{rng('umbra')} | {rng('penumbra')} | "
                     + " | ".join(f"{v:.2f}" for v in s["power_vs_real"]) + " | "
                     + " | ".join(f"{v:.0f}" for v in s["abs_b_percentiles"]) + f" | {s['seconds']['mean']:.1f} |")
    lines.append("| real samples (hmi.fits, blos.fits) | - | - | - | - | " + " | ".join("1" for _ in FREQUENCIES) + " | "
                 + " | ".join(f"{v:.0f}" for v in real["abs_b_percentiles"]) + " | - |")
    lines += ["", "Power: the intensity input's azimuthally averaged spectrum (image over its mean, with noise) over "
              "the real crop's, at each frequency (cycles/arcsec). The real crop is an active region (a large spot and "
              "plage over a third of it), hence its higher abs(B) percentiles and power at low frequencies."]
    return "\n".join(lines)


def figure(results, path, size):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from astropy.io import fits

    from enhance_lib.training import scenes

    families = list(results["families"])
    seed = results["seeds"][0]
    fig, axes = plt.subplots(2, 1 + len(families), figsize=(4 * (1 + len(families)), 8.4), squeeze=False)
    panels = [("real (samples/)", fits.getdata(REPO / "samples" / "hmi.fits"), fits.getdata(REPO / "samples" / "blos.fits"))]
    panels += [(f"{f}, seed {seed}", scenes.truth_scene("intensity", seed=seed, family=f, size=size).data,
                scenes.truth_scene("blos", seed=seed, family=f, size=size).data) for f in families]
    for column, (title, intensity, blos) in enumerate(panels):
        axes[0, column].imshow(intensity, origin="lower", cmap="gray", vmin=0.2, vmax=1.15)
        axes[1, column].imshow(blos, origin="lower", cmap="RdBu_r", vmin=-1500, vmax=1500)
        axes[0, column].set_title(title, fontsize=10)
        for ax in axes[:, column]:
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0, 0].set_ylabel("intensity (0.2-1.15 I/I_qs)")
    axes[1, 0].set_ylabel("blos (+-1500 G)")
    fig.suptitle("HMI-like inputs of each family (0.504\"/px, default state) beside real HMI crops", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=80)


def main(argv=None):
    from enhance_lib.training.suns import FAMILIES

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4])
    p.add_argument("--families", nargs="+", choices=list(FAMILIES), default=list(FAMILIES))
    p.add_argument("--size", type=int, default=1280, help="truth pixels on a side (multiple of 8, >= 512)")
    p.add_argument("--name", default="families")
    p.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    args = p.parse_args(argv)
    real = real_numbers()
    results = {"cpu": f"{cpu_model()}, {os.cpu_count()} cores", "seeds": args.seeds, "size": args.size,
               "frequencies": list(FREQUENCIES), "percentiles": list(PERCENTILES), "real": real, "families": {}}
    for family in args.families:
        rows = []
        for seed in args.seeds:
            rows.append(measure(family, seed, args.size))
            print(f"{family} seed {seed}: quiet contrast {100 * rows[-1]['contrast_quiet']:.2f} %", flush=True)
        results["families"][family] = {"rows": rows, "summary": summary(rows, real)}
    text = render(results)
    write_results(args.name, results, text, folder=args.out)
    figure(results, Path(args.out) / f"{args.name}.png", args.size)
    print(text)


if __name__ == "__main__":
    main()
