"""RadialCounts: a free point or round source's counts as one op, against the same
prediction built from PyTensor operations (its ``reference``), on every backend, with
gradients and Hessians."""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from skyfit.datasets.synthetic import synthetic_dataset
from skyfit.forward.npred import DatasetPredictor
from skyfit.forward.radialcounts import RadialCounts, SubPixels
from skyfit.models import Models, SkyModel
from skyfit.models.spatial import DiskSpatialModel, GaussianSpatialModel, PointSpatialModel
from skyfit.models.spectral import PowerLawSpectralModel

# (spatial model, dataset options): points with and without dispersion, round sources
# of frozen size (their profile and exposure per pixel)
CASES = {
    "point": (lambda: PointSpatialModel(lon_0=0.11, lat_0=-0.07, frame="galactic"), {}),
    "point-no-edisp": (lambda: PointSpatialModel(lon_0=0.11, lat_0=-0.07, frame="galactic"),
                       {"energy_edges": np.geomspace(0.1, 10, 5),
                        "energy_true_edges": np.geomspace(0.1, 10, 5)}),
    "point-icrs": (lambda: PointSpatialModel(lon_0=266.3, lat_0=-28.9, frame="icrs"), {}),
    "disk": (lambda: DiskSpatialModel(lon_0=-0.05, lat_0=0.08, r_0=0.3, frame="galactic"), {}),
    "gaussian": (lambda: GaussianSpatialModel(lon_0=0.02, lat_0=0.1, sigma=0.15,
                                              frame="galactic"), {}),
}


def _plan(case):
    make, options = CASES[case]
    spatial = make()
    for par in spatial.parameters:
        par.frozen = par.name not in ("lon_0", "lat_0")
    ds = synthetic_dataset(npix=(30, 24), binsz=0.05, name="toy", **options)
    if "energy_true_edges" in options:
        ds.edisp = None
    src = SkyModel(spatial, PowerLawSpectralModel(), name="src")
    pred = DatasetPredictor(ds, Models([src]), is_free=lambda par: not par.frozen)
    (plan,) = pred.sources
    assert plan.spatial.is_point or plan.profile is not None
    return plan, spatial


def _graphs(case):
    plan, spatial = _plan(case)
    lon, lat = pt.dscalar("lon"), pt.dscalar("lat")
    flux = pt.dvector("flux")

    def value_of(par):
        return {"lon_0": lon, "lat_0": lat}.get(par.name, par.value)

    op_mu = plan._radial_counts(value_of, flux)
    assert isinstance(op_mu.owner.op, RadialCounts)
    ref_mu = op_mu.owner.op.reference(lon, lat, flux)
    weights = np.random.default_rng(1).random((op_mu.owner.inputs[8].data.shape[1],
                                               *plan.cut.shape))
    n_t = plan.pred.t_axis.nbin
    pars = spatial.canonical_values()
    point = [pars["lon_0"] + 0.013, pars["lat_0"] - 0.008,
             np.linspace(1.0, 2.0, n_t) * 1e-9]
    return (lon, lat, flux), op_mu, ref_mu, weights, point


@pytest.mark.parametrize("case", list(CASES))
def test_op_matches_reference_value_and_gradient(case):
    inputs, op_mu, ref_mu, weights, point = _graphs(case)
    outs = {}
    for name, mu in (("op", op_mu), ("ref", ref_mu)):
        stat = (mu * weights).sum()
        f = pytensor.function(list(inputs), [mu, *pytensor.grad(stat, list(inputs))],
                              mode="CVM")
        outs[name] = f(*point)
    for got, want in zip(outs["op"], outs["ref"], strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-12 * np.abs(want).max())


@pytest.mark.parametrize("mode", ["FAST_COMPILE", "NUMBA", "JAX"])
def test_backends_match_c(mode):
    if mode == "NUMBA":
        from skyfit.forward.numba_ops import register_numba

        register_numba()
    if mode == "JAX":
        pytest.importorskip("jax")
        import skyfit.forward.jax_ops  # noqa: F401
    inputs, op_mu, _, weights, point = _graphs("disk")
    stat = (op_mu * weights).sum()
    outs = [stat, *pytensor.grad(stat, list(inputs))]
    want = pytensor.function(list(inputs), outs, mode="CVM")(*point)
    got = pytensor.function(list(inputs), outs, mode=mode)(*point)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-10)


def test_gradient_matches_finite_differences():
    inputs, op_mu, _, weights, point = _graphs("point")
    stat = (op_mu * weights).sum()
    f = pytensor.function(list(inputs), stat, mode="CVM")
    g = pytensor.function(list(inputs), pytensor.grad(stat, list(inputs)), mode="CVM")
    grads = g(*point)
    for i, step in ((0, 1e-6), (1, 1e-6)):
        up, down = list(point), list(point)
        up[i], down[i] = point[i] + step, point[i] - step
        fd = (f(*up) - f(*down)) / (2 * step)
        assert float(grads[i]) == pytest.approx(fd, rel=1e-6)
    flux = point[2]
    fd = [(f(point[0], point[1], flux + e) - f(point[0], point[1], flux - e)) / 2e-12
          for e in np.eye(flux.size) * 1e-12]
    np.testing.assert_allclose(grads[2], fd, rtol=1e-6)


def test_hessian_through_reference():
    inputs, op_mu, ref_mu, weights, point = _graphs("point")
    hess = {}
    for name, mu in (("op", op_mu), ("ref", ref_mu)):
        stat = (mu * weights).sum() + (mu**2 * weights).sum() * 1e9  # not linear in flux
        grads = pytensor.grad(stat, list(inputs))
        rows = [pytensor.grad(grads[0], list(inputs)), pytensor.grad(grads[1], list(inputs))]
        f = pytensor.function(list(inputs), [r for row in rows for r in row], mode="CVM")
        hess[name] = f(*point)
    for got, want in zip(hess["op"], hess["ref"], strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12 * np.abs(want).max())


def test_no_reference_no_second_derivative():
    inputs, op_mu, _, weights, _ = _graphs("point")
    op_mu.owner.op.reference = None  # this graph's own op
    grads = pytensor.grad((op_mu * weights).sum(), list(inputs))
    with pytest.raises(NotImplementedError, match="second derivatives"):
        pytensor.grad(grads[0], inputs[0])


def test_subpixels_keep_weight_sorted_by_pixel():
    plan, _ = _plan("point")
    boxes = [(plan.cut, (0, 0))]
    if plan.core is not None:
        core, (sy, sx) = plan.core
        boxes.append((core, (sy.start, sx.start)))
    sub = SubPixels(boxes, plan.cut.shape)
    total = plan.cut.solid_angle.sum() + (plan.core[0].solid_angle.sum()
                                          if plan.core is not None else 0.0)
    assert sub.w.sum() == pytest.approx(total, rel=1e-12)
    assert np.all(sub.w > 0) and np.all(np.diff(sub.pix) >= 0)
    np.testing.assert_allclose(np.linalg.norm(sub.xyz, axis=0), 1.0, rtol=1e-12)


def test_bad_shapes_are_refused():
    op = RadialCounts(2, 2, 0.1, 10)
    table = np.zeros((11, 4, 1))
    with pytest.raises(ValueError, match="inconsistent input shapes"):
        f = pytensor.function([], op(0.0, 0.0, np.ones(1), np.ones((3, 4)), np.ones(4),
                                     np.arange(4), table, np.ones((1, 3)), np.ones((1, 1))),
                              mode="CVM")
        f()
