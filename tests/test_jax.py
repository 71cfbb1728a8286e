"""The JAX backend (``mode="JAX"``) on the CPU: the same numbers as the C backend.

Graphs compiled by PyTensor's JAX backend must give the same values, gradients and
Hessians to 1e-10 relative in float64: first the ops skyfit adds JAX versions of
(:mod:`skyfit.forward.jax_ops`), one small graph each against the ops' numpy code, Hessians
through the vectorised graphs (``Blockwise``) included; then the whole statistic, against
the default C backend (``"CVM"``), on the synthetic instrument (a fixed point source: the
constant sparse product; a Gaussian with free position and size: the FFT convolution) and
on the Fermi-LAT Crab. NUTS through numpyro runs on that backend. Skipped as a whole where
JAX is not installed (``pip install 'skyfit[jax]'``).
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytensor.tensor as pt
import pytest

from skyfit.datasets.synthetic import synthetic_dataset
from skyfit.forward import Likelihood
from skyfit.models import FoVBackgroundModel, Models, SkyModel
from skyfit.models.spatial import GaussianSpatialModel, PointSpatialModel
from skyfit.models.spectral import PowerLawSpectralModel

pytest.importorskip("jax", reason="JAX not installed (pip install 'skyfit[jax]')")

RTOL = 1e-10
# the reference backend: the same ops' numpy code (FAST_COMPILE), which compiles in seconds
# in CI's fresh PyTensor cache; the C backend (~2 min cold here) is compared with JAX on
# the real datasets by benchmarks/bench_jax.py, and with numpy by tests/test_forward.py
REFERENCE_MODE = os.environ.get("SKYFIT_JAX_REFERENCE_MODE", "FAST_COMPILE")
SMALL = dict(npix=(8, 8), binsz=0.05, energy_edges=[0.3, 1.0, 3.0],
             energy_true_edges=[0.2, 0.6, 2.0, 6.0])


def _convolve(theta):
    from skyfit.forward.response import convolve

    rng = np.random.default_rng(0)
    x = pt.exp(theta[0] * rng.normal(size=(2, 9, 7)) + theta[1])
    return convolve(x, rng.uniform(size=(2, 5, 3)), (9, 7)).ravel()


def _csr_matvec(theta):
    from scipy import sparse

    from skyfit.forward.csr import csr_matvec

    matrix = sparse.random(30, 12, density=0.3, random_state=1)
    return csr_matvec(matrix, pt.exp(theta[0] * np.linspace(-1, 1, 12) + theta[1]))


@pytest.mark.parametrize("build", [_convolve, _csr_matvec], ids=["fft", "csr"])
@pytest.mark.filterwarnings("ignore:Skipping Assert.*shape error:UserWarning")
def test_jax_ops_match_their_reference(build):
    """Value, gradient and vectorised Hessian of ``sum(w * log(1 + op(x(theta))))``.

    Against the ops' own numpy implementations (Python linker: compiles in no time).
    """
    import pytensor
    from pytensor.gradient import jacobian

    theta = pt.dvector("theta", shape=(2,))
    y = build(theta)
    value = ((1 + pt.arange(y.shape[0]) / 10) * pt.log1p(y)).sum()
    grad = pytensor.grad(value, theta)
    outs = [value, grad, jacobian(grad, theta, vectorize=True)]
    point = np.array([0.3, -0.2])
    c = pytensor.function([theta], outs, mode="FAST_COMPILE")(point)
    j = pytensor.function([theta], outs, mode=_jax_mode())(point)
    for a, b in zip(j, c, strict=True):
        np.testing.assert_allclose(a, b, rtol=RTOL)


def _jax_mode():
    from skyfit.forward import jax_ops  # noqa: F401  (registers the ops)

    return "JAX"


def _synthetic(background_rate=5.0):
    ds = synthetic_dataset(background_rate=background_rate, name="toy", **SMALL)
    models = Models([
        _point("fixed", 0.1, 0.1, True, PowerLawSpectralModel(amplitude=2e-12, index=2.1)),
        SkyModel(GaussianSpatialModel(lon_0=-0.1, lat_0=0.02, sigma=0.08, frame="galactic"),
                 PowerLawSpectralModel(amplitude=3e-12, index=2.5), name="blob"),
        FoVBackgroundModel("toy"),
    ])
    ds.models = models
    ds.fake(random_seed=1)
    return ds, models


def _point(name, lon_0, lat_0, frozen, spectral):
    spatial = PointSpatialModel(lon_0=lon_0, lat_0=lat_0, frame="galactic")
    for par in spatial.parameters:
        par.frozen = frozen
    return SkyModel(spatial, spectral, name=name)


def _compare(datasets, models, exact: bool):
    """Value, gradient and Hessian through C and JAX, at and near the stored values."""
    c, j = (Likelihood(datasets, models, mode=mode) for mode in (REFERENCE_MODE, "JAX"))
    theta = c.current_theta()
    for point in (theta, theta * (1 + 0.01 * np.cos(np.arange(theta.size)))):
        (vc, gc), (vj, gj) = c.value_and_grad(point), j.value_and_grad(point)
        assert vj == pytest.approx(vc, rel=RTOL)
        np.testing.assert_allclose(gj, gc, rtol=RTOL)
    hc, hj = c.hessian(theta, exact=exact), j.hessian(theta, exact=exact)
    if exact:
        np.testing.assert_allclose(hj, hc, rtol=RTOL)
    else:  # forward differences (steps 1e-6) amplify the gradient's last digits ~1e6 times:
        # ~1e-9 of the largest entry (an amplitude's) from rounding alone
        assert np.abs(hj - hc).max() <= 100 * RTOL * np.abs(hc).max()
    return j


def test_jax_matches_c_on_synthetic_sources():
    ds, models = _synthetic()
    assert _compare([ds], models, exact=False).n_free == 8


@pytest.mark.data
def test_jax_matches_c_on_the_crab(crab_dir):
    from skyfit.datasets import MapDataset

    ds = MapDataset.read(crab_dir / "Fermi-LAT-3FHL_data_Fermi-LAT.fits", name="Fermi-LAT")
    models = Models.read(crab_dir / "Fermi-LAT-3FHL_models_100gev.yaml")
    _compare([ds], models, exact=True)


def test_numpyro_nuts_on_the_jax_backend():
    import xarray as xr

    bayes = pytest.importorskip("skyfit.bayes")
    pytest.importorskip("numpyro", reason="numpyro not installed (pip install 'skyfit[jax]')")
    ds = synthetic_dataset(background_rate=5.0, name="toy", **SMALL)
    models = Models([_point("src", 0.1, 0.1, True, PowerLawSpectralModel(amplitude=2e-12)),
                     FoVBackgroundModel("toy")])
    ds.models = models
    ds.fake(random_seed=1)
    for par in models.parameters:  # the source's response is the constant sparse product
        par.frozen = par.name not in ("norm", "amplitude")
    models.parameter("norm").min, models.parameter("norm").max = 0.1, 10.0
    models.parameter("amplitude").min, models.parameter("amplitude").max = 0.0, 1e-10
    idata = bayes.sample([ds], models, draws=30, tune=50, chains=1, sampler="numpyro",
                         random_seed=3, progressbar=False)
    assert isinstance(idata, xr.DataTree)
    assert idata.posterior.attrs["inference_library"] == "numpyro"
    assert {"posterior", "sample_stats", "log_likelihood", "observed_data"} <= set(
        idata.children)
    assert idata.posterior["norm"].shape == (1, 30)
    assert np.isfinite(idata.log_likelihood["toy"]).all()
    assert float(idata.posterior["norm"].mean()) == pytest.approx(1.0, abs=0.2)
    assert float(idata.posterior["amplitude"].mean()) == pytest.approx(2e-12, rel=0.2)


def test_import_and_other_modes_do_not_import_jax():
    code = ("import sys\n"
            "from skyfit.datasets.synthetic import synthetic_dataset\n"
            "from skyfit.forward import Likelihood\n"
            "from skyfit.models import FoVBackgroundModel, Models\n"
            "ds = synthetic_dataset(npix=(4, 4), name='t')\n"
            "like = Likelihood([ds], Models([FoVBackgroundModel('t')]), mode='FAST_COMPILE')\n"
            "like.value_and_grad()\n"
            "assert 'jax' not in sys.modules, 'jax imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True)
