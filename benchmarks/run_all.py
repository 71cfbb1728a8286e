"""Run every benchmark once and collect one table (Markdown + JSON) and one plot.

Run from the repository root::

    OMP_NUM_THREADS=1 PYTENSOR_FLAGS=base_compiledir=/tmp/pt-bench-all \\
        .venv/bin/python benchmarks/run_all.py [--quick] [--out DIR] [--parts ...]

Parts, each in its own subprocess (its own memory; one failing part does not stop the
others), each calling the functions of its script (one code path with the script run
alone):

* ``stat``: ``bench_stat.py`` -- one statistic evaluation against Gammapy's
  ``stat_sum()`` on the Crab and the Galactic centre;
* ``fit``: ``bench_fit.py`` -- Crab fit + covariance, MINOS, profiles against Gammapy's
  ``Fit``; the Galactic-centre fit (configuration ``ad``, skyfit only: Gammapy's fails
  there, see ``../shared/data/README.md``);
* ``scaling``: ``bench_scaling.py`` -- bins, sources and true-energy sweeps on the
  synthetic instrument against a numpy floor (and Gammapy where it can do the work);
* ``first_fit``: ``bench_first_fit.py`` -- time to first fit in a fresh process, cold and
  warm compile cache;
* ``sample``: ``bench_sample.py`` -- NUTS on the Crab priors file: time to 1000 bulk ESS
  per sampler (nutpie, PyMC diagonal and dense), against Gammapy's UltraNest ``Sampler``
  (run in the same process, or the data README's time without ``ultranest``);
* ``dask``: ``bench_dask.py`` -- a coverage study on a local Dask cluster, 1 worker
  against 2 (interleaved ``1 2 1 2``, 1000 replications): mean speed-up, goal >= 1.7x;
* ``jax``: ``bench_jax.py`` -- the JAX backend (CPU, and GPU where JAX sees one) against
  the C backend: value+gradient time and agreement (goal 1e-6 relative), numpyro NUTS.

``--quick`` is a smoke run: Crab only, fewer repeats, the small scaling sizes; nutpie only
with 2 chains x (200 tune + 200 draws) and Gammapy's time from the README; 40 Dask
replications on 1 then 2 workers; JAX on the Crab with 5 repeats and a 50 + 50 NUTS run.
A part whose optional dependency or shared data is missing is reported as skipped. Results go
to ``--out`` (default ``benchmarks/results/<date>/``): ``results.md`` (the table, with
the load average and versions), ``results.json`` (everything measured) and
``scaling.png``. The machine is shared: quote one run, its load, and ratios within it.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
PARTS = ("stat", "fit", "scaling", "first_fit", "sample", "dask", "jax")
sys.path.insert(0, str(HERE))


# -- the parts (each runs in a subprocess: ``run_all.py --part NAME``) ------------------
def part_stat(quick: bool) -> dict:
    import bench_stat

    if not bench_stat.DATA.exists():
        return {"skipped": f"shared data not found at {bench_stat.DATA}"}
    out = {}
    for case in ["crab"] if quick else ["crab", "gc"]:
        repeat = 3 if quick else 15
        out[case] = {"skyfit": bench_stat.bench_skyfit(case, "CVM", repeat),
                     "gammapy": bench_stat.bench_gammapy(case, repeat), "repeat": repeat}
    return out


def part_fit(quick: bool) -> dict:
    import bench_fit

    if not bench_fit.FITS.exists():
        return {"skipped": f"shared data not found at {bench_fit.FITS.parent}"}
    repeat = 1 if quick else 5
    out = {"repeat": repeat, "skyfit": bench_fit.bench_skyfit(repeat, "CVM"),
           "gammapy": bench_fit.bench_gammapy(repeat)}
    if not quick:
        gc = bench_fit.bench_gc("ad", "CVM")
        r = gc.pop("result")
        out["gc_ad"] = {**gc, "success": bool(r.success), "nfev": int(r.nfev),
                        "total_stat": float(r.total_stat)}
    return out


def part_scaling(quick: bool) -> dict:
    import bench_scaling

    cfg = bench_scaling.Settings(quick=quick, repeat=3 if quick else 9, in_process=quick)
    return bench_scaling.run(cfg)


def part_first_fit(quick: bool) -> dict:
    import bench_first_fit

    result = bench_first_fit.run(warm_runs=1 if quick else 3)
    return result if result is not None else {
        "skipped": f"Crab data not found at {bench_first_fit.FITS.parent}"}


def _missing(*modules: str) -> list[str]:
    import importlib.util

    return [m for m in modules if importlib.util.find_spec(m) is None]


def part_sample(quick: bool) -> dict:
    import bench_sample

    if not bench_sample.CRAB.exists():
        return {"skipped": f"shared data not found at {bench_sample.CRAB}"}
    if missing := _missing("pymc", "arviz"):
        return {"skipped": f"not installed: {', '.join(missing)}"}
    if not quick:  # the script's defaults: every sampler, 4 x (1000 + 1000), Gammapy run
        return bench_sample.measure()
    sampler = "nutpie" if not _missing("nutpie") else "pymc"
    return bench_sample.measure([sampler], draws=200, tune=200, chains=2, gammapy=False)


def part_dask(quick: bool) -> dict:
    if missing := _missing("distributed"):
        return {"skipped": f"not installed: {', '.join(missing)} (skyfit[scale])"}
    import bench_dask

    return bench_dask.measure(40, (1, 2)) if quick else bench_dask.measure(1000, (1, 2, 1, 2))


def part_jax(quick: bool) -> dict:
    if missing := _missing("jax"):
        return {"skipped": f"not installed: {', '.join(missing)} (skyfit[jax])"}
    import bench_jax
    import jax

    cases = [c for c in (["crab"] if quick else bench_jax.CASES)
             if (bench_jax.DATA / bench_jax.CASES[c][0]).exists()]
    if not cases:
        return {"skipped": f"shared data not found at {bench_jax.DATA}"}
    no_nuts = bool(_missing("numpyro"))
    settings = {"cases": cases, "repeat": 5 if quick else 20, "no_nuts": no_nuts,
                "nuts": [50, 50, 10] if quick else None}
    results = bench_jax.measure(**settings)
    return {"jax": jax.__version__, "devices": [str(d) for d in jax.devices()],
            "backends": list(dict.fromkeys(b for pb in results.values() for b in pb)),
            **settings,
            "nuts_skipped": "numpyro not installed" if no_nuts else "", "cases": results}


def _jsonable(obj):
    import numpy as np

    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def run_part(name: str, quick: bool, out: Path) -> dict:
    """Run one part in a fresh interpreter; its JSON, or ``{"error": ...}``."""
    path = out / f"part_{name}.json"
    cmd = [sys.executable, __file__, "--part", name, "--json", str(path)]
    if quick:
        cmd.append("--quick")
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, text=True)
    wall = time.perf_counter() - t0
    meta = {"wall_s": wall, "load_before": load, "load_after": os.getloadavg()[0]}
    if proc.returncode or not path.exists():
        return {"error": f"part {name} exited with {proc.returncode}", "meta": meta}
    result = json.loads(path.read_text())
    path.unlink()  # kept in results.json
    return {**result, "meta": meta}


# -- the table --------------------------------------------------------------------------
def _row(bench, case, what, skyfit, ref, ref_kind, unit, goal="", met=""):
    return {"benchmark": bench, "case": case, "quantity": what, "skyfit": skyfit,
            "reference": ref, "reference_kind": ref_kind, "unit": unit, "goal": goal,
            "met": met}


def table_rows(results: dict) -> list[dict]:
    """One flat table of the headline numbers of every part."""
    rows = []
    stat = results.get("stat", {})
    for case, r in stat.items():
        if case in ("meta", "skipped", "error"):
            continue
        s, g = r["skyfit"], r["gammapy"] or {}
        gp = g.get("stat_sum")
        rows.append(_row("stat", case, "build, compile value, compile value+grad",
                         f"{s['build']:.2f}, {s['compile_value']:.1f}, {s['compile_grad']:.1f}",
                         None, "", "s"))
        for key, what in (("value", "value"), ("value_grad", "value+grad")):
            ratio = gp / s[key] if gp else None
            rows.append(_row("stat", f"{case} ({s['n_free']} free)", what, 1e3 * s[key],
                             None if gp is None else 1e3 * gp, "Gammapy stat_sum", "ms",
                             "30x" if case == "crab" else "",
                             "" if ratio is None else f"speed-up {ratio:.1f}x"))
    fit = results.get("fit", {})
    if "skyfit" in fit:
        s, g = fit["skyfit"], fit["gammapy"] or {}
        import bench_fit

        rows.append(_row("fit", "crab", "build + compile", s["build"] + s["compile"], None,
                         "", "s"))
        for task, goal in bench_fit.GOALS.items():
            ref = g.get(task)
            rows.append(_row("fit", "crab", task, s[task], ref, "Gammapy Fit", "s",
                             f"{goal}x", "" if ref is None else f"speed-up {ref / s[task]:.1f}x"))
        if "gc_ad" in fit:
            gc = fit["gc_ad"]
            rows.append(_row("fit", "gc (ad)", f"fit + covariance ({gc['n_free']} free, "
                             f"compile {gc['compile']:.0f} s)", gc["fit"], 485.0,
                             "Gammapy (README, fails)", "s", "",
                             f"success {gc['success']}, {gc['nfev']} evaluations"))
    sc = results.get("scaling", {})
    for r in sc.get("rows", []):
        if "error" in r:
            rows.append(_row("scaling", r["sweep"], r["label"], None, None, "", "",
                             met=f"failed: {r['error']}"))
            continue
        ratio = r["ratio_floor"]
        goal = "<= 3x floor" if r["sweep"] == "bins" and r["bins"] >= 1e6 else ""
        met = f"{ratio:.2f}x floor (CPU {r['grad_cpu_s'] / r['floor_grad_cpu_s']:.2f}x)"
        if goal:
            met += "; yes" if ratio <= 3 else "; no"
        rows.append(_row("scaling", r["sweep"],
                         f"{r['label']}: {r['bins']} bins, {r['n_free']} free, v+g "
                         f"(compile {r['compile_value_s'] + r['compile_grad_s']:.1f} s, "
                         f"rss {r['rss_mb']:.0f} MB)", 1e3 * r["grad_s"],
                         1e3 * r["floor_grad_s"], "numpy floor", "ms", goal, met))
        if r.get("gammapy_value_s"):
            rows.append(_row("scaling", r["sweep"], f"{r['label']}: value", 1e3 * r["value_s"],
                             1e3 * r["gammapy_value_s"], "Gammapy stat_sum", "ms", "",
                             f"speed-up {r['gammapy_value_s'] / r['value_s']:.1f}x"))
    for key, slope in sc.get("summary", {}).get("slopes", {}).items():
        if slope == slope and key.startswith(("background grad_s", "spectral grad_s",
                                              "position grad_s", "survey grad_s",
                                              "floor floor_grad_s",
                                              "floor (survey) floor_grad_s")):
            rows.append(_row("scaling", "bins", f"log-log slope {key}", slope, None, "", "",
                             "1 +- 0.1", "yes" if abs(slope - 1) <= 0.1 else "no"))
    per = {}
    for p in sc.get("summary", {}).get("per_source", []):
        per.setdefault((p["kind"], p["free"]), {})[p["npix"]] = p
    for (kind, free), by_map in per.items():
        for npix, p in sorted(by_map.items()):
            rows.append(_row("scaling", "sources", f"per source (slope of t against N = "
                             f"{p['n']}), {kind} {free}, {npix}^2 px; group overhead "
                             f"{p['overhead_ms']:.1f} ms", p["grad_ms"], None, "", "ms"))
        if len(by_map) == 2:
            (a, pa), (b, pb) = sorted(by_map.items())
            rows.append(_row("scaling", "sources", f"per source {kind} {free}: {b}^2 / {a}^2 "
                             f"px ({(b / a) ** 2:.0f}x the bins)", pb["grad_ms"] / pa["grad_ms"],
                             None, "", "ratio", "~1 (cutout, not map)",
                             "yes" if 0.5 < pb["grad_ms"] / pa["grad_ms"] < 2 else "no"))
    ff = results.get("first_fit", {})
    for mode, runs in ff.items():
        if mode in ("meta", "skipped", "error"):
            continue
        import bench_first_fit

        for cache, goal in bench_first_fit.GOALS.items():
            r = runs["cold"] if cache == "cold" else runs["warm_median"]
            steps = ", ".join(f"{k} {v:.2f}" for k, v in r["times"].items())
            rows.append(_row("first_fit", f"crab {mode}", f"{cache} cache ({steps}; CPU "
                             f"{r['cpu_all_s']:.1f} s, rss {r['rss_mb']:.0f} MB)",
                             r["result_s"], None, "", "s", f"< {goal:g} s",
                             "yes" if r["result_s"] < goal else "no"))
    rows += _sample_rows(results.get("sample", {}))
    rows += _dask_rows(results.get("dask", {}))
    rows += _jax_rows(results.get("jax", {}))
    for name in PARTS:
        part = results.get(name, {})
        for key in ("skipped", "error"):
            if key in part:
                rows.append(_row(name, "", key, None, None, "", "", met=part[key]))
    return rows


def _sample_rows(sample: dict) -> list[dict]:
    rows = []
    gp, ref = sample.get("gammapy"), sample.get("gammapy_t1000")
    if gp:
        kind = "Gammapy Sampler (UltraNest), same run"
        rows.append(_row("sample", "crab", f"Gammapy Sampler ({sample['live_points']} live "
                         f"points): wall {gp['wall_s']:.1f} s, {gp['nfev']} likelihood calls, "
                         f"ESS {gp['ess']:.0f}, converged {gp['converged']}; time to 1000 ESS",
                         None, gp["t1000"], kind, "s"))
    else:
        kind = "Gammapy Sampler, data README (one run's total time, no ESS)"
    for r in sample.get("rows", []):
        setup = (f"{sample['chains']} chains x ({sample['tune']} tune + {sample['draws']} "
                 "draws)")
        rows.append(_row("sample", f"crab {r['sampler']}", f"time to 1000 bulk ESS, {setup} "
                         f"(sampling {r['sampling_s']:.1f} s, min ESS {r['min_ess_bulk']:.0f} "
                         f"({r['worst']}), r_hat max {r['max_rhat']:.3f}, "
                         f"{r['divergences']} divergences)", r["t1000"], ref, kind, "s", "",
                         f"speed-up {r['ratio']:.0f}x"))
        rows.append(_row("sample", f"crab {r['sampler']}", f"time to 1000 bulk ESS with "
                         f"build {r['build_s']:.2f} s + compile {r['compile_s']:.1f} s",
                         r["t1000_with_compile"], ref, kind, "s", "",
                         f"speed-up {r['ratio_with_compile']:.0f}x"))
    return rows


DASK_GOAL = 1.7  # speed-up of the mean study wall time, 2 workers against 1


def _dask_rows(dask: dict) -> list[dict]:
    rows = []
    counts = dask.get("per_count", [])
    if not counts:
        return rows
    case = f"coverage study, {dask['n']} replications"
    base = counts[0]
    for c in counts:
        runs = [r for r in dask["runs"] if r["workers"] == c["workers"]]
        cores = sum(r["cpu_s"] for r in runs) / sum(r["wall_s"] for r in runs)
        setup = sum(r["setup_s"] for r in runs) / len(runs)
        what = (f"study wall, {c['workers']} worker(s), mean of {c['runs']} run(s) (cores used "
                f"{cores:.2f}, {1e3 * c['mean_wall_s'] / dask['n']:.0f} ms per replication, "
                f"worker setups {setup:.1f} s summed over workers, included)")
        if c is base:
            rows.append(_row("dask", case, what, c["mean_wall_s"], None, "", "s"))
            continue
        goal = c["workers"] == 2 and base["workers"] == 1
        met = f"speed-up {c['speedup']:.2f}x"
        if goal:
            met += "; yes" if c["speedup"] >= DASK_GOAL else "; no"
        rows.append(_row("dask", case, what, c["mean_wall_s"], base["mean_wall_s"],
                         f"{base['workers']} worker(s), same run", "s",
                         f">= {DASK_GOAL}x" if goal else "", met))
    s = dask["summary"]
    rows.append(_row("dask", case, f"MINOS coverage of the index (expected "
                     f"{s['expected']:.3f}); tables identical across runs: "
                     f"{dask['same_tables']}", s["coverage"], None, "", "",
                     met=f"+- {s['coverage_err']:.3f}, {s['used']} / {s['n']} used"))
    return rows


JAX_GOAL = 1e-6  # largest relative difference from the C backend, value and gradient
_COMPARED = {"c": "the C backend", "reference file": "the C-backend reference file"}


def _jax_rows(part: dict) -> list[dict]:
    rows = []
    for case, per_backend in part.get("cases", {}).items():
        c_vg = per_backend.get("c", {}).get("vg")
        for backend, r in per_backend.items():
            vg = r.get("vg")
            if vg is None:
                rows.append(_row("jax", case, f"{backend}: value+grad", None, None, "", "",
                                 met=f"failed: {r.get('error', 'not run')}"))
                continue
            label = f"{case} ({vg['n_free']} free)"
            ref = None if backend == "c" or c_vg is None else 1e3 * c_vg["value_grad_s"]
            rows.append(_row("jax", label, f"{backend}: value+grad (compile "
                             f"{vg['compile_s']:.1f} s)", 1e3 * vg["value_grad_s"], ref,
                             "" if ref is None else "C backend", "ms", "",
                             "" if ref is None else
                             f"C / this {ref / (1e3 * vg['value_grad_s']):.2f}"))
            if "rel_value" in vg:
                worst = max(vg["rel_value"], vg["rel_grad"])
                met = (f"value {vg['rel_value']:.1e}, gradient {vg['rel_grad']:.1e}; "
                       + ("yes" if worst <= JAX_GOAL else "no"))
                if "rel_jax_cpu" in vg:
                    met += f"; vs jax-cpu {vg['rel_jax_cpu']:.1e}"
                rows.append(_row("jax", label, f"{backend}: largest relative difference "
                                 f"from {_COMPARED.get(vg['compared_with'], 'the reference')}"
                                 ", value and gradient at two "
                                 "points", worst, None, "", "relative",
                                 f"same numbers to {JAX_GOAL:g} relative", met))
            n = r.get("nuts")
            if n is None:
                continue
            if "error" in n:
                rows.append(_row("jax", label, f"{backend}: NUTS (numpyro)", None, None, "", "",
                                 met=f"failed: {n['error']}"))
                continue
            rows.append(_row("jax", label, f"{backend}: NUTS (numpyro) {n['tune']} tune + "
                             f"{n['draws']} draws, depth {n['max_tree_depth']}: init+compile "
                             f"{n['init_s']:.1f} s, sampling {n['sample_s']:.1f} s, "
                             f"{n['steps']} leapfrog steps; per step", 1e3 * n["per_step_s"],
                             None, "", "ms"))
    return rows


def _fmt(x) -> str:
    if x is None:
        return ""
    if isinstance(x, float):
        return f"{x:.4g}"
    return str(x)


def markdown(rows: list[dict], env: dict) -> str:
    lines = [f"# Benchmarks {env['date']}", "",
             f"`{env['command']}`", "",
             f"Machine: {env['cpus']} CPUs, load average {env['load_start']:.2f} at the start, "
             f"{env['load_end']:.2f} at the end (per part in results.json); Python "
             f"{env['python']}, PyTensor {env['pytensor']}, Gammapy {env['gammapy']}; git "
             f"{env['git']}; OMP_NUM_THREADS={env['omp']}; PYTENSOR_FLAGS={env['flags']}; "
             f"total {env['wall_s']:.0f} s.", "",
             "Reference: Gammapy measured in the same run, or the numpy floor (one plain numpy "
             "pass computing the same statistic and its norm gradient over the same arrays), "
             "or as named in the 'reference is' column (Dask: the 1-worker runs; JAX: the C "
             "backend). Wall times; CPU times in results.json.", "",
             "| benchmark | case | quantity | skyfit | reference | reference is | unit | goal "
             "| result |", "| --- " * 9 + "|"]
    for r in rows:
        lines.append("| " + " | ".join(_fmt(r[k]) for k in (
            "benchmark", "case", "quantity", "skyfit", "reference", "reference_kind", "unit",
            "goal", "met")) + " |")
    return "\n".join(lines) + "\n"


# -- the plot ---------------------------------------------------------------------------
def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    rows = [r for r in results.get("scaling", {}).get("rows", []) if "error" not in r]
    fig, axes = plt.subplots(2, 2, figsize=(12, 9))
    ax = axes[0, 0]
    bins = [r for r in rows if r["sweep"] == "bins"]
    for variant in ("background", "spectral", "position", "survey"):
        sel = sorted((r for r in bins if r["variant"] == variant), key=lambda r: r["bins"])
        if sel:
            ax.plot([r["bins"] for r in sel], [1e3 * r["grad_s"] for r in sel], "o-",
                    label=f"skyfit value+grad: {variant}")
    floor = sorted((r for r in bins if r["variant"] == "background"), key=lambda r: r["bins"])
    if floor:
        x = np.array([r["bins"] for r in floor], float)
        ax.plot(x, [1e3 * r["floor_grad_s"] for r in floor], "k--", label="numpy floor")
        ax.plot(x, [3e3 * r["floor_grad_s"] for r in floor], "k:", label="3 x floor")
        gp = [(r["bins"], 1e3 * r["gammapy_value_s"]) for r in floor if r.get("gammapy_value_s")]
        if gp:
            ax.plot(*zip(*gp, strict=True), "s-", color="grey",
                    label="Gammapy stat_sum (background)")
    ax.set(xscale="log", yscale="log", xlabel="bins (pixels x energies)", ylabel="ms per call",
           title="cost against bins")
    ax.legend(fontsize=8)

    sources = [r for r in rows if r["sweep"] == "sources" and r.get("kind") != "none"]
    maps = sorted({r["npix"] for r in sources})
    styles = dict(zip(maps, ["-", "--", ":"], strict=False))
    groups = sorted({(r["kind"], r["free"]) for r in sources})
    ax = axes[0, 1]
    for i, (kind, free) in enumerate(groups):
        for npix in maps:
            sel = sorted((r for r in sources if (r["kind"], r["free"], r["npix"])
                          == (kind, free, npix)), key=lambda r: r["n_sources"])
            if sel:
                ax.plot([r["n_sources"] for r in sel], [1e3 * r["grad_s"] for r in sel],
                        "o" + styles[npix], color=f"C{i}", label=f"{kind} {free}, {npix}^2 px")
    ax.set(xscale="log", yscale="log", xlabel="sources", ylabel="ms per value+grad",
           title="cost against sources (solid: small map, dashed: large)")
    ax.legend(fontsize=7)
    ax = axes[1, 0]
    per = results.get("scaling", {}).get("summary", {}).get("per_source", [])
    width = 0.8 / max(len(maps), 1)
    for j, npix in enumerate(maps):
        values = [next((p["grad_ms"] for p in per if (p["kind"], p["free"], p["npix"])
                        == (kind, free, npix)), np.nan) for kind, free in groups]
        ax.bar(np.arange(len(groups)) + j * width, values, width, label=f"{npix}^2 px")
    ax.set_xticks(np.arange(len(groups)) + width * (len(maps) - 1) / 2,
                  [f"{k}\n{f}" for k, f in groups], fontsize=8)
    ax.set(yscale="log", ylabel="ms per source",
           title="value+grad per source (slope of t against N)")
    ax.legend(fontsize=8)

    ax = axes[1, 1]
    true = sorted((r for r in rows if r["sweep"] == "true"), key=lambda r: r["n_true"])
    if true:
        ax.plot([r["n_true"] for r in true], [1e3 * r["grad_s"] for r in true], "o-",
                label="value+grad")
        ax.plot([r["n_true"] for r in true], [1e3 * r["value_s"] for r in true], "o--",
                label="value")
        ax.plot([r["n_true"] for r in true], [1e3 * r["floor_grad_s"] for r in true], "k--",
                label="numpy floor")
    ax.set(xscale="log", yscale="log", xlabel="true-energy bins", ylabel="ms per call",
           title="cost against true-energy bins")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _environment(command: str) -> dict:
    def version(name):
        try:
            from importlib.metadata import version as v

            return v(name)
        except Exception:  # a missing optional package
            return "absent"

    try:
        git = subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True,
                             text=True, cwd=HERE.parent).stdout.strip()
    except OSError:
        git = "?"
    return {"date": datetime.datetime.now().isoformat(timespec="seconds"),
            "command": command, "cpus": os.cpu_count(), "python": platform.python_version(),
            "pytensor": version("pytensor"), "gammapy": version("gammapy"), "git": git,
            "omp": os.environ.get("OMP_NUM_THREADS", "unset"),
            "flags": os.environ.get("PYTENSOR_FLAGS", "unset"),
            "load_start": os.getloadavg()[0]}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: small sizes")
    parser.add_argument("--out", type=Path, default=None,
                        help="results folder (default benchmarks/results/<date>)")
    parser.add_argument("--parts", nargs="+", default=list(PARTS), choices=PARTS)
    parser.add_argument("--report", type=Path, metavar="DIR",
                        help="only rewrite DIR/results.md and scaling.png from DIR/results.json")
    parser.add_argument("--part", choices=PARTS, help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    if args.part:  # one part, in this (child) process
        result = globals()[f"part_{args.part}"](args.quick)
        args.json.write_text(json.dumps(_jsonable(result), indent=1))
        return
    if args.report:
        data = json.loads((args.report / "results.json").read_text())
        write_report(args.report, data["results"], data["environment"])
        return
    out = args.out or HERE / "results" / datetime.date.today().isoformat()
    out.mkdir(parents=True, exist_ok=True)
    env = _environment(" ".join(["python", *sys.argv]))
    t0 = time.perf_counter()
    results = {}
    for name in args.parts:
        print(f"## {name} (load {os.getloadavg()[0]:.2f})", flush=True)
        results[name] = run_part(name, args.quick, out)
        print(f"## {name} done in {results[name]['meta']['wall_s']:.0f} s", flush=True)
    env["wall_s"] = time.perf_counter() - t0
    env["load_end"] = os.getloadavg()[0]
    write_report(out, results, env)


def write_report(out: Path, results: dict, env: dict) -> None:
    """``results.json``, ``results.md`` (the table) and ``scaling.png`` in ``out``."""
    rows = table_rows(results)
    (out / "results.json").write_text(json.dumps({"environment": env, "table": rows,
                                                  "results": results}, indent=1))
    (out / "results.md").write_text(markdown(rows, env))
    plot(results, out / "scaling.png")
    print(f"\nwritten: {out}/results.md, results.json, scaling.png")
    print((out / "results.md").read_text())


if __name__ == "__main__":
    main()
