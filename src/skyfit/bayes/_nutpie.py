"""nutpie NUTS run in the background, so that Ctrl-C keeps the draws made so far.

:func:`sample_nutpie` does what ``pymc.sample(nuts_sampler="nutpie")`` does (same
compilation, same seed per run, same ``DataTree`` layout) but starts nutpie with
``blocking=False`` and waits for it: a ``KeyboardInterrupt`` while waiting aborts the run
and returns the draws made so far, cut to the same length by :func:`complete_draws`
(nutpie pads unequal chains with NaN).
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import xarray as xr

__all__ = ["complete_draws", "sample_nutpie"]


def sample_nutpie(model, initvals: dict, *, draws: int, tune: int, chains: int, cores: int,
                  random_seed, progressbar: bool, compile_kwargs: dict,
                  nuts: dict) -> tuple[xr.DataTree, bool]:
    """Sample ``model`` with nutpie; returns ``(idata, interrupted)``.

    ``compile_kwargs`` (``mode`` selects numba or JAX, the rest goes to
    :func:`nutpie.compile_pymc_model`) and ``nuts`` (options of :func:`nutpie.sample`) as
    in :func:`pymc.sample`. A ``KeyboardInterrupt`` during sampling aborts nutpie and
    returns the complete draws so far with ``interrupted=True``; one during tuning, before
    any draw is kept, is raised again with a message saying so.

    Examples
    --------
    A standard normal, compiled with JAX (quicker to compile than numba):

    >>> import pymc as pm
    >>> with pm.Model() as model:
    ...     x = pm.Normal("x", 0.0, 1.0)
    >>> idata, interrupted = sample_nutpie(
    ...     model, {"x": 0.0}, draws=20, tune=20, chains=1, cores=1, random_seed=0,
    ...     progressbar=False, compile_kwargs={"mode": "JAX"}, nuts={})
    >>> interrupted, idata.posterior["x"].shape
    (False, (1, 20))
    """
    import nutpie
    from pymc.backends.arviz import patch_nutpie_idata
    from pymc.progress_bar import NutpieProgressBarManager
    from pymc.util import get_random_generator
    from pytensor.compile.mode import get_mode
    from pytensor.link.jax.linker import JAXLinker

    compile_kwargs = dict(compile_kwargs)
    linker = get_mode(compile_kwargs.pop("mode", None)).linker
    compile_kwargs.setdefault("backend", "jax" if isinstance(linker, JAXLinker) else "numba")
    compiled = nutpie.compile_pymc_model(model, initial_points=initvals, **compile_kwargs)
    # the seed pymc.sample would give nutpie: same seed, same draws as before this module
    seed = int(get_random_generator(random_seed).spawn(chains)[0].integers(2**30))
    nuts = dict(nuts)
    if "max_treedepth" in nuts:
        nuts["maxdepth"] = nuts.pop("max_treedepth")
    progress = NutpieProgressBarManager(chains=chains, draws=draws, progressbar=progressbar)
    t0 = time.time()
    with progress:
        run = nutpie.sample(compiled, draws=draws, tune=max(tune, 1), chains=chains,
                            cores=cores, seed=seed, save_warmup=False, progress_bar=False,
                            progress_callback=progress.update, blocking=False, **nuts)
        try:
            idata, interrupted = run.wait(), False
        except KeyboardInterrupt:
            with warnings.catch_warnings():  # ArviZ on a run stopped with < 1 draw per chain
                warnings.filterwarnings("ignore", "Found chain dimension to be longer")
                idata, interrupted = run.abort(), True
        except BaseException:
            run.cancel()
            raise
    if interrupted:
        idata = complete_draws(idata)
        if idata is None:
            raise KeyboardInterrupt(f"sampling interrupted during tuning ({tune} steps per "
                                    "chain): no posterior draw to keep")
    patch_nutpie_idata(idata, model, sampling_time=time.time() - t0)
    return idata, interrupted


def complete_draws(idata: xr.DataTree) -> xr.DataTree | None:
    """The complete draws of an aborted run: every chain that has some, cut to the shortest.

    Chains of an aborted run end at different draws (nutpie pads them with NaN). Every
    chain with at least one draw is kept, so that the between-chain checks (``r_hat``)
    still see a slow or stuck chain; chains still tuning (or not started, with fewer
    cores than chains) have none and are dropped. None if no chain has a draw.

    Examples
    --------
    >>> x = np.full((3, 5), np.nan)
    >>> x[0, :5], x[1, :4] = 1.0, 2.0  # chain 2 was still tuning
    >>> idata = xr.DataTree.from_dict({"posterior": xr.Dataset({"x": (("chain", "draw"), x)})})
    >>> complete_draws(idata).posterior["x"].values.tolist()
    [[1.0, 1.0, 1.0, 1.0], [2.0, 2.0, 2.0, 2.0]]
    """
    posterior = idata.posterior.to_dataset()
    done = np.ones((posterior.sizes["chain"], posterior.sizes["draw"]), bool)
    for var in posterior.data_vars.values():
        if np.issubdtype(var.dtype, np.floating) and var.size:
            values = var.transpose("chain", "draw", ...).values
            done &= np.isfinite(values.reshape((*done.shape, -1))).all(axis=-1)
    lengths = np.cumprod(done, axis=1).sum(axis=1)  # complete draws at the start of a chain
    chains = np.flatnonzero(lengths)
    if not chains.size:
        return None
    n = int(lengths[chains].min())
    out = xr.DataTree()
    for name, node in idata.children.items():
        ds = node.to_dataset()
        if "chain" in ds.dims and "draw" in ds.dims:
            ds = ds.isel(chain=chains, draw=slice(0, n))
            ds = ds.assign_coords(chain=np.arange(len(chains)))
        out[name] = xr.DataTree(ds)
    out.attrs.update(idata.attrs)
    return out
