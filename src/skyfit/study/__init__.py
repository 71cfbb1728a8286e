"""Many fits at once: simulation studies and survey fits, serially or on a Dask cluster.

A study describes many independent fits that share their setup: coverage of MINOS
intervals (:class:`CoverageStudy`), TS distributions (:class:`TSStudy`), or one fit per
dataset file of a survey (:class:`SurveyStudy`). :func:`run_study` runs chunks of its
tasks on a Dask cluster (a local one by default, or any scheduler by address), each worker
compiling the shared fit once, and gathers one row per task into an astropy Table;
:func:`run_serial` gives the same table in this process. Dask is optional
(``pip install skyfit[scale]``) and imported only by :func:`run_study`.

Examples
--------
>>> from skyfit.study import CoverageStudy, SyntheticSource, run_serial
>>> study = CoverageStudy(n=2, source=SyntheticSource(npix=(8, 8), background_rate=2.0))
>>> run_serial(study)["replication"].tolist()
[0, 1]
"""

from .coverage import CoverageStudy
from .runner import Study, run_serial, run_study
from .survey import SurveyStudy
from .synthetic import SyntheticSource, replication_rng
from .ts import TSStudy

__all__ = ["CoverageStudy", "Study", "SurveyStudy", "SyntheticSource", "TSStudy",
           "replication_rng", "run_serial", "run_study"]
