#!/usr/bin/env python
"""Memory of a long batch (flat or growing?) and the memory one image needs.

    python benchmarks/batch_memory.py                      # 200 files of 256^2, ~8 min on 2 cores
    python benchmarks/batch_memory.py --files 40 --size 128 --no-factor

Two measurements, in one run:

* **Batch**: ``--files`` HMI-like images go through the library's batch path in this
  process (:func:`enhance_lib.run.batch.enhance_files` with one :class:`enhance_lib.run.enhancer.Enhancer`,
  as the ``enhance`` command does) and the resident memory (VmRSS of
  ``/proc/self/status``) is sampled after each file is written. Reported: RSS after
  file 20 and after the last, and their ratio (the goal: within 10 %).
* **Factor** (unless ``--no-factor``): the peak resident memory (VmHWM) of a whole
  ``enhance.py`` process on images of ``--factor-size``/2 and ``--factor-size``
  (and of 64^2: start-up, libraries, network); how much it grows per float32 byte of
  image between the two sizes, and what is left at the larger (the tiles' work space,
  which does not grow with the image); once for float32 files and once for HMI-like
  ones (32-bit integers, BSCALE, Rice tile-compressed in HDU 1). This is what
  :data:`enhance_lib.io.fits.MEMORY_FACTOR` is taken from.

Results go to stdout and to ``benchmarks/results/batch_memory.{json,md}``.
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.limb import cpu_flags
from benchmarks.predict import cpu_model, run_enhance, synthetic_patch, weights_path
from benchmarks.report import write_results


def vmrss_mb():
    """This process's resident memory now (MB), from /proc/self/status."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status (not Linux?)")


def sampling_enhancer(**options):
    """An Enhancer whose ``write`` records this process's RSS once the file is written."""
    from enhance_lib.run.enhancer import Enhancer

    class SamplingEnhancer(Enhancer):
        def __init__(self, **options):
            super().__init__(**options)
            self.rss_mb = []

        def write(self, prepared, result, output):
            replaced = super().write(prepared, result, output)
            self.rss_mb.append(vmrss_mb())
            return replaced

    return SamplingEnhancer(**options)


def write_hmi_like(path, image, *, compressed):
    """``image`` as float32 in a primary HDU, or as HMI stores it (int32, BSCALE, Rice, HDU 1)."""
    from astropy.io import fits

    if not compressed:
        fits.PrimaryHDU(image).writeto(path)
        return
    hdu = fits.CompImageHDU(np.round(image / 1e-4).astype(np.int32), compression_type="RICE_1")
    hdu.header["BSCALE"], hdu.header["BZERO"] = 1e-4, 0.0
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path)


def batch_rss(folder, weights, files, size):
    """Run ``files`` images of ``size``^2 through enhance_files; RSS (MB) after each and the wall time."""
    from enhance_lib.run.batch import enhance_files

    src, out = folder / "in", folder / "out"
    src.mkdir()
    patterns = [synthetic_patch(size, seed=k) for k in range(8)]  # 8 patterns, rolled: every file differs
    inputs = []
    for k in range(files):
        path = src / f"hmi_{k:04d}.fits"
        write_hmi_like(path, np.roll(patterns[k % 8], k, axis=1), compressed=False)
        inputs.append(str(path))
    outputs = [str(out / Path(p).name) for p in inputs]
    enhancer = sampling_enhancer(kind="intensity", weights=weights)
    start = time.perf_counter()
    outcomes = enhance_files(enhancer, inputs, outputs)
    wall = time.perf_counter() - start
    failed = [o for o in outcomes if o.status != "done"]
    if failed:
        raise RuntimeError(f"{len(failed)} files failed: {failed[0]}")
    return enhancer.rss_mb, wall


