#!/usr/bin/env python
"""Against the truth: the network, Richardson-Lucy and bicubic interpolation on synthetic scenes.

    python benchmarks/truth.py                          # seeds 1-4, both kinds, < 1 min on 2 cores
    python benchmarks/truth.py --seeds 1 2 --kinds blos
    python benchmarks/truth.py --calibrate              # RL iterations on the calibration seed 0
    python benchmarks/truth.py --render benchmarks/results/truth.json

Each scene of :func:`enhance_lib.training.scenes.truth_scene` (granulation with network,
a sunspot, three pores and a plage; input through the HMI PSF to 0.504"/px with HMI-like
noise, 1e-3 I/I_qs or 10 G) is enhanced to 0.252"/px by

* ``ours``: the shipped network through ``enhance_lib.Enhancer(kind=...).enhance(data,
  header)`` (the CLI's normalisation and tiling);
* ``ours+flux``: the same with ``conserve_flux=True``;
* ``bicubic``: :func:`enhance_lib.training.evaluation.bicubic_x2` of the input;
* ``RL``: Richardson-Lucy with the HMI PSF on the input's pixels, then bicubic x2
  (:func:`enhance_lib.training.deconvolution.hmi_deconvolve`: intensity directly, a
  magnetogram as the two positive images c +- B; iterations of ``HMI_ITERATIONS``,
  chosen on seed 0, which is not judged);

and compared with the 28 cm target of the same truth, away from a border of
``BORDER`` input pixels (the network's receptive margin, 13, plus the half width of the
HMI PSF at 0.504"/px, 8): the RMS error (all, and per region of the scene's region
map), the granulation contrast of the quiet Sun (intensity), the unsigned flux (blos)
and the azimuthally averaged power spectrum at 0.5, 1 and 1.5 cycles/arcsec, each
also as a ratio to the target's and to bicubic's. Writes
``benchmarks/results/truth.{json,md}`` and ``truth_spectra.png``.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.predict import cpu_model
from benchmarks.report import write_results

METHODS = ("ours", "ours+flux", "bicubic", "RL")
#: Input pixels left out on each side: the shipped networks' receptive margin (13) plus
#: the half width of the HMI PSF on HMI's pixels (8 = floor(4.4" / 0.504")).
BORDER = 21
#: Spatial frequencies (cycles/arcsec) at which the spectra are compared: the input's
#: Nyquist frequency is 0.99, the cut-offs of HMI's 14 cm and the target's 28 cm aperture
#: 1.1 and 2.2 (D/lambda).
FREQUENCIES = (0.5, 1.0, 1.5)
REGION_NAMES = ("quiet", "plage", "penumbra", "umbra")


def power_at(k, power, frequencies, width=0.1):
    """Mean power in +-width/2 around each frequency."""
    return [float(power[np.abs(k - f) <= width / 2].mean()) for f in frequencies]


def outputs(scene, enhancers):
    """The four x2 images of one scene."""
    from enhance_lib.training.deconvolution import hmi_deconvolve
    from enhance_lib.training.evaluation import bicubic_x2

    data = np.array(scene.data)
    return {
        "ours": enhancers["ours"].enhance(data, scene.header),
        "ours+flux": enhancers["ours+flux"].enhance(data, scene.header),
        "bicubic": bicubic_x2(data),
        "RL": bicubic_x2(hmi_deconvolve(data, kind=scene.kind)),
    }


def measure(scene, images):
    """Every figure for one scene: a dict per method, and the target's."""
    from enhance_lib.training import evaluation as ev

    m = 2 * BORDER
    inner = (slice(m, -m), slice(m, -m))
    target = scene.target[inner].astype(np.float64)
    regions = {name: scene.mask(name)[inner] for name in REGION_NAMES}
    scale = scene.target_scale
    k, p_target = ev.radial_power_spectrum(target, pixel_scale=scale)
    row = {"seed": scene.seed, "target": {"power": power_at(k, p_target, FREQUENCIES)},
           "region_fraction": {name: float(mask.mean()) for name, mask in regions.items()}}
    if scene.kind == "intensity":
        row["target"]["contrast_quiet"] = ev.contrast(target, regions["quiet"])
    else:
        row["target"]["unsigned_flux"] = ev.unsigned_flux(target)
    spectra = {"k": k.tolist(), "target": p_target.tolist()}
    for name, image in images.items():
        out = np.asarray(image, dtype=np.float64)[inner]
        err = out - target
        k_, p = ev.radial_power_spectrum(out, pixel_scale=scale)
        spectra[name] = p.tolist()
        r = {"rms": ev.rms(err), "bias": float(err.mean()), "rms_region": {n: ev.rms(err[mask]) if mask.any() else None
                                                for n, mask in regions.items()},
             "power": power_at(k_, p, FREQUENCIES)}
        if scene.kind == "intensity":
            r["contrast_quiet"] = ev.contrast(out, regions["quiet"])
        else:
            r["unsigned_flux"] = ev.unsigned_flux(out)
        row[name] = r
    # ratios to the target's and to bicubic's
    base = row["bicubic"]
    for name in images:
        r = row[name]
        r["rms_vs_bicubic"] = r["rms"] / base["rms"]
        r["rms_region_vs_bicubic"] = {n: (v / base["rms_region"][n] if v is not None else None)
                                      for n, v in r["rms_region"].items()}
        r["power_vs_target"] = [a / b for a, b in zip(r["power"], row["target"]["power"], strict=True)]
        r["power_vs_bicubic"] = [a / b for a, b in zip(r["power"], base["power"], strict=True)]
        key = "contrast_quiet" if scene.kind == "intensity" else "unsigned_flux"
        r[f"{key}_vs_target"] = r[key] / row["target"][key]
        r[f"{key}_vs_bicubic"] = r[key] / base[key]
    return row, spectra


