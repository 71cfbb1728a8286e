"""``skyfit demo``: simulate a dataset with the synthetic instrument and fit it."""

from __future__ import annotations

import time
from pathlib import Path

from ._common import BACKGROUND_RATE, check_outputs

__all__ = ["add_parser"]


def add_parser(sub, formatter_class) -> None:
    """Register ``skyfit demo`` on the sub-parsers ``sub``.

    Examples
    --------
    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="skyfit")
    >>> add_parser(parser.add_subparsers(), argparse.RawDescriptionHelpFormatter)
    >>> args = parser.parse_args(["demo", "--npix", "20"])
    >>> args.npix, args.seed, args.func is run
    (20, 1, True)
    """
    demo = sub.add_parser("demo", help="simulate and fit a synthetic dataset (no download)",
                          formatter_class=formatter_class,
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
                      "(existing files are not overwritten without --overwrite)")
    demo.add_argument("--overwrite", action="store_true", help="replace existing plots")
    demo.set_defaults(func=run)


def run(args) -> int:
    """``skyfit demo``: simulate, fit, compare with the truth; exit code 0 if all went well."""
    from ..datasets.synthetic import synthetic_dataset
    from ..fit import MapFit
    from ..models import FoVBackgroundModel, Models, SkyModel
    from ..models.spatial import GaussianSpatialModel, PointSpatialModel
    from ..models.spectral import PowerLawSpectralModel

    plot_files = plot_files_in(args.plots)
    check_outputs(plot_files.values(), args.overwrite)
    print("skyfit demo: synthetic instrument, a point and an extended source over background")
    ds = synthetic_dataset(npix=(args.npix, args.npix), binsz=0.04, name="demo",
                           background_rate=BACKGROUND_RATE)  # ~4700 of ~14000 counts
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
        write_plots(fit, result, interval, plot_files, "point.index")
    return 0 if result.success and interval["success"] else 1


def plot_files_in(folder: str | None) -> dict[str, Path]:
    if folder is None:
        return {}
    names = ("residual_maps", "spectrum", "profile_point-index")
    return {name: Path(folder) / f"demo_{name}.png" for name in names}


def write_plots(fit, result, interval: dict, files: dict[str, Path], parameter: str) -> None:
    """Residual maps, spectra with their 1-sigma band, MINOS profile of ``parameter``."""
    import matplotlib.pyplot as plt

    from ..models import SkyModel
    from ..plot import plot_profile, plot_residual_maps, plot_spectrum

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
