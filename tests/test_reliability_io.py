"""Reliability of file input and output: wrong, broken or partial files get an error that
names the file and the problem; writes refuse to overwrite and are atomic (issue 5)."""

from __future__ import annotations

import hashlib
import shutil

import numpy as np
import pytest
from astropy.io import fits

from skyfit.datasets import FileFormatError, MapDataset, read_dataset, read_datasets
from skyfit.datasets import io as dataset_io
from skyfit.datasets.synthetic import synthetic_dataset
from skyfit.models import ModelFileError, Models, read_models
from skyfit.models import io as models_io

from .conftest import shared_path

CRAB = ("fermi-3fhl-crab", "Fermi-LAT-3FHL_data_Fermi-LAT.fits")


def _small(name="small"):
    """A small writable dataset (the synthetic analytic IRFs have no file layout)."""
    ds = synthetic_dataset(npix=(6, 5), binsz=0.2, energy_edges=[0.1, 1.0, 10.0],
                           energy_true_edges=[0.05, 0.5, 5.0, 20.0], name=name)
    ds.psf = ds.edisp = None
    return ds


@pytest.fixture
def crab_copy(tmp_path):
    """A private copy of the real Crab dataset file (the shared one is never touched)."""
    path = tmp_path / "crab.fits"
    shutil.copy(shared_path(*CRAB), path)
    return path


def _rewrite(src, dst, edit):
    with fits.open(src) as hdus:
        out = fits.HDUList([h.copy() for h in hdus])
    edit(out)
    out.writeto(dst)
    return dst


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- files that are not datasets ----------------------------------------
def test_missing_file_and_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"dataset file not found: .*nope.fits"):
        read_dataset(tmp_path / "nope.fits")
    with pytest.raises(IsADirectoryError, match=r"is a folder; give the dataset FITS file"):
        read_dataset(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"model file not found"):
        read_models(tmp_path / "nope.yaml")
    with pytest.raises(FileNotFoundError, match=r"is a folder, not a model file"):
        read_models(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"is a folder, not a datasets YAML"):
        read_datasets(tmp_path)


@pytest.mark.parametrize("content", [b"", b"hello world\n" * 50, b"SIMPLE  = T" + b" " * 9])
def test_not_fits(tmp_path, content):
    path = tmp_path / "x.fits"
    path.write_bytes(content)
    with pytest.raises(FileFormatError, match=r"x\.fits: not a readable FITS file"):
        read_dataset(path)


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.999])
def test_truncated_fits(crab_copy, fraction):
    data = crab_copy.read_bytes()
    crab_copy.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(FileFormatError, match=r"crab\.fits: not a readable FITS file"):
        read_dataset(crab_copy)


def test_model_file_given_as_dataset_and_back(tmp_path, crab_copy):
    models = shared_path("fermi-3fhl-crab", "Fermi-LAT-3FHL_models.yaml")
    with pytest.raises(FileFormatError, match=r"not a readable FITS file"):
        read_dataset(models)
    with pytest.raises(ModelFileError, match=r"not a text .YAML. file; a FITS dataset is read"):
        read_models(crab_copy)
    with pytest.raises(FileFormatError, match=r"not a datasets YAML file.*read_dataset"):
        read_datasets(crab_copy)
    with pytest.raises(FileFormatError, match=r"a mapping with a 'datasets' list: this is a "
                       r"models file .* give the dataset FITS or datasets YAML first"):
        read_datasets(models)
    datasets_yaml = shared_path("fermi-3fhl-crab", "Fermi-LAT-3FHL_datasets.yaml")
    with pytest.raises(ModelFileError, match=r"not a model file \(no 'components' list; "
                                             r"found \['datasets'\]\)"):
        read_models(datasets_yaml)


def test_corrupted_bytes_of_a_skyfit_file_are_detected(tmp_path):
    """skyfit writes CHECKSUM/DATASUM cards and verifies them when reading."""
    path = tmp_path / "ds.fits"
    _small().write(path)
    assert isinstance(read_dataset(path), MapDataset)
    data = bytearray(path.read_bytes())
    with fits.open(path) as hdus:
        offset = hdus.fileinfo(hdus.index_of("COUNTS"))["datLoc"]
    data[offset:offset + 8] = b"\x7f" * 8
    path.write_bytes(bytes(data))
    with pytest.raises(FileFormatError, match=r"not a readable FITS file.*[Cc]hecksum"):
        read_dataset(path)


