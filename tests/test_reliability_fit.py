"""Issue 5, Fits and Sampling rows of docs/reliability.md that no other test covers.

Non-convergence, NaN during a real fit, MINOS at an upper bound, sampler warnings
(divergences, r_hat) and an interrupted sampling run. The degenerate-Hessian and
lower-bound MINOS cases are in tests/test_fit.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from skyfit.datasets.synthetic import synthetic_dataset
from skyfit.fit import MapFit
from skyfit.models import FoVBackgroundModel, Models, SkyModel
from skyfit.models.spatial import PointSpatialModel
from skyfit.models.spectral import PowerLawSpectralModel


def toy(seed=1, background_rate=0.05, source=True, amplitude=2e-12):
    """Small synthetic dataset (as tests/test_fit.py): point source, frozen position."""
    ds = synthetic_dataset(npix=(16, 16), binsz=0.05, background_rate=background_rate,
                           name="toy")
    components = [FoVBackgroundModel("toy")]
    if source:
        spatial = PointSpatialModel(lon_0=0.01, lat_0=-0.02, frame="galactic")
        for par in spatial.parameters:
            par.frozen = True
        spectral = PowerLawSpectralModel(amplitude=amplitude, index=2.3)
        components.insert(0, SkyModel(spatial, spectral, name="src"))
    models = Models(components)
    ds.models = models
    ds.fake(random_seed=seed)
    return ds, models


# -- Fits ----------------------------------------------------------------------------------

@pytest.mark.parametrize("backend, opts, reason", [
    ("minuit", {"ncall": 5}, "call limit reached"),
    ("scipy", {"options": {"maxiter": 2}}, "maximum number of function evaluations"),
])
def test_non_convergence_is_success_false_with_backend_message(backend, opts, reason):
    ds, models = toy()
    models.parameter("index").value = 2.0
    fit = MapFit.from_datasets([ds], models)
    out = fit.optimize(backend=backend, **opts)  # no exception
    assert out.success is False
    assert reason in out.message
    assert np.isfinite(out.total_stat)
    result = fit.run(optimize_opts={"backend": backend, **opts})
    assert result.success is False and reason in result.message
    assert "False" in str(result)


def test_fit_ending_at_negative_counts_is_reported_as_failed():
    """No source and almost no background, amplitude without bounds: empty bins reward a
    negative amplitude (the statistic floors npred, as Gammapy), so the optimisers end
    where npred < 0; the fit says so instead of reporting success."""
    ds, models = toy(seed=2, background_rate=1e-4, source=False)
    spatial = PointSpatialModel(lon_0=0.01, lat_0=-0.02, frame="galactic")
    for par in spatial.parameters:
        par.frozen = True
    src = SkyModel(spatial, PowerLawSpectralModel(amplitude=1e-13, index=2.3), name="src")
    assert np.isnan(src.spectral_model.parameters["amplitude"].min)  # unbounded
    models = Models([src, models["toy-bkg"]])
    for backend in ("minuit", "scipy"):
        models.parameter("amplitude").value = 1e-13
        models.parameter("index").value = 2.3
        models.parameter("norm").value = 1.0
        fit = MapFit.from_datasets([ds], models)
        out = fit.optimize(backend=backend)
        assert models.parameter("amplitude").value < 0, backend
        assert out.success is False, backend
        assert "predict negative counts" in out.message and "min=0" in out.message
        assert np.isfinite(out.total_stat)
        # bounded (amplitude and background norm >= 0), the same fit succeeds
        for name, start in (("amplitude", 1e-13), ("norm", 1.0)):
            models.parameter(name).min = 0.0
            models.parameter(name).value = start
        models.parameter("index").value = 2.3
        bounded_fit = MapFit.from_datasets([ds], models)
        bounded = bounded_fit.optimize(backend=backend)
        assert bounded.success, bounded.message
        assert models.parameter("amplitude").value < 1e-20  # the data want less: at the bound
        assert "at a bound: src.amplitude" in bounded_fit.covariance().message
        for name in ("amplitude", "norm"):
            models.parameter(name).min = np.nan


def test_confidence_reports_the_upper_bound_side():
    """The lower-bound side is tests/test_fit.py::test_confidence_reports_a_bound."""
    ds, models = toy(background_rate=2.0, source=False, seed=3)
    fit = MapFit.from_datasets([ds], models)
    assert fit.run().success
    par = fit.models.parameter("norm")
    par.max = par.value + 0.3 * par.error
    ci = fit.confidence("norm")
    assert ci["at_upper_limit"] and not ci["at_lower_limit"]
    assert ci["lower_valid"]
    assert ci["errp"] <= 0.3 * par.error * 1.001
    assert ci["errn"] == pytest.approx(par.error, rel=0.1)  # the free side is unaffected
    assert "at_upper_limit" in ci["message"] and "at_lower_limit" not in ci["message"]


# -- Sampling ------------------------------------------------------------------------------

def _idata(shift=0.0, diverging=0, draws=500, seed=0):
    import arviz as az

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(4, draws))
    x[0] += shift  # one chain away from the others: r_hat > 1.01
    div = np.zeros((4, draws), bool)
    div.flat[:diverging] = True
    return az.from_dict({"posterior": {"x": x}, "sample_stats": {"diverging": div}})


def test_divergences_and_bad_r_hat_are_warnings_in_diagnostics_and_report(tmp_path):
    pytest.importorskip("arviz")
    bayes = pytest.importorskip("skyfit.bayes")
    good = bayes.diagnostics(_idata())
    assert good["warnings"] == [] and good["divergences"] == 0
    bad = bayes.diagnostics(_idata(shift=3.0, diverging=7))
    assert bad["divergences"] == 7
    text = "\n".join(bad["warnings"])
    assert "7 divergent transitions" in text and "target_accept" in text
    assert "x: r_hat = " in text and "chains disagree" in text
    md = bayes.report(_idata(shift=3.0, diverging=7), tmp_path / "report.md").read_text()
    assert "**Warning**: 7 divergent transitions" in md
    assert "**Warning**: x: r_hat = " in md


def test_keyboard_interrupt_during_sampling_returns_the_draws_made():
    """PyMC's own sequential sampler (``cores=1``) catches KeyboardInterrupt and returns
    the draws so far; skyfit passes them on, flagged. Raised here from PyMC's ``callback``
    (nutpie: tests/test_bayes.py::test_keyboard_interrupt_keeps_nutpie_draws)."""
    pytest.importorskip("pymc")
    bayes = pytest.importorskip("skyfit.bayes")
    from skyfit.models.priors import LogUniformPrior

    ds = synthetic_dataset(npix=(6, 6), binsz=0.1, energy_edges=[0.3, 1.0, 3.0],
                           energy_true_edges=[0.2, 0.6, 2.0, 6.0], background_rate=0.0,
                           name="conj")
    truth = Models([SkyModel(PointSpatialModel(lon_0=0.02, lat_0=-0.01, frame="galactic"),
                             PowerLawSpectralModel(amplitude=1e-11, index=2.3), name="src")])
    ds.models = truth
    ds.fake(random_seed=4)
    models = truth.copy()
    amplitude = models.parameter("amplitude")
    for par in models.parameters:
        par.frozen = par is not amplitude
    amplitude.prior = LogUniformPrior(min=1e-15, max=1e-7)

    def interrupt(trace, draw):
        if draw.draw_idx >= 60:  # 20 tuning steps, then 40 kept draws
            raise KeyboardInterrupt

    with pytest.warns(UserWarning, match=r"sampling interrupted \(KeyboardInterrupt\): "
                      r"kept \d+ draws x 1 chains of the 100 x 1 asked"):
        idata = bayes.sample([ds], models, draws=100, tune=20, chains=1, cores=1,
                             sampler="pymc", random_seed=1, progressbar=False,
                             callback=interrupt)
    draws = idata.posterior.sizes["draw"]
    assert 0 < draws < 100  # partial, not the 100 asked for
    assert np.all(np.isfinite(idata.posterior["amplitude"].values))
    assert idata.log_likelihood.sizes["draw"] == draws
    assert idata.posterior.attrs["interrupted"] is True
