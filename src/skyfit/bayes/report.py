"""A Markdown diagnostics report of a sampling run, with PNG figures beside it.

``report(idata, "crab/report.md", laplace=lap)`` writes ``crab/report.md`` and
``crab/report_*.png``: the summary table (mean, sd, HDI, r_hat, ESS bulk/tail, MCSE),
sampler checks (divergences, E-BFMI per chain, tree depth), trace, rank and pair plots,
the energy plot, posterior-vs-Laplace densities and the posterior predictive check of the
counts per energy band, with a plain-words warning for each failed check. Matplotlib and
arviz_plots are imported here only, when a report is written.
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path

import numpy as np
import xarray as xr

__all__ = ["diagnostics", "report"]

RHAT_MAX = 1.01
ESS_MIN = 400  # bulk and tail, over all chains (Vehtari et al. 2021: 100 per chain)
BFMI_MIN = 0.3


def diagnostics(idata: xr.DataTree, *, rhat_max: float = RHAT_MAX,
                ess_min: float = ESS_MIN, bfmi_min: float = BFMI_MIN) -> dict:
    """Sampler checks and plain-words warnings.

    Returns
    -------
    dict
        ``summary`` (pandas DataFrame: mean, sd, HDI, ess_bulk, ess_tail, r_hat, mcse),
        ``divergences`` (int), ``bfmi`` (per chain), ``max_tree_depth_hits`` (int or None),
        ``mean_tree_depth``, ``warnings`` (list of str, empty when all checks pass).

    Examples
    --------
    >>> import arviz as az
    >>> rng = np.random.default_rng(0)
    >>> idata = az.from_dict({"posterior": {"x": rng.normal(size=(4, 500))}})
    >>> diagnostics(idata)["warnings"]
    []
    """
    import arviz as az

    summary = az.summary(idata, kind="all", ci_kind="hdi", round_to="none")
    out = {"summary": summary, "divergences": None, "bfmi": None,
           "max_tree_depth_hits": None, "mean_tree_depth": None, "warnings": []}
    warn = out["warnings"]
    if idata.posterior.attrs.get("interrupted"):
        kept = idata.posterior.sizes
        warn.append(f"sampling was interrupted (Ctrl-C): only {kept['draw']} draws x "
                    f"{kept['chain']} chains were kept; every check covers only them.")
    for name, row in summary.iterrows():
        if not row["r_hat"] <= rhat_max:
            warn.append(f"{name}: r_hat = {row['r_hat']:.3f} > {rhat_max}: the chains "
                        "disagree; run longer or start closer to the MAP.")
        for kind, what in (("bulk", "means"), ("tail", "intervals")):
            if not row[f"ess_{kind}"] >= ess_min:
                warn.append(f"{name}: {kind} ESS = {row[f'ess_{kind}']:.0f} < {ess_min}: too "
                            f"few effective draws for reliable {what}; draw more.")
    stats = idata["sample_stats"].to_dataset() if "sample_stats" in idata.children else None
    if stats is None:
        return out
    if "diverging" in stats:
        n_div = int(stats["diverging"].sum())
        out["divergences"] = n_div
        if n_div:
            warn.append(f"{n_div} divergent transitions: the sampler met curvature it could "
                        "not follow, the posterior may be biased there; raise target_accept "
                        "(e.g. 0.95) or reparametrise.")
    if "energy" in stats:
        bfmi = np.atleast_1d(np.asarray(az.bfmi(idata)["energy"]))
        out["bfmi"] = bfmi
        low = np.flatnonzero(bfmi < bfmi_min)
        if low.size:
            warn.append(f"E-BFMI below {bfmi_min} in chain(s) {low.tolist()}: the momentum "
                        "resampling explores the energy poorly (heavy tails or bad "
                        "scaling).")
    depth = next((stats[k] for k in ("tree_depth", "depth") if k in stats), None)
    hits = next((stats[k] for k in ("reached_max_treedepth", "maxdepth_reached")
                 if k in stats), None)
    if depth is not None:
        out["mean_tree_depth"] = float(depth.mean())
    if hits is not None:
        out["max_tree_depth_hits"] = int(hits.sum())
        if out["max_tree_depth_hits"]:
            warn.append(f"{out['max_tree_depth_hits']} draws hit the maximum tree depth: the "
                        "sampler stopped trajectories early (strong correlations or poor "
                        "scaling); sampling is inefficient, not necessarily wrong.")
    return out


def report(idata: xr.DataTree, path: str | PathLike, laplace: xr.DataTree | None = None,
           *, title: str = "skyfit sampling report", pair_max: int = 6) -> Path:
    """Write a Markdown report with PNG figures next to it.

    Parameters
    ----------
    idata : DataTree
        Output of :func:`skyfit.bayes.sample`.
    path : path
        Markdown file to write; figures go beside it as ``<stem>_<figure>.png``.
    laplace : DataTree, optional
        Output of :func:`skyfit.bayes.laplace`, overlaid on the posterior densities.
    title : str
    pair_max : int
        Pair plot only when at most this many parameters (it grows as n**2).

    Returns
    -------
    Path
        The Markdown file.

    Examples
    --------
    >>> import arviz as az, tempfile, os
    >>> rng = np.random.default_rng(0)
    >>> idata = az.from_dict({"posterior": {"x": rng.normal(size=(2, 100))}})
    >>> with tempfile.TemporaryDirectory() as tmp:  # doctest: +SKIP
    ...     md = report(idata, os.path.join(tmp, "r.md"))
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    diag = diagnostics(idata)
    lines = [f"# {title}", ""]
    post = idata.posterior
    lines += [f"{post.sizes['chain']} chains x {post.sizes['draw']} draws; parameters: "
              + ", ".join(f"`{n}` [{post[n].attrs.get('unit', '') or '-'}]"
                          for n in post.data_vars), ""]
    lines += ["## Verdict", ""]
    if diag["warnings"]:
        lines += [f"- **Warning**: {w}" for w in diag["warnings"]]
    else:
        lines.append("All checks pass: r_hat <= 1.01, bulk and tail ESS >= 400, no "
                     "divergences, E-BFMI >= 0.3.")
    lines += ["", "## Summary", "", _markdown_table(diag["summary"]), ""]
    lines += ["## Sampler", ""]
    for key, label in (("divergences", "divergent transitions"),
                       ("mean_tree_depth", "mean tree depth"),
                       ("max_tree_depth_hits", "draws at the maximum tree depth")):
        if diag[key] is not None:
            value = diag[key]
            lines.append(f"- {label}: {value:.2f}" if isinstance(value, float)
                         else f"- {label}: {value}")
    if diag["bfmi"] is not None:
        lines.append("- E-BFMI per chain: " + ", ".join(f"{b:.2f}" for b in diag["bfmi"]))
    lines.append("")
    figures = _figures(idata, laplace, path, pair_max)
    for caption, name in figures:
        lines += [f"## {caption}", "", f"![{caption}]({name})", ""]
    path.write_text("\n".join(lines))
    return path


