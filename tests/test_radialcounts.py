"""RadialCounts: a free point or round source's counts as one op, against the same
prediction built from PyTensor operations (its ``reference``), on every backend, with
gradients and Hessians."""

from __future__ import annotations

import os

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.graph.traversal import io_toposort

from skyfit.datasets.synthetic import synthetic_dataset
from skyfit.forward import radialcounts_c
from skyfit.forward.npred import DatasetPredictor
from skyfit.forward.radialcounts import RadialCounts, RadialCountsGrad, SubPixels
from skyfit.forward.radialfused import FUSE_TAG, Contract, RadialCountsJac
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
    "point-7-planes": (lambda: PointSpatialModel(lon_0=0.11, lat_0=-0.07, frame="galactic"),
                       {"energy_edges": np.geomspace(0.1, 10, 8),
                        "energy_true_edges": np.geomspace(0.1, 10, 8)}),
    # a dispersion that rebins 7 true-energy bins into 6, as the Fermi-LAT datasets' do
    # (each reconstructed bin takes two; most of the matrix is zero)
    "point-rebinned": (lambda: PointSpatialModel(lon_0=0.11, lat_0=-0.07, frame="galactic"),
                       {"energy_edges": np.geomspace(0.1, 10, 7),
                        "energy_true_edges": np.geomspace(0.1, 10, 8), "rebin": True}),
    "disk": (lambda: DiskSpatialModel(lon_0=-0.05, lat_0=0.08, r_0=0.3, frame="galactic"), {}),
    "gaussian": (lambda: GaussianSpatialModel(lon_0=0.02, lat_0=0.1, sigma=0.15,
                                              frame="galactic"), {}),
}


def _plan(case):
    make, options = CASES[case]
    options = dict(options)
    rebin = options.pop("rebin", False)
    spatial = make()
    for par in spatial.parameters:
        par.frozen = par.name not in ("lon_0", "lat_0")
    ds = synthetic_dataset(npix=(30, 24), binsz=0.05, name="toy", **options)
    if "energy_true_edges" in options and not rebin:
        ds.edisp = None
    src = SkyModel(spatial, PowerLawSpectralModel(), name="src")
    pred = DatasetPredictor(ds, Models([src]), is_free=lambda par: not par.frozen)
    (plan,) = pred.sources
    assert plan.spatial.is_point or plan.profile is not None
    if rebin:  # true-energy bin t into reconstructed bins t - 1 and t
        n_t, n_e = plan.edisp.shape
        plan.edisp = 0.6 * np.eye(n_t, n_e) + 0.4 * np.eye(n_t, n_e, -1)
    return plan, spatial


def _graphs(case, masked=True):
    """The op's ``(total, at)`` and its reference's, on a fit mask that leaves out a
    corner of the cutout in the lowest energy bin (``masked``) or none, at 40 random
    bins; ``stat``: a linear function of both, as the Cash statistic uses them."""
    plan, spatial = _plan(case)
    lon, lat = pt.dscalar("lon"), pt.dscalar("lat")
    flux = pt.dvector("flux")
    bins = pt.lvector("bins")

    def value_of(par):
        return {"lon_0": lon, "lat_0": lat}.get(par.name, par.value)

    n_e = plan.pred.e_axis.nbin
    weight = None
    if masked:
        weight = np.ones((n_e, *plan.cut.shape))
        weight[0, :5, :7] = 0.0
    op_total, op_at = plan._radial_counts(value_of, flux, weight, bins)
    assert isinstance(op_total.owner.op, RadialCounts)
    ref_total, ref_at = op_total.owner.op.reference(lon, lat, flux, bins)
    rng = np.random.default_rng(1)
    npix = plan.cut.shape[0] * plan.cut.shape[1]
    where = rng.choice(n_e * npix, 40, replace=False)
    where = where[np.argsort(where % npix, kind="stable")]  # sorted by pixel
    g_at = rng.random(40)
    pars = spatial.canonical_values()
    point = [pars["lon_0"] + 0.013, pars["lat_0"] - 0.008,
             np.linspace(1.0, 2.0, plan.pred.t_axis.nbin) * 1e-9, where]

    def stat(total, at):
        return 0.7 * total + (at * g_at).sum()

    return (lon, lat, flux, bins), (op_total, op_at), (ref_total, ref_at), stat, point


