"""Numba implementations of the forward model's own ops (PyTensor's ``NUMBA`` mode).

PyTensor 3 compiles with Numba by default (``FAST_RUN``), and so do PyMC and nutpie.
:func:`register_numba` gives skyfit's ops their translations:

* :class:`~skyfit.forward.csr.CSRMatVec`: the C code's two loops, compiled (nopython);
* :class:`~skyfit.forward.pixelspline.SplinePixels` and ``SplinePixelsT``: the
  sub-pixel loops of their C code, compiled (nopython);
* :class:`~skyfit.forward.countslog.CountsLogSum` and ``CountsLogGrad``: their loops
  (nopython; the C library's logarithm);
* :class:`~skyfit.forward.matmul.ConstMatMul`: ``A.T @ x`` (nopython);
* :class:`~skyfit.forward.fftconv.FFTConvolve`: Numba has no FFT, so the op's own
  ``perform`` (:mod:`scipy.fft`) runs in an object-mode block; the FFTs dominate its
  cost either way;
* :class:`~skyfit.forward.radialcounts.RadialCounts` and its gradient: the loops of
  their C code, pixel by pixel, compiled (nopython; the samplers' default backend runs
  them). The two in one pass (:mod:`~skyfit.forward.radialfused`) is C only: in Numba
  its three accumulators per energy plane stayed scalar code, slower than the pair.

Not done at import: importing PyTensor's Numba dispatch takes about a second; the code
paths that compile with Numba call it (:class:`~skyfit.forward.Likelihood` by its mode,
:mod:`skyfit.bayes`).
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from .countslog import CountsLogGrad, CountsLogSum
from .csr import CSRMatVec
from .fftconv import FFTConvolve
from .matmul import ConstMatMul
from .pixelspline import SplinePixels, SplinePixelsT
from .radialcounts import RadialCounts, RadialCountsGrad

__all__ = ["register_numba"]

_REGISTERED = False
# PyTensor caches compiled Numba functions on disk by op and props, plus this number:
# taken from this file's text, so a changed translation is never read from a stale cache
_VERSION = zlib.crc32(Path(__file__).read_bytes())


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
            if data.size < 8 * n_rows:  # short rows: spread the transpose's (as in C)
                out = np.zeros(n_rows)
                for c in range(indptr_t.size - 1):
                    for k in range(indptr_t[c], indptr_t[c + 1]):
                        out[indices_t[k]] += data_t[k] * x[c]
                return out
            out = np.empty(n_rows)
            for r in range(n_rows):
                acc = 0.0
                for k in range(indptr[r], indptr[r + 1]):
                    acc += data[k] * x[indices[k]]
                out[r] = acc
            return out

        return csr_matvec_numba, _VERSION

    @numba_basic.register_funcify_default_op_cache_key(CountsLogSum)
    def _numba_counts_log_sum(op, node, **kwargs):
        @numba_basic.numba_njit
        def counts_log_sum_numba(n, mu):
            if n.size != mu.size:
                raise ValueError("CountsLogSum: n and mu differ in length")
            acc = 0.0
            for i in range(mu.size):  # floored at 1e-25; nan stays nan
                m = mu[i]
                acc += n[i] * np.log(m if m > 1e-25 or m != m else 1e-25)
            return np.asarray(acc)

        return counts_log_sum_numba, _VERSION

    @numba_basic.register_funcify_default_op_cache_key(CountsLogGrad)
    def _numba_counts_log_grad(op, node, **kwargs):
        @numba_basic.numba_njit
        def counts_log_grad_numba(n, mu, g):
            if n.size != mu.size:
                raise ValueError("CountsLogGrad: n and mu differ in length")
            out = np.empty(mu.size)
            gv = g.item()
            for i in range(mu.size):
                out[i] = gv * n[i] / mu[i] if mu[i] >= 1e-25 else 0.0
            return out

        return counts_log_grad_numba, _VERSION

    @numba_basic.register_funcify_default_op_cache_key(ConstMatMul)
    def _numba_const_matmul(op, node, **kwargs):
        @numba_basic.numba_njit
        def const_matmul_numba(a, a_t, x):
            return np.ascontiguousarray(a_t) @ np.ascontiguousarray(x)

        return const_matmul_numba, _VERSION

    @numba_basic.register_funcify_default_op_cache_key(FFTConvolve)
    def _numba_fft_convolve(op, node, **kwargs):
        out_type = numba_basic.get_numba_type(node.outputs[0].type)

        def perform(x, spec):
            storage = [[None]]
            op.perform(node, [x, spec], storage)
            return storage[0][0]

        @numba_basic.numba_njit
        def fft_convolve_numba(x, spec):
            with numba.objmode(out=out_type):
                out = perform(x, spec)
            return out

        return fft_convolve_numba, _VERSION

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

        return spline_pixels_numba, _VERSION

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

        return spline_pixels_t_numba, _VERSION

    d2r = np.pi / 180.0

    @numba_basic.numba_njit
    def _unit_vector(lon, lat):
        return (np.cos(lat * d2r) * np.cos(lon * d2r), np.cos(lat * d2r) * np.sin(lon * d2r),
                np.sin(lat * d2r))

    @numba_basic.numba_njit
    def _chord(s0, s1, s2, xyz, p):
        dx, dy, dz = s0 - xyz[0, p], s1 - xyz[1, p], s2 - xyz[2, p]
        return np.sqrt(dx * dx + dy * dy + dz * dz) / d2r

    @numba_basic.numba_njit
    def _check_bins(bins, size, npix):
        for k in range(bins.size):
            if (bins[k] < 0 or bins[k] >= size
                    or (k > 0 and bins[k] % npix < bins[k - 1] % npix)):
                raise ValueError("RadialCounts: bins outside the cutout or not sorted by "
                                 "pixel")

    @numba_basic.register_funcify_default_op_cache_key(RadialCounts)
    def _numba_radial_counts(op, node, **kwargs):
        ny, nx, h, nodes = op.ny, op.nx, op.h, op.nodes
        npix = ny * nx

        @numba_basic.numba_njit
        def radial_counts_numba(lon, lat, flux, xyz, w, pix, table, expo, disp, mrow, bins):
            s0, s1, s2 = _unit_vector(lon.item(), lat.item())
            n_t, n_e = table.shape[2], disp.shape[1]
            _check_bins(bins, n_e * npix, npix)
            e_step = 0 if expo.shape[0] == 1 else 1
            m_step = 0 if mrow.shape[0] == 1 else 1
            sums, av, at = np.zeros(n_t), np.empty(n_t), np.zeros(bins.size)
            k, p = 0, 0
            while p < w.size:  # pixel by pixel, as the C code
                j = pix[p]
                while k < bins.size and bins[k] % npix < j:
                    k += 1  # no sub-pixel there: zero
                av[:] = 0.0
                while p < w.size and pix[p] == j:  # the profile summed over the pixel
                    rr, wp = _chord(s0, s1, s2, xyz, p), w[p]
                    p += 1
                    if rr / h >= nodes:
                        continue  # beyond the profile's reach
                    idx, t = _interval(rr, h, nodes)
                    for n in range(n_t):
                        c0, c1 = table[idx, 0, n], table[idx, 1, n]
                        c2, c3 = table[idx, 2, n], table[idx, 3, n]
                        av[n] += wp * (c0 + t * (c1 + t * (c2 + t * c3)))
                for n in range(n_t):  # exposure, spectrum, the sum over the fitted bins
                    av[n] *= expo[j * e_step, n] * flux[n]
                    sums[n] += av[n] * mrow[j * m_step, n]
                while k < bins.size and bins[k] % npix == j:  # the dispersion there
                    e, acc = bins[k] // npix, 0.0
                    for n in range(n_t):
                        acc += av[n] * disp[n, e]
                    at[k] = acc
                    k += 1
            total = 0.0
            for n in range(n_t):
                total += sums[n]
            return np.asarray(total), at

        return radial_counts_numba, _VERSION

    @numba_basic.register_funcify_default_op_cache_key(RadialCountsGrad)
    def _numba_radial_counts_grad(op, node, **kwargs):
        ny, nx, h, nodes = op.ny, op.nx, op.h, op.nodes
        npix = ny * nx

        @numba_basic.numba_njit
        def radial_counts_grad_numba(lon, lat, flux, xyz, w, pix, table, expo, disp, mrow,
                                     bins, g_total, g_at):
            lon_v, lat_v = lon.item(), lat.item()
            s0, s1, s2 = _unit_vector(lon_v, lat_v)
            n_t, n_e = table.shape[2], disp.shape[1]
            _check_bins(bins, n_e * npix, npix)
            e_step = 0 if expo.shape[0] == 1 else 1
            m_step = 0 if mrow.shape[0] == 1 else 1
            gt = g_total.item()
            back, bf, av = np.empty(n_t), np.empty(n_t), np.empty(n_t)
            g_flux = np.zeros(n_t)
            gx, gy, gz = 0.0, 0.0, 0.0
            k, p = 0, 0
            while p < w.size:  # pixel by pixel, as the C code
                j = pix[p]
                while k < bins.size and bins[k] % npix < j:
                    k += 1
                for n in range(n_t):  # back through the fitted bins, the dispersion
                    back[n] = gt * mrow[j * m_step, n]
                while k < bins.size and bins[k] % npix == j:
                    e = bins[k] // npix
                    for n in range(n_t):
                        back[n] += g_at[k] * disp[n, e]
                    k += 1
                for n in range(n_t):  # and the exposure
                    back[n] *= expo[j * e_step, n]
                    bf[n] = back[n] * flux[n]
                    av[n] = 0.0
                while p < w.size and pix[p] == j:
                    dx, dy, dz = s0 - xyz[0, p], s1 - xyz[1, p], s2 - xyz[2, p]
                    rr = np.sqrt(dx * dx + dy * dy + dz * dz) / d2r
                    wp = w[p]
                    p += 1
                    if rr / h >= nodes:
                        continue
                    idx, t = _interval(rr, h, nodes)
                    slope = 0.0
                    for n in range(n_t):
                        c0, c1 = table[idx, 0, n], table[idx, 1, n]
                        c2, c3 = table[idx, 2, n], table[idx, 3, n]
                        av[n] += wp * (c0 + t * (c1 + t * (c2 + t * c3)))
                        slope += bf[n] * (c1 + t * (2.0 * c2 + 3.0 * t * c3))
                    if rr > 0.0:
                        f = wp * slope / (rr * d2r * d2r)
                        gx += f * dx
                        gy += f * dy
                        gz += f * dz
                for n in range(n_t):
                    g_flux[n] += back[n] * av[n]
            sin_lat = np.sin(lat_v * d2r)
            g_lon = (s0 * gy - s1 * gx) * d2r
            g_lat = (np.cos(lat_v * d2r) * gz - sin_lat * (np.cos(lon_v * d2r) * gx
                                                             + np.sin(lon_v * d2r) * gy)) * d2r
            return np.asarray(g_lon), np.asarray(g_lat), g_flux

        return radial_counts_grad_numba, _VERSION

    _REGISTERED = True
