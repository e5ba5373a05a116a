#!/usr/bin/env python
"""The limb of enhanced full disks, before and after the limb treatment (issues #15, #21).

    python benchmarks/limb.py                    # 1024^2 (several disks) and 4096^2, ~12 min on 2 cores
    python benchmarks/limb.py --sizes 1024       # 1024^2 only
    python benchmarks/limb.py --render benchmarks/results/limb.json
    python benchmarks/limb.py --cost --sizes 4096 # the treatment alone, without the network (~2 min)

For each shipped network (intensity, blos) and each synthetic full disk with a
pixel-integrated limb (:func:`enhance_lib.training.synthetic_sun.limb_disk`: the limb pixels hold the
profile integrated over their covered part, NaN off the disk; intensity with the
Neckel & Labs 6173 A limb darkening, with and without 4 % granulation-like texture;
blos a random smooth field), and for the same disk (R = 0.465 n) blurred as HMI's PSF
blurs it (:func:`blurred_disk`: a Gaussian core of 0.5, 1.0 or 1.5 pixel plus the wings
of :func:`enhance_lib.instrument.psf.hmi_psf`, on a grid twice as fine at
1024^2, on the image's own pixels at 4096^2; NaN off the disk as HMI's images),
it runs ``enhance_array`` without (``limb=False``, the previous pipeline) and with
the limb treatment and reports
:func:`enhance_lib.training.evaluation.limb_metrics`: negative output pixels on the disk,
the largest per-ring deviation of the 2x2-binned output over the input (rings of one
input pixel from 15 inside to the outermost partial ring, relative to the interior),
the overshoot of the azimuthal profile within 5 pixels of the limb, the mean-field
deviation (blos), and the largest change of the output more than 15 input pixels
inside the limb, and the limb's blur that the treatment estimated
(:func:`enhance_lib.sun.limb_blur.estimate_blur`). Writes ``benchmarks/results/limb.{json,md}``
and the figure ``limb_section.png`` (a radial section across the limb: input, old
output, new output; a sharp disk at the largest size and the most blurred ones).
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.predict import cpu_model
from benchmarks.report import write_results


def cpu_flags():
    """The vector extensions of this CPU that matter for convolutions."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return sorted(flags & {"avx2", "avx512f", "avx512_bf16", "amx_tile", "fma"})
    except OSError:
        pass
    return []


def smooth_field(n, sigma, rng):
    """Unit-rms Gaussian random field with correlation ``sigma`` pixels."""
    f = np.fft.fftfreq(n)
    transfer = np.exp(-2 * (np.pi * sigma) ** 2 * (f[:, None] ** 2 + f[None, :] ** 2))
    field = np.real(np.fft.ifft2(np.fft.fft2(rng.standard_normal((n, n))) * transfer))
    return field / field.std()


BLURS = (0.5, 1.0, 1.5)  # Gaussian cores (input pixels) of the blurred disks at 1024^2
BLUR_4096 = 1.0


def cases(n):
    """(label, geometry, texture?, core) for an n^2 image: several radii and sub-pixel centres,
    sharp (core None) and blurred by a Gaussian core of ``core`` pixels plus the HMI PSF's wings."""
    from enhance_lib.sun.disk import DiskGeometry

    c = (n - 1) / 2
    main = DiskGeometry(c + 0.31, c - 0.17, 0.465 * n)
    if n >= 4096:
        return [("R=0.465n", main, True, None), (f"R=0.465n core {BLUR_4096} px + wings", main, True, BLUR_4096)]
    return [
        ("R=0.465n", main, True, None),
        ("R=0.40n", DiskGeometry(c - 0.42, c + 0.23, 0.40 * n + 0.37), True, None),
        ("R=0.45n flat", DiskGeometry(c + 0.5, c + 0.5, 0.45 * n + 0.71), False, None),
    ] + [(f"R=0.465n core {core} px + wings", main, True, core) for core in BLURS]


