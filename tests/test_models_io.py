"""Models collection, SkyModel/FoVBackgroundModel and Gammapy-layout YAML I/O."""

from __future__ import annotations

import math
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
import yaml

from skyfit.models import (
    FoVBackgroundModel,
    GaussianPrior,
    LogParabolaSpectralModel,
    ModelFileError,
    Models,
    MultivariateGaussianPrior,
    PointSpatialModel,
    PowerLawSpectralModel,
    SkyModel,
    UniformPrior,
)

CRAB_FILES = [
    "Fermi-LAT-3FHL_models.yaml",
    "Fermi-LAT-3FHL_models_100gev.yaml",
    "Fermi-LAT-3FHL_models_priors.yaml",
]


def all_model_files(crab_dir: Path, gc_dir: Path) -> list[Path]:
    return [crab_dir / name for name in CRAB_FILES] + [gc_dir / "fermi-3fhl-gc_models.yaml"]


def same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def assert_same_parameters(models_a: Models, models_b: Models) -> None:
    assert models_a.qualified_names() == models_b.qualified_names()
    for pa, pb in zip(models_a.parameters, models_b.parameters, strict=True):
        assert (pa.name, pa.unit, pa.frozen, pa.prior, pa.meta) == (
            pb.name,
            pb.unit,
            pb.frozen,
            pb.prior,
            pb.meta,
        )
        for key in ("value", "min", "max", "error"):
            assert same(getattr(pa, key), getattr(pb, key)), (pa, pb)


def make_models() -> Models:
    crab = SkyModel(
        PointSpatialModel(lon_0=83.63, lat_0=22.01, frame="icrs"),
        LogParabolaSpectralModel(),
        name="Crab Nebula",
    )
    other = SkyModel(PointSpatialModel(lon_0=84.0), PowerLawSpectralModel(), name="other")
    return Models([crab, other, FoVBackgroundModel("Fermi-LAT")])


# -- reading the shared files ------------------------------------------------------------
def test_read_crab_files(crab_dir):
    models = Models.read(crab_dir / "Fermi-LAT-3FHL_models_100gev.yaml")
    assert models.names == ["Crab Nebula", "Fermi-LAT-bkg"]
    amp = models.parameter("amplitude")
    assert amp.value == 1e-10 and u.Unit(amp.unit) == u.Unit("cm-2 s-1 TeV-1")
    assert models.parameter("Crab Nebula.reference").frozen  # default kept
    lat = models.parameter("lat_0")
    assert (lat.min, lat.max, lat.frozen) == (-90.0, 90.0, True)  # bounds: class defaults
    assert [p.name for p in models.free_parameters] == ["amplitude", "alpha", "beta", "norm"]
    tilt = models.parameter("tilt")
    assert tilt.frozen and tilt.unit == "" and math.isnan(tilt.min)  # only value in file
    assert models["Fermi-LAT-bkg"].datasets_names == ["Fermi-LAT"]
    assert models[1] is models["Fermi-LAT-bkg"]

    priors = Models.read(crab_dir / "Fermi-LAT-3FHL_models_priors.yaml")
    assert priors.parameter("alpha").prior == UniformPrior(min=1.0, max=4.0)
    assert type(priors.parameter("amplitude").prior).__name__ == "LogUniformPrior"
    assert priors.parameter("Fermi-LAT-bkg.norm").prior.max == 2.0

    full = Models.read(crab_dir / "Fermi-LAT-3FHL_models.yaml")
    assert full.parameter("norm").min == 0.0 and math.isnan(full.parameter("norm").max)
    assert full.parameter("Crab Nebula.reference").value == 5.054833602905273e-05


