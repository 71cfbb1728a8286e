"""Spatial models: Gammapy parity, normalisation on the sphere, numpy/PyTensor parity, gradients."""

from __future__ import annotations

import functools
import math
import warnings

import numpy as np
import pytest

from skyfit.models.spatial import (
    SPATIAL_MODELS,
    ConstantSpatialModel,
    DiskSpatialModel,
    GaussianSpatialModel,
    GeneralizedGaussianSpatialModel,
    PointSpatialModel,
    Shell2SpatialModel,
    ShellSpatialModel,
    TemplateSpatialModel,
    spatial_model_from_tag,
)
from skyfit.models.spatial.sphere import angular_separation, position_angle

G, GG, D = GaussianSpatialModel, GeneralizedGaussianSpatialModel, DiskSpatialModel
S, S2 = ShellSpatialModel, Shell2SpatialModel

# id -> (class, parameter values, scale (deg) of the emission for the position grid)
CASES = {
    "gauss": (G, dict(lon_0=10.0, lat_0=-5.0, sigma=0.5), 0.5),
    "gauss-ell": (G, dict(lon_0=83.6, lat_0=22.0, sigma=0.4, e=0.6, phi=30.0), 0.4),
    "gauss-ell-lat80": (G, dict(lon_0=40.0, lat_0=80.0, sigma=1.0, e=0.3, phi=-50.0), 1.0),
    "gauss-wrap": (G, dict(lon_0=359.9, lat_0=0.5, sigma=0.3), 0.3),
    "gengauss": (GG, dict(lon_0=5.0, lat_0=1.0, r_0=0.5, eta=0.3), 0.5),
    "gengauss-ell": (GG, dict(lon_0=120.0, lat_0=-40.0, r_0=0.4, eta=0.7, e=0.5, phi=120.0), 0.4),
    "gengauss-lat80": (GG, dict(lon_0=200.0, lat_0=80.0, r_0=0.8, eta=0.5, e=0.2, phi=10.0), 0.8),
    "disk": (D, dict(lon_0=30.0, lat_0=10.0, r_0=0.5, edge_width=0.05), 0.5),
    "disk-ell": (D, dict(lon_0=300.0, lat_0=-30.0, r_0=1.0, e=0.5, phi=45.0, edge_width=0.05), 1.0),
    "disk-ell-lat80": (D, dict(lon_0=0.0, lat_0=80.0, r_0=0.7, e=0.8, phi=-20.0, edge_width=0.1),
                       0.7),
    "disk-wrap": (D, dict(lon_0=359.9, lat_0=-0.2, r_0=0.3, edge_width=0.05), 0.3),
    "shell": (S, dict(lon_0=266.4, lat_0=-29.0, radius=0.5, width=0.2), 0.7),
    "shell-lat80": (S, dict(lon_0=10.0, lat_0=80.0, radius=1.0, width=0.3), 1.3),
    "shell2": (S2, dict(lon_0=180.0, lat_0=45.0, r_0=0.8, eta=0.3), 0.8),
    "constant": (ConstantSpatialModel, dict(value=2.5), 1.0),
}
ANALYTIC = [k for k in CASES]
GRAD_AT = (0.25, 0.55, 0.83, 0.97, 1.01, 1.05, 1.6)  # distances (in scale) for gradients
# parameters whose gradient is checked (e needs e > 0: Gammapy's normalisation jumps at e = 0)
GRAD_SKIP = {"e": lambda pars: pars.get("e", 0.0) == 0.0}


def destination(lon_0, lat_0, theta, psi):
    """Position (deg) at angular distance ``theta`` and position angle ``psi`` (deg)."""
    lon_0, lat_0, theta, psi = (np.deg2rad(v) for v in (lon_0, lat_0, theta, psi))
    sin_lat = np.sin(lat_0) * np.cos(theta) + np.cos(lat_0) * np.sin(theta) * np.cos(psi)
    lat = np.arcsin(np.clip(sin_lat, -1, 1))
    dlon = np.arctan2(np.sin(psi) * np.sin(theta) * np.cos(lat_0),
                      np.cos(theta) - np.sin(lat_0) * sin_lat)
    return np.rad2deg(lon_0 + dlon) % 360.0, np.rad2deg(lat)


