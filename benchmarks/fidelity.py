#!/usr/bin/env python
"""How closely the shipped networks reproduce the published Enhance networks.

    python benchmarks/fidelity.py [--data ../shared/data] [--intensity W] [--blos W]

On the held-out validation region of the shared crops (input rows 0-55, columns
0-113: never trained on; see network/README.md) it reports for each network:

* RMS(ours - published) / RMS(bicubic - published);
* the correlation of ours with the published output;
* the quiet-Sun (|B| < 50 G) granulation contrast sigma/mean of ours, the published
  output, bicubic interpolation and the HMI input;
* for blos, the total unsigned flux of ours over the published one's;
* forward consistency: the output convolved with the HMI PSF and resampled back to
  HMI pixels, RMS difference from the input relative to the input's RMS (the paper
  reports ~4 % for magnetograms), for ours and for the published output.

To say where the differences are, it also reports:

* RMS ratios near the crop's edges and inside, on the training region, and for
  blos by field strength;
* the RMS ratio of the best *linear* x2 filter of the input (13 x 13 input pixels
  per output sub-pixel, least squares on the training region): how much the
  networks gain over linear deconvolution; and how much of the published output's
  nonlinear part (what that filter leaves) ours reproduces;
* for blos, the change of the net flux (mean of B) by ours and by the published
  network, and our network's output for a field-free input.

Results go to stdout and benchmarks/results/fidelity.{json,md}.
"""

import argparse
import os
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.report import SHARED_DATA_HELP, WEIGHTS_HELP, require_files, write_results

#: Held-out validation region in input (HMI) pixels: rows, columns.
VALIDATION = (slice(0, 56), slice(0, 114))
#: Training inputs never include rows 0-55, and no training target within the
#: receptive margin (13 input pixels) of them or of the crop's cut last column counts
#: in the loss (network/train_shipped.sh: patches in rows 69-199, columns 0-113 with a
#: 13-pixel loss border, then rows 56-199 with a loss mask).
TRAINING_INPUT_ROWS = (56, 200)
#: Receptive margin of the shipped networks (keepsize, depth 5), input pixels.
MARGIN = 13
#: Columns of the shared crops.
CROP_COLUMNS = 140
QUIET_SUN_GAUSS = 50.0

FILES = {
    "intensity": ("hmi_sample_left.fits", "hmi_enhanced_left.fits"),
    "blos": ("blos_sample_left.fits", "blos_enhanced_left.fits"),
}

#: What the shipped networks must reach (issue: "Shipped networks").
TARGETS = {
    "intensity": {"rms_ratio": 0.25, "correlation": 0.997, "contrast_points": 0.3},
    "blos": {"rms_ratio": 0.30, "correlation": 0.998},
}


def data_dir(path=None):
    """The shared data folder: argument, $ENHANCE_TEST_DATA, or ../shared/data."""
    path = path or os.environ.get("ENHANCE_TEST_DATA") or REPO.parent / "shared" / "data"
    return Path(path)


def enhance_in_memory(images, weights, *, kind):
    """Our pipeline with its defaults (normalisation, tiling) on each array of ``images``
    (one array or a list of them), with the network loaded once."""
    from enhance_lib.nets.weights import load_network
    from enhance_lib.run.tiling import Predictor, enhance_array
    from enhance_lib.sun.normalization import make_normalizer

    predictor = Predictor(*load_network(weights))
    if isinstance(images, np.ndarray):
        return enhance_array(images, predictor, make_normalizer(images, None, kind=kind))
    return [enhance_array(image, predictor, make_normalizer(image, None, kind=kind)) for image in images]


