"""ConstMatMul: a constant matrix applied along the first axis, on every backend."""

from __future__ import annotations

import numpy as np
import pytest

from skyfit.forward.matmul import apply_along_first

MATRIX = np.array([[0.9, 0.1, 0.0], [0.0, 0.7, 0.3], [0.2, 0.0, 0.8], [0.0, 0.0, 1.0]])


@pytest.mark.parametrize("mode", ["FAST_COMPILE", "CVM", "NUMBA", "JAX"])
def test_values_and_gradient(mode):
    import pytensor
    import pytensor.tensor as pt

    if mode == "NUMBA":
        from skyfit.forward.numba_ops import register_numba

        register_numba()
    if mode == "JAX":
        pytest.importorskip("jax")
        import skyfit.forward.jax_ops  # noqa: F401
    x = pt.tensor("x", shape=(4, 2, 5))  # static, as in the forward model (JAX needs it)
    y = apply_along_first(MATRIX, x)
    weights = np.random.default_rng(0).normal(size=(3, 2, 5))
    f = pytensor.function([x], [y, pytensor.grad((y * weights).sum(), x)], mode=mode)
    data = np.random.default_rng(1).normal(size=(4, 2, 5))
    value, grad = f(data)
    np.testing.assert_allclose(value, np.tensordot(MATRIX, data, axes=([0], [0])), rtol=1e-13)
    np.testing.assert_allclose(grad, np.tensordot(MATRIX, weights, axes=([1], [0])),
                               rtol=1e-13)
