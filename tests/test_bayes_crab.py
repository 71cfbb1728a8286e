"""Issue 4's model comparison on the Fermi-LAT Crab: PowerLaw against LogParabola, PSIS-LOO.

Reruns ``validation/crab_loo.py`` with another seed (4 chains x 1000 draws after 1000
tuning steps per model, ~1 min) and checks it against ``validation/reference/crab_loo.json``
(seed 1): the same ranking by PSIS-LOO and by WAIC, the LOO difference within
Monte Carlo error of the reference, and Pareto k-hat below ArviZ's threshold in every bin
(a failure there would be reported by the script's k-hat line and ArviZ's warning).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

pytest.importorskip("pymc")
pytest.importorskip("skyfit.bayes")
pytestmark = [pytest.mark.slow, pytest.mark.data]
VALIDATION = Path(__file__).resolve().parents[1] / "validation"
REF_PATH = VALIDATION / "reference" / "crab_loo.json"


def _crab_loo():
    spec = importlib.util.spec_from_file_location("crab_loo", VALIDATION / "crab_loo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def rerun(crab_dir):
    return _crab_loo().run(draws=1000, tune=1000, chains=4, seed=3, crab_dir=crab_dir)


def test_powerlaw_variant_has_the_stated_priors(crab_dir):
    models = _crab_loo().load_models(crab_dir)
    lp, pl = models["LogParabola"], models["PowerLaw"]
    index = pl.parameter("index")
    assert (index.prior.min, index.prior.max) == (1.0, 4.0)
    assert pl.parameter("Crab Nebula.reference").value == 0.1
    assert lp.parameter("Crab Nebula.reference").value == 0.1
    for name in ("amplitude", "norm"):
        a, b = pl.parameter(name).prior, lp.parameter(name).prior
        assert type(a) is type(b) and a.values == b.values
    assert [p.name for p in pl.parameters if p.is_free] == ["index", "amplitude", "norm"]


def test_ranking_is_stable_and_khat_fine(rerun):
    ref = json.loads(REF_PATH.read_text())
    ref_loo, loo = ref["loo"], rerun["loo"]
    # same ranking by PSIS-LOO and WAIC as the long reference run
    assert list(loo) == list(ref_loo)
    assert list(rerun["waic"]) == list(ref["waic"])
    worse = list(ref_loo)[1]
    # the difference is a property of the data; its Monte Carlo error with 4 x 1000 draws
    # is ~0.1-0.2 (seeds 3, 4: -0.59, -0.74; the reference, seed 1: -0.57). With 2 x 400
    # it moved by up to 1 between seeds (-1.54, -0.49).
    assert loo[worse]["elpd_diff"] == pytest.approx(ref_loo[worse]["elpd_diff"], abs=0.5)
    assert loo[worse]["dse"] == pytest.approx(ref_loo[worse]["dse"], rel=0.2)
    for label, row in ref_loo.items():
        assert loo[label]["elpd"] == pytest.approx(row["elpd"], abs=1.0)
        assert loo[label]["p"] == pytest.approx(row["p"], abs=1.0)
    # k-hat diagnostics: fine in every bin, and no Pareto-k warning from ArviZ
    for label, k in rerun["pareto_k"].items():
        assert k["n_above_good_k"] == 0, (label, k)
        assert k["max"] < 0.7, (label, k)
    assert not [w for w in rerun["loo_warnings"] if "pareto" in w.lower()], \
        rerun["loo_warnings"]
    for label, fit in rerun["fits"].items():
        assert fit["divergences"] == 0, label
        assert fit["r_hat_max"] < 1.05, label


def test_summary_reports_the_comparison_in_words(rerun):
    lines = _crab_loo().summary_lines(rerun)
    best, worse = list(rerun["loo"])
    assert any(line.startswith(f"PSIS-LOO prefers {best} over {worse}") for line in lines)
    assert any(line.startswith("Pareto-k warnings:") for line in lines)
