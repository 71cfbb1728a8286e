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
from skyfit.models.spectral import LogParabolaSpectralModel, PowerLawSpectralModel

x = pt.dvector("x")
GRAPHS = {
    # name: (outputs of x, linker expected)
    "elementwise and reductions": (lambda: [(pt.exp(x) * 2).sum(), x.max()], "_CLinker"),
    "gradient of a gather": (lambda: [pytensor.grad((x[[0, 2]] ** 2).sum(), x)], "_CLinker"),
    # PyTensor's C code of a view or an increment of an intermediate result reads its
    # Python object, which the plain C linker does not keep: replaced by the same code on
    # the array itself
    "increment of an intermediate": (lambda: [pt.inc_subtensor((x * 2)[1], 5.0)],
                                     "_CLinker"),
    "view of an intermediate": (lambda: [pt.cumsum(x)[1:]], "_CLinker"),
    "views as scalars": (lambda: [pt.stack([pt.cumsum(x)[i] * i for i in range(3)])],
                         "_CLinker"),
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
    first = whole(value)
    kept = [np.array(a, copy=True) for a in first]
    for a, b in zip(first, per_op(value), strict=True):
        np.testing.assert_array_equal(a, b)
    # a second call leaves the arrays of the first alone (no output buffer is reused)
    whole(value[::-1].copy())
    for a, b in zip(first, kept, strict=True):
        np.testing.assert_array_equal(a, b)


def test_large_graphs_compile_per_operation():
    out = sum(pt.exp(x * k).sum() for k in range(30))
    small = Mode(linker=WholeGraphCLinker(max_nodes=3), optimizer="fast_run")
    f = pytensor.function([x], out, mode=small)
    assert type(f.maker.linker.chosen).__name__ == "VMLinker"
    assert np.isclose(f(np.zeros(2)), 60.0)


def _fixed(name, lon, spectral):
    model = SkyModel(PointSpatialModel(lon_0=lon, lat_0=-0.03, frame="galactic"), spectral,
                     name=name)
    for par in model.spatial_model.parameters:
        par.frozen = True
    return model


SPECTRAL_FITS = {
    # the Crab's case: one fixed-position source with a free spectrum, a background norm
    "one source": lambda: [_fixed("src", 0.05, LogParabolaSpectralModel(
        amplitude=3e-12, alpha=2.3, beta=0.1))],
    # spectra of one class stacked in one call: their gradients are views of one matrix
    "three sources of one class": lambda: [
        _fixed(f"s{i}", 0.1 * i - 0.1, PowerLawSpectralModel(amplitude=2e-12, index=2 + 0.2 * i))
        for i in range(3)],
    # the demo's case: a free position, its loops compiled apart for this CPU inside
    # the one module (radialcounts_c.function)
    "a free point source": lambda: [SkyModel(
        PointSpatialModel(lon_0=0.02, lat_0=-0.03, frame="galactic"),
        PowerLawSpectralModel(amplitude=2e-12, index=2.2), name="src")],
}


@pytest.mark.parametrize("name", SPECTRAL_FITS)
def test_likelihood_links_a_spectral_fit_whole(name):
    """Spectral fits of fixed-position sources and small fits of free positions run as
    one C module per function, with the numbers of the numpy path."""
    ds = synthetic_dataset(npix=(12, 12), name="toy")
    models = Models([*SPECTRAL_FITS[name](), FoVBackgroundModel("toy")])
    ds.models = models
    ds.counts.data[...] = np.random.default_rng(3).poisson(np.asarray(ds.npred(), float))
    results = {}
    for mode in ("CVM", "FAST_COMPILE"):
        like = Likelihood([ds], models, mode=mode)
        theta = like.current_theta() * 1.01
        results[mode] = like.value(theta), *like.value_and_grad(theta)
        if mode == "CVM":
            for key in ("value", "value_grad"):
                assert type(like._fn(key).maker.linker.chosen).__name__ == "_CLinker"
    for a, b in zip(results["CVM"], results["FAST_COMPILE"], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10)


def test_npred_cubes_keep_the_per_operation_linker():
    """The plain C linker keeps every intermediate array between calls: the npred cubes
    (and the exact Hessian) are linked per operation, which frees them."""
    ds = synthetic_dataset(npix=(8, 8), name="toy")
    models = Models([*SPECTRAL_FITS["one source"](), FoVBackgroundModel("toy")])
    like = Likelihood([ds], models, mode="CVM")
    like.npred()
    assert type(like._fn("npred").maker.linker).__name__ == "VMLinker"
    assert type(like._fn("value").maker.linker.chosen).__name__ == "_CLinker"

