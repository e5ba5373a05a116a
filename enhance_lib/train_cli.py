"""The ``enhance-train`` command under its former name: see :mod:`enhance_lib.scripts.train`.

``train_main`` is :func:`enhance_lib.scripts.train.main`.
"""

from .scripts.train import SYNTHETIC_VALIDATION_SPLIT, build_parser
from .scripts.train import main as train_main

__all__ = ["SYNTHETIC_VALIDATION_SPLIT", "build_parser", "train_main"]