def hmi_blur(core, oversample=1):
    """A Gaussian core of ``core`` HMI pixels (sigma) plus the wings of the HMI PSF (their shape and
    their share of the light, 39 %, as in :func:`enhance_lib.instrument.psf.hmi_psf`),
    tabulated ``oversample`` times finer than HMI's pixels; unit sum."""
    from enhance_lib.instrument.psf import hmi_psf
    from enhance_lib.nets.config import HMI_SCALE

    scale = HMI_SCALE / oversample
    full, gauss, wing = (hmi_psf(pixel_scale=scale, eps=e) for e in (None, 0.0, 1.0))
    share = float(np.vdot(full - gauss, wing - gauss) / np.vdot(wing - gauss, wing - gauss))
    r = np.arange(wing.shape[0]) - wing.shape[0] // 2
    g = np.exp(-0.5 * (r / (core * oversample)) ** 2)
    return (1 - share) * np.outer(g, g) / np.outer(g, g).sum() + share * wing


def blurred_disk(kind, n, geometry, core, seed=0):
    """The disk of :func:`make_disk` as HMI sees it: rendered twice as fine (1024^2 and less) or
    on its own pixels, blurred by :func:`hmi_blur`, binned; NaN off the disk."""
    from scipy.signal import oaconvolve

    from enhance_lib.sun.limb_integrals import disk_coverage

    f = 2 if n <= 1024 else 1
    fine = make_disk(kind, f * n, geometry.upsampled(f), True, seed=seed, texture_pixels=f)
    blurred = oaconvolve(np.nan_to_num(fine.astype(np.float64)), hmi_blur(core, f), mode="same")
    image = blurred.reshape(n, f, n, f).mean(axis=(1, 3)).astype(np.float32)
    image[disk_coverage((n, n), geometry) == 0] = np.nan
    return image


def make_disk(kind, n, geometry, texture, seed=0, texture_pixels=1):
    """A sharp disk; its texture drawn on pixels ``texture_pixels`` times as large."""
    from enhance_lib.sun.limb_darkening import NECKEL_LABS_6173
    from enhance_lib.training.synthetic_sun import limb_disk

    rng = np.random.default_rng(seed)
    m = n // texture_pixels
    block = np.ones((texture_pixels, texture_pixels))
    if kind == "intensity":
        tex = np.kron(1 + 0.04 * smooth_field(m, 1.0, rng), block) if texture else None
        profile = lambda mu: 5.2e4 * np.polynomial.polynomial.polyval(mu, NECKEL_LABS_6173)  # noqa: E731
        return limb_disk((n, n), geometry, profile=profile, texture=tex)
    return limb_disk((n, n), geometry, texture=np.kron(400 * smooth_field(m, 3.0, rng), block))


def section(image, old, new, geometry, width=12):
    """Values along the row through the disk centre, from ``width`` pixels inside the right limb to 3 beyond."""
    row = round(geometry.y0)
    x_in = np.arange(int(geometry.x0 + geometry.radius) - width, int(geometry.x0 + geometry.radius) + 4)
    x_out = np.arange(2 * x_in[0], 2 * x_in[-1] + 2)
    return {
        "x_in": (x_in - geometry.x0 - geometry.radius).tolist(),
        "input": image[row, x_in].tolist(),
        "x_out": ((x_out - 0.5) / 2 - geometry.x0 - geometry.radius).tolist(),
        "old": old[2 * row, x_out].tolist(),
        "new": new[2 * row, x_out].tolist(),
    }


