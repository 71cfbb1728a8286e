"""Scaling of a coverage study on a local Dask cluster: 1 worker against 2 (or more).

Runs :class:`skyfit.study.CoverageStudy` (the calibration setup of
``validation/calibration.py``: 24 x 24 pixels, MIGRAD + Laplace covariance + MINOS on
the index per replication) with :func:`skyfit.study.run_study` on a fresh
``LocalCluster(n_workers=w, threads_per_worker=1)`` for each ``w`` of ``--workers``, and
prints for each: cluster start, study wall time (first submission to last row, each
worker's one-time setup included), ms per replication, the CPU seconds the workers used
and the cores that makes (CPU s / wall s: below the worker count when other processes
share the cores), the CPU time of this process (client and scheduler), the speed-up over
the mean of the runs with the first worker count, the load average, and the coverage
numbers. The tables of all runs must agree (rows depend only on the seed and the
replication index). Interleave repeats (``--workers 1 2 1 2``) so that both counts see
the same background load.

Run from the repository root::

    OMP_NUM_THREADS=1 PYTENSOR_FLAGS=base_compiledir=/tmp/pt-dask \\
        .venv/bin/python benchmarks/bench_dask.py --n 1000 --workers 1 2

The PyTensor cache is warmed in this process first, so no run pays a cold compilation.
The machine is shared: quote one run with its load average.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np


def same_table(a, b) -> bool:
    """Equal tables, floats to rounding (last bits can differ between processes)."""
    if a.colnames != b.colnames or len(a) != len(b):
        return False
    for name in a.colnames:
        x, y = np.asarray(a[name]), np.asarray(b[name])
        if x.dtype.kind == "f":
            if not np.allclose(x, y, rtol=1e-12, atol=0, equal_nan=True):
                return False
        elif x.tolist() != y.tolist():
            return False
    return True


def run(study, workers: int, chunk: int | None) -> dict:
    import distributed

    from skyfit.study import run_study

    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as client:
        client.wait_for_workers(workers)
        start = time.perf_counter() - t0
        c0 = time.process_time()
        table = run_study(study, client=client, chunk=chunk)
        main_cpu = time.process_time() - c0
    return {"workers": workers, "start_s": start, "wall_s": table.meta["wall_s"],
            "setup_s": table.meta["setup_s"], "n_setups": table.meta["n_setups"],
            "cpu_s": table.meta["cpu_s"], "main_cpu_s": main_cpu,
            "chunks": table.meta["n_chunks"], "load_before": load,
            "load_after": os.getloadavg()[0], "table": table}


def measure(n: int = 1000, workers=(1, 2), seed: int = 20261128, chunk: int | None = None,
            mode: str | None = None) -> dict:
    """Warm the compile cache, run the study once per entry of ``workers``; JSON-ready.

    ``runs``: :func:`run`'s dict per run, without its table; ``per_count``: per worker
    count (first-seen order), the number of runs, their mean study wall time and the
    speed-up of that mean over the first count's; ``same_tables``: every run's table equals
    the first's; ``summary``: the study's coverage numbers (first run).
    """
    from skyfit.study import CoverageStudy, SyntheticSource

    study = CoverageStudy(n=n, seed=seed, source=SyntheticSource(mode=mode))
    t0 = time.perf_counter()
    study.setup()  # fills PyTensor's on-disk cache for the workers
    warmup = time.perf_counter() - t0
    print(f"warm-up compile in this process: {warmup:.1f} s; {os.cpu_count()} CPUs, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}", flush=True)
    runs = [run(study, w, chunk) for w in workers]
    tables = [r.pop("table") for r in runs]
    walls = {w: [r["wall_s"] for r in runs if r["workers"] == w] for w in workers}
    base = float(np.mean(walls[workers[0]]))
    per_count = [{"workers": w, "runs": len(x), "mean_wall_s": float(np.mean(x)),
                  "speedup": base / float(np.mean(x))} for w, x in walls.items()]
    return {"n": n, "workers": list(workers), "seed": seed, "chunk": chunk, "mode": mode,
            "warmup_s": warmup, "cpus": os.cpu_count(), "runs": runs, "per_count": per_count,
            "same_tables": all(same_table(tables[0], t) for t in tables[1:]),
            "summary": study.summary(tables[0])}


def report(m: dict) -> None:
    """Print :func:`measure`'s result: one table row per run, the means, the coverage."""
    n, first = m["n"], m["per_count"][0]
    base = first["mean_wall_s"]
    print(f"\n{n} replications, coverage study of src.index (MINOS)\n")
    print("| workers | cluster start s | study wall s | ms / replication | setups (sum s) "
          f"| chunks | worker CPU s | cores used | client+scheduler CPU s "
          f"| speed-up vs {first['workers']} (mean) | load before / after |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in m["runs"]:
        print(f"| {r['workers']} | {r['start_s']:.1f} | {r['wall_s']:.1f} | "
              f"{1e3 * r['wall_s'] / n:.0f} | {r['n_setups']} ({r['setup_s']:.1f}) | "
              f"{r['chunks']} | {r['cpu_s']:.1f} | {r['cpu_s'] / r['wall_s']:.2f} | "
              f"{r['main_cpu_s']:.1f} | "
              f"{base / r['wall_s']:.2f}x | {r['load_before']:.2f} / {r['load_after']:.2f} |")
    for c in m["per_count"]:
        print(f"{c['workers']} worker(s): mean study wall {c['mean_wall_s']:.1f} s over "
              f"{c['runs']} run(s), speed-up {c['speedup']:.2f}x")
    print(f"\ntables identical across worker counts: {m['same_tables']}")
    s = m["summary"]
    print(f"used {s['used']} / {s['n']}; MINOS coverage {s['coverage']:.3f} +- "
          f"{s['coverage_err']:.3f} (expected {s['expected']:.3f}); pull mean "
          f"{s['pull_mean']:+.3f} +- {s['pull_mean_err']:.3f}, width {s['pull_width']:.3f} "
          f"+- {s['pull_width_err']:.3f}")


def main(argv=None) -> None:
    warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="replications (default 1000)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--seed", type=int, default=20261128)
    parser.add_argument("--chunk", type=int, default=None,
                        help="replications per Dask task (default: run_study's)")
    parser.add_argument("--mode", default=None, help="PyTensor mode (default CVM)")
    args = parser.parse_args(argv)
    report(measure(args.n, args.workers, args.seed, args.chunk, args.mode))


if __name__ == "__main__":
    main()
