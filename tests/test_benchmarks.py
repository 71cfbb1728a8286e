"""Smoke test of the benchmark suite: the quick scaling run, end to end, in a subprocess.

Slow (~40-60 s with ``FAST_COMPILE``): run with ``-m slow``. The numbers are not checked
(the machine is shared); only that every point ran and the table, JSON and plot exist.
The table rows of the sample, dask and jax parts are checked from small synthetic
results (fast, in the default run: no benchmark runs).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
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
    # the quick sizes (1e4-1e5 bins) are overhead-bound: a slope near 0, either sign in
    # noise (it was 0.04 here); what must not happen is super-linear growth
    assert -0.5 < slopes["background grad_s"] < 2
    assert "| scaling | bins |" in (tmp_path / "results.md").read_text()
    assert (tmp_path / "scaling.png").stat().st_size > 0


# -- the table rows of the sample, dask and jax parts, from small synthetic results ------
def _run_all():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "run_all_under_test", REPO / "benchmarks" / "run_all.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SAMPLE = {"samplers": ["nutpie"], "draws": 200, "tune": 200, "chains": 2, "seed": 1,
          "live_points": 300, "cpus": 2, "gammapy": None, "gammapy_t1000": 179.0,
          "gammapy_source": "README",
          "rows": [{"sampler": "nutpie", "build_s": 0.3, "compile_s": 8.0, "sampling_s": 2.0,
                    "min_ess_bulk": 400.0, "worst": "alpha", "max_rhat": 1.01,
                    "divergences": 0, "t1000": 5.0, "t1000_with_compile": 25.75,
                    "ratio": 35.8, "ratio_with_compile": 6.95,
                    "posterior": {"alpha": [2.17, 0.04]}}]}


def _dask(speedup):
    runs = [{"workers": 1, "wall_s": 10.0, "cpu_s": 9.5, "setup_s": 1.0},
            {"workers": 2, "wall_s": 10.0 / speedup, "cpu_s": 10.0, "setup_s": 2.0}]
    return {"n": 40, "workers": [1, 2], "runs": runs, "same_tables": True,
            "per_count": [{"workers": 1, "runs": 1, "mean_wall_s": 10.0, "speedup": 1.0},
                          {"workers": 2, "runs": 1, "mean_wall_s": 10.0 / speedup,
                           "speedup": speedup}],
            "summary": {"n": 40, "used": 39, "coverage": 0.69, "coverage_err": 0.07,
                        "expected": 0.683}}


def _vg(ms, rel=None, **extra):
    out = {"n_free": 4, "compile_s": 1.0, "value_grad_s": ms / 1e3}
    if rel is not None:
        out.update(rel_value=rel, rel_grad=rel, compared_with="c", **extra)
    return out


JAX = {"jax": "0.4", "backends": ["c", "jax-cpu", "jax-gpu"], "cases": {"crab": {
    "c": {"vg": _vg(0.12)},
    "jax-cpu": {"vg": _vg(0.28, 2e-15),
                "nuts": {"tune": 50, "draws": 50, "max_tree_depth": 10, "init_s": 7.0,
                         "sample_s": 1.0, "steps": 2000, "per_step_s": 5e-4}},
    "jax-gpu": {"vg": _vg(0.5, 3e-6, rel_jax_cpu=3e-6), "nuts": {"error": "XlaError: boom"}},
}}}


def _met(rows, bench, goal):
    return [r["met"] for r in rows if r["benchmark"] == bench and r["goal"] == goal]


def test_table_rows_sample_dask_jax():
    run_all = _run_all()
    assert {"sample", "dask", "jax"} <= set(run_all.PARTS)
    assert all(callable(getattr(run_all, f"part_{p}")) for p in run_all.PARTS)
    rows = run_all.table_rows({"sample": SAMPLE, "dask": _dask(1.8), "jax": JAX})
    sample = [r for r in rows if r["benchmark"] == "sample"]
    assert len(sample) == 2 and all(r["reference"] == 179.0 for r in sample)
    assert sample[0]["skyfit"] == 5.0 and "README" in sample[0]["reference_kind"]
    assert _met(rows, "dask", ">= 1.7x") == ["speed-up 1.80x; yes"]
    assert _met(run_all.table_rows({"dask": _dask(1.5)}), "dask", ">= 1.7x") == [
        "speed-up 1.50x; no"]
    jax_goal = _met(rows, "jax", "same numbers to 1e-06 relative")
    assert len(jax_goal) == 2 and jax_goal[0].endswith("yes")
    assert "; no; vs jax-cpu 3.0e-06" in jax_goal[1]
    assert any(r["unit"] == "ms" and "NUTS" in r["quantity"] and r["skyfit"] == 0.5
               for r in rows)
    assert any(r["met"] == "failed: XlaError: boom" for r in rows)
    text = run_all.markdown(rows, {"date": "d", "command": "c", "cpus": 2, "load_start": 1.0,
                                   "load_end": 1.0, "python": "3", "pytensor": "p",
                                   "gammapy": "g", "git": "x", "omp": "1", "flags": "f",
                                   "wall_s": 1.0})
    assert "| dask | coverage study, 40 replications |" in text
    assert "| jax | crab (4 free) | jax-cpu: value+grad" in text


def test_table_rows_skipped_parts():
    run_all = _run_all()
    results = {p: {"skipped": f"no {p}"} for p in ("sample", "dask", "jax")}
    rows = run_all.table_rows(results)
    assert [(r["benchmark"], r["quantity"], r["met"]) for r in rows] == [
        (p, "skipped", f"no {p}") for p in ("sample", "dask", "jax")]


def test_float32_measurement_sees_its_rounding():
    """bench_float32's precision part: float32 changes the statistic by far less than
    its size but not by nothing, and makes it step where float64 is smooth."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import bench_float32
    finally:
        sys.path.pop(0)
    stat, change, step = bench_float32.statistic_error(1e4)
    assert 0 < abs(change) < 1e-6 * abs(stat)
    assert 0 < step < 1e-3
