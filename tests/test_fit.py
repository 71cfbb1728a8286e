"""MapFit on the synthetic instrument: optimisers, covariance, MINOS, profiles, contours."""

from __future__ import annotations

import inspect
import subprocess
import sys

import numpy as np
import pytest
from scipy.optimize import brentq

from skyfit.datasets.synthetic import synthetic_dataset
from skyfit.fit import CovarianceResult, FitProblem, FitResult, MapFit, OptimizeResult
from skyfit.fit import minuit as minuit_backend
from skyfit.models import FoVBackgroundModel, Models, SkyModel
from skyfit.models.spatial import PointSpatialModel
from skyfit.models.spectral import PowerLawSpectralModel

TRUTH = {"index": 2.3, "amplitude": 2e-12, "norm": 1.0}


def toy(seed=1, background_rate=0.05, npix=16, name="toy", source=True):
    """A small synthetic dataset and its true models (point source with frozen position)."""
    ds = synthetic_dataset(npix=(npix, npix), binsz=0.05, background_rate=background_rate,
                           name=name)
    components = [FoVBackgroundModel(name)]
    if source:
        spatial = PointSpatialModel(lon_0=0.01, lat_0=-0.02, frame="galactic")
        for par in spatial.parameters:
            par.frozen = True
        spectral = PowerLawSpectralModel(amplitude=TRUTH["amplitude"], index=TRUTH["index"])
        components.insert(0, SkyModel(spatial, spectral, name="src"))
    models = Models(components)
    ds.models = models
    ds.fake(random_seed=seed)
    return ds, models


@pytest.fixture(scope="module")
def fitted():
    ds, models = toy()
    models.parameter("index").value = 2.0
    models.parameter("amplitude").value = 1e-12
    fit = MapFit.from_datasets([ds], models)
    result = fit.run()
    return fit, result


def test_run_converges_and_updates_parameters(fitted):
    fit, result = fitted
    assert isinstance(result, FitResult) and result.success, result.message
    assert result.optimize_result.start["src.index"] == 2.0
    assert result.optimize_result.start["src.amplitude"] == 1e-12
    errors = result.errors
    for name, truth in (("src.index", 2.3), ("src.amplitude", 2e-12), ("toy-bkg.norm", 1.0)):
        par = fit.models.parameter(name)
        assert par.value == result.values[name]
        assert par.error == pytest.approx(errors[name]) and par.error > 0
        assert abs(par.value - truth) < 4 * par.error, (name, par.value, par.error)
    assert result.total_stat == pytest.approx(fit.total_stat())
    assert result.total_stat < result.optimize_result.start_stat
    text = str(result)
    for word in ("src.index", "toy-bkg.norm", "frozen", "error", "total stat", "True"):
        assert word in text


def test_scipy_backend_agrees_with_minuit(fitted):
    _, result = fitted
    ds, models = toy()
    models.parameter("index").value = 2.0
    other = MapFit.from_datasets([ds], models)
    out = other.optimize(backend="scipy")
    assert isinstance(out, OptimizeResult) and out.success, out.message
    assert out.method == "trust-constr" and out.backend_result.nit > 0
    assert out.total_stat == pytest.approx(result.total_stat, abs=1e-4)
    for name, value in result.values.items():
        assert models.parameter(name).value == pytest.approx(
            value, abs=0.01 * max(result.errors.get(name, 0), 1e-300))


