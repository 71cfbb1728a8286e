"""Fitting speed: skyfit ``MapFit`` against Gammapy 2.1 ``Fit`` on the Fermi-LAT Crab.

Run from the repository root (Gammapy 2.1 installed for the side-by-side numbers)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_fit.py [--repeat 5] [--mode CVM]

Dataset ``fermi-3fhl-crab`` with ``Fermi-LAT-3FHL_models_100gev.yaml`` (4 free
parameters). Each task starts from the same values every repeat and the medians are
compared in this one run:

* full fit + covariance from the file's start values (``MapFit.run`` / ``Fit.run``);
* MINOS on alpha at the best fit (``confidence``);
* a 21-point profile of alpha over +-2 sigma, others fixed (``likelihood_profile`` /
  ``stat_profile``) and re-optimised (``minos_profile`` / ``stat_profile(reoptimize=True)``).

skyfit's one-time graph build and compilation are reported separately. ``--gc [CONFIG ...]``
also times skyfit's ``MapFit.run`` on the Galactic-centre field (configurations of
``validation/gc_fit.py``: ``a`` the model file as stored, 43 free parameters; ``b`` the
README's 53 free, amplitudes with ``min=0``; ``c`` 65 free; a suffix ``d`` freezes the
three disks' positions, on which the statistic is a staircase (pixel-sampled sharp disk
edge), default ``ad bd``) from the stored start, one fit each, and prints Gammapy 2.1's
numbers from ``../shared/data/README.md`` (``Fit.run`` fails there: 3860 evaluations,
485 s, ending above its start). Gammapy's GC fit is not timed by default (~8 min per
the README, more on a loaded machine); ``--gc-gammapy`` times it on
the same configurations (bounded amplitudes where skyfit bounds them).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings
from pathlib import Path

DATA = Path(os.environ.get("SKYFIT_SHARED_DATA",
                           Path(__file__).resolve().parents[1].parent / "shared" / "data"))
CRAB = DATA / "fermi-3fhl-crab"
FITS = CRAB / "Fermi-LAT-3FHL_data_Fermi-LAT.fits"
MODELS = CRAB / "Fermi-LAT-3FHL_models_100gev.yaml"
GOALS = {"fit + covariance": 100, "MINOS alpha": 50, "profile 21 (fixed)": 20,
         "profile 21 (re-optimised)": 20}


def _median(fn, repeat: int, reset) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        reset()
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def bench_skyfit(repeat: int, mode: str) -> dict:
    from skyfit.datasets import MapDataset
    from skyfit.fit import MapFit
    from skyfit.models import Models

    ds = MapDataset.read(FITS, name="Fermi-LAT")
    models = Models.read(MODELS)
    start = [(p, p.value, p.error) for p in models.parameters]
    t0 = time.perf_counter()
    fit = MapFit.from_datasets([ds], models, mode=mode)
    like = fit.likelihood
    build = time.perf_counter() - t0
    t0 = time.perf_counter()
    like.value_and_grad()
    compile_s = time.perf_counter() - t0

    def reset_start():
        for p, value, error in start:
            p.value, p.error = value, error

    out = {"build": build, "compile": compile_s}
    out["fit + covariance"], result = _median(fit.run, repeat, reset_start)
    out["nfev"] = result.nfev
    out["success"] = result.success
    out["total_stat"] = result.total_stat
    best = [(p, p.value, p.error) for p in models.parameters]

    def reset_best():
        for p, value, error in best:
            p.value, p.error = value, error

    out["MINOS alpha"], ci = _median(lambda: fit.confidence("alpha"), repeat, reset_best)
    out["minos"] = (ci["errp"], ci["errn"], ci["nfev"])
    out["profile 21 (fixed)"], _ = _median(
        lambda: fit.likelihood_profile("alpha", bounds=2, nvalues=21), repeat, reset_best)
    out["profile 21 (re-optimised)"], _ = _median(
        lambda: fit.minos_profile("alpha", bounds=2, nvalues=21), repeat, reset_best)
    return out


def bench_gammapy(repeat: int) -> dict | None:
    try:
        from gammapy.datasets import MapDataset
        from gammapy.modeling import Fit
        from gammapy.modeling.models import Models
    except ImportError:
        return None
    ds = MapDataset.read(FITS, name="Fermi-LAT")
    ds.models = Models.read(MODELS)
    ds.stat_sum()
    pars = ds.models.parameters
    start = [(p, p.value, p.error) for p in pars]

    def reset(saved):
        def apply():
            for p, value, error in saved:
                p.value, p.error = value, error
        return apply

    fit = Fit()
    out = {}
    out["fit + covariance"], result = _median(lambda: fit.run([ds]), repeat, reset(start))
    out["nfev"] = result.optimize_result.nfev
    out["success"] = result.success
    out["total_stat"] = result.total_stat
    best = [(p, p.value, p.error) for p in pars]
    alpha = ds.models["Crab Nebula"].spectral_model.alpha
    out["MINOS alpha"], ci = _median(
        lambda: fit.confidence(datasets=[ds], parameter=alpha, sigma=1), repeat, reset(best))
    out["minos"] = (ci["errp"], ci["errn"], ci.get("nfev", -1))
    alpha.scan_n_values = 21
    out["profile 21 (fixed)"], _ = _median(
        lambda: fit.stat_profile(datasets=[ds], parameter=alpha), repeat, reset(best))
    out["profile 21 (re-optimised)"], _ = _median(
        lambda: fit.stat_profile(datasets=[ds], parameter=alpha, reoptimize=True), repeat,
        reset(best))
    return out


def _gc_script():
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "validation" / "gc_fit.py"
    spec = importlib.util.spec_from_file_location("gc_fit", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def bench_gc(config: str, mode: str) -> dict:
    """skyfit ``MapFit.run`` on the GC field from the stored start (one fit)."""
    gc = _gc_script()
    fit = gc.make_fit(gc.read_dataset(), config, mode)
    t0 = time.perf_counter()
    fit.likelihood.value_and_grad()  # the fit's two compiled functions
    fit.likelihood.value()
    compile_s = time.perf_counter() - t0
    counter = gc.CallCounter(fit.likelihood)
    t0 = time.perf_counter()
    result = fit.run()
    return {"compile": compile_s, "fit": time.perf_counter() - t0, "result": result,
            "n_free": fit.likelihood.n_free, "evaluations": counter.n}


def bench_gc_gammapy(config: str) -> dict | None:
    """Gammapy 2.1 ``Fit.run`` on the same GC configuration (minutes; opt-in)."""
    try:
        from gammapy.datasets import MapDataset
        from gammapy.modeling import Fit
        from gammapy.modeling.models import Models
    except ImportError:
        return None
    gc = _gc_script()
    ds = MapDataset.read(gc.GC / "fermi-3fhl-gc.fits.gz", name="fermi-3fhl-gc")
    models = Models.read(gc.GC / "fermi-3fhl-gc_models.yaml")
    if config[0] in ("b", "c"):
        for m in models:
            if "amplitude" not in m.spectral_model.parameters.names:
                continue  # the background
            amp = m.spectral_model.amplitude
            amp.frozen, amp.min = False, 0.0
            if config[0] == "b":
                m.spectral_model.index.frozen = m.spatial_model.lon_0.frozen
    if config.endswith("d") and len(config) == 2:
        for m in models:
            spatial = getattr(m, "spatial_model", None)
            if spatial is not None and "r_0" in spatial.parameters.names:
                spatial.lon_0.frozen = spatial.lat_0.frozen = True
    ds.models = models
    start = ds.stat_sum()
    t0 = time.perf_counter()
    result = Fit().run([ds])
    return {"fit": time.perf_counter() - t0, "success": result.success,
            "nfev": result.optimize_result.nfev, "start_stat": start,
            "total_stat": result.total_stat,
            "n_free": len(models.parameters.free_parameters)}


def crab(args) -> None:
    sky = bench_skyfit(args.repeat, args.mode)
    gp = bench_gammapy(args.repeat)
    print(f"skyfit graph build {sky['build']:.2f} s, compile value+grad {sky['compile']:.2f} s "
          f"(mode {args.mode}, once per model structure)")
    print(f"skyfit fit: success {sky['success']}, {sky['nfev']} evaluations, total stat "
          f"{sky['total_stat']:.3f}; MINOS alpha +{sky['minos'][0]:.4f} "
          f"-{sky['minos'][1]:.4f} ({sky['minos'][2]} evaluations)")
    if gp is not None:
        print(f"Gammapy fit: success {gp['success']}, {gp['nfev']} evaluations, total stat "
              f"{gp['total_stat']:.3f}; MINOS alpha +{gp['minos'][0]:.4f} "
              f"-{gp['minos'][1]:.4f} ({gp['minos'][2]} evaluations)")
    print(f"\nmedians of {args.repeat} (s):")
    print("| task | skyfit | Gammapy | ratio | goal |\n| --- | --- | --- | --- | --- |")
    for task, goal in GOALS.items():
        g = gp[task] if gp is not None else float("nan")
        print(f"| {task} | {sky[task]:.4f} | {g:.4f} | {g / sky[task]:.1f}x | {goal}x |")


def main() -> None:
    warnings.filterwarnings("ignore")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--mode", default="CVM", help="PyTensor mode (default CVM)")
    parser.add_argument("--gc", nargs="*", default=None,
                        choices=["a", "b", "c", "ad", "bd", "cd"],
                        help="also time skyfit's Galactic-centre fit in these configurations "
                             "of validation/gc_fit.py (a: 43 free as stored, b: 53 free, c: 65 "
                             "free; suffix d: disk positions frozen; bare --gc: ad bd)")
    parser.add_argument("--gc-gammapy", action="store_true",
                        help="also time Gammapy's GC fit (~8 min per configuration)")
    parser.add_argument("--skip-crab", action="store_true", help="only the GC part")
    args = parser.parse_args()
    args.gc = None if args.gc is None else (args.gc or ["ad", "bd"])
    if not args.skip_crab:
        crab(args)
    for config in args.gc or []:
        out = bench_gc(config, args.mode)
        r = out["result"]
        print(f"\nGalactic centre ({config}: {out['n_free']} free), skyfit: compile "
              f"{out['compile']:.1f} s, fit + covariance {out['fit']:.1f} s, success "
              f"{r.success}, {out['evaluations']} evaluations (scales, MIGRAD, Newton "
              "polish, covariance), "
              f"stat {r.optimize_result.start_stat:.2f} -> {r.total_stat:.2f}")
        gp = bench_gc_gammapy(config) if args.gc_gammapy else None
        if gp is not None:
            print(f"Galactic centre ({config}: {gp['n_free']} free), Gammapy (this run): "
                  f"fit + covariance {gp['fit']:.1f} s, success {gp['success']}, "
                  f"{gp['nfev']} evaluations, stat {gp['start_stat']:.2f} -> "
                  f"{gp['total_stat']:.2f}; ratio {gp['fit'] / out['fit']:.1f}x")
    if args.gc:
        print("Galactic centre, Gammapy 2.1 (data README, not timed here unless "
              "--gc-gammapy): Fit.run fails, 3860 evaluations, 485 s, 168521.30 -> "
              "171806.38 (above its start); with amplitudes >= 0: 3741 evaluations, 425 s, "
              "171807.03. No Gammapy optimum to compare with; skyfit's GC optimum is checked "
              "by restarts in validation/gc_fit.py.")


if __name__ == "__main__":
    main()