# -- HDU layout -----------------------------------------------------------------------------
@pytest.mark.parametrize("hdu", ["COUNTS", "EXPOSURE"])
def test_missing_required_hdu(tmp_path, crab_copy, hdu):
    path = _rewrite(crab_copy, tmp_path / "x.fits",
                    lambda h: [h.pop(h.index_of(n)) for n in (hdu, f"{hdu}_BANDS")])
    with pytest.raises(FileFormatError, match=f"required HDU '{hdu}' is missing"):
        read_dataset(path)


@pytest.mark.parametrize("hdus, attr", [
    (("PSF", "PSF_BANDS", "PSF_EXPOSURE", "PSF_EXPOSURE_BANDS"), "psf"),
    (("EDISP", "EDISP_BANDS", "EDISP_EXPOSURE", "EDISP_EXPOSURE_BANDS"), "edisp"),
    (("BACKGROUND", "BACKGROUND_BANDS"), "background"),
    (("MASK_SAFE", "MASK_SAFE_BANDS"), "mask_safe"),
    (("GTI",), "gti"),
])
def test_missing_optional_hdu_gives_none(tmp_path, crab_copy, hdus, attr):
    """Defaults: no PSF = a third-of-a-pixel Gaussian in the forward model; no EDISP =
    identity (needs equal true/reco axes); no background = zero; no mask = all bins."""
    path = _rewrite(crab_copy, tmp_path / "x.fits",
                    lambda h: [h.pop(h.index_of(n)) for n in hdus])
    ds = read_dataset(path)
    assert getattr(ds, attr) is None
    full = read_dataset(crab_copy)
    assert getattr(full, attr) is not None
    np.testing.assert_array_equal(ds.counts.data, full.counts.data)


def test_missing_bands_table(tmp_path, crab_copy):
    path = _rewrite(crab_copy, tmp_path / "x.fits",
                    lambda h: h.pop(h.index_of("COUNTS_BANDS")))
    with pytest.raises(FileFormatError, match=r"HDU 'COUNTS' of .*bands table 'COUNTS_BANDS' is "
                                              r"missing"):
        read_dataset(path)


def test_unknown_layouts(tmp_path, crab_copy):
    def table(h):
        h["COUNTS"] = fits.BinTableHDU.from_columns(
            [fits.Column("X", "D", array=np.arange(3.0))], name="COUNTS")

    with pytest.raises(FileFormatError, match=r"table without a DATA column"):
        read_dataset(_rewrite(crab_copy, tmp_path / "a.fits", table))

    def axcols(h):
        h["COUNTS_BANDS"].header["AXCOLS1"] = "FOO_MIN,FOO_MAX"

    with pytest.raises(FileFormatError, match=r"lacks column\(s\) \['FOO_MIN', 'FOO_MAX'\]"):
        read_dataset(_rewrite(crab_copy, tmp_path / "b.fits", axcols))

    def ctype(h):
        h["COUNTS"].header["CTYPE1"] = "FOO--CAR"

    with pytest.raises(FileFormatError, match=r"HDU 'COUNTS' of .*unusable sky WCS"):
        read_dataset(_rewrite(crab_copy, tmp_path / "c.fits", ctype))

    def shape(h):
        h["COUNTS"].data = h["COUNTS"].data[:, :-1]

    with pytest.raises(FileFormatError, match=r"data shape .* does not match its WCS"):
        read_dataset(_rewrite(crab_copy, tmp_path / "d.fits", shape))