def test_covariance_of_background_norm_is_exact():
    """Background only, norm free: nu_hat = N / B, Cash Hessian 2 N / nu^2, sigma = nu / sqrt(N)."""
    ds, models = toy(background_rate=2.0, source=False, seed=3)
    fit = MapFit.from_datasets([ds], models)
    assert fit.optimize().success
    n_obs, b = ds.counts.data.sum(), ds.background.data.sum()
    nu = fit.models.parameter("norm").value
    assert nu == pytest.approx(n_obs / b, rel=1e-7)
    cov = fit.covariance()
    assert isinstance(cov, CovarianceResult) and cov.success and cov.names == ["toy-bkg.norm"]
    assert cov.errors["toy-bkg.norm"] == pytest.approx(nu / np.sqrt(n_obs), rel=1e-5)
    hesse = fit.covariance(method="hesse")
    assert hesse.success and hesse.matrix[0, 0] == pytest.approx(cov.matrix[0, 0], rel=1e-3)

    # MINOS against the exact Poisson profile 2 (nu B - N ln(nu B)) rising by 1
    def rise(x):
        return 2 * (x * b - n_obs * np.log(x * b)) - 2 * (nu * b - n_obs * np.log(nu * b)) - 1

    upper, lower = brentq(rise, nu, 2 * nu), brentq(rise, 0.5 * nu, nu)
    ci = fit.confidence("norm")
    assert ci["success"] and not ci["at_lower_limit"]
    assert ci["errp"] == pytest.approx(upper - nu, rel=2e-3)
    assert ci["errn"] == pytest.approx(nu - lower, rel=2e-3)
    assert ci["errp"] > ci["errn"]  # Poisson asymmetry
    two = fit.confidence("norm", sigma=2)
    assert two["errp"] == pytest.approx(brentq(lambda x: rise(x) - 3, nu, 3 * nu) - nu,
                                        rel=2e-3)


def test_confidence_reports_a_bound():
    ds, models = toy(background_rate=2.0, source=False, seed=3)
    fit = MapFit.from_datasets([ds], models)
    fit.run()
    par = fit.models.parameter("norm")
    par.min = par.value - 0.3 * par.error
    ci = fit.confidence("norm")
    assert ci["at_lower_limit"] and not ci["at_upper_limit"]
    assert ci["errn"] <= 0.3 * par.error * 1.001
    assert "at_lower_limit" in ci["message"]


def test_parameter_naming(fitted):
    fit, _ = fitted
    par = fit.models.parameter("src.index")
    by_name = fit.likelihood_profile("index", nvalues=3)
    by_qualified = fit.likelihood_profile("src.index", nvalues=3)
    by_object = fit.likelihood_profile(par, nvalues=3)
    np.testing.assert_array_equal(by_name["likelihood"], by_qualified["likelihood"])
    np.testing.assert_array_equal(by_name["likelihood"], by_object["likelihood"])
    with pytest.raises(KeyError, match="reference"):  # src.reference and toy-bkg.reference
        fit.likelihood_profile("reference")
    with pytest.raises(ValueError, match="frozen"):
        fit.confidence("src.lon_0")
    with pytest.raises(KeyError, match="no parameter"):
        fit.confidence("not-a-parameter")


def test_profiles(fitted):
    fit, result = fitted
    best = fit.total_stat()
    err = result.errors["src.index"]
    slice_ = fit.likelihood_profile("index", bounds=2, nvalues=5)
    prof = fit.minos_profile("index", bounds=2, nvalues=5)
    assert set(prof) == {"values", "likelihood", "success"} and prof["success"].all()
    np.testing.assert_allclose(slice_["values"], fit.models.parameter("index").value
                               + err * np.array([-2, -1, 0, 1, 2]))
    assert slice_["likelihood"][2] == pytest.approx(best)
    assert prof["likelihood"][2] == pytest.approx(best, abs=1e-6)
    assert np.all(prof["likelihood"] <= slice_["likelihood"] + 1e-6)
    # the re-optimised profile rises by ~sigma**2 at +-1, +-2 sigma (Laplace errors)
    np.testing.assert_allclose(prof["likelihood"] - best, [4, 1, 0, 1, 4], atol=0.25)
    scipy_prof = fit.minos_profile("index", bounds=2, nvalues=5, backend="scipy")
    np.testing.assert_allclose(scipy_prof["likelihood"], prof["likelihood"], atol=1e-3)
    grid = fit.likelihood_profile("index", values=[2.2, 2.4])
    assert grid["values"].tolist() == [2.2, 2.4]
    assert fit.total_stat() == pytest.approx(best)  # models untouched


