"""Round sources of frozen size (circular disks, Gaussians) as exact PSF-convolved profiles.

Each model is paired with a brute-force reference: its brightness and the PSF sampled on a
fine flat grid and convolved by FFT (:func:`_bruteforce_profile`).
"""

from __future__ import annotations

import numpy as np
import pytest

from skyfit.datasets.synthetic import AnalyticPSF, synthetic_dataset
from skyfit.forward import Likelihood
from skyfit.forward.convolved import convolved_profile, is_round
from skyfit.forward.radial import RadialSpline
from skyfit.models import FoVBackgroundModel, Models, SkyModel
from skyfit.models.spatial import (
    DiskSpatialModel,
    GaussianSpatialModel,
    PointSpatialModel,
    ShellSpatialModel,
)
from skyfit.models.spectral import PowerLawSpectralModel


def _king_psf():
    """Two energies: a wide and a narrow King-like profile (density in sr-1)."""
    rad = np.linspace(0, 1.5, 601)
    rows = []
    for sigma in (0.15, 0.04):
        dens = (1 + (rad / sigma) ** 2 / 4.0) ** -3.0
        norm = np.trapezoid(2 * np.pi * np.sin(np.radians(rad)) * dens, np.radians(rad))
        rows.append(dens / norm)
    spline = RadialSpline(rad, np.array(rows), r_max=1.5, nodes=1500)
    spline.core_radius = 0.04
    return spline


def _bruteforce_profile(model, psf, d, h=0.0025, n_sub=4):
    """The model (n_sub^2 samples per cell) convolved with the PSF (3 x 3 per cell) on a
    flat grid of cell h (deg), read along the x axis through the centre at ``d``."""
    from scipy.signal import fftconvolve

    n = int(np.ceil((model.evaluation_radius + psf.r_max) / h))
    axis = np.arange(-n, n + 1) * h
    xx, yy = np.meshgrid(axis, axis)

    def mean_over_cell(fn, k):
        off = ((np.arange(k) + 0.5) / k - 0.5) * h
        return sum(fn(np.hypot(xx + dx, yy + dy)) for dx in off for dy in off) / k**2

    pars = model.canonical_values()
    f = mean_over_cell(lambda s: type(model).evaluate(0 * s, s, **pars), n_sub)
    out = []
    for row in mean_over_cell(lambda s: psf(s.ravel()).reshape((-1, *s.shape)), 3):
        image = fftconvolve(f, row, mode="same") * np.radians(h) ** 2
        out.append(np.interp(d, axis[n:], image[n, n:]))
    return np.array(out)


ROUND = [
    DiskSpatialModel(r_0=0.4, frame="galactic"),  # Gammapy's default 1 % edge
    DiskSpatialModel(r_0=0.25, edge_width=0.3, frame="galactic"),
    GaussianSpatialModel(sigma=0.2, frame="galactic"),
    GaussianSpatialModel(sigma=0.03, frame="galactic"),
]


@pytest.mark.parametrize("model", ROUND, ids=lambda m: f"{type(m).__name__}")
def test_profile_against_bruteforce_convolution(model):
    psf = _king_psf()
    profile = convolved_profile(model, psf)
    d = np.linspace(0, model.evaluation_radius + 0.5, 200)
    expected = _bruteforce_profile(model, psf, d)
    got = profile(d)
    peak = expected.max(axis=1, keepdims=True)
    # the brute force's own grid error is ~1e-3 of the peak at the sharp rims
    assert (np.abs(got - expected) / peak).max() < 2e-3


@pytest.mark.parametrize("model", ROUND, ids=lambda m: f"{type(m).__name__}")
def test_profile_keeps_the_flux(model):
    """The PSF moves flux, it does not create it: the profile's flux is the model's
    (Gammapy's disk normalisation leaves out the smooth edge: 1.008 for a 30 % edge)."""
    profile = convolved_profile(model, _king_psf())

    def flux(values, d):
        return np.trapezoid(2 * np.pi * np.sin(np.radians(d)) * values, np.radians(d), axis=-1)

    d = np.linspace(0, profile.r_max, 20001)
    brightness = type(model).evaluate(0 * d, d, **model.canonical_values())
    np.testing.assert_allclose(flux(profile(d), d), flux(brightness, d), rtol=1e-3)


