"""skyfit's npred and Cash statistic against Gammapy 2.1 on real Fermi-LAT data.

Reference numbers: ``validation/reference/`` (made by ``validation/make_gammapy_reference.py``
and ``validation/make_bruteforce_cube.py``; see ``validation/README.md``). Gammapy puts a
point source's flux on four pixels with bilinear weights before convolving with a PSF kernel;
skyfit integrates the PSF profile over each pixel around the exact position. Where the two
differ, skyfit is compared with a brute-force pixel integration (40 x 40 sub-pixels).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from skyfit.datasets import MapDataset
from skyfit.models import Models

REF = Path(__file__).resolve().parents[1] / "validation" / "reference"
pytestmark = pytest.mark.data


def _load(directory, fits, yaml, name):
    ds = MapDataset.read(directory / fits, name=name)
    ds.models = Models.read(directory / yaml)
    return ds


@pytest.fixture(scope="module")
def crab(crab_dir):
    return _load(crab_dir, "Fermi-LAT-3FHL_data_Fermi-LAT.fits", "Fermi-LAT-3FHL_models.yaml",
                 "Fermi-LAT")


@pytest.fixture(scope="module")
def gc(gc_dir):
    return _load(gc_dir, "fermi-3fhl-gc.fits.gz", "fermi-3fhl-gc_models.yaml", "fermi-3fhl-gc")


def _ref(key):
    return json.loads((REF / "reference.json").read_text())[key]


def test_crab_npred_per_energy_within_1_percent(crab):
    npred = crab.npred().sum(axis=(1, 2))
    np.testing.assert_allclose(npred, _ref("crab")["npred_per_energy"], rtol=0.01)


def test_crab_npred_per_bin_against_bruteforce(crab):
    """Per bin within 5 % wherever the reference exceeds 1 % of its maximum."""
    ref = np.load(REF / "bruteforce_crab_cube.npz")
    expected = ref["point"].astype(float) + ref["background"].astype(float)
    npred = crab.npred()
    sel = expected > 0.01 * expected.max()
    rel = np.abs(npred[sel] - expected[sel]) / expected[sel]
    assert rel.max() < 0.05, rel.max()
    # 0.35 %: skyfit renormalises the tabulated PSF to 1, the brute force does not
    np.testing.assert_allclose(npred.sum(axis=(1, 2)), expected.sum(axis=(1, 2)), rtol=5e-3)


def test_crab_stat_against_gammapy_and_bruteforce(crab):
    bf = json.loads((REF / "bruteforce_crab.json").read_text())["crab_stored_models"]
    stat = crab.stat_sum()
    # Gammapy's bilinear point-source placement costs 12.7 in Cash (brute force minus
    # Gammapy); skyfit is within 0.19 of the brute force (its PSF a cubic spline in radius,
    # the brute force's linear as Gammapy's; with 8 x 8 midpoints in the core box: 0.45)
    assert abs(stat - bf["stat_with_bruteforce_points"]) < 0.4
    offset = bf["stat_difference_bruteforce_minus_gammapy"]
    assert abs(stat - _ref("crab")["stat_sum"] - offset) < 0.4


def test_gc_npred_per_energy(gc):
    npred = gc.npred().sum(axis=(1, 2))
    ref = np.array(_ref("gc")["npred_per_energy"])
    # Gammapy leaves its 12th true-energy plane empty (its PSF table has 11 nodes), which
    # lowers its top reconstructed-energy bin; compare the others within 1 %.
    np.testing.assert_allclose(npred[:-1], ref[:-1], rtol=0.01)
    assert npred[-1] >= ref[-1]


def test_gc_stat_close_to_gammapy(gc):
    """Within 2 of Gammapy once its approximations are replaced by brute force.

    ``stat_with_bruteforce_points_and_disks`` is Gammapy's statistic with its point sources
    (bilinear placement: +9.1) and its disks (sampled on the pixel grid and convolved with a
    pixel-integrated kernel: +1.6) replaced by brute-force ones
    (``validation/make_bruteforce_disks.py``). Of the remaining +1.9, 0.4 is skyfit's disks
    (see the next test), the rest was there before the disks' profile path (its points'
    PSF normalisation and the spectral integrals; see validation/GAMMAPY_NOTES.md).
    """
    bf = json.loads((REF / "bruteforce_gc_disks.json").read_text())
    stat = gc.stat_sum()
    assert abs(stat - bf["stat_with_bruteforce_points_and_disks"]) < 2.0


def test_gc_disks_against_bruteforce(gc):
    """The three disks' npred (PSF-convolved profile, pixel-integrated) against a brute
    force on a 0.005 deg grid with 10 x 10 sub-pixels: per pixel within 0.5 % of each
    plane's peak (Gammapy: 5-16 %), per energy within 0.3 %."""
    from skyfit.forward.npred import DatasetPredictor

    cubes = np.load(REF / "bruteforce_gc_disks.npz")
    models = gc.models
    predictor = DatasetPredictor(gc, models, lambda par: False)
    assert predictor.fixed is not None  # every shape frozen: responses precomputed
    names = [m.name for m in models if type(getattr(m, "spatial_model", None)).__name__
             == "DiskSpatialModel"]
    assert len(names) == 3
    for name in names:
        y0, y1, x0, x1 = cubes[name + ":box"]
        expected = cubes[name].astype(float)
        single = DatasetPredictor(gc, _only(models, name), lambda par: False)
        value = lambda par: par.value  # noqa: E731
        npred = (single.npred(value) - single.background(value))[:, y0:y1, x0:x1]
        peak = expected.max(axis=(1, 2))
        assert (np.abs(npred - expected).max(axis=(1, 2)) / peak).max() < 5e-3, name
        np.testing.assert_allclose(npred.sum(axis=(1, 2)), expected.sum(axis=(1, 2)),
                                   rtol=3e-3)


def _only(models, name):
    from skyfit.models import Models

    return Models([models[name]])
