"""PSF and energy-dispersion evaluation, against analytic cases and Gammapy 2.1."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord

from skyfit.datasets import MapDataset
from skyfit.irf import EDispKernelMap, EDispMap, PSFKernel, PSFMap, identity_kernel
from skyfit.maps import Map, MapAxis, WcsGeom
from skyfit.maps.region import RegionGeom

CRAB = SkyCoord(83.633, 22.014, unit="deg")
GC = SkyCoord(0, 0, unit="deg", frame="galactic")


def _gauss_psf(sigmas_deg) -> PSFMap:
    rad = MapAxis.from_nodes(np.linspace(0, 2, 401), unit="deg", name="rad", interp="lin")
    energy = MapAxis.from_nodes([10.0, 100.0], unit="GeV", name="energy_true")
    r = np.radians(rad.center)
    data = [np.exp(-0.5 * (r / np.radians(s)) ** 2) for s in sigmas_deg]
    return PSFMap(Map(RegionGeom([rad, energy]), np.array(data)[..., None, None], "sr-1"))


def test_gaussian_profile_normalised_and_containment():
    psf = _gauss_psf([0.2, 0.1])
    energy = [10.0, np.sqrt(1000.0), 100.0] * u.GeV
    rad, dens = psf.profile_at(None, energy)
    assert rad.unit == u.deg and dens.shape == (3, 401)
    r = rad.to_value("rad")
    np.testing.assert_allclose(np.trapezoid(2 * np.pi * np.sin(r) * dens, r, axis=1), 1.0)
    r68 = psf.containment_radius(0.68, energy=[10.0, 100.0] * u.GeV).to_value("deg")
    np.testing.assert_allclose(r68, np.array([0.2, 0.1]) * np.sqrt(-2 * np.log(0.32)), rtol=2e-3)
    # half way in log energy: the mean of the two tabulated (unnormalised) densities
    raw = psf.table_at(None)
    mid = 0.5 * (raw[0] + raw[1])
    np.testing.assert_allclose(dens[1], mid / np.trapezoid(2 * np.pi * np.sin(r) * mid, r))


def test_psf_kernel_sums_to_one():
    psf = _gauss_psf([0.2, 0.1])
    geom = WcsGeom.create((83.6, 22.0), binsz=0.05, npix=(30, 30),
                          axes=[MapAxis.from_energy_edges([0.01, 0.03, 0.1], name="energy_true")])
    kernel = PSFKernel.from_psf_map(psf, geom)
    assert kernel.data.shape[0] == 2 and kernel.data.shape[1] % 2 == 1
    np.testing.assert_allclose(kernel.data.sum(axis=(1, 2)), 1.0)
    c = kernel.data.shape[1] // 2
    assert kernel.data[0, c, c] == kernel.data[0].max()


def test_psf_axes_check():
    bad = Map(RegionGeom([MapAxis.from_energy_edges([1.0, 10.0], name="energy_true")]),
              np.ones((1, 1, 1)), "sr-1")
    with pytest.raises(ValueError, match="rad"):
        PSFMap(bad)


def test_edisp_kernel_map_axes_errors_and_regroup():
    reco = MapAxis.from_energy_edges([0.1, 0.3, 1.0, 3.0])
    true = MapAxis.from_energy_edges([0.1, 1.0, 10.0], name="energy_true")
    k = np.array([[0.5, 0.3, 0.2], [0.0, 0.4, 0.6]])
    edisp = EDispKernelMap(Map(RegionGeom([reco, true]), k[..., None, None]))
    np.testing.assert_array_equal(edisp.kernel_at(None, true, reco), k)
    grouped = edisp.kernel_at(None, true, MapAxis.from_energy_edges([0.1, 1.0, 3.0]))
    np.testing.assert_allclose(grouped, [[0.8, 0.2], [0.4, 0.6]])
    with pytest.raises(ValueError, match="true-energy axis"):
        edisp.kernel_at(None, MapAxis.from_energy_edges([0.1, 10.0], name="energy_true"))
    with pytest.raises(ValueError, match="reco-energy axis"):
        edisp.kernel_at(None, None, MapAxis.from_energy_edges([0.1, 0.5, 3.0]))


def test_identity_kernel():
    ax = MapAxis.from_energy_edges([0.1, 1.0, 10.0])
    np.testing.assert_array_equal(identity_kernel(ax, ax), np.eye(2))
    with pytest.raises(ValueError, match="must equal"):
        identity_kernel(MapAxis.from_energy_edges([0.1, 10.0], name="energy_true"), ax)


def _gauss_edisp():
    migra = MapAxis(np.linspace(0.2, 5, 481), name="migra", unit="", interp="lin")
    true = MapAxis.from_energy_edges(np.geomspace(0.1, 10, 6), name="energy_true")
    m = migra.center
    pdf = np.exp(-0.5 * ((m - 1) / 0.2) ** 2) / (0.2 * np.sqrt(2 * np.pi))
    return migra, true, np.tile(pdf, (5, 1))


def test_edisp_map_kernel_rows_sum_to_one():
    migra, true, pdf = _gauss_edisp()
    edisp = EDispMap(Map(RegionGeom([migra, true]), pdf[..., None, None]))
    reco = MapAxis.from_energy_edges(np.geomspace(0.01, 100, 21))
    kernel = edisp.kernel_at(None, true, reco)
    assert kernel.shape == (5, 20)
    np.testing.assert_allclose(kernel.sum(axis=1), 1.0, atol=1e-4)  # 4-sigma cut
    with pytest.raises(ValueError, match="energy_axis"):
        edisp.kernel_at(None, true)


@pytest.mark.gammapy
def test_edisp_map_matches_gammapy():
    gp = pytest.importorskip("gammapy")
    from gammapy.irf import EDispMap as GEDispMap
    from gammapy.maps import Map as GMap
    from gammapy.maps import MapAxis as GMapAxis
    from gammapy.maps import WcsGeom as GWcsGeom

    assert gp.__version__.startswith("2.1")
    migra, true, pdf = _gauss_edisp()
    gmigra = GMapAxis.from_edges(migra.edges, name="migra", interp="lin")
    gtrue = GMapAxis.from_energy_edges(true.edges * u.TeV, name="energy_true")
    ggeom = GWcsGeom.create(npix=(2, 1), binsz=180, proj="CAR", axes=[gmigra, gtrue])
    gmap = GMap.from_geom(ggeom, unit="")
    gmap.data[...] = pdf[..., None, None]
    reco_edges = np.geomspace(0.01, 100, 21)
    greco = GMapAxis.from_energy_edges(reco_edges * u.TeV)
    expected = GEDispMap(gmap, None).get_edisp_kernel(greco, position=CRAB).data
    geom = WcsGeom(ggeom.wcs, (2, 1), [migra, true])
    ours = EDispMap(Map(geom, np.asarray(gmap.data))).kernel_at(
        CRAB, true, MapAxis.from_energy_edges(reco_edges))
    np.testing.assert_allclose(ours, expected, atol=1e-7)


def _both(path, pos):
    pytest.importorskip("gammapy")
    from gammapy.datasets import MapDataset as GMapDataset

    return MapDataset.read(path), GMapDataset.read(path), pos


@pytest.mark.data
@pytest.mark.gammapy
@pytest.mark.parametrize("which", ["crab", "gc"])
def test_real_irfs_match_gammapy(which, crab_dir, gc_dir):
    if which == "crab":
        ds, g, pos = _both(crab_dir / "Fermi-LAT-3FHL_data_Fermi-LAT.fits", CRAB)
    else:
        ds, g, pos = _both(gc_dir / "fermi-3fhl-gc.fits.gz", GC)
    axis = ds.exposure.geom.axes[0]
    energy = u.Quantity(axis.center, axis.unit)
    rad, dens = ds.psf.profile_at(pos, energy)
    r = rad.to_value("rad")
    np.testing.assert_allclose(np.trapezoid(2 * np.pi * np.sin(r) * dens, r, axis=1), 1.0)
    ours = ds.psf.containment_radius(0.68, pos, energy).to_value("deg")
    theirs = g.psf.containment_radius(0.68, energy, pos).to_value("deg")
    np.testing.assert_allclose(ours, theirs, rtol=0.01)
    # containment curves: Gammapy does not renormalise the tables (they integrate to
    # 1 +- 0.4 %), so fractions agree to that level; radii in the flat tail (95 %) differ more
    radii = [0.05, 0.1, 0.2, 0.5, 1.0] * u.deg
    np.testing.assert_allclose(ds.psf.containment(radii, energy, pos),
                               g.psf.containment(radii[:, None], energy, pos).T, atol=5e-3)
    # kernels: same centre values within 1 % of the peak (Gammapy leaves planes beyond the
    # number of PSF energy nodes at zero, so compare those it fills)
    gk = g.psf.get_psf_kernel(g.exposure.geom, position=pos).data
    ok = PSFKernel.from_psf_map(ds.psf, ds.exposure.geom, pos).data
    n = min(gk.shape[-1], ok.shape[-1])
    def crop(a):
        c = a.shape[-1] // 2
        return a[:, c - n // 2:c + n // 2 + 1, c - n // 2:c + n // 2 + 1]
    filled = gk.sum(axis=(1, 2)) > 0
    np.testing.assert_allclose(ok.sum(axis=(1, 2)), 1.0)
    diff = np.abs(crop(gk) - crop(ok))[filled]
    assert diff.max() < 0.01 * gk.max()
    np.testing.assert_array_equal(ds.edisp.kernel_at(pos, axis, ds.counts.geom.axes[0]),
                                  g.edisp.get_edisp_kernel(position=pos).data)


def test_reco_psf_from_hdulist_and_kernel_io(tmp_path):
    from astropy.io import fits

    from skyfit.irf import RecoPSFMap
    from skyfit.maps.io import map_to_hdus

    psf = _gauss_psf([0.2, 0.1])
    rad, energy = psf.psf_map.geom.axes
    reco = MapAxis(energy.edges, name="energy", unit=energy.unit, interp="log",
                   node_type="center", nodes=energy.nodes)
    m = Map(RegionGeom([rad, reco]), psf.psf_map.data, "sr-1")
    hdulist = fits.HDUList([fits.PrimaryHDU(), *map_to_hdus(m, "PSF")])
    reco_psf = PSFMap.from_hdulist(hdulist)
    assert isinstance(reco_psf, RecoPSFMap) and reco_psf.is_reco
    geom = WcsGeom.create((0, 0), frame="galactic", binsz=0.05, npix=(10, 10),
                          axes=[MapAxis.from_energy_edges([0.01, 0.1])])
    kernel = PSFKernel.from_psf_map(reco_psf, geom)
    kernel.write(tmp_path / "k.fits")
    with pytest.raises(FileExistsError):
        kernel.write(tmp_path / "k.fits")
    back = PSFKernel.read(tmp_path / "k.fits")
    np.testing.assert_array_equal(back.data, kernel.data)
    gp = pytest.importorskip("gammapy.irf")
    np.testing.assert_allclose(gp.PSFKernel.read(tmp_path / "k.fits", hdu="PSF_KERNEL").data,
                               kernel.data, rtol=1e-12)
