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


def main() -> None:
    warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="replications (default 1000)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--seed", type=int, default=20261128)
    parser.add_argument("--chunk", type=int, default=None,
                        help="replications per Dask task (default: run_study's)")
    parser.add_argument("--mode", default=None, help="PyTensor mode (default CVM)")
    args = parser.parse_args()

    from skyfit.study import CoverageStudy, SyntheticSource

    study = CoverageStudy(n=args.n, seed=args.seed, source=SyntheticSource(mode=args.mode))
    t0 = time.perf_counter()
    study.setup()  # fills PyTensor's on-disk cache for the workers
    print(f"warm-up compile in this process: {time.perf_counter() - t0:.1f} s; "
          f"{os.cpu_count()} CPUs, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}")
    runs = [run(study, w, args.chunk) for w in args.workers]

    first = args.workers[0]
    base = np.mean([r["wall_s"] for r in runs if r["workers"] == first])
    print(f"\n{args.n} replications, coverage study of src.index (MINOS)\n")
    print("| workers | cluster start s | study wall s | ms / replication | setups (sum s) "
          f"| chunks | worker CPU s | cores used | client+scheduler CPU s "
          f"| speed-up vs {first} (mean) | load before / after |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in runs:
        print(f"| {r['workers']} | {r['start_s']:.1f} | {r['wall_s']:.1f} | "
              f"{1e3 * r['wall_s'] / args.n:.0f} | {r['n_setups']} ({r['setup_s']:.1f}) | "
              f"{r['chunks']} | {r['cpu_s']:.1f} | {r['cpu_s'] / r['wall_s']:.2f} | "
              f"{r['main_cpu_s']:.1f} | "
              f"{base / r['wall_s']:.2f}x | {r['load_before']:.2f} / {r['load_after']:.2f} |")
    for w in dict.fromkeys(args.workers):
        walls = [r["wall_s"] for r in runs if r["workers"] == w]
        print(f"{w} worker(s): mean study wall {np.mean(walls):.1f} s over {len(walls)} "
              f"run(s), speed-up {base / np.mean(walls):.2f}x")
    same = all(same_table(runs[0]["table"], r["table"]) for r in runs[1:])
    print(f"\ntables identical across worker counts: {same}")
    s = study.summary(runs[0]["table"])
    print(f"used {s['used']} / {s['n']}; MINOS coverage {s['coverage']:.3f} +- "
          f"{s['coverage_err']:.3f} (expected {s['expected']:.3f}); pull mean "
          f"{s['pull_mean']:+.3f} +- {s['pull_mean_err']:.3f}, width {s['pull_width']:.3f} "
          f"+- {s['pull_width_err']:.3f}")


if __name__ == "__main__":
    main()
