"""``enhance-error-model`` (``python -m enhance_lib.scripts.error_model``): train the learnt error
model (``UNCMODEL``) of a shipped network on truth scenes and save its weights.

Examples::

    python -m enhance_lib.scripts.error_model --kind intensity --output network/intensity_error.weights.h5
    python -m enhance_lib.scripts.error_model --kind blos --output run/blos_error.weights.h5 \\
        --seeds 1000-1029 --epochs 20

The network learns the log of the local variance of the shipped network's error
(its output on the clean input minus the 28 cm target) from the normalised noisy
input (:mod:`enhance_lib.training.error_model`).
"""

import logging
import sys

from ..nets.config import NetworkConfig
from ..sun.kinds import KINDS
from ..training.error_model import (
    CALIBRATION_SEEDS,
    ERROR_CONFIG,
    EVALUATION_SEEDS,
    TRAIN_SEEDS,
)
from .common import OneLineParser, run_program

# by name: run with `python -m`, __name__ is "__main__", outside the library logger that setup_logging configures
log = logging.getLogger("enhance_lib.scripts.error_model")

__all__ = ["build_parser", "main", "parse_seeds"]

PROG = "enhance-error-model"


def parse_seeds(text):
    """Seeds from ``'1000-1059'``, ``'1000,1003,1010-1012'`` (ranges include both ends).

    Examples
    --------
    >>> parse_seeds("1000-1002,1010")
    [1000, 1001, 1002, 1010]
    """
    seeds = []
    for part in str(text).split(","):
        part = part.strip()
        first, dash, last = part.partition("-")
        try:
            seeds.extend(range(int(first), int(last) + 1) if dash else [int(first)])
        except ValueError:
            raise ValueError(f"bad seeds {part!r}") from None
    return seeds


def _seeds_arg(text):
    import argparse

    try:
        seeds = parse_seeds(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if not seeds:
        raise argparse.ArgumentTypeError("no seeds")
    return seeds


def build_parser():
    """The argument parser of ``enhance-error-model``."""
    p = OneLineParser(
        prog=PROG,
        description="Train the error model of a shipped network (the log of its local error variance, "
        "learnt from truth scenes) and save its weights.",
    )
    p.add_argument("-t", "--kind", required=True, choices=KINDS, help="data type of the shipped network")
    p.add_argument("-o", "--output", required=True, help="weights file to write (ends in .weights.h5)")
    first, last = TRAIN_SEEDS[0], TRAIN_SEEDS[-1]
    p.add_argument("--seeds", type=_seeds_arg, default=list(TRAIN_SEEDS),
                   help=f"training scenes, e.g. 1000-1059 (default {first}-{last}; their last tenth validates; "
                   f"{CALIBRATION_SEEDS[0]}-{CALIBRATION_SEEDS[-1]} and {EVALUATION_SEEDS[0]}-{EVALUATION_SEEDS[-1]} "
                   "are refused: calibration and evaluation)")
    p.add_argument("-e", "--epochs", type=int, default=60, help="epochs of --steps batches (default 60)")
    p.add_argument("--steps", type=int, default=40, help="batches per epoch (default 40)")
    p.add_argument("--batch-size", type=int, default=8, help="patches per batch (default 8)")
    p.add_argument("--patch", type=int, default=64, help="input pixels on a patch's side; 0: whole scenes (default 64)")
    p.add_argument("--lr", type=float, default=2e-3, help="Adam's learning rate (default 2e-3)")
    p.add_argument("-d", "--depth", type=int, default=ERROR_CONFIG.depth, help="residual blocks (default %(default)s)")
    p.add_argument("-k", "--filters", type=int, default=ERROR_CONFIG.filters, help="filters (default %(default)s)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p.add_argument("-q", "--quiet", action="store_true", help="only errors and warnings")
    return p


def _validate(parser, args):
    reserved = sorted(set(args.seeds) & (set(CALIBRATION_SEEDS) | set(EVALUATION_SEEDS)))
    if reserved:
        parser.error(f"--seeds: {', '.join(map(str, reserved[:3]))} are reserved for calibration or evaluation")
    if not args.output.endswith(".weights.h5"):
        parser.error("--output must end in .weights.h5")
    for name in ("epochs", "steps", "batch_size", "depth", "filters"):
        if getattr(args, name) < (0 if name == "depth" else 1):
            parser.error(f"--{name.replace('_', '-')} must be >= {0 if name == 'depth' else 1}")
    if args.patch < 0 or 0 < args.patch < 16:
        parser.error("--patch must be 0 (whole scenes) or >= 16")
    if not args.lr > 0:
        parser.error("--lr must be > 0")


def _run(args):
    from ..io.atomic import check_output_folder
    from ..nets.weights import save_weights
    from ..training.error_model import error_attrs, train_error_model

    check_output_folder(args.output)
    config = NetworkConfig(**{**ERROR_CONFIG.to_dict(), "depth": args.depth, "filters": args.filters})
    options = dict(epochs=args.epochs, steps=args.steps, batch_size=args.batch_size, patch=args.patch, lr=args.lr)
    net, history = train_error_model(args.kind, seeds=args.seeds, config=config, seed=args.seed, **options)
    save_weights(net, args.output, config=config, kind=args.kind,
                 attrs=error_attrs(args.kind, history, config=config, **options))
    log.info("%s: best validation loss %.4f at epoch %d of %d, %.0f s of training, %d parameters", args.output,
             history["best_val_loss"], history["best_epoch"] + 1, args.epochs, history["seconds"], net.count_params())
    return 0


def main(argv=None):
    """Entry point of ``enhance-error-model`` / ``python -m enhance_lib.scripts.error_model``; returns the exit
    code (:func:`~enhance_lib.scripts.common.run_program`)."""
    return run_program(build_parser(), _run, argv, flags={"kind": "--kind"}, validate=_validate)


if __name__ == "__main__":
    sys.exit(main())