@pytest.mark.parametrize("bunit, match", [
    (None, "EXPOSURE has no unit; .*BUNIT = 'cm2 s'"),
    ("s", "EXPOSURE unit 's' is not an area x time"),
    ("blah", "HDU 'EXPOSURE' of .*invalid unit 'blah'"),
])
def test_exposure_units_in_files(tmp_path, crab_copy, bunit, match):
    def edit(h):
        if bunit is None:
            del h["EXPOSURE"].header["BUNIT"]
        else:
            h["EXPOSURE"].header["BUNIT"] = bunit

    with pytest.raises(ValueError, match=match):
        read_dataset(_rewrite(crab_copy, tmp_path / "x.fits", edit))


def test_exposure_in_m2_s_is_converted(tmp_path, crab_copy):
    def edit(h):
        h["EXPOSURE"].header["BUNIT"] = "m2 s"

    ds = read_dataset(_rewrite(crab_copy, tmp_path / "x.fits", edit))
    ref = read_dataset(crab_copy)
    np.testing.assert_allclose(ds.exposure.data, 1e4 * ref.exposure.data, rtol=1e-12)


def test_non_monotonic_and_repeated_edges_in_file(tmp_path, crab_copy):
    def swap(h):
        col = h["COUNTS_BANDS"].data["E_MIN"]
        col[1], col[2] = col[2], col[1]

    with pytest.raises(FileFormatError, match=r"E_MIN: values do not increase"):
        read_dataset(_rewrite(crab_copy, tmp_path / "a.fits", swap))

    def repeat(h):
        col = h["COUNTS_BANDS"].data["E_MIN"]
        col[1] = col[0]

    with pytest.raises(FileFormatError, match=r"5 rows, but its axes \[4\] give 4 bins"):
        read_dataset(_rewrite(crab_copy, tmp_path / "b.fits", repeat))


@pytest.mark.parametrize("edit, match", [
    (lambda h: h["EXPOSURE"].header.__setitem__("CRVAL1", h["EXPOSURE"].header["CRVAL1"] + 1),
     "EXPOSURE sky grid .* is not aligned with COUNTS"),
    (lambda h: h["EXPOSURE"].data.__setitem__((0, 0, 0), np.nan), "EXPOSURE has 1 NaN/inf"),
    (lambda h: h["EXPOSURE"].data.__setitem__((0, 0, 0), -5.0), "EXPOSURE has 1 negative"),
    (lambda h: h["BACKGROUND"].data.__setitem__((0, 0, 0), -5.0), "BACKGROUND has 1 negative"),
    (lambda h: h["BACKGROUND"].data.__setitem__((1, 2, 3), np.inf), "BACKGROUND has 1 NaN/inf"),
])
def test_bad_values_in_files_name_file_and_hdu(tmp_path, crab_copy, edit, match):
    path = _rewrite(crab_copy, tmp_path / "x.fits", edit)
    with pytest.raises(ValueError, match=f"x.fits: dataset 'x': {match}"):
        read_dataset(path)


def test_counts_nan_in_file(tmp_path, crab_copy):
    def edit(h):
        data = h["COUNTS"].data.astype(float)
        data[0, 1, 2] = np.nan
        h["COUNTS"].data = data

    with pytest.raises(ValueError, match=r"COUNTS has 1 NaN/inf values \(first at index "
                                         r"\(0, 1, 2\)\)"):
        read_dataset(_rewrite(crab_copy, tmp_path / "x.fits", edit))


# -- datasets YAML ----------------------------------------------------------------------------
@pytest.mark.parametrize("text, match", [
    ("", "expected a datasets YAML, a mapping with a 'datasets' list"),
    ("datasets: [abc]\n", "dataset 0 must be a mapping"),
    ("datasets: [{name: a, type: SpectrumDataset, filename: a.fits}]\n",
     "type 'SpectrumDataset'; only MapDataset"),
    ("datasets: [{name: a, type: MapDataset}]\n", "dataset 0 has no 'filename'"),
    ("datasets: [{name: a, filename: x.fits}, {name: a, filename: x.fits}]\n",
     r"dataset names must be unique .* \['a', 'a'\]"),
    ("datasets: [a, b\n", "not a datasets YAML file"),
])
def test_bad_datasets_yaml(tmp_path, text, match):
    path = tmp_path / "datasets.yaml"
    path.write_text(text)
    with pytest.raises(FileFormatError, match=match):
        read_datasets(path)


