#!/usr/bin/env python
"""Prediction speed and memory, from 512^2 to a 4096^2 full disk, on each Keras backend.

    python benchmarks/predict.py                      # TensorFlow, all sizes, ~5 min on 2 cores
    python benchmarks/predict.py --backend jax        # the same on JAX (or torch)
    python benchmarks/predict.py --sizes 512 1024 --no-full-disk
    python benchmarks/predict.py --compare tensorflow jax torch   # the backends side by side
    python benchmarks/predict.py --checkouts ../old . --sizes 1024   # a change's cost, two checkouts

For each size it runs the whole ``enhance.py`` process on a synthetic HMI-like
image (the 4096^2 one is a limb-darkened full disk with NaN off-limb) and
reports wall time, input megapixels per second, peak resident memory of the
process, and the effective GFLOP/s (keepsize depth 5 / 64 filters costs
553,792 multiply-adds = 1.108 MFLOP per input pixel) next to this machine's
float32 matrix-product peak, measured in the same run with the same backend.
The forward check every output carries (``ENHFWD``) is timed on the full disk against the
prediction it checks (``--forward-check``: that alone). In the same run it times a plain
whole-image ``model(x)``, ``model.predict`` and
the compiled model (``tf.function``, ``jax.jit`` or PyTorch inference mode) of
the same network where they fit in memory, the tiled predictor on the same
images, a tile-size sweep and bfloat16 against float32 (speed and error).

``--checkouts OLD NEW`` runs the whole ``enhance.py -t intensity`` process of two checkouts
(folders, each with its own shipped network) on 1024^2 and the full disk, interleaved
(old, new, old, new...) ``--pairs`` times, and reports each's median wall time, CPU time
(user + system, all threads) and peak memory and the new over the old (``predict_checkouts.{json,md}``): a change's cost, measured in one run.

``--compare`` runs, in one run, the whole ``enhance.py`` process (1024^2 and
the full disk) and the tiled predictor alone (1024^2, after a warm-up) on each
backend named, and reports each as a ratio to the first.

Results go to stdout (a Markdown table) and to ``benchmarks/results/``:
``predict.{json,md}`` for TensorFlow, ``predict_BACKEND`` for the others and
``backends`` for ``--compare``.
"""

import argparse
import contextlib
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.report import write_results

FLOP_PER_PIXEL = 2 * 553_792  # keepsize depth 5, 64 filters


def count_macs(depth=5, filters=64):
    """Multiply-adds per input pixel of keepsize (checks the quoted 553,792)."""
    n = filters
    before = 9 * n + depth * 2 * 9 * n * n + 9 * n * n  # at input resolution
    after = 4 * (9 * n * n + n)  # 3x3 and 1x1 at 2x resolution (4 pixels)
    return before + after


