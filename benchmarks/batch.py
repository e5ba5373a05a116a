#!/usr/bin/env python
"""Many files: separate enhance.py processes, one batch call, and Dask workers.

    python benchmarks/batch.py                 # 16 files of 1024^2, ~5 min on 2 cores
    python benchmarks/batch.py --files 4 --size 256

The same HMI-like files are enhanced three ways in one run: one ``enhance.py``
process per file (start-up and network build every time), one ``enhance.py``
call with all of them (one start-up, reading and writing overlapped with
prediction) and the same call with ``--workers 2`` (a local Dask cluster; skipped
without dask). Reported: files per minute, seconds per file, the throughput
ratio to separate processes, and the peak resident memory of the ``enhance.py``
process (for ``--workers``, the workers' own memory is not included).

Results go to stdout and to ``benchmarks/results/batch.{json,md}``.
"""

import argparse
import importlib.util
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.predict import cpu_model, run_enhance, synthetic_patch, weights_path
from benchmarks.report import write_results


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--files", type=int, default=16)
    p.add_argument("--size", type=int, default=1024)
    p.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    args = p.parse_args(argv)

    from astropy.io import fits

    backend = os.environ.get("KERAS_BACKEND") or "tensorflow"
    results = {"device": f"CPU: {os.cpu_count()} cores, {cpu_model()}", "backend": backend,
               "files": args.files, "size": args.size, "rows": []}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        weights, results["weights"] = weights_path(tmp)
        src = tmp / "in"
        src.mkdir()
        for k in range(args.files):
            fits.PrimaryHDU(synthetic_patch(args.size, seed=k)).writeto(src / f"hmi_{k:03d}.fits")
        files = sorted(str(f) for f in src.iterdir())
        common = ["-w", str(weights), "-t", "intensity", "--quiet"]

        def record(mode, wall, rss):
            row = {"mode": mode, "wall_s": wall, "s_per_file": wall / args.files,
                   "files_per_min": 60 * args.files / wall, "peak_rss_mb": rss}
            results["rows"].append(row)
            print(json.dumps(row), flush=True)

        start, peak = time.perf_counter(), 0.0
        for k, f in enumerate(files):
            _, rss = run_enhance(["-i", f, "-o", str(tmp / "separate" / f"{k}.fits"), *common])
            peak = max(peak, rss)
        record("separate enhance.py processes", time.perf_counter() - start, peak)
        wall, rss = run_enhance(["-i", str(src), "-o", str(tmp / "batch"), *common])
        record("one enhance.py call", wall, rss)
        if importlib.util.find_spec("distributed"):
            wall, rss = run_enhance(["-i", str(src), "-o", str(tmp / "dask"), "--workers", "2", *common])
            record("one call, --workers 2", wall, rss)
        else:
            print("dask is not installed: --workers not measured", flush=True)
    text = render(results)
    write_results("batch", results, text, folder=args.out)
    print(text)


def render(results):
    """The Markdown table of a results dictionary (as saved in batch.json)."""
    rows = results["rows"]
    ref = rows[0]["wall_s"]
    lines = [
        f"Device: {results['device']}; backend: {results['backend']}; {results['files']} files of "
        f"{results['size']}^2; weights: {results['weights']}.",
        "",
        "| mode | wall time | s/file | files/min | throughput vs separate processes | peak RSS of enhance.py |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['mode']} | {r['wall_s']:.1f} s | {r['s_per_file']:.2f} | {r['files_per_min']:.1f} | "
                     f"{ref / r['wall_s']:.2f}x | {r['peak_rss_mb'] / 1024:.2f} GB |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
