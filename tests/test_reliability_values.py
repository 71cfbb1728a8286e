"""Reliability of in-memory input: geometry and value checks, numerical edge cases of the
prediction and statistic, data safety and determinism (issue 5)."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

from skyfit.datasets import MapDataset
from skyfit.datasets.synthetic import synthetic_dataset
from skyfit.forward import Likelihood
from skyfit.forward.stat import TRUNCATION_VALUE
from skyfit.maps import Map, MapAxis, WcsGeom
from skyfit.models import (
    DiskSpatialModel,
    FoVBackgroundModel,
    GaussianSpatialModel,
    Models,
    Parameter,
    PointSpatialModel,
    PowerLawSpectralModel,
    SkyModel,
)

E_EDGES = [0.1, 1.0, 10.0]


def _ds(name="synthetic", **kw):
    kw.setdefault("npix", (12, 10))
    kw.setdefault("binsz", 0.1)
    return synthetic_dataset(energy_edges=E_EDGES, energy_true_edges=[0.05, 0.3, 2.0, 20.0],
                             name=name, **kw)


def _point(amplitude=1e-12, lon=0.1, lat=0.0, name="pt"):
    return SkyModel(PointSpatialModel(lon_0=lon, lat_0=lat, frame="galactic"),
                    PowerLawSpectralModel(amplitude=amplitude), name=name)


def _parts(ds):
    return {"counts": ds.counts, "exposure": ds.exposure, "background": ds.background}


def _with(ds, **over):
    kwargs = {**_parts(ds), "psf": ds.psf, "edisp": ds.edisp, "name": ds.name, **over}
    return MapDataset(**kwargs)


def _filled(m, index, value, dtype=float):
    data = np.array(m.data, dtype=dtype)
    data[index] = value
    return Map(m.geom, data, m.unit)


# -- geometry ----------------------------------------
def test_disagreeing_shapes_and_grids():
    ds = _ds()
    geom = ds.counts.geom
    wider = WcsGeom.create((0, 0), "galactic", 0.1, (13, 10), axes=geom.axes)
    shifted = WcsGeom.create((0.3, 0), "galactic", 0.1, (12, 10), axes=geom.axes)
    icrs = WcsGeom.create((0, 0), "icrs", 0.1, (12, 10), axes=ds.exposure.geom.axes)
    other_e = geom.with_axes([MapAxis.from_energy_edges([0.2, 1.0, 10.0])])
    with pytest.raises(ValueError, match=r"BACKGROUND shape \(2, 10, 13\) differs from COUNTS"):
        _with(ds, background=Map(wider, np.ones(wider.data_shape)))
    with pytest.raises(ValueError, match=r"BACKGROUND sky grid is not aligned with COUNTS"):
        _with(ds, background=Map(shifted, np.ones(shifted.data_shape)))
    with pytest.raises(ValueError, match=r"BACKGROUND energy axis .* differs from COUNTS"):
        _with(ds, background=Map(other_e, np.ones(other_e.data_shape)))
    with pytest.raises(ValueError, match=r"EXPOSURE sky grid WcsGeom.icrs.* is not aligned"):
        _with(ds, exposure=Map(icrs, np.ones(icrs.data_shape), "cm2 s"))
    with pytest.raises(ValueError, match=r"MASK_SAFE sky grid is not aligned"):
        _with(ds, mask_safe=Map(shifted, np.ones(shifted.data_shape, bool)))
    one_bin = geom.with_axes([MapAxis.from_energy_edges([0.1, 10.0])])
    with pytest.raises(ValueError, match=r"MASK_FIT shape \(1, 10, 12\) differs from COUNTS"):
        _with(ds, mask_fit=Map(one_bin, np.ones(one_bin.data_shape, bool)))
    with pytest.raises(ValueError, match=r"COUNTS must have exactly one non-spatial axis named "
                                         r"'energy', got \[\]"):
        _with(ds, counts=Map(geom.to_image(), np.zeros(geom.data_shape[1:])))


def test_masks_assigned_later_are_checked():
    ds = _ds()
    with pytest.raises(ValueError, match=r"MASK_FIT must be boolean .* or 0/1"):
        ds.mask_fit = Map(ds.counts.geom, np.full(ds.counts.data.shape, 0.5))
    with pytest.raises(TypeError, match=r"MASK_SAFE must be a skyfit.maps.Map"):
        ds.mask_safe = np.ones(ds.counts.data.shape, bool)
    ds.mask_fit = Map(ds.counts.geom.to_image(), np.ones(ds.counts.data.shape[1:], int))
    assert ds.mask_fit.data.dtype == bool and ds.mask.all()


def test_energy_axes_that_do_not_match_the_irfs():
    ds = _ds()
    ds.edisp = None
    ds.models = [_point()]
    with pytest.raises(ValueError, match=r"has no energy dispersion but its true-energy axis "
                                         r"\(3 bins\) differs .* add an EDISP"):
        ds.npred()
    with pytest.raises(TypeError, match=r"psf must be a PSFMap / RecoPSFMap"):
        _with(ds, psf="gauss")
    with pytest.raises(TypeError, match=r"edisp must be a EDispKernelMap / EDispMap"):
        _with(ds, edisp=np.eye(3))


@pytest.mark.parametrize("edges, match", [
    ([1.0, 0.5, 2.0], "edges must increase strictly"),
    ([1.0, 1.0, 2.0], "edges must increase strictly"),
    ([-1.0, 1.0, 2.0], "log axis needs positive edges"),
    ([np.nan, 1.0, 2.0], "edges must be finite"),
    ([1.0], "need at least two edges"),
    ([[1.0, 2.0], [3.0, 4.0]], "edges must be 1-D"),
])
def test_bad_axis_edges(edges, match):
    with pytest.raises(ValueError, match=f"axis 'energy': {match}"):
        MapAxis.from_energy_edges(edges)


def test_bad_axis_unit_interp_and_geometry():
    with pytest.raises(ValueError, match=r"axis 'energy': invalid unit 'foo'"):
        MapAxis.from_energy_edges([1, 2], unit="foo")
    with pytest.raises(ValueError, match=r"interp must be one of"):
        MapAxis([1, 2], interp="cubic")
    with pytest.raises(ValueError, match=r"frame must be 'icrs' or 'galactic', got 'fk5'"):
        WcsGeom.create((0, 0), frame="fk5", npix=(3, 3))
    with pytest.raises(ValueError, match=r"binsz must be a positive number"):
        WcsGeom.create((0, 0), binsz=0.0, npix=(3, 3))
    with pytest.raises(ValueError, match=r"npix must be at least \(1, 1\)"):
        WcsGeom.create((0, 0), npix=(0, 3))


def test_source_far_outside_the_map_warns_and_adds_nothing():
    ds = _ds()
    background = ds.npred()
    ds.models = [_point(lon=40.0, lat=30.0)]
    with pytest.warns(UserWarning, match=r"source 'pt' at .* outside dataset 'synthetic': it "
                                         r"contributes nothing there"):
        npred = ds.npred()
    np.testing.assert_array_equal(npred, background)


def test_source_just_outside_the_map_contributes_through_the_psf():
    ds = _ds()
    background = ds.npred()
    ds.models = [_point(lon=0.7)]  # the map ends at lon 0.6 deg; PSF sigma ~0.1-0.2 deg
    extra = ds.npred() - background
    assert np.all(extra >= 0) and extra.sum() > 0
    assert extra[..., 0].sum() > 100 * extra[..., -1].sum()  # lon decreases with x


# -- values ----------------------------------------
@pytest.mark.parametrize("part, value, match", [
    ("counts", np.nan, r"COUNTS has 1 NaN/inf values \(first at index \(1, 2, 3\)\)"),
    ("counts", np.inf, "COUNTS has 1 NaN/inf"),
    ("counts", -1.0, "COUNTS has negative values"),
    ("counts", 0.5, "COUNTS has non-integer values"),
    ("exposure", np.nan, "EXPOSURE has 1 NaN/inf"),
    ("exposure", -np.inf, "EXPOSURE has 1 NaN/inf"),
    ("exposure", -1.0, "EXPOSURE has 1 negative values"),
    ("background", np.nan, "BACKGROUND has 1 NaN/inf"),
    ("background", np.inf, "BACKGROUND has 1 NaN/inf"),
    ("background", -1e-3, "BACKGROUND has 1 negative values"),
])
def test_bad_values(part, value, match):
    ds = _ds()
    bad = _filled(getattr(ds, part), (1, 2, 3), value)
    with pytest.raises(ValueError, match=f"dataset 'synthetic': {match}"):
        _with(ds, **{part: bad})


@pytest.mark.parametrize("part, unit, match", [
    ("counts", "cm2", "COUNTS holds numbers of events and must be unit-less"),
    ("background", "s", "BACKGROUND holds numbers of events"),
    ("exposure", "", "EXPOSURE has no unit; give it an area x time unit"),
    ("exposure", "s", "EXPOSURE unit 's' is not an area x time"),
])
def test_wrong_units(part, unit, match):
    ds = _ds()
    m = getattr(ds, part)
    with pytest.raises(ValueError, match=match):
        _with(ds, **{part: Map(m.geom, m.data, unit)})


@pytest.mark.parametrize("data, error", [
    (np.zeros((2, 10, 12), complex), "unsupported dtype complex128"),
    (np.full((2, 10, 12), "1"), "unsupported dtype <U1"),
])
def test_unsupported_count_types(data, error):
    ds = _ds()
    with pytest.raises(TypeError, match=error):
        _with(ds, counts=Map(ds.counts.geom, data))
    with pytest.raises(TypeError, match=r"COUNTS must be a skyfit.maps.Map .* got ndarray"):
        _with(ds, counts=np.zeros((2, 10, 12)))


def test_zero_exposure_region_predicts_background_only():
    ds = _ds()
    exposure = np.array(ds.exposure.data)
    exposure[..., :6] = 0.0  # the left half of the map was never observed
    ds = _with(ds, exposure=Map(ds.exposure.geom, exposure, "cm2 s"), psf=None)
    ds.models = [SkyModel(GaussianSpatialModel(lon_0=0.0, lat_0=0.0, sigma=0.3,
                                               frame="galactic"),
                          PowerLawSpectralModel(amplitude=1e-11), name="g")]
    npred = ds.npred()
    # without a PSF (a 1/3-pixel Gaussian) nothing goes 2 pixels into the unobserved half
    np.testing.assert_allclose(npred[..., :4], ds.background.data[..., :4], rtol=1e-9)
    assert np.all(npred[..., 7:] > 10 * ds.background.data[..., 7:])
    assert math.isfinite(ds.stat_sum())


def test_everything_masked_warns_and_adds_nothing():
    ds = _ds()
    ds.counts = Map(ds.counts.geom, np.ones(ds.counts.data.shape))
    ds.mask_safe = Map(ds.counts.geom, np.zeros(ds.counts.data.shape, bool))
    with pytest.warns(UserWarning, match=r"mask_safe & mask_fit exclude every bin"):
        assert ds.stat_sum() == 0.0


def test_counts_with_zero_prediction_use_gammapy_floor():
    """A bin with n counts and npred = 0 costs 2 (1e-25 - n ln 1e-25) ~ 115.13 n, finite."""
    ds = _ds()
    counts = np.zeros(ds.counts.data.shape)
    counts[0, 0, 0], counts[1, 2, 3] = 3, 1
    ds = _with(ds, counts=Map(ds.counts.geom, counts), background=None)
    stat = ds.stat_array()
    expected = 2 * (TRUNCATION_VALUE - counts * np.log(TRUNCATION_VALUE))
    np.testing.assert_allclose(stat, expected, rtol=1e-12)
    assert stat[0, 0, 0] == pytest.approx(6 * 25 * np.log(10), rel=1e-12)
    assert math.isfinite(ds.stat_sum())


def test_negative_prediction_is_an_error_not_a_floored_number():
    ds = _ds()
    ds.models = [_point(amplitude=-1e-10)]
    assert ds.npred().min() < 0  # visible to the user as it is
    with pytest.raises(ValueError, match=r"predict negative counts in \d+ bins .* bound it "
                                         r"with min=0"):
        ds.stat_sum()
    with pytest.raises(ValueError, match=r"cannot simulate counts, the models predict negative"):
        ds.fake(random_seed=1)


@pytest.mark.parametrize("spatial, match", [
    (GaussianSpatialModel(lon_0=0, lat_0=0, sigma=0.0, frame="galactic"), r"g\.sigma=0"),
    (DiskSpatialModel(lon_0=0, lat_0=0, r_0=0.0, frame="galactic"), r"g\.r_0=0"),
])
def test_degenerate_shapes_give_an_error_naming_the_parameter(spatial, match):
    ds = _ds()
    ds.models = [SkyModel(spatial, PowerLawSpectralModel(), name="g")]
    with pytest.raises(ValueError, match=f"npred has 240 NaN/inf values.*{match}"):
        ds.npred()


def test_parameter_bounds():
    with pytest.raises(ValueError, match=r"parameter 'x': min \(2.0\) is larger than max"):
        Parameter("x", 1, min=2, max=1)
    # values outside the bounds, and bounds set later, are accepted one at a time (as in
    # Gammapy) but refused by predictions
    ds = _ds()
    model = _point()
    model.spatial_model.parameters["lat_0"].value = 100.0
    model.spectral_model.parameters["index"].value = math.nan
    model.spectral_model.parameters["amplitude"].min = 1.0
    model.spectral_model.parameters["amplitude"].max = 0.0
    ds.models = [model]
    with pytest.raises(ValueError, match=r"pt\.index = nan is not finite; pt\.amplitude has "
                                         r"min 1 > max 0; pt\.lat_0 = 100 is outside its "
                                         r"bounds \[-90, 90\]"):
        ds.npred()


def test_model_construction_errors():
    with pytest.raises(TypeError, match=r"has no parameter\(s\) \['indx'\]"):
        PowerLawSpectralModel(indx=2.0)
    with pytest.raises(ValueError, match=r"'amplitude' has unit 'TeV', which cannot be "
                                         r"converted"):
        PowerLawSpectralModel(amplitude=Parameter("amplitude", 1.0, "TeV"))
    with pytest.raises(ValueError, match=r"parameter 'x': invalid unit 'foo'"):
        Parameter("x", 1.0, "foo")
    with pytest.raises(ValueError, match=r"model names must be unique: .* 'pt'"):
        Models([_point(), _point()])
    with pytest.raises(KeyError, match=r"no parameter 'amplitud'.*did you mean one of "
                                       r"\['pt.amplitude'\]"):
        Models([_point()]).parameter("amplitud")
    ds = _ds()
    ds.models = [SkyModel(None, PowerLawSpectralModel(), name="x")]
    with pytest.raises(ValueError, match=r"model 'x' has no spatial part"):
        ds.npred()


def test_background_model_for_a_dataset_that_does_not_exist():
    models = Models([_point(), FoVBackgroundModel("synthetc")])
    with pytest.raises(ValueError, match=r"component 'synthetc-bkg' applies to dataset\(s\) "
                                         r"\['synthetc'\], which are not among the datasets"):
        models.check_datasets(["synthetic"])
    ds = _ds()
    with pytest.warns(UserWarning, match=r"no FoVBackgroundModel applies to it .*'synthetc'"):
        ds.models = models
    models.check_datasets(["synthetic", "synthetc"])  # fine when it exists


def test_every_parameter_frozen_numpy_path():
    ds = _ds()
    models = Models([_point()])
    for par in models.parameters:
        par.frozen = True
    ds.models = models
    assert math.isfinite(ds.stat_sum())


# -- the compiled likelihood (forward/, owned elsewhere): wanted behaviour -------------------
def test_likelihood_with_every_parameter_frozen():
    models = Models([_point()])
    for par in models.parameters:
        par.frozen = True
    value, grad = Likelihood([_ds()], models).value_and_grad()
    assert math.isfinite(value) and grad.shape == (0,)


def test_likelihood_refuses_background_model_of_unknown_dataset():
    with pytest.raises(ValueError, match=r"synthetc"):
        Likelihood([_ds()], Models([_point(), FoVBackgroundModel("synthetc")]))


# -- data safety ----------------------------------------
def test_inputs_are_not_changed():
    ds = _ds()
    exposure_m2 = Map(ds.exposure.geom, ds.exposure.data / 1e4, "m2 s")
    mask = Map(ds.counts.geom, np.ones(ds.counts.data.shape, int))
    inputs = {"counts": ds.counts, "exposure": exposure_m2, "background": ds.background,
              "mask_fit": mask}
    saved = {k: (m.data.copy(), m.unit) for k, m in inputs.items()}
    models = Models([_point(), FoVBackgroundModel("synthetic")])
    before = copy.deepcopy(models.to_dict())
    new = _with(ds, **inputs)
    new.models = models
    new.npred()
    new.stat_sum()
    new.fake(random_seed=3)
    like = Likelihood([new], models)
    like.npred(like.current_theta() * 1.1)
    for key, m in inputs.items():
        np.testing.assert_array_equal(m.data, saved[key][0])
        assert m.unit == saved[key][1] and m.data.dtype == saved[key][0].dtype
    assert models.to_dict() == before
    assert new.counts is not ds.counts  # fake() replaced the map, not the caller's array


# -- determinism ----------------------------------------
def test_same_seed_same_simulation():
    a, b = _ds(), _ds()
    for ds in (a, b):
        ds.models = [_point(amplitude=3e-12)]
        ds.fake(random_seed=42)
    np.testing.assert_array_equal(a.counts.data, b.counts.data)
    np.testing.assert_array_equal(a.exposure.data, b.exposure.data)
    a.fake(random_seed=43)
    assert not np.array_equal(a.counts.data, b.counts.data)
    a.fake(random_seed=np.random.default_rng(42))
    np.testing.assert_array_equal(a.counts.data, b.counts.data)


def test_same_inputs_bit_identical_statistic():
    ds = _ds()
    ds.models = Models([_point(), FoVBackgroundModel("synthetic")])
    ds.fake(random_seed=0)
    assert ds.stat_sum() == ds.stat_sum()
    np.testing.assert_array_equal(ds.npred(), ds.npred())
    one = Likelihood([ds], ds.models).value_and_grad()
    two = Likelihood([ds], ds.models).value_and_grad()
    assert one[0] == two[0]
    np.testing.assert_array_equal(one[1], two[1])


def test_likelihood_negative_prediction_is_floored_and_reported():
    """As Gammapy, the compiled statistic floors npred at 1e-25 (so optimisers can cross
    negative predictions); ``min_npred`` reports them, and MapFit fails a fit ending there
    (tests/test_reliability_fit.py)."""
    ds = _ds()
    models = Models([_point(amplitude=-1e-10)])
    like = Likelihood([ds], models)
    assert math.isfinite(like.value())
    assert like.min_npred() < 0