def test_contours(fitted):
    fit, _ = fitted
    best = fit.total_stat()
    grid = fit.likelihood_contour("index", "amplitude", nvalues=5)
    assert grid["likelihood"].shape == (5, 5)
    assert grid["likelihood"][2, 2] == pytest.approx(best)
    assert grid["likelihood"].min() == pytest.approx(best)
    contour = fit.minos_contour("index", "amplitude", numpoints=16, sigma=1.0)
    assert contour["success"] and contour["x"].shape == (16,) and contour["y"].shape == (16,)
    ci = fit.confidence("index")
    index = fit.models.parameter("index").value
    # the sigma=1 contour (rise by 1) projects onto the 1-sigma MINOS interval
    assert contour["x"].max() - index == pytest.approx(ci["errp"], rel=0.05)
    assert index - contour["x"].min() == pytest.approx(ci["errn"], rel=0.05)
    assert contour["x_info"]["errp"] == pytest.approx(ci["errp"], rel=1e-3)
    with pytest.raises(ValueError, match="two different"):
        fit.minos_contour("index", "src.index")


def test_no_recompilation(fitted, monkeypatch):
    import pytensor

    fit, _ = fitted
    like = fit.likelihood
    like.value_and_grad()
    like.npred()
    calls = []
    original = pytensor.function
    monkeypatch.setattr(pytensor, "function", lambda *a, **k: calls.append(1) or original(
        *a, **k))
    saved = {p.name: p.value for p in like.free}
    fit.optimize()
    fit.covariance()
    fit.confidence("index")
    fit.likelihood_profile("index", nvalues=3)
    fit.minos_profile("index", nvalues=3)
    fit.likelihood_contour("index", "norm", nvalues=3)
    fit.minos_contour("index", "norm", numpoints=4)
    fit.stat  # noqa: B018
    fit.set_counts(np.asarray(fit.datasets[0].counts.data) + 1)
    fit.total_stat()
    fit.set_counts(np.asarray(fit.datasets[0].counts.data) - 1)
    assert calls == []
    assert fit.likelihood is like
    for p in like.free:
        p.value = saved[p.name]


def test_covariance_reuses_the_hessian_of_the_fit(fitted, monkeypatch):
    """run() = optimize + covariance: the covariance takes the Newton polish's last
    Hessian (same point, same counts) instead of differentiating again; new counts or
    moved parameters make it compute a fresh one."""
    fit, _ = fitted
    like = fit.likelihood
    fit.optimize()
    calls = []
    original = like.hessian
    monkeypatch.setattr(like, "hessian", lambda *a, **k: calls.append(1) or original(*a, **k))
    reused = fit.covariance()
    assert calls == [] and reused.success
    fresh = original(like.current_theta())
    np.testing.assert_allclose(reused.hessian, fresh, rtol=1e-12)
    fit.set_counts(np.asarray(fit.datasets[0].counts.data))  # new counts (even if equal)
    fit.covariance()
    assert calls == [1]


def test_a_source_leaving_its_planned_region_fails_and_is_replanned():
    """A free disk is sampled only within its radius plus a margin around its start
    position (and a point source's core finely only near its start). A fit that moves
    it further reports failure, says why, and the next run() is planned anew and
    converges."""
    from skyfit.models.spatial import DiskSpatialModel

    ds = synthetic_dataset(npix=(40, 40), binsz=0.05, background_rate=0.05, name="d")
    disk = SkyModel(DiskSpatialModel(lon_0=0.0, lat_0=0.0, r_0=0.1, frame="galactic"),
                    PowerLawSpectralModel(amplitude=3e-11, index=2.0), name="disk")
    disk.spatial_model.parameters["r_0"].frozen = True
    models = Models([disk, FoVBackgroundModel("d")])
    ds.models = models
    ds.fake(random_seed=4)
    disk.spatial_model.parameters["lon_0"].value = 0.35  # start 0.35 deg off
    fit = MapFit.from_datasets([ds], models)
    first = fit.likelihood
    result = fit.run()
    assert not result.success and "moved beyond the region" in result.message
    assert "disk" in result.message
    again = fit.run()
    assert fit.likelihood is not first
    assert again.success, again.message
    assert abs(disk.spatial_model.parameters["lon_0"].value) < 0.02


def test_set_counts_changes_the_statistic_consistently():
    from skyfit.forward import Likelihood

    ds, models = toy(seed=2)
    fit = MapFit.from_datasets([ds], models)
    before = fit.total_stat()
    new = np.random.default_rng(5).poisson(ds.npred())
    fit.set_counts(new)
    np.testing.assert_array_equal(fit.datasets[0].counts.data, new)
    fresh = Likelihood([ds], models).value()
    assert fit.total_stat() == pytest.approx(fresh) and fresh != pytest.approx(before)
    with pytest.raises(ValueError, match="shape"):
        fit.set_counts(new[:, :2])
    with pytest.raises(ValueError, match=">= 0"):
        fit.set_counts(-np.ones_like(new))