def fidelity(kind, weights, *, data=None):
    """All figures of merit for one network on the validation region (a dict)."""
    from astropy.io import fits

    from enhance_lib.run.forward_check import forward_check
    from enhance_lib.training import evaluation as ev

    folder = data_dir(data)
    low = fits.getdata(folder / FILES[kind][0]).astype(np.float32)
    published = fits.getdata(folder / FILES[kind][1]).astype(np.float32)
    blos_in = fits.getdata(folder / FILES["blos"][0]).astype(np.float32)
    # for blos a field-free input too: a network with biases need not map 0 to 0
    ours, *field_free = enhance_in_memory([low] + [np.zeros((64, 64), np.float32)] * (kind == "blos"),
                                          weights, kind=kind)
    bicubic = ev.bicubic_x2(low)

    ry, rx = VALIDATION
    out_region = (slice(2 * ry.start, 2 * ry.stop), slice(2 * rx.start, 2 * rx.stop))
    o, p, b = ours[out_region], published[out_region], bicubic[out_region]
    quiet_in = np.abs(blos_in[VALIDATION]) < QUIET_SUN_GAUSS
    quiet_out = np.kron(quiet_in, np.ones((2, 2), bool))
    result = {
        "kind": kind,
        "weights": str(weights),
        "validation_region_input_px": f"rows {ry.start}-{ry.stop - 1}, columns {rx.start}-{rx.stop - 1}",
        "rms_ratio": ev.rms_ratio(o, p, b),
        "correlation": ev.correlation(o, p),
        "correlation_bicubic": ev.correlation(b, p),
        "forward_residual_ours": forward_check(low, ours, region=VALIDATION).percent / 100,
        "forward_residual_published": forward_check(low, published, region=VALIDATION).percent / 100,
        "quiet_sun_fraction": float(quiet_in.mean()),
    }
    result.update(_diagnostics(kind, ours, published, bicubic))
    linear_published, linear_ours = linear_baseline(low, published, ours)
    linear = linear_published[out_region]
    result["rms_ratio_linear"] = ev.rms_ratio(linear, p, b)
    result["correlation_linear"] = ev.correlation(linear, p)
    # The nonlinear parts: what the best linear filter leaves of the published output
    # and of ours, and how much of the published one ours reproduces.
    nonlinear_published = p - linear
    nonlinear_ours = o - linear_ours[out_region]
    result.update(
        nonlinear_rms_published=float(np.sqrt(np.mean(nonlinear_published.astype(np.float64) ** 2))),
        nonlinear_rms_ours=float(np.sqrt(np.mean(nonlinear_ours.astype(np.float64) ** 2))),
        nonlinear_correlation=ev.correlation(nonlinear_ours, nonlinear_published),
    )
    if kind == "intensity":
        result.update(
            contrast_ours=ev.contrast(o, quiet_out),
            contrast_published=ev.contrast(p, quiet_out),
            contrast_bicubic=ev.contrast(b, quiet_out),
            contrast_input=ev.contrast(low[VALIDATION], quiet_in),
        )
    else:
        result.update(
            flux_ratio=ev.unsigned_flux(o) / ev.unsigned_flux(p),
            flux_ratio_input=ev.unsigned_flux(o, pixel_area=0.25) / ev.unsigned_flux(low[VALIDATION]),
        )
        # Net flux (mean of B) changed by the enhancement, relative to the mean |B|; and
        # what a field-free input becomes.
        mean_in, scale = float(low[VALIDATION].mean()), float(np.abs(low[VALIDATION]).mean())
        result.update(
            net_flux_change_ours=(float(o.mean()) - mean_in) / scale,
            net_flux_change_published=(float(p.mean()) - mean_in) / scale,
            zero_field_output_gauss=float(field_free[0].mean()),
        )
    return result