def mean_rows(rows):
    """Per method, the mean over seeds of every number (lists and dicts element-wise)."""

    def mean(values):
        first = values[0]
        if isinstance(first, dict):
            return {key: mean([v[key] for v in values]) for key in first}
        if isinstance(first, list):
            return [mean([v[i] for v in values]) for i in range(len(first))]
        if first is None or any(v is None for v in values):
            return None
        return float(np.mean(values))

    return {name: mean([row[name] for row in rows]) for name in (*METHODS, "target", "region_fraction")}


def run(kinds, seeds, size):
    from enhance_lib import Enhancer
    from enhance_lib.nets.backend import describe
    from enhance_lib.training.deconvolution import HMI_ITERATIONS
    from enhance_lib.training.scenes import DEFAULT_SIGMA, REGION_THRESHOLDS, truth_scene

    results = {"cpu": f"{cpu_model()}, {os.cpu_count()} cores", "backend": describe(), "seeds": list(seeds),
               "size": size, "border_input_px": BORDER, "frequencies": list(FREQUENCIES),
               "rl_iterations": dict(HMI_ITERATIONS), "sigma": dict(DEFAULT_SIGMA),
               "region_thresholds": dict(REGION_THRESHOLDS), "kinds": {}}
    print(f"CPU: {results['cpu']}; {results['backend']}", flush=True)
    for kind in kinds:
        t0 = time.perf_counter()
        enhancers = {"ours": Enhancer(kind=kind), "ours+flux": Enhancer(kind=kind, conserve_flux=True)}
        rows, spectra = [], []
        for seed in seeds:
            scene = truth_scene(kind, seed=seed, size=size)
            row, spec = measure(scene, outputs(scene, enhancers))
            rows.append(row)
            spectra.append(spec)
            print(f"{kind} seed {seed}: RMS / bicubic's " + ", ".join(
                f"{name} {row[name]['rms_vs_bicubic']:.3f}" for name in METHODS), flush=True)
        mean_spectrum = {key: np.mean([s[key] for s in spectra], axis=0).tolist() for key in spectra[0]}
        results["kinds"][kind] = {"rows": rows, "mean": mean_rows(rows), "spectrum": mean_spectrum,
                                  "seconds": round(time.perf_counter() - t0, 1)}
    return results


