"""Pixel quadrature of radial sources: Gauss-Legendre nodes, their weights on the sphere,
and the number of nodes the core boxes get (skyfit.forward.quadrature)."""

from __future__ import annotations

import numpy as np
import pytest

from skyfit.datasets import MapDataset
from skyfit.datasets.synthetic import synthetic_dataset
from skyfit.forward.npred import DatasetPredictor
from skyfit.forward.quadrature import QUADRATURE_TOLERANCE, core_nodes
from skyfit.forward.radial import RadialSpline
from skyfit.forward.response import make_cutout, point_true
from skyfit.maps import WcsGeom
from skyfit.maps.geom import pixel_nodes
from skyfit.models import Models, PointSpatialModel, PowerLawSpectralModel, SkyModel
from skyfit.models.spatial.sphere import angular_separation


@pytest.mark.parametrize("rule", ["midpoint", "gauss"])
@pytest.mark.parametrize("k", [1, 2, 5])
def test_pixel_nodes_are_symmetric_and_sum_to_one(rule, k):
    x, w = pixel_nodes(k, rule)
    assert x.shape == w.shape == (k,)
    assert np.all(np.abs(x) < 0.5)
    np.testing.assert_allclose(x, -x[::-1], atol=1e-15)
    assert w.sum() == pytest.approx(1.0, abs=1e-14)


@pytest.mark.parametrize("args, match", [((0,), "at least one node"),
                                         ((2, "simpson"), "unknown quadrature rule")])
def test_pixel_nodes_reject_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        pixel_nodes(*args)


@pytest.mark.parametrize("skydir, frame, proj", [((0, 0), "galactic", "CAR"),
                                                 ((30, 70), "icrs", "CAR"),
                                                 ((83.6, 22.0), "icrs", "TAN")])
def test_gauss_weights_share_each_pixels_solid_angle(skydir, frame, proj):
    geom = WcsGeom.create(skydir, frame=frame, binsz=0.5, npix=(4, 3), proj=proj)
    k = 3
    nodes = geom.solid_angle(k, rule="gauss").reshape(3, k, 4, k)
    np.testing.assert_allclose(nodes.sum(axis=(1, 3)), geom.solid_angle(), rtol=1e-12)
    lon, lat = geom.get_coord(oversample=k, rule="gauss")
    assert lon.shape == lat.shape == (3 * k, 4 * k)


def _gaussian_spline(sigma, r_max=1.5):
    rad = np.linspace(0, r_max, 1501)
    density = np.exp(-0.5 * (rad / sigma) ** 2) / (2 * np.pi * np.radians(sigma) ** 2)
    spline = RadialSpline(rad, density[None], r_max=r_max)
    spline.core_radius = 1.51 * sigma  # the 68 % radius of a 2D Gaussian
    return spline


def _core_error(geom, lon, lat, spline, k, rule):
    """Largest error of the pixel integrals around (lon, lat) with ``k x k`` nodes placed
    by ``rule``, against 16 x 16 Gauss-Legendre nodes, per brightest pixel."""
    args = (geom, lon, lat, "galactic", 4 * spline.core_radius)
    ref = point_true(lon, lat, make_cutout(*args, k=16, rule="gauss"), spline, np.ones(1))
    got = point_true(lon, lat, make_cutout(*args, k=k, rule=rule), spline, np.ones(1))
    return float(np.abs(got - ref).max() / ref.max())


@pytest.mark.parametrize("sigma", [0.2, 0.08, 0.04, 0.02])
def test_core_nodes_meet_the_tolerance_anywhere_in_the_pixel(sigma):
    """The nodes chosen on a flat sky keep every pixel within the tolerance on the
    sphere, with the source at places in its pixel the choice did not look at."""
    geom = WcsGeom.create((0, 0), frame="galactic", binsz=0.05, npix=(41, 41))
    spline = _gaussian_spline(sigma)
    (m,) = core_nodes(spline, 0.05, [(0.0, 2 * spline.core_radius)])
    rng = np.random.default_rng(3)
    worst = max(_core_error(geom, *rng.uniform(-0.025, 0.025, 2), spline, m, "gauss")
                for _ in range(5))
    assert worst < 1.5 * QUADRATURE_TOLERANCE, (m, worst)
    if m > 1:  # the fewest: one node less misses the tolerance at the tested places
        fewer = max(_core_error(geom, dx * 0.05, dy * 0.05, spline, m - 1, "gauss")
                    for dx, dy in ((0, 0), (0.5, 0), (0.5, 0.5), (0.3, 0.1)))
        assert fewer > QUADRATURE_TOLERANCE


def test_gauss_nodes_beat_as_many_midpoints():
    geom = WcsGeom.create((0, 0), frame="galactic", binsz=0.05, npix=(41, 41))
    spline = _gaussian_spline(0.04)
    gauss = _core_error(geom, 0.011, -0.007, spline, 3, "gauss")
    midpoint = _core_error(geom, 0.011, -0.007, spline, 3, "midpoint")
    assert gauss < midpoint / 5, (gauss, midpoint)


