#!/usr/bin/env python
"""Are the uncertainty maps calibrated? Measured on held-out synthetic scenes (issue #22).

    python benchmarks/uncertainty.py --calibrate   # fit UNCERT's factors on seeds 2000-2009, record them
    python benchmarks/uncertainty.py               # judge on seeds 3000-3009 (never calibrated on), ~10 min
    python benchmarks/uncertainty.py --render benchmarks/results/uncertainty.json

Each scene of :func:`enhance_lib.training.scenes.truth_scene` (the truth benchmark's forward model,
target and HMI-like noise) is enhanced by the shipped network with ``uncertainty=True``
(:mod:`enhance_lib.run.uncertainty`) and its error against the 28 cm target, ``output - target``,
compared with the maps, away from a border of ``BORDER`` input pixels:

* **calibration** (``--calibrate``, seeds 2000-2009, for the faithful output and for
  ``conserve_flux``): the factors ``a``, ``b`` of ``UNCERT = hypot(a UNCNOISE, b UNCMODEL)`` that
  maximise the Gaussian likelihood of the errors; recorded in the error network's weights
  (``CALIBRATION_ATTR``);
* **judged** (seeds 3000-3009, used for neither training the error network, 1000-1059, nor the
  calibration): the share of pixels with ``|error| <= UNCERT`` (goal 68 +- 6 %) and
  ``<= 2 UNCERT`` (goal 95 +- 3 %); in ten bins of UNCERT (deciles), the RMS error over the RMS of
  UNCERT (goal 0.8-1.25 in every bin); the skill, the top bin's RMS error over the bottom bin's
  (goal >= 1.6 intensity, >= 5 blos); the coverage per region (quiet Sun, plage, penumbra,
  umbra); the reliability diagram (``uncertainty_reliability.png``);
* ``UNCNOISE`` (8 draws, the default) against a direct Monte-Carlo with 128 draws on one scene;
  ``ENHNOISE`` against the noise the scenes were given;
* the cost of ``--uncertainty`` against a plain run (same process) on a 1024^2 image and a full
  disk (``--cost``; 2048^2 by default, ``--disk 4096`` for HMI's own);
* on the real crops (``samples/``), the share of pixels where the published network's output
  lies within 2 UNCERT of ours.

Writes ``benchmarks/results/uncertainty.{json,md}`` and the figure.
"""

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.predict import cpu_model
from benchmarks.report import write_results

CALIBRATION_SEEDS = tuple(range(2000, 2010))
JUDGED_SEEDS = tuple(range(3000, 3010))
#: Input pixels left out at each edge (the truth benchmark's: the network's reach and the PSF's).
BORDER = 21
REGION_NAMES = ("quiet", "plage", "penumbra", "umbra")
GOALS = {"coverage_1": (62, 74), "coverage_2": (92, 98), "bin_ratio": (0.8, 1.25),
         "skill": {"intensity": 1.6, "blos": 5.0}}


def enhancer(kind, *, conserve_flux=False, draws=8):
    from enhance_lib import Enhancer

    return Enhancer(kind=kind, uncertainty=True, conserve_flux=conserve_flux, draws=draws)


