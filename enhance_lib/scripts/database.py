"""``enhance-database`` (``python -m enhance_lib.scripts.database``): build an Enhance training database.

    enhance-database simulate -o db.h5 -t intensity --patches 1000
    enhance-database pairs -o pairs.h5 -t blos --low lo.fits --high hi.fits --loss-border 8

The builders are :func:`enhance_lib.training.simulate.simulate_database` and
:func:`enhance_lib.training.pairs.pairs_database`; their messages name their parameters,
shown here as flags (:data:`FLAGS`).
"""

import logging
import sys

from ..instrument.psf import TARGET_DIAMETER, TARGET_SCALE, WAVELENGTH
from ..nets.config import HMI_SCALE
from ..sun.kinds import KINDS
from ..sun.normalization import BLOS_DEFAULT
from ..training.pairs import pairs_database
from ..training.patches import EDGES
from ..training.simulate import simulate_database
from .common import OneLineParser, run_program

log = logging.getLogger(__name__)

__all__ = ["FLAGS", "build_parser", "main"]

PROG = "enhance-database"
#: Parameters of the builders whose flag is not ``--name-with-dashes``.
FLAGS = {"n_patches": "--patches", "kind": "--type"}


def _add_common(p):
    p.add_argument("-o", "--output", required=True, metavar="DB.h5", help="database to write (HDF5, atomically)")
    p.add_argument("-t", "--type", default="intensity", choices=KINDS, help="kind of data (default intensity)")
    p.add_argument("--patches", type=int, default=1000, metavar="N", help="patch pairs to cut (default 1000)")
    p.add_argument(
        "--patch-size", type=int, default=50, metavar="P",
        help="input patch size in pixels; targets are 2P (default 50)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--normalization", default="auto", metavar="auto|none|X",
        help=f"auto: intensity / quiet-Sun level of the input image, blos / {BLOS_DEFAULT:g} (kG); "
        "none; or divide by the number X (default auto)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="only errors and warnings")


def build_parser():
    """The argument parser of ``enhance-database``."""
    parser = OneLineParser(
        prog=PROG,
        description="Build an Enhance training database (imHMI / imSST patch pairs).",
    )
    sub = parser.add_subparsers(dest="mode", metavar="MODE", parser_class=OneLineParser)
    sub.required = True
    sim = sub.add_parser(
        "simulate",
        help="degrade high-resolution truths (FITS or the synthetic Sun) with the HMI and "
        "Airy forward models",
        description="Inputs: truth * HMI PSF resampled to --hmi-scale, plus noise; targets: "
        "truth * Airy(--diameter) resampled to --target-scale (Diaz Baso & Asensio Ramos 2018).",
    )
    _add_common(sim)
    sim.add_argument(
        "--truth", nargs="+", metavar="F.fits",
        help="high-resolution truth images or cubes of snapshots (default: the synthetic Sun)",
    )
    sim.add_argument("--pixel-scale", type=float, metavar="S", help="arcsec/px of the truth (required with --truth)")
    sim.add_argument("--scenes", type=int, default=4, help="synthetic scenes without --truth (default 4)")
    sim.add_argument("--scene-size", type=int, default=1024, help="synthetic scene size in pixels (default 1024)")
    sim.add_argument("--hmi-scale", type=float, default=HMI_SCALE, help=f"input arcsec/px (default {HMI_SCALE:g})")
    sim.add_argument("--target-scale", type=float, default=TARGET_SCALE,
                     help=f"target arcsec/px, half --hmi-scale (default {TARGET_SCALE:g})")
    sim.add_argument("--psf-variant", default="enhance", choices=("enhance", "wachter"),
                     help="HMI PSF parameters (default enhance)")
    sim.add_argument("--diameter", type=float, default=TARGET_DIAMETER,
                     help=f"target telescope aperture in m (default {TARGET_DIAMETER:g})")
    sim.add_argument("--wavelength", type=float, default=WAVELENGTH, help="wavelength in m (default 6173e-10)")
    sim.add_argument(
        "--noise", type=float,
        help="Gaussian noise on the inputs in normalised units (default 1e-3 for intensity, 1e-2 kG for blos)",
    )
    pairs = sub.add_parser(
        "pairs",
        help="cut patches from co-aligned low/high-resolution image pairs",
        description="High images must be exactly twice the size of their low images.",
    )
    _add_common(pairs)
    pairs.add_argument("--low", nargs="+", action="extend", required=True, metavar="LOW.fits",
                       help="low-resolution images")
    pairs.add_argument("--high", nargs="+", action="extend", required=True, metavar="HIGH.fits",
                       help="high-resolution images, in the same order")
    pairs.add_argument("--region", metavar="y0:y1,x0:x1", help="cut patches only inside this box (low pixels)")
    pairs.add_argument(
        "--exclude", action="append", default=[], metavar="y0:y1,x0:x1",
        help="box (low pixels) no patch may overlap; repeatable",
    )
    pairs.add_argument("--no-augment", dest="augment", action="store_false", help="no rotations, flips or sign flips")
    pairs.add_argument(
        "--no-sign-flips", dest="sign_flips", action="store_false",
        help="blos: rotations and flips only, no B -> -B (to reproduce a teacher network that is not odd in B)",
    )
    pairs.add_argument(
        "--loss-border", type=int, default=0, metavar="B",
        help="store a loss mask leaving out B target pixels at patch edges that are not image "
        "edges (for targets made from whole images, e.g. a teacher network's output); "
        "patches on image edges are drawn more often (default 0: no mask)",
    )
    pairs.add_argument(
        "--cut-edges", default="", metavar="EDGE[,EDGE]",
        help=f"image edges that are cuts of a larger image the high images were made from "
        f"({', '.join(EDGES)}); they get the loss border too",
    )
    return parser


def _run(args):
    # the library reads it (training.patches.parse_normalization), in the grammar of inference
    normalization = args.normalization
    if args.mode == "simulate":
        info = simulate_database(
            args.output, kind=args.type, truth=args.truth, pixel_scale=args.pixel_scale,
            scenes=args.scenes, scene_size=args.scene_size, n_patches=args.patches,
            patch_size=args.patch_size, hmi_scale=args.hmi_scale, target_scale=args.target_scale,
            psf_variant=args.psf_variant, diameter=args.diameter, wavelength=args.wavelength,
            noise=args.noise, normalization=normalization, seed=args.seed,
        )
    else:
        info = pairs_database(
            args.output, kind=args.type, low=args.low, high=args.high, n_patches=args.patches,
            patch_size=args.patch_size, region=args.region, exclude=args.exclude,
            augment=args.augment, sign_flips=args.sign_flips, normalization=normalization,
            loss_border=args.loss_border, cut_edges=[e for e in args.cut_edges.split(",") if e], seed=args.seed,
        )
    log.info("%s: %d pairs, input %s, target %s", info.path, info.n, info.input_shape, info.target_shape)
    return 0


def main(argv=None):
    """Entry point of ``enhance-database`` / ``python -m enhance_lib.scripts.database``; returns the exit
    code (:func:`~enhance_lib.scripts.common.run_program`)."""
    return run_program(build_parser(), _run, argv, flags=FLAGS)


if __name__ == "__main__":
    sys.exit(main())
