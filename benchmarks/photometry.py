#!/usr/bin/env python
"""The networks' flat-field response, and what ``--conserve-flux`` does to it.

    python benchmarks/photometry.py [--intensity W] [--blos W]

Reports, from ``samples/`` and ``network/`` alone:

* our networks' output for uniform inputs (intensity: gain at several I/I_qs levels;
  blos: output for 0, +-10, +-37, +-100 and +-1000 G), as they are and with
  ``--conserve-flux``;
* on the real HMI crops (``samples/{hmi,blos}.fits``), the change of the mean by ours,
  ours with ``--conserve-flux`` and the published networks (``samples/*_published.fits``):
  the intensity gain (2x2-binned output mean over input mean) and, for blos, the net-flux
  change and the zero-field offset (intercept of a least-squares line through the
  binned output against the input, over pixels with |B| < 100 G);
* the mean of the 2x2-binned output against the input's over square regions of 10, 20
  and 40 input pixels (half-overlapping, all over the crop): median, 90th percentile and
  maximum of the relative (intensity) or absolute (blos, G) difference. A deconvolution
  moves flux between a sunspot and its surroundings on the scale of the PSF, so small
  regions at a spot's edge change by design; the published network is shown for that.

Results go to stdout and benchmarks/results/photometry.{json,md}.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.report import SAMPLES_HELP, WEIGHTS_HELP, require_files, write_results

LEVELS = {"intensity": (0.1, 0.3, 0.5, 0.777, 1.0, 1.5, 2.0), "blos": (0.0, 10.0, -10.0, 37.3, -37.3, 100.0, -100.0,
                                                                     1000.0, -1000.0)}
SIZES = (10, 20, 40)


def binned(a):
    ny, nx = a.shape
    return a.reshape(ny // 2, 2, nx // 2, 2).mean(axis=(1, 3))


def region_errors(low, high_binned, kind, size):
    """Median, 90th percentile and max of |mean difference| over size x size regions."""
    errors = []
    for y in range(0, low.shape[0] - size + 1, size // 2):
        for x in range(0, low.shape[1] - size + 1, size // 2):
            a, b = low[y:y + size, x:x + size].mean(), high_binned[y:y + size, x:x + size].mean()
            errors.append((b - a) / a if kind == "intensity" else b - a)
    errors = np.abs(errors)
    return {"median": float(np.median(errors)), "p90": float(np.percentile(errors, 90)), "max": float(errors.max())}


def crop_numbers(kind, low, high):
    b = binned(high)
    out = {"mean_change": float(b.mean() - low.mean()), "gain": float(b.mean() / low.mean())}
    if kind == "blos":
        weak = np.abs(low) < 100
        slope, intercept = np.polyfit(low[weak], b[weak], 1)
        out.update(zero_field_offset=float(intercept), weak_slope=float(slope),
                   net_flux_change_of_mean_abs=float((b.mean() - low.mean()) / np.abs(low).mean()))
    out["regions"] = {str(s): region_errors(low, b, kind, s) for s in SIZES}
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--intensity", help="intensity weights (default: the shipped network)")
    p.add_argument("--blos", help="blos weights (default: the shipped network)")
    args = p.parse_args(argv)
    require_files("benchmarks/photometry.py",
                  [REPO / "samples" / f"{name}{end}.fits" for name in ("hmi", "blos") for end in ("", "_published")],
                  hint=SAMPLES_HELP)
    require_files("benchmarks/photometry.py",
                  [args.intensity or REPO / "network" / "intensity.weights.h5", args.blos or REPO / "network" / "blos.weights.h5"],
                  hint=f"{WEIGHTS_HELP}, or give --intensity/--blos")

    from astropy.io import fits

    import enhance_lib

    results = {}
    lines = ["# Photometry: the networks' flat-field response", "",
             "`python benchmarks/photometry.py` (samples/ and network/ only; the numbers do not depend on the "
             "machine).", ""]
    for kind, name in (("intensity", "hmi"), ("blos", "blos")):
        weights = getattr(args, kind)
        low = fits.getdata(REPO / "samples" / f"{name}.fits").astype(np.float64)
        published = fits.getdata(REPO / "samples" / f"{name}_published.fits").astype(np.float64)
        entry = {"uniform": {}, "crop": {"published": crop_numbers(kind, low, published)}}
        for label, conserve in (("ours", False), ("ours_conserve_flux", True)):
            enhancer = enhance_lib.Enhancer(kind=kind, weights=weights, conserve_flux=conserve)
            uniform = {}
            # intensity is normalised by its quiet-Sun level, so any uniform image reaches the network
            # as 1 I/I_qs; the other levels go in un-normalised (their values are I/I_qs already)
            flat = enhance_lib.Enhancer(kind=kind, weights=weights, conserve_flux=conserve,
                                        normalization="none" if kind == "intensity" else None)
            for level in LEVELS[kind]:
                out = float(np.mean(flat.enhance(np.full((48, 48), level))))
                uniform[str(level)] = out / level if kind == "intensity" else out
            if kind == "intensity":
                uniform["5e4 (any uniform image)"] = float(np.mean(enhancer.enhance(np.full((48, 48), 5e4))) / 5e4)
            entry["uniform"][label] = uniform
            entry["crop"][label] = crop_numbers(kind, low, enhancer.enhance(low).astype(np.float64))
        results[kind] = entry

        lines += [f"## {kind}", ""]
        unit = "gain (output / input)" if kind == "intensity" else "output (G)"
        lines += [f"Uniform input: {unit}", "", "| input | ours | ours, --conserve-flux |", "|---|---|---|"]
        for key in entry["uniform"]["ours"]:
            lines.append(f"| {key} | {entry['uniform']['ours'][key]:.5g} | {entry['uniform']['ours_conserve_flux'][key]:.6g} |")
        lines += ["", f"Real HMI crop (`samples/{name}.fits`, {low.shape[0]} x {low.shape[1]}):", ""]
        labels = (("ours", "ours"), ("ours_conserve_flux", "ours, --conserve-flux"), ("published", "published"))
        if kind == "intensity":
            lines += ["| | mean gain (binned output / input) |", "|---|---|"]
            for key, label in labels:
                lines.append(f"| {label} | {entry['crop'][key]['gain']:.4f} |")
        else:
            lines += ["| | net flux change (G) | of mean abs B | zero-field offset (G) |", "|---|---|---|---|"]
            for key, label in labels:
                c = entry["crop"][key]
                lines.append(f"| {label} | {c['mean_change']:+.2f} | {100 * c['net_flux_change_of_mean_abs']:+.2f} % | "
                             f"{c['zero_field_offset']:+.2f} |")
        what = "relative" if kind == "intensity" else "absolute, G"
        lines += ["", f"Mean of the binned output minus the input's over square regions ({what}): median / 90th "
                  "percentile / max", "", "| region (input px) | ours | ours, --conserve-flux | published |",
                  "|---|---|---|---|"]
        for s in SIZES:
            cells = []
            for key, _ in labels:
                r = entry["crop"][key]["regions"][str(s)]
                fmt = (lambda v: f"{100 * v:.2f} %") if kind == "intensity" else (lambda v: f"{v:.2f}")
                cells.append(f"{fmt(r['median'])} / {fmt(r['p90'])} / {fmt(r['max'])}")
            lines.append(f"| {s} | " + " | ".join(cells) + " |")
        lines.append("")
    text = "\n".join(lines)
    print(text)
    write_results("photometry", results, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
