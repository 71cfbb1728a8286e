"""``skyfit fit`` (fit models to datasets) and ``skyfit info`` (describe files)."""

from __future__ import annotations

import time
from pathlib import Path

from ._common import INPUT_ERRORS, CLIError, check_outputs, free_parameter, load_fit, message

__all__ = ["add_input_arguments", "add_parsers"]


def add_parsers(sub, formatter_class) -> None:
    """Register ``skyfit fit`` and ``skyfit info`` on the sub-parsers ``sub``.

    Examples
    --------
    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="skyfit")
    >>> add_parsers(parser.add_subparsers(), argparse.RawDescriptionHelpFormatter)
    >>> args = parser.parse_args(["fit", "data.fits", "models.yaml", "--minos", "index"])
    >>> args.datasets, args.minos, args.output, args.func is run_fit
    ('data.fits', ['index'], '.', True)
    """
    fit = sub.add_parser(
        "fit", help="fit models to datasets (MIGRAD + Laplace covariance)",
        formatter_class=formatter_class,
        description="Fit a model YAML to a datasets YAML or one dataset FITS file; print the "
        "result table, write the best-fit models and the covariance.",
        epilog="examples:\n  skyfit fit Fermi-LAT-3FHL_datasets.yaml "
        "Fermi-LAT-3FHL_models.yaml --output out\n  skyfit fit data.fits models.yaml "
        "--name Fermi-LAT --minos alpha --overwrite")
    add_input_arguments(fit)
    fit.add_argument("--output", default=".", help="folder for <models>_best-fit.yaml and "
                     "<models>_covariance.csv (default: current folder)")
    fit.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    fit.add_argument("--backend", choices=["minuit", "scipy"], default="minuit",
                     help="optimiser (default minuit)")
    fit.add_argument("--minos", action="append", default=[], metavar="PARAM",
                     help="also print a MINOS interval for PARAM (repeatable)")
    fit.set_defaults(func=run_fit)
    info = sub.add_parser("info", help="describe dataset FITS or model YAML files",
                          formatter_class=formatter_class,
                          description="Print what a DL4 dataset or a model file contains.",
                          epilog="example:\n  skyfit info data.fits models.yaml")
    info.add_argument("paths", nargs="+")
    info.set_defaults(func=run_info)


def add_input_arguments(parser) -> None:
    """The ``datasets models [--name]`` inputs of ``fit``, ``profile`` and ``contour``.

    Examples
    --------
    >>> import argparse
    >>> parser = argparse.ArgumentParser()
    >>> add_input_arguments(parser)
    >>> vars(parser.parse_args(["data.fits", "models.yaml", "--name", "obs"]))
    {'datasets': 'data.fits', 'models': 'models.yaml', 'name': 'obs'}
    """
    parser.add_argument("datasets", help="datasets YAML (Gammapy layout) or a DL4 FITS file")
    parser.add_argument("models", help="models YAML (Gammapy layout)")
    parser.add_argument("--name", help="dataset name for a FITS file (must match the "
                        "background model's dataset; default: the file's NAME header)")


def run_fit(args) -> int:
    """``skyfit fit``: exit code 0 when the fit and covariance succeed, 1 otherwise."""
    out = Path(args.output)
    stem = Path(args.models).stem
    targets = [out / f"{stem}_best-fit.yaml", out / f"{stem}_covariance.csv"]
    check_outputs(targets, args.overwrite)
    fit = load_fit(args.datasets, args.models, args.name)
    minos = [free_parameter(fit.models, name)[0] for name in args.minos]
    t0 = time.perf_counter()
    result = fit.run(optimize_opts={"backend": args.backend})
    print(result)
    for name in minos:
        interval = fit.confidence(name)
        par = fit.models.parameter(name)
        print(f"MINOS {name}: {par.value:.6g} +{interval['errp']:.4g} -{interval['errn']:.4g} "
              f"{par.unit} ({interval['message']})")
    print(f"time (compile + fit + covariance): {time.perf_counter() - t0:.2f} s")
    out.mkdir(parents=True, exist_ok=True)
    fit.models.write(targets[0], overwrite=args.overwrite)
    cov = result.covariance_result
    lines = [",".join(["name", *cov.names])]
    lines += [",".join([n, *(repr(float(v)) for v in row)])
              for n, row in zip(cov.names, cov.matrix, strict=True)]
    targets[1].write_text("\n".join(lines) + "\n")
    print(f"wrote {targets[0]} and {targets[1]}")
    return 0 if result.success else 1


def run_info(args) -> int:
    """``skyfit info``: print what each file holds."""
    from ..datasets import MapDataset
    from ..models import Models

    for path in args.paths:
        try:
            if str(path).endswith((".yaml", ".yml")):
                print(Models.read(path))
                continue
            ds = MapDataset.read(path)
        except INPUT_ERRORS as exc:
            raise CLIError(message(exc)) from None
        print(ds)
        print(f"  counts {ds.counts.data.shape}, total {ds.counts.data.sum():g}")
        print(f"  geometry {ds.counts.geom!r}")
        print(f"  exposure {ds.exposure.geom.axis('energy_true')!r}")
        print(f"  psf {type(ds.psf).__name__ if ds.psf else None}, "
              f"edisp {type(ds.edisp).__name__ if ds.edisp else None}")
        mask = ds.mask
        print(f"  fit bins {int(mask.sum()) if mask is not None else ds.counts.data.size}")
    return 0