def synthetic_patch(n, seed=0):
    """Quiet-Sun-like granulation pattern at HMI sampling (I/I_qs ~ 1, ~4 % rms)."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((n, n))
    k = np.fft.fftfreq(n)
    kk = np.hypot(*np.meshgrid(k, k))
    field = np.real(np.fft.ifft2(np.fft.fft2(noise) * np.exp(-((kk / 0.12) ** 2))))
    return (1 + 0.04 * field / field.std()).astype(np.float32)


def synthetic_full_disk(n=4096, seed=0):
    """A limb-darkened full disk with NaN off-limb and an HMI-like header."""
    from astropy.io import fits

    cdelt, rsun = 0.504, 960.0
    radius = rsun / cdelt
    c = (n - 1) / 2
    y, x = np.mgrid[:n, :n]
    r = np.hypot(x - c, y - c) / radius
    mu = np.sqrt(np.clip(1 - r**2, 0, None))
    image = synthetic_patch(n, seed) * (1 - 0.6 * (1 - mu) - 0.2 * (1 - mu**2)) * 52000
    image[r >= 1] = np.nan
    header = fits.Header()
    for key, value in (
        ("CTYPE1", "HPLN-TAN"),
        ("CTYPE2", "HPLT-TAN"),
        ("CUNIT1", "arcsec"),
        ("CUNIT2", "arcsec"),
        ("CDELT1", cdelt),
        ("CDELT2", cdelt),
        ("CRPIX1", c + 1),
        ("CRPIX2", c + 1),
        ("CRVAL1", 0.0),
        ("CRVAL2", 0.0),
        ("RSUN_OBS", rsun),
    ):
        header[key] = value
    return image.astype(np.float32), header


def cpu_model():
    """The processor's model name (Linux), else the platform's machine type."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def matmul_peak(n=4096, repeats=5):
    """float32 GFLOP/s of a large matrix product on the backend's device (all cores)."""
    from enhance_lib.nets.backend import backend_name, import_keras

    keras = import_keras()
    a = keras.random.normal((n, n))
    b = keras.random.normal((n, n))
    name = backend_name()
    if name == "tensorflow":
        import tensorflow as tf

        f = tf.function(tf.matmul)
    elif name == "jax":
        import jax

        f = jax.jit(lambda x, y: x @ y)
    else:
        f = keras.ops.matmul
    keras.ops.convert_to_numpy(f(a, b)[:1, :1])
    best = np.inf
    for _ in range(repeats):
        t = time.perf_counter()
        keras.ops.convert_to_numpy(f(a, b)[:1, :1])  # waits for the product
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best / 1e9


# Runs enhance.py in this process and reports the process's peak resident memory
# (VmHWM) on the last stderr line. getrusage's ru_maxrss would not do: it keeps the
# peak of the parent's pages that the child had between fork and exec.
_WRAPPER = """
import runpy, sys
sys.argv = ["enhance.py"] + sys.argv[1:]
try:
    runpy.run_path("enhance.py", run_name="__main__")
except SystemExit as exc:
    if exc.code:
        raise
with open("/proc/self/status") as f:
    print(next(line for line in f if line.startswith("VmHWM")), file=sys.stderr)
"""


def run_enhance(args, env=None, *, root=REPO):
    """Run ``enhance.py ARGS`` as a new process (of the checkout ``root``); return wall seconds
    and its peak RSS (MB)."""
    argv = [sys.executable, "-c", _WRAPPER, *args]
    if root != REPO:  # that checkout's enhance_lib, not an installed one
        env = dict(os.environ if env is None else env, PYTHONPATH=str(root))
    t = time.perf_counter()
    proc = subprocess.run(argv, cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"enhance.py {' '.join(args)} failed: {proc.stderr[-2000:]}")
    peak_kb = int(proc.stderr.strip().splitlines()[-1].split()[1])
    return wall, peak_kb / 1024


def weights_path(tmp):
    """The shipped intensity network, or a random keepsize depth 5 / 64 of the same cost."""
    shipped = REPO / "network" / "intensity.weights.h5"
    if shipped.is_file():
        return shipped, "shipped network/intensity.weights.h5"
    from enhance_lib.nets.config import NetworkConfig
    from enhance_lib.nets.models import build_model
    from enhance_lib.nets.weights import save_weights

    config = NetworkConfig()
    path = Path(tmp) / "random.weights.h5"
    save_weights(build_model(config), path, config=config)
    return path, "random keepsize depth 5 / 64 filters"


def time_call(func, repeats=1):
    func()  # warm-up (tracing)
    best = np.inf
    for _ in range(repeats):
        t = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - t)
    return best


@contextlib.contextmanager
def keras_ops_everywhere(on):
    """Within the block (when ``on``), the fast network uses keras.ops on every backend."""
    import enhance_lib.nets.fast as inference

    saved = inference.tensor_ops
    if on:
        inference.tensor_ops = lambda device="cpu": inference.KerasOps()
    try:
        yield
    finally:
        inference.tensor_ops = saved


