"""Sphinx configuration of the Enhance (Keras 3) documentation.

    pip install -e ".[docs]" && python -m sphinx -W -b html docs docs/_build/html
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import enhance_lib  # noqa: E402

project = "Enhance (Keras 3)"
author = "Enhance (Keras 3) developers"
release = version = enhance_lib.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py", "auto_examples/*.zip"]
myst_heading_anchors = 3
# The architecture page's import graph is a Mermaid block: GitHub draws it, Sphinx shows its text.
suppress_warnings = ["myst.header", "misc.highlighting_failure"]

autosummary_generate = True
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_typehints = "none"
# Keras's Callback methods carry Keras's own docstrings, in another markup.
autodoc_inherit_docstrings = False
numpydoc_show_class_members = False
numpydoc_xref_param_type = False
numpydoc_validation_checks = set()

sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "matplotlib_animations": False,
    "within_subsection_order": "FileNameSortKey",
}

html_theme = "alabaster"
html_theme_options = {"description": "Deconvolution and x2 super-resolution of SDO/HMI data", "fixed_sidebar": True}
html_static_path = []
