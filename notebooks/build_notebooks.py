# ruff: noqa: E501  (markdown tables in the cell sources)
"""Write the notebooks in this folder from the cell sources below, outputs stripped.

Run from the repository root: ``.venv/bin/python notebooks/build_notebooks.py``.
The notebooks are executed by ``tests/test_notebooks.py``.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent

DATA_CELL = '''\
import os
import warnings
from pathlib import Path

# PyTensor's note about linking BLAS concerns its own speed, not the results
warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS")


def repo_root() -> Path:
    """The skyfit checkout this notebook lives in (the folder with pyproject.toml)."""
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").exists():
            return folder
    return here


# the tests' rule: $SKYFIT_SHARED_DATA, else ../shared/data next to the checkout
SHARED_DATA = Path(os.environ.get("SKYFIT_SHARED_DATA", repo_root().parent / "shared" / "data"))
CRAB = SHARED_DATA / "fermi-3fhl-crab"
USE_REAL_DATA = (CRAB / "Fermi-LAT-3FHL_data_Fermi-LAT.fits").exists()
print("real Fermi-LAT data:" if USE_REAL_DATA else "no real data, synthetic instrument;",
      CRAB if USE_REAL_DATA else f"(looked in {CRAB})")'''

SYNTHETIC_CRAB = '''\
def synthetic_crab(seed: int = 1):
    """A Crab-like point source (log-parabola) on the synthetic instrument."""
    from skyfit.datasets.synthetic import synthetic_dataset
    from skyfit.models import FoVBackgroundModel, Models, SkyModel
    from skyfit.models.spatial import PointSpatialModel
    from skyfit.models.spectral import LogParabolaSpectralModel

    ds = synthetic_dataset(npix=(30, 30), binsz=0.05, name="Fermi-LAT")
    crab = SkyModel(PointSpatialModel(lon_0=0, lat_0=0, frame="galactic"),
                    LogParabolaSpectralModel(amplitude=3e-12, reference=1, alpha=2.3,
                                             beta=0.1),
                    name="Crab Nebula")
    for par in crab.spatial_model.parameters:
        par.frozen = True
    truth = Models([crab, FoVBackgroundModel("Fermi-LAT")])
    ds.models = truth
    ds.fake(random_seed=seed)
    return ds, truth'''


def notebook(cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for kind, source in cells:
        if kind == "md":
            nb.cells.append(nbformat.v4.new_markdown_cell(source))
        else:
            nb.cells.append(nbformat.v4.new_code_cell(source))
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i:02d}"
    return nb


def md(text: str) -> tuple[str, str]:
    return ("md", text)


def code(text: str) -> tuple[str, str]:
    return ("code", text)


def write(name: str, cells) -> None:
    nb = notebook(cells)
    nbformat.validate(nb)
    nbformat.write(nb, HERE / name)
    print("wrote", HERE / name)


def main() -> None:
    write("01_crab_fit.ipynb", CRAB_FIT)
    write("02_crab_bayes.ipynb", CRAB_BAYES)
    write("03_joint_fit.ipynb", JOINT_FIT)


# -- 01: frequentist fit of the Crab -------------------------------------------------------
CRAB_FIT = [
    md("""\
# 01 — Frequentist fit of the Fermi-LAT Crab

The Crab Nebula above 10 GeV in the Fermi-LAT 3FHL dataset (Gammapy's DL4 files, read as
they are): a log-parabola point source over the Galactic diffuse / isotropic background
cube, whose normalisation is fitted (`FoVBackgroundModel`).

1. read the dataset and the model YAML;
2. fit (MIGRAD with exact gradients) and the Laplace covariance;
3. MINOS intervals;
4. likelihood profiles (slice and profiled) with the MINOS interval marked;
5. 2-D contours of `alpha` and `beta`;
6. counts, predicted counts and residual-significance maps; counts spectrum;
7. the spectrum with its 1-sigma band.

