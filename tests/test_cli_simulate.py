"""``skyfit simulate``: synthetic and resampled datasets, seeds, outputs, refusals."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from skyfit.cli import main
from skyfit.datasets import MapDataset, read_datasets
from skyfit.models import FoVBackgroundModel, Models

SMALL = ["--npix", "8", "--binsz", "0.1"]


def _counts(path):
    return MapDataset.read(path).counts.data


def test_synthetic_files_models_and_seeds(tmp_path, capsys):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    assert main(["simulate", *SMALL, "--n", "3", "--seed", "5", "--output", str(a)]) == 0
    assert "wrote 3 dataset files (synthetic_000.fits ...) and models.yaml" in \
        capsys.readouterr().out
    assert sorted(p.name for p in a.iterdir()) == [
        "models.yaml", "synthetic_000.fits", "synthetic_001.fits", "synthetic_002.fits"]
    ds = MapDataset.read(a / "synthetic_001.fits")
    # complete files: the analytic IRFs are written as tables
    assert (type(ds.psf).__name__, type(ds.edisp).__name__) == ("PSFMap", "EDispKernelMap")
    assert ds.counts.data.shape == (6, 8, 8) and ds.counts.data.sum() > 0
    models = Models.read(a / "models.yaml")
    assert models.names == ["source", "synthetic-bkg"]
    # the counts are Poisson draws of the written models' npred
    ds.models = models
    npred = ds.npred()
    assert ds.counts.data.sum() == pytest.approx(npred.sum(), abs=5 * np.sqrt(npred.sum()))
    # same seed: identical counts (also with another --n); another seed: different
    assert main(["simulate", *SMALL, "--n", "2", "--seed", "5", "--output", str(b),
                 "--quiet"]) == 0
    assert main(["simulate", *SMALL, "--n", "1", "--seed", "6", "--output", str(c),
                 "--quiet"]) == 0
    for i in range(2):
        name = f"synthetic_00{i}.fits"
        np.testing.assert_array_equal(_counts(a / name), _counts(b / name))
    assert not np.array_equal(_counts(a / "synthetic_000.fits"),
                              _counts(a / "synthetic_001.fits"))
    assert not np.array_equal(_counts(a / "synthetic_000.fits"),
                              _counts(c / "synthetic_000.fits"))
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""  # --quiet; no progress bar off a terminal


def test_refuses_to_overwrite_and_changes_nothing(tmp_path, capsys):
    argv = ["simulate", *SMALL, "--n", "2", "--seed", "1", "--output", str(tmp_path)]
    assert main(argv) == 0
    before = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    counts = _counts(tmp_path / "synthetic_001.fits")
    capsys.readouterr()
    assert main([*argv[:-4], "--seed", "2", "--output", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("skyfit simulate: refusing to overwrite [")
    assert "synthetic_000.fits" in err and "(use --overwrite)" in err
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == before
    assert main([*argv[:-4], "--seed", "2", "--output", str(tmp_path), "--overwrite"]) == 0
    assert not np.array_equal(_counts(tmp_path / "synthetic_001.fits"), counts)


def test_resampling_a_dataset_file_draws_from_its_npred(cli_inputs, tmp_path):
    fits, models_file = cli_inputs
    out = tmp_path / "toys"
    n = 40
    assert main(["simulate", "--dataset", str(fits), "--models", str(models_file),
                 "--n", str(n), "--seed", "3", "--output", str(out), "--quiet"]) == 0
    original = MapDataset.read(fits)
    original.models = Models.read(models_file)
    npred = original.npred()
    counts = np.array([_counts(out / f"cli_{i:03d}.fits") for i in range(n)])
    # mean over replications per energy band: Poisson around npred (5 sigma)
    bands = counts.sum(axis=(2, 3))
    expected = npred.sum(axis=(1, 2))
    assert np.all(np.abs(bands.mean(axis=0) - expected) < 5 * np.sqrt(expected / n))
    assert bands.var(axis=0).sum() == pytest.approx(expected.sum(), rel=0.5)
    # everything but the counts is kept
    toy = MapDataset.read(out / "cli_007.fits")
    np.testing.assert_array_equal(toy.exposure.data, original.exposure.data)
    np.testing.assert_array_equal(toy.background.data, original.background.data)
    assert toy.name == "cli"
    assert Models.read(out / "models.yaml").names == Models.read(models_file).names


def test_datasets_yaml_gives_one_list_per_replication(cli_inputs, tmp_path):
    fits, models_file = cli_inputs
    second = MapDataset.read(fits, name="two")
    second.write(tmp_path / "two.fits")
    (tmp_path / "datasets.yaml").write_text(yaml.safe_dump({"datasets": [
        {"name": "cli", "type": "MapDataset", "filename": "cli.fits"},
        {"name": "two", "type": "MapDataset", "filename": "two.fits"}]}))
    models = Models([*Models.read(models_file), FoVBackgroundModel("two")])
    models.write(tmp_path / "joint.yaml")
    out = tmp_path / "out"
    assert main(["simulate", "--dataset", str(tmp_path / "datasets.yaml"), "--models",
                 str(tmp_path / "joint.yaml"), "--n", "2", "--seed", "1", "--output",
                 str(out), "--quiet"]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "cli_000.fits", "cli_001.fits", "datasets_000.yaml", "datasets_001.yaml",
        "models.yaml", "two_000.fits", "two_001.fits"]
    pair = read_datasets(out / "datasets_001.yaml")
    assert [d.name for d in pair] == ["cli", "two"]
    np.testing.assert_array_equal(pair[0].counts.data, _counts(out / "cli_001.fits"))
    assert not np.array_equal(pair[0].counts.data, pair[1].counts.data)  # independent


@pytest.mark.parametrize("extra, error", [
    (["--dataset", "{fits}"], "--dataset needs --models"),
    (["--dataset", "{tmp}/missing.fits", "--models", "{models}"],
     "dataset file not found: {tmp}/missing.fits"),
    (["--dataset", "{fits}", "--models", "{models}", "--name", "other"],
     "component 'cli-bkg' applies to dataset(s) ['cli'], which are not among the datasets "
     "['other']"),
    (["--n", "0"], "--n must be at least 1, got 0"),
    (["--models", "{tmp}/nope.yaml"], "nope.yaml"),
])
def test_input_errors_exit_2_with_a_message(cli_inputs, tmp_path, capsys, extra, error):
    fits, models_file = cli_inputs
    fill = {"fits": fits, "models": models_file, "tmp": tmp_path}
    argv = ["simulate", *SMALL, "--output", str(tmp_path / "out"),
            *(a.format(**fill) for a in extra)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("skyfit simulate: ") and error.format(**fill) in err
    assert not (tmp_path / "out").exists()