@pytest.mark.parametrize("masked", [True, False])
@pytest.mark.parametrize("case", list(CASES))
def test_op_matches_reference_value_and_gradient(case, masked):
    inputs, op_out, ref_out, stat, point = _graphs(case, masked)
    outs = {}
    for name, (total, at) in (("op", op_out), ("ref", ref_out)):
        f = pytensor.function(list(inputs), [total, at, *pytensor.grad(
            stat(total, at), list(inputs[:3]))], mode="CVM")
        outs[name] = f(*point)
    for got, want in zip(outs["op"], outs["ref"], strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-12 * np.abs(want).max())


FUSED = [("CVM", case, masked) for case in CASES for masked in (True, False)] + [
    ("FAST_COMPILE", case, True) for case in ("point-7-planes", "point-rebinned", "disk")]


@pytest.mark.parametrize(("linker", "case", "masked"), FUSED)
def test_fused_value_and_gradient(linker, case, masked):
    """With the rewrite, one RadialCountsJac node gives the value and the gradient of
    the pair RadialCounts, RadialCountsGrad, in C and numpy (the 7-plane case: vectors
    of four planes and a tail of three)."""
    from pytensor.compile.mode import get_mode
    inputs, (total, at), _, stat, point = _graphs(case, masked)
    outs = [total, at, *pytensor.grad(stat(total, at), list(inputs[:3]))]
    want = pytensor.function(list(inputs), outs, mode="CVM")(*point)
    fused = pytensor.function(list(inputs), outs, mode=get_mode(linker).including(FUSE_TAG))
    ops = {type(node.op) for node in fused.maker.fgraph.apply_nodes}
    assert RadialCountsJac in ops and not ops & {RadialCounts, RadialCountsGrad}
    for got, w in zip(fused(*point), want, strict=True):
        np.testing.assert_allclose(got, w, rtol=1e-11, atol=1e-13 * np.abs(w).max())


@pytest.mark.parametrize("mode", ["CVM", "FAST_COMPILE"])
def test_a_nan_position_gives_nan_counts(mode):
    """A NaN position (an optimiser's failed step) gives NaN counts and derivatives, in
    the C loops (whose sub-pixels' intervals are computed apart from them) and in numpy,
    not numbers that look right."""
    from pytensor.compile.mode import get_mode
    inputs, (total, at), _, stat, point = _graphs("point")
    outs = [total, at, *pytensor.grad(stat(total, at), list(inputs[:3]))]
    for fused in (False, True):
        chosen = get_mode(mode).including(FUSE_TAG) if fused else get_mode(mode)
        f = pytensor.function(list(inputs), outs, mode=chosen)
        got = f(np.nan, *point[1:])
        assert all(np.isnan(g).all() for g in got), (fused, got)


@pytest.mark.parametrize("op", [RadialCounts, RadialCountsJac])
@pytest.mark.parametrize("chunks", [1, 3, 50])
def test_runs_of_pixels(op, chunks):
    """The C loops of the value and the fused op split into runs of whole pixels (one
    per OpenMP thread; in turn without OpenMP), some empty with 50: the numbers of the
    numpy code."""
    inputs, (total, _), _, _, point = _graphs("disk")
    node = total.owner
    outs = op(**{**node.op._props_dict(), "chunks": chunks})(*node.inputs)
    got = pytensor.function(list(inputs), outs, mode="CVM")(*point)
    want = pytensor.function(list(inputs), outs, mode="FAST_COMPILE")(*point)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-11, atol=1e-13 * np.abs(w).max())


def test_loops_compile_without_the_vector_target(monkeypatch):
    """On CPUs without AVX2/FMA (or not x86) the loops' function has no ``target``
    attribute: the same numbers from the compiler's default instruction set."""
    monkeypatch.setattr(radialcounts_c, "vector_target", lambda: "")
    inputs, (total, at), _, stat, point = _graphs("point-7-planes")
    outs = [total, at, *pytensor.grad(stat(total, at), list(inputs[:3]))]
    got = pytensor.function(list(inputs), outs, mode="CVM")(*point)
    want = pytensor.function(list(inputs), outs, mode="FAST_COMPILE")(*point)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-11, atol=1e-13 * np.abs(w).max())


_FORKED = {}  # the compiled function and its point, for the forked child


def _in_child():
    f, point = _FORKED["f"], _FORKED["point"]
    return [np.asarray(v) for v in f(*point)]


