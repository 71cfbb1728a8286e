"""Priors: logpdf against scipy.stats, numpy vs PyTensor, YAML entries, Gammapy's stat."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats as st

from skyfit.models.parameter import Parameter
from skyfit.models.priors import (
    PRIORS,
    GaussianPrior,
    GeneralizedGaussianPrior,
    HalfNormalPrior,
    LogNormalPrior,
    LogUniformPrior,
    MultivariateGaussianPrior,
    UniformPrior,
    prior_from_dict,
)

X = np.array([-1.5, -0.2, 1e-3, 0.3, 1.0, 2.5, 7.0])

CASES = [
    (GaussianPrior, {"mu": 0.4, "sigma": 1.3}, st.norm(0.4, 1.3)),
    (UniformPrior, {"min": -0.5, "max": 2.0}, st.uniform(-0.5, 2.5)),
    (LogUniformPrior, {"min": 1e-2, "max": 5.0}, st.loguniform(1e-2, 5.0)),
    (LogNormalPrior, {"mu": 0.2, "sigma": 0.7}, st.lognorm(s=0.7, scale=math.exp(0.2))),
    (HalfNormalPrior, {"sigma": 1.7}, st.halfnorm(scale=1.7)),
    (
        GeneralizedGaussianPrior,
        {"mu": 0.1, "sigma": 0.8, "eta": 0.7},
        st.gennorm(beta=1 / 0.7, loc=0.1, scale=0.8 * math.sqrt(2)),
    ),
]
IDS = [c[0].__name__ for c in CASES]


@pytest.mark.parametrize(("cls", "pars", "ref"), CASES, ids=IDS)
def test_logpdf_matches_scipy(cls, pars, ref):
    got = np.array([float(cls.logpdf(x, **pars)) for x in X])
    want = ref.logpdf(X)
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
    finite = np.isfinite(want)
    np.testing.assert_allclose(got[finite], want[finite], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(cls.logpdf(X, **pars)[finite], want[finite], rtol=1e-12)


@pytest.mark.parametrize(("cls", "pars", "ref"), CASES, ids=IDS)
def test_numpy_and_pytensor_agree(cls, pars, ref):
    import pytensor
    import pytensor.tensor as pt

    x = pt.dvector("x")
    f = pytensor.function([x], cls.logpdf(x, **pars))
    np.testing.assert_allclose(f(X), cls.logpdf(X, **pars), rtol=1e-12, atol=1e-12)
    # gradient exists and is finite inside the support
    g = pytensor.function([x], pytensor.grad(pt.sum(cls.logpdf(x, **pars)), x))
    inside = np.isfinite(ref.logpdf(X)) & (X != pars.get("mu", np.nan))
    assert np.all(np.isfinite(g(X)[inside]))


def test_stat_is_minus_two_weight_logpdf():
    prior = GaussianPrior(mu=1.0, sigma=0.5, weight=3)
    assert prior.stat(1.2) == pytest.approx(-6 * st.norm(1.0, 0.5).logpdf(1.2))
    assert UniformPrior(min=0, max=1).stat(2.0) == math.inf


def test_invalid_values():
    with pytest.raises(ValueError, match="sigma"):
        GaussianPrior(sigma=0)
    with pytest.raises(ValueError, match="max"):
        UniformPrior(min=2, max=1)
    with pytest.raises(ValueError, match="min"):
        LogUniformPrior(min=0, max=1)
    with pytest.raises(TypeError, match="no parameter"):
        GaussianPrior(mean=1)


def test_multivariate_matches_scipy_and_pytensor():
    import pytensor
    import pytensor.tensor as pt

    mean = np.array([2.0, -0.1, 1.3])
    cov = np.array([[0.04, 0.01, 0.0], [0.01, 0.09, 0.02], [0.0, 0.02, 0.25]])
    prior = MultivariateGaussianPrior(["a", "b", "c"], mean, cov, weight=2)
    x = np.array([2.1, 0.05, 1.0])
    want = st.multivariate_normal(mean, cov).logpdf(x)
    assert prior.logpdf(x, mean, cov) == pytest.approx(want, rel=1e-12)
    assert prior.stat(list(x)) == pytest.approx(-4 * want, rel=1e-12)
    v = pt.dvector("v")
    f = pytensor.function([v], prior.stat(v))
    assert f(x) == pytest.approx(-4 * want, rel=1e-12)
    a, b, c = pt.dscalars("a", "b", "c")
    f3 = pytensor.function([a, b, c], prior.logpdf([a, b, c], mean, cov))
    assert f3(*x) == pytest.approx(want, rel=1e-12)
    with pytest.raises(ValueError, match="positive definite"):
        MultivariateGaussianPrior(["a", "b"], [0, 0], [[1, 2], [2, 1]])
    with pytest.raises(ValueError, match="shape"):
        MultivariateGaussianPrior(["a", "b"], [0, 0, 0], np.eye(2))


def test_yaml_entries_round_trip():
    entry = {
        "type": "UniformPrior",
        "parameters": [
            {"name": "min", "value": 1.0, "unit": ""},
            {"name": "max", "value": 4.0, "unit": ""},
        ],
        "weight": 1,
    }
    prior = prior_from_dict(entry)
    assert isinstance(prior, UniformPrior)
    assert prior.min == 1.0 and prior.max == 4.0
    assert prior.to_dict() == entry
    # missing prior parameters take the defaults, as in Gammapy
    assert prior_from_dict({"type": "GaussianPrior", "parameters": [], "weight": 2}).sigma == 1
    mv = MultivariateGaussianPrior(["x.a", "x.b"], [1, 2], [[1, 0], [0, 4]], weight=0.5)
    assert prior_from_dict(mv.to_dict()) == mv
    assert set(PRIORS) >= {"GaussianPrior", "UniformPrior", "LogUniformPrior"}


def test_yaml_errors():
    with pytest.raises(ValueError, match="unknown prior type 'CauchyPrior'"):
        prior_from_dict({"type": "CauchyPrior", "parameters": []})
    with pytest.raises(ValueError, match="unknown prior parameter 'mean'"):
        prior_from_dict({"type": "GaussianPrior", "parameters": [{"name": "mean", "value": 1}]})
    with pytest.raises(ValueError, match="lacks"):
        prior_from_dict({"type": "MultivariateGaussianPrior", "names": ["a"]})


def test_parameter_prior_attachment():
    par = Parameter("alpha", 2.0, prior=GaussianPrior(mu=2.0, sigma=0.1))
    assert par.prior.stat(par.value) == pytest.approx(-2 * st.norm(2, 0.1).logpdf(2.0))
    from_entry = Parameter(
        "alpha",
        2.0,
        prior={"type": "GaussianPrior", "weight": 1, "parameters": [{"name": "mu", "value": 2}]},
    )
    assert isinstance(from_entry.prior, GaussianPrior)


@pytest.mark.gammapy
@pytest.mark.parametrize(
    ("tag", "pars", "points"),
    [
        ("GaussianPrior", {"mu": 2.0, "sigma": 0.3}, [1.5, 2.0, 2.7]),
        ("UniformPrior", {"min": 1.0, "max": 4.0}, [0.5, 1.0, 2.2, 4.5]),
        ("LogUniformPrior", {"min": 1e-13, "max": 1e-8}, [1e-14, 1e-12, 5e-9]),
        ("GeneralizedGaussianPrior", {"mu": 0.0, "sigma": 1.0, "eta": 0.8}, [-1.0, 0.3]),
    ],
)
def test_stat_matches_gammapy(tag, pars, points):
    gp_models = pytest.importorskip("gammapy.modeling.models")
    import astropy.units as u

    gp_prior = getattr(gp_models, tag)(weight=2, **pars)
    prior = PRIORS[tag](weight=2, **pars)
    for x in points:
        want = float(gp_prior(u.Quantity(x)))
        got = float(prior.stat(x))
        if math.isinf(want):
            assert got == want
        else:
            assert got == pytest.approx(want, rel=1e-12)
    # and Gammapy's YAML entry reads as ours
    assert prior_from_dict(gp_prior.to_dict()["prior"]) == prior
