"""Spectral model family: Gammapy parity, integrals, numpy/PyTensor parity, gradients.

Table-driven: ``CASES`` pairs each model with parameter values (in canonical units);
every check runs over the whole table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from scipy.integrate import quad

from skyfit.models.base import Model
from skyfit.models.spectral import (
    SPECTRAL_MODELS,
    BrokenPowerLawSpectralModel,
    ConstantSpectralModel,
    ExpCutoffPowerLawSpectralModel,
    LogParabolaSpectralModel,
    PowerLaw2SpectralModel,
    PowerLawNormSpectralModel,
    PowerLawSpectralModel,
    SmoothBrokenPowerLawSpectralModel,
    SuperExpCutoffPowerLaw4FGLDR3SpectralModel,
    integrate_log,
    spectral_model_from_tag,
)
from skyfit.models.spectral._util import expm1_minus_x_over_x2, expm1_over_x
from skyfit.models.spectral.quadrature import gauss_legendre

ALL_CLASSES = (
    PowerLawSpectralModel,
    PowerLaw2SpectralModel,
    PowerLawNormSpectralModel,
    LogParabolaSpectralModel,
    ExpCutoffPowerLawSpectralModel,
    SuperExpCutoffPowerLaw4FGLDR3SpectralModel,
    BrokenPowerLawSpectralModel,
    SmoothBrokenPowerLawSpectralModel,
    ConstantSpectralModel,
)
ANALYTIC = {
    PowerLawSpectralModel,
    PowerLaw2SpectralModel,
    PowerLawNormSpectralModel,
    BrokenPowerLawSpectralModel,
    ConstantSpectralModel,
}


@dataclass(frozen=True)
class Case:
    id: str
    cls: type
    pars: dict
    kinks: tuple[float, ...] = ()  # energies where dN/dE has a kink (for quad)
    gammapy: bool = True  # Gammapy's formula is defined at these values
    smooth: bool = True  # differentiable in every parameter at these values
    quad_rtol: float = 1e-10  # quadrature models against scipy's quad (factor-3 bins)
    wide_rtol: float = 1e-8  # the same on factor-10 bins


A = 1e-12
CASES = [
    Case("pl", PowerLawSpectralModel, dict(index=2.3, amplitude=A, reference=1.0)),
    Case("pl-index-1", PowerLawSpectralModel, dict(index=1.0, amplitude=A, reference=1.0)),
    Case("pl-index-hard", PowerLawSpectralModel, dict(index=0.7, amplitude=A, reference=3.0)),
    Case("pl2", PowerLaw2SpectralModel, dict(amplitude=A, index=2.2, emin=0.1, emax=100.0)),
    Case(
        "pl2-index-1",
        PowerLaw2SpectralModel,
        dict(amplitude=A, index=1.0, emin=0.1, emax=100.0),
        gammapy=False,  # Gammapy's formula is 0/0 there
    ),
    Case("pl-norm", PowerLawNormSpectralModel, dict(tilt=0.3, norm=1.2, reference=1.0)),
    Case("pl-norm-tilt-1", PowerLawNormSpectralModel, dict(tilt=1.0, norm=0.8, reference=2.0)),
    Case("lp", LogParabolaSpectralModel, dict(amplitude=A, reference=1.0, alpha=2.1, beta=0.3)),
    Case("lp-beta-0", LogParabolaSpectralModel,
         dict(amplitude=A, reference=10.0, alpha=2.4, beta=0.0)),
    Case("ecpl", ExpCutoffPowerLawSpectralModel,
         dict(index=1.8, amplitude=A, reference=1.0, lambda_=0.1, alpha=1.0)),
    Case("ecpl-alpha", ExpCutoffPowerLawSpectralModel,
         dict(index=1.5, amplitude=A, reference=2.0, lambda_=0.3, alpha=1.5)),
    Case("secpl", SuperExpCutoffPowerLaw4FGLDR3SpectralModel,
         dict(amplitude=A, reference=1.0, expfactor=0.6, index_1=1.7, index_2=0.67)),
    Case("secpl-index2-0", SuperExpCutoffPowerLaw4FGLDR3SpectralModel,
         dict(amplitude=A, reference=1.0, expfactor=0.4, index_1=1.9, index_2=0.0)),
    Case("bpl", BrokenPowerLawSpectralModel,
         dict(index1=1.5, index2=2.8, amplitude=A, ebreak=2.0), kinks=(2.0,)),
    Case("bpl-equal", BrokenPowerLawSpectralModel,
         dict(index1=2.0, index2=2.0, amplitude=A, ebreak=1.0), kinks=(1.0,)),
    Case("sbpl", SmoothBrokenPowerLawSpectralModel,
         dict(index1=1.5, index2=2.8, amplitude=A, ebreak=2.0, reference=1.0, beta=1.0)),
    Case("sbpl-softening", SmoothBrokenPowerLawSpectralModel,
         dict(index1=2.8, index2=1.5, amplitude=A, ebreak=3.0, reference=1.0, beta=0.5)),
    Case("sbpl-sharp", SmoothBrokenPowerLawSpectralModel,  # hardest for the quadrature
         dict(index1=1.5, index2=3.0, amplitude=A, ebreak=2.0, reference=1.0, beta=0.2),
         quad_rtol=1e-9, wide_rtol=2e-5),
    Case(
        "sbpl-equal",
        SmoothBrokenPowerLawSpectralModel,
        dict(index1=2.0, index2=2.0, amplitude=A, ebreak=1.0, reference=1.0, beta=1.0),
        smooth=False,  # Gammapy's break factor jumps at index1 == index2
    ),
    Case("const", ConstantSpectralModel, dict(const=A)),
]
IDS = [case.id for case in CASES]

ENERGY = np.concatenate([np.geomspace(0.01, 100.0, 41), [1.0, 2.0, 3.0, 10.0]])
# factor <= 3 wide; several straddle or touch the breaks at 1, 2 and 3 TeV
BINS = np.array([
    (0.03, 0.09), (0.3, 0.9), (0.7, 2.0), (0.9, 2.7), (1.0, 3.0), (1.5, 2.5),
    (2.0, 6.0), (1.0, 1.0), (5.0, 15.0), (10.0, 30.0),
])
E_MIN, E_MAX = BINS[:, 0], BINS[:, 1]


def quad_integral(case: Case, e_min: float, e_max: float) -> float:
    if e_min == e_max:
        return 0.0
    points = [k for k in case.kinks if e_min < k < e_max] or None
    value, _ = quad(
        lambda e: float(case.cls.evaluate(e, **case.pars)),
        e_min, e_max, points=points, epsabs=0.0, epsrel=1e-13, limit=200,
    )
    return value


def symbolic_inputs(case: Case):
    import pytensor.tensor as pt

    return {name: pt.dscalar(name) for name in case.pars}


# --- classes and registry --------------------------------------------------------------

@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
def test_class_contract(cls):
    assert issubclass(cls, Model)
    assert cls.tag == cls.__name__
    model = cls()
    assert model.parameters.names == [p.name for p in cls.default_parameters]
    assert set(model.canonical_values()) == set(model.parameters.names)
    for name in (cls.tag, *cls.aliases):
        assert SPECTRAL_MODELS[name] is cls
        assert spectral_model_from_tag(name) is cls


def test_every_class_is_in_the_table():
    assert {case.cls for case in CASES} == set(ALL_CLASSES)
    for case in CASES:
        assert list(case.pars) == [p.name for p in case.cls.default_parameters]


def test_unknown_tag_message():
    with pytest.raises(ValueError, match="'NoSuchSpectralModel'") as info:
        spectral_model_from_tag("NoSuchSpectralModel")
    assert "PowerLawSpectralModel" in str(info.value)
    assert "LogParabolaSpectralModel" in str(info.value)


@pytest.mark.gammapy
@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
def test_defaults_match_gammapy(cls):
    pytest.importorskip("gammapy")
    import astropy.units as u
    from gammapy.modeling.models import SPECTRAL_MODEL_REGISTRY

    reference = SPECTRAL_MODEL_REGISTRY.get_cls(cls.tag)
    for alias in cls.aliases:  # Gammapy's short tag is one of our aliases
        if alias in reference.tag:
            break
    else:
        pytest.fail(f"no alias of {cls.tag} among Gammapy's tags {reference.tag}")
    ours, theirs = cls().parameters, reference().parameters
    assert ours.names == theirs.names
    for mine, gp in zip(ours, theirs, strict=True):
        assert mine.value == gp.value, mine.name
        assert u.Unit(mine.unit) == gp.unit, mine.name
        assert mine.frozen == gp.frozen, mine.name
        assert mine.meta.get("interp", "lin") == gp.interp, mine.name


# --- values ----------------------------------------------------------------------------

@pytest.mark.gammapy
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_evaluate_matches_gammapy(case):
    pytest.importorskip("gammapy")
    from gammapy.modeling.models import SPECTRAL_MODEL_REGISTRY

    if not case.gammapy:
        pytest.skip("Gammapy's formula is undefined at these parameter values")
    reference = SPECTRAL_MODEL_REGISTRY.get_cls(case.cls.tag)
    with np.errstate(divide="ignore", invalid="ignore"):  # Gammapy's unused branches
        pars = {name: np.float64(value) for name, value in case.pars.items()}
        expected = reference.evaluate(ENERGY.copy(), **pars)
    actual = case.cls.evaluate(ENERGY, **case.pars)
    assert actual.shape == ENERGY.shape
    np.testing.assert_allclose(actual, expected, rtol=1e-10, atol=0)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_integral_matches_quad(case):
    expected = np.array([quad_integral(case, lo, hi) for lo, hi in BINS])
    actual = case.cls.integral(E_MIN, E_MAX, **case.pars)
    assert actual.shape == E_MIN.shape
    rtol = 1e-12 if case.cls in ANALYTIC else case.quad_rtol
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=0)


@pytest.mark.parametrize("case", [c for c in CASES if c.cls not in ANALYTIC],
                         ids=lambda c: c.id)
def test_quadrature_on_wide_bins(case):
    """Bins a factor 10 wide: the default 12 nodes still give 1e-8 (2e-5 for a sharp break)."""
    e_min = np.array([0.01, 0.1, 0.3, 1.0])
    expected = np.array([quad_integral(case, lo, 10 * lo) for lo in e_min])
    actual = case.cls.integral(e_min, 10 * e_min, **case.pars)
    np.testing.assert_allclose(actual, expected, rtol=case.wide_rtol, atol=0)


@pytest.mark.parametrize("index", [1 - 0.2, 1 - 1e-3, 1 - 1e-9, 1.0, 1 + 1e-9, 1 + 0.05, 1.3])
def test_powerlaw_integral_through_index_one(index):
    pars = dict(index=index, amplitude=1.0, reference=1.5)
    case = Case("pl", PowerLawSpectralModel, pars)
    e_min = np.array([0.1, 0.9, 1.0, 3.0])
    # a = (1 - index) ln(e_max / e_min) lies on both sides of the series radius 0.1
    e_max = np.array([0.2, 1.1, 2.2, 30.0])
    expected = [quad_integral(case, lo, hi) for lo, hi in zip(e_min, e_max, strict=True)]
    np.testing.assert_allclose(
        PowerLawSpectralModel.integral(e_min, e_max, **pars), expected, rtol=1e-13
    )


@pytest.mark.parametrize("cls", [PowerLawSpectralModel, PowerLaw2SpectralModel,
                                 PowerLawNormSpectralModel], ids=lambda c: c.__name__)
@pytest.mark.gammapy
def test_analytic_integral_matches_gammapy(cls):
    pytest.importorskip("gammapy")
    import astropy.units as u
    from gammapy.modeling.models import SPECTRAL_MODEL_REGISTRY

    reference = SPECTRAL_MODEL_REGISTRY.get_cls(cls.tag)
    pars = next(case.pars for case in CASES if case.cls is cls)
    quantities = {name: u.Quantity(value) for name, value in pars.items()}  # Gammapy wants .value
    expected = u.Quantity(reference.evaluate_integral(E_MIN, E_MAX, **quantities)).value
    np.testing.assert_allclose(cls.integral(E_MIN, E_MAX, **pars), expected, rtol=1e-12)


def test_smooth_helpers_are_exact_near_zero():
    x = np.array([-0.5, -0.1000001, -0.0999999, -1e-6, 0.0, 1e-6, 0.0999999, 0.1000001, 0.5])
    with np.errstate(invalid="ignore"):
        direct1 = np.expm1(x) / x
        direct2 = (np.expm1(x) - x) / x**2
    direct1[x == 0], direct2[x == 0] = 1.0, 0.5
    far = np.abs(x) > 1e-3  # there the direct formula is accurate to ~1e-12
    np.testing.assert_allclose(expm1_over_x(x)[far], direct1[far], rtol=1e-14)
    np.testing.assert_allclose(expm1_minus_x_over_x2(x)[far], direct2[far], rtol=1e-12)
    np.testing.assert_allclose(expm1_over_x(x)[~far], 1 + x[~far] / 2, rtol=1e-12)


# --- quadrature ------------------------------------------------------------------------

def test_integrate_log_broadcasts_over_bins_and_parameters():
    def func(energy, k, index):
        return k * energy**-index

    e_min = np.array([[1.0], [2.0], [5.0]])
    index = np.array([1.5, 2.0, 2.5, 3.0])
    out = integrate_log(func, e_min, 2 * e_min, {"k": 2.0, "index": index})
    assert out.shape == (3, 4)
    expected = 2.0 * PowerLawSpectralModel.integral(e_min, 2 * e_min, index, 1.0, 1.0)
    np.testing.assert_allclose(out, expected, rtol=1e-13)


def test_gauss_legendre_rejects_zero_nodes():
    with pytest.raises(ValueError, match="at least 1"):
        gauss_legendre(0)


@pytest.mark.parametrize("n", [4, 8, 12])
def test_gauss_legendre_is_exact_for_polynomials_in_log_energy(n):
    def func(energy, c):  # E f(E) = (ln E)^(2n-1) + c, a polynomial of degree 2n-1
        return (np.log(energy) ** (2 * n - 1) + c) / energy

    e_min, e_max = 1.0, np.e
    expected = 1.0 / (2 * n) + 0.5  # integral of s^(2n-1) + c over [0, 1]
    out = integrate_log(func, e_min, e_max, {"c": 0.5}, n=n)
    np.testing.assert_allclose(out, expected, rtol=1e-13)


# --- numpy and PyTensor ----------------------------------------------------------------

WEIGHTS = np.linspace(1.0, 2.0, len(BINS))
_COMPILED: dict[str, object] = {}


def compiled(case: Case):
    """One compiled PyTensor function per case (compiling dominates the run time).

    Inputs: energy, e_min, e_max (vectors), then the parameters (scalars). Outputs:
    evaluate(energy), integral(e_min, e_max), integral(E_MIN, E_MAX) with the numpy edges
    as constants, then d/dp of sum(WEIGHTS * integral(E_MIN, E_MAX)) for every parameter.
    """
    if case.id not in _COMPILED:
        pytensor = pytest.importorskip("pytensor")
        import pytensor.tensor as pt

        pars = symbolic_inputs(case)
        energy, e_min, e_max = pt.dvector("energy"), pt.dvector("e_min"), pt.dvector("e_max")
        integral_const = case.cls.integral(E_MIN, E_MAX, **pars)
        outputs = [
            case.cls.evaluate(energy, **pars),
            case.cls.integral(e_min, e_max, **pars),
            integral_const,
            *pytensor.grad(pt.sum(WEIGHTS * integral_const), list(pars.values())),
        ]
        _COMPILED[case.id] = pytensor.function([energy, e_min, e_max, *pars.values()], outputs)
    return _COMPILED[case.id]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_numpy_and_pytensor_agree(case):
    values, integral, integral_const, *_ = compiled(case)(
        ENERGY, E_MIN, E_MAX, *case.pars.values()
    )
    np.testing.assert_allclose(values, case.cls.evaluate(ENERGY, **case.pars), rtol=1e-13)
    expected = case.cls.integral(E_MIN, E_MAX, **case.pars)
    np.testing.assert_allclose(integral, expected, rtol=1e-13)
    np.testing.assert_allclose(integral_const, expected, rtol=1e-13)


# --- gradients -------------------------------------------------------------------------

def _weighted_integral(case: Case, pars: dict) -> float:
    return float(np.sum(WEIGHTS * case.cls.integral(E_MIN, E_MAX, **pars)))


@pytest.mark.parametrize("case", [c for c in CASES if c.smooth], ids=lambda c: c.id)
def test_integral_gradient_matches_finite_difference(case):
    _, _, _, *autodiff = compiled(case)(ENERGY, E_MIN, E_MAX, *case.pars.values())
    autodiff = [float(g) for g in autodiff]
    value = _weighted_integral(case, case.pars)
    assert np.isfinite(autodiff).all()
    for (name, p), grad in zip(case.pars.items(), autodiff, strict=True):
        scale = abs(p) if p != 0 else 1.0
        step = 1e-6 * scale
        up = _weighted_integral(case, {**case.pars, name: p + step})
        down = _weighted_integral(case, {**case.pars, name: p - step})
        fd = (up - down) / (2 * step)
        # compare d ln(value) / d ln(p) (or d/dp when p == 0)
        got, want = grad * scale / value, fd * scale / value
        assert abs(got - want) <= 1e-4 * abs(want) + 1e-9, (name, got, want)


@pytest.mark.parametrize("edge", ["energy_min", "energy_max"])
def test_broken_powerlaw_gradient_with_bin_edge_at_break(edge):
    pytensor = pytest.importorskip("pytensor")

    ebreak = pytensor.tensor.dscalar("ebreak")
    e_min, e_max = (2.0, 6.0) if edge == "energy_min" else (0.7, 2.0)
    pars = dict(index1=1.5, index2=2.8, amplitude=1.0)
    integral = BrokenPowerLawSpectralModel.integral(e_min, e_max, ebreak=ebreak, **pars)
    grad = pytensor.function([ebreak], pytensor.grad(integral, ebreak), mode="FAST_COMPILE")
    step = 1e-6
    values = [
        BrokenPowerLawSpectralModel.integral(e_min, e_max, ebreak=2.0 + s, **pars)
        for s in (step, -step)
    ]
    fd = (values[0] - values[1]) / (2 * step)
    np.testing.assert_allclose(grad(2.0), fd, rtol=1e-6)
