#!/usr/bin/env python
"""The README figure: runs ``examples/plot_samples.py`` and saves its figure.

    python samples/make_figure.py [-o samples/enhance_samples.png]

Needs only ``samples/`` and ``network/``.
"""

import argparse
import runpy
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("-o", "--out", default=str(REPO / "samples" / "enhance_samples.png"))
    args = p.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    figure = runpy.run_path(str(REPO / "examples" / "plot_samples.py"), run_name="__main__")["fig"]
    figure.savefig(args.out, dpi=72)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
