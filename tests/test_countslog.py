"""The Cash statistic's logarithm at the bins with counts (forward/countslog.py): value,
gradient and Hessian against numpy in every backend, the vectorised logarithm's accuracy,
non-finite and floored predictions."""

import numpy as np
import pytest

pytensor = pytest.importorskip("pytensor")
pt = pytensor.tensor

from skyfit.forward.countslog import counts_log_sum  # noqa: E402
from skyfit.forward.numba_ops import register_numba  # noqa: E402

RNG = np.random.default_rng(11)
FLOOR = 1e-25


def _case(size, low=-60.0, high=30.0):
    return RNG.integers(1, 5, size).astype(float), np.exp(RNG.uniform(low, high, size))


# lengths around the C loop's eight bins a step (its tail: the C library's log)
# and over 16384 bins: the C code's OpenMP threads (where there are several)
CASES = {f"{size} bins": _case(size) for size in (0, 1, 7, 8, 9, 17, 1000, 40000)}
CASES["below the floor"] = (np.ones(12), np.array([1e-30, 0.0, -3.0, FLOOR, 2e-25, 1.0,
                                                    5e-324, -0.0, 1e-26, 7.0, 1e-300, 3.0]))
CASES["zero counts"] = (np.zeros(9), np.linspace(0.5, 4.0, 9))
try:
    from skyfit.forward import jax_ops  # noqa: F401  (registers the ops)
    JAX = "JAX"
except ImportError:
    JAX = pytest.param("JAX", marks=pytest.mark.skip(reason="JAX not installed"))
MODES = ["CVM", "NUMBA", "FAST_COMPILE", JAX]


def _reference(n, mu):
    floored = np.maximum(mu, FLOOR)
    passes = mu >= FLOOR
    return np.dot(n, np.log(floored)), np.where(passes, n / floored, 0.0), passes


def _functions(mode):
    if mode == "NUMBA":
        register_numba()
    n, mu = pt.dvector("n"), pt.dvector("mu")
    s = counts_log_sum(n, mu)
    grad = pytensor.grad(s, mu)
    # the Hessian through the gradient op's own gradient, also with respect to n
    hess = pytensor.gradient.hessian(s, mu)
    cross = pytensor.gradient.jacobian(grad, n)
    return (pytensor.function([n, mu], [s, grad], mode=mode),
            pytensor.function([n, mu], [hess, cross], mode=mode))


@pytest.mark.parametrize("mode", MODES)
def test_value_gradient_and_hessian_match_numpy(mode):
    f, second = _functions(mode)
    for name, (n, mu) in CASES.items():
        value, grad = f(n, mu)
        ref, ref_grad, passes = _reference(n, mu)
        np.testing.assert_allclose(value, ref, rtol=1e-14, atol=1e-12, err_msg=name)
        np.testing.assert_allclose(grad, ref_grad, rtol=1e-15, err_msg=name)
        if not 0 < n.size <= 1000:  # (JAX's Jacobian of an empty vector fails: not ours)
            continue
        hess, cross = second(n, mu)
        inverse = np.where(passes, 1.0 / np.maximum(mu, FLOOR), 0.0)
        np.testing.assert_allclose(hess, np.diag(-n * inverse**2), rtol=1e-14, err_msg=name)
        np.testing.assert_allclose(cross, np.diag(inverse), rtol=1e-15, err_msg=name)


@pytest.mark.parametrize("mode", MODES)
def test_non_finite_predictions_propagate(mode):
    f = _functions(mode)[0]
    for bad, expected in ((np.nan, np.nan), (np.inf, np.inf)):
        # in the vector loop and in its tail; in a thread's run of many bins
        for size, where in ((12, 0), (12, 5), (12, 8), (12, 11), (40000, 39999)):
            mu = np.full(size, 2.0)
            mu[where] = bad
            value = np.asarray(f(np.ones(size), mu)[0])
            np.testing.assert_equal(value, expected, err_msg=f"{bad} at {where}")


def test_gradient_matches_finite_differences():
    f = _functions("CVM")[0]
    n, mu = _case(20, -3.0, 3.0)
    grad = f(n, mu)[1]
    for i in range(n.size):
        step = 1e-6 * mu[i]
        up, down = mu.copy(), mu.copy()
        up[i] += step
        down[i] -= step
        fd = (f(n, up)[0] - f(n, down)[0]) / (2 * step)
        np.testing.assert_allclose(grad[i], fd, rtol=1e-6)


def test_vectorised_logarithm_within_one_ulp():
    """fdlibm's algorithm, four lanes at a time, against the logarithm in extended
    precision: within one unit in the last place over the whole range the statistic
    uses (the floor to the largest double), at the boundaries of its intervals too."""
    # one bin counted in the vector loop's first lane: the sum is that logarithm
    f = pytensor.function([mu := pt.dvector("mu")], counts_log_sum(np.eye(1, 8)[0], mu),
                          mode="CVM")
    x = np.concatenate([
        np.exp(RNG.uniform(np.log(FLOOR), 709.0, 4000)),
        1.0 + RNG.uniform(-1e-3, 1e-3, 500),
        np.ldexp(1.0, np.arange(-83, 1024)),
        np.sqrt(0.5) * (1 + np.arange(-20, 21) * 2.2e-16),
        np.sqrt(2.0) * (1 + np.arange(-20, 21) * 2.2e-16),
        [1.0, np.nextafter(1.0, 0.0), np.nextafter(1.0, 2.0), FLOOR, 1.7976931348623157e308],
    ])
    if np.finfo(np.longdouble).eps >= np.finfo(float).eps:
        pytest.skip("no extended precision on this platform for the reference")
    got = np.array([f(np.full(8, xi)) for xi in x])
    exact = np.log(x.astype(np.longdouble))
    unit = np.spacing(np.maximum(np.abs(exact.astype(float)), np.finfo(float).tiny))
    ulps = (np.abs(got.astype(np.longdouble) - exact) / unit).astype(float)
    assert ulps.max() <= 1.0, f"{ulps.max():.2f} ulp at x={x[ulps.argmax()]!r}"


def test_mismatched_lengths_are_an_error():
    f = pytensor.function([n := pt.dvector("n"), mu := pt.dvector("mu")],
                          counts_log_sum(n, mu), mode="CVM")
    with pytest.raises(ValueError, match="differ in length"):
        f(np.ones(3), np.ones(4))
    with pytest.raises(TypeError, match="vectors"):
        counts_log_sum(pt.dmatrix(), pt.dmatrix())