def calibrate(kinds, size, seed=0):
    """RMS error / bicubic's of RL + bicubic against the target for a range of iterations."""
    from enhance_lib.training import evaluation as ev
    from enhance_lib.training.deconvolution import hmi_deconvolve
    from enhance_lib.training.scenes import truth_scene

    m = 2 * BORDER
    inner = (slice(m, -m), slice(m, -m))
    table = {}
    for kind in kinds:
        scene = truth_scene(kind, seed=seed, size=size)
        target = scene.target[inner].astype(np.float64)
        base = ev.rms(ev.bicubic_x2(scene.data)[inner] - target)
        table[kind] = {}
        for n in (1, 2, 3, 4, 5, 6, 8, 10, 20, 30, 50, 80, 100, 120, 150, 200, 300):
            out = ev.bicubic_x2(hmi_deconvolve(scene.data, kind=kind, iterations=n))[inner]
            table[kind][n] = ev.rms(out - target) / base
        best = min(table[kind], key=table[kind].get)
        print(f"{kind} (seed {seed}): best {best} iterations, RMS / bicubic's {table[kind][best]:.4f}; "
              + ", ".join(f"{n}: {v:.3f}" for n, v in table[kind].items()), flush=True)
    return table


def fmt(value, spec=".3f"):
    return "-" if value is None else format(value, spec)


def render(results):
    lines = [f"CPU: {results['cpu']}; {results['backend']}", "",
             f"Synthetic truth scenes (enhance_lib.training.scenes), seeds {', '.join(map(str, results['seeds']))}, "
             f"{results['size']}^2 truth pixels at 0.063\"/px ({results['size'] // 8}^2 HMI pixels); noise "
             f"{results['sigma']['intensity']:g} I/I_qs and {results['sigma']['blos']:g} G per input pixel; "
             f"statistics {results['border_input_px']} input pixels away from the edges. RL: Richardson-Lucy with the "
             f"HMI PSF ('enhance', the one that made the inputs), {results['rl_iterations']['intensity']} iterations "
             f"(intensity), {results['rl_iterations']['blos']} on c +- B (blos), then bicubic x2. Means over the seeds; "
             "ratios are the mean of the per-seed ratios.", ""]
    freq = results["frequencies"]
    for kind, block in results["kinds"].items():
        mean = block["mean"]
        key = "contrast_quiet" if kind == "intensity" else "unsigned_flux"
        label = "quiet-Sun contrast" if kind == "intensity" else "unsigned flux"
        lines += [f"### {kind}", "",
                  f"| method | RMS error | mean error | / bicubic | quiet | plage | penumbra | umbra | {label} / target | / bicubic | "
                  + " | ".join(f"P({f:g}) / target" for f in freq) + " | "
                  + " | ".join(f"P({f:g}) / bicubic" for f in freq) + " |",
                  "|" + "---|" * (10 + 2 * len(freq))]
        for name in METHODS:
            r = mean[name]
            reg = r["rms_region_vs_bicubic"]
            lines.append(f"| {name} | {r['rms']:.4g} | {r['bias']:+.2g} | {r['rms_vs_bicubic']:.3f} | "
                         + " | ".join(fmt(reg[n]) for n in REGION_NAMES)
                         + f" | {r[f'{key}_vs_target']:.3f} | {r[f'{key}_vs_bicubic']:.3f} | "
                         + " | ".join(f"{v:.2f}" for v in r["power_vs_target"]) + " | "
                         + " | ".join(f"{v:.2f}" for v in r["power_vs_bicubic"]) + " |")
        target = mean["target"]
        what = (f"target's quiet-Sun contrast {target['contrast_quiet']:.4f}" if kind == "intensity"
                else f"target's unsigned flux {target['unsigned_flux']:.4g} G px")
        frac = ", ".join(f"{n} {100 * mean['region_fraction'][n]:.1f} %" for n in REGION_NAMES)
        lines += ["", f"Region columns: RMS error in the region / bicubic's there. {what}; regions {frac}. "
                  f"{block['seconds']} s for {len(block['rows'])} scenes.", "",
                  "| seed | " + " | ".join(f"{n} / bicubic" for n in METHODS) + " |",
                  "|" + "---|" * (1 + len(METHODS))]
        lines += [f"| {row['seed']} | " + " | ".join(f"{row[n]['rms_vs_bicubic']:.3f}" for n in METHODS) + " |"
                  for row in block["rows"]]
        lines.append("")
    if "calibration" in results:
        lines += ["RL iterations (RMS error / bicubic's on the calibration seed 0):", ""]
        for kind, table in results["calibration"].items():
            lines.append(f"* {kind}: " + ", ".join(f"{n}: {v:.3f}" for n, v in table.items()))
    return "\n".join(lines).rstrip()