def test_frozen_parameters_stay_fixed():
    ds, models = toy(seed=4)
    fit = MapFit.from_datasets([ds], models)
    first = fit.likelihood
    index = models.parameter("index")
    index.frozen, index.value = True, 2.1
    out = fit.optimize()
    assert out.success and index.value == 2.1
    assert "src.index" not in out.start and [p.name for p in fit.likelihood.free] == [
        "amplitude", "norm"]
    row = next(r for r in out.parameters if r.name == "src.index")
    assert row.frozen and row.value == 2.1
    index.frozen = False
    assert fit.likelihood is first  # the earlier structure's compiled graph is reused


def test_degenerate_hessian_is_reported():
    """Two identical sources at one position: only the sum of their amplitudes is measured."""
    ds, models = toy(seed=5)
    twin = models["src"].copy(name="twin")
    models = Models([models["src"], twin, models["toy-bkg"]])
    for name in ("src.index", "twin.index"):
        models.parameter(name).frozen = True
    models.parameter("src.amplitude").error = 0.123
    fit = MapFit.from_datasets([ds], models)
    cov = fit.covariance()
    assert not cov.success
    assert set(cov.degenerate) == {"src.amplitude", "twin.amplitude"}
    assert "src.amplitude" in cov.message and "twin.amplitude" in cov.message
    assert np.all(np.isnan(cov.matrix))
    assert models.parameter("src.amplitude").error == 0.123  # not overwritten
    result = fit.run()
    assert not result.success and "degenerate" in result.message


def test_nan_statistic_is_guarded():
    class CashLike:  # stat = t - 2 ln t: minimum at 2, NaN for t < 0 where Newton overshoots
        def value(self, theta):
            with np.errstate(invalid="ignore"):
                return float((theta - 2 * np.log(theta)).sum())

        def value_and_grad(self, theta):
            with np.errstate(invalid="ignore"):
                return self.value(theta), 1 - 2 / theta

        def hessian(self, theta):
            return np.diag(2 / theta**2)

    problem = FitProblem(CashLike(), np.array([10.0]), np.array([1.0]), (np.nan, np.nan))
    out = minuit_backend.optimize(problem)
    assert problem.n_nonfinite > 0
    assert out.success and problem.to_theta(out.x)[0] == pytest.approx(2.0, abs=1e-3)
    value, grad = problem.value_and_grad(np.array([-20.0]))  # guarded: high, pointing back
    assert np.isfinite(value) and value > 1e9 and grad[0] < 0


def test_bad_inputs(fitted):
    fit, _ = fitted
    with pytest.raises(ValueError, match="backend"):
        fit.optimize(backend="sherpa")
    with pytest.raises(ValueError, match="backend"):
        fit.covariance(backend="sherpa")
    with pytest.raises(ValueError, match="hesse"):
        fit.covariance(backend="scipy", method="hesse")
    with pytest.raises(ValueError, match="sigma"):
        fit.confidence("index", sigma=0)
    with pytest.raises(ValueError, match="minuit"):
        fit.confidence("index", backend="scipy")
    ds, models = toy(seed=6)
    models.parameter("norm").min = 2.0
    with pytest.raises(ValueError, match="outside its bounds"):
        MapFit.from_datasets([ds], models).optimize()
    other = synthetic_dataset(npix=(8, 8), name="other")
    with pytest.raises(ValueError, match="none of which is fitted"):
        MapFit.from_datasets([other], Models([FoVBackgroundModel("toy")]))
    with pytest.raises(ValueError, match="unique"):
        MapFit.from_datasets([other, other], Models([FoVBackgroundModel("other")]))


