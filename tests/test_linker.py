"""The default linker: one C module for graphs PyTensor's plain C linker can run, else CVM."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.compile.mode import Mode

from skyfit.datasets.synthetic import synthetic_dataset
from skyfit.forward import Likelihood
from skyfit.forward.fftconv import fft_convolve
from skyfit.forward.linker import WholeGraphCLinker
from skyfit.models import FoVBackgroundModel, Models, SkyModel
from skyfit.models.spatial import PointSpatialModel
from skyfit.models.spectral import LogParabolaSpectralModel

x = pt.dvector("x")
GRAPHS = {
    # name: (outputs of x, linker expected)
    "elementwise and reductions": (lambda: [(pt.exp(x) * 2).sum(), x.max()], "_CLinker"),
    "gradient of a gather": (lambda: [pytensor.grad((x[[0, 2]] ** 2).sum(), x)], "_CLinker"),
    # the C code of a view or an increment of an intermediate result reads its Python
    # object, which the plain C linker does not keep
    "increment of an intermediate": (lambda: [pt.inc_subtensor((x * 2)[1], 5.0)],
                                     "VMLinker"),
    "view of an intermediate": (lambda: [pt.cumsum(x)[1:]], "VMLinker"),
    # no C code at all
    "FFT convolution": (lambda: [fft_convolve(x.reshape((1, 2, 2)),
                                              np.ones((1, 3, 3)), (2, 2)).sum()],
                        "VMLinker"),
}


@pytest.mark.parametrize("name", GRAPHS)
def test_linker_choice_and_values(name):
    build, expected = GRAPHS[name]
    outputs = build()
    whole = pytensor.function([x], outputs, mode=Mode(linker=WholeGraphCLinker(),
                                                      optimizer="fast_run"))
    per_op = pytensor.function([x], outputs, mode="CVM")
    assert type(whole.maker.linker.chosen).__name__ == expected
    value = np.array([0.3, -1.2, 2.5, 0.7])
    for a, b in zip(whole(value), per_op(value), strict=True):
        np.testing.assert_array_equal(a, b)


def test_large_graphs_compile_per_operation():
    out = sum(pt.exp(x * k).sum() for k in range(30))
    small = Mode(linker=WholeGraphCLinker(max_nodes=3), optimizer="fast_run")
    f = pytensor.function([x], out, mode=small)
    assert type(f.maker.linker.chosen).__name__ == "VMLinker"
    assert np.isclose(f(np.zeros(2)), 60.0)


def test_likelihood_links_a_spectral_fit_whole():
    """The Crab-like case (a fixed-position source with a free spectrum, a background
    norm) runs as one C module per function, with the same numbers as per operation."""
    ds = synthetic_dataset(npix=(12, 12), name="toy")
    source = SkyModel(PointSpatialModel(lon_0=0.05, lat_0=-0.03, frame="galactic"),
                      LogParabolaSpectralModel(amplitude=3e-12, alpha=2.3, beta=0.1),
                      name="src")
    for par in source.spatial_model.parameters:
        par.frozen = True
    models = Models([source, FoVBackgroundModel("toy")])
    ds.models = models
    ds.counts.data[...] = np.random.default_rng(3).poisson(np.asarray(ds.npred(), float))
    theta = None
    results = {}
    for mode in ("CVM", "FAST_COMPILE"):
        like = Likelihood([ds], models, mode=mode)
        theta = like.current_theta() * 1.01
        results[mode] = like.value_and_grad(theta)
        fn = like._fn("value_grad")
        linker = getattr(fn.maker.linker, "chosen", fn.maker.linker)
        if mode == "CVM":
            assert type(linker).__name__ == "_CLinker"
    np.testing.assert_allclose(results["CVM"][0], results["FAST_COMPILE"][0], rtol=1e-12)
    np.testing.assert_allclose(results["CVM"][1], results["FAST_COMPILE"][1], rtol=1e-9)
