#!/usr/bin/env python
"""The forward check of the shipped networks in and out of their domain (issue #21).

    python benchmarks/forward.py                 # ~4 min on 2 cores
    python benchmarks/forward.py --stamp         # also record the in-domain levels in network/*.weights.h5
    python benchmarks/forward.py --render benchmarks/results/forward.json

Every output records ``ENHFWD``: the output through HMI's PSF and pixels, minus the input, RMS
over the input's RMS (percent; :mod:`enhance_lib.run.forward_check`). For each shipped
network this measures it on

* data like its training data (**in domain**): the real HMI crops of ``samples/``; synthetic
  scenes (:func:`enhance_lib.training.scenes.truth_scene`: granulation, a spot, pores and plage
  through the HMI forward model, with HMI-like noise); a 1024^2 full disk made of the first
  (:func:`enhance_lib.training.scenes.full_disk`:
  limb darkening of Neckel & Labs for intensity, a pixel-integrated limb blurred by HMI's PSF,
  NaN off the disk);
* data unlike it (**out of domain**): the crops already deconvolved (Richardson-Lucy with HMI's
  PSF, JSOC's ``dcon`` recipe, :func:`enhance_lib.training.deconvolution.hmi_deconvolve`),
  binned 2x2 (as if the pixel scale were wrong), and the synthetic scenes as a 50 cm telescope
  would see them (an Airy PSF, resampled to HMI's 0.504"/px: another instrument at HMI's header
  scale),

and the in-domain level, the largest in-domain value, which ``--stamp`` records with the
weights (:class:`enhance_lib.run.forward_check.DomainLevel`): an image above
``DOMAIN_FACTOR`` times it is reported. Writes ``benchmarks/results/forward.{json,md}``.
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

from benchmarks.report import write_results

SAMPLES = {"intensity": REPO / "samples" / "hmi.fits", "blos": REPO / "samples" / "blos.fits"}
SEEDS = (21, 22, 23)


def cpu_line():
    import keras
    import tensorflow as tf

    from benchmarks.predict import cpu_model

    return f"CPU: {cpu_model()}; keras {keras.__version__}, tensorflow {tf.__version__}"


def binned(image):
    ny, nx = (s // 2 * 2 for s in image.shape)
    return image[:ny, :nx].reshape(ny // 2, 2, nx // 2, 2).mean(axis=(1, 3)).astype(np.float32)


def other_instrument(scene, *, diameter=0.5):
    """The scene's truth through a ``diameter`` m telescope's Airy PSF at 0.504"/px, with the
    scene's noise: another instrument's image at HMI's header scale."""
    from enhance_lib.instrument.forward_model import degrade

    image = degrade(scene.truth, pixel_scale=scene.pixel_scale, out_scale=0.504, psf="airy", diameter=diameter)
    image = image[: scene.data.shape[0], : scene.data.shape[1]]
    return (image + np.random.default_rng(scene.seed).normal(0, scene.sigma, image.shape)).astype(np.float32)


def measure(enhancer, image, header):
    """ENHFWD of one image through the Enhancer (its domain warning silenced: judged here)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        enhanced = enhancer.run(enhancer.prepare_data(image, header), header=False)
    return float(enhanced.forward_percent[0])


def run(args):
    from astropy.io import fits

    from enhance_lib import Enhancer
    from enhance_lib.run.forward_check import DOMAIN_FACTOR
    from enhance_lib.training.deconvolution import hmi_deconvolve
    from enhance_lib.training.scenes import full_disk, truth_scene

    results = {"cpu": cpu_line(), "factor": DOMAIN_FACTOR, "kinds": {}}
    for kind in args.kinds:
        start = time.perf_counter()
        enhancer = Enhancer(kind=kind)
        sample = fits.getdata(SAMPLES[kind]).astype(np.float32)
        header = fits.getheader(SAMPLES[kind])
        scenes = [truth_scene(kind, seed=s, size=args.size) for s in args.seeds]
        inside, outside = {}, {}
        inside["real crop (samples/)"] = measure(enhancer, sample, header)
        for scene in scenes:
            inside[f"synthetic scene, seed {scene.seed}"] = measure(enhancer, np.asarray(scene.data), scene.header)
        disk, disk_header = full_disk(scenes[0], size=args.disk)
        inside[f"{args.disk}^2 full disk"] = measure(enhancer, disk, disk_header)
        outside["real crop, deconvolved (RL, dcon recipe)"] = measure(
            enhancer, hmi_deconvolve(sample, kind=kind).astype(np.float32), header)
        outside["real crop, binned 2x2"] = measure(enhancer, binned(sample), header)
        for scene in scenes:
            outside[f"scene {scene.seed} by a 50 cm telescope at 0.504\"/px"] = measure(
                enhancer, other_instrument(scene), scene.header)
        level = max(inside.values())
        results["kinds"][kind] = {
            "in_domain": inside, "out_of_domain": outside, "level": level,
            "measured_on": f"real HMI crops, {len(scenes)} synthetic scenes and a {args.disk}^2 synthetic full disk "
                           "(benchmarks/forward.py)",
            "seconds": time.perf_counter() - start,
        }
        print(f"{kind}: level {level:.2f} %, " + ", ".join(f"{k}: {v:.2f}" for k, v in outside.items()), flush=True)
        if args.stamp:
            from enhance_lib.nets.weights import default_weights, stamp_attrs
            from enhance_lib.run.forward_check import DOMAIN_ATTR, DomainLevel

            stamp_attrs(default_weights(kind), {
                DOMAIN_ATTR: DomainLevel(level, results["kinds"][kind]["measured_on"]).to_attr()})
    return results


def render(results):
    factor = results["factor"]
    lines = [results["cpu"], "",
             f"ENHFWD (percent). In-domain level: the largest in-domain value; reported: above {factor:g}x it.", ""]
    for kind, r in results["kinds"].items():
        level = r["level"]
        lines += [f"### {kind} (level {level:.2f} %, reported above {factor * level:.2f} %)", "",
                  "| image | ENHFWD % | / level | reported |", "|---|---|---|---|"]
        for name, value in r["in_domain"].items():
            lines.append(f"| in domain: {name} | {value:.2f} | {value / level:.2f} | "
                         f"{'yes' if value > factor * level else 'no'} |")
        for name, value in r["out_of_domain"].items():
            lines.append(f"| out of domain: {name} | {value:.2f} | {value / level:.2f} | "
                         f"{'**yes**' if value > factor * level else 'no'} |")
        lines.append("")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--kinds", nargs="+", default=["intensity", "blos"])
    p.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    p.add_argument("--size", type=int, default=1280, help="truth pixels of each scene (0.063\"/px)")
    p.add_argument("--disk", type=int, default=1024, help="full-disk size (input pixels)")
    p.add_argument("--stamp", action="store_true", help="record the in-domain levels in network/*.weights.h5")
    p.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    p.add_argument("--render", metavar="JSON", help="only print the tables of saved results")
    args = p.parse_args(argv)
    if args.render:
        print(render(json.loads(Path(args.render).read_text())))
        return 0
    results = run(args)
    text = render(results)
    write_results("forward", results, text, folder=Path(args.out))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
