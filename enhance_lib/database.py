"""Training databases: the original Enhance HDF5 layout, and how to build them.

A database holds two float32 datasets, ``imHMI`` with shape ``(N, nx, ny, C)``
(HMI-like inputs) and ``imSST`` with shape ``(N, 2nx, 2ny, C)`` (targets at twice
the sampling), as the original ``train.py`` read them, plus file attributes
recording how it was made; ``pairs`` databases built with a loss border also hold
``lossMask`` (:mod:`enhance_lib.dbfile`, the file format).

Two builders (:mod:`enhance_lib.patches`), also available as ``enhance-database``
(``python -m enhance_lib.database``, :mod:`enhance_lib.scripts.database`):
:func:`simulate_database`, the recipe of Díaz Baso & Asensio Ramos (2018, A&A 614,
A5, Sect. 3) on high-resolution truths or the synthetic Sun, and
:func:`pairs_database`, patches of co-aligned observed low/high-resolution image
pairs. :func:`synthetic_database` keeps a synthetic-Sun database in a cache folder
(:func:`cache_dir`), for ``train.py`` without ``--database``.

This module gathers the public names of those three modules under the name the
package has always used.
"""

import sys

from .dbfile import (
    INPUT_KEY,
    MASK_KEY,
    TARGET_KEY,
    DatabaseInfo,
    check_database,
    write_database,
)
from .patches import (
    DEFAULT_NOISE,
    EDGES,
    SYNTHETIC_DEFAULTS,
    SYNTHETIC_RECIPE,
    TYPES,
    cache_dir,
    cut_patches,
    dihedral,
    normalization_factor,
    pairs_database,
    parse_box,
    simulate_database,
    simulate_pairs,
    synthetic_database,
)
from .scripts.database import build_parser, main

__all__ = [
    "DEFAULT_NOISE",
    "EDGES",
    "INPUT_KEY",
    "MASK_KEY",
    "SYNTHETIC_DEFAULTS",
    "SYNTHETIC_RECIPE",
    "TARGET_KEY",
    "TYPES",
    "DatabaseInfo",
    "build_parser",
    "cache_dir",
    "check_database",
    "cut_patches",
    "dihedral",
    "main",
    "normalization_factor",
    "pairs_database",
    "parse_box",
    "simulate_database",
    "simulate_pairs",
    "synthetic_database",
    "write_database",
]

if __name__ == "__main__":
    # Run the importable module's main (not a second copy of this module as __main__).
    from enhance_lib.database import main as _main

    sys.exit(_main())
