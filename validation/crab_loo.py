"""PowerLaw against LogParabola on the Fermi-LAT Crab: PSIS-LOO and WAIC.

Run from the repository root::

    OMP_NUM_THREADS=1 .venv/bin/python validation/crab_loo.py [--draws 1000] [--tune 1000]

Data: ``fermi-3fhl-crab/Fermi-LAT-3FHL_data_Fermi-LAT.fits`` (dataset "Fermi-LAT").
Models:

* LogParabola: ``Fermi-LAT-3FHL_models_priors.yaml`` as it is (reference 100 GeV;
  log-uniform amplitude [1e-13, 1e-8], uniform alpha [1, 4], beta [-0.5, 1], background
  norm [0.5, 2]);
* PowerLaw: the same file with the Crab's spectrum replaced by a power law at reference
  100 GeV, the same amplitude and background-norm priors, index uniform [1, 4].

Each model is sampled with NUTS (:func:`skyfit.bayes.sample`, from its MAP, 4 chains);
the pointwise log-likelihood over the fitted bins feeds :func:`skyfit.bayes.compare`
(ArviZ PSIS-LOO, and WAIC). Prints the comparison table (elpd_loo, se, p_loo, Pareto-k
warnings, dLOO and its se) and, with ``--write``, stores
``validation/reference/crab_loo.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SKYFIT_SHARED_DATA", REPO.parent / "shared" / "data"))
CRAB = DATA / "fermi-3fhl-crab"
OUT = REPO / "validation" / "reference" / "crab_loo.json"
KHAT_GOOD = 0.7  # PSIS is reliable below this Pareto-k (Vehtari et al. 2024, for S >= 2200)


def load_models(crab_dir: Path = CRAB):
    """``{"LogParabola": Models, "PowerLaw": Models}`` with the priors described above."""
    from skyfit.models import Models, SkyModel
    from skyfit.models.priors import UniformPrior
    from skyfit.models.spectral import PowerLawSpectralModel

    lp = Models.read(crab_dir / "Fermi-LAT-3FHL_models_priors.yaml")
    pl = Models.read(crab_dir / "Fermi-LAT-3FHL_models_priors.yaml")
    crab = pl["Crab Nebula"]
    old = crab.spectral_model.parameters
    spectral = PowerLawSpectralModel(index=2.2)
    new = spectral.parameters
    for name in ("amplitude", "reference"):
        # the same units, spelled differently: the prior's bounds carry over unchanged
        assert old[name].quantity.unit.to(new[name].unit) == 1.0, name
        new[name].value = old[name].value
    amp = new["amplitude"]
    amp.min, amp.max = old["amplitude"].min, old["amplitude"].max
    amp.prior = old["amplitude"].prior.copy()
    new["index"].min, new["index"].max = 1.0, 4.0
    new["index"].prior = UniformPrior(min=1.0, max=4.0)
    components = [SkyModel(crab.spatial_model, spectral, name=crab.name,
                           datasets_names=crab.datasets_names)]
    components += [m for m in pl if m.name != crab.name]
    return {"LogParabola": lp, "PowerLaw": Models(components)}


def load_dataset(crab_dir: Path = CRAB):
    from skyfit.datasets import MapDataset

    return MapDataset.read(crab_dir / "Fermi-LAT-3FHL_data_Fermi-LAT.fits", name="Fermi-LAT")


def run(draws: int = 1000, tune: int = 1000, chains: int = 4, seed: int = 1,
        crab_dir: Path = CRAB, progressbar: bool = False) -> dict:
    """Sample both models and compare them; returns a JSON-ready dict."""
    from skyfit.bayes import compare, diagnostics, map_estimate, sample

    ds = load_dataset(crab_dir)
    idatas, fits = {}, {}
    for label, models in load_models(crab_dir).items():
        t0 = time.perf_counter()
        theta, _, names = map_estimate([ds], models)
        idata = sample([ds], models, start=theta, draws=draws, tune=tune, chains=chains,
                       random_seed=seed, progressbar=progressbar)
        diag = diagnostics(idata)
        idatas[label] = idata
        post = idata.posterior
        fits[label] = {
            "map": dict(zip(names, map(float, theta), strict=True)),
            "mean": {n: float(post[n].mean()) for n in names},
            "sd": {n: float(post[n].std()) for n in names},
            "divergences": int(idata.sample_stats["diverging"].sum()),
            "r_hat_max": float(diag["summary"]["r_hat"].max()),
            "ess_bulk_min": float(diag["summary"]["ess_bulk"].min()),
            "sampler_warnings": list(diag["warnings"]),
            "seconds": time.perf_counter() - t0,
        }
    import arviz as az

    from skyfit.bayes import joint_log_likelihood

    khat = {}
    with warnings.catch_warnings(record=True) as caught:  # Pareto-k warnings: reported
        warnings.simplefilter("always")
        loo = compare(idatas, ic="loo", round_to="none")
        waic = compare(idatas, ic="waic")
        for label, idata in idatas.items():
            res = az.loo(joint_log_likelihood(idata), pointwise=True)
            k = np.asarray(res.pareto_k).ravel()
            good_k = float(getattr(res, "good_k", KHAT_GOOD))
            khat[label] = {"max": float(k.max()), "n_bins": int(k.size),
                           "good_k": good_k, "n_above_good_k": int((k > good_k).sum()),
                           "n_above_0.7": int((k > KHAT_GOOD).sum())}
    loo_warnings = sorted({str(w.message).splitlines()[0] for w in caught})
    return {"draws": draws, "tune": tune, "chains": chains, "seed": seed,
            "loo": _table(loo), "waic": _table(waic), "pareto_k": khat,
            "loo_warnings": loo_warnings, "fits": fits}


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, int | float | str | bool) or obj is None:
        return obj
    return str(obj)


def _table(df) -> dict:
    return {str(row): {str(c): _jsonable(v) for c, v in df.loc[row].items()}
            for row in df.index}


def summary_lines(result: dict) -> list[str]:
    """The comparison in a table and in words."""
    loo, waic, khat = result["loo"], result["waic"], result["pareto_k"]
    best, other = list(loo)
    lines = [f"Crab, {result['chains']} chains x ({result['tune']} tune + "
             f"{result['draws']} draws) per model",
             "| model | elpd_loo | se | p_loo | dLOO | dse | weight | max k-hat | "
             "bins k>0.7 | elpd_waic | p_waic |",
             "|" + " --- |" * 11]
    for name, row in loo.items():
        lines.append(
            f"| {name} | {row['elpd']:.2f} | {row['se']:.2f} | {row['p']:.2f} | "
            f"{row['elpd_diff']:.2f} | {row['dse']:.2f} | {row['weight']:.3f} | "
            f"{khat[name]['max']:.3f} | {khat[name]['n_above_0.7']}/{khat[name]['n_bins']}"
            f" | {waic[name]['elpd_waic']:.2f} | {waic[name]['p_waic']:.2f} |")
    d, dse = loo[other]["elpd_diff"], loo[other]["dse"]
    lines.append(f"PSIS-LOO prefers {best} over {other} by dLOO = {abs(d):.2f} +- {dse:.2f} "
                 f"({abs(d) / dse:.1f} standard errors); WAIC difference "
                 f"{abs(waic[other]['elpd_diff']):.2f} +- {waic[other]['dse']:.2f}.")
    lines.append("Pareto-k warnings: " + ("; ".join(result["loo_warnings"]) or "none")
                 + f" (max k-hat {max(k['max'] for k in khat.values()):.3f})")
    for label, fit in result["fits"].items():
        lines.append(f"{label}: " + ", ".join(
            f"{n} {fit['mean'][n]:.4g} +- {fit['sd'][n]:.2g}" for n in fit["mean"])
            + f"; {fit['divergences']} divergences, {fit['seconds']:.0f} s")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--write", action="store_true", help=f"store {OUT}")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", message="PyTensor could not link")
    result = run(args.draws, args.tune, args.chains, args.seed)
    print("\n".join(summary_lines(result)))
    if args.write:
        OUT.write_text(json.dumps(result, indent=1) + "\n")
        print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
