"""Numba implementations of the forward model's own ops (PyTensor's ``NUMBA`` mode).

PyTensor 3 compiles with Numba by default (``FAST_RUN``), and so do PyMC and nutpie.
:func:`register_numba` gives skyfit's ops their translations:

* :class:`~skyfit.forward.csr.CSRMatVec`: the row loop, compiled (nopython);
* :class:`~skyfit.forward.pixelspline.SplinePixels` and ``SplinePixelsT``: the
  sub-pixel loops of their C code, compiled (nopython);
* :class:`~skyfit.forward.matmul.ConstMatMul`: ``A.T @ x`` (nopython);
* :class:`~skyfit.forward.fftconv.FFTConvolve`: Numba has no FFT, so the op's own
  ``perform`` (:mod:`scipy.fft`) runs in an object-mode block; the FFTs dominate its
  cost either way;
* :class:`~skyfit.forward.radialcounts.RadialCounts` and its gradient: their
  ``perform`` (numpy) in an object-mode block.

Not done at import: importing PyTensor's Numba dispatch takes about a second; the code
paths that compile with Numba call it (:class:`~skyfit.forward.Likelihood` by its mode,
:mod:`skyfit.bayes`).
"""

from __future__ import annotations

import numpy as np

from .csr import CSRMatVec
from .fftconv import FFTConvolve
from .matmul import ConstMatMul
from .pixelspline import SplinePixels, SplinePixelsT
from .radialcounts import RadialCounts, RadialCountsGrad

__all__ = ["register_numba"]

_REGISTERED = False


def register_numba() -> None:
    """Register the Numba translations of skyfit's ops.

    Examples
    --------
    >>> import pytensor
    >>> import pytensor.tensor as pt
    >>> from skyfit.forward.fftconv import fft_convolve
    >>> register_numba()
    >>> register_numba()  # idempotent
    >>> x = pt.tensor3("x")
    >>> y = fft_convolve(x, np.full((1, 3, 3), 1 / 9), (5, 5))
    >>> f = pytensor.function([x], [y, pytensor.grad(y[0, 2, 2], x)], mode="NUMBA")
    >>> image = np.zeros((1, 5, 5))
    >>> image[0, 2, 2] = 9.0
    >>> out, grad = f(image)
    >>> out[0, 1:4, 1:4].round(6).tolist(), float(grad.sum().round(6))
    ([[1.0, 1.0, 1.0], [1.0, 1.0, 1.0], [1.0, 1.0, 1.0]], 1.0)
    """
    global _REGISTERED
    if _REGISTERED:
        return
    import numba
    from pytensor.link.numba.dispatch import basic as numba_basic

    @numba_basic.register_funcify_default_op_cache_key(CSRMatVec)
    def _numba_csr_matvec(op, node, **kwargs):
        @numba_basic.numba_njit
        def csr_matvec_numba(data, indices, indptr, data_t, indices_t, indptr_t, x):
            n_rows = indptr.size - 1
            out = np.empty(n_rows)
            for r in range(n_rows):
                acc = 0.0
                for k in range(indptr[r], indptr[r + 1]):
                    acc += data[k] * x[indices[k]]
                out[r] = acc
            return out

        return csr_matvec_numba, 1

    @numba_basic.register_funcify_default_op_cache_key(ConstMatMul)
    def _numba_const_matmul(op, node, **kwargs):
        @numba_basic.numba_njit
        def const_matmul_numba(a, a_t, x):
            return np.ascontiguousarray(a_t) @ np.ascontiguousarray(x)

        return const_matmul_numba, 1

    @numba_basic.register_funcify_default_op_cache_key(FFTConvolve)
    @numba_basic.register_funcify_default_op_cache_key(RadialCounts)
    def _numba_object_mode(op, node, **kwargs):
        # the op's perform in an object-mode block (one output)
        out_type = numba_basic.get_numba_type(node.outputs[0].type)

        def perform(*inputs):
            storage = [[None]]
            op.perform(node, list(inputs), storage)
            return storage[0][0]

        n_in = len(node.inputs)
        if n_in == 2:
            @numba_basic.numba_njit
            def object_mode(a, b):
                with numba.objmode(out=out_type):
                    out = perform(a, b)
                return out
        else:
            @numba_basic.numba_njit
            def object_mode(a, b, c, d, e, f, g, h, i):
                with numba.objmode(out=out_type):
                    out = perform(a, b, c, d, e, f, g, h, i)
                return out

        return object_mode, 1

    @numba_basic.register_funcify_default_op_cache_key(RadialCountsGrad)
    def _numba_radial_counts_grad(op, node, **kwargs):
        t_lon, t_lat, t_flux = (numba_basic.get_numba_type(v.type) for v in node.outputs)

        def perform(*inputs):
            storage = [[None] for _ in node.outputs]
            op.perform(node, list(inputs), storage)
            return tuple(s[0] for s in storage)

        @numba_basic.numba_njit
        def radial_counts_grad(a, b, c, d, e, f, g, h, i, j):
            with numba.objmode(o0=t_lon, o1=t_lat, o2=t_flux):
                o0, o1, o2 = perform(a, b, c, d, e, f, g, h, i, j)
            return o0, o1, o2

        return radial_counts_grad, 1

    @numba_basic.numba_njit
    def _interval(r, h, nodes):
        q = np.floor(r / h)
        if not q > 0.0:
            q = 0.0
        q = min(q, nodes)
        idx = int(q)
        return idx, min(r - idx * h, h)

    @numba_basic.numba_njit
    def _poly(c, t, deriv):
        if deriv == 0:
            return c[0] + t * (c[1] + t * (c[2] + t * c[3]))
        if deriv == 1:
            return c[1] + t * (2.0 * c[2] + 3.0 * t * c[3])
        if deriv == 2:
            return 2.0 * c[2] + 6.0 * t * c[3]
        return 6.0 * c[3]

    @numba_basic.register_funcify_default_op_cache_key(SplinePixels)
    def _numba_spline_pixels(op, node, **kwargs):
        k, ny, nx, h, nodes, deriv = op.k, op.ny, op.nx, op.h, op.nodes, op.deriv

        @numba_basic.numba_njit
        def spline_pixels_numba(r, w, table):
            n_planes = table.shape[1]
            out = np.zeros((n_planes, ny, nx))
            for p in range(r.size):  # sub-pixels, row-major; (iy, ix): their pixel
                iy, ix = p // (nx * k) // k, p % (nx * k) // k
                idx, t = _interval(r[p], h, nodes)
                for n in range(n_planes):
                    out[n, iy, ix] += w[p] * _poly(table[idx, n], t, deriv)
            return out

        return spline_pixels_numba, 1

    @numba_basic.register_funcify_default_op_cache_key(SplinePixelsT)
    def _numba_spline_pixels_t(op, node, **kwargs):
        k, nx, h, nodes, deriv = op.k, op.nx, op.h, op.nodes, op.deriv

        @numba_basic.numba_njit
        def spline_pixels_t_numba(r, w, table, g):
            n_planes = table.shape[1]
            out = np.empty(r.size)
            for p in range(r.size):
                iy, ix = p // (nx * k) // k, p % (nx * k) // k
                idx, t = _interval(r[p], h, nodes)
                acc = 0.0
                for n in range(n_planes):
                    acc += g[n, iy, ix] * _poly(table[idx, n], t, deriv)
                out[p] = w[p] * acc
            return out

        return spline_pixels_t_numba, 1

    _REGISTERED = True