def _in_forked_child(f, point):
    """``f(*point)`` in a child forked from this process."""
    import multiprocessing
    import warnings

    _FORKED.update(f=f, point=point)
    with warnings.catch_warnings():
        # fork() of a threaded process: Python's warning, and JAX's where it was imported
        warnings.simplefilter("ignore")
        with multiprocessing.get_context("fork").Pool(1) as pool:
            return pool.apply_async(_in_child).get(timeout=60)


@pytest.mark.skipif(not hasattr(os, "fork") or not radialcounts_c.openmp(),
                    reason="needs fork() and a compiler with OpenMP")
def test_a_forked_child_runs_the_loops():
    """GNU OpenMP's threads do not survive fork(): a child process whose parent ran a
    parallel region waited forever in its own first one (multiprocessing, PyMC's chains
    after a fit). The child runs the runs on one thread, with the parent's numbers."""

    inputs, (total, _), _, _, point = _graphs("disk")
    node = total.owner
    outs = RadialCountsJac(**{**node.op._props_dict(), "chunks": 2})(*node.inputs)
    f = pytensor.function(list(inputs), outs, mode="CVM")
    want = f(*point)  # a parallel region of two threads in this process
    for g, w in zip(_in_forked_child(f, point), want, strict=True):
        np.testing.assert_array_equal(g, w)


def _parallel_ops():
    """A graph of the other ops with OpenMP loops, each large enough for two threads:
    the sparse product, Contract (gathering), the counts' logarithm and its gradient."""
    from scipy import sparse

    from skyfit.forward.countslog import counts_log_sum
    from skyfit.forward.csr import csr_matvec

    rng = np.random.default_rng(9)
    x = pt.dvector("x")
    mu = 1.0 + csr_matvec(sparse.random(40000, 30, density=0.05, random_state=3), x)
    s = counts_log_sum(np.ones(40000), mu)
    jac = rng.random((5000, 14))
    g = Contract()(pt.constant(2.0), pytensor.grad(s, mu), np.ones(14), jac,
                   rng.choice(40000, 5000, replace=False))
    return pytensor.function([x], [s, g, pytensor.grad(s, x)], mode="CVM"), [rng.random(30)]


@pytest.mark.skipif(not hasattr(os, "fork") or not radialcounts_c.openmp(),
                    reason="needs fork() and a compiler with OpenMP")
def test_a_forked_child_runs_the_other_parallel_ops():
    """As the radial loops: the sparse product, Contract and the counts' logarithm in a
    child forked after their parallel regions ran in the parent."""
    f, point = _parallel_ops()
    want = f(*point)
    for g, w in zip(_in_forked_child(f, point), want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-13)