def radial_profile(image, old, new, geometry, *, kind, inside=12, outside=1.5, step=0.25):
    """Azimuthal means against r - R (input pixels) in bins of ``step``: the input at its
    pixel centres, the outputs at theirs (x2 grid); for blos, of abs(B). NaN pixels count
    as missing (off the limb), 0-valued output pixels off the disk as 0."""
    edges = np.arange(-inside, outside + step / 2, step)
    centres = (edges[:-1] + edges[1:]) / 2

    def profile(values, g, factor):
        ny, nx = values.shape
        y, x = np.mgrid[:ny, :nx]
        d = (np.hypot(x - g.x0, y - g.y0) - g.radius) / factor
        keep = np.isfinite(values) & (d >= edges[0]) & (d < edges[-1])
        v = np.abs(values[keep]) if kind == "blos" else values[keep]
        index = np.digitize(d[keep], edges) - 1
        sums = np.bincount(index, weights=v, minlength=len(centres))
        counts = np.bincount(index, minlength=len(centres))
        with np.errstate(invalid="ignore"):
            return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)

    fine = geometry.upsampled(2)
    return {
        "r": centres.tolist(),
        "input": profile(image, geometry, 1).tolist(),
        "old": profile(old, fine, 2).tolist(),
        "new": profile(new, fine, 2).tolist(),
    }


def run(sizes, weights=None):
    from enhance_lib.nets.backend import describe
    from enhance_lib.nets.weights import default_weights, load_network
    from enhance_lib.run.tiling import Predictor, enhance_array
    from enhance_lib.sun.disk import disk_header
    from enhance_lib.sun.limb_blur import estimate_blur
    from enhance_lib.sun.normalization import make_normalizer
    from enhance_lib.training.evaluation import limb_metrics

    results = {"cpu": cpu_model(), "flags": cpu_flags(), "backend": describe(), "rows": [], "sections": {},
               "profiles": {}}
    print(f"CPU: {results['cpu']} ({', '.join(results['flags'])}); {results['backend']}", flush=True)
    for kind in ("intensity", "blos"):
        net, config = load_network(weights[kind] if weights else default_weights(kind))
        predictor = Predictor(net, config)
        for n in sizes:
            for label, geometry, texture, core in cases(n):
                if kind == "blos" and not texture:
                    continue
                image = make_disk(kind, n, geometry, texture) if core is None else blurred_disk(kind, n, geometry, core)
                norm = make_normalizer(image, disk_header(geometry, pixel_scale=0.504 * 4096 / n), kind=kind)
                coefficients = norm.profile.coefficients if norm.profile is not None else None
                blur = estimate_blur(image, norm.geometry, coefficients, signed=kind == "blos")
                t0 = time.perf_counter()
                old = enhance_array(image, predictor, norm, limb=False)
                t1 = time.perf_counter()
                new = enhance_array(image, predictor, norm, limb=True)
                t2 = time.perf_counter()
                for name, out, ref, seconds in (("before", old, None, t1 - t0), ("after", new, old, t2 - t1)):
                    m = limb_metrics(image, out, norm.geometry, kind=kind, reference=ref)
                    m.update(kind=kind, size=n, disk=label, version=name, seconds=round(seconds, 2),
                             rings={str(k): v for k, v in m["rings"].items()}, blur=round(blur, 3))
                    results["rows"].append(m)
                    print(render_row(m), flush=True)
                if label.startswith("R=0.465n"):
                    key = f"{kind} {n}" + ("" if core is None else f" core {core}")
                    results["sections"][key] = section(image, old, new, norm.geometry)
                    results["profiles"][key] = radial_profile(image, old, new, norm.geometry, kind=kind)
    return results


HEAD = ("| kind | size | disk | version | negative px | min / limb level | max ring dev | "
        "outer ring | ring -1 | overshoot | mean-B dev | interior change | blur est. | s |")


def render_row(m):
    mb = f"{m['mean_b_dev']:.3f}" if "mean_b_dev" in m else "-"
    ic = f"{m['interior_change']:.1e}" if "interior_change" in m else "-"
    blur = f"{m['blur']:.2f}" if "blur" in m else "-"
    return (f"| {m['kind']} | {m['size']} | {m['disk']} | {m['version']} | {m['negative']} | {m['min_over_limb']:.3f} | "
            f"{m['ring_max_dev']:.3f} | {m['rings']['0']:+.3f} | {m['rings']['-1']:+.3f} | {m['overshoot']:+.3f} | "
            f"{mb} | {ic} | {blur} | {m['seconds']} |")


