"""skyfit.study: simulation studies and survey fits on a Dask cluster (2 local workers).

Every study here runs on a small synthetic dataset; the tables from the cluster must equal
the serial ones (rows are pure functions of the study and the task), whatever the
chunking, and a worker killed mid-study must not change them. "Equal" allows the last bit
of floats: numpy's SIMD reductions round by memory alignment, which differs between
processes (seen: 1e-17 on a 0.03 error); counts, flags and fit paths are identical.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from skyfit.datasets import write_dataset
from skyfit.irf import EDispKernelMap
from skyfit.maps import Map
from skyfit.maps.region import RegionGeom
from skyfit.study import (
    CoverageStudy,
    Study,
    SurveyStudy,
    SyntheticSource,
    TSStudy,
    replication_rng,
    run_serial,
    run_study,
)

SOURCE = SyntheticSource(npix=(8, 8), background_rate=2.0)
STUDY = CoverageStudy(n=8, seed=7, source=SOURCE)


@pytest.fixture(scope="module")
def client():
    """Two single-threaded worker processes, closed after the module's tests."""
    distributed = pytest.importorskip("distributed")
    cloudpickle = pytest.importorskip("cloudpickle")  # a dependency of distributed
    # the test module is not importable on the workers: ship its classes by value
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as client:
        yield client


@pytest.fixture(scope="module")
def serial():
    return run_serial(STUDY)


def assert_same_table(a, b):
    assert a.colnames == b.colnames
    assert len(a) == len(b)
    for name in a.colnames:
        x, y = np.asarray(a[name]), np.asarray(b[name])
        if x.dtype.kind == "f":  # NaN where NaN, else equal to rounding
            np.testing.assert_allclose(x, y, rtol=1e-12, atol=0, err_msg=name)
        else:
            assert x.tolist() == y.tolist(), name