Without the real data (`../shared/data`, or `$SKYFIT_SHARED_DATA`) the same steps run on
a Crab-like source simulated with skyfit's synthetic instrument."""),
    code(DATA_CELL),
    code(SYNTHETIC_CRAB),
    md("## 1. Dataset and models"),
    code("""\
import time

import matplotlib.pyplot as plt

from skyfit import MapFit
from skyfit.datasets import MapDataset
from skyfit.models import Models

if USE_REAL_DATA:
    dataset = MapDataset.read(CRAB / "Fermi-LAT-3FHL_data_Fermi-LAT.fits", name="Fermi-LAT")
    models = Models.read(CRAB / "Fermi-LAT-3FHL_models_100gev.yaml")
else:
    dataset, truth = synthetic_crab()
    models = truth.copy()
    models.parameter("alpha").value = 2.0  # start away from the truth
    models.parameter("beta").value = 0.0
print(dataset)
print(f"counts cube {dataset.counts.data.shape} (energy, lat, lon), "
      f"{dataset.counts.data.sum():.0f} counts")
print(models)"""),
    md("""\
## 2. Fit and errors

`MapFit.from_datasets` compiles the forward model and the Cash statistic once; `run()`
minimises it (MIGRAD with exact gradients) and computes the covariance from the exact
Hessian (the Laplace approximation)."""),
    code("""\
fit = MapFit.from_datasets([dataset], models)
t0 = time.perf_counter()
result = fit.run()
print(f"compile + fit + covariance: {time.perf_counter() - t0:.1f} s")
print(result)
assert result.success, result.message"""),
    code("""\
cov = result.covariance_result
print(cov)
for name, error in cov.errors.items():
    par = models.parameter(name)
    print(f"{name:<28} {par.value:12.5g} +- {error:.3g} {par.unit}")"""),
    md("""\
## 3. MINOS intervals

The interval where the statistic, re-optimised over all other parameters, rises by 1."""),
    code("""\
minos = {}
for name in ("alpha", "beta"):
    minos[name] = fit.confidence(name)
    par = models.parameter(name)
    print(f"{name}: {par.value:.4f} +{minos[name]['errp']:.4f} -{minos[name]['errn']:.4f} "
          f"(Laplace +-{cov.errors['Crab Nebula.' + name]:.4f}); {minos[name]['message']}")"""),
    md("""\
## 4. Likelihood profiles

`likelihood_profile` is a slice (all other parameters held at the best fit);
`minos_profile` re-optimises them at each point — its width is what MINOS measures."""),
    code("""\
from skyfit.plot import plot_profile

alpha = models.parameter("alpha").value
slice_profile = fit.likelihood_profile("alpha", bounds=3, nvalues=21)
profiled = fit.minos_profile("alpha", bounds=3, nvalues=11)
fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
plot_profile(slice_profile, minos["alpha"], value=alpha, best_stat=result.total_stat,
             parameter="alpha (slice)", ax=axes[0])
plot_profile(profiled, minos["alpha"], value=alpha, best_stat=result.total_stat,
             parameter="alpha (profiled)", ax=axes[1])
fig.tight_layout()"""),
    md("""\
## 5. Contours of `alpha` and `beta`

A slice grid (others fixed) at 1 and 2 sigma, and the MINOS contour (others re-optimised;
its projections are the 1-D MINOS intervals)."""),
    code("""\
from skyfit.plot import plot_contour

grid = fit.likelihood_contour("alpha", "beta", bounds=3, nvalues=15)
contour = fit.minos_contour("alpha", "beta", numpoints=8)
best = (alpha, models.parameter("beta").value)
fig, axes = plt.subplots(1, 2, figsize=(10, 4))
plot_contour(grid, sigmas=(1, 2), best=best, best_stat=result.total_stat, x_label="alpha",
             y_label="beta", ax=axes[0])
axes[0].set_title("slice (others fixed)")
plot_contour(contour, best=best, x_label="alpha", y_label="beta", ax=axes[1])
axes[1].set_title(f"MINOS contour, {len(contour['x'])} points")
fig.tight_layout()"""),
    md("## 6. Residual maps and counts spectrum"),
    code("""\
from skyfit.plot import plot_counts_spectrum, plot_residual_maps

fig, axes = plot_residual_maps(dataset, energy_bands=3)"""),
    code("""\
fig, axes = plot_counts_spectrum(dataset)"""),
    md("""\
## 7. Spectrum with its 1-sigma band

The band propagates the fit covariance through the spectral model."""),
    code("""\
from skyfit.plot import plot_spectrum

edges = dataset.counts.geom.axis("energy").edges_in("TeV")
fig, ax = plot_spectrum(models["Crab Nebula"], result, energy_range=(edges[0], edges[-1]))
if not USE_REAL_DATA:
    plot_spectrum(truth["Crab Nebula"], energy_range=(edges[0], edges[-1]), ax=ax,
                  label="truth", color="k")
ax.legend()"""),
]