def render(results):
    lines = [f"CPU: {results['cpu']} ({', '.join(results['flags'])}); {results['backend']}", "", HEAD,
             "|" + "---|" * (HEAD.count("|") - 1)]
    lines += [render_row(m) for m in results["rows"]]
    lines += ["", "Ring deviations: 2x2-binned output over input per one-input-pixel ring (|B| for blos), "
              "relative to the interior's ratio; outer ring = the outermost partial ring (0 <= r - R < 0.71); "
              "overshoot: azimuthal output profile over the input's within 5 px of the limb; interior change: "
              "max |after - before| / max |before| more than 15 input px inside the limb; blur est.: the Gaussian sigma "
              "(input px) that the treatment estimated on the input (below 0.2: treated as a sharp limb); "
              "'core X px + wings': the disk blurred by a Gaussian of sigma X px plus the HMI PSF's wings."]
    return "\n".join(lines)


def figure(results, path):
    """Azimuthally averaged profiles across the limb (top) and a row through the centre
    (bottom), input and output before and after the limb treatment, at the largest size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    largest = max(int(k.split()[1]) for k in results["sections"])
    keys = [k for k in results["sections"] if k.endswith(f" {largest}")]
    blurred = [k for k in results["sections"] if " core " in k]
    if blurred:
        worst = max(float(k.split()[-1]) for k in blurred)
        order = {k.split()[0]: i for i, k in enumerate(keys)}
        worst_keys = [k for k in blurred if float(k.split()[-1]) == worst]
        keys += sorted(worst_keys, key=lambda k: (order.get(k.split()[0], 0), -int(k.split()[1])))[: len(order)]
    fig, axes = plt.subplots(2, len(keys), figsize=(5.5 * len(keys), 7.5), squeeze=False)
    for column, key in enumerate(keys):
        kind = key.split()[0]
        size = key.split(maxsplit=2)[1]
        what_disk = f"{size}^2" + (f", core {key.split()[-1]} px + wings" if " core " in key else "")
        p = results["profiles"].get(key)
        ax = axes[0, column]
        if p is not None:
            ax.plot(p["r"], p["input"], "k-", lw=1.5, label="input")
            ax.plot(p["r"], p["old"], "-", color="tab:red", label="Enhance, limb as it is")
            ax.plot(p["r"], p["new"], "-", color="tab:blue", label="Enhance, limb treated")
        ax.axvline(0, color="0.6", lw=0.8)
        ax.axhline(0, color="0.6", lw=0.8)
        what = "abs(B) (G)" if kind == "blos" else "intensity"
        ax.set_title(f"{kind} {what_disk}: azimuthal mean of {what}", fontsize=10)
        ax.set_xlabel("r - R (input pixels)")
        ax.legend(fontsize=8)
        s = results["sections"][key]
        ax = axes[1, column]
        ax.step(s["x_in"], s["input"], where="mid", color="k", label="input")
        ax.plot(s["x_out"], s["old"], "o-", ms=3, color="tab:red", label="limb as it is")
        ax.plot(s["x_out"], s["new"], "s-", ms=3, color="tab:blue", label="limb treated")
        ax.axvline(0, color="0.6", lw=0.8)
        ax.axhline(0, color="0.6", lw=0.8)
        ax.set_xlabel("r - R (input pixels)")
        ax.set_title(f"{kind} {what_disk}: the row through the centre", fontsize=10)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def cost(sizes, repeat=3):
    """Seconds of the limb treatment alone (``limb_input`` and ``limb_output``, the blur's
    estimate included; no network: the output is the input repeated 2x2), against the plain
    pipeline's de-normalisation of the same output, on the R = 0.465 n disks. On a shared
    machine the network's time varies more than this costs; this isolates it."""
    from enhance_lib.nets.backend import describe
    from enhance_lib.sun.disk import disk_header
    from enhance_lib.sun.limb import limb_input, limb_output
    from enhance_lib.sun.normalization import make_normalizer

    results = {"cpu": cpu_model(), "flags": cpu_flags(), "backend": describe(), "cost": []}
    for kind in ("intensity", "blos"):
        for n in sizes:
            for label, geometry, texture, core in cases(n):
                if not label.startswith("R=0.465n"):
                    continue
                image = make_disk(kind, n, geometry, texture) if core is None else blurred_disk(kind, n, geometry, core)
                norm = make_normalizer(image, disk_header(geometry, pixel_scale=0.504 * 4096 / n), kind=kind)
                bad = ~np.isfinite(image)
                scaled = norm.normalize(image)
                times = []
                for _ in range(repeat):
                    t0 = time.perf_counter()
                    network_input, _skip, correction = limb_input(image, scaled, bad, norm, norm.geometry,
                                                                  fill=1.0, margin=13)
                    t_in = time.perf_counter() - t0
                    out = np.repeat(np.repeat(network_input, 2, axis=0), 2, axis=1)
                    t1 = time.perf_counter()
                    limb_output(out, norm, norm.geometry, correction=correction)
                    t2 = time.perf_counter()
                    norm.denormalize(out, factor=2)
                    t3 = time.perf_counter()
                    times.append((t_in, t2 - t1, t3 - t2))
                t_in, t_out, t_plain = (min(t[i] for t in times) for i in range(3))
                row = {"kind": kind, "size": n, "disk": label, "blur": round(correction.sigma, 3),
                       "input_s": round(t_in, 3), "output_s": round(t_out, 3), "plain_output_s": round(t_plain, 3),
                       "extra_s": round(t_in + t_out - t_plain, 3)}
                results["cost"].append(row)
                print(row, flush=True)
    return results