def test_datasets_yaml_naming_missing_fits(tmp_path):
    path = tmp_path / "datasets.yaml"
    path.write_text("datasets: [{name: a, type: MapDataset, filename: gone.fits}]\n")
    with pytest.raises(FileNotFoundError, match=r"dataset file not found: .*gone.fits"):
        read_datasets(path)


# -- model YAML -------------------------------------------------------------------------------
_PL = "{type: pl, parameters: [%s]}"
_MODEL_CASES = [
    ("", r"not a model file \(no 'components' list; found NoneType\)"),
    ("- a\n- b\n", "not a model file"),
    ("components: [a, b\n", "not valid YAML"),
    ("components: {a: 1}\n", "'components' must be a list"),
    ("components: [abc]\n", "component #0: a component must be a mapping with a 'type'"),
    ("components: [{name: a, type: FooModel}]\n", "unknown component type 'FooModel'"),
    ("components: [{name: a, type: SkyModel, spectral: {type: FooSpectral}}]\n",
     "spectral: unknown spectral model type 'FooSpectral'; known types: .*PowerLaw"),
    ("components: [{name: a, type: SkyModel, spectral: {type: pl}, "
     "spatial: {type: Blob, frame: icrs}}]\n", "unknown spatial model type 'Blob'"),
    ("components: [{name: a, type: SkyModel, spectral: {type: pl}, "
     "spatial: {type: PointSpatialModel, frame: fk5}}]\n", "unknown frame 'fk5'"),
    ("components: [{name: a, type: SkyModel, spectral: %s}]\n" % (_PL % "{name: indx, value: 2}"),
     "PowerLawSpectralModel has no parameter 'indx'; its parameters are"),
    ("components: [{name: a, type: SkyModel, spectral: %s}]\n" % (_PL % "{value: 2}"),
     "each parameter needs a 'name'"),
    ("components: [{name: a, type: SkyModel, spectral: %s}]\n"
     % (_PL % "{name: index, value: abc}"), "parameter 'index': could not convert"),
    ("components: [{name: a, type: SkyModel, spectral: %s}]\n"
     % (_PL % "{name: amplitude, value: 1, unit: TeV}"),
     "parameter 'amplitude' has unit 'TeV', which cannot be converted to 'cm-2 s-1 TeV-1'"),
    ("components: [{name: a, type: SkyModel, spectral: %s}]\n"
     % (_PL % "{name: index, value: 2, min: 3, max: 1}"), r"min \(3.0\) is larger than max"),
    ("components: [{name: a, type: SkyModel, spectral: %s}]\n"
     % (_PL % "{name: index, value: 2, prior: {type: FooPrior}}"),
     "unknown prior type 'FooPrior'.*known types"),
    ("components: [{name: a, type: SkyModel, spectral: %s}]\n"
     % (_PL % "{name: index, value: 2, prior: {type: GaussianPrior, parameters: "
              "[{name: mu, value: 2}, {name: sigma, value: -1}]}}"), "sigma must be > 0"),
    ("components: [{name: a, type: SkyModel, spectral: {type: pl}}, "
     "{name: a, type: SkyModel, spectral: {type: pl}}]\n",
     "model names must be unique: a component named 'a'"),
    ("components: [{type: FoVBackgroundModel, datasets_names: [x]}, "
     "{type: FoVBackgroundModel, datasets_names: [x], name: y}]\n",
     "only one FoVBackgroundModel per dataset"),
    ("components: [{type: FoVBackgroundModel, datasets_names: [x], spectral: {type: pl}}]\n",
     "needs a norm spectral model"),
    ("components: [{name: a, type: SkyModel, spectral: {type: pl}}]\npriors: [{type: "
     "MultivariateGaussianPrior, names: [a.foo], mean: [1], covariance: [[1]]}]\n",
     "priors #0: no parameter 'a.foo'"),
    ("components: [{name: a, type: SkyModel, spectral: {type: pl}}]\npriors: [{type: "
     "MultivariateGaussianPrior, names: [a.index, a.amplitude], mean: [1, 1], "
     "covariance: [[1, 2], [2, 1]]}]\n", "priors #0: .*not positive definite"),
    ("components: [{name: a, type: SkyModel, spectral: {type: pl}, spatial: "
     "{type: TemplateSpatialModel, filename: nope.fits, frame: icrs}}]\n",
     "template file not found: nope.fits"),
]


