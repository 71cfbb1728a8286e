"""Model comparison from the pointwise log-likelihood: PSIS-LOO (ArviZ) and WAIC.

Each dataset's bins form one observed variable of the ``log_likelihood`` group; for a
comparison all fitted bins of all datasets are the data points, so the variables are
concatenated first (:func:`joint_log_likelihood`).
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy.special import logsumexp

__all__ = ["compare", "joint_log_likelihood", "waic"]


def joint_log_likelihood(idata: xr.DataTree, name: str = "total") -> xr.DataTree:
    """A copy of ``idata`` whose ``log_likelihood`` group holds one variable over all bins.

    Parameters
    ----------
    idata : DataTree
        Output of :func:`skyfit.bayes.sample` or :func:`skyfit.bayes.laplace`.
    name : str
        Name of the joint variable (dimension ``"bin"``).

    Examples
    --------
    >>> import arviz as az
    >>> idata = az.from_dict({"posterior": {"a": np.zeros((1, 5))},
    ...     "log_likelihood": {"d1": np.zeros((1, 5, 3)), "d2": np.zeros((1, 5, 2))}})
    >>> joint_log_likelihood(idata).log_likelihood["total"].shape
    (1, 5, 5)
    """
    ll = idata["log_likelihood"].to_dataset()
    parts = [ll[v].stack(bin=[d for d in ll[v].dims if d not in ("chain", "draw")])
             .drop_vars(lambda a: [c for c in a.coords if c not in ("chain", "draw")])
             .transpose("chain", "draw", "bin") for v in ll.data_vars]
    joint = xr.concat(parts, dim="bin")
    joint = joint.assign_coords(bin=np.arange(joint.sizes["bin"]))
    out = idata.copy()
    out["log_likelihood"] = xr.DataTree(xr.Dataset({name: joint}))
    return out


def waic(idata: xr.DataTree) -> dict[str, float]:
    """WAIC over all fitted bins: ``elpd_waic``, its standard error and ``p_waic``.

    Watanabe (2010), JMLR 11, 3571; computed as in Vehtari, Gelman & Gabry (2017).

    Examples
    --------
    >>> import arviz as az
    >>> idata = az.from_dict({"posterior": {"a": np.zeros((1, 4))},
    ...                       "log_likelihood": {"d": np.zeros((1, 4, 3))}})
    >>> waic(idata)["elpd_waic"]
    0.0
    """
    pointwise, p = _waic_pointwise(idata)
    return {"elpd_waic": float(pointwise.sum()),
            "se": float(np.sqrt(pointwise.size * pointwise.var())),
            "p_waic": float(p.sum())}


def compare(idatas: dict[str, xr.DataTree], ic: str = "loo", **kwargs):
    """Rank models fitted to the same datasets by expected log predictive density.

    Parameters
    ----------
    idatas : dict of str to DataTree
        Sampling results (with ``log_likelihood``) by model label, e.g.
        ``{"PowerLaw": idata_pl, "LogParabola": idata_lp}``.
    ic : {"loo", "waic"}
        PSIS-LOO through :func:`arviz.compare` (``**kwargs`` passed on), or WAIC.

    Returns
    -------
    pandas.DataFrame
        One row per model, best first: ``elpd``, ``elpd_diff`` (to the best), their
        standard errors and (LOO) stacking weights and Pareto-k warnings.

    Examples
    --------
    >>> import arviz as az
    >>> rng = np.random.default_rng(0)
    >>> a = az.from_dict({"posterior": {"x": rng.normal(size=(2, 50))},
    ...                   "log_likelihood": {"d": rng.normal(-1, 0.1, (2, 50, 8))}})
    >>> b = az.from_dict({"posterior": {"x": rng.normal(size=(2, 50))},
    ...                   "log_likelihood": {"d": rng.normal(-2, 0.1, (2, 50, 8))}})
    >>> list(compare({"a": a, "b": b}, ic="waic").index)
    ['a', 'b']
    """
    import arviz as az
    import pandas as pd

    if ic == "loo":
        return az.compare({k: joint_log_likelihood(v) for k, v in idatas.items()}, **kwargs)
    if ic != "waic":
        raise ValueError(f"ic must be 'loo' or 'waic', got {ic!r}")
    rows = {k: waic(v) for k, v in idatas.items()}
    table = pd.DataFrame(rows).T.sort_values("elpd_waic", ascending=False)
    pointwise = {k: _waic_pointwise(v)[0] for k, v in idatas.items()}
    best = table.index[0]
    table["elpd_diff"] = table["elpd_waic"] - table.loc[best, "elpd_waic"]
    table["dse"] = [float(np.sqrt(pointwise[k].size * np.var(pointwise[k] - pointwise[best])))
                    for k in table.index]
    table.insert(0, "rank", np.arange(len(table)))
    return table


def _waic_pointwise(idata: xr.DataTree) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise ``elpd_waic`` and ``p_waic`` over all bins."""
    ll = joint_log_likelihood(idata).log_likelihood["total"].values
    ll = ll.reshape(-1, ll.shape[-1])
    p = ll.var(axis=0, ddof=1)
    return logsumexp(ll, axis=0) - np.log(ll.shape[0]) - p, p
