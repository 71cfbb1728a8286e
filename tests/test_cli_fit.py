"""``skyfit fit``, ``skyfit info`` and the help texts of every sub-command."""

from __future__ import annotations

import re

import numpy as np
import pytest

from skyfit.cli import main
from skyfit.models import Models

COMMANDS = ["demo", "simulate", "fit", "profile", "contour", "sample", "info"]


@pytest.mark.parametrize("argv", [["--help"], *([c, "--help"] for c in COMMANDS)])
def test_help_has_examples(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: skyfit {argv[0] if len(argv) == 2 else ''}".rstrip())
    assert "example" in out.lower() and re.search(r"\n +skyfit [a-z]", out)  # a command line


def test_main_help_lists_every_command(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    listed = out[out.index("positional arguments"):out.index("options:")]
    for command in COMMANDS:
        assert f"\n    {command} " in listed, command


def test_fit_command_writes_models_and_covariance(cli_inputs, tmp_path, capsys):
    fits, models_path = cli_inputs
    models = Models.read(models_path)
    models.parameter("index").value = 2.5  # start away from the truth (2.0)
    models.write(models_path, overwrite=True)
    out = tmp_path / "out"
    argv = [str(fits), str(models_path), "--output", str(out),
            "--name", "cli", "--minos", "src.index"]
    assert main(["fit", *argv]) == 0
    text = capsys.readouterr().out
    assert "FitResult" in text and "src.index" in text and "MINOS src.index" in text
    best = Models.read(out / "models_best-fit.yaml")
    assert best.parameter("index").value != 2.5 and best.parameter("index").error > 0
    lines = (out / "models_covariance.csv").read_text().splitlines()
    assert lines[0] == "name,src.index,src.amplitude,cli-bkg.norm"
    cov = np.array([[float(v) for v in line.split(",")[1:]] for line in lines[1:]])
    assert np.sqrt(cov[0, 0]) == pytest.approx(best.parameter("index").error)
    assert main(["fit", *argv]) == 2  # refuses to overwrite
    assert "--overwrite" in capsys.readouterr().err
    assert main(["fit", *argv, "--overwrite"]) == 0
    # a dataset name that does not match the background model is an error, not a silent fit
    assert main(["fit", str(tmp_path / "cli.fits"), str(tmp_path / "models.yaml"),
                 "--output", str(tmp_path / "other"), "--name", "wrong"]) == 2
    assert "none of which is fitted" in capsys.readouterr().err