# -- 02: Bayesian analysis of the Crab -----------------------------------------------------
CRAB_BAYES = [
    md("""\
# 02 — Bayesian analysis of the Fermi-LAT Crab

The same data and forward model as notebook 01, now with priors on every free parameter
(read from the model YAML, Gammapy's `prior:` entries):

1. the MAP fit and MINOS interval of `alpha`;
2. NUTS sampling (nutpie where installed, else PyMC) on the same PyTensor graph;
3. ArviZ diagnostics: summary table, R-hat, ESS, divergences;
4. the posterior of `alpha` against the Laplace approximation and the MINOS interval;
5. the spectrum's band from the posterior draws;
6. PSIS-LOO comparison of a power law against the log-parabola.

The draws are kept small (2 chains x 300) so the notebook runs in about a minute; use
`draws=1000, chains=4` for real work."""),
    code(DATA_CELL),
    code(SYNTHETIC_CRAB),
    code("""\
import time

import arviz as az
import matplotlib.pyplot as plt
import numpy as np

from skyfit import MapFit
from skyfit.bayes import compare, diagnostics
from skyfit.datasets import MapDataset
from skyfit.models import Models, SkyModel
from skyfit.models.priors import LogUniformPrior, UniformPrior
from skyfit.models.spectral import PowerLawSpectralModel

DRAWS, TUNE, CHAINS, SEED = 300, 300, 2, 1"""),
    md("""\
## 1. Data, priors and the MAP fit

`Fermi-LAT-3FHL_models_priors.yaml` is the 100 GeV log-parabola with a log-uniform prior
on the amplitude and uniform priors on `alpha`, `beta` and the background norm. On the
synthetic instrument the same priors are set in code."""),
    code("""\
if USE_REAL_DATA:
    dataset = MapDataset.read(CRAB / "Fermi-LAT-3FHL_data_Fermi-LAT.fits", name="Fermi-LAT")
    models = Models.read(CRAB / "Fermi-LAT-3FHL_models_priors.yaml")
else:
    dataset, truth = synthetic_crab()
    models = truth.copy()
    priors = {"amplitude": LogUniformPrior(min=1e-14, max=1e-10),
              "alpha": UniformPrior(min=1.0, max=4.0), "beta": UniformPrior(min=-0.5, max=1.0),
              "norm": UniformPrior(min=0.5, max=2.0)}
    for name, prior in priors.items():
        par = models.parameter(name)
        par.prior, par.min, par.max = prior, prior.min, prior.max
for par in models.parameters:
    if par.is_free:
        print(f"{par.name:<10} start {par.value:<10.4g} prior {par.prior!r}")"""),
    code("""\
fit = MapFit.from_datasets([dataset], models)  # priors=True: the statistic is -2 ln posterior
result = fit.run()
print(result)
assert result.success, result.message
minos = fit.confidence("alpha")
alpha_map = models.parameter("alpha").value
print(f"MINOS alpha: {alpha_map:.4f} +{minos['errp']:.4f} -{minos['errn']:.4f}")"""),
    md("""\
## 2. NUTS

`fit.sample` builds a PyMC model from the same graph (Poisson likelihood per bin, the
parameters' priors) and starts the chains at the MAP."""),
    code("""\
t0 = time.perf_counter()
idata = fit.sample(draws=DRAWS, tune=TUNE, chains=CHAINS, random_seed=SEED, progressbar=False)
print(f"NUTS: {CHAINS} chains x ({TUNE} tune + {DRAWS} draws) in "
      f"{time.perf_counter() - t0:.1f} s")
idata"""),
    md("## 3. Diagnostics"),
    code("""\
az.summary(idata)"""),
    code("""\
diag = diagnostics(idata)
print("divergences:", int(idata.sample_stats["diverging"].sum()))
print("max R-hat:", float(diag["summary"]["r_hat"].max()))
print("min bulk ESS:", float(diag["summary"]["ess_bulk"].min()))
print("warnings:", diag["warnings"] or "none")"""),
    md("""\
## 4. Posterior vs Laplace vs MINOS for `alpha`

The Laplace approximation is a Gaussian at the MAP with the inverse-Hessian covariance;
MINOS is the profile-likelihood interval; the posterior is what NUTS draws. With this much
data and flat priors the three agree closely."""),
    code("""\
laplace = fit.laplace(draws=4000, random_seed=SEED)
post = idata.posterior["alpha"].values.ravel()
lap = laplace.posterior["alpha"].values.ravel()
rows = {"posterior (NUTS)": np.percentile(post, [15.87, 50, 84.13]),
        "Laplace": np.percentile(lap, [15.87, 50, 84.13]),
        "MINOS": [alpha_map - minos["errn"], alpha_map, alpha_map + minos["errp"]]}
print(f"{'alpha':<18}{'16 %':>9}{'centre':>9}{'84 %':>9}")
for label, (lo, mid, hi) in rows.items():
    print(f"{label:<18}{lo:9.4f}{mid:9.4f}{hi:9.4f}")

fig, ax = plt.subplots(figsize=(6, 3.8))
bins = np.linspace(min(post.min(), lap.min()), max(post.max(), lap.max()), 40)
ax.hist(post, bins=bins, density=True, alpha=0.5, label="posterior (NUTS)")
ax.hist(lap, bins=bins, density=True, histtype="step", lw=1.5, label="Laplace")
ax.axvspan(rows["MINOS"][0], rows["MINOS"][2], color="C2", alpha=0.15, label="MINOS 68 %")
ax.axvline(alpha_map, color="C2", ls="--", label="MAP")
ax.set_xlabel("alpha")
ax.set_ylabel("density")
ax.legend(fontsize=8)"""),
    md("## 5. Spectrum: covariance band and posterior band"),
    code("""\
from skyfit.plot import plot_spectrum

edges = dataset.counts.geom.axis("energy").edges_in("TeV")
erange = (edges[0], edges[-1])
fig, ax = plot_spectrum(models["Crab Nebula"], result, energy_range=erange,
                        label="MAP, Laplace band")
plot_spectrum(models["Crab Nebula"], posterior=idata, energy_range=erange, ax=ax,
              label="posterior band", color="C3")
ax.legend()"""),
    md("""\
## 6. PowerLaw or LogParabola? PSIS-LOO

The power law gets the same amplitude and background priors, and a uniform prior on its
index. Each model is fitted, sampled, and the pointwise log-likelihood (every fitted bin)
goes to `skyfit.bayes.compare` (ArviZ's PSIS-LOO)."""),
    code("""\
def powerlaw_variant(models):
    \"\"\"`models` with the Crab's spectrum replaced by a power law (same priors).\"\"\"
    variant = models.copy()
    crab = variant["Crab Nebula"]
    old = crab.spectral_model.parameters
    spectral = PowerLawSpectralModel(index=2.2)
    new = spectral.parameters
    for name in ("amplitude", "reference"):
        new[name].value = old[name].value
    new["amplitude"].min, new["amplitude"].max = old["amplitude"].min, old["amplitude"].max
    new["amplitude"].prior = old["amplitude"].prior.copy()
    new["index"].min, new["index"].max = 1.0, 4.0
    new["index"].prior = UniformPrior(min=1.0, max=4.0)
    components = [SkyModel(crab.spatial_model, spectral, name=crab.name,
                           datasets_names=crab.datasets_names)]
    return Models(components + [m for m in variant if m.name != crab.name])


models_pl = powerlaw_variant(models)
fit_pl = MapFit.from_datasets([dataset], models_pl)
result_pl = fit_pl.run()
print(result_pl)
idata_pl = fit_pl.sample(draws=DRAWS, tune=TUNE, chains=CHAINS, random_seed=SEED,
                         progressbar=False)
dataset.models = models  # from_datasets gave the dataset the power law: set it back"""),
    code("""\
table = compare({"PowerLaw": idata_pl, "LogParabola": idata})
table"""),
    code("""\
best, other = table.index[:2]
d, dse = abs(table.loc[other, "elpd_diff"]), table.loc[other, "dse"]
print(f"PSIS-LOO prefers {best} over {other} by {d:.2f} +- {dse:.2f} "
      f"({d / dse:.1f} standard errors)")"""),
]