@pytest.mark.parametrize("text, match", _MODEL_CASES)
def test_bad_model_yaml(tmp_path, text, match):
    path = tmp_path / "models.yaml"
    path.write_text(text)
    with pytest.raises(ModelFileError, match=f"models.yaml.*{match}"):
        read_models(path)


def test_single_dataset_name_is_not_split_into_letters(tmp_path):
    path = tmp_path / "models.yaml"
    path.write_text("components: [{name: a, type: SkyModel, spectral: {type: pl}, "
                    "datasets_names: obs}, {type: FoVBackgroundModel, datasets_names: obs}]\n")
    models = read_models(path)
    assert models["a"].datasets_names == ["obs"]
    assert models["obs-bkg"].datasets_names == ["obs"]


# -- data safety: no overwrite, atomic writes, inputs untouched ---------------------------------
def test_dataset_write_refuses_to_overwrite(tmp_path):
    path = tmp_path / "ds.fits"
    path.write_bytes(b"precious")
    with pytest.raises(FileExistsError, match=r"ds.fits exists .use overwrite=True."):
        _small().write(path)
    assert path.read_bytes() == b"precious"
    _small().write(path, overwrite=True)
    assert read_dataset(path).name == "small"


def test_analytic_irfs_cannot_be_written(tmp_path):
    ds = synthetic_dataset(npix=(6, 5), energy_edges=[0.1, 1.0, 10.0])
    with pytest.raises(TypeError, match=r"its edisp .AnalyticEDisp. has no DL4 file layout"):
        ds.write(tmp_path / "ds.fits")
    assert not list(tmp_path.iterdir())


def test_interrupted_dataset_write_keeps_old_file(tmp_path, monkeypatch):
    path = tmp_path / "ds.fits"
    _small("old").write(path)
    before = _sha(path)
    real = fits.HDUList.writeto

    def half_then_interrupt(self, name, *args, **kwargs):
        real(self, name, *args, **kwargs)
        with open(name, "r+b") as f:
            f.truncate(1000)
        raise KeyboardInterrupt

    monkeypatch.setattr(fits.HDUList, "writeto", half_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        _small("new").write(path, overwrite=True)
    assert _sha(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds.fits"]  # no temporary left
    monkeypatch.undo()
    assert read_dataset(path).name == "old"


def test_write_datasets_checks_every_target_before_writing(tmp_path):
    (tmp_path / "b.fits").write_bytes(b"precious")
    with pytest.raises(FileExistsError, match=r"b.fits"):
        dataset_io.write_datasets([_small("a"), _small("b")], tmp_path / "datasets.yaml")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.fits"]  # a.fits not written
    with pytest.raises(ValueError, match=r"dataset names must be unique"):
        dataset_io.write_datasets([_small("a"), _small("a")], tmp_path / "d2.yaml")


def test_models_write_refuses_and_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "models.yaml"
    path.write_text("precious")
    models = read_models(shared_path("fermi-3fhl-crab", "Fermi-LAT-3FHL_models.yaml"))
    with pytest.raises(FileExistsError, match=r"model file exists already"):
        models.write(path)
    assert path.read_text() == "precious"

    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr(models_io.os, "replace", fail)
    with pytest.raises(OSError, match=r"disk full"):
        models.write(path, overwrite=True)
    assert path.read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["models.yaml"]


def test_reading_leaves_the_files_unchanged(crab_copy):
    before = _sha(crab_copy)
    ds = read_dataset(crab_copy)
    ds.counts.data[...] = 0  # changing what was read does not reach the file
    assert _sha(crab_copy) == before
    path = shared_path("fermi-3fhl-crab", "Fermi-LAT-3FHL_models.yaml")
    text = path.read_text()
    Models.read(path)
    assert path.read_text() == text
