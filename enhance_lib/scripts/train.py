"""The ``enhance-train`` command (``python train.py``): train an Enhance network.

The flags of the original ``train.py`` keep their names and meanings; the
training and validation databases, which the original hard-coded, are given
with ``--database`` and ``--validation`` (or ``--validation-split``)::

    enhance-train -o network/intensity -a start -e 15 -d 5 -k 64 -n 1e-3 -l2 1e-6 \\
        --database train.h5 --validation valid.h5
    enhance-train -o network/intensity -a continue -e 5 -d 5 --database train.h5 --validation valid.h5

Without ``--database`` (the original README's command, whose databases were the
authors' own files) it trains on a synthetic-Sun database of the data type
``-t`` (intensity by default), built once in the cache folder
(:func:`enhance_lib.training.simulate.synthetic_database`) and validated on its last 10 %.
"""

import logging
import sys

from ..nets.config import (
    ACTIVATIONS,
    DEFAULT_DEPTH,
    DEFAULT_FILTERS,
    DEFAULT_L2,
    DEFAULT_LR,
    DEVICES,
    LR_EPOCH,
    MODELS,
    NetworkConfig,
)
from ..sun.kinds import KINDS
from ..training.simulate import SYNTHETIC_DEFAULTS, synthetic_database
from .common import OneLineParser, run_program

log = logging.getLogger(__name__)

__all__ = ["FLAGS", "SYNTHETIC_VALIDATION_SPLIT", "build_parser", "main"]

PROG = "enhance-train"
#: Parameters of :func:`enhance_lib.training.loop.train` (and :class:`~enhance_lib.nets.config.NetworkConfig`)
#: whose flag is not ``--name-with-dashes``: the original program's spellings.
FLAGS = {
    "filters": "--kernels",
    "kind": "-t",
    "batch_size": "--batchsize",
    "l2": "--l2_regularization",
    "lr_multiplier": "--lr_multiplier",
}

#: Validation split of the synthetic-Sun database used without ``--database``.
SYNTHETIC_VALIDATION_SPLIT = 0.1


def _output_args(p):
    """The run: its output files, epochs and input noise."""
    p.add_argument(
        "-o", "--output", required=True,
        help="root of the output files: {output}_{depth}.weights.h5, _loss.json, _loss_batch.json, "
        "_args.json, _model.json, _summary.txt, _model.png",
    )
    p.add_argument(
        "-e", "--epochs", type=int, default=10,
        help="epochs to run (default 10); with --action continue, epochs added to those already run",
    )
    p.add_argument(
        "-n", "--noise", type=float, default=0.0, help="std of the Gaussian noise added to the inputs (default 0)"
    )


def _network_args(p):
    """The network: architecture and whether it starts or continues."""
    p.add_argument("-d", "--depth", type=int, default=DEFAULT_DEPTH, help=f"residual blocks (default {DEFAULT_DEPTH})")
    p.add_argument("-k", "--kernels", type=int, default=DEFAULT_FILTERS,
                   help=f"kernels (filters) per layer (default {DEFAULT_FILTERS})")
    p.add_argument(
        "-a", "--action", required=True, choices=("start", "continue"),
        help="start a new network, or continue the run {output}_{depth} from its best weights",
    )
    p.add_argument(
        "-m", "--model", default="keepsize", choices=MODELS, help="network (default keepsize)"
    )
    p.add_argument("-c", "--activation", default="relu", choices=ACTIVATIONS, help="activation (default relu)")


def _optimizer_args(p):
    """The optimiser: learning rate, regularisation, batch size."""
    p.add_argument("-lr", "--lr", type=float, default=DEFAULT_LR, help=f"Adam learning rate (default {DEFAULT_LR:g})")
    p.add_argument(
        "-lrm", "--lr_multiplier", type=float, default=1.0,
        help=f"factor applied to the learning rate from epoch {LR_EPOCH} on (default 1)",
    )
    p.add_argument(
        "-l2", "--l2_regularization", type=float, default=DEFAULT_L2,
        help="L2 regularisation of the kernels (default 1e-7)",
    )
    p.add_argument("-b", "--batchsize", type=int, default=32, help="batch size (default 32)")


def _data_args(p):
    """The databases, their data type, validation and the random seed."""
    p.add_argument(
        "--database", metavar="PATH",
        help="training database (HDF5 with imHMI, imSST; enhance-database makes them); default: a "
        "synthetic-Sun database of the data type -t, built once in $ENHANCE_CACHE_DIR "
        "(default ~/.cache/enhance) and validated on its last 10 %%",
    )
    p.add_argument(
        "-t", "--type", choices=KINDS,
        help="data type the network is for, recorded in the weights; default: what the database "
        "says (enhance-database records it), intensity for the synthetic database",
    )
    group = p.add_mutually_exclusive_group()
    group.add_argument("--validation", metavar="PATH", help="validation database")
    group.add_argument(
        "--validation-split", type=float, metavar="F",
        help="instead of --validation: keep the last fraction F of --database for validation",
    )
    p.add_argument("--seed", type=int, help="random seed (weights, noise, shuffling) for reproducible runs")