def scene_maps(e, scene):
    """(error, UNCNOISE, UNCMODEL, UNCERT, regions, ENHNOISE) of one scene, inside the border."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # domain warnings: judged elsewhere
        enhanced = e.enhance(np.asarray(scene.data), scene.header)
    b = 2 * BORDER
    inside = (slice(b, -b), slice(b, -b))
    error = (enhanced.data - scene.target)[inside]
    return (error, enhanced.uncertainty_noise[inside], enhanced.uncertainty_model[inside],
            enhanced.uncertainty[inside], np.asarray(scene.regions)[inside], enhanced.input_noise[0])


def fit_calibration(errors, noise, model):
    """The factors (a, b) maximising the Gaussian likelihood of ``errors`` with
    ``sigma^2 = (a noise)^2 + (b model)^2``."""
    from scipy.optimize import minimize

    e2, n2, m2 = (np.concatenate([np.ravel(a) ** 2 for a in arrays]) for arrays in (errors, noise, model))
    keep = np.isfinite(e2) & np.isfinite(n2) & np.isfinite(m2)
    e2, n2, m2 = e2[keep], n2[keep], m2[keep]

    def nll(p):
        s2 = np.exp(2 * p[0]) * n2 + np.exp(2 * p[1]) * m2 + 1e-30
        return float(np.mean(np.log(s2) + e2 / s2))

    best = minimize(nll, x0=[0.0, 0.0], method="Nelder-Mead", options={"xatol": 1e-4, "fatol": 1e-8})
    return float(np.exp(best.x[0])), float(np.exp(best.x[1]))


def calibrate(args):
    from enhance_lib.nets.weights import default_weights, inspect_weights, stamp_attrs
    from enhance_lib.run.uncertainty import CALIBRATION_ATTR
    from enhance_lib.training.scenes import truth_scene

    results = {}
    for kind in args.kinds:
        path = default_weights(kind, product="error")
        stored = dict(inspect_weights(path).attrs.get(CALIBRATION_ATTR) or {})
        for mode, flux in (("faithful", False), ("conserve_flux", True)):
            e = enhancer(kind, conserve_flux=flux)
            maps = [scene_maps(e, truth_scene(kind, seed=s, size=args.size)) for s in args.calibration_seeds]
            a, b = fit_calibration(*([m[k] for m in maps] for k in range(3)))
            seeds = f"{args.calibration_seeds[0]}-{args.calibration_seeds[-1]}"
            stored[mode] = {"noise": round(a, 4), "model": round(b, 4),
                            "measured_on": f"Gaussian likelihood on synthetic scenes, seeds {seeds} "
                                           "(benchmarks/uncertainty.py --calibrate)"}
            results[f"{kind} {mode}"] = stored[mode]
            print(f"{kind} {mode}: noise x{a:.3f}, model x{b:.3f}", flush=True)
        stamp_attrs(path, {CALIBRATION_ATTR: stored})
    return results


def judge(kind, maps):
    """The calibration figures of one kind over the judged scenes."""
    error = np.concatenate([m[0].ravel() for m in maps])
    sigma = np.concatenate([m[3].ravel() for m in maps])
    regions = np.concatenate([m[4].ravel() for m in maps])
    keep = np.isfinite(error) & np.isfinite(sigma) & (sigma > 0)
    error, sigma, regions = error[keep], sigma[keep], regions[keep]
    edges = np.quantile(sigma, np.linspace(0, 1, 11))
    index = np.clip(np.searchsorted(edges, sigma, side="right") - 1, 0, 9)
    bins = []
    for k in range(10):
        e, s = error[index == k], sigma[index == k]
        bins.append({"rms_sigma": float(np.sqrt(np.mean(s**2))), "rms_error": float(np.sqrt(np.mean(e**2))),
                     "ratio": float(np.sqrt(np.mean(e**2)) / np.sqrt(np.mean(s**2))),
                     "coverage_1": float(100 * np.mean(np.abs(e) <= s))})
    by_region = {}
    for name, label in zip(REGION_NAMES, range(4), strict=True):
        inside = regions == label
        if inside.sum() > 50:
            by_region[name] = {"pixels": int(inside.sum()),
                               "coverage_1": float(100 * np.mean(np.abs(error[inside]) <= sigma[inside])),
                               "coverage_2": float(100 * np.mean(np.abs(error[inside]) <= 2 * sigma[inside]))}
    from scipy.stats import spearmanr

    return {
        "coverage_1": float(100 * np.mean(np.abs(error) <= sigma)),
        "coverage_2": float(100 * np.mean(np.abs(error) <= 2 * sigma)),
        "bins": bins,
        "skill": bins[-1]["rms_error"] / bins[0]["rms_error"],
        "spearman": float(spearmanr(sigma, np.abs(error)).statistic),
        "regions": by_region,
        "pixels": int(error.size),
    }


def noise_check(kind, scene, e, draws=128):
    """UNCNOISE with the default draws against a direct Monte-Carlo with ``draws`` (unsmoothed)."""
    from enhance_lib.run.tiling import enhance_array

    prepared = e.prepare_data(np.asarray(scene.data), scene.header)
    network = e.network(kind)
    plane, normalizer = prepared.planes[0], prepared.normalizers[0]
    rng = np.random.default_rng(7)
    outputs = np.stack([enhance_array(plane + rng.normal(0, scene.sigma, plane.shape).astype(np.float32),
                                      network.predictor, normalizer) for _ in range(draws)])
    direct = outputs.std(axis=0, ddof=1)
    from enhance_lib.run.uncertainty import noise_map

    ours = noise_map(plane, network.predictor, normalizer, sigma=scene.sigma, draws=e.options.draws)
    from enhance_lib.run.uncertainty import _smooth_variance

    b = 2 * BORDER
    ratio = (ours / direct)[b:-b, b:-b].ravel()
    smoothed = (ours / np.sqrt(_smooth_variance(direct.astype(np.float64) ** 2)))[b:-b, b:-b].ravel()
    return {"draws": e.options.draws, "direct_draws": draws, "median_ratio": float(np.median(ratio)),
            "p10": float(np.percentile(ratio, 10)), "p90": float(np.percentile(ratio, 90)),
            "within_15": float(100 * np.mean(np.abs(ratio - 1) <= 0.15)),
            "within_15_smoothed": float(100 * np.mean(np.abs(smoothed - 1) <= 0.15)),
            "mean_ratio": float(np.mean(ours[b:-b, b:-b]) / np.mean(direct[b:-b, b:-b]))}


def cost(kind, image, header):
    """Seconds of a plain run and of one with the uncertainty, same process."""
    from enhance_lib import Enhancer

    plain, full = Enhancer(kind=kind), enhancer(kind)
    prepared = plain.prepare_data(image, header)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain.run(prepared)  # warm-up
        t = time.perf_counter()
        plain.run(prepared)
        plain_s = time.perf_counter() - t
        full.run(full.prepare_data(image, header))  # warm-up of the error network
        t = time.perf_counter()
        full.run(full.prepare_data(image, header))
        full_s = time.perf_counter() - t
    return {"plain_s": plain_s, "uncertainty_s": full_s, "ratio": full_s / plain_s}


def published_check(kind):
    """The share of the real crop's pixels where the published output lies within 2 UNCERT of ours."""
    from astropy.io import fits

    name = {"intensity": "hmi", "blos": "blos"}[kind]
    data = fits.getdata(REPO / "samples" / f"{name}.fits").astype(np.float32)
    header = fits.getheader(REPO / "samples" / f"{name}.fits")
    published = fits.getdata(REPO / "samples" / f"{name}_published.fits").astype(np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        enhanced = enhancer(kind).enhance(data, header)
    b = 26  # output pixels: the network's reach on the crop's edges (and the published crop's cut edge)
    inside = (slice(b, -b), slice(b, -b))
    diff = np.abs(published - enhanced.data)[inside]
    sigma = enhanced.uncertainty[inside]
    return {"within_1": float(100 * np.mean(diff <= sigma)), "within_2": float(100 * np.mean(diff <= 2 * sigma)),
            "median_uncert": float(np.median(sigma)), "rms_difference": float(np.sqrt(np.mean(diff**2)))}


def run(args):
    from enhance_lib.training.scenes import full_disk, truth_scene

    results = {"cpu": cpu_model(), "goals": GOALS, "seeds": list(args.seeds), "kinds": {}}
    for kind in args.kinds:
        start = time.perf_counter()
        e = enhancer(kind)
        scenes = [truth_scene(kind, seed=s, size=args.size) for s in args.seeds]
        maps = [scene_maps(e, scene) for scene in scenes]
        r = judge(kind, maps)
        r["enhnoise"] = [{"seed": s.seed, "estimated": m[5], "true": s.sigma, "ratio": m[5] / s.sigma}
                         for s, m in zip(scenes, maps, strict=True)]
        r["noise_check"] = noise_check(kind, scenes[0], e)
        r["published"] = published_check(kind)
        r["calibration"] = {"noise": e.network(kind).calibration.noise, "model": e.network(kind).calibration.model,
                            "measured_on": e.network(kind).calibration.measured_on}
        if args.cost and kind == args.kinds[0]:  # one network's cost is the other's: the same architecture
            big = scenes[0]
            image = np.pad(np.asarray(big.data), [(0, max(0, 1024 - n)) for n in big.data.shape], mode="symmetric")
            r["cost"] = {"1024^2": cost(kind, image[:1024, :1024], big.header)}
            disk, disk_header = full_disk(big, size=args.disk)
            r["cost"][f"{args.disk}^2 full disk"] = cost(kind, disk, disk_header)
        r["seconds"] = time.perf_counter() - start
        results["kinds"][kind] = r
        print(f"{kind}: coverage {r['coverage_1']:.1f} / {r['coverage_2']:.1f} %, skill {r['skill']:.2f}",
              flush=True)
    return results


def render(results):
    lines = [f"CPU: {results['cpu']}", "",
             f"Judged on synthetic scenes, seeds {results['seeds'][0]}-{results['seeds'][-1]} (never used for the "
             "error network's training or the calibration); error = output - 28 cm target; UNCERT calibrated.", ""]
    for kind, r in results["kinds"].items():
        skill_goal = results["goals"]["skill"][kind]
        c = r["calibration"]
        lines += [f"### {kind}", "",
                  f"Calibration: UNCERT = hypot({c['noise']:.3g} UNCNOISE, {c['model']:.3g} UNCMODEL) "
                  f"({c['measured_on']}).", "",
                  "| figure | value | goal |", "|---|---|---|",
                  f"| pixels with abs(error) <= UNCERT | {r['coverage_1']:.1f} % | 68 +- 6 % |",
                  f"| pixels with abs(error) <= 2 UNCERT | {r['coverage_2']:.1f} % | 95 +- 3 % |",
                  f"| skill: RMS error, top decile of UNCERT / bottom | {r['skill']:.2f} | >= {skill_goal:g} |",
                  f"| Spearman rank correlation of UNCERT with abs(error) | {r['spearman']:.3f} | |",
                  "", "| UNCERT decile | RMS UNCERT | RMS error | ratio (goal 0.8-1.25) | coverage 1 sigma |",
                  "|---|---|---|---|---|"]
        for k, b in enumerate(r["bins"], 1):
            lines.append(f"| {k} | {b['rms_sigma']:.4g} | {b['rms_error']:.4g} | {b['ratio']:.2f} | "
                         f"{b['coverage_1']:.1f} % |")
        lines += ["", "| region | pixels | coverage 1 sigma | coverage 2 sigma |", "|---|---|---|---|"]
        for name, g in r["regions"].items():
            lines.append(f"| {name} | {g['pixels']} | {g['coverage_1']:.1f} % | {g['coverage_2']:.1f} % |")
        n = r["noise_check"]
        ratios = [x["ratio"] for x in r["enhnoise"]]
        p = r["published"]
        lines += ["",
                  f"UNCNOISE ({n['draws']} draws, variance averaged over 5x5 px) / direct Monte-Carlo "
                  f"({n['direct_draws']} draws, per pixel): median {n['median_ratio']:.3f} (10-90 %: "
                  f"{n['p10']:.2f}-{n['p90']:.2f}; {n['within_15']:.0f} % of pixels within 15 %, "
                  f"{n['within_15_smoothed']:.0f} % against the direct one averaged as UNCNOISE is); mean over the "
                  f"scene {n['mean_ratio']:.3f}.",
                  f"ENHNOISE / the scenes' true noise: {min(ratios):.3f}-{max(ratios):.3f}.",
                  f"Real crop: the published network's output within 1 / 2 UNCERT of ours at {p['within_1']:.1f} / "
                  f"{p['within_2']:.1f} % of pixels (median UNCERT {p['median_uncert']:.4g}, RMS difference "
                  f"{p['rms_difference']:.4g})."]
        for label, cst in (r.get("cost") or {}).items():
            lines.append(f"Cost on {label}: {cst['uncertainty_s']:.1f} s with --uncertainty against "
                         f"{cst['plain_s']:.1f} s plain ({cst['ratio']:.1f}x, same process).")
        lines.append("")
    return "\n".join(lines)


def figure(results, path):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5 * len(results["kinds"]), 4.5), layout="constrained")
    axes = fig.subplots(1, len(results["kinds"]), squeeze=False)[0]
    for ax, (kind, r) in zip(axes, results["kinds"].items(), strict=True):
        s = [b["rms_sigma"] for b in r["bins"]]
        e = [b["rms_error"] for b in r["bins"]]
        top = max(max(s), max(e)) * 1.1
        ax.fill_between([0, top], [0, 0.8 * top], [0, 1.25 * top], color="0.9", label="goal (0.8-1.25)")
        ax.plot([0, top], [0, top], "k--", lw=1, label="calibrated")
        ax.plot(s, e, "o-", color="tab:red", label="deciles of UNCERT")
        ax.set_xlim(0, top)
        ax.set_ylim(0, top)
        unit = "I/I_qs" if kind == "intensity" else "G"
        ax.set_xlabel(f"RMS UNCERT ({unit})")
        ax.set_ylabel(f"RMS error against the truth ({unit})")
        ax.set_title(f"{kind}: reliability (skill {r['skill']:.2f})")
        ax.legend(fontsize=8)
    fig.savefig(path, dpi=100)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--kinds", nargs="+", default=["intensity", "blos"])
    p.add_argument("--seeds", type=int, nargs="+", default=list(JUDGED_SEEDS))
    p.add_argument("--calibration-seeds", type=int, nargs="+", default=list(CALIBRATION_SEEDS))
    p.add_argument("--size", type=int, default=1280, help="truth pixels of each scene (0.063\"/px)")
    p.add_argument("--calibrate", action="store_true", help="fit and record the calibration (not judged)")
    p.add_argument("--cost", action="store_true", help="also time --uncertainty against plain runs")
    p.add_argument("--disk", type=int, default=2048, help="full-disk size for --cost (the ratio hardly depends on it)")
    p.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    p.add_argument("--render", metavar="JSON", help="only print the tables of saved results")
    args = p.parse_args(argv)
    if args.render:
        print(render(json.loads(Path(args.render).read_text())))
        return 0
    if args.calibrate:
        if set(args.calibration_seeds) & set(args.seeds):
            p.error("calibration seeds must not be judged seeds")
        print(json.dumps(calibrate(args), indent=1))
        return 0
    if set(args.calibration_seeds) & set(args.seeds):
        p.error("judged seeds must not be calibration seeds")
    results = run(args)
    text = render(results)
    out = Path(args.out)
    write_results("uncertainty", results, text, folder=out)
    figure(results, out / "uncertainty_reliability.png")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
