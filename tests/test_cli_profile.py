"""``skyfit profile`` and ``skyfit contour``: tables checked against MapFit, plots; input
errors of every sub-command."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from astropy.table import Table

from skyfit.cli import main
from skyfit.datasets import MapDataset
from skyfit.fit import MapFit
from skyfit.models import Models


def _best_fit(fits, models_file):
    """The fit the command makes, made here independently."""
    fit = MapFit.from_datasets([MapDataset.read(fits)], Models.read(models_file))
    fit.optimize()
    return fit


def _is_png(path):
    return path.read_bytes()[:4] == b"\x89PNG"


def test_profile_slice_table_matches_the_statistic(cli_inputs, tmp_path, capsys):
    fits, models_file = cli_inputs
    out = tmp_path / "out"
    argv = ["profile", str(fits), str(models_file), "index", "--bounds", "1.8", "2.6",
            "--nvalues", "5", "--output", str(out)]
    assert main(argv) == 0
    assert "slice (others fixed) of src.index at 5 values" in capsys.readouterr().out
    table = Table.read(out / "profile_src-index.ecsv")
    assert table.colnames == ["value", "stat", "delta_stat", "success"]
    np.testing.assert_allclose(table["value"], np.linspace(1.8, 2.6, 5))
    fit = _best_fit(fits, models_file)
    best = fit.total_stat()
    assert table.meta["parameter"] == "src.index" and table.meta["kind"].startswith("slice")
    assert table.meta["best_value"] == pytest.approx(fit.models.parameter("index").value,
                                                     rel=1e-6)
    assert table.meta["best_stat"] == pytest.approx(best, abs=1e-6)
    want = [fit.total_stat({"src.index": v}) for v in table["value"]]
    np.testing.assert_allclose(table["stat"], want, rtol=1e-10)
    np.testing.assert_allclose(table["delta_stat"], np.asarray(want) - best, atol=1e-6)
    assert np.all(table["delta_stat"] > 0) and table["success"].all()
    assert _is_png(out / "profile_src-index.png")
    # a second run refuses to replace the files and leaves them as they were
    before = (out / "profile_src-index.ecsv").read_bytes()
    assert main(argv) == 2
    assert "refusing to overwrite" in capsys.readouterr().err
    assert (out / "profile_src-index.ecsv").read_bytes() == before
    assert main([*argv, "--overwrite", "--nvalues", "3"]) == 0
    assert len(Table.read(out / "profile_src-index.ecsv")) == 3


def test_profile_reoptimized_is_below_the_slice_and_rises_by_n_squared(cli_inputs, tmp_path):
    fits, models_file = cli_inputs
    assert main(["profile", str(fits), str(models_file), "src.index", "--reoptimize",
                 "--bounds", "2", "--nvalues", "5", "--format", "yaml", "--quiet",
                 "--output", str(tmp_path)]) == 0
    data = yaml.safe_load((tmp_path / "profile_src-index.yaml").read_text())
    assert data["kind"] == "profile (others re-fitted)"
    values = np.array([p["value"] for p in data["points"]])
    delta = np.array([p["delta_stat"] for p in data["points"]])
    assert all(p["success"] for p in data["points"])
    # value +- 2 errors: the profile rises by about 2**2 = 4; the best fit is in the middle
    assert values[2] == pytest.approx(data["best_value"])
    assert delta[2] == pytest.approx(0, abs=1e-6)
    assert delta[[0, -1]] == pytest.approx([4, 4], abs=0.4)
    # re-fitting the others can only lower the statistic of the slice
    fit = _best_fit(fits, models_file)
    slice_ = np.array([fit.total_stat({"src.index": v}) for v in values]) - fit.total_stat()
    assert np.all(delta <= slice_ + 1e-6) and delta[0] < slice_[0] - 0.1
    assert _is_png(tmp_path / "profile_src-index.png")


def test_contour_slice_grid_and_minos_points(cli_inputs, tmp_path, capsys):
    fits, models_file = cli_inputs
    args = [str(fits), str(models_file), "index", "amplitude"]
    assert main(["contour", *args, "--nvalues", "3", "--output", str(tmp_path)]) == 0
    table = Table.read(tmp_path / "contour_src-index_src-amplitude.ecsv")
    assert table.colnames == ["x", "y", "stat", "delta_stat"] and len(table) == 9
    fit = _best_fit(fits, models_file)
    row = table[1]
    assert row["stat"] == pytest.approx(
        fit.total_stat({"src.index": row["x"], "src.amplitude": row["y"]}), rel=1e-10)
    assert table["delta_stat"][4] == pytest.approx(0, abs=1e-6)  # grid centre: best fit
    assert _is_png(tmp_path / "contour_src-index_src-amplitude.png")
    capsys.readouterr()
    assert main(["contour", *args, "--reoptimize", "--numpoints", "4", "--format", "yaml",
                 "--output", str(tmp_path / "minos")]) == 0
    assert "MINOS contour (others re-fitted) of src.index and src.amplitude: 4 points" in \
        capsys.readouterr().out
    data = yaml.safe_load((tmp_path / "minos" / "contour_src-index_src-amplitude.yaml")
                          .read_text())
    assert data["success"] and data["delta_stat"] == 1.0 and len(data["points"]) == 4
    x = np.array([p["x"] for p in data["points"]])
    # the 1-sigma MINOS contour stays within the MINOS interval of x (its projection)
    lo = data["best_x"] - data["x_minos"]["errn"]
    hi = data["best_x"] + data["x_minos"]["errp"]
    assert np.all((x > lo - 1e-3 * (hi - lo)) & (x < hi + 1e-3 * (hi - lo)))
    assert x.min() < data["best_x"] < x.max()


@pytest.mark.parametrize("argv, error", [
    (["profile", "{fits}", "{models}", "indx"],
     "no parameter 'indx'"),
    (["profile", "{fits}", "{models}", "lon_0"],
     "parameter 'src.lon_0' is frozen in the models file (frozen: true); free parameters: "
     "['src.index', 'src.amplitude', 'cli-bkg.norm']"),
    (["profile", "{tmp}/missing.fits", "{models}", "index"],
     "dataset file not found: {tmp}/missing.fits"),
    (["profile", "{fits}", "{models}", "index", "--bounds", "3", "2"],
     "--bounds takes N (errors each side) or MIN MAX with MIN < MAX, got [3.0, 2.0]"),
    (["contour", "{fits}", "{models}", "index", "src.index"],
     "contour needs two different parameters, got 'src.index' twice"),
    (["contour", "{fits}", "{models}", "index", "reference"],
     "parameter name 'reference' is ambiguous"),
    (["fit", "{fits}", "{models}", "--minos", "alpha"], "no parameter 'alpha'"),
    (["info", "{tmp}/missing.fits"], "dataset file not found"),
    (["sample", "{tmp}/missing.fits", "--models", "{models}"], "dataset file not found"),
])
def test_input_errors_exit_2_naming_the_problem(cli_inputs, tmp_path, capsys, argv, error):
    fits, models_file = cli_inputs
    fill = {"fits": fits, "models": models_file, "tmp": tmp_path}
    out = tmp_path / "out"
    argv = [a.format(**fill) for a in argv]
    if argv[0] != "info":
        argv += ["--output", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"skyfit {argv[0]}: ") and error.format(**fill) in err
    assert not out.exists()