def grid_positions(pars, scale, n_theta=13, n_psi=12, fractions=None):
    """Positions at distances ``fractions * scale`` (default: 0 to 2.5) and ``n_psi`` angles."""
    lon_0, lat_0 = pars.get("lon_0", 0.0), pars.get("lat_0", 0.0)
    if fractions is None:
        fractions = np.linspace(0.0, 2.5, n_theta)
    theta = scale * np.asarray(fractions, dtype=float)[:, None]
    psi = np.linspace(0.0, 360.0, n_psi, endpoint=False)[None, :] + 7.0
    return destination(lon_0, lat_0, theta + 0 * psi, psi + 0 * theta)


def gammapy_model(cls, pars):
    """The Gammapy model of the same name with the same parameter values."""
    import astropy.units as u

    gm = pytest.importorskip("gammapy.modeling.models")
    units = {p.name: p.unit for p in cls.default_parameters}
    return getattr(gm, cls.__name__)(**{k: v * u.Unit(units[k]) for k, v in pars.items()})


def model_and_values(case):
    """(class, canonical parameter values, scale in deg) of a table entry."""
    cls, pars, scale = CASES[case]
    return cls, cls(**pars).canonical_values(), scale


# --- Gammapy parity -------------------------------------------------------------------


@pytest.mark.gammapy
@pytest.mark.parametrize("case", ANALYTIC)
def test_evaluate_matches_gammapy(case):
    pytest.importorskip("gammapy")
    import astropy.units as u

    cls, values, scale = model_and_values(case)
    lon, lat = grid_positions(CASES[case][1], scale)
    ours = np.broadcast_to(cls.evaluate(lon, lat, **values), lon.shape)
    ref_model = gammapy_model(cls, CASES[case][1])
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        ref = ref_model(lon * u.deg, lat * u.deg).to_value("sr-1")
    ref = np.broadcast_to(ref, lon.shape)
    peak = np.max(np.abs(ref))
    # erfc vs Gammapy's 1 - erf in the disk's far tail: absolute level 1e-16 of the peak
    np.testing.assert_allclose(ours, ref, rtol=1e-8, atol=1e-15 * peak)


@pytest.mark.gammapy
def test_step_disk_matches_gammapy_off_edge():
    pytest.importorskip("gammapy")
    import astropy.units as u

    pars = dict(lon_0=20.0, lat_0=60.0, r_0=0.5, e=0.4, phi=70.0, edge_width=0.0)
    lon, lat = grid_positions(pars, 0.5, n_theta=17)
    ours = D.evaluate(lon, lat, **D(**pars).canonical_values())
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        ref = gammapy_model(D, pars)(lon * u.deg, lat * u.deg).to_value("sr-1")
    ok = np.isfinite(ref)  # Gammapy gives 0/0 exactly on the edge
    assert ok.sum() > 0.9 * ok.size
    np.testing.assert_allclose(ours[ok], ref[ok], rtol=1e-8, atol=0)
    assert set(np.unique(ours / ours.max())) <= {0.0, 0.5, 1.0}


@pytest.mark.gammapy
@pytest.mark.parametrize("cls", sorted(set(SPATIAL_MODELS.values()), key=lambda c: c.tag))
def test_tags_and_default_parameters_match_gammapy(cls):
    gm = pytest.importorskip("gammapy.modeling.models")
    import astropy.units as u

    ref_cls = getattr(gm, cls.__name__)
    assert [cls.tag, *cls.aliases] == list(ref_cls.tag)
    ref = ref_cls.default_parameters
    assert [p.name for p in cls.default_parameters] == ref.names
    for ours, theirs in zip(cls.default_parameters, ref, strict=True):
        assert u.Unit(ours.unit) == theirs.unit, ours.name
        np.testing.assert_equal([ours.value, ours.min, ours.max],
                                [theirs.value, theirs.min, theirs.max])
        assert ours.frozen == theirs.frozen, ours.name


# --- normalisation on the sphere --------------------------------------------------------