def memory_factor(folder, weights, size):
    """Peak RSS of enhance.py on images of ``size``/2 and ``size``: the memory per float32 byte of image.

    The slope between the two sizes is what grows with the image (the factor); the rest,
    at ``size``, over the 64^2 run, is what does not (the tiles' work space).
    """
    rows = []
    for compressed in (False, True):
        peaks = {}
        for n in (64, size // 2, size):
            path = folder / f"f_{n}_{int(compressed)}.fits"
            write_hmi_like(path, synthetic_patch(n, seed=1) * 52000, compressed=compressed)
            _, peaks[n] = run_enhance(["-i", str(path), "-o", str(folder / f"o_{path.name}"), "-w", str(weights),
                                       "-t", "intensity", "--quiet"])
        small, large = (4 * n * n / 2**20 for n in (size // 2, size))
        factor = (peaks[size] - peaks[size // 2]) / (large - small)
        rows.append({"storage": "int32 Rice, HDU 1" if compressed else "float32", "size": size,
                     "peak_64_mb": peaks[64], "peak_half_mb": peaks[size // 2], "peak_mb": peaks[size],
                     "float32_mb": large, "factor": factor,
                     "fixed_mb": peaks[size] - peaks[64] - factor * large})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--files", type=int, default=200)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--factor-size", type=int, default=4096)
    p.add_argument("--no-factor", action="store_true", help="only the batch")
    p.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    args = p.parse_args(argv)
    if args.files < 20:
        p.error("--files must be at least 20 (the RSS after file 20 is the reference)")

    from enhance_lib.nets.backend import describe

    results = {"cpu": cpu_model(), "flags": cpu_flags(), "cores": os.cpu_count(), "backend": describe(),
               "files": args.files, "size": args.size}
    print(f"CPU: {results['cpu']} ({', '.join(results['flags'])}), {results['cores']} cores; {results['backend']}",
          flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        weights, results["weights"] = weights_path(tmp)
        rss, wall = batch_rss(tmp, weights, args.files, args.size)
        results.update(rss_mb=rss, wall_s=wall, rss_20_mb=rss[19], rss_last_mb=rss[-1],
                       growth=rss[-1] / rss[19] - 1)
        print(json.dumps({k: results[k] for k in ("wall_s", "rss_20_mb", "rss_last_mb", "growth")}), flush=True)
        if not args.no_factor:
            results["factor"] = memory_factor(tmp, weights, args.factor_size)
    text = render(results)
    write_results("batch_memory", results, text, folder=args.out)
    print(text)


def render(results):
    """The Markdown text of a results dictionary (as saved in batch_memory.json)."""
    rss = results["rss_mb"]
    n = results["files"]
    points = sorted({k for k in (1, 10, 20, 50, 100, n) if k <= n})
    lines = [
        f"CPU: {results['cpu']} ({', '.join(results['flags'])}), {results['cores']} cores; {results['backend']}; "
        f"weights: {results['weights']}.",
        "",
        f"One batch (`enhance_files`, one `Enhancer`) of {n} files of {results['size']}^2 in "
        f"{results['wall_s']:.0f} s ({results['wall_s'] / n:.2f} s/file):",
        "",
        "| after file | " + " | ".join(str(k) for k in points) + " |",
        "|---|" + "---|" * len(points),
        "| resident memory | " + " | ".join(f"{rss[k - 1]:.0f} MB" for k in points) + " |",
        "",
        f"RSS after file {n} / after file 20: {1 + results['growth']:.3f} ({100 * results['growth']:+.1f} %); "
        f"min {min(rss[19:]):.0f} MB, max {max(rss[19:]):.0f} MB from file 20 on.",
    ]
    if results.get("factor"):
        size = results["factor"][0]["size"]
        lines += ["", f"| storage | peak RSS of enhance.py, 64^2 / {size // 2}^2 / {size}^2 | "
                  f"growth per float32 byte of image ({size // 2}^2 to {size}^2) | the rest at {size}^2 |",
                  "|---|---|---|---|"]
        for r in results["factor"]:
            lines.append(f"| {r['storage']} | {r['peak_64_mb']:.0f} / {r['peak_half_mb']:.0f} / {r['peak_mb']:.0f} MB "
                         f"| {r['factor']:.1f}x | {r['fixed_mb']:.0f} MB |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
