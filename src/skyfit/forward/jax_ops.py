"""JAX implementations of the forward model's ops without one in PyTensor.

PyTensor's JAX backend (``mode="JAX"``) translates each op of a graph to a JAX function
through ``pytensor.link.jax.dispatch.jax_funcify``. Some ops of the forward model have
none (skyfit's own convolution, sparse product and pixel sums of radial profiles); this
module registers them:

* :class:`skyfit.forward.fftconv.FFTConvolve` (the PSF convolution of extended
  sources, :func:`skyfit.forward.response.convolve`) and its adjoint: ``jnp.fft.rfft2``
  and ``irfft2`` with the transform size of the op;
* :class:`skyfit.forward.csr.CSRMatVec` (the constant sparse response of fixed sources,
  :mod:`skyfit.forward.batch`): a gather and a sorted ``segment_sum`` over the CSR rows.
  Its gradient is the same op on the transpose, so value, gradient and Hessian all run
  through JAX;
* :class:`skyfit.forward.countslog.CountsLogSum` and ``CountsLogGrad`` (the Cash
  statistic's logarithm at the bins with counts and its gradient): ``jax.numpy``;
* :class:`skyfit.forward.matmul.ConstMatMul` (the dispersion of free sources): a
  matrix product;
* :class:`skyfit.forward.pixelspline.SplinePixels` and ``SplinePixelsT`` (PSF and
  round-source profiles summed over sub-pixels): a gather of the coefficient table, the
  cubic, and a reshaped sum (or a gather of the pixel values for the transpose);
* :class:`skyfit.forward.radialcounts.RadialCounts` and its gradient (free point and
  round sources): the ops' own array code in ``jax.numpy``.

Importing this module imports JAX and registers the translations (once, idempotently);
:class:`skyfit.forward.Likelihood` does it when its ``mode`` uses the JAX linker, and
:func:`skyfit.bayes.sample` when the sampler is numpyro or blackjax. ``import skyfit``
never imports JAX.

Device: JAX runs the compiled functions on its default device, the first GPU where the
installed jaxlib has GPU support and sees one, else the CPU (the fallback needs no
setting); ``with jax.default_device(jax.devices("cpu")[0]):`` around the calls, or
``JAX_PLATFORMS=cpu`` for the whole process, choose the CPU explicitly.

Precision: skyfit's graphs are float64. PyTensor's JAX dispatch sets
``jax_enable_x64`` from ``pytensor.config.floatX`` when it is imported (True with the
default ``floatX="float64"``); :func:`ensure_x64` (called on import) turns it on where it
is still off, so that JAX does not silently round the statistic to float32. The flag is
process-wide: JAX code of the caller then also defaults to 64-bit types.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from pytensor.graph.basic import Constant
from pytensor.link.jax.dispatch import jax_funcify

from .countslog import CountsLogGrad, CountsLogSum
from .csr import CSRMatVec
from .fftconv import FFTConvolve
from .matmul import ConstMatMul
from .pixelspline import SplinePixels, SplinePixelsT, poly
from .radialcounts import RadialCounts, RadialCountsGrad
from .stat import TRUNCATION_VALUE

__all__ = ["ensure_x64"]


def ensure_x64() -> bool:
    """Turn on JAX's 64-bit mode (``jax_enable_x64``) if it is off.

    Returns
    -------
    bool
        Whether the flag was off before (and has just been turned on).

    Examples
    --------
    >>> ensure_x64()
    False
    >>> import jax.numpy as jnp
    >>> jnp.ones(1).dtype
    dtype('float64')
    """
    if jax.config.jax_enable_x64:
        return False
    jax.config.update("jax_enable_x64", True)
    return True


@jax_funcify.register(FFTConvolve)
def _jax_fft_convolve(op, node, **kwargs):
    s, y0, x0 = (op.fy, op.fx), op.y0, op.x0

    def fft_convolve(x, spec):
        ny, nx = x.shape[-2:]
        if not op.adjoint:
            full = jnp.fft.irfft2(jnp.fft.rfft2(x, s=s) * spec, s=s)
            return full[..., y0:y0 + ny, x0:x0 + nx]
        padded = jnp.zeros((*x.shape[:-2], *s), x.dtype).at[
            ..., y0:y0 + ny, x0:x0 + nx].set(x)
        return jnp.fft.irfft2(jnp.fft.rfft2(padded) * jnp.conj(spec), s=s)[..., :ny, :nx]

    return fft_convolve


@jax_funcify.register(CSRMatVec)
def _jax_csr_matvec(op, node, **kwargs):
    if all(isinstance(v, Constant) for v in node.inputs[:3]):  # rows computed once
        data, indices, indptr = (np.asarray(v.data) for v in node.inputs[:3])
        n_rows = indptr.size - 1
        rows = jnp.asarray(np.repeat(np.arange(n_rows), np.diff(indptr)))
        data, indices = jnp.asarray(data), jnp.asarray(indices)

        def csr_matvec(*inputs):
            return jax.ops.segment_sum(data * inputs[-1][indices], rows,
                                       num_segments=n_rows, indices_are_sorted=True)

        return csr_matvec

    def csr_matvec_inputs(data, indices, indptr, *inputs):
        # the matrix as inputs (rows of the bins with counts: shared variables); shapes
        # are static while JAX traces, so the row of each entry is made here
        n_rows = indptr.shape[0] - 1
        rows = jnp.repeat(jnp.arange(n_rows), jnp.diff(indptr),
                          total_repeat_length=data.shape[0])
        return jax.ops.segment_sum(data * inputs[-1][indices], rows, num_segments=n_rows,
                                   indices_are_sorted=True)

    return csr_matvec_inputs


@jax_funcify.register(CountsLogSum)
def _jax_counts_log_sum(op, node, **kwargs):
    def counts_log_sum(n, mu):
        # a nan kept explicitly: XLA's vectorised maximum on the CPU dropped it
        floored = jnp.where(mu > TRUNCATION_VALUE, mu,
                            jnp.where(jnp.isnan(mu), mu, TRUNCATION_VALUE))
        return jnp.sum(n * jnp.log(floored))

    return counts_log_sum


@jax_funcify.register(CountsLogGrad)
def _jax_counts_log_grad(op, node, **kwargs):
    def counts_log_grad(n, mu, g):
        passes = mu >= TRUNCATION_VALUE
        return jnp.where(passes, g * n / jnp.where(passes, mu, 1.0), 0.0)

    return counts_log_grad


@jax_funcify.register(ConstMatMul)
def _jax_const_matmul(op, node, **kwargs):
    def const_matmul(a, a_t, x):
        return a_t @ x

    return const_matmul


def _jax_spline_values(op, r, table):
    idx = jnp.clip(jnp.floor(r / op.h), 0, op.nodes).astype(jnp.int64)
    t = jnp.minimum(r - idx * op.h, op.h)
    return poly(table[idx], t[:, None], op.deriv)  # (P, N)


@jax_funcify.register(SplinePixels)
def _jax_spline_pixels(op, node, **kwargs):
    def spline_pixels(r, w, table):
        vals = _jax_spline_values(op, r, table) * w[:, None]
        n = table.shape[1]
        return vals.T.reshape(n, op.ny, op.k, op.nx, op.k).sum(axis=(2, 4))

    return spline_pixels


@jax_funcify.register(SplinePixelsT)
def _jax_spline_pixels_t(op, node, **kwargs):
    pixel = jnp.asarray(op.pixel_of())

    def spline_pixels_t(r, w, table, g):
        at = g.reshape(g.shape[0], -1)[:, pixel]  # (N, P)
        return w * jnp.einsum("pn,np->p", _jax_spline_values(op, r, table), at)

    return spline_pixels_t


@jax_funcify.register(RadialCounts)
@jax_funcify.register(RadialCountsGrad)
def _jax_radial_counts(op, node, **kwargs):
    def radial_counts(*inputs):
        return op.compute(*inputs, m=jnp)

    return radial_counts


ensure_x64()