def device_name():
    """The device the backend computes on, in words."""
    from enhance_lib.nets.backend import gpu_names

    gpus = gpu_names()
    return f"GPU: {', '.join(gpus)}" if gpus else f"CPU: {os.cpu_count()} cores, {cpu_model()}"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--backend", choices=("tensorflow", "jax", "torch"),
                   default=os.environ.get("KERAS_BACKEND") or "tensorflow", help="Keras backend (default $KERAS_BACKEND or tensorflow)")
    p.add_argument("--compare", nargs="+", metavar="BACKEND", help="compare these backends (the first is the reference)")
    p.add_argument("--predict-only", type=int, metavar="N", help=argparse.SUPPRESS)  # --compare's child
    p.add_argument("--sizes", type=int, nargs="+", default=[512, 1024, 2048])
    p.add_argument("--no-full-disk", action="store_true")
    p.add_argument("--plain-max", type=int, help="largest size for plain model(x) (default 1024; 512 on PyTorch, "
                   "whose eager model(x) keeps the autograd graph: over 24 GB at 1024^2)")
    p.add_argument("--sweep", type=int, nargs="*", default=[128, 256, 384, 512, 768, 1024])
    p.add_argument("--threads", type=lambda v: tuple(int(t) for t in v.split(",")), nargs="*",
                   default=[(0, 0), (1, 1), (2, 1), (2, 2)],
                   help="intra,inter TensorFlow thread counts to compare on 1024^2 (0: TF default)")
    p.add_argument("--checkouts", nargs=2, metavar=("OLD", "NEW"),
                   help="the whole enhance.py process of two checkouts, interleaved (predict_checkouts.{json,md})")
    p.add_argument("--pairs", type=int, default=3, help="with --checkouts: old-new pairs per image (default 3)")
    p.add_argument("--forward-check", action="store_true",
                   help="only the forward check's cost on the 4096^2 full disk (predict_forward.{json,md})")
    p.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    p.add_argument("--render", metavar="JSON", help="only print the tables of saved results")
    args = p.parse_args(argv)
    if args.render:
        data = json.loads(Path(args.render).read_text())
        if "check_s" in data:
            print(render_forward(data))
        elif "checkouts" in data:
            print(render_checkouts(data))
        else:
            print(render_compare(data) if "backends" in data else render(data))
        return
    os.environ["KERAS_BACKEND"] = args.backend  # before Keras is imported; children inherit it
    if args.compare:
        return compare(args)
    if args.checkouts:
        return checkouts(args)
    if args.predict_only:
        return predict_only(args.predict_only)
    if args.forward_check:
        row = forward_check_cost()
        text = f"Device: {device_name()}; backend: {describe_backend()}.\n\n" + render_forward(row)
        write_results("predict_forward", row | {"device": device_name(), "backend": describe_backend()}, text,
                      folder=args.out)
        print(text)
        return

    from astropy.io import fits

    from enhance_lib.nets.backend import describe, import_keras
    from enhance_lib.nets.fast import compile_model
    from enhance_lib.nets.weights import load_network
    from enhance_lib.run.tiling import Predictor

    assert count_macs() == 553_792
    peak = matmul_peak()
    results = {"device": device_name(), "backend": describe(), "matmul_gflops": peak, "rows": [], "plain": [],
               "ablation": [], "threads": [], "sweep": [], "bfloat16": {}}
    with tempfile.TemporaryDirectory() as tmp:
        weights, weights_note = weights_path(tmp)
        results["weights"] = weights_note
        cases = [(n, synthetic_patch(n), None) for n in args.sizes]
        if not args.no_full_disk:
            disk, header = synthetic_full_disk(4096)
            cases.append(("4096 full disk", disk, header))
        for label, image, header in cases:
            src = Path(tmp) / "in.fits"
            fits.PrimaryHDU(image, header=header).writeto(src, overwrite=True)
            wall, rss = run_enhance(["-i", str(src), "-o", str(Path(tmp) / "out.fits"), "-w", str(weights), "-t", "intensity", "--quiet"])
            finite = np.isfinite(image)
            mpx = image.size / 1e6
            row = {
                "size": label,
                "wall_s": wall,
                "mpx_per_s": mpx / wall,
                "peak_rss_mb": rss,
                "on_disk_fraction": float(finite.mean()),
                "gflops_effective": FLOP_PER_PIXEL * finite.sum() / wall / 1e9,
            }
            results["rows"].append(row)
            print(json.dumps(row), flush=True)

        net, config = load_network(weights)
        keras = import_keras()
        compiled = compile_model(net)
        plain_max = args.plain_max or (512 if args.backend == "torch" else 1024)
        for n in [s for s in args.sizes if s <= plain_max]:
            x = synthetic_patch(n)
            tiled = Predictor(net, config)
            t_tiled = time_call(lambda tiled=tiled, x=x: tiled.run(x))
            t = time.perf_counter()
            keras.ops.convert_to_numpy(net(x[None, :, :, None], training=False))  # eager: nothing to trace
            t_eager = time.perf_counter() - t
            t_predict = time_call(lambda x=x: net.predict(x[None, :, :, None], verbose=0), repeats=1)
            t_fn = time_call(lambda x=x: compiled(x), repeats=1)
            row = {
                "size": n,
                "tiled_s": t_tiled,
                "model_call_s": t_eager,
                "model_predict_s": t_predict,
                "compiled_model_s": t_fn,
                "tiled_speedup_vs_model_call": t_eager / t_tiled,
                "tiled_speedup_vs_predict": t_predict / t_tiled,
            }
            results["plain"].append(row)
            print(json.dumps(row), flush=True)

        x = synthetic_patch(1024)
        variants = {
            "plain BN network, tiled": dict(fold=False, subpixel=False),
            "BN folded": dict(fold=True, subpixel=False),
            "BN folded + sub-pixel tail (default)": dict(fold=True, subpixel=True),
        }
        if args.backend == "torch":  # the default's network through keras.ops instead of torch.nn.functional
            variants["default, but keras.ops (channels-last)"] = dict(ops="keras")
        for name, options in variants.items():
            ops = options.pop("ops", None)
            with keras_ops_everywhere(ops == "keras"):
                pred = Predictor(net, config, **options)
                t = time.perf_counter()
                pred.run(x)  # the first call traces or compiles
                first = time.perf_counter() - t
                t = time_call(lambda pred=pred: pred.run(x))
            results["ablation"].append({"variant": name, "s": t, "first_s": first, "mpx_per_s": x.size / t / 1e6})
            print(json.dumps(results["ablation"][-1]), flush=True)

        src = Path(tmp) / "threads.fits"
        fits.PrimaryHDU(x).writeto(src, overwrite=True)
        for intra, inter in args.threads if args.backend == "tensorflow" else ():
            env = dict(os.environ, TF_NUM_INTRAOP_THREADS=str(intra), TF_NUM_INTEROP_THREADS=str(inter))
            wall, rss = run_enhance(["-i", str(src), "-o", str(Path(tmp) / "t.fits"), "-w", str(weights), "--quiet"], env=env)
            results["threads"].append({"intra": intra, "inter": inter, "wall_s": wall})
            print(json.dumps(results["threads"][-1]), flush=True)

        for tile in args.sweep:
            pred = Predictor(net, config, tile=tile)
            t = time_call(lambda pred=pred: pred.run(x), repeats=1)
            results["sweep"].append({"tile": tile, "s": t, "mpx_per_s": x.size / t / 1e6})
            print(json.dumps(results["sweep"][-1]), flush=True)

        results["forward_check"] = forward_check_cost() if not args.no_full_disk else None

        p32 = Predictor(net, config)
        p16 = Predictor(net, config, precision="bfloat16")
        t32 = time_call(lambda: p32.run(x))
        t16 = time_call(lambda: p16.run(x))
        y32, y16 = p32.run(x), p16.run(x)
        results["bfloat16"] = {
            "size": 1024,
            "float32_s": t32,
            "bfloat16_s": t16,
            "speedup": t32 / t16,
            "relative_rms_error": float(np.sqrt(np.mean((y16 - y32) ** 2)) / np.sqrt(np.mean(y32**2))),
            "max_abs_error_over_range": float(np.abs(y16 - y32).max() / np.ptp(y32)),
        }
        print(json.dumps(results["bfloat16"]), flush=True)

    text = render(results)
    write_results("predict" if args.backend == "tensorflow" else f"predict_{args.backend}", results, text, folder=args.out)
    print(text)


