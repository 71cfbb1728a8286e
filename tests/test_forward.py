"""The forward model: npred composition, gradients, compile-once, statistic."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from skyfit.datasets.synthetic import AnalyticEDisp, AnalyticPSF, synthetic_dataset
from skyfit.forward import Likelihood, cash
from skyfit.models import FoVBackgroundModel, Models, SkyModel
from skyfit.models.spatial import (
    DiskSpatialModel,
    GaussianSpatialModel,
    PointSpatialModel,
)
from skyfit.models.spectral import LogParabolaSpectralModel, PowerLawSpectralModel


def _dataset(**kw):
    kw.setdefault("npix", (40, 30))
    kw.setdefault("binsz", 0.05)
    kw.setdefault("energy_edges", np.geomspace(0.1, 10, 5))
    kw.setdefault("energy_true_edges", np.geomspace(0.05, 20, 9))
    return synthetic_dataset(**kw)


def _models(free_tilt=True):
    point = SkyModel(PointSpatialModel(lon_0=0.13, lat_0=-0.07, frame="galactic"),
                     PowerLawSpectralModel(amplitude=2e-12, index=2.3), name="pt")
    gauss = SkyModel(GaussianSpatialModel(lon_0=-0.3, lat_0=0.2, sigma=0.15, frame="galactic"),
                     LogParabolaSpectralModel(amplitude=3e-12, alpha=2.2, beta=0.1), name="g")
    disk = SkyModel(DiskSpatialModel(lon_0=0.4, lat_0=0.3, r_0=0.2, edge_width=0.2,
                                     frame="galactic"),
                    PowerLawSpectralModel(amplitude=1e-12, index=2.0), name="d")
    bkg = FoVBackgroundModel("synthetic")
    bkg.spectral_model.parameters["tilt"].frozen = not free_tilt
    bkg.spectral_model.parameters["tilt"].value = 0.05
    return Models([point, gauss, disk, bkg])


@pytest.fixture(scope="module")
def setup():
    ds = _dataset()
    models = _models()
    ds.models = models
    ds.fake(random_seed=0)
    return ds, models, Likelihood([ds], models)


def test_numpy_and_graph_agree(setup):
    ds, _, like = setup
    np.testing.assert_allclose(like.npred()[0], ds.npred(), rtol=1e-10, atol=1e-12)
    assert like.value() == pytest.approx(ds.stat_sum(), rel=1e-12)


def test_gradient_matches_finite_differences(setup, check_gradient):
    """Every free parameter kind: positions, sigma, radius, indices, amplitudes, norm, tilt."""
    _, _, like = setup
    names = set(check_gradient(like))
    assert {"lon_0", "lat_0", "sigma", "r_0", "index", "alpha", "beta", "amplitude",
            "norm", "tilt"} <= names


@pytest.mark.parametrize("exact", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_hessian_symmetric_and_matches_gradient_differences(setup, exact):
    _, _, like = setup
    theta = like.current_theta()
    hess = like.hessian(theta, exact=exact)
    np.testing.assert_allclose(hess, hess.T, rtol=1e-6, atol=1e-8 * np.abs(hess).max())
    i = [p.name for p in like.free].index("index")
    h = 1e-5
    up, down = theta.copy(), theta.copy()
    up[i] += h
    down[i] -= h
    col = (like.value_and_grad(up)[1] - like.value_and_grad(down)[1]) / (2 * h)
    np.testing.assert_allclose(hess[:, i], col, rtol=1e-4, atol=1e-4 * np.abs(col).max())


def test_compiled_once(setup, monkeypatch):
    import pytensor

    _, _, like = setup
    like.value_and_grad()
    calls = []
    original = pytensor.function
    monkeypatch.setattr(pytensor, "function", lambda *a, **k: calls.append(1) or original(*a, **k))
    theta = like.current_theta()
    for step in range(5):
        like.value_and_grad(theta * (1 + 1e-3 * step))
    assert calls == []


def test_point_source_flux_is_conserved():
    """No dispersion, large map: all of a point source's counts land in the map."""
    edges = np.geomspace(0.5, 5, 4)
    ds = synthetic_dataset(npix=(120, 120), binsz=0.05, energy_edges=edges,
                           energy_true_edges=edges, edisp=None, background_rate=0.0,
                           psf=AnalyticPSF(sigma_0=0.1))
    ds.edisp = None
    model = SkyModel(PointSpatialModel(lon_0=0.02, lat_0=0.01, frame="galactic"),
                     PowerLawSpectralModel(amplitude=1e-12, index=2.0), name="pt")
    ds.models = [model]
    npred = ds.npred().sum(axis=(1, 2))
    flux = PowerLawSpectralModel.integral(edges[:-1], edges[1:], index=2.0, amplitude=1e-12,
                                          reference=1.0)
    x, y = ds.counts.geom.world_to_pix(0.02, 0.01)
    from skyfit.forward.response import bilinear

    expected = flux * bilinear(ds.exposure.data, x[0], y[0])
    np.testing.assert_allclose(npred, expected, rtol=2e-3)