def linear_baseline(low, *outputs, size=13):
    """``outputs`` (published or ours, x2 grid) as predicted by the best linear x2 filter of ``low``.

    Each of the four output sub-pixels gets its own ``size`` x ``size`` filter
    (plus a constant), fitted by least squares to each output on the training
    region (targets at least ``MARGIN`` input pixels from the crop's edges and
    from the validation rows), with the eight rotations/flips of the crop as extra
    samples. Returns one prediction on the whole crop (x2 grid) per output.
    """
    from enhance_lib.training.patches import dihedral

    r = size // 2

    def design(image):
        pad = np.pad(image, r, mode="reflect")
        ny, nx = image.shape
        cols = [pad[dy : dy + ny, dx : dx + nx] for dy in range(size) for dx in range(size)]
        return np.stack(cols + [np.ones_like(image)], axis=-1)

    low = np.asarray(low, np.float64)
    outputs = [np.asarray(o, np.float64) for o in outputs]
    phases = [(a, b) for a in range(2) for b in range(2)]
    fit = np.zeros(low.shape, bool)
    fit[TRAINING_INPUT_ROWS[0] + MARGIN : TRAINING_INPUT_ROWS[1] - MARGIN, MARGIN : CROP_COLUMNS - MARGIN] = True
    # Normal equations: the same design for every sub-pixel and output, one right-hand
    # side per (output, sub-pixel).
    normal = 0.0
    rhs = np.zeros((len(outputs), len(phases), size * size + 1))
    for k in range(8):
        m = dihedral(fit, k)
        x = design(np.ascontiguousarray(dihedral(low, k)))[m]
        normal = normal + x.T @ x
        for n, out in enumerate(outputs):
            y = dihedral(out, k)
            for q, (a, b) in enumerate(phases):
                rhs[n, q] += x.T @ y[a::2, b::2][m]
    coefficients = np.linalg.solve(normal, rhs.reshape(-1, rhs.shape[-1]).T).T.reshape(rhs.shape)
    x = design(low)
    predictions = []
    for n, out in enumerate(outputs):
        prediction = np.zeros(out.shape)
        for q, (a, b) in enumerate(phases):
            prediction[a::2, b::2] = x @ coefficients[n, q]
        predictions.append(prediction)
    return predictions


def _diagnostics(kind, ours, published, bicubic):
    """Where the differences are: RMS ratios near the crop's edges and inside, on the
    training region (seen in training: how much of the validation error is
    generalisation), and for blos by field strength of the published output."""
    from enhance_lib.training import evaluation as ev

    m = 2 * MARGIN  # output pixels
    ry, rx = VALIDATION
    y1, x1 = 2 * ry.stop, 2 * rx.stop
    inside = np.zeros(published.shape, bool)
    inside[m:y1, m:x1] = True
    region = np.zeros(published.shape, bool)
    region[:y1, :x1] = True
    edges = region & ~inside
    train = np.zeros(published.shape, bool)  # counted in training, away from the crop's edges
    train[2 * (TRAINING_INPUT_ROWS[0] + MARGIN) : -m, m : 2 * (CROP_COLUMNS - MARGIN)] = True

    def ratio(mask):
        return ev.rms_ratio(ours[mask], published[mask], bicubic[mask])

    out = {
        "rms_ratio_inside": ratio(inside),
        "rms_ratio_edges": ratio(edges),
        "edge_fraction": float(edges.sum() / region.sum()),
        "rms_ratio_training_region": ratio(train),
    }
    if kind == "blos":
        strength = np.abs(published)
        for name, lo, hi in (("weak", 0, 50), ("plage", 50, 500), ("strong", 500, np.inf)):
            for label, where in (("", region), ("_training_region", train)):
                mask = where & (strength >= lo) & (strength < hi)
                out[f"rms_ratio_{name}{label}"] = ratio(mask)
                out[f"fraction_{name}{label}"] = float(mask.sum() / where.sum())
    return out


