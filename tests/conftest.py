"""Shared fixtures: the real-data folder (``../shared/data``) and small helpers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SKYFIT_SHARED_DATA", REPO.parent / "shared" / "data"))


def shared_path(*parts: str) -> Path:
    """Path inside the shared data folder; skips the test with a reason when absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not found at {path} (set SKYFIT_SHARED_DATA to its folder)")
    return path


@pytest.fixture(scope="session")
def crab_dir() -> Path:
    return shared_path("fermi-3fhl-crab")


@pytest.fixture(scope="session")
def gc_dir() -> Path:
    return shared_path("fermi-3fhl-gc")

# Tests compile many small graphs: the Python VM compiles them in a fraction of the time.
os.environ.setdefault("SKYFIT_PYTENSOR_MODE", "FAST_COMPILE")


@pytest.fixture
def cli_inputs(tmp_path):
    """A small dataset file ``cli.fits`` (no IRFs: DL4 files of synthetic data hold maps
    only) and ``models.yaml`` (point source, frozen position; index, amplitude and the
    background norm free) in ``tmp_path``; returns ``(fits path, models path)``."""
    import numpy as np

    from skyfit.datasets.synthetic import synthetic_dataset
    from skyfit.models import FoVBackgroundModel, Models, SkyModel
    from skyfit.models.spatial import PointSpatialModel
    from skyfit.models.spectral import PowerLawSpectralModel

    edges = np.geomspace(0.1, 10, 7)
    ds = synthetic_dataset(npix=(12, 12), binsz=0.05, background_rate=0.5, name="cli",
                           energy_edges=edges, energy_true_edges=edges)
    ds.psf = ds.edisp = None
    spatial = PointSpatialModel(lon_0=0.0, lat_0=0.0, frame="galactic")
    for par in spatial.parameters:
        par.frozen = True
    models = Models([SkyModel(spatial, PowerLawSpectralModel(amplitude=2e-12), name="src"),
                     FoVBackgroundModel("cli")])
    ds.models = models
    ds.fake(random_seed=0)
    ds.write(tmp_path / "cli.fits")
    models.write(tmp_path / "models.yaml")
    return tmp_path / "cli.fits", tmp_path / "models.yaml"


def _gradient_matches_finite_differences(like, rel: float = 1e-4) -> list[str]:
    """Assert the likelihood's gradient matches central differences of its value for
    every free parameter (steps 1e-6 of each value; the statistic's rounding allowed
    for); returns the free parameters' names."""
    theta = like.current_theta()
    value, grad = like.value_and_grad(theta)
    names = [p.name for p in like.free]
    for i, name in enumerate(names):
        h = 1e-6 * (abs(theta[i]) or 1.0)
        up, down = theta.copy(), theta.copy()
        up[i] += h
        down[i] -= h
        fd = (like.value(up) - like.value(down)) / (2 * h)
        noise = 1e-12 * abs(value) / h  # rounding of the statistic in the difference
        assert grad[i] == pytest.approx(fd, rel=rel, abs=noise), name
    return names


@pytest.fixture
def check_gradient():
    """:func:`_gradient_matches_finite_differences`, for tests of any likelihood."""
    return _gradient_matches_finite_differences