def test_read_gc_file(gc_dir):
    models = Models.read(gc_dir / "fermi-3fhl-gc_models.yaml")
    assert len(models) == 23 and len(models.parameters) == 125
    assert len(models.free_parameters) == 43  # as Gammapy 2.1 reads it
    kinds = {type(c.spatial_model).__name__ for c in models if c.spatial_model is not None}
    assert kinds == {"PointSpatialModel", "DiskSpatialModel"}
    first = models.parameters[0]
    assert first.meta == {"interp": "lin", "scale_method": "scale10", "scale_transform": "lin"}
    assert models.parameter("3FHL J1731.7-3003.amplitude").unit == "GeV-1 s-1 cm-2"


def test_round_trip_all_files(crab_dir, gc_dir, tmp_path):
    for path in all_model_files(crab_dir, gc_dir):
        models = Models.read(path)
        out = tmp_path / path.name
        models.write(out)
        again = Models.read(out)
        assert_same_parameters(models, again)
        text = yaml.safe_load(out.read_text())
        assert text["metadata"]["creator"].startswith("skyfit ")
        assert "date" in text["metadata"]
        again.write(out, overwrite=True)
        assert_same_parameters(models, Models.read(out))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        p.name for p in all_model_files(crab_dir, gc_dir)
    )  # no temporary files left


def test_written_layout_matches_gammapy_file(crab_dir, tmp_path):
    """Gammapy wrote the priors file leaving out defaults; we write the same components."""
    original = yaml.safe_load((crab_dir / "Fermi-LAT-3FHL_models_priors.yaml").read_text())
    ours = Models.read(crab_dir / "Fermi-LAT-3FHL_models_priors.yaml").to_dict()
    assert ours["components"] == original["components"]


@pytest.mark.gammapy
def test_gammapy_reads_what_skyfit_writes(crab_dir, gc_dir, tmp_path):
    gp = pytest.importorskip("gammapy.modeling.models")
    for path in all_model_files(crab_dir, gc_dir):
        out = tmp_path / path.name
        Models.read(path).write(out)
        ref, got = gp.Models.read(path), gp.Models.read(out)
        assert got.names == ref.names
        for pr, pg in zip(ref.parameters, got.parameters, strict=True):
            assert pr.name == pg.name and pr.unit == pg.unit and pr.frozen == pg.frozen
            for key in ("value", "min", "max", "error"):
                assert same(getattr(pr, key), getattr(pg, key)), (path.name, pr.name, key)
            assert (pr.prior is None) == (pg.prior is None)
            if pr.prior is not None:
                assert pr.prior.to_dict() == pg.prior.to_dict()


@pytest.mark.gammapy
def test_gammapy_template_and_links(crab_dir, tmp_path):
    gp = pytest.importorskip("gammapy.modeling.models")
    data = {
        "components": [
            {
                "name": "iem",
                "type": "SkyModel",
                "spectral": {
                    "type": "PowerLawNormSpectralModel",
                    "parameters": [{"name": "norm", "value": 1.1, "link": "n@x"}],
                },
                "spatial": {
                    "type": "TemplateSpatialModel",
                    "frame": "galactic",
                    "parameters": [],
                    "filename": "Fermi-LAT-3FHL_iem.fits",
                    "normalize": False,
                },
            },
            {
                "type": "FoVBackgroundModel",
                "datasets_names": ["d"],
                "spectral": {
                    "type": "PowerLawNormSpectralModel",
                    "parameters": [{"name": "norm", "value": 1.1, "link": "n@x"}],
                },
            },
        ]
    }
    models = Models.from_dict(data, path=crab_dir)
    assert models.parameter("iem.norm") is models.parameter("d-bkg.norm")
    assert len(models.parameters) == 7  # the shared norm once
    out = tmp_path / "m.yaml"
    models.write(out)
    written = yaml.safe_load(out.read_text())["components"][0]["spatial"]
    assert Path(written["filename"]).is_absolute()
    assert_same_parameters(models, Models.read(out))
    got = gp.Models.read(out)
    assert got["iem"].spectral_model.norm is got["d-bkg"].spectral_model.norm
    assert got["iem"].spectral_model.norm.value == 1.1
    assert got["iem"].spatial_model.normalize is False