def sphere_integral(cls, values, theta_max, breaks=(), n_panels=600, n_psi=256):
    """Integral over the sphere in a polar frame around the centre (exact sin(theta) weight)."""
    lon_0, lat_0 = values.get("lon_0", 0.0), values.get("lat_0", 0.0)
    edges = np.unique(np.concatenate([np.linspace(0, theta_max, n_panels + 1), breaks]))
    x, w = np.polynomial.legendre.leggauss(6)
    half = 0.5 * np.diff(edges)[:, None]
    theta = ((edges[:-1, None] + edges[1:, None]) / 2 + half * x).ravel()
    w_theta = (half * w).ravel() * np.sin(np.deg2rad(theta)) * np.deg2rad(1.0)
    psi = (np.arange(n_psi) + 0.5) * 360.0 / n_psi
    lon, lat = destination(lon_0, lat_0, theta[:, None], psi[None, :])
    value = np.broadcast_to(cls.evaluate(lon, lat, **values), lon.shape)
    return float(np.sum(value * w_theta[:, None]) * 2 * np.pi / n_psi)


NORM_CASES = {
    **{k: CASES[k] for k in ANALYTIC if k != "constant"},
    "gauss-30deg": (G, dict(lon_0=0.0, lat_0=0.0, sigma=30.0), 30.0),
    "gauss-20deg-lat80": (G, dict(lon_0=0.0, lat_0=80.0, sigma=20.0), 20.0),
    "gauss-ell-tiny": (G, dict(lon_0=0.0, lat_0=0.0, sigma=0.01, e=0.9, phi=10.0), 0.01),
    "disk-40deg-ell": (D, dict(lon_0=0.0, lat_0=-70.0, r_0=40.0, e=0.6, edge_width=0.01), 40.0),
    "gengauss-laplace": (GG, dict(lon_0=0.0, lat_0=0.0, r_0=0.3, eta=1.0), 0.3),
}


@pytest.mark.parametrize("case", list(NORM_CASES))
def test_integrates_to_one_on_sphere(case):
    cls, pars, _ = NORM_CASES[case]
    model = cls(**pars)
    radii = [pars.get(k, 0.0) for k in ("radius", "r_0")]
    breaks = [r for r in (*radii, pars.get("radius", 0.0) + pars.get("width", 0.0)) if r]
    if cls is S2:
        breaks.append((1 - pars["eta"]) * pars["r_0"])
    theta_max = min(180.0, 2.0 * model.evaluation_radius)
    total = sphere_integral(cls, model.canonical_values(), theta_max, breaks)
    assert abs(total - 1.0) < 1e-3, total


def test_constant_integrates_to_value_times_4pi():
    total = sphere_integral(ConstantSpatialModel, {"value": 1 / (4 * np.pi)}, 180.0)
    assert total == pytest.approx(1.0, rel=1e-10)


def test_large_gaussian_normalisation_is_exact_on_sphere():
    model = G(sigma=60.0)
    total = sphere_integral(G, model.canonical_values(), 180.0, n_panels=400, n_psi=8)
    assert total == pytest.approx(1.0, rel=1e-10)


def test_large_generalized_gaussian_keeps_gammapy_planar_normalisation():
    """Gammapy's generalised Gaussian is normalised on the plane: large ones fall short."""
    model = GG(r_0=15.0, eta=0.5)
    total = sphere_integral(GG, model.canonical_values(), 180.0, n_panels=400, n_psi=8)
    assert 0.9 < total < 1.0 - 1e-3


# --- numpy / PyTensor parity and gradients ---------------------------------------------


def _symbolic(cls, values, lon, lat):
    fn = _compiled(cls, tuple(values))
    return lambda w, vals: fn(lon, lat, w, *[vals[n] for n in values])


@functools.cache
def _compiled(cls, names):
    """Compiled (lon, lat, weights, *pars) -> (values, *d sum(weights * values) / d pars)."""
    import pytensor
    import pytensor.tensor as pt

    symbols = {name: pt.dscalar(name) for name in names}
    lon_t, lat_t, weights = pt.dvector("lon"), pt.dvector("lat"), pt.dvector("w")
    value = cls.evaluate(lon_t, lat_t, **symbols)
    value = value + pt.zeros_like(lon_t)
    total = pt.sum(weights * value)
    grads = pytensor.grad(total, [symbols[n] for n in names])
    return pytensor.function([lon_t, lat_t, weights, *symbols.values()], [value, *grads])