# -- 03: joint fit, and moving from Gammapy ------------------------------------------------
JOINT_FIT = [
    md("""\
# 03 — Joint fits, and moving from Gammapy

1. Two synthetic instruments see the same point source: a wide-PSF, low-energy one and a
   sharp-PSF, high-energy one. `MapFit.from_datasets` fits them jointly: one source model
   shared by both, one background norm per dataset.
2. A table mapping Gammapy calls to skyfit calls.
3. With Gammapy installed and the Fermi-LAT data present, the Crab fitted by both,
   side by side."""),
    code(DATA_CELL),
    code("""\
import time

import matplotlib.pyplot as plt
import numpy as np

from skyfit import MapFit
from skyfit.datasets.synthetic import AnalyticPSF, synthetic_dataset
from skyfit.models import FoVBackgroundModel, Models, SkyModel
from skyfit.models.spatial import PointSpatialModel
from skyfit.models.spectral import PowerLawSpectralModel"""),
    md("## 1. Two datasets, one source"),
    code("""\
low = synthetic_dataset(npix=(30, 30), binsz=0.05, energy_edges=np.geomspace(0.1, 3, 6),
                        psf=AnalyticPSF(sigma_0=0.15), name="low-energy")
high = synthetic_dataset(npix=(30, 30), binsz=0.05, energy_edges=np.geomspace(0.5, 20, 6),
                         energy_true_edges=np.geomspace(0.2, 50, 13), aeff=3e9,
                         livetime=2e5, psf=AnalyticPSF(sigma_0=0.06), name="high-energy")
source = SkyModel(PointSpatialModel(lon_0=0.05, lat_0=-0.03, frame="galactic"),
                  PowerLawSpectralModel(amplitude=2e-12, index=2.4), name="source")
truth = Models([source, FoVBackgroundModel("low-energy"), FoVBackgroundModel("high-energy")])
for seed, ds in enumerate((low, high)):
    ds.models = truth  # each dataset sees the source and its own background model
    ds.fake(random_seed=seed)
    print(ds, f"{ds.counts.data.sum():.0f} counts")
true_values = dict(zip(truth.qualified_names(), truth.parameters.values, strict=True))"""),
    code("""\
def start_models():
    models = truth.copy()
    models.parameter("index").value = 2.0
    models.parameter("lon_0").value = 0.0
    models.parameter("lat_0").value = 0.0
    return models


fits = {}
for label, datasets in {"low-energy": [low], "high-energy": [high],
                        "joint": [low, high]}.items():
    models = start_models()
    names = [d.name for d in datasets]
    # a background model for a dataset that is not fitted is left out
    models = Models([m for m in models
                     if not isinstance(m, FoVBackgroundModel) or m.datasets_names[0] in names])
    fit = MapFit.from_datasets(datasets, models)
    t0 = time.perf_counter()
    result = fit.run()
    fits[label] = (fit, result)
    print(f"{label}: success {result.success}, total stat {result.total_stat:.2f}, "
          f"{time.perf_counter() - t0:.1f} s (compile + fit + covariance)")
    if not result.success:
        print("  ", result.message)

print(f"\\n{'parameter':<20}{'truth':>11}" + "".join(f"{k:>24}" for k in fits))
for name in ("source.amplitude", "source.index", "source.lon_0", "source.lat_0"):
    cells = []
    for _, result in fits.values():
        value, error = result.values[name], result.errors[name]
        cells.append(f"{value:12.4g} +- {error:<8.2g}")
    print(f"{name:<20}{true_values[name]:>11.4g}" + "".join(f"{c:>24}" for c in cells))"""),
    code("""\
from skyfit.plot import plot_spectrum

fig, ax = plt.subplots(figsize=(6, 4))
for i, (label, (fit, result)) in enumerate(fits.items()):
    band = result if result.covariance_result.success else None  # no band without one
    plot_spectrum(fit.models["source"], band, energy_range=(0.1, 20), ax=ax, label=label,
                  color=f"C{i}")
plot_spectrum(truth["source"], energy_range=(0.1, 20), ax=ax, label="truth", color="k")
ax.legend()"""),
    code("""\
from skyfit.plot import plot_residual_maps

joint_fit, _ = fits["joint"]
for ds in (low, high):
    fig, axes = plot_residual_maps(ds, energy_bands=2)
    fig.suptitle(ds.name)"""),
    md("""\
## 2. From Gammapy to skyfit

| Gammapy | skyfit |
| --- | --- |
| `from gammapy.datasets import MapDataset` | `from skyfit.datasets import MapDataset` |
| `MapDataset.read(path, name="Fermi-LAT")` | `MapDataset.read(path, name="Fermi-LAT")` (same DL4 file) |
| `Datasets.read("datasets.yaml")` | `skyfit.datasets.read_datasets("datasets.yaml")` |
| `from gammapy.modeling.models import Models` | `from skyfit.models import Models` |
| `Models.read("models.yaml")` | `Models.read("models.yaml")` (same YAML, priors included) |
| `dataset.models = models` | `dataset.models = models` (or let `MapFit.from_datasets` do it) |
| `dataset.npred()`, `dataset.stat_sum()` | `dataset.npred()`, `dataset.stat_sum()` |
| `fit = Fit(); result = fit.run([dataset])` | `fit = MapFit.from_datasets([dataset], models); result = fit.run()` |
| `result.models.covariance` / `par.error` | `result.covariance_result.matrix` / `result.errors` / `par.error` |
| `fit.confidence(datasets, parameter)` | `fit.confidence("alpha")` |
| `fit.stat_profile(datasets, parameter, reoptimize=True)` | `fit.minos_profile("alpha")` (`likelihood_profile` without re-optimising) |
| `fit.stat_contour(datasets, x, y)` | `fit.minos_contour("alpha", "beta")` (`likelihood_contour` for a grid) |
| `dataset.fake(random_state=0)` | `dataset.fake(random_seed=0)` |
| `dataset.plot_residuals()` | `skyfit.plot.plot_residual_maps(dataset)`, `plot_counts_spectrum(dataset)` |
| `model.spectral_model.plot(...)`, `plot_error(...)` | `skyfit.plot.plot_spectrum(model, result)` |
| (sampling: `gammapy.modeling.Sampler`, UltraNest) | `fit.sample(draws, chains)` (NUTS) -> ArviZ `DataTree` |

Parameters are named by their short name when unique (`"alpha"`), by qualified name
(`"Crab Nebula.alpha"`) or passed as the `Parameter` object."""),
    md("""\
## 3. The Crab in Gammapy and in skyfit

Runs only when Gammapy is importable and the Fermi-LAT files are present."""),
    code("""\
import importlib.util

HAVE_GAMMAPY = importlib.util.find_spec("gammapy") is not None
if not (HAVE_GAMMAPY and USE_REAL_DATA):
    print("skipped:", "gammapy is not installed" if not HAVE_GAMMAPY
          else "no Fermi-LAT data (see the first cell)")
else:
    warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm, in Gammapy
    from gammapy.datasets import MapDataset as GPMapDataset
    from gammapy.modeling import Fit as GPFit
    from gammapy.modeling.models import Models as GPModels

    from skyfit.datasets import MapDataset
    from skyfit.models import Models as SFModels

    data_file = CRAB / "Fermi-LAT-3FHL_data_Fermi-LAT.fits"
    model_file = CRAB / "Fermi-LAT-3FHL_models_100gev.yaml"

    t0 = time.perf_counter()
    gp_dataset = GPMapDataset.read(data_file, name="Fermi-LAT")
    gp_dataset.models = GPModels.read(model_file)
    gp_fit = GPFit()
    gp_result = gp_fit.run([gp_dataset])
    gp_minos = gp_fit.confidence(datasets=[gp_dataset], parameter="alpha")
    gp_time = time.perf_counter() - t0

    t0 = time.perf_counter()
    sf_dataset = MapDataset.read(data_file, name="Fermi-LAT")
    sf_models = SFModels.read(model_file)
    sf_fit = MapFit.from_datasets([sf_dataset], sf_models)
    sf_result = sf_fit.run()
    sf_minos = sf_fit.confidence("alpha")
    sf_time = time.perf_counter() - t0

    print(f"{'':<24}{'Gammapy':>26}{'skyfit':>26}")
    print(f"{'success':<24}{gp_result.success!s:>26}{sf_result.success!s:>26}")
    print(f"{'total stat':<24}{gp_result.total_stat:>26.3f}{sf_result.total_stat:>26.3f}")
    for model in gp_dataset.models:
        for par in model.parameters.free_parameters:
            name = f"{model.name}.{par.name}"
            sf_par = sf_models.parameter(name)
            print(f"{name:<24}{par.value:>14.5g} +- {par.error:<8.2g}"
                  f"{sf_par.value:>14.5g} +- {sf_par.error:<8.2g}")
    gp_interval = f"+{gp_minos['errp']:.4f} -{gp_minos['errn']:.4f}"
    sf_interval = f"+{sf_minos['errp']:.4f} -{sf_minos['errn']:.4f}"
    print(f"{'MINOS alpha':<24}{gp_interval:>26}{sf_interval:>26}")
    print(f"{'time (read, fit, MINOS)':<24}{gp_time:>25.1f}s{sf_time:>25.1f}s")"""),
]


if __name__ == "__main__":
    main()
