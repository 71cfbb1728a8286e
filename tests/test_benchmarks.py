"""Smoke test of the benchmark suite: the quick scaling run, end to end, in a subprocess.

Slow (~40-60 s with ``FAST_COMPILE``): run with ``-m slow``. The numbers are not checked
(the machine is shared); only that every point ran and the table, JSON and plot exist.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def test_run_all_quick_scaling(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "SKYFIT_PYTENSOR_MODE": os.environ.get("SKYFIT_PYTENSOR_MODE", "FAST_COMPILE")}
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "run_all.py"), "--quick", "--parts",
         "scaling", "--out", str(tmp_path)],
        capture_output=True, text=True, env=env, timeout=600, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((tmp_path / "results.json").read_text())
    rows = result["results"]["scaling"]["rows"]
    assert {r["sweep"] for r in rows} == {"bins", "sources", "true"}
    assert not [r for r in rows if "error" in r]
    assert all(r["grad_s"] > 0 and r["floor_grad_s"] > 0 for r in rows)
    slopes = result["results"]["scaling"]["summary"]["slopes"]
    assert 0 < slopes["background grad_s"] < 2
    assert "| scaling | bins |" in (tmp_path / "results.md").read_text()
    assert (tmp_path / "scaling.png").stat().st_size > 0
