"""``enhance-weights`` (``python -m enhance_lib.scripts.weights``): show Enhance weights files, or stamp
their data type.

Examples::

    enhance-weights network/*.weights.h5                       # what they hold
    enhance-weights network/blos.weights.h5 --kind blos        # record the data type
"""

import sys

from ..nets.weights import inspect_weights, stamp_kind
from ..sun.kinds import KINDS
from .common import OneLineParser, run_program

__all__ = ["build_parser", "main"]

PROG = "enhance-weights"


def build_parser():
    """The argument parser of ``enhance-weights``."""
    parser = OneLineParser(
        prog=PROG,
        description="Show what Enhance weights files hold; with --kind, record the data type "
        "they were trained for (only that attribute changes).",
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="weights files")
    parser.add_argument("--kind", choices=KINDS, help="record this data type in each (Keras 3) file")
    parser.add_argument("-q", "--quiet", action="store_true", help="only errors and warnings")
    return parser


def _run(args):

    for path in args.files:
        info = stamp_kind(path, args.kind) if args.kind else inspect_weights(path)
        c = info.config
        print(f"{path}: {info.layout}, {c.model} depth {c.depth}, {c.filters} filters, "
              f"data type {info.kind or 'not recorded'}")
    return 0


def main(argv=None):
    """Entry point of ``enhance-weights`` / ``python -m enhance_lib.scripts.weights``; returns the exit
    code (:func:`~enhance_lib.scripts.common.run_program`)."""
    return run_program(build_parser(), _run, argv)


if __name__ == "__main__":
    sys.exit(main())
