"""``skyfit sample``: NUTS on a dataset and model file, then a diagnostics report.

:func:`cli_sample` takes the arguments after ``skyfit sample``; ``skyfit.cli`` can register
it with ``sub.add_parser("sample", add_help=False)`` and call
``skyfit.bayes.cli_sample(remaining_argv)`` (imported inside the handler, so that
``skyfit --help`` does not import PyMC).

The start point is the MAP, found here with L-BFGS-B on the exact gradient of the
statistic with priors; the Laplace approximation (inverse of half the Hessian there) is
drawn for comparison in the report.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
import warnings
from pathlib import Path

import numpy as np

__all__ = ["cli_sample", "map_estimate"]


def map_estimate(datasets, models) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """MAP of the free parameters, its covariance and the variable names.

    Minimises the statistic with priors (:class:`skyfit.forward.Likelihood`) with
    L-BFGS-B inside each parameter's support; the covariance is the inverse of half the
    Hessian (from differences of the exact gradient).

    Examples
    --------
    >>> from skyfit.datasets.synthetic import synthetic_dataset
    >>> from skyfit.models import FoVBackgroundModel, Models
    >>> ds = synthetic_dataset(npix=(4, 4), energy_edges=[0.1, 1, 10],
    ...                        energy_true_edges=[0.05, 0.5, 5, 20], background_rate=20)
    >>> ds.counts.data[:] = np.round(2 * ds.background.data)
    >>> models = Models([FoVBackgroundModel("synthetic")])
    >>> theta, cov, names = map_estimate([ds], models)
    >>> names, bool(abs(theta[0] - 2) < 0.5)
    (['norm'], True)
    """
    from scipy.optimize import minimize

    from ..forward import Likelihood
    from .model import model_layout

    layout = model_layout(datasets, models)
    like = Likelihood(datasets, layout.likelihood.models, priors=True)
    theta0 = np.array([p.value for p in like.free])
    scale = np.where(theta0 != 0, np.abs(theta0), 1.0)
    bounds = [((s.lo if s else -np.inf) / k, (s.hi if s else np.inf) / k)
              for s, k in zip(layout.supports, scale, strict=True)]
    bounds = [(None if not np.isfinite(lo) else lo, None if not np.isfinite(hi) else hi)
              for lo, hi in bounds]

    def fun(z):
        value, grad = like.value_and_grad(z * scale)
        return value, grad * scale

    res = minimize(fun, theta0 / scale, jac=True, method="L-BFGS-B", bounds=bounds)
    theta = res.x * scale
    cov = np.linalg.inv(0.5 * like.hessian(theta))
    return theta, cov, layout.names


def cli_sample(argv: list[str] | None = None) -> int:
    """Run ``skyfit sample`` with ``argv`` (the arguments after ``sample``).

    Examples
    --------
    On the command line, with the Crab data of ``../shared/data/fermi-3fhl-crab``:
    ``skyfit sample Fermi-LAT-3FHL_data_Fermi-LAT.fits --name Fermi-LAT
    --models Fermi-LAT-3FHL_models_priors.yaml --report crab/report.md``. The options:

    >>> try:
    ...     cli_sample(["--help"])
    ... except SystemExit as exc:
    ...     print("exit code", exc.code)
    usage: skyfit sample ...--models MODELS...
    exit code 0
    """
    parser = argparse.ArgumentParser(
        prog="skyfit sample", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Sample the posterior of a model file's free parameters on DL4 datasets "
                    "with NUTS (from the MAP), and write a diagnostics report. Ctrl-C while "
                    "drawing keeps the draws made so far: the report and the samples are "
                    "written from them (the samples beside the report without --output).",
        epilog="examples:\n  skyfit sample data.fits --name Fermi-LAT --models "
               "models_priors.yaml --report crab/report.md\n  skyfit sample datasets.yaml "
               "--models models.yaml --draws 500 --chains 2 --seed 1 --output samples.nc")
    parser.add_argument("datasets", nargs="+",
                        help="DL4 dataset FITS files, or one Gammapy datasets YAML file")
    parser.add_argument("--models", required=True, help="Gammapy model YAML (with priors)")
    parser.add_argument("--name", action="append",
                        help="dataset name (once per FITS file; default: from the file)")
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--sampler", choices=["nutpie", "pymc", "numpyro", "blackjax"],
                        help="NUTS implementation (default: nutpie if installed, else pymc)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--report", default="skyfit_sample/report.md",
                        help="Markdown report path (PNG figures beside it)")
    parser.add_argument("--output", help="also write the ArviZ DataTree (.zarr needs zarr)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)

    from ..datasets import read_dataset, read_datasets
    from ..models import Models
    from .report import report
    from .sampling import laplace, sample

    names = args.name or [None] * len(args.datasets)
    if len(names) != len(args.datasets):
        parser.error("give --name once per dataset file, or not at all")
    try:  # a bad input file: one line naming it, exit code 2 (as the other sub-commands)
        if len(args.datasets) == 1 and args.datasets[0].endswith((".yaml", ".yml")):
            datasets = read_datasets(args.datasets[0])
        else:
            datasets = [read_dataset(p, name=n) for p, n in zip(args.datasets, names,
                                                                strict=True)]
        models = Models.read(args.models)
    except (OSError, ValueError) as exc:
        print(f"skyfit sample: {exc}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    theta, cov, names = map_estimate(datasets, models)
    print(f"MAP in {time.perf_counter() - t0:.1f} s: "
          + ", ".join(f"{n} = {v:.5g} +- {e:.2g}"
                      for n, v, e in zip(names, theta, np.sqrt(np.diag(cov)), strict=True)))
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings():  # said below, in the report and on exit
            warnings.filterwarnings("ignore", "sampling interrupted", UserWarning)
            idata = sample(datasets, models, start=theta, draws=args.draws, tune=args.tune,
                           chains=args.chains, sampler=args.sampler, random_seed=args.seed,
                           progressbar=not args.no_progress, posterior_predictive=True)
    except KeyboardInterrupt as exc:  # before any draw was kept (during tuning)
        print(f"skyfit sample: interrupted, nothing written ({exc or 'KeyboardInterrupt'})",
              file=sys.stderr)
        return 130
    interrupted = bool(idata.posterior.attrs.get("interrupted"))
    kept = idata.posterior.sizes
    print(f"sampled in {time.perf_counter() - t0:.1f} s (compilation included)"
          + (f"; INTERRUPTED: kept {kept['draw']} draws x {kept['chain']} chains of the "
             f"{args.draws} x {args.chains} asked" if interrupted else ""))
    lap = laplace(datasets, models, mean=theta, cov=cov, names=names,
                  draws=kept["draw"] * kept["chain"], random_seed=args.seed)
    path = report(idata, args.report, laplace=lap)
    print(f"report: {path}")
    output = args.output
    if output is None and interrupted:  # keep what was drawn, in a format installed here
        suffix = ".zarr" if importlib.util.find_spec("zarr") else ".nc"
        output = str(Path(path).with_name(f"{Path(path).stem}_samples{suffix}"))
    if output:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        if output.endswith(".zarr"):
            # format 2 keeps consolidated metadata: xr.open_datatree(output, engine="zarr")
            # reads it back without warnings (zarr 3 warns on consolidated format 3)
            idata.to_zarr(output, mode="w", zarr_format=2)
        else:
            idata.to_netcdf(output)
        print(f"samples{' (interrupted run)' if interrupted else ''}: {output}")
    return 130 if interrupted else 0  # 130: the shell's code for a run stopped by Ctrl-C