@pytest.mark.parametrize("case", ANALYTIC)
def test_pytensor_matches_numpy_and_gradients_match_finite_differences(case):
    cls, values, scale = model_and_values(case)
    pars = CASES[case][1]
    # off the centre (a cusp for shells and eta > 1/2), off the shells' radii, and through
    # the disks' smooth edges
    lon, lat = (c.ravel() for c in grid_positions(pars, scale, n_psi=5, fractions=GRAD_AT))
    weights = np.random.default_rng(1).uniform(0.5, 1.5, lon.size)
    fn = _symbolic(cls, values, lon, lat)
    value, *grads = fn(weights, values)
    expected = np.broadcast_to(cls.evaluate(lon, lat, **values), lon.shape)
    # (these positions sample the disks' steep edges, which amplify the rounding of the
    # separation by k / (edge_width r_0) ~ 1e4: parity at 1e-12 is checked elsewhere)
    np.testing.assert_allclose(value, expected, rtol=1e-11, atol=1e-14 * np.max(expected))

    def total(vals):
        return float(np.sum(weights * cls.evaluate(lon, lat, **vals)))

    for name, grad in zip(values, grads, strict=True):
        if name in GRAD_SKIP and GRAD_SKIP[name](pars):
            continue
        step = 1e-6  # deg for angles (well below the disks' edge widths), else absolute
        up = dict(values, **{name: values[name] + step})
        down = dict(values, **{name: values[name] - step})
        fd = (total(up) - total(down)) / (2 * step)
        scale_grad = abs(total(values)) / max(scale, 1.0) * 1e-7
        np.testing.assert_allclose(grad, fd, rtol=1e-4, atol=scale_grad, err_msg=name)


@pytest.mark.parametrize("case", ANALYTIC)
def test_symbolic_positions_with_float_parameters_match_numpy(case):
    """PyTensor makes float32 constants of floats like 0.75: results must not lose precision."""
    import pytensor
    import pytensor.tensor as pt

    cls, values, scale = model_and_values(case)
    lon, lat = (c.ravel() for c in grid_positions(CASES[case][1], scale))
    lon_t, lat_t = pt.dvector("lon"), pt.dvector("lat")
    value = cls.evaluate(lon_t, lat_t, **values) + pt.zeros_like(lon_t)
    assert value.dtype == "float64"
    got = pytensor.function([lon_t, lat_t], value)(lon, lat)
    expected = cls.evaluate(lon, lat, **values)
    # atol: near lon = 360 deg the disks' steep edges amplify the last-bit differences of
    # numpy's and the C library's sin/cos to ~1e-11 relative (1e-14 of the peak)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-13 * np.max(expected))


@pytest.mark.parametrize("case", ["gauss-ell", "gengauss-ell", "disk-ell", "shell", "shell2"])
def test_gradient_is_finite_at_the_centre(case):
    cls, values, _ = model_and_values(case)
    lon = np.array([values["lon_0"], values["lon_0"] + 0.01])
    lat = np.array([values["lat_0"], values["lat_0"]])
    value, *grads = _symbolic(cls, values, lon, lat)(np.ones(2), values)
    assert np.all(np.isfinite(value)) and np.all(np.isfinite(grads))


# --- geometry, wrap-around, high latitude, contract ------------------------------------


def test_sphere_functions_match_astropy():
    from astropy.coordinates import angular_separation as sep_ref
    from astropy.coordinates import position_angle as pa_ref

    rng = np.random.default_rng(0)
    lon1, lon2 = rng.uniform(0, 2 * np.pi, (2, 50))
    lat1, lat2 = rng.uniform(-np.pi / 2, np.pi / 2, (2, 50))
    np.testing.assert_allclose(angular_separation(lon1, lat1, lon2, lat2),
                               sep_ref(lon1, lat1, lon2, lat2), rtol=1e-13)
    pa = position_angle(lon1, lat1, lon2, lat2) % (2 * np.pi)
    np.testing.assert_allclose(pa, np.asarray(pa_ref(lon1, lat1, lon2, lat2)), rtol=1e-13)


@pytest.mark.parametrize("case", ["gauss-ell", "gengauss", "disk", "shell"])
def test_longitude_wraps(case):
    cls, values, _ = model_and_values(case)
    lon = np.array([0.1, 359.95, -0.3])
    lat = np.array([0.0, 0.1, -0.1])
    a = cls.evaluate(lon, lat, **dict(values, lon_0=359.9, lat_0=0.0))
    b = cls.evaluate(lon + 360.0, lat, **dict(values, lon_0=-0.1, lat_0=0.0))
    np.testing.assert_allclose(a, b, rtol=1e-10)
    assert np.all(a > 0)