def _frozen(model, **flags):
    for name, frozen in flags.items():
        model.parameters[name].frozen = frozen
    return model


@pytest.mark.parametrize("model, expected", [
    (DiskSpatialModel(r_0=0.3), False),  # r_0 free by default
    (_frozen(DiskSpatialModel(r_0=0.3), r_0=True), True),
    (_frozen(DiskSpatialModel(r_0=0.3, e=0.4), r_0=True), False),  # an ellipse
    (_frozen(DiskSpatialModel(r_0=0.3), r_0=True, e=False), False),  # may become one
    (_frozen(DiskSpatialModel(r_0=0.3), r_0=True, edge_width=False), False),
    (_frozen(GaussianSpatialModel(sigma=0.3), sigma=True), True),
    (_frozen(ShellSpatialModel(radius=0.3, width=0.1), radius=True, width=True), False),
    (PointSpatialModel(), False),
])
def test_which_sources_are_round(model, expected):
    assert is_round(model) is expected


@pytest.fixture(scope="module")
def round_fit():
    """A disk and a Gaussian of frozen size with free positions, and a background."""
    ds = synthetic_dataset(npix=(50, 50), binsz=0.04, energy_edges=np.geomspace(0.3, 10, 4),
                           energy_true_edges=np.geomspace(0.2, 20, 7),
                           psf=AnalyticPSF(sigma_0=0.08), name="synthetic")
    disk = SkyModel(_frozen(DiskSpatialModel(lon_0=0.2, lat_0=-0.1, r_0=0.3,
                                             frame="galactic"), r_0=True),
                    PowerLawSpectralModel(amplitude=3e-11, index=2.2), name="disk")
    gauss = SkyModel(_frozen(GaussianSpatialModel(lon_0=-0.3, lat_0=0.2, sigma=0.12,
                                                  frame="galactic"), sigma=True),
                     PowerLawSpectralModel(amplitude=2e-11, index=2.5), name="gauss")
    models = Models([disk, gauss, FoVBackgroundModel("synthetic")])
    ds.models = models
    ds.fake(random_seed=4)
    return ds, models, Likelihood([ds], models, mode="CVM")


def test_round_sources_take_the_profile_path(round_fit):
    _, _, like = round_fit
    plans = like.predictors[0].sources
    assert {p.component.name for p in plans if p.profile is not None} == {"disk", "gauss"}
    assert all(p.kernel is None for p in plans)  # no FFT convolution in the graph


def test_round_numpy_and_graph_agree(round_fit):
    ds, _, like = round_fit
    np.testing.assert_allclose(like.npred()[0], ds.npred(), rtol=1e-10, atol=1e-12)
    assert like.value() == pytest.approx(ds.stat_sum(), rel=1e-12)


def test_round_gradient_matches_finite_differences(round_fit, check_gradient):
    _, _, like = round_fit
    names = check_gradient(like)
    assert names.count("lon_0") == 2 and names.count("lat_0") == 2


def test_round_profile_follows_the_exposure_per_pixel():
    """An exposure ramp across the disk: the counts follow it pixel by pixel."""
    ds = synthetic_dataset(npix=(40, 40), binsz=0.05, energy_edges=np.geomspace(1, 10, 2),
                           energy_true_edges=np.geomspace(1, 10, 2), edisp=None,
                           background_rate=0.0, psf=AnalyticPSF(sigma_0=0.05))
    ds.edisp = None
    ramp = np.linspace(0.5, 1.5, 40)[None, None, :]
    ds.exposure.data = ds.exposure.data * ramp
    disk = SkyModel(_frozen(DiskSpatialModel(r_0=0.4, frame="galactic"), r_0=True),
                    PowerLawSpectralModel(amplitude=1e-11), name="disk")
    ds.models = [disk]
    npred = ds.npred()[0]
    row = npred[20, 16:24] / ds.exposure.data[0, 20, 16:24]  # inside the disk
    np.testing.assert_allclose(row, row.mean(), rtol=2e-3)
