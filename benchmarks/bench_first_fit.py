"""Time to first fit in a fresh process on the Fermi-LAT Crab, cold and warm compile cache.

Run from the repository root::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_first_fit.py [--warm-runs 3]

Each run is a fresh interpreter that imports skyfit, reads ``fermi-3fhl-crab`` with
``Fermi-LAT-3FHL_models_100gev.yaml`` (4 free parameters), builds the graph, compiles
the functions the fit uses (value, value+gradient) and runs ``MapFit.run()`` (fit
and covariance). *Cold*: PyTensor's compile directory is a new empty folder
(``PYTENSOR_FLAGS=base_compiledir=<tmp>``), so every C module is compiled; *warm*: the
same folder again. Reported per run: the wall time from starting the process to the fit
result reaching this process (interpreter start included; the goals apply to it), its
breakdown (import / read / build / compile / fit), the time the process then takes to
exit (PyTensor's exit handler walks its compile cache once more: it delays a script's
end, not its result), the CPU time of the process and of its compiler subprocesses, and
the peak RSS. Goals: under 10 s cold and 2 s warm. ``--modes CVM FAST_COMPILE`` also
times other PyTensor modes (``SKYFIT_PYTENSOR_MODE``). Skipped, with a message, when the
shared data is absent.
"""

from __future__ import annotations

import time

T_START = time.perf_counter()

import argparse  # noqa: E402 -- the clock starts before any import
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

DATA = Path(os.environ.get("SKYFIT_SHARED_DATA",
                           Path(__file__).resolve().parents[1].parent / "shared" / "data"))
FITS = DATA / "fermi-3fhl-crab" / "Fermi-LAT-3FHL_data_Fermi-LAT.fits"
MODELS = DATA / "fermi-3fhl-crab" / "Fermi-LAT-3FHL_models_100gev.yaml"
GOALS = {"cold": 10.0, "warm": 2.0}
MARK = "BENCH_FIRST_FIT_JSON "
STEPS = ("import", "read", "build", "compile", "fit")


def child() -> dict:
    """The first fit, step by step, in this (fresh) process."""
    import warnings

    warnings.filterwarnings("ignore")
    times, cpu = {}, {}
    t0, c0 = time.perf_counter(), time.process_time()

    def step(name):
        nonlocal t0, c0
        times[name], cpu[name] = time.perf_counter() - t0, time.process_time() - c0
        t0, c0 = time.perf_counter(), time.process_time()

    from skyfit.datasets import MapDataset
    from skyfit.fit import MapFit
    from skyfit.models import Models
    step("import")
    ds = MapDataset.read(FITS, name="Fermi-LAT")
    models = Models.read(MODELS)
    step("read")
    fit = MapFit.from_datasets([ds], models)
    like = fit.likelihood
    step("build")
    like.value()  # the functions the fit calls; anything else it compiles counts in "fit"
    like.value_and_grad()
    step("compile")
    result = fit.run()
    step("fit")
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"times": times, "cpu": cpu, "to_result_s": time.perf_counter() - T_START,
            "success": bool(result.success), "nfev": int(result.nfev),
            "total_stat": float(result.total_stat), "n_free": like.n_free,
            "mode": like.mode, "rss_mb": usage.ru_maxrss / 1024}


def run_child(compiledir: Path, mode: str) -> dict:
    """One fresh process on ``compiledir``: its report plus wall and CPU seen from here."""
    flags = [f for f in os.environ.get("PYTENSOR_FLAGS", "").split(",")
             if f and not f.startswith("base_compiledir=")]
    env = {**os.environ, "PYTENSOR_FLAGS": ",".join([*flags, f"base_compiledir={compiledir}"]),
           "SKYFIT_PYTENSOR_MODE": mode}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    report, result_s = None, None
    with subprocess.Popen([sys.executable, __file__, "--child"], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, env=env) as proc:
        for line in proc.stdout:  # the result line arrives before the process exits
            if line.startswith(MARK):
                result_s = time.perf_counter() - t0
                report = json.loads(line[len(MARK):])
        stderr = proc.stderr.read()
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if report is None:
        raise RuntimeError(f"first-fit child failed ({proc.returncode}): {stderr[-2000:]}")
    return {**report, "result_s": result_s, "wall_s": wall, "exit_s": wall - result_s,
            "cpu_all_s": cpu}


def run(warm_runs: int = 3, modes=("CVM",)) -> dict | None:
    """Cold and warm first fits for each mode; None when the Crab data is absent."""
    if not (FITS.exists() and MODELS.exists()):
        return None
    out = {}
    for mode in modes:
        compiledir = Path(tempfile.mkdtemp(prefix="skyfit-first-fit-"))
        try:
            cold = run_child(compiledir, mode)
            warm = [run_child(compiledir, mode) for _ in range(warm_runs)]
        finally:
            shutil.rmtree(compiledir, ignore_errors=True)
        median = statistics.median_low(w["result_s"] for w in warm)
        out[mode] = {"cold": cold, "warm": warm,
                     "warm_median": next(w for w in warm if w["result_s"] == median)}
    return out


def print_table(result: dict) -> None:
    print("| mode | cache | to fit result s | " + " | ".join(f"{s} s" for s in STEPS)
          + " | then exit s | CPU s (with compilers) | peak RSS MB | goal s | met |")
    print("| --- " * (len(STEPS) + 8) + "|")
    for mode, runs in result.items():
        for cache in ("cold", "warm"):
            r = runs[cache] if cache == "cold" else runs["warm_median"]
            goal = GOALS[cache]
            print(f"| {mode} | {cache} | {r['result_s']:.2f} | "
                  + " | ".join(f"{r['times'][s]:.2f}" for s in STEPS)
                  + f" | {r['exit_s']:.2f} | {r['cpu_all_s']:.2f} | {r['rss_mb']:.0f} | "
                  f"{goal:g} | {'yes' if r['result_s'] < goal else 'no'} |")
    for mode, runs in result.items():
        r = runs["cold"]
        print(f"{mode}: fit success {r['success']}, {r['nfev']} evaluations, total stat "
              f"{r['total_stat']:.3f}; warm runs (s): "
              + ", ".join(f"{w['result_s']:.2f}" for w in runs["warm"]))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm-runs", type=int, default=3, help="warm runs (median quoted)")
    parser.add_argument("--modes", nargs="+", default=["CVM"], help="PyTensor modes")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(MARK + json.dumps(child()), flush=True)
        return
    print(f"# bench_first_fit: load {os.getloadavg()[0]:.2f}, data {DATA}", flush=True)
    result = run(args.warm_runs, args.modes)
    if result is None:
        print(f"SKIPPED: Crab data not found at {FITS.parent} (set SKYFIT_SHARED_DATA)")
        return
    print_table(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