def _markdown_table(df) -> str:
    cols = list(df.columns)
    rows = ["| parameter | " + " | ".join(cols) + " |",
            "| --- | " + " | ".join("---:" for _ in cols) + " |"]
    for name, row in df.iterrows():
        rows.append(f"| {name} | " + " | ".join(f"{row[c]:.4g}" for c in cols) + " |")
    return "\n".join(rows)


def _figures(idata, laplace, path: Path, pair_max: int) -> list[tuple[str, str]]:
    """Draw and save every figure that applies; return (caption, file name) pairs."""
    import arviz_plots as azp
    import matplotlib.pyplot as plt

    made = []

    def save(pc, key, caption):
        name = f"{path.stem}_{key}.png"
        fig = pc if isinstance(pc, plt.Figure) else pc.viz["figure"].item()
        fig.savefig(path.parent / name, dpi=90, bbox_inches="tight")
        plt.close(fig)
        made.append((caption, name))

    names = list(idata.posterior.data_vars)
    save(azp.plot_trace_dist(idata, backend="matplotlib"), "trace", "Trace and density")
    if idata.posterior.sizes["chain"] > 1:  # ranks compare chains (e.g. one kept by Ctrl-C)
        save(azp.plot_rank(idata, backend="matplotlib"), "rank", "Rank plots")
    if 1 < len(names) <= pair_max:
        save(azp.plot_pair(idata, backend="matplotlib"), "pair", "Pair plot")
    if "sample_stats" in idata.children and "energy" in idata.sample_stats:
        save(azp.plot_energy(idata, backend="matplotlib"), "energy", "Energy and E-BFMI")
    if laplace is not None:
        save(_overlay(idata, laplace, names), "laplace", "Posterior (NUTS) and Laplace")
    if "posterior_predictive" in idata.children:
        save(_ppc_bands(idata), "ppc", "Posterior predictive: counts per energy band")
    return made


def _overlay(idata, laplace, names):
    """Histogram of NUTS draws with the Laplace draws' density on top, per parameter."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 2.8), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        nuts = np.asarray(idata.posterior[name]).ravel()
        lo, hi = np.quantile(nuts, [0.001, 0.999])
        bins = np.linspace(lo, hi if hi > lo else lo + 1e-12 * max(abs(lo), 1e-300), 51)
        for draws, style in ((nuts, dict(fill=True, color="C0", alpha=0.6, label="NUTS")),
                             (np.asarray(laplace.posterior[name]).ravel()
                              if name in laplace.posterior else None,
                              dict(color="C3", lw=1.5, label="Laplace"))):
            if draws is not None:  # density over all draws: mass outside the range is lost
                counts, _ = np.histogram(draws, bins=bins)
                ax.stairs(counts / (draws.size * np.diff(bins)), bins, **style)
        ax.set_xlabel(f"{name} [{idata.posterior[name].attrs.get('unit', '') or '-'}]")
        ax.set_yticks([])
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def _ppc_bands(idata):
    """Observed counts per energy band against the 90 % posterior predictive band."""
    import matplotlib.pyplot as plt

    pp = idata.posterior_predictive
    keys = [k for k in pp.data_vars if k.endswith("_band") and not k.endswith("_npred_band")]
    fig, axes = plt.subplots(1, len(keys), figsize=(4.5 * len(keys), 3.2), squeeze=False)
    for ax, key in zip(axes[0], keys, strict=True):
        draws = pp[key].stack(sample=("chain", "draw")).transpose(..., "sample").values
        energy = pp[key][pp[key].dims[-1]].values
        lo, med, hi = np.quantile(draws, [0.05, 0.5, 0.95], axis=-1)
        ax.fill_between(energy, lo, hi, color="C0", alpha=0.3, label="predictive 90 %")
        ax.plot(energy, med, color="C0", label="predictive median")
        obs = idata.observed_data[key].values
        ax.errorbar(energy, obs, yerr=np.sqrt(np.maximum(obs, 1)), fmt="o", color="k",
                    ms=3, label="observed")
        ax.set(xscale="log", yscale="log", xlabel="energy [TeV]", ylabel="counts",
               title=key.removesuffix("_band"))
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    return fig
