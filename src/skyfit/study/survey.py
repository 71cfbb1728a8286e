"""Survey study: one fit per dataset file (per-source fits across a survey)."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from ._rows import FIT_ERRORS, describe, free_names, parameter_columns

__all__ = ["SurveyStudy"]


@dataclass(frozen=True)
class SurveyStudy:
    """Fit each dataset file with its model file; optionally the TS of one component.

    Parameters
    ----------
    datasets : sequence of path
        Gammapy DL4 ``MapDataset`` FITS files, one task each.
    models : path or sequence of path
        Model YAML file for all datasets, or one per dataset.
    ts_of : str, optional
        Name of a model component: its TS is the statistic of the fit without it (the
        other parameters re-optimised) minus that of the full fit.
    mode : str, optional
        PyTensor mode.

    Notes
    -----
    Each task reads its files, compiles its own likelihood and runs
    :meth:`MapFit.run <skyfit.fit.MapFit.run>`; files with the same model structure reuse
    PyTensor's on-disk compilation cache. Row columns: ``task``, ``dataset``, ``models``,
    ``name`` (the dataset's), ``success``, ``message``, ``total_stat``, ``nfev``, the value
    and ``_err`` of every free parameter (masked in rows whose models lack it) and ``ts``
    with ``ts_of``. A file that cannot be read as a dataset or models, or a failed fit,
    gives a row with ``success=False`` and the reason in ``message``; a missing file stops
    the study.

    Examples
    --------
    Write one simulated dataset (the analytic PSF and dispersion have no file layout: no
    PSF, the dispersion as a kernel map) and its models, then fit it:

    >>> import tempfile, pathlib
    >>> from skyfit.datasets import write_dataset
    >>> from skyfit.irf import EDispKernelMap
    >>> from skyfit.maps import Map
    >>> from skyfit.maps.region import RegionGeom
    >>> from skyfit.study import SyntheticSource, replication_rng, run_serial
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> fit, _ = SyntheticSource(npix=(8, 8), background_rate=2.0).build()
    >>> ds = fit.datasets[0]
    >>> true, reco = ds.exposure.geom.axes[0], ds.counts.geom.axes[0]
    >>> kernel = ds.edisp.kernel_at(None, true, reco)
    >>> ds.psf, ds.edisp = None, EDispKernelMap(Map(RegionGeom([reco, true]),
    ...                                             kernel[..., None, None]))
    >>> ds.counts = ds.counts.copy(data=replication_rng(0, 0).poisson(ds.npred()))
    >>> write_dataset(ds, folder / "sim.fits")
    >>> fit.models.write(folder / "models.yaml")
    >>> study = SurveyStudy([folder / "sim.fits"], folder / "models.yaml", ts_of="src")
    >>> table = run_serial(study)
    >>> bool(table["success"][0]), bool(table["ts"][0] > 25), len(table.colnames)
    (True, True, 15)
    """

    datasets: tuple[str, ...]
    models: tuple[str, ...] | str
    ts_of: str | None = None
    mode: str | None = None

    def __post_init__(self) -> None:
        datasets = (tuple(map(os.fspath, self.datasets))
                    if not isinstance(self.datasets, str | os.PathLike)
                    else (os.fspath(self.datasets),))
        models = self.models
        if isinstance(models, str | os.PathLike):
            models = (os.fspath(models),) * len(datasets)
        models = tuple(map(os.fspath, models))
        if len(models) != len(datasets):
            raise ValueError(f"{len(datasets)} datasets but {len(models)} model files; give "
                             "one model file for all, or one per dataset")
        object.__setattr__(self, "datasets", datasets)
        object.__setattr__(self, "models", models)

    def tasks(self) -> range:
        """Dataset indices ``0 .. len(datasets)-1``."""
        return range(len(self.datasets))

    def setup(self) -> None:
        """Nothing is shared between files (each compiles its own fit)."""
        return None

    def run(self, state, task) -> dict:
        """Read and fit dataset ``task``; one row."""
        from ..datasets import read_dataset
        from ..fit import MapFit
        from ..models import Models, read_models

        path, model_path = self.datasets[task], self.models[task]
        for file in (path, model_path):
            if not os.path.exists(file):
                raise FileNotFoundError(f"survey file not found: {file}")
        row = {"task": int(task), "dataset": path, "models": model_path, "name": "",
               "success": False, "message": "", "total_stat": math.nan, "nfev": 0}
        if self.ts_of is not None:
            row["ts"] = math.nan
        try:
            dataset, models = read_dataset(path), read_models(model_path)
            row["name"] = dataset.name
            if self.ts_of is not None and self.ts_of not in models.names:
                raise ValueError(f"no component {self.ts_of!r} for the TS in {model_path} "
                                 f"(components: {models.names})")
            fit = MapFit.from_datasets([dataset], models, mode=self.mode)
            names = free_names(fit)
            result = fit.run()
            row.update(success=bool(result.success), total_stat=float(result.total_stat),
                       nfev=int(result.nfev), message="" if result.success else result.message)
            row.update(parameter_columns(names, result.values,
                                         result.covariance_result.errors))
            if self.ts_of is not None:
                null = MapFit.from_datasets(
                    [dataset], Models([c for c in models if c.name != self.ts_of]),
                    mode=self.mode).optimize()
                row["ts"] = float(null.total_stat - result.total_stat)
                if not null.success:
                    row["success"] = False
                    row["message"] = f"fit without {self.ts_of}: {null.message}"
        except FIT_ERRORS as exc:
            row["message"] = describe(exc)
        return row
