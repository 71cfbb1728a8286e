"""The constant-sparse-matrix product op of the fixed-source response (forward/csr.py)."""

import numpy as np
import pytest
from scipy import sparse

pytensor = pytest.importorskip("pytensor")
pt = pytensor.tensor

from skyfit.forward.csr import csr_matvec  # noqa: E402
from skyfit.forward.numba_ops import register_numba  # noqa: E402

RNG = np.random.default_rng(3)
MATRICES = {
    "random": sparse.random(40, 7, density=0.3, random_state=1, format="csr"),
    "empty rows": sparse.csr_matrix(np.diag([1.0, 0.0, 2.0, 0.0])[:, :3]),
    "dense": sparse.csr_matrix(RNG.random((5, 3))),
    # long rows (summed row by row), where the others' short rows are spread from the
    # transpose's (csr.CSRMatVec.c_code)
    "wide": sparse.random(3, 60, density=0.5, random_state=2, format="csr"),
    # over 16384 entries: the C code's OpenMP threads (where there are several) split
    # the spread's output rows, and the transpose's rows in the gradient
    "large": sparse.random(20000, 40, density=0.06, random_state=4, format="csr"),
}


@pytest.mark.parametrize("mode", ["CVM", "NUMBA", "FAST_COMPILE"])
@pytest.mark.parametrize("name", list(MATRICES))
def test_value_gradient_and_hessian_match_numpy(name, mode):
    if mode == "NUMBA":
        register_numba()
    a = MATRICES[name]
    dense = a.toarray()
    x = pt.dvector("x")
    y = csr_matvec(a, x)
    w = RNG.random(a.shape[0])
    stat = (w * (y + 1.0) ** 2).sum()
    grad = pytensor.grad(stat, x)
    hess = pytensor.gradient.hessian(stat, x)
    f = pytensor.function([x], [y, grad, hess], mode=mode)
    x0 = RNG.random(a.shape[1])
    value, g, h = f(x0)
    np.testing.assert_allclose(value, dense @ x0, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(g, dense.T @ (2 * w * (dense @ x0 + 1.0)), rtol=1e-12)
    np.testing.assert_allclose(h, 2 * dense.T @ (w[:, None] * dense), rtol=1e-12, atol=1e-14)


def test_strided_input():
    a = MATRICES["random"]
    x = pt.dvector("x")
    f = pytensor.function([x], csr_matvec(a, x[::2]), mode="CVM")
    x0 = RNG.random(2 * a.shape[1])
    np.testing.assert_allclose(f(x0), a @ x0[::2], rtol=1e-14)