def test_template_relative_filename(crab_dir, tmp_path):
    (tmp_path / "iem.fits").write_bytes((crab_dir / "Fermi-LAT-3FHL_iem.fits").read_bytes())
    data = {
        "components": [
            {
                "name": "iem",
                "type": "SkyModel",
                "spectral": {"type": "PowerLawNormSpectralModel", "parameters": []},
                "spatial": {
                    "type": "TemplateSpatialModel",
                    "frame": "galactic",
                    "filename": "iem.fits",
                    "normalize": True,
                },
            }
        ]
    }
    models = Models.from_dict(data, path=tmp_path)
    models.write(tmp_path / "m.yaml")
    written = yaml.safe_load((tmp_path / "m.yaml").read_text())["components"][0]["spatial"]
    assert written["filename"] == "iem.fits" and written["normalize"] is True
    assert Models.read(tmp_path / "m.yaml")["iem"].spatial_model.frame == "galactic"


# -- defaults, partial entries, errors -------------------------------------------------
def test_value_only_entry_keeps_defaults():
    data = {
        "components": [
            {
                "type": "FoVBackgroundModel",
                "datasets_names": ["d"],
                "spectral": {
                    "type": "PowerLawNormSpectralModel",
                    "parameters": [{"name": "tilt", "value": 0.1}],
                },
            }
        ]
    }
    models = Models.from_dict(data)
    default = FoVBackgroundModel("d").spectral_model.parameters["tilt"]
    tilt = models.parameter("tilt")
    assert tilt.value == 0.1
    assert (tilt.unit, tilt.frozen) == (default.unit, default.frozen)
    assert same(tilt.min, default.min) and same(tilt.max, default.max)


