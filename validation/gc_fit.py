"""The Galactic-centre must-show of issue 3: one ``run()`` converges, restarts agree.

Dataset ``fermi-3fhl-gc`` (11 x 200 x 400 bins) with ``fermi-3fhl-gc_models.yaml`` (22 3FHL
sources and a background norm). Gammapy 2.1's ``Fit.run`` fails on this field (485 s,
3860 evaluations, ending at 171806.38 above its start; ``../shared/data/README.md``).
Configurations:

* ``a``: the file as stored, 43 free parameters (22 indices, the positions of 10
  sources, the background norm; all amplitudes frozen).
* ``b``: the README's 53 free parameters, "all amplitudes, the index and position of the
  10 brightest": the 22 amplitudes freed with ``min=0`` (so npred stays non-negative),
  the indices of the 12 sources whose position is frozen in the file frozen, the norm.
* ``c``: the file with all 22 amplitudes also freed (``min=0``): 65 free parameters.
* a suffix ``d`` (``ad`` 37, ``bd`` 47, ``cd`` 59 free): the same with the positions of the
  three disks (``...e`` sources) frozen. Their edge falls over ``edge_width * r_0`` = 0.005
  deg, a tenth of a 0.05 deg pixel, and is sampled at pixel centres: the statistic is a
  staircase in the disk centre (flat between steps where the edge crosses a pixel centre,
  curvature of either sign), so MIGRAD failed (``a``) or stopped in a different step from
  each start (``b``) with the forward model before commit a447755 (which widens the
  sampled edge to three sub-pixels; rerun ``a`` and ``b`` with it). The 3FHL file gives
  these positions no errors (catalogue templates).

For each: one ``MapFit.run()`` (MIGRAD with the exact gradient, Newton polish, Laplace
covariance) from the stored start, then ``run()`` from ``--restarts`` seeded perturbed
starts (each index +-0.2, each free lon/lat +-0.02 deg, the norm x0.95/x1.05, each free
amplitude x0.7/x1.4; signs drawn with ``numpy.random.default_rng(seed + k)``). A restart
agrees when its statistic is within 0.01 of the first fit's and every free parameter
within 0.1 sigma (sigma: the first fit's Laplace errors).

Run from the repository root (about 5-10 min per configuration on 2 cores; ``a`` fails
and MIGRAD's strategy-2 retries take well over 10 min)::

    OMP_NUM_THREADS=1 PYTENSOR_FLAGS=base_compiledir=/tmp/pt-gc \\
        .venv/bin/python validation/gc_fit.py [--config ad bd b] [--restarts 3]

writes (merging per configuration) ``validation/reference/gc_fit.json`` and prints a
summary. ``--summary`` only prints the summary of the stored JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SKYFIT_SHARED_DATA", REPO.parent / "shared" / "data"))
GC = DATA / "fermi-3fhl-gc"
OUT = REPO / "validation" / "reference" / "gc_fit.json"
MODE = "CVM"
GAMMAPY = {"wall_s": 485.0, "nfev": 3860, "success": False, "start_stat": 168521.30,
           "final_stat": 171806.38, "message": "Optimization failed",
           "bounded_amplitudes": {"wall_s": 425.0, "nfev": 3741, "final_stat": 171807.03},
           "source": "../shared/data/README.md (Gammapy 2.1, 2-core machine, one run)"}
STAT_TOL = 0.01
SIGMA_TOL = 0.1
DESCRIPTION = {
    "a": "file as stored: 22 indices, 10 positions (lon/lat), background norm",
    "b": "README's 53: 22 amplitudes (min=0), index and position of the 10 sources with "
         "free positions, background norm",
    "c": "file as stored plus all 22 amplitudes (min=0)",
}
DISKS = "; disk positions (3 x lon/lat) frozen"
CONFIGS = ("a", "b", "c", "ad", "bd", "cd")


def read_dataset():
    from skyfit.datasets import MapDataset

    return MapDataset.read(GC / "fermi-3fhl-gc.fits.gz", name="fermi-3fhl-gc")


def read_models(config: str):
    """The model file set up for configuration ``config`` (see the module docstring)."""
    from skyfit.models import Models

    models = Models.read(GC / "fermi-3fhl-gc_models.yaml")
    disks = config.endswith("d") and len(config) == 2
    config = config[0] if disks else config
    if config in ("b", "c"):
        for component in models:
            spectral = getattr(component, "spectral_model", None)
            if spectral is None or "amplitude" not in spectral.parameters.names:
                continue  # the background
            amp = spectral.parameters["amplitude"]
            amp.frozen = False
            amp.min = 0.0
            if config == "b":
                spatial = component.spatial_model.parameters
                spectral.parameters["index"].frozen = spatial["lon_0"].frozen
    elif config != "a":
        raise ValueError(f"unknown configuration {config!r}")
    if disks:
        for component in models:
            spatial = getattr(component, "spatial_model", None)
            if spatial is not None and "r_0" in spatial.parameters.names:
                spatial.parameters["lon_0"].frozen = True
                spatial.parameters["lat_0"].frozen = True
    return models


def make_fit(dataset, config: str, mode: str = MODE):
    from skyfit.fit import MapFit

    return MapFit.from_datasets([dataset], read_models(config), mode=mode)


def perturb(fit, seed: int) -> dict[str, float]:
    """Move every free parameter off its current value (seeded signs); returns the start."""
    rng = np.random.default_rng(seed)
    names = fit._qualified()
    start = {}
    for par in fit.likelihood.free:
        sign = rng.choice([-1.0, 1.0])
        if par.name == "index":
            par.value += 0.2 * sign
        elif par.name in ("lon_0", "lat_0"):
            par.value += 0.02 * sign
        elif par.name == "amplitude":
            par.value *= 1.4 if sign > 0 else 0.7
        elif par.name == "norm":
            par.value *= 1.0 + 0.05 * sign
        else:
            raise ValueError(f"no perturbation rule for {names[id(par)]}")
        start[names[id(par)]] = par.value
    return start


def reset(fit, stored: dict[int, tuple[float, float]]) -> None:
    for par in fit.models.parameters:
        par.value, par.error = stored[id(par)]


class CallCounter:
    """Counts a likelihood's value and value+gradient calls (``n``): all the evaluations of
    a ``run()`` (parameter scales, MIGRAD, the polish's Hessian, the covariance)."""

    def __init__(self, like) -> None:
        self.n = 0
        for name in ("value", "value_and_grad"):
            setattr(like, name, self._counted(getattr(like, name)))

    def _counted(self, method):
        def counted(*args, **kwargs):
            self.n += 1
            return method(*args, **kwargs)

        return counted


def summarise(result, wall: float, start: dict[str, float], evaluations: int) -> dict:
    opt, cov = result.optimize_result, result.covariance_result
    return {
        "success": bool(result.success), "optimize_success": bool(opt.success),
        "message": result.message, "start_stat": opt.start_stat,
        "total_stat": opt.total_stat, "nfev_optimize": opt.nfev,
        "evaluations": evaluations, "n_nonfinite": opt.n_nonfinite,
        "wall_s": wall, "optimize_wall_s": opt.wall_time,
        "covariance_success": bool(cov.success), "covariance_message": cov.message,
        "degenerate": list(cov.degenerate),
        "min_unit_eigenvalue": (float(np.min(cov.eigenvalues))
                                if cov.eigenvalues is not None else None),
        "start": start,
        "values": {n: result.values[n] for n in cov.names},
        "errors": cov.errors,
    }


def compare(first: dict, other: dict) -> dict:
    """Largest |difference| in units of the first fit's errors, and the statistic gap."""
    pulls = {n: abs(other["values"][n] - v) / first["errors"][n]
             for n, v in first["values"].items()}
    worst = max(pulls, key=pulls.get)
    dstat = other["total_stat"] - first["total_stat"]
    return {"dstat": dstat, "max_pull": pulls[worst], "max_pull_parameter": worst,
            "same_optimum": bool(abs(dstat) <= STAT_TOL and pulls[worst] <= SIGMA_TOL)}


def run_config(dataset, config: str, restarts: int, seed: int, mode: str) -> dict:
    fit = make_fit(dataset, config, mode)
    t0 = time.perf_counter()
    like = fit.likelihood
    like.value_and_grad()  # the fit's two compiled functions
    like.value()
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    like.value_and_grad(like.current_theta() * (1 + 1e-9))
    eval_s = time.perf_counter() - t0
    stored = {id(p): (p.value, p.error) for p in fit.models.parameters}
    names = fit._free_names(like)
    print(f"[{config}] {len(names)} free; compile {compile_s:.1f} s, one value+grad "
          f"{eval_s * 1e3:.0f} ms", flush=True)
    out = {"description": DESCRIPTION[config[0]] + (DISKS if config.endswith("d") else ""), "n_free": len(names), "free": names,
           "compile_s": compile_s, "eval_s": eval_s, "fits": []}
    starts = [("stored", None)] + [(f"perturbed seed {seed + k}", seed + k)
                                   for k in range(restarts)]
    counter = CallCounter(like)
    for label, s in starts:
        reset(fit, stored)
        start = ({n: p.value for n, p in zip(names, like.free, strict=True)} if s is None
                 else perturb(fit, s))
        t0 = time.perf_counter()
        counter.n = 0
        result = fit.run()
        entry = {"label": label, "seed": s,
                 **summarise(result, time.perf_counter() - t0, start, counter.n)}
        if out["fits"]:
            entry["vs_first"] = compare(out["fits"][0], entry)
        out["fits"].append(entry)
        print(f"[{config}] {_line(entry)}", flush=True)
        if s is None:
            print(result, flush=True)
    reset(fit, stored)
    return out


def _line(f: dict) -> str:
    text = (f"{f['label']:>18}: success {f['success']!s:5} stat {f['start_stat']:.2f} -> "
            f"{f['total_stat']:.4f}, {f.get('evaluations', '?')} evaluations, "
            f"{f['wall_s']:.1f} s, covariance {f['covariance_success']}")
    if "vs_first" in f:
        c = f["vs_first"]
        text += (f"; vs first: dstat {c['dstat']:+.4f}, max |dp| {c['max_pull']:.3f} sigma "
                 f"({c['max_pull_parameter']}) -> same optimum {c['same_optimum']}")
    return text


def print_summary(data: dict) -> None:
    gp = data["gammapy"]
    print(f"\nGalactic centre, skyfit MapFit.run (mode {data['mode']}); Gammapy 2.1 Fit.run: "
          f"success {gp['success']}, {gp['nfev']} evaluations, {gp['wall_s']:.0f} s, "
          f"{gp['start_stat']:.2f} -> {gp['final_stat']:.2f} (from the data README)")
    for config, c in sorted(data["configs"].items()):
        print(f"\n({config}) {c['n_free']} free: {c['description']}; compile "
              f"{c['compile_s']:.0f} s, value+grad {c['eval_s'] * 1e3:.0f} ms")
        for f in c["fits"]:
            print("  " + _line(f))
        agree = [f["vs_first"]["same_optimum"] for f in c["fits"][1:]]
        first = c["fits"][0]
        print(f"  -> first fit below start: {first['total_stat'] < first['start_stat']}"
              f"; restarts at the same optimum: {sum(agree)}/{len(agree)}")
        if "note" in c:
            print(f"  note: {c['note']}")
    for config, c in sorted(data.get("configs_not_converged", {}).items()):
        print(f"\n({config}) {c['description']}: {c['result']}")


def main() -> None:
    warnings.filterwarnings("ignore")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", nargs="+", default=["ad", "bd"], choices=CONFIGS)
    parser.add_argument("--restarts", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--mode", default=MODE)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--summary", action="store_true", help="print the stored summary")
    args = parser.parse_args()
    data = json.loads(args.out.read_text()) if args.out.exists() else {"configs": {}}
    if not args.summary:
        import iminuit
        import pytensor

        dataset = read_dataset()
        for config in args.config:
            data["configs"][config] = run_config(dataset, config, args.restarts, args.seed,
                                                 args.mode)
            data.update(
                mode=args.mode, gammapy=GAMMAPY, stat_tol=STAT_TOL, sigma_tol=SIGMA_TOL,
                provenance={"command": " ".join([Path(sys.executable).name, *sys.argv]),
                            "date": datetime.now(UTC).isoformat(timespec="seconds"),
                            "python": platform.python_version(), "numpy": np.__version__,
                            "pytensor": pytensor.__version__,
                            "iminuit": iminuit.__version__, "cpus": os.cpu_count(),
                            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS")})
            args.out.write_text(json.dumps(data, indent=1) + "\n")
    print_summary(data)


if __name__ == "__main__":
    main()