def forward_check_cost(n=4096):
    """The forward check's cost on an ``n``^2 full disk, in-process, as a ratio to the prediction
    it checks (the Enhancer's ``predict`` then its ``check``, with and without the residual
    image), measured in the same run."""
    from enhance_lib import Enhancer

    disk, header = synthetic_full_disk(n)
    enhancer = Enhancer(kind="intensity")
    prepared = enhancer.prepare_data(disk, header)
    t = time.perf_counter()
    result = enhancer.predict(prepared)
    predict_s = time.perf_counter() - t
    check_s = time_call(lambda: enhancer.forward_checks(prepared, result), repeats=2)
    residual_s = time_call(lambda: enhancer.forward_checks(prepared, result, residual=True), repeats=2)
    row = {"size": f"{n} full disk", "predict_s": predict_s, "check_s": check_s, "check_residual_s": residual_s,
           "check_over_predict": check_s / predict_s, "check_residual_over_predict": residual_s / predict_s}
    print(json.dumps(row), flush=True)
    return row


def render_forward(row):
    return (f"| image | prediction | forward check (ENHFWD) | with the residual image |\n|---|---|---|---|\n"
            f"| {row['size']} | {row['predict_s']:.1f} s | {row['check_s']:.2f} s "
            f"({100 * row['check_over_predict']:.1f} %) | {row['check_residual_s']:.2f} s "
            f"({100 * row['check_residual_over_predict']:.1f} %) |")


