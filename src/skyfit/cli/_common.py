"""What every ``skyfit`` sub-command shares: errors, output checks, inputs, tables.

A sub-command raises :class:`CLIError` for a problem the user can fix (a missing file, an
unknown parameter, an output that exists); :func:`skyfit.cli.main` prints it as
``skyfit <command>: <message>`` on standard error and exits with code 2.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

#: the synthetic instrument's background for ``skyfit simulate`` and ``skyfit demo``:
#: counts per pixel per unit ln E at 1 TeV
BACKGROUND_RATE = 0.05
__all__ = ["INPUT_ERRORS", "CLIError", "check_outputs", "free_parameter", "load_fit",
           "load_inputs", "message", "slug", "write_table"]

# what reading a dataset or model file raises for bad input (FileFormatError and
# ModelFileError are ValueErrors; a missing file is an OSError)
INPUT_ERRORS = (OSError, ValueError, KeyError, TypeError)


class CLIError(Exception):
    """A problem with the command's inputs or outputs: message on stderr, exit code 2.

    Examples
    --------
    :func:`skyfit.cli.main` turns it into ``skyfit <command>: <message>`` on standard
    error (here: "skyfit info: dataset file not found: missing.fits") and exit code 2:

    >>> from skyfit.cli import main
    >>> main(["info", "missing.fits"])
    2
    """


def message(exc: BaseException) -> str:
    """The text of an exception (a KeyError's without the quotes ``str`` adds).

    Examples
    --------
    >>> error = KeyError("no parameter 'indx'")
    >>> print(str(error))
    "no parameter 'indx'"
    >>> print(message(error))
    no parameter 'indx'
    """
    if isinstance(exc, KeyError) and len(exc.args) == 1:
        return str(exc.args[0])
    return str(exc)


def check_outputs(targets, overwrite: bool) -> None:
    """Raise :class:`CLIError` when a target file exists and ``overwrite`` is False.

    Called before any work, so that a refused run changes nothing.

    Examples
    --------
    >>> check_outputs([Path(__file__)], overwrite=True)
    >>> check_outputs([Path(__file__)], overwrite=False)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    skyfit.cli._common.CLIError: refusing to overwrite [...] (use --overwrite)
    """
    existing = [str(t) for t in targets if Path(t).exists()]
    if existing and not overwrite:
        raise CLIError(f"refusing to overwrite {existing} (use --overwrite)")


def slug(name: str) -> str:
    """A parameter name as a file-name part: ``"Crab Nebula.index"`` -> ``Crab-Nebula-index``.

    Examples
    --------
    >>> slug("point.index"), slug("Crab Nebula.alpha")
    ('point-index', 'Crab-Nebula-alpha')
    """
    return re.sub(r"[^A-Za-z0-9_]+", "-", name).strip("-") or "parameter"


def load_datasets(path: Path, name: str | None):
    """Datasets from a datasets YAML or one DL4 FITS file (``name``: its dataset name)."""
    from ..datasets import MapDataset, read_datasets

    if path.suffix in (".yaml", ".yml"):
        if name is not None:
            raise CLIError("--name applies to a single dataset FITS file, not to a "
                           "datasets YAML (which names its datasets)")
        return read_datasets(path)
    return [MapDataset.read(path, name=name)]


def load_inputs(datasets: str, models: str, name: str | None = None):
    """``(datasets, models)`` read from their files; CLIError for bad files.

    Examples
    --------
    >>> import tempfile
    >>> from skyfit.datasets.synthetic import synthetic_dataset
    >>> from skyfit.models import FoVBackgroundModel, Models
    >>> folder = Path(tempfile.mkdtemp())
    >>> ds = synthetic_dataset(npix=(4, 4), energy_edges=[1, 10], energy_true_edges=[1, 10])
    >>> ds.psf = ds.edisp = None
    >>> ds.write(folder / "data.fits")
    >>> Models([FoVBackgroundModel("synthetic")]).write(folder / "models.yaml")
    >>> datasets, models = load_inputs(folder / "data.fits", folder / "models.yaml")
    >>> [d.name for d in datasets], models.names
    (['synthetic'], ['synthetic-bkg'])
    >>> load_inputs(folder / "nope.fits", folder / "models.yaml")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    skyfit.cli._common.CLIError: dataset file not found: .../nope.fits
    """
    from ..models import Models

    try:
        loaded = load_datasets(Path(datasets), name)
        read = Models.read(models)
    except INPUT_ERRORS as exc:
        raise CLIError(message(exc)) from None
    return loaded, read


def load_fit(datasets: str, models: str, name: str | None = None):
    """A :class:`~skyfit.fit.MapFit` of the models on the datasets read from files.

    Nothing is compiled yet. A model that applies to none of the datasets is a
    :class:`CLIError`.

    Examples
    --------
    >>> import tempfile
    >>> from skyfit.datasets.synthetic import synthetic_dataset
    >>> from skyfit.models import FoVBackgroundModel, Models
    >>> folder = Path(tempfile.mkdtemp())
    >>> ds = synthetic_dataset(npix=(4, 4), energy_edges=[1, 10], energy_true_edges=[1, 10])
    >>> ds.psf = ds.edisp = None
    >>> ds.write(folder / "data.fits")
    >>> Models([FoVBackgroundModel("synthetic")]).write(folder / "models.yaml")
    >>> fit = load_fit(folder / "data.fits", folder / "models.yaml")
    >>> [d.name for d in fit.datasets]
    ['synthetic']
    >>> load_fit(folder / "data.fits", folder / "models.yaml", name="other")
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    skyfit.cli._common.CLIError: model 'synthetic-bkg' applies to datasets ['synthetic'], none ...
    """
    from ..fit import MapFit

    loaded, read = load_inputs(datasets, models, name)
    try:
        return MapFit.from_datasets(loaded, read)
    except INPUT_ERRORS as exc:
        raise CLIError(message(exc)) from None


def free_parameter(models, name: str):
    """``(qualified name, Parameter)`` of a free parameter; CLIError naming the problem.

    Examples
    --------
    >>> from skyfit.models import FoVBackgroundModel, Models
    >>> models = Models([FoVBackgroundModel("obs")])
    >>> free_parameter(models, "norm")[0]
    'obs-bkg.norm'
    >>> free_parameter(models, "tilt")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    skyfit.cli._common.CLIError: parameter 'obs-bkg.tilt' is frozen ...: ['obs-bkg.norm']
    """
    free = [q for q, p in zip(models.qualified_names(), models.parameters, strict=True)
            if not p.frozen]
    try:
        par = models.parameter(name)
    except KeyError as exc:
        raise CLIError(f"{message(exc)}; free parameters: {free}") from None
    qualified = next(q for q, p in zip(models.qualified_names(), models.parameters,
                                       strict=True) if p is par)
    if par.frozen:
        raise CLIError(f"parameter {qualified!r} is frozen in the models file (frozen: "
                       f"true); free parameters: {free}")
    return qualified, par


def write_table(columns: dict, meta: dict, path: Path) -> None:
    """Write columns of equal length and a ``meta`` mapping as ECSV or YAML (by suffix).

    ECSV (``astropy.table.Table.read(path)``) keeps ``meta`` in its header; YAML is a
    mapping: the ``meta`` entries and ``points``, one mapping per row.

    Examples
    --------
    >>> import tempfile, yaml
    >>> from astropy.table import Table
    >>> folder = Path(tempfile.mkdtemp())
    >>> columns = {"value": np.array([1.0, 2.0]), "stat": np.array([3.5, 3.0])}
    >>> write_table(columns, {"parameter": "index"}, folder / "t.ecsv")
    >>> table = Table.read(folder / "t.ecsv")
    >>> table["stat"].tolist(), table.meta["parameter"]
    ([3.5, 3.0], 'index')
    >>> write_table(columns, {"parameter": "index"}, folder / "t.yaml")
    >>> yaml.safe_load((folder / "t.yaml").read_text())
    {'parameter': 'index', 'points': [{'value': 1.0, 'stat': 3.5}, {'value': 2.0, 'stat': 3.0}]}
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".ecsv":
        from astropy.table import Table

        Table(columns, meta=meta).write(path, format="ascii.ecsv", overwrite=True)
        return
    import yaml

    names = list(columns)
    rows = [dict(zip(names, (_plain(v) for v in values), strict=True))
            for values in zip(*columns.values(), strict=True)]
    path.write_text(yaml.safe_dump({**meta, "points": rows}, sort_keys=False))


def _plain(value):
    """numpy scalars as Python numbers/bools, for YAML."""
    return value.item() if isinstance(value, np.generic) else value
