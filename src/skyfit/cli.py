"""The ``skyfit`` command line: ``skyfit fit``, ``skyfit demo``, ``skyfit info``.

Examples::

    skyfit demo                                    # simulate and fit, no download
    skyfit fit datasets.yaml models.yaml --output results
    skyfit fit data.fits models.yaml --name Fermi-LAT --minos "Crab Nebula.alpha"
    skyfit info data.fits models.yaml
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

__all__ = ["main"]


def _demo(args) -> int:
    from .datasets.synthetic import synthetic_dataset
    from .fit import MapFit
    from .models import FoVBackgroundModel, Models, SkyModel
    from .models.spatial import GaussianSpatialModel, PointSpatialModel
    from .models.spectral import PowerLawSpectralModel

    plot_files = _demo_plot_files(args.plots)
    existing = [str(f) for f in plot_files.values() if f.exists()]
    if existing:
        print(f"skyfit demo: refusing to overwrite {existing}", file=sys.stderr)
        return 2
    print("skyfit demo: synthetic instrument, a point and an extended source over background")
    ds = synthetic_dataset(npix=(args.npix, args.npix), binsz=0.04, name="demo")
    truth = Models([
        SkyModel(PointSpatialModel(lon_0=0.2, lat_0=-0.1, frame="galactic"),
                 PowerLawSpectralModel(amplitude=3e-13, index=2.2), name="point"),
        SkyModel(GaussianSpatialModel(lon_0=-0.4, lat_0=0.3, sigma=0.2, frame="galactic"),
                 PowerLawSpectralModel(amplitude=5e-13, index=2.6), name="extended"),
        FoVBackgroundModel("demo"),
    ])
    for par in truth["extended"].spatial_model.parameters:
        par.frozen = True
    ds.models = truth
    ds.fake(random_seed=args.seed)
    print(f"  dataset {ds.counts.data.shape} (energy, lat, lon), {int(ds.counts.data.sum())} "
          "counts simulated")
    true_values = dict(zip(truth.qualified_names(), truth.parameters.values, strict=True))

    models = truth.copy()
    start = {"point.index": 2.0, "point.amplitude": 1e-13, "extended.index": 2.0,
             "point.lon_0": 0.25}
    for name, value in start.items():
        models.parameter(name).value = value
    fit = MapFit.from_datasets([ds], models)
    t0 = time.perf_counter()
    like = fit.likelihood
    like.value_and_grad()
    print(f"  graph built and compiled in {time.perf_counter() - t0:.1f} s "
          f"({like.n_free} free parameters)")
    t0 = time.perf_counter()
    result = fit.run()
    print(f"  fit + covariance in {time.perf_counter() - t0:.2f} s:\n")
    print(result)
    print(f"  {'parameter':<22}{'truth':>12}{'fit':>12}{'error':>11}{'pull':>8}")
    for row in result.parameters:
        if row.frozen:
            continue
        truth_value = true_values[row.name]
        print(f"  {row.name:<22}{truth_value:>12.4g}{row.value:>12.4g}{row.error:>11.2g}"
              f"{(row.value - truth_value) / row.error:>8.2f}")
    t0 = time.perf_counter()
    interval = fit.confidence("point.index")
    index = fit.models.parameter("point.index").value
    print(f"\n  MINOS 68 % interval of point.index: {index:.3f} +{interval['errp']:.3f} "
          f"-{interval['errn']:.3f} (truth {true_values['point.index']}), "
          f"{interval['message']}, {interval['nfev']} evaluations, "
          f"{time.perf_counter() - t0:.2f} s")
    if plot_files:
        _demo_plots(fit, result, interval, plot_files, "point.index")
    return 0 if result.success and interval["success"] else 1


def _demo_plot_files(folder: str | None) -> dict[str, Path]:
    if folder is None:
        return {}
    names = ("residual_maps", "spectrum", "profile_point-index")
    return {name: Path(folder) / f"demo_{name}.png" for name in names}


def _demo_plots(fit, result, interval: dict, files: dict[str, Path], parameter: str) -> None:
    """Residual maps, spectra with their 1-sigma band, MINOS profile of ``parameter``."""
    import matplotlib.pyplot as plt

    from .models import SkyModel
    from .plot import plot_profile, plot_residual_maps, plot_spectrum

    ds = fit.datasets[0]
    next(iter(files.values())).parent.mkdir(parents=True, exist_ok=True)
    fig, _ = plot_residual_maps(ds, energy_bands=3)
    figures = {"residual_maps": fig}
    edges = ds.counts.geom.axis("energy").edges_in("TeV")
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for component in fit.models:
        if isinstance(component, SkyModel):
            plot_spectrum(component, result.covariance_result, (edges[0], edges[-1]), ax=ax)
    figures["spectrum"] = fig
    t0 = time.perf_counter()
    profile = fit.minos_profile(parameter, bounds=2.5, nvalues=11)
    par = fit.models.parameter(parameter)
    fig, _ = plot_profile(profile, interval, value=par.value, best_stat=result.total_stat,
                          parameter=parameter)
    figures["profile_point-index"] = fig
    for key, fig in figures.items():
        fig.savefig(files[key], dpi=100, bbox_inches="tight")
        plt.close(fig)
    print(f"\n  plots ({time.perf_counter() - t0:.1f} s for the profile): "
          + ", ".join(str(f) for f in files.values()))


def _load_datasets(path: Path, name: str | None):
    from .datasets import MapDataset, read_datasets

    if path.suffix in (".yaml", ".yml"):
        if name is not None:
            raise ValueError("--name applies to a single dataset FITS file, not to a "
                             "datasets YAML (which names its datasets)")
        return read_datasets(path)
    return [MapDataset.read(path, name=name)]


def _fit(args) -> int:
    from .fit import MapFit
    from .models import Models

    out = Path(args.output)
    stem = Path(args.models).stem
    targets = [out / f"{stem}_best-fit.yaml", out / f"{stem}_covariance.csv"]
    existing = [str(t) for t in targets if t.exists()]
    if existing and not args.overwrite:
        print(f"skyfit fit: refusing to overwrite {existing} (use --overwrite)", file=sys.stderr)
        return 2
    try:
        datasets = _load_datasets(Path(args.datasets), args.name)
        models = Models.read(args.models)
        fit = MapFit.from_datasets(datasets, models)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"skyfit fit: {exc}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    result = fit.run(optimize_opts={"backend": args.backend})
    print(result)
    for name in args.minos:
        interval = fit.confidence(name)
        par = fit.models.parameter(name)
        print(f"MINOS {name}: {par.value:.6g} +{interval['errp']:.4g} -{interval['errn']:.4g} "
              f"{par.unit} ({interval['message']})")
    print(f"time (compile + fit + covariance): {time.perf_counter() - t0:.2f} s")
    out.mkdir(parents=True, exist_ok=True)
    models.write(targets[0], overwrite=args.overwrite)
    cov = result.covariance_result
    lines = [",".join(["name", *cov.names])]
    lines += [",".join([n, *(repr(float(v)) for v in row)])
              for n, row in zip(cov.names, cov.matrix, strict=True)]
    targets[1].write_text("\n".join(lines) + "\n")
    print(f"wrote {targets[0]} and {targets[1]}")
    return 0 if result.success else 1


def _info(args) -> int:
    from .datasets import MapDataset
    from .models import Models

    for path in args.paths:
        if str(path).endswith((".yaml", ".yml")):
            print(Models.read(path))
        else:
            ds = MapDataset.read(path)
            print(ds)
            print(f"  counts {ds.counts.data.shape}, total {ds.counts.data.sum():g}")
            print(f"  geometry {ds.counts.geom!r}")
            print(f"  exposure {ds.exposure.geom.axis('energy_true')!r}")
            print(f"  psf {type(ds.psf).__name__ if ds.psf else None}, "
                  f"edisp {type(ds.edisp).__name__ if ds.edisp else None}")
            mask = ds.mask
            print(f"  fit bins {int(mask.sum()) if mask is not None else ds.counts.data.size}")
    return 0


def main(argv: list[str] | None = None) -> int:
    import warnings

    # PyTensor's note about BLAS linking is about its own speed, not about results
    warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS")
    parser = argparse.ArgumentParser(prog="skyfit", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    raw = argparse.RawDescriptionHelpFormatter
    fit = sub.add_parser(
        "fit", help="fit models to datasets (MIGRAD + Laplace covariance)", formatter_class=raw,
        description="Fit a model YAML to a datasets YAML or one dataset FITS file; print the "
        "result table, write the best-fit models and the covariance.",
        epilog="examples:\n  skyfit fit Fermi-LAT-3FHL_datasets.yaml "
        "Fermi-LAT-3FHL_models.yaml --output out\n  skyfit fit data.fits models.yaml "
        "--name Fermi-LAT --minos alpha --overwrite")
    fit.add_argument("datasets", help="datasets YAML (Gammapy layout) or a DL4 FITS file")
    fit.add_argument("models", help="models YAML (Gammapy layout)")
    fit.add_argument("--output", default=".", help="folder for <models>_best-fit.yaml and "
                     "<models>_covariance.csv (default: current folder)")
    fit.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    fit.add_argument("--name", help="dataset name for a FITS file (must match the "
                     "background model's dataset; default: the file's NAME header)")
    fit.add_argument("--backend", choices=["minuit", "scipy"], default="minuit",
                     help="optimiser (default minuit)")
    fit.add_argument("--minos", action="append", default=[], metavar="PARAM",
                     help="also print a MINOS interval for PARAM (repeatable)")
    fit.set_defaults(func=_fit)
    demo = sub.add_parser("demo", help="simulate and fit a synthetic dataset (no download)",
                          formatter_class=raw,
                          description="Simulate a dataset with the built-in synthetic "
                          "instrument (a point and an extended source over background), fit "
                          "it with MapFit, print errors and a MINOS interval, and compare "
                          "with the injected truth.",
                          epilog="examples:\n  skyfit demo\n  skyfit demo --seed 3 --npix 40\n"
                          "  skyfit demo --plots demo-plots")
    demo.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    demo.add_argument("--npix", type=int, default=60, help="pixels per side (default 60)")
    demo.add_argument("--plots", metavar="DIR", help="also write PNG plots to DIR: residual "
                      "maps, spectra with 1-sigma bands, MINOS profile of point.index "
                      "(existing files are not overwritten)")
    demo.set_defaults(func=_demo)
    info = sub.add_parser("info", help="describe dataset FITS or model YAML files",
                          formatter_class=raw,
                          description="Print what a DL4 dataset or a model file contains.",
                          epilog="example:\n  skyfit info data.fits models.yaml")
    info.add_argument("paths", nargs="+")
    info.set_defaults(func=_info)
    sub.add_parser("sample", add_help=False,
                   help="NUTS posterior sampling with a diagnostics report (skyfit sample -h)")
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["sample"]:
        from .bayes import cli_sample  # PyMC only when sampling

        return cli_sample(argv[1:])
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