def test_classic_constructor_with_kernel_mask_and_matrix():
    from skyfit.irf import PSFKernel
    from skyfit.maps import Map, WcsGeom

    ds, models = toy(seed=7, background_rate=0.5)
    axis = ds.exposure.geom.axes[0]
    kgeom = WcsGeom.create((0, 0), binsz=0.05, npix=(15, 15), frame="galactic", axes=[axis])
    y, x = np.mgrid[-7:8, -7:8] * 0.05
    sigma = ds.psf.sigma(axis.center_in("TeV"))[:, None, None]
    kernel = PSFKernel(Map(kgeom, np.exp(-0.5 * (x**2 + y**2)[None] / sigma**2)))
    edisp = ds.edisp.kernel_at(None, axis, ds.counts.geom.axes[0])
    mask = np.ones(ds.counts.data.shape, bool)
    mask[0] = False  # lowest energy bin left out
    src = models["src"]
    src.spectral_model.parameters["index"].value = 2.0
    fit = MapFit(src, ds.counts, ds.exposure, ds.background,
                 mask=Map(ds.counts.geom, mask), psf=kernel, edisp=edisp,
                 background_model=FoVBackgroundModel("toy"))
    assert fit.datasets[0].name == "toy"
    assert np.all(fit.stat[0] == 0) and np.any(fit.stat[1] > 0)
    result = fit.run()
    assert result.success
    index = fit.models.parameter("index")
    assert abs(index.value - TRUTH["index"]) < 4 * index.error
    with pytest.raises(ValueError, match="background"):
        MapFit(src, ds.counts, ds.exposure, background_model=FoVBackgroundModel("toy"))


def test_joint_fit_shares_parameters():
    a, models = toy(seed=8, name="a")
    b = synthetic_dataset(npix=(16, 16), binsz=0.05, background_rate=0.05, name="b")
    b.models = Models([models["src"], FoVBackgroundModel("b")])
    b.fake(random_seed=9)
    joint = Models([models["src"], FoVBackgroundModel("a"), FoVBackgroundModel("b")])
    fit = MapFit.from_datasets([a, b], joint)
    stat = fit.stat
    assert set(stat) == {"a", "b"}
    assert fit.total_stat() == pytest.approx(sum(s.sum() for s in stat.values()))
    assert fit.optimize().success
    assert len(fit.likelihood.free) == 4  # index, amplitude, two norms
    # restricting the source to one dataset changes the graph: no stale statistic
    joint["src"].datasets_names = ["a"]
    fresh = MapFit.from_datasets([a, b], joint).total_stat()
    assert fit.total_stat() == pytest.approx(fresh)
    assert fit.stat["b"].sum() == pytest.approx(
        MapFit.from_datasets([b], Models([joint["b-bkg"]])).total_stat())


def test_total_stat_with_values_leaves_models_unchanged(fitted):
    fit, _ = fitted
    index = fit.models.parameter("index")
    value = index.value
    shifted = fit.total_stat({"index": value + 0.1})
    assert shifted > fit.total_stat() and index.value == value
    assert fit.total_stat(fit.models.parameters) == fit.total_stat()


def test_bayes_methods_present():
    for name, params in (("sample", ["draws", "tune", "chains", "sampler", "random_seed",
                                     "progressbar"]),
                         ("laplace", ["draws", "random_seed"])):
        signature = inspect.signature(getattr(MapFit, name))
        assert all(p in signature.parameters for p in params)


def test_fit_path_imports_no_sampler_plotting_or_slow_scipy_modules():
    code = ("import sys, skyfit, skyfit.fit; skyfit.MapFit; "
            "print(sorted(m for m in ('pymc', 'arviz', 'matplotlib', 'jax', 'dask', 'numba', "
            "'scipy.stats', 'scipy.optimize') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_progress_bars_on_request_and_silent_otherwise(fitted, capsys):
    """Long loops (re-optimised profiles, contour grids) show a bar only when asked (or on
    a terminal); the results do not depend on it."""
    fit = fitted[0]
    quiet = fit.minos_profile("index", nvalues=5)
    assert capsys.readouterr().err == ""
    shown = fit.minos_profile("index", nvalues=5, progress=True)
    err = capsys.readouterr().err
    assert "profile src.index" in err and "/5 " in err  # total shown (refresh is timed)
    np.testing.assert_allclose(shown["likelihood"], quiet["likelihood"], rtol=1e-9)
    fit.likelihood_contour("index", "amplitude", nvalues=3, progress=True)
    assert "contour index-amplitude" in capsys.readouterr().err