def write_text(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    return path


BAD = {
    "unknown spectral model type 'FancySpectralModel'": """
components:
-   name: a
    type: SkyModel
    spectral: {type: FancySpectralModel, parameters: []}
""",
    "unknown spatial model type 'BlobSpatialModel'": """
components:
-   name: a
    type: SkyModel
    spectral: {type: PowerLawSpectralModel}
    spatial: {type: BlobSpatialModel, frame: icrs}
""",
    "unknown component type 'TemplateNPredModel'": """
components:
-   {name: a, type: TemplateNPredModel}
""",
    "has no parameter 'indx'": """
components:
-   name: a
    type: SkyModel
    spectral: {type: PowerLawSpectralModel, parameters: [{name: indx, value: 2}]}
""",
    "unknown prior type 'CauchyPrior'": """
components:
-   name: a
    type: SkyModel
    spectral:
        type: PowerLawSpectralModel
        parameters: [{name: index, value: 2, prior: {type: CauchyPrior, parameters: []}}]
""",
    "not a model file": "datasets: []\n",
    "not valid YAML": "components: [\n",
    "unique": """
components:
-   {name: a, type: SkyModel, spectral: {type: PowerLawSpectralModel}}
-   {name: a, type: SkyModel, spectral: {type: PowerLawSpectralModel}}
""",
    "one FoVBackgroundModel per dataset": """
components:
-   {type: FoVBackgroundModel, datasets_names: [d]}
-   {type: FoVBackgroundModel, datasets_names: [d], name: other}
""",
    "no parameter 'x.alpha'": """
components:
-   {type: FoVBackgroundModel, datasets_names: [d]}
priors:
-   {type: MultivariateGaussianPrior, names: [x.alpha], mean: [0], covariance: [[1]]}
""",
}


@pytest.mark.parametrize("message", list(BAD), ids=range(len(BAD)))
def test_clear_errors(tmp_path, message):
    path = write_text(tmp_path, BAD[message])
    with pytest.raises(ModelFileError, match=message) as info:
        Models.read(path)
    assert str(path) in str(info.value)


def test_missing_file_and_overwrite(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nothing\.yaml"):
        Models.read(tmp_path / "nothing.yaml")
    models = make_models()
    path = tmp_path / "sub" / "m.yaml"
    models.write(path)
    before = path.read_text()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        models.write(path)
    assert path.read_text() == before
    models.parameter("alpha").value = 2.5
    models.write(path, overwrite=True)
    assert Models.read(path).parameter("alpha").value == 2.5
    assert [p.name for p in path.parent.iterdir()] == ["m.yaml"]


# -- the collection -----------------------------------------------------------------------
def test_parameter_lookup():
    models = make_models()
    alpha = models.parameter("alpha")
    assert models.parameter("Crab Nebula.alpha") is alpha
    assert models.parameter(alpha) is alpha
    assert models.parameter("Fermi-LAT-bkg.norm").name == "norm"
    with pytest.raises(KeyError, match=r"ambiguous.*'Crab Nebula.amplitude'.*'other.amplitude'"):
        models.parameter("amplitude")
    with pytest.raises(KeyError, match="no parameter 'alpah'"):
        models.parameter("alpah")
    with pytest.raises(KeyError, match="not in these models"):
        models.parameter(PowerLawSpectralModel().parameters["index"])
    qnames = models.qualified_names()
    assert qnames[:2] == ["Crab Nebula.amplitude", "Crab Nebula.reference"]
    assert "Fermi-LAT-bkg.norm" in qnames and len(qnames) == len(models.parameters)
    names = models.parameter_names()
    assert "alpha" in names and "Crab Nebula.amplitude" in names and "index" in names


def test_collection_basics():
    models = make_models()
    assert models.names == ["Crab Nebula", "other", "Fermi-LAT-bkg"]
    assert "other" in models and models[0].name == "Crab Nebula"
    with pytest.raises(KeyError, match="components are"):
        models["nope"]
    with pytest.raises(ValueError, match="unique"):
        models.append(SkyModel(None, PowerLawSpectralModel(), name="other"))
    copy = models.copy()
    copy.parameter("alpha").value = 3.3
    assert models.parameter("alpha").value != 3.3
    free = models.free_parameters
    assert all(not p.frozen for p in free) and len(free) < len(models.parameters)


def test_sky_model_and_background():
    spectral_only = SkyModel(None, PowerLawSpectralModel(), name="s")
    assert spectral_only.parameters.names == ["index", "amplitude", "reference"]
    with pytest.raises(TypeError, match="order"):
        SkyModel(PowerLawSpectralModel(), PointSpatialModel())
    assert len(SkyModel(PointSpatialModel(), PowerLawSpectralModel()).name) == 8
    bkg = FoVBackgroundModel("obs")
    assert (bkg.name, bkg.datasets_names) == ("obs-bkg", ["obs"])
    with pytest.raises(ValueError, match="norm spectral model"):
        FoVBackgroundModel("obs", PowerLawSpectralModel())
    named = Models([FoVBackgroundModel("obs", name="custom"), spectral_only])
    data = named.to_dict()
    assert data["components"][0]["name"] == "custom"
    assert "spatial" not in data["components"][1]
    assert Models.from_dict(data).names == ["custom", "s"]


def test_joint_priors_round_trip(tmp_path):
    models = make_models()
    models.parameter("alpha").prior = GaussianPrior(mu=2.0, sigma=0.2, weight=2)
    joint = MultivariateGaussianPrior(
        ["Crab Nebula.alpha", "beta"], [2.0, 0.1], [[0.04, 0.01], [0.01, 0.09]]
    )
    models.priors.append(joint)
    models.write(tmp_path / "m.yaml")
    again = Models.read(tmp_path / "m.yaml")
    assert again.priors == [joint]
    assert again.parameter("alpha").prior == GaussianPrior(mu=2.0, sigma=0.2, weight=2)
    expected = GaussianPrior(mu=2.0, sigma=0.2, weight=2).stat(
        models.parameter("alpha").value
    ) + joint.stat([models.parameter("alpha").value, models.parameter("beta").value])
    assert np.isclose(again.prior_stat(), expected)