def render_cost(results):
    lines = [f"CPU: {results['cpu']} ({', '.join(results['flags'])}); {results['backend']}", "",
             "| kind | size | disk | blur used | limb_input s | limb_output s | plain de-normalisation s | extra s |",
             "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['kind']} | {r['size']} | {r['disk']} | {r['blur']:.2f} | {r['input_s']:.2f} | {r['output_s']:.2f} | "
              f"{r['plain_output_s']:.2f} | {r['extra_s']:.2f} |" for r in results["cost"]]
    lines += ["", "The limb treatment alone (the blur's estimate included), the fastest of 3; extra: limb_input + "
              "limb_output - the plain pipeline's de-normalisation of the same x2 output."]
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[1024, 4096])
    p.add_argument("--name", default="limb")
    p.add_argument("--render", metavar="JSON")
    p.add_argument("--intensity", help="intensity weights (default: the shipped network)")
    p.add_argument("--blos", help="blos weights (default: the shipped network)")
    p.add_argument("--cost", action="store_true", help="time the treatment alone (no network); --name default limb_cost")
    args = p.parse_args(argv)
    if args.render:
        results = json.loads(Path(args.render).read_text())
        print(render_cost(results) if "cost" in results else render(results))
        return
    if args.cost:
        results = cost(args.sizes)
        text = render_cost(results)
        write_results(args.name if args.name != "limb" else "limb_cost", results, text)
        print(text)
        return
    from benchmarks.report import WEIGHTS_HELP, require_files
    from enhance_lib.nets.weights import default_weights

    weights = {kind: getattr(args, kind) or default_weights(kind) for kind in ("intensity", "blos")}
    require_files("benchmarks/limb.py", weights.values(), hint=WEIGHTS_HELP + "; or give --intensity/--blos")
    results = run(args.sizes, weights)
    text = render(results)
    write_results(args.name, results, text)
    figure(results, REPO / "benchmarks" / "results" / f"{args.name}_section.png")
    print(text)


if __name__ == "__main__":
    main()
