"""Scaling on the built-in synthetic instrument: bins, sources, true-energy bins.

Run from the repository root::

    OMP_NUM_THREADS=1 PYTENSOR_FLAGS=base_compiledir=/tmp/pt-scaling \\
        .venv/bin/python benchmarks/bench_scaling.py [--quick] [--sweeps bins sources true]

Every measurement runs in a fresh subprocess (its own peak memory; a hung compilation is
stopped at ``--timeout``) on ``synthetic_dataset(npix=(n, n), binsz=0.05)`` (Gaussian PSF
``sigma_0=0.05`` deg at 1 TeV: 0.22 deg at 50 GeV, 0.8 deg cutout radius) with 10
reconstructed-energy bins (0.1-10 TeV) and 12 true-energy bins (0.05-20 TeV) unless
swept, counts drawn from the model. It records the graph build, the compilation of the
value and of the value+gradient functions, the median wall and CPU (``process_time``)
time of one value and one value+gradient call after a parameter change, the peak memory
of one value+gradient call (``tracemalloc``: numpy and PyTensor buffers) and the peak RSS
of the process. Beside it, in the same process:

* the **numpy floor**: one plain numpy pass over the same arrays computing the same Cash
  statistic and its gradient with respect to the background norm, with ``npred = norm *
  bkg + src`` (``src`` the sources' precomputed counts): ``sum(mu - n ln mu)`` and
  ``sum(bkg (1 - n / mu))`` -- the memory-bound cost of touching every bin;
* Gammapy 2.1's ``stat_sum()`` after a norm change, for the background-only model (the
  one model Gammapy can evaluate here: the synthetic PSF and dispersion are analytic).

Sweeps (``--quick``: small sizes, a smoke run):

* ``bins``: 1e4 to 1e7 bins (32^2 to 1000^2 pixels x 10 energies); models: background
  norm only; + one point source with free amplitude and index; + one point source with
  free amplitude, index and position; and the background alone on a survey
  (``fov=None``: exposure and background the same everywhere, so the counts, and the bins
  with counts, grow with the map, where the default field of view's do not beyond ~10
  deg). Log-log slope of time against bins.
* ``sources``: 1 to 200 sources at fixed positions with free spectra (points, disks:
  ``r_0`` 0.2 deg), on a grid within +-2 deg of the centre, and 1, 3, 10 free-position
  points and disks (amplitude, index, lon, lat free; a count stops growing once its
  compilation exceeds ``--compile-budget``), on 200^2 and 600^2 pixel maps (1 and 3 free
  at 600^2: compiling many free positions takes minutes; ``--groups`` selects groups).
  Each point also times the background-only model in the same rounds; the per-source
  cost, the slope against N of the difference, is compared between the two map sizes
  (same sources, same cutouts).
* ``true``: 10 to 100 true-energy bins, background + a fixed and a free-position point
  source + a fixed disk, 200^2 pixels.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MARK = "BENCH_SCALING_JSON "
BINSZ = 0.05
N_ENERGY = 10
N_TRUE = 12
PSF_SIGMA = 0.05  # deg at 1 TeV (0.22 deg at 50 GeV): cutouts of 0.8 deg radius
BINS_NPIX = [32, 100, 317, 1000]  # x 10 energies: 1e4 .. 1e7 bins
BINS_NPIX_QUICK = [16, 32, 64]
VARIANTS = {"background": [], "spectral": [["point", 1, "spectral"]],
            "position": [["point", 1, "position"]], "survey": []}
SURVEY = ("survey",)  # variants without the field-of-view fall-off (fov=None)


# -- one measurement (runs in the worker subprocess) -----------------------------------
def _models(sources, npix):
    """Background norm and the ``sources`` groups ``[kind, n, free]`` on a fixed grid."""
    from skyfit.models import FoVBackgroundModel, Models, SkyModel
    from skyfit.models.spatial import DiskSpatialModel, PointSpatialModel
    from skyfit.models.spectral import PowerLawSpectralModel

    total = sum(n for _, n, _ in sources)
    side = max(1, math.ceil(math.sqrt(total)))
    half = min(2.0, 0.3 * npix * BINSZ)  # the same positions on every map of >= 14 deg
    grid = np.linspace(-half, half, side) if side > 1 else np.zeros(1)
    positions = [(grid[i % side] + 0.0123, grid[i // side] - 0.0071) for i in range(total)]
    components, k = [], 0
    for kind, n, free in sources:
        for _ in range(n):
            lon, lat = positions[k]
            k += 1
            if kind == "point":
                spatial = PointSpatialModel(lon_0=lon, lat_0=lat, frame="galactic")
            else:
                spatial = DiskSpatialModel(lon_0=lon, lat_0=lat, r_0=0.2, frame="galactic")
            for par in spatial.parameters:
                par.frozen = not (free == "position" and par.name in ("lon_0", "lat_0"))
            spectral = PowerLawSpectralModel(index=2.3, amplitude=2e-14)
            for par in spectral.parameters:
                par.frozen = free == "none" or par.name == "reference"
            components.append(SkyModel(spatial, spectral, name=f"{kind}{k}"))
    return Models([*components, FoVBackgroundModel("syn")])


def interleaved_times(fns: dict, repeat: int) -> dict:
    """Median wall and CPU seconds of each ``fns[name](i)``, called in rounds.

    Each round calls every function once, so a slow phase of the machine (other jobs'
    memory traffic slows a memory-bound pass without showing in its CPU time) affects
    them alike; ``ratios[name]`` holds the per-round wall times divided by the first
    function's, for medians of ratios.
    """
    wall = {name: [] for name in fns}
    cpu = {name: [] for name in fns}
    for i in range(repeat):
        for name, fn in fns.items():
            t0, c0 = time.perf_counter(), time.process_time()
            fn(i)
            cpu[name].append(time.process_time() - c0)
            wall[name].append(time.perf_counter() - t0)
    return {name: (statistics.median(wall[name]), statistics.median(cpu[name]), wall[name])
            for name in fns}


def numpy_floor(counts, bkg, src, norm):
    """Cash statistic of ``npred = norm * bkg + src`` and its derivative in ``norm``.

    One plain numpy pass over flat float64 arrays (``src`` may be None): the memory-bound
    floor a compiled statistic and gradient are compared against.
    """
    mu = bkg * norm
    if src is not None:
        mu += src
    np.maximum(mu, 1e-25, out=mu)
    value = 2.0 * (mu.sum() - counts @ np.log(mu))
    np.divide(counts, mu, out=mu)
    grad = 2.0 * (bkg.sum() - bkg @ mu)
    return value, grad


def _gammapy_call(counts, bkg, npix, n_energy):
    """Gammapy 2.1 ``stat_sum()`` after a norm change, background-only model: ``call(i)``."""
    try:
        from gammapy.datasets import MapDataset
        from gammapy.maps import Map, MapAxis, WcsGeom
        from gammapy.modeling.models import FoVBackgroundModel
    except ImportError:
        return None
    axis = MapAxis.from_energy_edges(np.geomspace(0.1, 10, n_energy + 1), unit="TeV",
                                     name="energy")
    geom = WcsGeom.create(skydir=(0, 0), frame="galactic", binsz=BINSZ, npix=(npix, npix),
                          axes=[axis])
    ds = MapDataset(counts=Map.from_geom(geom, data=counts), name="syn",
                    background=Map.from_geom(geom, data=bkg))
    ds.models = [FoVBackgroundModel(dataset_name="syn")]
    norm = ds.models[0].spectral_model.norm
    ds.stat_sum()

    def call(i):
        norm.value = 1 + 1e-4 * (i + 1)
        ds.stat_sum()

    return call


def measure(spec: dict) -> dict:
    """One point: build, compile and time skyfit, the numpy floor (and Gammapy)."""
    import tracemalloc

    warnings.filterwarnings("ignore")
    t0 = time.perf_counter()
    from skyfit.datasets.synthetic import AnalyticPSF, synthetic_dataset
    from skyfit.forward import Likelihood

    out = {"import_s": time.perf_counter() - t0}
    npix, n_e, n_t = spec["npix"], spec.get("n_energy", N_ENERGY), spec.get("n_true", N_TRUE)
    repeat = spec.get("repeat", 9)
    ds = synthetic_dataset(npix=(npix, npix), binsz=BINSZ, fov=spec.get("fov", 3.0),
                           energy_edges=np.geomspace(0.1, 10, n_e + 1),
                           energy_true_edges=np.geomspace(0.05, 20, n_t + 1),
                           psf=AnalyticPSF(sigma_0=PSF_SIGMA), background_rate=0.5,
                           name="syn")
    models = _models(spec["sources"], npix)
    ds.models = models
    truth = np.asarray(ds.npred(), float)
    ds.counts.data[...] = np.random.default_rng(1).poisson(truth)
    out["bins"] = int(truth.size)
    out["n_sources"] = sum(n for _, n, _ in spec["sources"])

    t0 = time.perf_counter()
    like = Likelihood([ds], models)
    out["build_s"] = time.perf_counter() - t0
    out["n_free"] = like.n_free
    t0 = time.perf_counter()
    like.value()
    out["compile_value_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    like.value_and_grad()
    out["compile_grad_s"] = time.perf_counter() - t0
    theta = like.current_theta()
    steps = 1 + 1e-4 * np.arange(1, repeat + 1)
    counts = np.asarray(ds.counts.data, float).ravel()
    bkg = np.asarray(ds.background.data, float).ravel()
    src = truth.ravel() - bkg if out["n_sources"] else None
    fns = {"grad": lambda i: like.value_and_grad(theta * steps[i]),
           "value": lambda i: like.value(theta * steps[i]),
           "floor_grad": lambda i: numpy_floor(counts, bkg, src, steps[i]),
           "floor_value": lambda i: numpy_floor(counts, bkg, src, steps[i])[0]}
    if spec.get("gammapy") and not out["n_sources"]:
        call = _gammapy_call(ds.counts.data, ds.background.data, npix, n_e)
        if call is not None:
            fns["gammapy_value"] = call
    if spec.get("paired") and out["n_sources"]:
        # the background-only model on the same arrays, timed in the same rounds: the
        # sources' own cost is the per-round difference (machine drifts cancel)
        from skyfit.models import FoVBackgroundModel, Models

        base = Likelihood([ds], Models([FoVBackgroundModel("syn")]))
        base.value_and_grad()
        fns["base_grad"] = lambda i: base.value_and_grad([steps[i]])
    fns["floor_grad"](0)  # first touch of the floor's buffers
    times = interleaved_times(fns, repeat)
    for name, (wall, cpu, _) in times.items():
        out[f"{name}_s"], out[f"{name}_cpu_s"] = wall, cpu
    grad_walls = times["grad"][2]
    out["ratio_floor"] = statistics.median(
        g / f for g, f in zip(grad_walls, times["floor_grad"][2], strict=True))
    if "base_grad" in times:
        out["sources_grad_s"] = statistics.median(
            g - b for g, b in zip(grad_walls, times["base_grad"][2], strict=True))

    tracemalloc.start()
    like.value_and_grad(theta)
    out["grad_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.reset_peak()
    numpy_floor(counts, bkg, src, 1.0)
    out["floor_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    out["data_mb"] = truth.nbytes / 2**20
    out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


# -- driver: one subprocess per point ---------------------------------------------------
@dataclass
class Settings:
    """How the points are run: sizes (``quick``), repeats, limits, where."""

    quick: bool = False
    repeat: int = 9
    timeout: float = 900.0  # s per point (subprocess only)
    budget: float = 150.0  # compile s beyond which a free-position count stops growing
    mem_gb: float = 12.0  # address-space limit of each worker process
    in_process: bool = False  # measure in this process (quick smoke runs: no imports)
    groups: tuple = ()  # sources sweep: only these "kind-free" groups (default: all)
    variants: tuple = ()  # bins sweep: only these variants (default: all)


def run_point(spec: dict, cfg: Settings) -> dict:
    """``measure(spec)`` in a fresh interpreter; ``{"error": ...}`` if it fails or hangs."""
    spec = {**spec, "repeat": cfg.repeat}
    t0 = time.perf_counter()
    if cfg.in_process:
        try:
            return {**spec, **measure(spec), "process_s": time.perf_counter() - t0}
        except Exception as exc:  # a failed point is reported, the sweep goes on
            return {**spec, "error": f"{type(exc).__name__}: {exc}"}
    cmd = [sys.executable, __file__, "--worker", json.dumps(spec), "--mem-gb", str(cfg.mem_gb)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=cfg.timeout)
    except subprocess.TimeoutExpired:
        return {**spec, "error": f"timeout after {cfg.timeout:.0f} s"}
    for line in proc.stdout.splitlines():
        if line.startswith(MARK):
            return {**spec, **json.loads(line[len(MARK):]),
                    "process_s": time.perf_counter() - t0}
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-2:]
    return {**spec, "error": f"exit {proc.returncode}: {' | '.join(tail)}"}


def _log(row: dict) -> dict:
    head = f"  {row['sweep']:<8}{row['label']:<30}"
    if "error" in row:
        print(f"{head}FAILED {row['error']}", flush=True)
        return row
    print(f"{head}bins {row['bins']:>9} free {row['n_free']:>4}  compile "
          f"{row['compile_value_s']:5.1f}+{row['compile_grad_s']:5.1f} s  value "
          f"{1e3 * row['value_s']:8.3f} ms  v+g {1e3 * row['grad_s']:8.3f} ms (CPU "
          f"{1e3 * row['grad_cpu_s']:8.3f})  floor {1e3 * row['floor_grad_s']:7.3f} ms  ratio "
          f"{row['ratio_floor']:6.2f}  rss {row['rss_mb']:5.0f} MB"
          + (f"  sources {1e3 * row['sources_grad_s']:.3f} ms" if "sources_grad_s" in row
             else ""), flush=True)
    return row


def sweep_bins(cfg: Settings) -> list[dict]:
    rows = []
    for variant, sources in VARIANTS.items():
        if cfg.variants and variant not in cfg.variants:
            continue
        for npix in BINS_NPIX_QUICK if cfg.quick else BINS_NPIX:
            spec = {"sweep": "bins", "label": f"{variant} {npix}^2", "variant": variant,
                    "npix": npix, "sources": sources,
                    "gammapy": variant in ("background", *SURVEY)}
            if variant in SURVEY:
                spec["fov"] = None
            rows.append(_log(run_point(spec, cfg)))
    return rows


def sweep_sources(cfg: Settings) -> list[dict]:
    """Fixed-position groups up to 200 sources; free-position ones while they compile."""
    maps = [24, 48] if cfg.quick else [200, 600]
    rows = []
    for npix in maps:
        # compiling free-position sources grows faster than linearly with their number
        # (10 points: ~2 min on a 2-core machine), so the larger map repeats only 1 and 3
        fixed = [1, 3] if cfg.quick else [1, 10, 50, 200]
        free = [1] if cfg.quick else [1, 3, 10] if npix == maps[0] else [1, 3]
        groups = [("point", "spectral", fixed), ("disk", "spectral", fixed),
                  ("point", "position", free), ("disk", "position", free)]
        if cfg.quick:
            groups = groups[::2]
        if cfg.groups:
            groups = [g for g in groups if f"{g[0]}-{g[1]}" in cfg.groups]
        rows.append(_log(run_point({"sweep": "sources", "label": f"none {npix}^2",
                                    "kind": "none", "free": "none", "npix": npix,
                                    "sources": []}, cfg)))
        for kind, free_pars, counts in groups:
            for j, n in enumerate(counts):
                spec = {"sweep": "sources", "label": f"{n} {kind} {free_pars} {npix}^2",
                        "kind": kind, "free": free_pars, "npix": npix,
                        "sources": [[kind, n, free_pars]], "paired": True}
                row = _log(run_point(spec, cfg))
                rows.append(row)
                over = "error" in row or (row["compile_value_s"] + row["compile_grad_s"]
                                          > cfg.budget)
                if over and j + 1 < len(counts):
                    print(f"  ({kind} {free_pars}: no count above {n}, failed or compile "
                          f"over {cfg.budget:.0f} s)", flush=True)
                    rows.append({**spec, "label": f"{counts[j + 1:]} {kind} {free_pars}",
                                 "error": f"not run: compile budget {cfg.budget:.0f} s"})
                    break
    return rows


def sweep_true(cfg: Settings) -> list[dict]:
    rows = []
    sources = [["point", 1, "spectral"], ["point", 1, "position"], ["disk", 1, "spectral"]]
    npix = 24 if cfg.quick else 200
    for n_true in [10, 20] if cfg.quick else [10, 20, 50, 100]:
        spec = {"sweep": "true", "label": f"{n_true} true bins {npix}^2", "n_true": n_true,
                "npix": npix, "sources": sources}
        rows.append(_log(run_point(spec, cfg)))
    return rows


def loglog_slope(rows: list[dict], key: str, min_bins: float = 0.0) -> float:
    """Least-squares slope of log(time) against log(bins) over rows with >= min_bins."""
    pts = [(r["bins"], r[key]) for r in rows if "error" not in r and r["bins"] >= min_bins]
    if len(pts) < 2:
        return float("nan")
    x, y = np.log10(np.array(pts, float)).T
    return float(np.polyfit(x, y, 1)[0])


def per_source(rows: list[dict]) -> list[dict]:
    """Least-squares ``t(N) = a + b N`` (value+gradient) per source group and map size.

    ``b`` is the cost of one more source; ``a - t(0)`` the group's one-time cost (with
    ``t(0)`` the background-only model on the same map). A per-source cost set by the
    cutout gives the same ``b`` on both map sizes. Where the points were measured paired
    (``sources_grad_s``: the per-round difference to the background-only model in the
    same process), ``t`` is that difference and ``t(0) = 0``.
    """
    base = {r["npix"]: r for r in rows if r.get("kind") == "none" and "error" not in r}
    groups = {}
    for r in rows:
        if r.get("kind") not in (None, "none") and "error" not in r:
            groups.setdefault((r["kind"], r["free"], r["npix"]), []).append(r)
    out = []
    for (kind, free, npix), sel in groups.items():
        if len(sel) < 2:
            continue
        n = np.array([r["n_sources"] for r in sel], float)
        fit = {key: np.polyfit(n, 1e3 * np.array([r[key] for r in sel]), 1)
               for key in ("grad_s", "grad_cpu_s", "value_s")}
        t0 = 1e3 * base[npix]["grad_s"] if npix in base else float("nan")
        if all("sources_grad_s" in r for r in sel):
            fit["grad_s"] = np.polyfit(n, 1e3 * np.array([r["sources_grad_s"] for r in sel]), 1)
            t0 = 0.0
        out.append({"kind": kind, "free": free, "npix": npix, "n": n.astype(int).tolist(),
                    "grad_ms": float(fit["grad_s"][0]), "grad_cpu_ms": float(fit["grad_cpu_s"][0]),
                    "value_ms": float(fit["value_s"][0]),
                    "overhead_ms": float(fit["grad_s"][1] - t0)})
    return out


def summarize(rows: list[dict]) -> dict:
    """Slopes against bins, ratios to the floor at >= 1e6 bins, per-source costs."""
    summary = {"slopes": {}, "floor_ratio_1e6": {}}
    bins = [r for r in rows if r["sweep"] == "bins"]
    for variant in dict.fromkeys(r["variant"] for r in bins):
        sel = [r for r in bins if r["variant"] == variant]
        for key in ("value_s", "grad_s", "grad_cpu_s"):
            summary["slopes"][f"{variant} {key}"] = loglog_slope(sel, key)
            summary["slopes"][f"{variant} {key} (>=1e5)"] = loglog_slope(sel, key, 1e5)
        summary["floor_ratio_1e6"][variant] = [
            (r["bins"], r["ratio_floor"], r["grad_cpu_s"] / r["floor_grad_cpu_s"])
            for r in sel if "error" not in r and r["bins"] >= 1e6]
    for variant in ("background", *SURVEY):
        floor = [r for r in bins if r["variant"] == variant]
        name = "floor" if variant == "background" else f"floor ({variant})"
        for key in ("floor_grad_s", "floor_grad_cpu_s") if floor else ():
            summary["slopes"][f"{name} {key}"] = loglog_slope(floor, key)
            summary["slopes"][f"{name} {key} (>=1e5)"] = loglog_slope(floor, key, 1e5)
    summary["per_source"] = per_source([r for r in rows if r["sweep"] == "sources"])
    return summary


def run(cfg: Settings, sweeps=("bins", "sources", "true")) -> dict:
    """The requested sweeps: ``{"rows": [...], "summary": {...}, "settings": {...}}``."""
    rows = []
    for name, sweep in (("bins", sweep_bins), ("sources", sweep_sources), ("true", sweep_true)):
        if name in sweeps:
            rows += sweep(cfg)
    return {"rows": rows, "summary": summarize(rows), "settings": vars(cfg),
            "mode": os.environ.get("SKYFIT_PYTENSOR_MODE", "CVM")}


def print_summary(result: dict) -> None:
    s = result["summary"]
    if any(r["sweep"] == "bins" for r in result["rows"]):
        print("\nlog-log slope of time against bins (all sizes / >= 1e5 bins):")
        for key, value in s["slopes"].items():
            if "(>=1e5)" not in key:
                print(f"  {key:<36}{value:6.3f} / {s['slopes'][key + ' (>=1e5)']:6.3f}")
        print("value+gradient / numpy floor at >= 1e6 bins (wall, CPU):")
        for variant, points in s["floor_ratio_1e6"].items():
            for bins, wall, cpu in points:
                print(f"  {variant:<12}{bins:>10}  {wall:5.2f}  {cpu:5.2f}")
    if s["per_source"]:
        print("value+gradient per source (slope of t against N) and group overhead:")
        for p in s["per_source"]:
            print(f"  {p['kind']:<6}{p['free']:<10}{p['npix']:>5}^2  N {p['n']}  "
                  f"{p['grad_ms']:8.3f} ms/source (CPU {p['grad_cpu_ms']:8.3f})  overhead "
                  f"{p['overhead_ms']:8.3f} ms")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="small sizes, measured in this process (smoke run)")
    parser.add_argument("--sweeps", nargs="+", default=["bins", "sources", "true"],
                        choices=["bins", "sources", "true"])
    parser.add_argument("--repeat", type=int, default=None, help="rounds per median (9; 3 quick)")
    parser.add_argument("--timeout", type=float, default=900.0, help="s per point")
    parser.add_argument("--compile-budget", type=float, default=150.0,
                        help="stop growing a free-position source count past this compile s")
    parser.add_argument("--mem-gb", type=float, default=12.0,
                        help="address-space limit of each worker (GB)")
    parser.add_argument("--groups", nargs="+", default=[],
                        choices=["point-spectral", "disk-spectral", "point-position",
                                 "disk-position"], help="sources sweep: only these groups")
    parser.add_argument("--variants", nargs="+", default=[], choices=list(VARIANTS),
                        help="bins sweep: only these models")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        limit = int(args.mem_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        print(MARK + json.dumps(measure(json.loads(args.worker))), flush=True)
        return
    cfg = Settings(quick=args.quick, repeat=args.repeat or (3 if args.quick else 9),
                   timeout=args.timeout, budget=args.compile_budget, mem_gb=args.mem_gb,
                   in_process=args.quick, groups=tuple(args.groups),
                   variants=tuple(args.variants))
    print(f"# bench_scaling: quick={cfg.quick}, repeat={cfg.repeat} (medians), load "
          f"{os.getloadavg()[0]:.2f}", flush=True)
    result = run(cfg, args.sweeps)
    print_summary(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