def figure(results, path):
    """Mean power spectra of the target and the four methods (top) and their ratio to the target's."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = list(results["kinds"])
    fig, axes = plt.subplots(2, len(kinds), figsize=(6 * len(kinds), 7.5), squeeze=False, sharex=True,
                             gridspec_kw={"height_ratios": [2, 1]})
    colours = {"target": "k", "ours": "tab:blue", "ours+flux": "tab:cyan", "bicubic": "tab:orange", "RL": "tab:green"}
    for column, kind in enumerate(kinds):
        spec = results["kinds"][kind]["spectrum"]
        k = np.asarray(spec["k"])
        top, bottom = axes[0, column], axes[1, column]
        for name in ("target", *METHODS):
            p = np.asarray(spec[name])
            style = "--" if name == "ours+flux" else "-"
            top.loglog(k[1:], p[1:], style, color=colours[name], lw=1.8 if name == "target" else 1.2, label=name)
            bottom.semilogx(k[1:], p[1:] / np.asarray(spec["target"])[1:], style, color=colours[name], lw=1.2)
        for ax in (top, bottom):
            for f in (1 / (2 * 0.504), 1.1):  # HMI's Nyquist frequency and its 14 cm cut-off
                ax.axvline(f, color="0.6", lw=0.8, ls=":")
            ax.grid(alpha=0.3, which="both")
        top.text(1 / (2 * 0.504), top.get_ylim()[0], " HMI Nyquist", rotation=90, va="bottom", fontsize=7, color="0.4")
        units = "(I/I_qs)^2 arcsec^2" if kind == "intensity" else "G^2 arcsec^2"
        top.set_title(f"{kind}: mean over seeds {', '.join(map(str, results['seeds']))}", fontsize=10)
        top.set_ylabel(f"power ({units})")
        top.legend(fontsize=8)
        bottom.axhline(1, color="k", lw=0.8)
        bottom.set_ylim(0, 2)
        bottom.set_ylabel("/ target")
        bottom.set_xlabel("spatial frequency (cycles / arcsec)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4],
                   help="scene seeds to judge (default 1-4; seed 0 calibrates RL)")
    p.add_argument("--size", type=int, default=1280, help="truth pixels on a side (multiple of 8, >= 512)")
    p.add_argument("--kinds", nargs="+", choices=("intensity", "blos"), default=["intensity", "blos"])
    p.add_argument("--calibrate", action="store_true", help="also sweep RL's iterations on seed 0")
    p.add_argument("--name", default="truth")
    p.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    p.add_argument("--render", metavar="JSON", help="only print the tables of saved results")
    args = p.parse_args(argv)
    if args.render:
        print(render(json.loads(Path(args.render).read_text())))
        return
    from benchmarks.report import WEIGHTS_HELP, require_files
    from enhance_lib.nets.weights import default_weights

    require_files("benchmarks/truth.py", [default_weights(kind) for kind in args.kinds], hint=WEIGHTS_HELP)
    results = run(args.kinds, args.seeds, args.size)
    if args.calibrate:
        results["calibration"] = calibrate(args.kinds, args.size)
    text = render(results)
    write_results(args.name, results, text, folder=args.out)
    figure(results, Path(args.out) / f"{args.name}_spectra.png")
    print(text)


if __name__ == "__main__":
    main()
