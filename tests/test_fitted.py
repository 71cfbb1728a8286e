"""The statistic without npred cubes (``skyfit.forward.fitted``) equals the Cash statistic
of the cubes, bin by bin summed, for every kind of component, mask and counts."""

from __future__ import annotations

import numpy as np
import pytest

from skyfit.datasets.synthetic import AnalyticPSF, synthetic_dataset
from skyfit.forward import Likelihood, cash
from skyfit.maps import Map
from skyfit.models import FoVBackgroundModel, Models, SkyModel
from skyfit.models.spatial import DiskSpatialModel, GaussianSpatialModel, PointSpatialModel
from skyfit.models.spectral import LogParabolaSpectralModel, PowerLawSpectralModel


def _dataset(background=True, reco_psf=False):
    psf = None
    if reco_psf:  # tabulated in reconstructed energy (Gammapy's RecoPSFMap)
        psf = AnalyticPSF(sigma_0=0.1)
        psf.is_reco = True
    ds = synthetic_dataset(npix=(30, 24), binsz=0.05, energy_edges=np.geomspace(0.1, 10, 5),
                           energy_true_edges=np.geomspace(0.05, 20, 9), name="syn", psf=psf)
    if not background:
        ds.background = None
    return ds


def _point(free_position=True, amplitude=2e-12):
    model = SkyModel(PointSpatialModel(lon_0=0.13, lat_0=-0.07, frame="galactic"),
                     PowerLawSpectralModel(amplitude=amplitude, index=2.3), name="pt")
    for name in ("lon_0", "lat_0"):
        model.spatial_model.parameters[name].frozen = not free_position
    return model


def _extended():
    gauss = SkyModel(GaussianSpatialModel(lon_0=-0.3, lat_0=0.2, sigma=0.15, frame="galactic"),
                     LogParabolaSpectralModel(amplitude=3e-12, alpha=2.2, beta=0.1), name="g")
    disk = SkyModel(DiskSpatialModel(lon_0=0.4, lat_0=0.3, r_0=0.2, frame="galactic"),
                    PowerLawSpectralModel(amplitude=1e-12, index=2.0), name="d")
    return [gauss, disk]


def _bkg():
    bkg = FoVBackgroundModel("syn")
    bkg.spectral_model.parameters["tilt"].frozen = False
    return bkg


CASES = {
    "free point and extended sources, background model": (
        lambda: [_point(), *_extended(), _bkg()], True, False),
    "fixed point source (sparse response), background model": (
        lambda: [_point(free_position=False), _bkg()], True, False),
    "fixed and free sources, background cube without model": (
        lambda: [_point(free_position=False), *_extended()], True, False),
    "no background at all": (lambda: [_point(), _extended()[1]], False, False),
    "fit mask over part of the cube": (lambda: [_point(), *_extended(), _bkg()], True, True),
    "PSF in reconstructed energy, fixed and free sources": (
        lambda: [_point(free_position=False), *_extended(), _bkg()], "reco", False),
}


def _cube_stat(like, theta):
    """Cash statistic from the npred cubes (Gammapy's floor), summed over the fit mask."""
    total = 0.0
    for ds, npred, mask in zip(like.datasets, like.npred(theta), like._masks, strict=True):
        stat = cash(np.asarray(ds.counts.data, float), npred)
        total += stat.sum() if mask is None else stat[mask].sum()
    return total


@pytest.fixture(scope="module", params=list(CASES), ids=list(CASES))
def case(request):
    make, background, masked = CASES[request.param]
    ds = _dataset(bool(background), reco_psf=background == "reco")
    models = Models(make())
    if masked:
        mask = np.ones(ds.counts.data.shape, bool)
        mask[0] = False  # lowest energy bin out
        mask[:, :, :8] = False  # a strip of the map out
        ds.mask_fit = Map(ds.counts.geom, mask)
    ds.models = models
    ds.fake(random_seed=1)
    return ds, Likelihood([ds], models, mode="FAST_COMPILE")


def test_statistic_equals_cube_statistic(case):
    _, like = case
    theta = like.current_theta()
    for shift in (0.0, 0.02):  # at the start and away from it
        t = theta * (1 + shift)
        assert like.value(t) == pytest.approx(_cube_stat(like, t), rel=1e-12)
        assert like.value_and_grad(t)[0] == pytest.approx(like.value(t), rel=1e-14)


def test_new_counts_need_no_recompilation(case, monkeypatch):
    """The positions of the bins with counts change with the counts: shared variables."""
    import pytensor

    ds, like = case
    theta = like.current_theta()
    like.value(theta), like.value_and_grad(theta)  # compiled before counting
    calls = []
    monkeypatch.setattr(pytensor, "function", lambda *a, **k: calls.append(a))
    saved = ds.counts
    try:
        ds.fake(random_seed=7)
        like.update_counts()
        assert like.value(theta) == pytest.approx(_cube_stat(like, theta), rel=1e-12)
        like.value_and_grad(theta)
    finally:
        ds.counts = saved
        like.update_counts()
    assert calls == []


def test_gradient_matches_finite_differences(case):
    _, like = case
    theta = like.current_theta()
    value, grad = like.value_and_grad(theta)
    for i in range(theta.size):
        step = 1e-6 * (abs(theta[i]) or 1.0)
        up, down = theta.copy(), theta.copy()
        up[i] += step
        down[i] -= step
        numeric = (like.value(up) - like.value(down)) / (2 * step)
        rounding = 1e-13 * abs(value) / step  # the statistic's own rounding, differenced
        assert grad[i] == pytest.approx(numeric, rel=1e-4, abs=rounding), like.free[i].name


def test_negative_predictions_use_gammapy_floor_in_the_sum():
    """Where npred < 1e-25 Gammapy floors both terms; the sum of npred then needs the cube
    (a separate function, called only where a factor is negative): same value and a
    gradient that matches finite differences."""
    ds = _dataset(background=True)
    models = Models([_point(free_position=False, amplitude=-5e-12), _bkg()])
    models["syn-bkg"].spectral_model.parameters["norm"].value = 1e-6  # npred < 0 near the source
    ds.counts.data[...] = np.random.default_rng(3).poisson(0.01, ds.counts.data.shape)
    like = Likelihood([ds], models, mode="FAST_COMPILE")
    theta = like.current_theta()
    assert like.may_be_negative(theta) and like.min_npred(theta) < 0
    assert like.value(theta) == pytest.approx(_cube_stat(like, theta), rel=1e-12)
    value, grad = like.value_and_grad(theta)
    assert value == pytest.approx(like.value(theta), rel=1e-14)
    i = [p.name for p in like.free].index("index")
    step = 1e-5  # at 1e-6 the statistic's rounding is already 1e-5 of this small slope
    up, down = theta.copy(), theta.copy()
    up[i] += step
    down[i] -= step
    assert grad[i] == pytest.approx((like.value(up) - like.value(down)) / (2 * step), rel=1e-5)
    # positive again: no cube evaluation needed, and none of the floor's terms
    theta[[p.name for p in like.free].index("amplitude")] = 5e-12
    assert not like.may_be_negative(theta)
    assert like.value(theta) == pytest.approx(_cube_stat(like, theta), rel=1e-12)