def meets_targets(result):
    """Names of the targets a result misses (empty when all are met)."""
    t = TARGETS[result["kind"]]
    missed = []
    if result["rms_ratio"] > t["rms_ratio"]:
        missed.append("rms_ratio")
    if result["correlation"] < t["correlation"]:
        missed.append("correlation")
    if "contrast_points" in t and abs(result["contrast_ours"] - result["contrast_published"]) * 100 > t["contrast_points"]:
        missed.append("contrast")
    return missed


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", help="shared data folder (default $ENHANCE_TEST_DATA or ../shared/data)")
    p.add_argument("--intensity", default=str(REPO / "network" / "intensity.weights.h5"))
    p.add_argument("--blos", default=str(REPO / "network" / "blos.weights.h5"))
    p.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    args = p.parse_args(argv)
    folder = data_dir(args.data)
    require_files("benchmarks/fidelity.py", [folder / name for pair in FILES.values() for name in pair],
                  hint=SHARED_DATA_HELP)
    require_files("benchmarks/fidelity.py", [args.intensity, args.blos], hint=f"{WEIGHTS_HELP}, or give --intensity/--blos")
    results = [fidelity("intensity", args.intensity, data=args.data), fidelity("blos", args.blos, data=args.data)]
    lines = [
        "| network | RMS(ours-pub)/RMS(bicubic-pub) | corr(ours, pub) | corr(bicubic, pub) | quiet-Sun contrast ours / published / bicubic / HMI | unsigned flux ours/pub | forward residual ours / published |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        contrast = (
            f"{100 * r['contrast_ours']:.2f} / {100 * r['contrast_published']:.2f} / {100 * r['contrast_bicubic']:.2f} / {100 * r['contrast_input']:.2f} %"
            if r["kind"] == "intensity" else "-"
        )
        flux = f"{r['flux_ratio']:.3f}" if r["kind"] == "blos" else "-"
        lines.append(
            f"| {r['kind']} | {r['rms_ratio']:.3f} | {r['correlation']:.4f} | {r['correlation_bicubic']:.4f} | {contrast} | {flux} | "
            f"{100 * r['forward_residual_ours']:.2f} / {100 * r['forward_residual_published']:.2f} % |"
        )
        missed = meets_targets(r)
        r["targets_missed"] = missed
    lines += [
        "",
        "Where the differences are (RMS ratio; `edges`: within 13 input pixels of the crop's edges, "
        f"{100 * results[0]['edge_fraction']:.0f} % of the validation region; `training region`: "
        "targets counted in training, for comparison):",
        "",
        "| network | validation inside | validation edges | training region | linear filter, validation (corr) |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(f"| {r['kind']} | {r['rms_ratio_inside']:.3f} | {r['rms_ratio_edges']:.3f} | "
                     f"{r['rms_ratio_training_region']:.3f} | {r['rms_ratio_linear']:.3f} ({r['correlation_linear']:.4f}) |")
    lines += ["", "`linear filter`: the best linear x2 filter of the input (13 x 13 input pixels per output "
              "sub-pixel, least squares on the training region, all 8 rotations/flips).", "",
              "The nonlinear parts (output minus its best linear filter of the input), on the validation region:", "",
              "| network | RMS, published | RMS, ours | correlation of ours with the published |", "|---|---|---|---|"]
    for r in results:
        unit = "G" if r["kind"] == "blos" else "I/I_qs"
        lines.append(f"| {r['kind']} | {r['nonlinear_rms_published']:.4g} {unit} | {r['nonlinear_rms_ours']:.4g} {unit} | "
                     f"{r['nonlinear_correlation']:.2f} |")
    blos = results[1]
    lines += ["", "blos by |B| of the published output (RMS ratio, share of pixels):", "",
              "| | < 50 G | 50-500 G | > 500 G |", "|---|---|---|---|"]
    for label, suffix in (("validation", ""), ("training region", "_training_region")):
        cells = [f"{blos[f'rms_ratio_{n}{suffix}']:.3f} ({100 * blos[f'fraction_{n}{suffix}']:.0f} %)"
                 for n in ("weak", "plage", "strong")]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", "blos net flux (mean of B) on the validation region, change relative to its mean |B|: "
              f"ours {100 * blos['net_flux_change_ours']:+.1f} %, published "
              f"{100 * blos['net_flux_change_published']:+.1f} %; our output for a field-free input: "
              f"{blos['zero_field_output_gauss']:+.2f} G."]
    text = "\n".join(lines)
    print(text)
    for r in results:
        print(f"{r['kind']}: {'all targets met' if not r['targets_missed'] else 'missed: ' + ', '.join(r['targets_missed'])}")
    write_results("fidelity", results, text, folder=args.out)
    return 0 if not any(r["targets_missed"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
