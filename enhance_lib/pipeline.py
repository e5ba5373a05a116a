"""The names this module had before it was split (kept for existing imports).

:mod:`enhance_lib.engine` enhances one image or file, :mod:`enhance_lib.batch` many files
through one network, :mod:`enhance_lib.cluster` many files on Dask.
"""

from .batch import FITS_PATTERNS, Outcome, enhance_files, expand_inputs, file_kind, files_by_kind, output_paths
from .cluster import enhance_files_dask, enhance_files_on_cluster, import_distributed, local_cluster
from .config import KINDS
from .engine import Engine, check_options, check_output_folder, default_weights, enhance_file, prepare, prepare_data

__all__ = [
    "FITS_PATTERNS", "KINDS", "Engine", "Outcome", "check_options", "check_output_folder", "default_weights",
    "enhance_file", "enhance_files", "enhance_files_dask", "enhance_files_on_cluster", "expand_inputs",
    "file_kind", "files_by_kind", "import_distributed", "local_cluster", "output_paths", "prepare", "prepare_data",
]
