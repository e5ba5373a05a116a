#!/usr/bin/env python
"""Does a network trained on the synthetic Sun beat bicubic interpolation?

    python benchmarks/synthetic.py [--epochs 6 --depth 3 --filters 32 --patches 1200]

Builds a training database with ``enhance_lib.training.simulate.simulate_database`` from
synthetic-Sun scenes (seeds 1..), trains a keepsize network with
``enhance_lib.training.loop.train``, then, on held-out scenes drawn with other seeds
(never seen in training), compares the RMS error against the 28 cm target of
(a) the network and (b) bicubic interpolation of the HMI-like input, for
continuum intensity. Reports the ratio RMS(network)/RMS(bicubic) (< 1: the
network is better) and writes ``benchmarks/results/synthetic.{json,md}``.
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.report import write_results


def held_out_pairs(seeds, *, size, kind="intensity"):
    """(HMI-like, target) pairs of synthetic scenes with the given seeds, normalised."""
    from enhance_lib.sun.limb_darkening import quiet_sun_level
    from enhance_lib.training.simulate import simulate_pairs
    from enhance_lib.training.synthetic_sun import synthetic_sun

    scale = 0.063
    out = []
    for seed in seeds:
        scene = synthetic_sun(shape=(size, size), pixel_scale=scale, seed=seed, spots=1, pores=3, plage=1)
        lows, highs = simulate_pairs([scene.intensity], pixel_scale=scale, kind=kind)
        level = quiet_sun_level(lows[0])
        out.append((lows[0] / level, highs[0] / level))
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--patches", type=int, default=1200)
    p.add_argument("--scenes", type=int, default=6)
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--depth", type=int, default=3)
    p.add_argument("--filters", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--held-out", type=int, nargs="+", default=[101, 102])
    p.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    args = p.parse_args(argv)

    from enhance_lib.nets.config import NetworkConfig, receptive_margin
    from enhance_lib.run.tiling import Predictor
    from enhance_lib.training.evaluation import bicubic_x2, rms
    from enhance_lib.training.loop import train
    from enhance_lib.training.simulate import simulate_database

    config = NetworkConfig(depth=args.depth, filters=args.filters, noise=1e-3, l2=1e-7)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "synthetic.h5"
        simulate_database(str(db), kind="intensity", scenes=args.scenes, scene_size=1024,
                          n_patches=args.patches, patch_size=50, seed=1)
        result = train(str(db), str(Path(tmp) / "synthetic"), config=config, validation_split=0.1,
                       epochs=args.epochs, lr=args.lr, batch_size=16, seed=1,
                       loss_border=2 * receptive_margin(config), verbose=2)
        net = result.model
    t_train = time.perf_counter() - t0

    predictor = Predictor(net, config)
    m = 2 * receptive_margin(config)  # compare away from the image edges
    rows = []
    for seed, (low, high) in zip(args.held_out, held_out_pairs(args.held_out, size=1024), strict=False):
        ours = predictor.run(low.astype(np.float32))
        cubic = bicubic_x2(low)
        inner = (slice(m, -m), slice(m, -m))
        e_net, e_cubic = rms((ours - high)[inner]), rms((cubic - high)[inner])
        rows.append({"seed": seed, "rms_network": e_net, "rms_bicubic": e_cubic, "ratio": e_net / e_cubic})
        print(json.dumps(rows[-1]), flush=True)
    summary = {
        "config": config.to_dict(),
        "patches": args.patches,
        "epochs": args.epochs,
        "train_seconds": t_train,
        "held_out": rows,
        "mean_ratio": float(np.mean([r["ratio"] for r in rows])),
    }
    text = (
        f"Network ({config.model}, depth {config.depth}, {config.filters} filters, {args.epochs} epochs on "
        f"{args.patches} synthetic-Sun patches, {t_train / 60:.1f} min) vs bicubic on held-out synthetic scenes "
        f"(seeds {', '.join(map(str, args.held_out))}): RMS error against the 28 cm target "
        + ", ".join(f"{r['rms_network']:.4f} vs {r['rms_bicubic']:.4f}" for r in rows)
        + f" (I/I_qs); mean ratio {summary['mean_ratio']:.3f}."
    )
    print(text)
    write_results("synthetic", summary, text, folder=args.out)


if __name__ == "__main__":
    main()
