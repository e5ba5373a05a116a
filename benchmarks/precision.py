#!/usr/bin/env python
"""bfloat16 against float32 with the shipped networks: speed and error.

    python benchmarks/precision.py [--intensity W] [--blos W]

For each shipped network it enhances its sample (``samples/synthetic_hmi.fits``,
``samples/synthetic_blos.fits``) in float32 and with ``--precision bfloat16`` and reports the
relative RMS difference and the largest difference relative to the output's range;
the speed ratio is measured on a 1024^2 image in the same run. Results go to stdout
and ``benchmarks/results/precision.{json,md}``.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.report import SAMPLES_HELP, WEIGHTS_HELP, require_files, write_results

SAMPLES = {"intensity": "synthetic_hmi.fits", "blos": "synthetic_blos.fits"}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--intensity", default=str(REPO / "network" / "intensity.weights.h5"), help="intensity weights")
    p.add_argument("--blos", default=str(REPO / "network" / "blos.weights.h5"), help="blos weights")
    args = p.parse_args(argv)
    require_files("benchmarks/precision.py", [REPO / "samples" / name for name in SAMPLES.values()], hint=SAMPLES_HELP)
    require_files("benchmarks/precision.py", [args.intensity, args.blos], hint=f"{WEIGHTS_HELP}, or give --intensity/--blos")

    from astropy.io import fits

    from enhance_lib.nets.weights import load_network
    from enhance_lib.run.tiling import Predictor, enhance_array
    from enhance_lib.sun.normalization import BLOS_DEFAULT, make_normalizer

    rows = []
    for kind, name in SAMPLES.items():
        path = REPO / "samples" / name
        image = fits.getdata(path).astype(np.float32)
        net, config = load_network(getattr(args, kind))
        normalizer = make_normalizer(image, fits.getheader(path), kind=kind)
        out = {}
        for precision in ("float32", "bfloat16"):
            out[precision] = enhance_array(image, Predictor(net, config, precision=precision), normalizer)
        diff = out["bfloat16"] - out["float32"]
        ref = out["float32"]
        row = {
            "kind": kind,
            "relative_rms_error": float(np.sqrt(np.mean(diff**2)) / np.sqrt(np.mean(ref**2))),
            "max_error_over_range": float(np.abs(diff).max() / np.ptp(ref)),
        }
        if kind == "blos":  # |B| is what matters for magnetograms; RMS of B ~ RMS of its noise
            row["rms_error_gauss"] = float(np.sqrt(np.mean(diff**2)))
        x = np.tile(image if kind == "intensity" else image / BLOS_DEFAULT, (4, 4))
        times = {}
        for precision in ("float32", "bfloat16"):
            pred = Predictor(net, config, precision=precision)
            pred.run(x)  # trace
            t = time.perf_counter()
            pred.run(x)
            times[precision] = time.perf_counter() - t
        row["speedup_1024"] = times["float32"] / times["bfloat16"]
        rows.append(row)
        print(json.dumps(row), flush=True)
    lines = ["| network | bfloat16 speed-up (1024^2) | relative RMS difference | max difference / range |", "|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['kind']} | {r['speedup_1024']:.2f}x | {r['relative_rms_error']:.2e} | {r['max_error_over_range']:.2e} |")
    text = "\n".join(lines)
    print(text)
    write_results("precision", rows, text)


if __name__ == "__main__":
    main()