def describe_backend():
    from enhance_lib.nets.backend import describe

    return describe()


def predict_only(n):
    """Print the tiled predictor's best time on an n^2 image (after a warm-up), as JSON."""
    from enhance_lib.nets.backend import describe
    from enhance_lib.nets.weights import load_network
    from enhance_lib.run.tiling import Predictor

    with tempfile.TemporaryDirectory() as tmp:
        weights, _ = weights_path(tmp)
        net, config = load_network(weights)
    x = synthetic_patch(n)
    pred = Predictor(net, config)
    t = time_call(lambda: pred.run(x), repeats=2)
    print(json.dumps({"backend": describe(pred.device), "size": n, "s": t, "mpx_per_s": x.size / t / 1e6}))


def compare(args):
    """Each backend of ``args.compare`` on the same images, in one run."""
    from astropy.io import fits

    results = {"device": f"CPU: {os.cpu_count()} cores, {cpu_model()}", "backends": [], "rows": []}
    with tempfile.TemporaryDirectory() as tmp:
        weights, results["weights"] = weights_path(tmp)
        cases = [(f"{n}^2", synthetic_patch(n), None) for n in (1024,)]
        if not args.no_full_disk:
            disk, header = synthetic_full_disk(4096)
            cases.append(("4096^2 full disk", disk, header))
        inputs = []
        for k, (label, image, header) in enumerate(cases):
            inputs.append((label, Path(tmp) / f"in{k}.fits"))
            fits.PrimaryHDU(image, header=header).writeto(inputs[-1][1])
        for backend in args.compare:
            env = dict(os.environ, KERAS_BACKEND=backend)
            child = [sys.executable, __file__, "--backend", backend, "--predict-only", "1024"]
            proc = subprocess.run(child, env=env, capture_output=True, text=True, check=True)
            row = {"backend": backend, "predict": json.loads(proc.stdout.strip().splitlines()[-1]), "process": []}
            for label, src in inputs:
                wall, rss = run_enhance(["-i", str(src), "-o", str(Path(tmp) / "out.fits"), "-w", str(weights), "--quiet"], env=env)
                row["process"].append({"image": label, "wall_s": wall, "peak_rss_mb": rss})
            results["rows"].append(row)
            results["backends"].append(row["predict"]["backend"])
            print(json.dumps(row), flush=True)
    text = render_compare(results)
    write_results("backends", results, text, folder=args.out)
    print(text)


