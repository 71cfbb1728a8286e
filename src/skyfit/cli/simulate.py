"""``skyfit simulate``: Poisson replications of datasets, written as DL4 FITS files.

Two sources of datasets:

* the built-in synthetic instrument (:func:`skyfit.datasets.synthetic.synthetic_dataset`),
  whose analytic PSF and energy dispersion are tabulated (``PSFMap``,
  ``EDispKernelMap``) so that the files hold a complete instrument response;
* a dataset FITS file or datasets YAML, resampled: new counts drawn from the models'
  predicted counts, everything else (exposure, background, IRFs, masks) kept.

Replication ``i`` draws from ``numpy.random.SeedSequence(seed).spawn(n)[i]``: the same
seed gives the same counts, and each replication is independent of ``n``.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import yaml

from ._common import BACKGROUND_RATE, INPUT_ERRORS, CLIError, check_outputs, load_inputs, message

__all__ = ["add_parser", "tabulate_irfs"]


def add_parser(sub, formatter_class) -> None:
    """Register ``skyfit simulate`` on the sub-parsers ``sub``.

    Examples
    --------
    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="skyfit")
    >>> add_parser(parser.add_subparsers(), argparse.RawDescriptionHelpFormatter)
    >>> args = parser.parse_args(["simulate", "--n", "10", "--seed", "1"])
    >>> args.n, args.seed, args.dataset, args.output
    (10, 1, None, '.')
    """
    sim = sub.add_parser(
        "simulate", help="Poisson replications of a dataset (synthetic or from files)",
        formatter_class=formatter_class,
        description="Simulate counts from models: with the built-in synthetic instrument "
        "(default), or by resampling a dataset file (--dataset) with its models (npred -> "
        "Poisson counts). Writes one DL4 FITS file per dataset and replication, "
        "<name>_<i>.fits, and the models as models.yaml, into --output (with several "
        "datasets also datasets_<i>.yaml, for skyfit fit).",
        epilog="examples:\n"
        "  skyfit simulate --output sims --n 10 --seed 1\n"
        "  skyfit simulate --output sims --npix 20 --models truth.yaml --name obs\n"
        "  skyfit simulate --dataset data.fits --models models.yaml --n 100 --seed 7 "
        "--output toys\n"
        "  skyfit fit sims/synthetic_000.fits sims/models.yaml   # fit one of them")
    sim.add_argument("--dataset", metavar="FILE", help="dataset FITS file or datasets YAML "
                     "to resample (default: the synthetic instrument)")
    sim.add_argument("--models", metavar="YAML", help="models to draw from (required with "
                     "--dataset; default for the synthetic instrument: a point source with "
                     "a power law over the background)")
    sim.add_argument("--name", help="dataset name: of the synthetic dataset (default "
                     "'synthetic'), or of a --dataset FITS file (default: its NAME header)")
    sim.add_argument("--n", type=int, default=1, help="number of replications (default 1)")
    sim.add_argument("--seed", type=int, help="random seed (default: a fresh one, printed)")
    sim.add_argument("--npix", type=int, default=40,
                     help="synthetic: pixels per side (default 40)")
    sim.add_argument("--binsz", type=float, default=0.05,
                     help="synthetic: pixel size in deg (default 0.05)")
    sim.add_argument("--background-rate", type=float, default=BACKGROUND_RATE,
                     metavar="RATE", help="synthetic: background counts per pixel per unit "
                     f"ln E at 1 TeV (default {BACKGROUND_RATE})")
    sim.add_argument("--output", default=".", help="folder for the files (default: current "
                     "folder)")
    sim.add_argument("--overwrite", action="store_true", help="replace existing files")
    sim.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    sim.set_defaults(func=run)


def run(args) -> int:
    """``skyfit simulate``: check the targets, then draw and write every replication."""
    if args.n < 1:
        raise CLIError(f"--n must be at least 1, got {args.n}")
    if args.dataset is not None and args.models is None:
        raise CLIError("--dataset needs --models (the models to draw the counts from)")
    if args.dataset is not None:
        datasets, models = load_inputs(args.dataset, args.models, args.name)
    else:
        datasets, models = _synthetic(args)
    try:
        models.check_datasets([d.name for d in datasets])
        for ds in datasets:
            ds.models = models
    except INPUT_ERRORS as exc:
        raise CLIError(message(exc)) from None

    out = Path(args.output)
    width = max(3, len(str(args.n - 1)))
    files = [[out / f"{ds.name}_{i:0{width}d}.fits" for ds in datasets] for i in range(args.n)]
    lists = [out / f"datasets_{i:0{width}d}.yaml" for i in range(args.n)] \
        if len(datasets) > 1 else []
    check_outputs([out / "models.yaml", *lists, *(f for row in files for f in row)],
                  args.overwrite)

    seed = np.random.SeedSequence(args.seed)
    if args.seed is None and not args.quiet:
        print(f"seed {seed.entropy} (pass --seed {seed.entropy} to repeat)")
    from ..fit.progress import progress_bar

    t0 = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    models.write(out / "models.yaml", overwrite=args.overwrite)
    with progress_bar(args.n, "simulate", show=False if args.quiet else None) as update:
        for i, child in enumerate(seed.spawn(args.n)):
            rng = np.random.default_rng(child)
            for ds, path in zip(datasets, files[i], strict=True):
                try:
                    ds.fake(random_seed=rng)
                except ValueError as exc:
                    raise CLIError(str(exc)) from None
                ds.write(path, overwrite=args.overwrite)
            if lists:
                entries = [{"name": ds.name, "type": "MapDataset", "filename": path.name}
                           for ds, path in zip(datasets, files[i], strict=True)]
                lists[i].write_text(yaml.safe_dump({"datasets": entries}, sort_keys=False))
            update()
    if not args.quiet:
        n_files = args.n * len(datasets)
        print(f"wrote {n_files} dataset file{'s' * (n_files > 1)} "
              f"({files[0][0].name} ...) and models.yaml to {out} in "
              f"{time.perf_counter() - t0:.1f} s")
    return 0


def _synthetic(args):
    """The synthetic dataset (tabulated IRFs) and its models (given or the default)."""
    from ..datasets.synthetic import synthetic_dataset
    from ..models import FoVBackgroundModel, Models, SkyModel
    from ..models.spatial import PointSpatialModel
    from ..models.spectral import PowerLawSpectralModel

    if args.npix < 1 or args.binsz <= 0 or args.background_rate < 0:
        raise CLIError(f"--npix must be >= 1, --binsz > 0 and --background-rate >= 0, got "
                       f"{args.npix}, {args.binsz} and {args.background_rate}")
    name = args.name or "synthetic"
    ds = synthetic_dataset(npix=(args.npix, args.npix), binsz=args.binsz, name=name,
                           background_rate=args.background_rate)
    ds.psf, ds.edisp = tabulate_irfs(ds)
    if args.models is not None:
        try:
            models = Models.read(args.models)
        except INPUT_ERRORS as exc:
            raise CLIError(message(exc)) from None
    else:
        models = Models([
            SkyModel(PointSpatialModel(lon_0=0.0, lat_0=0.0, frame="galactic"),
                     PowerLawSpectralModel(amplitude=1e-12, index=2.3), name="source"),
            FoVBackgroundModel(name)])
    return [ds], models


def tabulate_irfs(ds):
    """The analytic PSF and dispersion of a synthetic dataset as ``(PSFMap, EDispKernelMap)``
    on one sky cell, on the dataset's true-energy axis: the form a DL4 file stores.

    Examples
    --------
    >>> from skyfit.datasets.synthetic import synthetic_dataset
    >>> ds = synthetic_dataset(npix=(4, 4))
    >>> psf, edisp = tabulate_irfs(ds)
    >>> edisp.kernel_at(None).shape, psf.rad_axis.nbin > 100
    ((12, 6), True)
    """
    from ..irf.edisp import EDispKernelMap
    from ..irf.psf import PSFMap
    from ..maps import Map, MapAxis
    from ..maps.region import RegionGeom

    true = ds.exposure.geom.axis("energy_true")
    reco = ds.counts.geom.axis("energy")
    rad, density = ds.psf.profile_at(None, true.center)
    rad_axis = MapAxis.from_nodes(rad.to_value("deg"), unit="deg", name="rad", interp="lin")
    psf = PSFMap(Map(RegionGeom([rad_axis, true]), density[..., None, None], "sr-1"))
    kernel = ds.edisp.kernel_at(None, true, reco)
    edisp = EDispKernelMap(Map(RegionGeom([reco, true]), kernel[..., None, None]))
    return psf, edisp