@pytest.mark.data
@pytest.mark.parametrize("case", ["crab", "gc", "gc-disk"])
def test_real_profiles_within_the_tolerance_while_the_source_moves(case, crab_dir, gc_dir):
    """The Fermi-LAT PSFs (sharply peaked: at 0.05 deg pixels 4 x 4 midpoints missed the
    brightest pixel by 1.4 %), and a GC disk's profile after the PSF, integrated over the
    pixels of the core boxes as the forward model does (their nodes, the coarse ones
    around), the source up to MOVE_RADII 68 % radii off its start, against 16 x 16
    Gauss-Legendre nodes."""
    from skyfit.forward.npred import MOVE_RADII

    if case == "crab":
        path, yaml, name = (crab_dir / "Fermi-LAT-3FHL_data_Fermi-LAT.fits",
                            crab_dir / "Fermi-LAT-3FHL_models.yaml", "Crab Nebula")
    else:
        path, yaml = gc_dir / "fermi-3fhl-gc.fits.gz", gc_dir / "fermi-3fhl-gc_models.yaml"
        name = "3FHL J1800.5-2343e" if case == "gc-disk" else "3FHL J1745.6-2900"
    dataset = MapDataset.read(path)
    models = Models([Models.read(yaml)[name]])
    plan = DatasetPredictor(dataset, models, lambda par: par.name in ("lon_0", "lat_0"))
    source = plan.sources[0]
    assert source.cores and all(box.rule == "gauss" for box, _ in source.cores)
    outer, (sy, sx) = source.cores[0]
    reference = make_cutout(dataset.counts.geom, 0.0, 0.0, source.frame, 0.0, 16,
                            within=outer.slices, full=True, rule="gauss")
    profile, expo = source._radial_profile()
    expo = expo[:, sy, sx] if expo.ndim == 3 else expo[:, None, None]
    pars = source.spatial.canonical_values()
    move = MOVE_RADII * source.spline.core_radius
    rng = np.random.default_rng(7)
    for angle, fraction in zip(rng.uniform(0, 2 * np.pi, 4), (0.0, 0.3, 0.7, 1.0),
                               strict=True):
        lon = pars["lon_0"] + fraction * move * np.cos(angle)
        lat = pars["lat_0"] + fraction * move * np.sin(angle)
        got = source._radial_true(lon, lat)[:, sy, sx] / expo
        ref = point_true(lon, lat, reference, profile, np.ones(profile.a.shape[0]))
        error = np.abs(got - ref).max(axis=(1, 2)) / ref.max(axis=(1, 2))
        assert error.max() < 1.5 * QUADRATURE_TOLERANCE, (fraction, error)


def test_a_point_sources_box_drops_only_corners_beyond_its_psf():
    """The coarse box's nodes beyond the PSF's reach (zero there at the start) get no
    weight; the rest keep theirs, and the counts at the start do not change."""
    ds = synthetic_dataset(npix=(80, 80), binsz=0.05, energy_edges=[0.3, 1.0, 3.0],
                           energy_true_edges=[0.2, 0.6, 2.0, 6.0])
    spatial = PointSpatialModel(lon_0=0.02, lat_0=-0.01, frame="galactic")
    models = Models([SkyModel(spatial, PowerLawSpectralModel(), name="src")])
    plan = DatasetPredictor(ds, models, lambda par: par.name in ("lon_0", "lat_0"))
    source = plan.sources[0]
    cut = source.cut
    d2r = np.pi / 180
    sep = angular_separation(0.02 * d2r, -0.01 * d2r, cut.lon * d2r, cut.lat * d2r) / d2r
    beyond = sep > source.spline.r_max
    assert beyond.any() and np.all(cut.solid_angle[beyond] == 0)
    full = make_cutout(ds.counts.geom, 0.02, -0.01, "galactic", 0.0, cut.k,
                       within=cut.slices, full=True, rule=cut.rule)
    assert np.all(cut.solid_angle[~beyond & (cut.solid_angle > 0)]
                  == full.solid_angle[~beyond & (cut.solid_angle > 0)])
    expo = np.ones(source.spline.a.shape[0])
    kept = point_true(0.02, -0.01, cut, source.spline, expo)
    for core, (sy, sx) in source.cores:
        kept[:, sy, sx] += point_true(0.02, -0.01, core, source.spline, expo)
    everything = point_true(0.02, -0.01, full, source.spline, expo)
    sy, sx = source.cores[0][1]
    everything[:, sy, sx] = kept[:, sy, sx]  # the core boxes, sampled the same in both
    np.testing.assert_array_equal(kept, everything)


def test_a_profile_too_sharp_for_the_nodes_is_reported():
    spline = _gaussian_spline(0.0005, r_max=0.01)  # a hundredth of a pixel
    with pytest.warns(UserWarning, match="above the tolerance"):
        nodes = core_nodes(spline, 0.05, [(0.0, 0.001)], most=4)
    assert nodes == [4]


def test_a_psf_narrower_than_a_pixel_keeps_one_node_in_the_wings():
    """Bands are a pixel wide where the PSF's 68 % radius is smaller: the wings (a few
    pixels out, where such a PSF is zero) keep one node per pixel, the pixels around the
    source get many."""
    ds = synthetic_dataset(npix=(40, 40), binsz=0.05, energy_edges=[0.3, 1.0, 3.0],
                           energy_true_edges=[0.2, 0.6, 2.0, 6.0])
    ds.psf = None  # the forward model's stand-in: a Gaussian of a third of a pixel
    spatial = PointSpatialModel(lon_0=0.01, lat_0=0.0, frame="galactic")
    models = Models([SkyModel(spatial, PowerLawSpectralModel(), name="src")])
    plan = DatasetPredictor(ds, models, lambda par: par.name in ("lon_0", "lat_0"))
    source = plan.sources[0]
    assert source.cut.k == 1
    inner, _ = source.cores[-1]
    assert inner.k >= 3 and inner.shape[0] <= 9
