"""The documentation site builds without a single warning and documents the public API.

The build is ``scripts/docs.sh`` (``sphinx -W --keep-going -b html docs ...``), run here
into a temporary folder. Sphinx, numpydoc and myst-parser come with the ``docs`` extra,
which ``scripts/setup.sh`` installs; only a local environment without them skips, never
CI (``CI`` set).
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import os
import re
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

# every public module; each name of its __all__ must appear in the API reference
PUBLIC = ("skyfit", "skyfit.maps", "skyfit.irf", "skyfit.models", "skyfit.models.spectral",
          "skyfit.models.spatial", "skyfit.models.priors", "skyfit.datasets",
          "skyfit.forward", "skyfit.fit", "skyfit.bayes", "skyfit.plot", "skyfit.study",
          "skyfit.cli")


def _require_sphinx() -> None:
    missing = [m for m in ("sphinx", "numpydoc", "myst_parser")
               if importlib.util.find_spec(m) is None]
    if not missing:
        return
    reason = (f"the docs build needs {missing}: pip install -e '.[docs]' "
              "(bash scripts/setup.sh installs it)")
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def html(tmp_path_factory) -> Path:
    """The site built as ``scripts/docs.sh`` builds it, into a temporary folder."""
    _require_sphinx()
    out = tmp_path_factory.mktemp("docs")
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
           "-d", str(out / "doctrees"), str(DOCS), str(out / "html")]
    env = {**os.environ, "MPLBACKEND": "Agg"}
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600, check=False)
    assert proc.returncode == 0, (
        f"sphinx build failed (exit {proc.returncode}); warnings are errors:\n"
        f"{proc.stderr[-6000:]}\n{proc.stdout[-2000:]}")
    return out / "html"


def test_docs_build_without_warnings(html):
    for page in ("index", "quickstart", "concepts", "gammapy", "benchmarks", "architecture",
                 "reliability", "api/index", "howto/priors"):
        assert (html / f"{page}.html").is_file(), page


def _inventory(html: Path) -> set[str]:
    """Python object names in ``objects.inv``."""
    raw = (html / "objects.inv").read_bytes()
    body = zlib.decompress(raw.split(b"\n", 4)[4]).decode()
    names = set()
    for line in body.splitlines():
        match = re.match(r"(\S+)\s+py:\w+\s", line)
        if match:
            names.add(match.group(1))
    return names


def test_every_public_name_is_in_the_api_reference(html):
    documented = _inventory(html)
    modules = {name: importlib.import_module(name) for name in PUBLIC}
    missing = []
    for modname, module in modules.items():
        assert f"{modname}" in documented, f"module {modname} has no API page"
        for name in module.__all__:
            obj = getattr(module, name)
            # documented here, or where it is defined (re-exports are documented once)
            if not any(f"{other}.{name}" in documented and getattr(mod, name, None) is obj
                       for other, mod in modules.items()):
                missing.append(f"{modname}.{name}")
    assert not missing, f"public names missing from docs/api/*.rst: {missing}"


def _code_blocks() -> list[tuple[str, str]]:
    blocks = []
    for page in sorted(DOCS.rglob("*.md")):
        if "_build" in page.parts:
            continue
        text = page.read_text()
        for code in re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M):
            blocks.append((str(page.relative_to(ROOT)), code))
    return blocks


def test_code_examples_parse_and_their_skyfit_imports_exist():
    blocks = _code_blocks()
    assert len(blocks) > 10
    missing = []
    for where, code in blocks:
        tree = ast.parse(code, filename=where)  # a SyntaxError names the page
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("skyfit"):
                module = importlib.import_module(node.module)
                missing += [f"{where}: from {node.module} import {a.name}"
                            for a in node.names if not hasattr(module, a.name)]
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("skyfit"):
                        importlib.import_module(alias.name)
    assert not missing, missing