def _training_args(p):
    """How to train: initial weights, loss border, device, messages."""
    p.add_argument(
        "--init", choices=("auto", "upsampling", "he_normal"), default="auto",
        help="start from nearest x2 upsampling (keepsize+ReLU; converges much faster) or from "
        "He-normal random weights as the original; auto: upsampling where it applies (default)",
    )
    p.add_argument(
        "--loss-border", type=int, default=0, metavar="N",
        help="target pixels on each patch side left out of the loss (default 0, plain MSE as the "
        "original); use >= 2x the receptive margin when targets were made from whole images; "
        "a database built with a loss mask (enhance-database pairs --loss-border) brings its own",
    )
    p.add_argument(
        "--device", choices=DEVICES, default="auto",
        help="where to train (default auto: a GPU when the Keras backend sees one); the backend "
        "is chosen with KERAS_BACKEND=tensorflow (default), jax or torch",
    )
    p.add_argument("--quiet", action="store_true", help="no progress output, warnings only")


def _synthetic_args(p):
    """The synthetic-Sun database used without ``--database``."""
    syn = p.add_argument_group("without --database: the synthetic-Sun database")
    d = SYNTHETIC_DEFAULTS
    syn.add_argument("--synthetic-patches", type=int, default=d["n_patches"], metavar="N",
                     help=f"patch pairs (default {d['n_patches']})")
    syn.add_argument("--synthetic-scenes", type=int, default=d["scenes"], metavar="N",
                     help=f"synthetic-Sun scenes (default {d['scenes']})")
    syn.add_argument("--synthetic-scene-size", type=int, default=d["scene_size"], metavar="PX",
                     help=f"scene size at 0.063\"/px (default {d['scene_size']}, "
                     f"i.e. {d['scene_size'] // 8} HMI pixels)")
    syn.add_argument("--synthetic-patch-size", type=int, default=d["patch_size"], metavar="P",
                     help=f"input patch size; targets are 2P (default {d['patch_size']})")


def build_parser():
    """The argument parser of ``enhance-train``."""
    p = OneLineParser(
        prog=PROG,
        description="Train the Enhance network (Diaz Baso & Asensio Ramos 2018, A&A 614, A5) "
        "on a database of HMI-like / target patch pairs.",
    )
    _output_args(p)
    _network_args(p)
    _optimizer_args(p)
    _data_args(p)
    _training_args(p)
    _synthetic_args(p)
    return p


def _synthetic(args):
    """The cached synthetic-Sun database for a run without ``--database`` (built if needed)."""

    kind = args.type or "intensity"
    info, built = synthetic_database(
        kind=kind, n_patches=args.synthetic_patches, scenes=args.synthetic_scenes,
        scene_size=args.synthetic_scene_size, patch_size=args.synthetic_patch_size,
    )
    log.info(
        "no --database: training on a synthetic-Sun %s database of %d patch pairs, %s %s",
        kind, info.n, "built in" if built else "reused from", info.path,
    )
    return info.path, kind


def _run(args):
    from ..training.loop import train

    config = NetworkConfig(
        model=args.model,
        depth=args.depth,
        filters=args.kernels,
        activation=args.activation,
        noise=args.noise,
        l2=args.l2_regularization,
    )
    database, kind = args.database, args.type
    validation_split = args.validation_split
    if database is None:
        database, kind = _synthetic(args)
        if args.validation is None and validation_split is None:
            validation_split = SYNTHETIC_VALIDATION_SPLIT
            log.info("validating on the last %d %% of it", round(100 * validation_split))
    if args.quiet:
        verbose = 0
    else:
        verbose = 1 if sys.stdout.isatty() else 2  # one line per epoch when not on a terminal
    result = train(
        database,
        args.output,
        config=config,
        validation=args.validation,
        validation_split=validation_split,
        action=args.action,
        epochs=args.epochs,
        lr=args.lr,
        lr_multiplier=args.lr_multiplier,
        batch_size=args.batchsize,
        seed=args.seed,
        loss_border=args.loss_border,
        init=args.init,
        device=args.device,
        verbose=verbose,
        flags={**vars(args), "database": str(database), "validation_split": validation_split, "type": kind},
        kind=kind,
    )
    log.info(
        "%d epochs done; best val_loss %.6g; weights in %s",
        result.epochs, result.best_val_loss, result.files.weights,
    )
    return 0


def _validate(parser, args):
    """With ``--database``, the validation data must be named too."""
    if args.database is not None and args.validation is None and args.validation_split is None:
        parser.error("give --validation PATH or --validation-split F")


def main(argv=None):
    """Entry point of ``enhance-train`` / ``python train.py``; returns the exit code
    (:func:`~enhance_lib.scripts.common.run_program`).

    Usage errors and bad input (missing or malformed databases, an unwritable
    output folder, nothing to continue) give one line on stderr and code 2.
    """
    return run_program(build_parser(), _run, argv, flags=FLAGS, validate=_validate)


if __name__ == "__main__":
    sys.exit(main())
