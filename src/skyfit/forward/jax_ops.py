"""JAX implementations of the forward model's ops without one in PyTensor.

PyTensor's JAX backend (``mode="JAX"``) translates each op of a graph to a JAX function
through ``pytensor.link.jax.dispatch.jax_funcify``. Three ops of the forward model have
none (PyTensor 3.3's FFT ops, and skyfit's own sparse product); this module registers
them:

* ``RFFTOp`` and ``IRFFTOp`` (:mod:`pytensor.tensor.fft`, the PSF convolution of
  extended sources in :func:`skyfit.forward.response.convolve`): ``jnp.fft.rfftn`` and
  ``irfftn`` over all axes but the first, with the transform size taken from the graph,
  where it is a constant;
* :class:`skyfit.forward.csr.CSRMatVec` (the constant sparse response of fixed sources,
  :mod:`skyfit.forward.batch`): a gather and a sorted ``segment_sum`` over the CSR rows.
  Its gradient is the same op on the transpose, so value, gradient and Hessian all run
  through JAX.

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
import pytensor
from pytensor.compile.mode import Mode
from pytensor.graph.basic import Constant
from pytensor.graph.traversal import graph_inputs
from pytensor.link.jax.dispatch import jax_funcify
from pytensor.tensor.fft import IRFFTOp, RFFTOp

from .csr import CSRMatVec

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


def _constant(variable, what: str) -> np.ndarray:
    """The value of an input computed from constants only (JAX needs some inputs static).

    In a plain graph such an input is a ``Constant``; in a vectorised one
    (``jacobian(..., vectorize=True)``) ``Blockwise`` hands its core op a view of it
    (``Squeeze(ExpandDims(constant))``), evaluated here once.
    """
    if isinstance(variable, Constant):
        return np.asarray(variable.data)
    if not all(isinstance(v, Constant) for v in graph_inputs([variable])):
        raise NotImplementedError(f"JAX {what} needs a constant input; got {variable}, "
                                  "which depends on the inputs of the graph")
    return np.asarray(pytensor.function([], variable, mode=Mode(linker="py",
                                                                 optimizer=None))())


def _static(variable, what: str) -> tuple[int, ...]:
    """A constant integer vector input as a tuple (FFT sizes)."""
    return tuple(int(v) for v in _constant(variable, what).ravel())


@jax_funcify.register(RFFTOp)
def _jax_rfft(op, node, **kwargs):
    shape = _static(node.inputs[1], "rfft")
    axes = tuple(range(1, 1 + len(shape)))

    def rfft(a, _s):
        f = jnp.fft.rfftn(a, s=shape, axes=axes)
        return jnp.stack([f.real, f.imag], axis=-1)

    return rfft


@jax_funcify.register(IRFFTOp)
def _jax_irfft(op, node, **kwargs):
    shape = _static(node.inputs[1], "irfft")
    axes = tuple(range(1, 1 + len(shape)))
    scale = float(np.prod(shape))  # IRFFTOp is unnormalised (numpy's irfftn times n)

    def irfft(a, _s):
        return jnp.fft.irfftn(a[..., 0] + 1j * a[..., 1], s=shape, axes=axes) * scale

    return irfft


@jax_funcify.register(CSRMatVec)
def _jax_csr_matvec(op, node, **kwargs):
    data, indices, indptr = (_constant(v, "CSRMatVec") for v in node.inputs[:3])
    n_rows = indptr.size - 1
    rows = jnp.asarray(np.repeat(np.arange(n_rows), np.diff(indptr)))
    data, indices = jnp.asarray(data), jnp.asarray(indices)

    def csr_matvec(*inputs):
        return jax.ops.segment_sum(data * inputs[-1][indices], rows, num_segments=n_rows,
                                   indices_are_sorted=True)

    return csr_matvec


ensure_x64()