def test_dask_is_optional():
    """skyfit, skyfit.fit and skyfit.study import without dask; only run_study needs it."""
    code = ("import sys, skyfit, skyfit.fit, skyfit.study; skyfit.MapFit; "
            "print(sorted(m for m in ('dask', 'distributed') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_run_study_without_dask_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ImportError, match=r"pip install skyfit\[scale\]"):
        run_study(STUDY, n_workers=1)


def test_studies_follow_the_protocol():
    assert all(isinstance(s, Study) for s in (STUDY, TSStudy(n=1), SurveyStudy(["a"], "m")))
    assert hash(STUDY) == hash(CoverageStudy(n=8, seed=7, source=SOURCE))
    counts = replication_rng(7, 3).poisson(5.0, size=10)
    assert counts.tolist() == replication_rng(7, 3).poisson(5.0, size=10).tolist()


def test_coverage_study_on_two_workers_equals_serial(client, serial):
    table = run_study(STUDY, client=client, chunk=2)
    assert table["replication"].tolist() == list(range(8))
    assert table.meta["n_workers"] == 2 and table.meta["n_chunks"] == 4
    # the compiled fit is built at most once per worker process, not once per chunk
    assert 1 <= table.meta["n_setups"] <= 2
    assert {"success", "minos_success", "src.index", "src.index_err", "errn", "errp",
            "covered", "total_stat"} <= set(table.colnames)
    assert table["success"].sum() >= 6
    ok = np.asarray(table["minos_success"])
    assert np.all(np.asarray(table["errn"])[ok] > 0) and np.all(np.isfinite(table["errp"][ok]))
    assert_same_table(table, serial)
    assert serial.meta["n_setups"] == 1 and serial.meta["n_workers"] == 0
    summary = STUDY.summary(table)
    assert summary["used"] + summary["failed"] == 8
    assert 0 <= summary["coverage"] <= 1 and math.isclose(summary["expected"], 0.6827,
                                                          abs_tol=1e-4)


def test_subset_through_scheduler_address(client, serial):
    """address= connects to an existing scheduler; a subset of tasks gives those rows."""
    table = run_study(STUDY, tasks=[6, 3], address=client.scheduler.address)
    assert table["replication"].tolist() == [6, 3]
    assert_same_table(table, serial[[6, 3]])


def test_conflicting_cluster_arguments(client):
    with pytest.raises(ValueError, match="not both"):
        run_study(STUDY, client=client, n_workers=2)
    with pytest.raises(ValueError, match="cluster_options"):
        run_study(STUDY, address=client.scheduler.address, cluster_options={"nanny": False})


@dataclass(frozen=True)
class KillWorkerOnce(CoverageStudy):
    """The coverage study, whose worker process dies at replication ``at`` the first time."""

    marker: str = ""
    at: int = 0

    def run(self, state, task):
        if task == self.at and not os.path.exists(self.marker):
            Path(self.marker).touch()
            os._exit(1)  # the worker process is lost mid-chunk, without a word
        return super().run(state, task)


def test_lost_worker_is_replaced_and_results_unchanged(client, serial, tmp_path):
    study = KillWorkerOnce(n=STUDY.n, seed=STUDY.seed, source=SOURCE,
                           marker=str(tmp_path / "killed"), at=5)
    table = run_study(study, client=client, chunk=2)
    assert (tmp_path / "killed").exists()  # a worker did die
    assert_same_table(table, serial)
    client.wait_for_workers(2, timeout=60)  # the nanny restarts it


def test_ts_study_on_cluster(client):
    study = TSStudy(n=6, seed=3, source=SyntheticSource(
        npix=(8, 8), background_rate=2.0, amplitude=0.0, fit_index=False,
        start_amplitude=1e-13))
    table = run_study(study, client=client, chunk=3)
    assert len(table) == 6 and table["success"].all()
    ts = np.asarray(table["ts"])
    np.testing.assert_allclose(ts, table["stat_null"] - table["stat_alt"])
    assert np.all(ts > -1e-3)
    assert np.all(np.asarray(table["src.amplitude"]) >= 0)  # bounded at 0
    assert "sim-bkg.norm_null" in table.colnames and "src.index" not in table.colnames
    summary = study.summary(table)
    assert summary["used"] == 6 and summary["expected"][0] == pytest.approx(0.1587, abs=1e-4)


def _write_survey(folder: Path, n: int) -> tuple[list[Path], Path]:
    fit, npred = SOURCE.build()
    ds = fit.datasets[0]
    true, reco = ds.exposure.geom.axes[0], ds.counts.geom.axes[0]
    kernel = ds.edisp.kernel_at(None, true, reco)
    ds.psf = None
    ds.edisp = EDispKernelMap(Map(RegionGeom([reco, true]), kernel[..., None, None]))
    npred = ds.npred()  # with the IRFs as written
    paths = []
    for i in range(n):
        ds.counts = ds.counts.copy(data=replication_rng(11, i).poisson(npred))
        paths.append(folder / f"field{i}.fits")
        write_dataset(ds, paths[-1])
    fit.models.write(folder / "models.yaml")
    return paths, folder / "models.yaml"


def test_survey_study_on_cluster(client, tmp_path):
    paths, models = _write_survey(tmp_path, 3)
    bad = tmp_path / "broken.fits"
    bad.write_text("not a FITS file")
    study = SurveyStudy([*paths, bad], models, ts_of="src")
    table = run_study(study, client=client)
    assert table["dataset"].tolist() == [str(p) for p in (*paths, bad)]
    assert table["success"].tolist() == [True, True, True, False]
    assert "not a readable FITS file" in table["message"][3]
    assert np.all(np.asarray(table["ts"][:3]) > 25)
    assert np.all(np.abs(np.asarray(table["src.index"][:3]) - 2.2) < 0.3)
    with pytest.raises(ValueError, match="3 datasets but 2 model files"):
        SurveyStudy(paths, [models, models])
