"""The ``skyfit`` command line: ``skyfit demo``, ``skyfit info``."""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

__all__ = ["main"]


def _demo(args) -> int:
    from scipy.optimize import minimize

    from .datasets.synthetic import synthetic_dataset
    from .forward import Likelihood
    from .models import FoVBackgroundModel, Models, SkyModel
    from .models.spatial import GaussianSpatialModel, PointSpatialModel
    from .models.spectral import PowerLawSpectralModel

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
    true_values = {name: p.value for name, p in
                   zip(truth.qualified_names(), truth.parameters, strict=True)}

    models = truth.copy()
    start = {"point.spectral.index": 2.0, "point.spectral.amplitude": 1e-13,
             "extended.spectral.index": 2.0, "point.spatial.lon_0": 0.25}
    for key, value in start.items():
        short = key.replace(".spectral", "").replace(".spatial", "")
        models.parameter(short).value = value
    t0 = time.perf_counter()
    like = Likelihood([ds], models)
    like.value_and_grad()
    print(f"  graph built and compiled in {time.perf_counter() - t0:.1f} s "
          f"({like.n_free} free parameters)")
    theta0 = like.current_theta()
    scale = np.where(theta0 != 0, np.abs(theta0), 1.0)

    def fun(x):
        value, grad = like.value_and_grad(x * scale)
        return value, grad * scale

    t0 = time.perf_counter()
    res = minimize(fun, theta0 / scale, jac=True, method="L-BFGS-B")
    theta = res.x * scale
    cov = np.linalg.inv(like.hessian(theta))
    print(f"  fit: {res.message} in {res.nfev} evaluations, {time.perf_counter() - t0:.2f} s; "
          f"total stat {res.fun:.3f}")
    names = [f"{c.name}.{p.name}" for c in models for p in c.parameters if p in like.free]
    names = [n for n in models.qualified_names() if models.parameter(n) in like.free] or names
    print(f"  {'parameter':<28}{'truth':>12}{'fit':>12}{'error':>12}{'pull':>8}")
    for i, par in enumerate(like.free):
        name = next(n for n in models.qualified_names() if models.parameter(n) is par)
        err = float(np.sqrt(cov[i, i]))
        truth_value = true_values[name]
        print(f"  {name:<28}{truth_value:>12.4g}{theta[i]:>12.4g}{err:>12.2g}"
              f"{(theta[i] - truth_value) / err:>8.2f}")
    t0 = time.perf_counter()
    n = 50
    for _ in range(n):
        like.value_and_grad(theta)
    print(f"  value+gradient: {1e3 * (time.perf_counter() - t0) / n:.2f} ms per call")
    return 0 if res.success else 1


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
    parser = argparse.ArgumentParser(prog="skyfit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="simulate and fit a synthetic dataset (no download)",
                          description="Simulate a dataset with the built-in synthetic "
                          "instrument, fit it and compare with the injected truth.")
    demo.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    demo.add_argument("--npix", type=int, default=60, help="pixels per side (default 60)")
    demo.set_defaults(func=_demo)
    info = sub.add_parser("info", help="describe dataset FITS or model YAML files",
                          description="Print what a DL4 dataset or a model file contains.")
    info.add_argument("paths", nargs="+")
    info.set_defaults(func=_info)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