@pytest.mark.parametrize("rows", [0, 7, 5000])  # 5000 x 14: two runs where two threads
@pytest.mark.parametrize("gather", [False, True])
def test_contract_matches_numpy(rows, gather):
    """``g_total * d_total + g_at @ d_at``, with ``g_at`` given or gathered as ``g[idx]``;
    an index out of bounds is an error."""
    rng = np.random.default_rng(rows)
    d_total, d_at = rng.random(14), rng.random((rows, 14))
    g, idx = rng.random(3 * rows + 1), rng.choice(3 * rows + 1, rows, replace=False)
    ins = [pt.dscalar(), pt.dvector(), pt.tensor(dtype="float64", shape=(14,)),
           pt.tensor(dtype="float64", shape=(None, 14))]
    if gather:
        ins.append(pt.lvector())
        args = [1.5, g, d_total, d_at, idx]
    else:
        args = [1.5, g[idx], d_total, d_at]
    f = pytensor.function(ins, Contract()(*ins), mode="CVM")
    np.testing.assert_allclose(f(*args), 1.5 * d_total + g[idx] @ d_at, rtol=1e-13)
    if gather and rows:
        for bad in (-1, g.size):
            with pytest.raises(IndexError, match="out of bounds"):
                f(*args[:4], np.where(np.arange(rows) == rows // 2, bad, idx))


def test_fused_keeps_second_derivatives():
    """Gradients are taken before the rewrite: a Hessian compiled with it is the same."""
    from pytensor.compile.mode import get_mode

    inputs, (total, at), _, _, point = _graphs("point")
    value = total * 0.3 + (at**2).sum() * 1e9
    grads = pytensor.grad(value, list(inputs[:3]))
    outs = [*grads, *pytensor.grad(grads[0], list(inputs[:3]))]
    want = pytensor.function(list(inputs), outs, mode="CVM")(*point)
    got = pytensor.function(list(inputs), outs,
                            mode=get_mode("CVM").including(FUSE_TAG))(*point)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12 * np.abs(w).max())
    with pytest.raises(NotImplementedError, match="made by a rewrite"):
        RadialCountsJac(1, 1, 0.1, 10).pullback(None, None, None)


def test_likelihood_fuses_its_value_and_gradient():
    """The statistic's compiled value+gradient function (C) runs one fused op per free
    radial source, with the numbers of the unfused numpy path."""
    from skyfit.forward import Likelihood
    from skyfit.models import FoVBackgroundModel

    ds = synthetic_dataset(npix=(30, 24), binsz=0.05, name="toy")
    models = Models([SkyModel(CASES[case][0](), PowerLawSpectralModel(amplitude=5e-12),
                              name=case) for case in ("point", "disk")]
                    + [FoVBackgroundModel("toy")])
    models["disk"].spatial_model.parameters["r_0"].frozen = True
    ds.models = models
    ds.counts.data[...] = np.random.default_rng(5).poisson(np.asarray(ds.npred(), float))
    results, fused = {}, {}
    for mode in ("CVM", "FAST_COMPILE"):
        like = Likelihood([ds], models, mode=mode)
        results[mode] = like.value_and_grad(like.current_theta() * 1.001)
        ops = [type(node.op) for node in like._fn("value_grad").maker.fgraph.apply_nodes]
        fused[mode] = ops.count(RadialCountsJac), RadialCountsGrad in ops
    assert fused == {"CVM": (2, False), "FAST_COMPILE": (0, True)}
    for a, b in zip(results["CVM"], results["FAST_COMPILE"], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10)


def test_counts_match_npred_cube():
    """``(total, at)`` are the masked sum and the values of the source's npred cube."""
    plan, _ = _plan("point")
    n_e = plan.pred.e_axis.nbin
    weight = np.ones((n_e, *plan.cut.shape))
    weight[1, 3:9, :] = 0.0
    npix = weight[0].size
    where = np.arange(0, weight.size, 7)
    where = where[np.argsort(where % npix, kind="stable")]
    flux = np.linspace(1.0, 2.0, plan.pred.t_axis.nbin) * 1e-9
    total, at = plan._radial_counts(lambda par: par.value, flux, weight, where)
    cube = plan.npred(lambda par: par.value, flux)
    assert float(total) == pytest.approx(float((cube * weight).sum()), rel=1e-12)
    np.testing.assert_allclose(at, cube.ravel()[where], rtol=1e-12)


def test_symbolic_cube_is_the_op_at_every_bin():
    """A free radial source's npred cube in a graph (npred functions, the Bayesian
    model) is the op at every bin of its cutout, equal to the numpy cube."""
    plan, spatial = _plan("disk")
    lon, lat = pt.dscalar("lon"), pt.dscalar("lat")
    flux = np.linspace(1.0, 2.0, plan.pred.t_axis.nbin) * 1e-9

    def value_of(par):
        return {"lon_0": lon, "lat_0": lat}.get(par.name, par.value)

    cube = plan.npred(value_of, pt.as_tensor_variable(flux))
    assert any(isinstance(node.op, RadialCounts)
               for node in io_toposort([lon, lat], [cube]))
    pars = spatial.canonical_values()
    got = pytensor.function([lon, lat], cube, mode="CVM")(pars["lon_0"], pars["lat_0"])
    np.testing.assert_allclose(got, plan.npred(lambda par: par.value, flux), rtol=1e-11,
                               atol=1e-14 * np.abs(got).max())


@pytest.mark.parametrize("mode", ["FAST_COMPILE", "NUMBA", "JAX"])
def test_backends_match_c(mode):
    if mode == "NUMBA":
        from skyfit.forward.numba_ops import register_numba

        register_numba()
    if mode == "JAX":
        pytest.importorskip("jax")
        import skyfit.forward.jax_ops  # noqa: F401
    inputs, (total, at), _, stat, point = _graphs("disk")
    outs = [total, at, *pytensor.grad(stat(total, at), list(inputs[:3]))]
    want = pytensor.function(list(inputs), outs, mode="CVM")(*point)
    got = pytensor.function(list(inputs), outs, mode=mode)(*point)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-10)