def checkouts(args):
    """The whole ``enhance.py`` process of two checkouts on the same images, interleaved, in one run."""
    from astropy.io import fits

    roots = [Path(root).resolve() for root in args.checkouts]
    commits = [subprocess.run(["git", "-C", str(root), "log", "-1", "--format=%h %s"], capture_output=True,
                              text=True).stdout.strip()[:72] or str(root) for root in roots]
    results = {"device": f"CPU: {os.cpu_count()} cores, {cpu_model()}", "backend": describe_backend(),
               "checkouts": commits, "pairs": args.pairs, "rows": []}
    with tempfile.TemporaryDirectory() as tmp:
        cases = [(f"{n}^2", synthetic_patch(n), None) for n in args.sizes]
        if not args.no_full_disk:
            disk, header = synthetic_full_disk(4096)
            cases.append(("4096^2 full disk", disk, header))
        for label, image, header in cases:
            src = Path(tmp) / "in.fits"
            fits.PrimaryHDU(image, header=header).writeto(src, overwrite=True)
            runs = [[], []]
            for _ in range(args.pairs):
                for k, root in enumerate(roots):
                    out = str(Path(tmp) / f"out{k}.fits")
                    # the child's CPU time too: on a shared machine it varies less than the wall time
                    before = resource.getrusage(resource.RUSAGE_CHILDREN)
                    wall, rss = run_enhance(["-i", str(src), "-o", out, "-t", "intensity", "--quiet"], root=root)
                    after = resource.getrusage(resource.RUSAGE_CHILDREN)
                    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
                    runs[k].append((wall, rss, cpu))
            row = {"image": label, "wall_s": [[w for w, _, _ in r] for r in runs],
                   "peak_rss_mb": [[m for _, m, _ in r] for r in runs], "cpu_s": [[c for _, _, c in r] for r in runs]}
            row["time_ratio"] = float(np.median(row["wall_s"][1]) / np.median(row["wall_s"][0]))
            row["cpu_ratio"] = float(np.median(row["cpu_s"][1]) / np.median(row["cpu_s"][0]))
            row["memory_ratio"] = float(np.median(row["peak_rss_mb"][1]) / np.median(row["peak_rss_mb"][0]))
            results["rows"].append(row)
            print(json.dumps(row), flush=True)
    text = render_checkouts(results)
    write_results("predict_checkouts", results, text, folder=args.out)
    print(text)


def render_checkouts(results):
    """The Markdown table of a ``--checkouts`` run (as saved in predict_checkouts.json)."""
    old, new = results["checkouts"]
    lines = [f"Device: {results['device']}; backend: {results['backend']}; `enhance.py -t intensity`, the shipped "
             f"network of each; median of {results['pairs']} runs each, interleaved.", "",
             f"Old: {old}. New: {new}.", "",
             "| image | old: time (CPU), peak RSS | new: time (CPU), peak RSS | new / old: time, CPU, memory |",
             "|---|---|---|---|"]
    for r in results["rows"]:
        cells = [f"{np.median(w):.1f} s ({np.median(c):.1f} s), {np.median(m) / 1024:.2f} GB"
                 for w, c, m in zip(r["wall_s"], r["cpu_s"], r["peak_rss_mb"], strict=True)]
        lines.append(f"| {r['image']} | {cells[0]} | {cells[1]} | {r['time_ratio']:.3f}x, {r['cpu_ratio']:.3f}x, "
                     f"{r['memory_ratio']:.3f}x |")
    return "\n".join(lines)


