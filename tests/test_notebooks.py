"""The notebooks in ``notebooks/`` execute top to bottom (nbclient, this interpreter).

Each notebook runs on the Fermi-LAT files when ``../shared/data`` (or
``$SKYFIT_SHARED_DATA``) holds them, else on the synthetic instrument, so none is skipped
for want of data. The kernel is this interpreter (a kernelspec written to a temporary
``JUPYTER_PATH``), with matplotlib's Agg backend and PyTensor's default compilation mode
(the ``SKYFIT_PYTENSOR_MODE`` that ``conftest.py`` sets for the unit tests is removed).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
KERNEL = "skyfit-test-python3"
TIMEOUT = 600  # seconds per cell


@pytest.fixture
def kernel_env(tmp_path, monkeypatch):
    """A kernelspec for this interpreter in a temporary JUPYTER_PATH; Agg; default mode."""
    spec = tmp_path / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "skyfit tests", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.delenv("SKYFIT_PYTENSOR_MODE", raising=False)
    return tmp_path


@pytest.mark.parametrize("name", ["01_crab_fit", "02_crab_bayes", "03_joint_fit"])
def test_notebook_executes(name, kernel_env):
    path = NOTEBOOKS / f"{name}.ipynb"
    nb = nbformat.read(path, as_version=4)
    # committed without outputs
    assert all(not c.get("outputs") and c.get("execution_count") is None
               for c in nb.cells if c.cell_type == "code"), f"{path} has outputs: strip them"
    client = nbclient.NotebookClient(nb, timeout=TIMEOUT, kernel_name=KERNEL,
                                     resources={"metadata": {"path": str(NOTEBOOKS)}})
    t0 = time.perf_counter()
    client.execute()
    print(f"{name}: executed in {time.perf_counter() - t0:.1f} s")
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert not errors
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                   for o in c.outputs if o.output_type == "stream")
    assert "Traceback" not in text
