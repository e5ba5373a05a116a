"""The names of the ``enhance`` command's module before the scripts moved to
:mod:`enhance_lib.scripts` (kept for existing imports)."""

from .batch import expand_inputs
from .engine import default_weights, enhance_file
from .scripts.enhance import build_parser
from .scripts.enhance import main as enhance_main

__all__ = ["build_parser", "default_weights", "enhance_file", "enhance_main", "expand_inputs"]
