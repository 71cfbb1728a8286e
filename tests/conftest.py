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
