"""Sky frames: skyfit's ICRS <-> Galactic rotation against astropy's transformation."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.coordinates import SkyCoord

from skyfit.maps.geom import transform_coords

RNG = np.random.default_rng(7)
# random points on the sphere, the poles, both sides of lon = 0 and a 2-d array
POINTS = {
    "random": (RNG.uniform(0, 360, 2000), np.degrees(np.arcsin(RNG.uniform(-1, 1, 2000)))),
    "poles": (np.array([0.0, 123.0]), np.array([90.0, -90.0])),
    "lon zero": (np.array([-1e-9, 0.0, 359.999999999, 1e-9]), np.array([0.0, 10.0, -10.0, 0.0])),
    "2-d": (RNG.uniform(0, 360, (3, 4)), RNG.uniform(-80, 80, (3, 4))),
}


@pytest.mark.parametrize("frames", [("icrs", "galactic"), ("galactic", "icrs")])
@pytest.mark.parametrize("name", list(POINTS))
def test_rotation_matches_astropy(name, frames):
    lon, lat = POINTS[name]
    got_lon, got_lat = transform_coords(lon, lat, *frames)
    want = SkyCoord(lon, lat, unit="deg", frame=frames[0]).transform_to(frames[1])
    assert got_lon.shape == lon.shape
    assert np.all((got_lon >= 0) & (got_lon < 360))
    sep = SkyCoord(got_lon, got_lat, unit="deg", frame=frames[1]).separation(want).deg
    assert sep.max() < 1e-9 / 3600  # 1e-9 arcsec: rounding


def test_round_trip_and_scalars():
    lon, lat = transform_coords(83.63, 22.01, "icrs", "galactic")
    assert np.ndim(lon) == 0
    back = transform_coords(lon, lat, "galactic", "icrs")
    np.testing.assert_allclose(back, (83.63, 22.01), rtol=0, atol=1e-12)


def test_same_frame_and_unsupported_frames():
    lon, lat = transform_coords([1.0, 2.0], [3.0, 4.0], "galactic", "galactic")
    assert lon.tolist() == [1.0, 2.0] and lat.tolist() == [3.0, 4.0]
    with pytest.raises(ValueError, match="unsupported frames 'fk5'"):
        transform_coords(1.0, 2.0, "fk5", "galactic")
