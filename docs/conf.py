"""Sphinx configuration of the skyfit documentation.

Build: ``bash scripts/docs.sh`` (warnings are errors; ``tests/test_docs.py`` runs the same
build in CI). Pages are Markdown (MyST) except the API reference (reStructuredText with
autodoc directives, numpydoc docstrings).
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))  # the checkout's skyfit, installed or not

# PyTensor's note about linking BLAS concerns its speed, not the documentation
warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS")
os.environ.setdefault("MPLBACKEND", "Agg")

import skyfit  # noqa: E402

project = "skyfit"
author = "the skyfit developers"
copyright = "skyfit developers"
release = version = skyfit.__version__

extensions = [
    "myst_parser",
    "numpydoc",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]

# -- MyST (Markdown pages, including architecture.md and reliability.md) -----------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

# -- autodoc / numpydoc ----------------------------------------------------------------------
autodoc_member_order = "bysource"
# with :members: (on every API page): every name of __all__ and every public member,
# documented or not (a default "members" would override explicit member lists)
autodoc_default_options = {"undoc-members": True}
autodoc_typehints = "none"  # numpydoc sections say the types; signatures stay readable
autodoc_class_signature = "mixed"
autosummary_generate = False  # API pages are written by hand (docs/api/*.rst)
numpydoc_show_class_members = False  # autodoc lists the members; no stub pages
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False

# -- HTML ------------------------------------------------------------------------------------
html_theme = "alabaster"
html_title = f"skyfit {release}"
html_theme_options = {
    "description": "Gamma-ray sky-model fits of counts cubes with exact gradients",
    "fixed_sidebar": True,
    "page_width": "1100px",
    "sidebar_width": "230px",
}
html_static_path: list[str] = []
html_show_sourcelink = False