def render_compare(results):
    """The Markdown table of a ``--compare`` run (as saved in backends.json)."""
    rows = results["rows"]
    ref = rows[0]
    labels = [p["image"] for p in ref["process"]]
    lines = [
        f"Device: {results['device']}; weights: {results['weights']}. Ratios: time over {ref['backend']}'s.",
        "",
        "| backend | tiled predictor, 1024^2 | " + " | ".join(f"enhance.py {label} (peak RSS)" for label in labels) + " |",
        "|---" * (2 + len(labels)) + "|",
    ]
    for row in rows:
        cells = [f"{row['predict']['backend']}", f"{row['predict']['s']:.2f} s ({row['predict']['s'] / ref['predict']['s']:.2f}x)"]
        for p, q in zip(row["process"], ref["process"], strict=False):
            cells.append(f"{p['wall_s']:.1f} s ({p['wall_s'] / q['wall_s']:.2f}x; {p['peak_rss_mb'] / 1024:.2f} GB)")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def render(results):
    """The Markdown tables of a results dictionary (as saved in predict.json)."""
    peak = results["matmul_gflops"]
    backend = results.get("backend", "TensorFlow")
    lines = [
        f"Device: {results['device']}; backend: {backend}; float32 matrix-product peak {peak:.0f} GFLOP/s; weights: {results['weights']}.",
        "",
        "| image | wall time (whole process) | input Mpx/s | peak RSS | effective GFLOP/s (on-disk px) |",
        "|---|---|---|---|---|",
    ]
    for r in results["rows"]:
        lines.append(f"| {r['size']} | {r['wall_s']:.1f} s | {r['mpx_per_s']:.3f} | {r['peak_rss_mb'] / 1024:.2f} GB | {r['gflops_effective']:.0f} ({100 * r['gflops_effective'] / peak:.0f} % of matmul peak) |")
    lines += ["", "| image | tiled (ours) | plain model(x) | model.predict | compiled model | tiled speed-up vs model(x) / vs compiled |", "|---|---|---|---|---|---|"]
    for r in results["plain"]:
        fn = r.get("compiled_model_s", r.get("tf_function_s"))
        lines.append(f"| {r['size']}^2 | {r['tiled_s']:.2f} s | {r['model_call_s']:.2f} s | {r['model_predict_s']:.2f} s | {fn:.2f} s | {r['tiled_speedup_vs_model_call']:.2f}x / {fn / r['tiled_s']:.2f}x |")
    lines += ["", "| 1024^2, default tiles | time | Mpx/s | first call (traces/compiles) |", "|---|---|---|---|"]
    for r in results["ablation"]:
        first = f"{r['first_s']:.2f} s" if "first_s" in r else ""
        lines.append(f"| {r['variant']} | {r['s']:.2f} s | {r['mpx_per_s']:.3f} | {first} |")
    if results["threads"]:
        lines += ["", "| TF threads intra, inter (0 = default) | enhance.py 1024^2 wall |", "|---|---|"]
    for r in results["threads"]:
        lines.append(f"| {r['intra']}, {r['inter']} | {r['wall_s']:.1f} s |")
    lines += ["", "| tile | 1024^2 time | Mpx/s |", "|---|---|---|"]
    for r in results["sweep"]:
        lines.append(f"| {r['tile']} | {r['s']:.2f} s | {r['mpx_per_s']:.3f} |")
    b = results["bfloat16"]
    lines += ["", f"bfloat16 on 1024^2: {b['speedup']:.2f}x the float32 speed, relative RMS error {b['relative_rms_error']:.2e}, max error {b['max_abs_error_over_range']:.2e} of the range."]
    if results.get("forward_check"):
        lines += ["", render_forward(results["forward_check"])]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