def test_gradient_matches_finite_differences():
    inputs, op_out, _, stat, point = _graphs("point")
    value = stat(*op_out)
    f = pytensor.function(list(inputs), value, mode="CVM")
    g = pytensor.function(list(inputs), pytensor.grad(value, list(inputs[:3])), mode="CVM")
    grads = g(*point)
    # steps of 1e-7 deg: a node next to the source puts the PSF's sharp peak under the
    # differences (their error ~h**2: 2e-6 of the slope at 1e-6 deg, 2e-7 at 1e-7)
    for i, step in ((0, 1e-7), (1, 1e-7)):
        up, down = list(point), list(point)
        up[i], down[i] = point[i] + step, point[i] - step
        fd = (f(*up) - f(*down)) / (2 * step)
        assert float(grads[i]) == pytest.approx(fd, rel=1e-6)
    lon, lat, flux, where = point
    # linear in the flux: steps of a tenth of it are exact, and keep rounding small
    # against the smallest slope (the first plane's, 1e5 times below the others)
    fd = [(f(lon, lat, flux + e, where) - f(lon, lat, flux - e, where)) / 2e-10
          for e in np.eye(flux.size) * 1e-10]
    np.testing.assert_allclose(grads[2], fd, rtol=1e-6)


def test_hessian_through_reference():
    inputs, op_out, ref_out, _, point = _graphs("point")
    hess = {}
    for name, (total, at) in (("op", op_out), ("ref", ref_out)):
        value = total * 0.3 + (at**2).sum() * 1e9  # not linear in flux
        grads = pytensor.grad(value, list(inputs[:3]))
        rows = [pytensor.grad(grads[0], list(inputs[:3])),
                pytensor.grad(grads[1], list(inputs[:3]))]
        f = pytensor.function(list(inputs), [r for row in rows for r in row], mode="CVM")
        hess[name] = f(*point)
    for got, want in zip(hess["op"], hess["ref"], strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12 * np.abs(want).max())


def test_no_reference_no_second_derivative():
    inputs, op_out, _, stat, _ = _graphs("point")
    op_out[0].owner.op.reference = None  # this graph's own op
    grads = pytensor.grad(stat(*op_out), list(inputs[:3]))
    with pytest.raises(NotImplementedError, match="second derivatives"):
        pytensor.grad(grads[0], inputs[0])


def test_subpixels_keep_weight_sorted_by_pixel():
    plan, _ = _plan("point")
    boxes = [(plan.cut, (0, 0))]
    boxes += [(core, (sy.start, sx.start)) for core, (sy, sx) in plan.cores]
    sub = SubPixels(boxes, plan.cut.shape)
    total = sum(box.solid_angle.sum() for box, _ in boxes)
    assert sub.w.sum() == pytest.approx(total, rel=1e-12)
    assert np.all(sub.w > 0) and np.all(np.diff(sub.pix) >= 0)
    np.testing.assert_allclose(np.linalg.norm(sub.xyz, axis=0), 1.0, rtol=1e-12)


@pytest.mark.parametrize("mode", ["CVM", "FAST_COMPILE", "NUMBA"])
def test_bad_inputs_are_refused(mode):
    if mode == "NUMBA":
        from skyfit.forward.numba_ops import register_numba

        register_numba()
    op = RadialCounts(2, 2, 0.1, 10)
    table = np.zeros((11, 4, 1))
    xyz = np.tile([[1.0], [0.0], [0.0]], 4)
    good = (xyz, np.ones(4), np.arange(4), table, np.ones((4, 1)), np.ones((1, 1)),
            np.ones((1, 1)))
    bins = pt.lvector("bins")
    f = pytensor.function([bins], op(0.0, 0.0, np.ones(1), *good, bins), mode=mode)
    assert float(f(np.arange(4))[0]) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="outside the cutout"):
        f(np.array([0, 4]))
    with pytest.raises(ValueError, match="not sorted by pixel"):
        f(np.array([1, 0]))
    if mode == "CVM":
        bad = (np.ones((3, 3)), *good[1:])  # three sub-pixels' vectors for four
        with pytest.raises(ValueError, match="inconsistent input shapes"):
            pytensor.function([bins], op(0.0, 0.0, np.ones(1), *bad, bins), mode=mode)(
                np.arange(2))
