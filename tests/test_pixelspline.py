"""SplinePixels / SplinePixelsT: radial profiles summed over sub-pixels, every backend."""

from __future__ import annotations

import numpy as np
import pytest

from skyfit.forward.pixelspline import spline_pixels
from skyfit.forward.radial import RadialSpline
from skyfit.models.spatial.sphere import angular_separation, chord_length

K, SHAPE = 3, (4, 5)
P = SHAPE[0] * K * SHAPE[1] * K


def _spline():
    rad = np.linspace(0, 1, 41)
    return RadialSpline(rad, np.vstack([np.exp(-rad**2 / 0.02), np.exp(-rad / 0.3)]),
                        r_max=0.9, nodes=50)


def _graph():
    """A statistic of the op's output with a gradient and a Hessian-vector product."""
    import pytensor
    import pytensor.tensor as pt

    rng = np.random.default_rng(1)
    weight = rng.uniform(0.5, 1.5, P)
    r = pt.dvector("r")
    y = spline_pixels(_spline(), r, weight, K, SHAPE)
    stat = (y * rng.normal(size=(2, *SHAPE))).sum() + (y**2).sum()
    grad = pytensor.grad(stat, r)
    hvp = pytensor.grad((grad * np.linspace(1, 2, P)).sum(), r)
    return r, weight, [y, stat, grad, hvp]


@pytest.fixture(scope="module")
def radii():
    # beyond r_max (zero), at 0, on nodes and between them
    r = np.random.default_rng(2).uniform(0, 1.0, P)
    r[:3] = [0.0, 0.9 * 2 / 50, 0.95]
    return r


@pytest.fixture(scope="module")
def reference(radii):
    import pytensor

    r, _, outs = _graph()
    return pytensor.function([r], outs, mode="FAST_COMPILE")(radii)  # perform (numpy)


def test_numpy_values_are_the_spline_summed_per_pixel(radii):
    spline = _spline()
    weight = np.linspace(0.5, 1.5, P)
    got = spline_pixels(spline, radii, weight, K, SHAPE)
    per_sub = (spline(radii) * weight).reshape(2, SHAPE[0], K, SHAPE[1], K)
    np.testing.assert_allclose(got, per_sub.sum(axis=(2, 4)), rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("mode", ["CVM", "NUMBA", "JAX"])
def test_backends_agree(mode, radii, reference):
    import pytensor

    if mode == "NUMBA":
        from skyfit.forward.numba_ops import register_numba

        register_numba()
    if mode == "JAX":
        pytest.importorskip("jax")
        import skyfit.forward.jax_ops  # noqa: F401
    r, _, outs = _graph()
    got = pytensor.function([r], outs, mode=mode)(radii)
    for a, b in zip(got, reference, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12 * np.abs(b).max())


def test_gradient_and_hessian_match_finite_differences(radii):
    import pytensor

    r, _, (_, stat, grad, hvp) = _graph()
    f = pytensor.function([r], [stat, grad, hvp], mode="CVM")
    _, g, h = f(radii)
    eps = 1e-6
    for i in (3, 17, 101):  # inside the support
        e = np.zeros(P)
        e[i] = eps
        fd = (f(radii + e)[0] - f(radii - e)[0]) / (2 * eps)
        assert g[i] == pytest.approx(fd, rel=1e-6)
        gv = [(f(x)[1] * np.linspace(1, 2, P)).sum() for x in (radii + e, radii - e)]
        assert h[i] == pytest.approx((gv[0] - gv[1]) / (2 * eps), rel=1e-5)


def test_wrong_number_of_radii_is_an_error():
    import pytensor
    import pytensor.tensor as pt

    r = pt.dvector("r")
    f = pytensor.function([r], spline_pixels(_spline(), r, np.ones(P), K, SHAPE), mode="CVM")
    with pytest.raises(ValueError, match="one value per sub-pixel"):
        f(np.zeros(P - 1))


@pytest.mark.parametrize("lon0, lat0, lon, lat", [
    (0.0, 0.0, 3.0, 4.0), (266.4, -30.5, 266.9, -30.1), (10.0, 89.5, 190.0, 89.6),
    (359.9, 0.0, 0.1, 0.0), (1.0, 2.0, 1.0, 2.0)])
def test_chord_length_is_twice_the_sine_of_half_the_separation(lon0, lat0, lon, lat):
    args = np.radians([lon0, lat0, lon, lat])
    sep = angular_separation(*args)
    assert chord_length(*args) == pytest.approx(2 * np.sin(sep / 2), rel=1e-12, abs=1e-15)


def test_chord_gradient_is_zero_at_the_centre():
    import pytensor
    import pytensor.tensor as pt

    lon0 = pt.dscalar("lon0")
    c = chord_length(lon0, 0.3, np.array([0.2, 0.2]), np.array([0.3, 0.31]))
    g = pytensor.function([lon0], pytensor.grad(c.sum(), lon0))(0.2)
    assert np.isfinite(g) and g == pytest.approx(0.0, abs=1e-12)


def test_spline_of_chord_is_the_same_profile():
    spline = _spline()
    r = np.linspace(0, 0.95, 301)
    chord = 2 * np.sin(np.radians(r) / 2) / np.radians(1)
    np.testing.assert_allclose(spline.of_chord()(chord), spline(r), rtol=2e-5, atol=1e-9)
    assert spline.of_chord() is spline.of_chord()  # cached
