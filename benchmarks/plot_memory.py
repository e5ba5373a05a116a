#!/usr/bin/env python
"""Peak memory of ``enhance.py`` on a full disk with and without ``--plot`` (issue #19, 3a).

    python benchmarks/plot_memory.py                  # 4096^2 full disk, ~3 min on 2 cores
    python benchmarks/plot_memory.py --sizes 2048 4096
    python benchmarks/plot_memory.py --render benchmarks/results/plot_memory.json

For each size it writes the synthetic limb-darkened full disk of ``benchmarks/predict.py``
(:func:`benchmarks.predict.synthetic_full_disk`: HMI's 0.504"/px, NaN off-limb; a 2048^2
image holds the middle of that disk, its corners off-limb) and runs the whole ``enhance.py``
process on it twice, without and with ``--plot``, in new processes
(:func:`benchmarks.predict.run_enhance`: wall time and the process's peak resident memory,
VmHWM). Reports both and their ratio, with this machine's CPU. Writes
``benchmarks/results/plot_memory.{json,md}``.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.predict import cpu_model, run_enhance, synthetic_full_disk, weights_path
from benchmarks.report import write_results


def commit():
    """The checkout's commit (with ``+changes`` when the tree differs from it), or 'unknown'."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+changes" if dirty else "")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[4096])
    p.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    p.add_argument("--render", metavar="JSON", help="only print the table of saved results")
    args = p.parse_args(argv)
    if args.render:
        print(render(json.loads(Path(args.render).read_text())))
        return

    from astropy.io import fits

    os.environ.setdefault("KERAS_BACKEND", "tensorflow")  # the children inherit it
    results = {"device": f"CPU: {os.cpu_count()} cores, {cpu_model()}", "backend": os.environ["KERAS_BACKEND"],
               "commit": commit(), "rows": []}
    with tempfile.TemporaryDirectory() as tmp:
        weights, results["weights"] = weights_path(tmp)
        for n in args.sizes:
            image, header = synthetic_full_disk(n)
            src = Path(tmp) / "in.fits"
            fits.PrimaryHDU(image, header=header).writeto(src, overwrite=True)
            del image
            base = ["-i", str(src), "-o", str(Path(tmp) / "out.fits"), "-w", str(weights), "-t", "intensity",
                    "--quiet"]
            row = {"size": n}
            row["wall_s"], row["peak_rss_mb"] = run_enhance(base)
            row["plot_wall_s"], row["plot_peak_rss_mb"] = run_enhance([*base, "--plot", str(Path(tmp) / "f.png")])
            row["ratio"] = row["plot_peak_rss_mb"] / row["peak_rss_mb"]
            results["rows"].append(row)
            print(json.dumps(row), flush=True)
    text = render(results)
    write_results("plot_memory", results, text, folder=args.out)
    print(text)


def render(results):
    """The Markdown table of a results dictionary (as saved in plot_memory.json)."""
    lines = [
        f"Device: {results['device']}; backend: {results['backend']}; weights: {results['weights']}; "
        f"code: {results['commit']}.",
        "",
        "| full disk | without --plot: wall, peak RSS | with --plot: wall, peak RSS | memory ratio |",
        "|---|---|---|---|",
    ]
    for r in results["rows"]:
        lines.append(f"| {r['size']}^2 | {r['wall_s']:.1f} s, {r['peak_rss_mb'] / 1024:.2f} GB | "
                     f"{r['plot_wall_s']:.1f} s, {r['plot_peak_rss_mb'] / 1024:.2f} GB | {r['ratio']:.2f}x |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