def test_high_latitude_is_symmetric_across_the_pole():
    values = G(lon_0=0.0, lat_0=80.0, sigma=5.0).canonical_values()
    near = G.evaluate(180.0, 85.0, **values)  # 15 deg away, over the pole
    same = G.evaluate(0.0, 65.0, **values)  # 15 deg away, south
    assert near == pytest.approx(same, rel=1e-12)


def test_contract_frame_point_radius():
    assert PointSpatialModel(frame="galactic").frame == "galactic"
    assert [c.is_point for c in (PointSpatialModel, G, D)] == [True, False, False]
    with pytest.raises(NotImplementedError, match="PSF"):
        PointSpatialModel.evaluate(0.0, 0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="frame"):
        G(frame="fk5")
    assert G(sigma=0.2).evaluation_radius == pytest.approx(1.0)
    assert D(r_0=1.0, edge_width=0.1).evaluation_radius == pytest.approx(1.21)
    assert S(radius=1.0, width=0.5).evaluation_radius == pytest.approx(1.5)
    assert math.isinf(ConstantSpatialModel().evaluation_radius)


def test_registry():
    assert spatial_model_from_tag("gauss") is G
    assert spatial_model_from_tag("DiskSpatialModel") is D
    assert SPATIAL_MODELS["template"] is TemplateSpatialModel
    with pytest.raises(ValueError, match=r"known:.*PointSpatialModel"):
        spatial_model_from_tag("Nope")


# --- templates ----------------------------------------------------------------------------


def _toy_wcs(frame="galactic"):
    from astropy.wcs import WCS

    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["GLON-CAR", "GLAT-CAR"] if frame == "galactic" else ["RA---TAN", "DEC--TAN"]
    wcs.wcs.cdelt = [-0.1, 0.1]
    wcs.wcs.crpix = [6.0, 4.5]
    wcs.wcs.crval = [10.0, 20.0]
    return wcs


def test_template_image_interpolates_and_normalises():
    rng = np.random.default_rng(3)
    data = rng.uniform(1.0, 2.0, (8, 11))
    model = TemplateSpatialModel(data, _toy_wcs("icrs"), normalize=True)
    assert model.frame == "icrs" and model.unit == "sr-1" and not model.is_energy_dependent
    assert np.sum(model.data * model.solid_angle) == pytest.approx(1.0, rel=1e-12)
    # pixel centres give the (normalised) pixel values; log-linear in between
    y, x = np.mgrid[0:8, 0:11]
    lon, lat = model.wcs.wcs_pix2world(x, y, 0)
    np.testing.assert_allclose(model.evaluate_at(lon, lat), model.data, rtol=1e-10)
    mid = model.wcs.wcs_pix2world([[2.5, 3.0]], 0)[0]
    expected = np.sqrt(model.data[3, 2] * model.data[3, 3])
    assert model.evaluate_at(*mid) == pytest.approx(expected, rel=1e-8)
    # far outside the map: 0; lon_0/lat_0 default to the map centre and shift the map
    assert model.evaluate_at(lon[0, 0] + 5.0, lat[0, 0]) == 0.0
    assert model.parameters["lon_0"].frozen
    shifted = TemplateSpatialModel(data, _toy_wcs("icrs"),
                                   lon_0=model.map_center[0] + 0.1, lat_0=model.map_center[1])
    assert shifted.evaluate_at(lon[4, 5] + 0.1, lat[4, 5]) == pytest.approx(
        model.evaluate_at(lon[4, 5], lat[4, 5]), rel=1e-6)


def test_template_cube_needs_energy_and_interpolates_in_log_energy():
    data = np.stack([np.full((8, 11), 4.0), np.full((8, 11), 1.0)])
    model = TemplateSpatialModel(data, _toy_wcs(), energy=np.array([1.0, 10.0]), unit="sr-1",
                                 normalize=False)
    lon, lat = model.map_center
    with pytest.raises(ValueError, match="energy"):
        model.evaluate_at(lon, lat)
    values = model.evaluate_at(lon, lat, energy=np.array([1.0, np.sqrt(10.0), 10.0, 1e3]))
    np.testing.assert_allclose(values, [4.0, 2.0, 1.0, 0.0], rtol=1e-12)


