"""DL4 map HDU reading/writing: image and region layouts, axes, units, round trips."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits

from skyfit.maps import Map, MapAxis, WcsGeom
from skyfit.maps.io import FileFormatError, axes_from_bands, map_from_hdulist, map_to_hdus
from skyfit.maps.region import RegionGeom


def _roundtrip(m: Map, name: str, tmp_path) -> Map:
    path = tmp_path / "m.fits"
    fits.HDUList([fits.PrimaryHDU(), *map_to_hdus(m, name)]).writeto(path)
    with fits.open(path, memmap=False) as hdulist:
        return map_from_hdulist(hdulist, name, filename=path)


def _assert_same(a: Map, b: Map) -> None:
    assert a.data.dtype == b.data.dtype
    np.testing.assert_array_equal(a.data, b.data)
    assert a.unit == b.unit
    assert len(a.geom.axes) == len(b.geom.axes)
    for x, y in zip(a.geom.axes, b.geom.axes, strict=True):
        assert (x.name, x.unit, x.interp, x.node_type) == (y.name, y.unit, y.interp, y.node_type)
        np.testing.assert_array_equal(x.edges, y.edges)
        if x.nodes is not None:
            np.testing.assert_array_equal(x.nodes, y.nodes)
    if isinstance(a.geom, WcsGeom):
        assert a.geom.is_aligned(b.geom, atol=0)
        assert list(a.geom.wcs.wcs.ctype) == list(b.geom.wcs.wcs.ctype)


def test_image_roundtrip_edges_and_nodes(tmp_path):
    axes = [MapAxis.from_energy_edges([0.01, 0.1, 1.0], unit="TeV"),
            MapAxis.from_nodes([10.0, 30.0, 100.0], unit="GeV", name="energy_true")]
    geom = WcsGeom.create((83.6, 22.0), frame="icrs", binsz=0.1, npix=(6, 4), axes=axes)
    rng = np.random.default_rng(1)
    m = Map(geom, rng.random(geom.data_shape).astype(np.float32), "m2 s")
    back = _roundtrip(m, "EXPOSURE", tmp_path)
    _assert_same(m, back)
    assert back.geom.axes[1].node_type == "center"


def test_region_roundtrip(tmp_path):
    axes = [MapAxis.from_nodes(np.linspace(0, 1, 5), unit="deg", name="rad", interp="lin"),
            MapAxis.from_energy_edges([10.0, 100.0, 1000.0], unit="GeV", name="energy_true")]
    m = Map(RegionGeom(axes), np.arange(10.0).reshape(2, 5, 1, 1), "sr-1")
    back = _roundtrip(m, "PSF", tmp_path)
    assert isinstance(back.geom, RegionGeom)
    _assert_same(m, back)


def test_mask_roundtrip_is_bool(tmp_path):
    geom = WcsGeom.create((0, 0), frame="galactic", binsz=0.5, npix=(3, 2),
                          axes=[MapAxis.from_energy_edges([1.0, 10.0])])
    m = Map(geom, np.array([[[True, False, True], [False, True, True]]]))
    back = _roundtrip(m, "MASK_SAFE", tmp_path)
    assert back.data.dtype == bool
    _assert_same(m, back)


def test_bad_unit_and_missing_bands(tmp_path):
    geom = WcsGeom.create((0, 0), binsz=0.5, npix=(3, 2),
                          axes=[MapAxis.from_energy_edges([1.0, 10.0])])
    hdus = map_to_hdus(Map.from_geom(geom), "COUNTS")
    hdus[0].header["BUNIT"] = "not-a-unit"
    with pytest.raises(FileFormatError, match="invalid unit"):
        map_from_hdulist(fits.HDUList([fits.PrimaryHDU(), *hdus]), "COUNTS")
    with pytest.raises(FileFormatError, match="bands table"):
        map_from_hdulist(fits.HDUList([fits.PrimaryHDU(), hdus[0]]), "COUNTS")
    with pytest.raises(FileFormatError, match="no such HDU"):
        map_from_hdulist(fits.HDUList([fits.PrimaryHDU()]), "COUNTS")


HDUS = ["COUNTS", "EXPOSURE", "BACKGROUND", "EDISP", "EDISP_EXPOSURE", "PSF", "PSF_EXPOSURE",
        "MASK_SAFE"]


@pytest.mark.data
def test_crab_maps(crab_dir, tmp_path):
    path = crab_dir / "Fermi-LAT-3FHL_data_Fermi-LAT.fits"
    with fits.open(path, memmap=False) as hdulist:
        maps = {h: map_from_hdulist(hdulist, h, filename=path) for h in HDUS}
    assert maps["COUNTS"].data.shape == (5, 40, 50)
    assert maps["EXPOSURE"].unit == "cm2 s"
    assert maps["EXPOSURE"].geom.axes[0].name == "energy_true"
    np.testing.assert_allclose(maps["COUNTS"].geom.axes[0].edges[[0, -1]], [0.01, 2.0])
    edisp = maps["EDISP"]
    assert [a.name for a in edisp.geom.axes] == ["energy", "energy_true"]
    assert edisp.data.shape == (5, 5, 20, 25)
    psf = maps["PSF"]
    assert psf.data.shape == (17, 300, 1, 2) and psf.unit == "sr-1"
    rad = psf.geom.axes[0]
    assert (rad.name, rad.unit, rad.node_type, rad.nodes[0]) == ("rad", "rad", "center", 0.0)
    assert psf.geom.axes[1].unit == "GeV"
    assert maps["EDISP_EXPOSURE"].unit == "m2 s"
    assert maps["MASK_SAFE"].data.dtype == bool
    for h, m in maps.items():
        (tmp_path / h).mkdir()
        _assert_same(m, _roundtrip(m, h, tmp_path / h))


@pytest.mark.data
def test_gc_maps(gc_dir, tmp_path):
    path = gc_dir / "fermi-3fhl-gc.fits.gz"
    with fits.open(path, memmap=False) as hdulist:
        maps = {h: map_from_hdulist(hdulist, h, filename=path) for h in HDUS}
        axes = axes_from_bands(hdulist["EXPOSURE_BANDS"])
    assert maps["COUNTS"].data.shape == (11, 200, 400)
    assert maps["COUNTS"].geom.axes[0].unit == "keV"
    exposure_axis = axes[0]
    assert (exposure_axis.node_type, exposure_axis.unit, exposure_axis.nbin) == (
        "center", "MeV", 12)
    # edges lie between nodes (geometric means), outer ones half a step outside
    nodes = exposure_axis.nodes
    np.testing.assert_allclose(exposure_axis.edges[1:-1], np.sqrt(nodes[1:] * nodes[:-1]))
    assert isinstance(maps["PSF"].geom, RegionGeom)
    assert [a.name for a in maps["PSF"].geom.axes] == ["rad", "energy_true"]
    assert maps["PSF"].data.shape == (11, 130, 1, 1)
    assert maps["EDISP"].data.shape == (12, 11, 1, 1)
    for h, m in maps.items():
        (tmp_path / h).mkdir()
        _assert_same(m, _roundtrip(m, h, tmp_path / h))
