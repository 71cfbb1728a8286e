"""Simulation-based calibration (Talts et al. 2018) of skyfit's NUTS posterior.

For each replication: draw the parameters from their priors, simulate counts from the
synthetic instrument at those values, sample the posterior with NUTS and record the rank
of the true value among ``L`` thinned posterior draws. If the model, priors, transforms and
sampler are right, every parameter's ranks are uniform on ``0..L``. We test that with a
chi-square test on ``bins`` rank bins and a Kolmogorov-Smirnov test of the randomised
ranks; both p-values must exceed 0.01 for every parameter. The plot shows the rank
histograms with the 99 % band of a uniform histogram and the ECDF differences.

Set-up: a 16 x 16 pixel, 3-band synthetic dataset with a point source (free amplitude and
index) over background (free norm). Priors: amplitude LogNormal(ln 3e-13, 0.4), index
Gaussian(2.4, 0.2), norm Gaussian(1.0, 0.1). The PyMC model is built and compiled once;
counts are swapped per replication (nutpie's ``with_data``), so one replication costs a
few hundred milliseconds.

Run from the repository root (nutpie needed)::

    OMP_NUM_THREADS=1 .venv/bin/python validation/sbc.py --replications 200 --out /tmp/sbc

It writes ``sbc.json`` (p-values, settings) and ``sbc_ranks.png`` into ``--out`` and exits
with status 1 when a test fails.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from scipy import stats


def setup():
    from skyfit.datasets.synthetic import synthetic_dataset
    from skyfit.models import FoVBackgroundModel, Models, SkyModel
    from skyfit.models.priors import GaussianPrior, LogNormalPrior
    from skyfit.models.spatial import PointSpatialModel
    from skyfit.models.spectral import PowerLawSpectralModel

    ds = synthetic_dataset(npix=(16, 16), binsz=0.05, energy_edges=np.geomspace(0.3, 10, 4),
                           energy_true_edges=np.geomspace(0.2, 20, 7), background_rate=0.02,
                           name="sbc")
    src = SkyModel(PointSpatialModel(lon_0=0.01, lat_0=0.02, frame="galactic"),
                   PowerLawSpectralModel(amplitude=3e-13, index=2.4), name="src")
    models = Models([src, FoVBackgroundModel("sbc")])
    for par in models.parameters:
        par.frozen = par.name not in ("amplitude", "index", "norm")
    models.parameter("amplitude").prior = LogNormalPrior(mu=math.log(3e-13), sigma=0.4)
    models.parameter("index").prior = GaussianPrior(mu=2.4, sigma=0.2)
    models.parameter("norm").prior = GaussianPrior(mu=1.0, sigma=0.1)
    return ds, models


def draw_prior(prior, rng):
    """One draw from a skyfit prior (the kinds used here)."""
    from skyfit.models.priors import GaussianPrior, LogNormalPrior

    if isinstance(prior, GaussianPrior):
        return rng.normal(prior.mu, prior.sigma)
    if isinstance(prior, LogNormalPrior):
        return math.exp(rng.normal(prior.mu, prior.sigma))
    raise TypeError(type(prior))


def run(replications, draws, tune, thin, bins, seed):
    import nutpie

    from skyfit.bayes import build_model

    ds, models = setup()
    bm = build_model([ds], models, counts_as_data=True)
    obs = bm.observed[0]
    t0 = time.perf_counter()
    compiled = nutpie.compile_pymc_model(bm.model, initial_points=bm.start_dict())
    print(f"compiled in {time.perf_counter() - t0:.1f} s; free parameters {bm.names}")
    rng = np.random.default_rng(seed)
    n_keep = (draws * 2 // thin) // bins * bins - 1  # ranks 0..n_keep: equal integer bins
    ranks = np.zeros((replications, len(bm.names)), dtype=int)
    divergences, t0 = 0, time.perf_counter()
    for r in range(replications):
        truth = np.array([draw_prior(p.prior, rng) for p in bm.free])
        npred = bm.likelihood.npred(truth)[0].ravel()[bm.bins[0]]
        counts = rng.poisson(npred).astype(np.int64)
        start = bm.start_dict(truth)  # any point works; the prior truth is typical
        model = compiled.with_data(**{f"{obs}_counts": counts})
        idata = nutpie.sample(model, draws=draws, tune=tune, chains=2, cores=2,
                              seed=int(rng.integers(2**31)), progress_bar=False,
                              init_mean=_unconstrained(bm, start))
        divergences += int(idata.sample_stats["diverging"].sum())
        for k, name in enumerate(bm.names):
            post = np.asarray(idata.posterior[name]).reshape(-1)[::thin][:n_keep]
            ranks[r, k] = int((post < truth[k]).sum())
        if (r + 1) % 20 == 0:
            print(f"  {r + 1}/{replications} replications, {time.perf_counter() - t0:.0f} s")
    return bm.names, ranks, n_keep, divergences, time.perf_counter() - t0


def _unconstrained(bm, start):
    from skyfit.bayes.transforms import to_unconstrained

    return np.array([to_unconstrained(s, start[n])
                     for n, s in zip(bm.names, bm.supports, strict=True)])


def uniformity(ranks, n_keep, bins, seed):
    """Chi-square p-value on ``bins`` rank bins and KS p-value of randomised ranks."""
    rng = np.random.default_rng(seed)
    out = []
    for column in ranks.T:
        edges = np.linspace(0, n_keep + 1, bins + 1)
        counts, _ = np.histogram(column, bins=edges)
        per_bin = np.diff(np.ceil(edges))  # integer ranks falling in each bin
        expected = len(column) * per_bin / (n_keep + 1)
        chi2 = float(((counts - expected) ** 2 / expected).sum())
        p_chi2 = float(stats.chi2.sf(chi2, bins - 1))
        u = (column + rng.uniform(size=column.size)) / (n_keep + 1)
        p_ks = float(stats.kstest(u, "uniform").pvalue)
        out.append({"chi2": chi2, "p_chi2": p_chi2, "p_ks": p_ks})
    return out


def plot(names, ranks, n_keep, bins, tests, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(ranks)
    fig, axes = plt.subplots(2, len(names), figsize=(3.6 * len(names), 5.5), squeeze=False)
    lo, hi = stats.binom.ppf([0.005, 0.995], n, 1 / bins)
    for k, name in enumerate(names):
        ax = axes[0, k]
        ax.hist(ranks[:, k], bins=np.linspace(0, n_keep + 1, bins + 1), color="C0")
        ax.axhspan(lo, hi, color="0.8", zorder=0, label="99 % uniform")
        ax.set_title(f"{name}: p_chi2 {tests[k]['p_chi2']:.2f}, p_KS {tests[k]['p_ks']:.2f}",
                     fontsize=9)
        ax.set_xlabel("rank")
        ax = axes[1, k]
        u = np.sort(ranks[:, k] / n_keep)
        ecdf = np.arange(1, n + 1) / n
        band = 1.63 / math.sqrt(n)  # 99 % Kolmogorov band
        ax.fill_between([0, 1], [-band, -band], [band, band], color="0.8")
        ax.step(u, ecdf - u, where="post")
        ax.set_xlabel("fractional rank")
        ax.set_ylabel("ECDF - uniform")
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=200)
    parser.add_argument("--draws", type=int, default=500, help="per chain (2 chains)")
    parser.add_argument("--tune", type=int, default=300)
    parser.add_argument("--thin", type=int, default=10)
    parser.add_argument("--bins", type=int, default=10)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "skyfit-sbc"))
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", message="PyTensor could not link")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    names, ranks, n_keep, divergences, wall = run(args.replications, args.draws, args.tune,
                                                  args.thin, args.bins, args.seed)
    tests = uniformity(ranks, n_keep, args.bins, args.seed)
    plot(names, ranks, n_keep, args.bins, tests, out / "sbc_ranks.png")
    ok = all(t["p_chi2"] > 0.01 and t["p_ks"] > 0.01 for t in tests)
    result = {"replications": args.replications, "posterior_draws_per_rank": n_keep,
              "draws": args.draws, "tune": args.tune, "thin": args.thin, "bins": args.bins,
              "seed": args.seed, "divergences": divergences, "wall_s": round(wall, 1),
              "tests": dict(zip(names, tests, strict=True)), "uniform": ok}
    (out / "sbc.json").write_text(json.dumps(result, indent=1))
    for name, t in zip(names, tests, strict=True):
        print(f"  {name:<10} chi2 {t['chi2']:6.2f} (p {t['p_chi2']:.3f})  KS p {t['p_ks']:.3f}")
    print(f"{args.replications} replications in {wall:.0f} s, {divergences} divergences; "
          f"ranks uniform (all p > 0.01): {ok}; plot {out / 'sbc_ranks.png'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
