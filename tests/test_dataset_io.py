"""MapDataset reading/writing in Gammapy's DL4 layout, checks and error messages."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from astropy.io import fits

from skyfit.datasets import FileFormatError, MapDataset, read_datasets, write_datasets
from skyfit.irf import EDispKernelMap, PSFMap
from skyfit.maps import Map, MapAxis, WcsGeom

CRAB_FILE = "Fermi-LAT-3FHL_data_Fermi-LAT.fits"
GC_FILE = "fermi-3fhl-gc.fits.gz"


def _small(**over):
    e = MapAxis.from_energy_edges([0.1, 1.0, 10.0])
    et = MapAxis.from_energy_edges([0.1, 1.0, 10.0], name="energy_true")
    geom = WcsGeom.create((83.6, 22.0), binsz=0.1, npix=(4, 3), axes=[e])
    kwargs = {"counts": Map(geom, np.ones(geom.data_shape)),
              "exposure": Map(geom.with_axes([et]), np.full(geom.data_shape, 2.0), "cm2 s"),
              "background": Map(geom, np.full(geom.data_shape, 0.5))}
    kwargs.update(over)
    return MapDataset(**kwargs), geom


def test_exposure_units():
    ds, geom = _small()
    et = geom.with_axes([MapAxis.from_energy_edges([0.1, 1.0, 10.0], name="energy_true")])
    ds, _ = _small(exposure=Map(et, np.ones(geom.data_shape), "m2 s"))
    assert ds.exposure.unit == "cm2 s" and ds.exposure.data[0, 0, 0] == 1e4
    with pytest.raises(ValueError, match="EXPOSURE unit 's' is not an area x time"):
        _small(exposure=Map(et, np.ones(geom.data_shape), "s"))


@pytest.mark.parametrize("bad, match", [
    ("nan", "COUNTS has 1 NaN"), ("neg", "negative"), ("frac", "non-integer")])
def test_bad_counts(bad, match):
    _, geom = _small()
    data = np.ones(geom.data_shape)
    data[0, 1, 2] = {"nan": np.nan, "neg": -1.0, "frac": 0.5}[bad]
    with pytest.raises(ValueError, match=match):
        _small(counts=Map(geom, data))


def test_shape_and_axis_mismatch():
    _, geom = _small()
    other = WcsGeom.create((83.6, 22.0), binsz=0.1, npix=(5, 3), axes=geom.axes)
    with pytest.raises(ValueError, match="BACKGROUND shape"):
        _small(background=Map(other, np.ones(other.data_shape)))
    with pytest.raises(ValueError, match="axis named 'energy_true'"):
        _small(exposure=Map(geom.with_axes([MapAxis.from_energy_edges([0.1, 1.0, 10.0],
                                                                        name="migra")]),
                            np.ones(geom.data_shape), "cm2 s"))
    shifted = WcsGeom.create((83.7, 22.0), binsz=0.1, npix=(4, 3), axes=geom.axes)
    with pytest.raises(ValueError, match="not aligned"):
        _small(mask_safe=Map(shifted, np.ones(geom.data_shape, bool)))
    bg = np.full(geom.data_shape, 0.5)
    bg[1, 0, 0] = np.inf
    with pytest.raises(ValueError, match="BACKGROUND has 1 NaN/inf"):
        _small(background=Map(geom, bg))


def test_mask_combination():
    _, geom = _small()
    safe = np.ones(geom.data_shape, bool)
    safe[0] = False
    fit = np.ones(geom.data_shape[-2:], bool)
    fit[0, 0] = False
    ds, _ = _small(mask_safe=Map(geom, safe), mask_fit=Map(geom.to_image(), fit))
    assert ds.mask.shape == geom.data_shape
    assert ds.mask.sum() == 12 - 1
    assert _small()[0].mask is None and _small()[0].models is None


def test_write_refuses_and_roundtrips(tmp_path):
    ds, _ = _small()
    path = tmp_path / "ds.fits"
    ds.write(path)
    with pytest.raises(FileExistsError):
        ds.write(path)
    ds.write(path, overwrite=True)
    back = MapDataset.read(path)
    np.testing.assert_array_equal(back.counts.data, ds.counts.data)
    assert back.name == "dataset" and back.psf is None and back.edisp is None
    assert [p.name for p in tmp_path.iterdir()] == ["ds.fits"]  # no temporary left


def test_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"missing\.fits"):
        MapDataset.read(tmp_path / "missing.fits")
    text = tmp_path / "text.fits"
    text.write_text("not a fits file at all\n" * 10)
    with pytest.raises(FileFormatError, match=r"text\.fits"):
        MapDataset.read(text)
    ds, _ = _small()
    full = tmp_path / "full.fits"
    ds.write(full)
    raw = full.read_bytes()
    cut = tmp_path / "cut.fits"
    cut.write_bytes(raw[: len(raw) - 4000])
    with pytest.raises(FileFormatError, match=r"cut\.fits"):
        MapDataset.read(cut)
    gz = tmp_path / "cut.fits.gz"
    gz.write_bytes(gzip.compress(raw)[:-200])
    with pytest.raises(FileFormatError, match=r"cut\.fits\.gz"):
        MapDataset.read(gz)
    with fits.open(full) as hdulist:
        del hdulist["COUNTS"]
        hdulist.writeto(tmp_path / "nocounts.fits")
    with pytest.raises(FileFormatError, match=r"nocounts\.fits: required HDU 'COUNTS'"):
        MapDataset.read(tmp_path / "nocounts.fits")


def _assert_same_dataset(a: MapDataset, b: MapDataset):
    for attr in ("counts", "exposure", "background", "mask_safe"):
        x, y = getattr(a, attr), getattr(b, attr)
        assert x.data.dtype == y.data.dtype
        np.testing.assert_array_equal(x.data, y.data)
        assert x.unit == y.unit
        assert x.geom.is_aligned(y.geom, atol=0)
        for p, q in zip(x.geom.axes, y.geom.axes, strict=True):
            np.testing.assert_array_equal(p.edges, q.edges)
            assert (p.name, p.unit, p.node_type) == (q.name, q.unit, q.node_type)
    for irf in ("psf", "edisp"):
        x = getattr(a, irf)
        y = getattr(b, irf)
        assert type(x) is type(y)
        mx, my = (x.psf_map, y.psf_map) if irf == "psf" else (x.edisp_map, y.edisp_map)
        np.testing.assert_array_equal(mx.data, my.data)
        np.testing.assert_array_equal(x.exposure_map.data, y.exposure_map.data)


@pytest.mark.data
def test_read_crab(crab_dir, tmp_path):
    ds = MapDataset.read(crab_dir / CRAB_FILE)
    assert ds.name == "Fermi-LAT-3FHL_data_Fermi-LAT"
    assert ds.counts.data.shape == (5, 40, 50) and ds.exposure.unit == "cm2 s"
    assert ds.exposure.geom.axes[0].name == "energy_true"
    assert ds.mask_safe.data.dtype == bool and ds.mask.sum() == 5 * 1656
    assert isinstance(ds.psf, PSFMap) and not ds.psf.is_reco
    assert isinstance(ds.edisp, EDispKernelMap)
    assert len(ds.gti) == 0
    ds.write(tmp_path / "crab.fits")
    _assert_same_dataset(ds, MapDataset.read(tmp_path / "crab.fits"))
    [from_yaml] = read_datasets(crab_dir / "Fermi-LAT-3FHL_datasets.yaml")
    assert from_yaml.name == "Fermi-LAT"
    write_datasets([from_yaml], tmp_path / "datasets.yaml")
    [again] = read_datasets(tmp_path / "datasets.yaml")
    assert again.name == "Fermi-LAT"
    _assert_same_dataset(ds, again)
    with pytest.raises(FileExistsError):
        write_datasets([from_yaml], tmp_path / "datasets.yaml")


@pytest.mark.data
def test_read_gc(gc_dir, tmp_path):
    ds = MapDataset.read(gc_dir / GC_FILE, name="gc")
    assert ds.name == "gc" and ds.counts.data.shape == (11, 200, 400)
    assert ds.counts.data.dtype == np.int32
    axis = ds.exposure.geom.axes[0]
    assert (axis.name, axis.node_type, axis.nbin, axis.unit) == ("energy_true", "center", 12,
                                                                 "MeV")
    np.testing.assert_allclose(axis.nodes[[0, -1]], [1e4, 5e5], rtol=1e-6)
    assert np.all((axis.edges[:-1] < axis.nodes) & (axis.nodes < axis.edges[1:]))
    assert ds.exposure.unit == "cm2 s" and ds.exposure.data.dtype == np.float32
    assert ds.edisp.exposure_map.unit == "m2 s"
    assert ds.mask_safe.data.dtype == bool
    ds.write(tmp_path / "gc.fits.gz")
    _assert_same_dataset(ds, MapDataset.read(tmp_path / "gc.fits.gz"))


@pytest.mark.data
@pytest.mark.gammapy
@pytest.mark.parametrize("which", ["crab", "gc"])
def test_gammapy_reads_what_we_write(which, crab_dir, gc_dir, tmp_path):
    pytest.importorskip("gammapy")
    from gammapy.datasets import MapDataset as GMapDataset
    from gammapy.modeling.models import Models

    if which == "crab":
        src, models, name = (crab_dir / CRAB_FILE, crab_dir / "Fermi-LAT-3FHL_models.yaml",
                             "Fermi-LAT")
    else:
        src, models, name = gc_dir / GC_FILE, gc_dir / "fermi-3fhl-gc_models.yaml", "fermi-3fhl-gc"
    out = tmp_path / "out.fits"
    MapDataset.read(src).write(out)
    # the background model names its dataset: give both the same name
    ref, new = GMapDataset.read(src, name=name), GMapDataset.read(out, name=name)
    for attr in ("counts", "exposure", "background", "mask_safe"):
        np.testing.assert_array_equal(getattr(ref, attr).data, getattr(new, attr).data)
        assert getattr(ref, attr).unit == getattr(new, attr).unit
        assert getattr(ref, attr).geom == getattr(new, attr).geom
    ref.models = Models.read(models)
    new.models = Models.read(models)
    assert np.isfinite(ref.stat_sum())
    assert new.stat_sum() == pytest.approx(ref.stat_sum(), rel=1e-12)