@pytest.mark.data
@pytest.mark.parametrize("normalize", [True, False])
def test_template_reads_fermi_iem_cube(crab_dir, normalize):
    model = TemplateSpatialModel.read(crab_dir / "Fermi-LAT-3FHL_iem.fits", normalize=normalize)
    assert model.frame == "galactic" and model.data.shape == (30, 32, 40)
    assert model.evaluation_radius == pytest.approx(2.5)
    # AXCOLS1 = ENERGY_TRUE: nodes (as Gammapy reads them), 58.47 MeV first
    assert model.energy.size == 30 and model.energy[0] == pytest.approx(5.8473e-5, rel=1e-4)
    if normalize:
        assert model.unit == "sr-1"
        np.testing.assert_allclose(np.sum(model.data * model.solid_angle, axis=(1, 2)), 1.0,
                                   rtol=1e-12)
    else:
        assert model.unit == "cm-2 s-1 TeV-1 sr-1"
    lon, lat = model.map_center
    assert model.evaluate_at(lon, lat, energy=1e-3) > 0


def _compare_template_with_gammapy(filename, normalize, rtol):
    import astropy.units as u
    from gammapy.modeling.models import TemplateSpatialModel as Ref

    ours = TemplateSpatialModel.read(filename, normalize=normalize)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = Ref.read(filename, normalize=normalize)
    np.testing.assert_allclose(ours.solid_angle, ref.map.geom.to_image().solid_angle().value,
                               rtol=1e-12)
    assert ours.map_center == pytest.approx((ref.lon_0.value, ref.lat_0.value), abs=1e-12)
    assert ours.frame == ref.frame
    assert ours.evaluation_radius == pytest.approx(ref.evaluation_radius.to_value("deg"))
    rng = np.random.default_rng(5)
    radius = ours.evaluation_radius
    lon = ours.map_center[0] + rng.uniform(-1.05, 1.05, 500) * radius
    lat = ours.map_center[1] + rng.uniform(-0.8, 0.8, 500) * radius
    args = [lon * u.deg, lat * u.deg]
    if ours.is_energy_dependent:
        energy = np.exp(rng.uniform(np.log(ours.energy[0] / 1.2), np.log(ours.energy[-1] * 1.2),
                                    500))
        args.append(energy * u.TeV)
    expected = ref(*args).to_value(ours.unit)
    got = ours.evaluate_at(lon, lat, None if len(args) == 2 else energy)
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=0)
    assert 10 < np.sum(expected == 0) < 0.5 * expected.size  # some fall outside


@pytest.mark.data
@pytest.mark.gammapy
@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize(("folder", "name"), [("crab_dir", "Fermi-LAT-3FHL_iem.fits"),
                                              ("gc_dir", "gll_iem_v06_gc.fits.gz")])
def test_fermi_template_matches_gammapy(request, folder, name, normalize):
    pytest.importorskip("gammapy")
    # Gammapy sums float32 planes in float32 when normalising (we sum in float64), and
    # log-interpolates the float32 data in float32 when not normalising
    filename = request.getfixturevalue(folder) / name
    _compare_template_with_gammapy(filename, normalize, rtol=1e-6 if normalize else 5e-6)


@pytest.mark.gammapy
@pytest.mark.parametrize("cube", [True, False])
@pytest.mark.parametrize("normalize", [True, False])
def test_gammapy_written_template_matches_gammapy(tmp_path, cube, normalize):
    pytest.importorskip("gammapy")
    from gammapy.maps import Map, MapAxis, WcsGeom

    axes = [MapAxis.from_energy_bounds("1 TeV", "100 TeV", 5, name="energy_true")] if cube else []
    geom = WcsGeom.create(skydir=(83.6, 22.0), npix=(30, 20), binsz=0.05, frame="icrs",
                          proj="TAN", axes=axes)
    data = np.random.default_rng(1).uniform(1.0, 3.0, geom.data_shape)
    unit = "cm-2 s-1 TeV-1 sr-1" if cube else "sr-1"
    Map.from_geom(geom, data=data, unit=unit).write(tmp_path / "template.fits")
    _compare_template_with_gammapy(tmp_path / "template.fits", normalize, rtol=1e-12)