def test_edisp_conserves_counts_inside_range():
    ds = _dataset(edisp=AnalyticEDisp(0.05))
    kernel = ds.edisp.kernel_at(None, ds.exposure.geom.axis("energy_true"),
                                ds.counts.geom.axis("energy"))
    assert np.all(kernel >= 0) and np.all(kernel.sum(1) <= 1 + 1e-12)


def test_cash_floor_and_formula():
    assert cash(np.array([3.0]), np.array([0.0]))[0] == pytest.approx(
        2 * (1e-25 - 3 * np.log(1e-25)))
    np.testing.assert_allclose(cash(np.array([0.0, 2.0]), np.array([1.5, 2.0])),
                               [3.0, 2 * (2 - 2 * np.log(2))])


def test_fake_is_reproducible():
    ds = _dataset()
    ds.models = _models()
    ds.fake(random_seed=42)
    first = ds.counts.data.copy()
    ds.fake(random_seed=42)
    np.testing.assert_array_equal(first, ds.counts.data)


def test_import_does_not_pull_sampling_or_plotting():
    code = ("import sys, skyfit, skyfit.forward, skyfit.datasets, skyfit.models;"
            "bad = [m for m in ('pymc', 'arviz', 'matplotlib') if m in sys.modules];"
            "print(bad); sys.exit(1 if bad else 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize("position", [(0.02, -0.01), (0.0, 0.0), (0.031, 0.047)])
def test_point_source_without_psf_anywhere(position):
    """No PSF: a narrow Gaussian stand-in; its core box stays inside the coarse cutout."""
    ds = _dataset(energy_true_edges=np.geomspace(0.1, 10, 5))
    ds.psf, ds.edisp = None, None
    src = SkyModel(PointSpatialModel(lon_0=position[0], lat_0=position[1], frame="galactic"),
                   PowerLawSpectralModel(amplitude=1e-11, index=2.0), name="p")
    ds.models = Models([src])
    npred = ds.npred()
    like = Likelihood([ds], Models([src]))
    np.testing.assert_allclose(like.npred()[0], npred, rtol=1e-10, atol=1e-12)
    # all the flux lands on the map: counts = sum over bins of flux x exposure
    assert np.isfinite(npred).all() and npred.sum() > 0


def test_joint_priors_enter_the_map_statistic():
    """Models.priors (e.g. a multivariate Gaussian) add -2 w ln p, as Models.prior_stat."""
    from skyfit.models.priors import MultivariateGaussianPrior

    ds = _dataset()
    models = _models()
    for par in models.parameters:
        par.frozen = par.name not in ("index", "norm")
    models.priors.append(MultivariateGaussianPrior(
        ["pt.index", "synthetic-bkg.norm"], [2.2, 1.0], [[0.04, 0.001], [0.001, 0.01]]))
    ds.models = models
    with_prior = Likelihood([ds], models).value()
    without = Likelihood([ds], models, priors=False).value()
    assert with_prior - without == pytest.approx(models.prior_stat(), rel=1e-10)
    assert models.prior_stat() != 0  # -2 ln p of a narrow density may be negative


@pytest.mark.parametrize("shape", [(20, 17, 9, 9), (15, 16, 8, 7), (5, 6, 13, 13),
                                   (30, 7, 4, 10), (1, 1, 3, 3)])
def test_graph_convolution_matches_scipy(shape):
    """The PyTensor FFT convolution (minimal padding) equals scipy's 'same' convolution."""
    import pytensor
    import pytensor.tensor as pt
    from scipy.signal import convolve as direct

    from skyfit.forward.response import convolve

    ny, nx, ky, kx = shape
    rng = np.random.default_rng(sum(shape))
    x, k = rng.random((2, ny, nx)), rng.random((2, ky, kx))
    xs = pt.tensor3("x")
    got = pytensor.function([xs], convolve(xs, k, (ny, nx)), mode="FAST_COMPILE")(x)
    expected = np.stack([direct(x[i], k[i], mode="same", method="direct") for i in range(2)])
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12 * expected.max())


def test_sharp_disk_likelihood_is_smooth_in_position():
    """A 1 %-edge disk sampled on sub-pixels would ripple as its rim crosses sub-pixel
    centres (bumpy likelihood, spurious minima); the edge is resolved, so the statistic
    along lon_0 has a smooth, positive curvature at the 1e-4 deg scale."""
    ds = _dataset(npix=(40, 40))
    disk = SkyModel(DiskSpatialModel(lon_0=0.01, lat_0=0.02, r_0=0.35, frame="galactic"),
                    PowerLawSpectralModel(amplitude=2e-11, index=2.0), name="disk")
    ds.models = Models([disk])
    ds.fake(random_seed=3)
    par = disk.spatial_model.parameters["lon_0"]
    step, values = 5e-4, []
    for x in 0.01 + step * np.arange(-20, 21):
        par.value = x
        values.append(ds.stat_sum())
    curvature = np.diff(values, 2) / step**2
    assert curvature.min() > 0
    assert curvature.max() / curvature.min() < 1.5, (curvature.min(), curvature.max())
