"""Per-plane 2D convolution with a constant kernel, as one PyTensor op (scipy.fft).

Extended sources with free shapes are convolved with the PSF on every evaluation. Built
from PyTensor's generic ``RFFTOp``/``IRFFTOp`` (numpy's FFT, real and imaginary parts
stacked into an extra axis, the product spelled out in between), that took six FFTs plus
several copies per source and direction. :class:`FFTConvolve` does the whole
``crop(irfft2(rfft2(pad(x)) * K))`` in one call with :mod:`scipy.fft` (~3-5x faster
than numpy's on these sizes), and its gradient is the same op in adjoint mode: circular
correlation, ``irfft2(rfft2(pad(g)) * conj(K))``, exact.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op

__all__ = ["FFTConvolve", "fft_convolve"]


def fft_convolve(x, kernel: np.ndarray, shape: tuple[int, int]):
    """``x`` ``(E, ny, nx)`` convolved plane by plane with ``kernel`` ``(E, ky, kx)``,
    same-size output (as ``scipy.signal.fftconvolve(..., mode="same")``).

    Examples
    --------
    >>> import pytensor
    >>> from scipy.signal import fftconvolve
    >>> rng = np.random.default_rng(0)
    >>> kernel, image = rng.random((2, 3, 5)), rng.random((2, 6, 7))
    >>> x = pt.tensor3("x")
    >>> f = pytensor.function([x], fft_convolve(x, kernel, (6, 7)), mode="CVM")
    >>> bool(np.allclose(f(image), fftconvolve(image, kernel, mode="same", axes=(1, 2))))
    True
    """
    from scipy.fft import next_fast_len

    kernel = np.asarray(kernel, float)
    n_e, ky, kx = kernel.shape
    ny, nx = shape
    # circular convolution: wrap-around may only land on the part of the full linear
    # convolution that 'same' discards, i.e. its first (k-1)//2 rows and columns
    fy = next_fast_len(ny + ky - 1 - (ky - 1) // 2, real=True)
    fx = next_fast_len(nx + kx - 1 - (kx - 1) // 2, real=True)
    spec = np.fft.rfftn(kernel, s=(fy, fx), axes=(-2, -1))
    op = FFTConvolve(fy, fx, (ky - 1) // 2, (kx - 1) // 2)
    # static shapes throughout (the JAX backend needs them)
    x = pt.specify_shape(pt.as_tensor_variable(x, dtype="float64"), (n_e, ny, nx))
    return op(x, pt.constant(spec))


class FFTConvolve(Op):
    """``y = crop(irfft2(rfft2(x, (fy, fx)) * K))`` per plane; ``adjoint=True`` gives the
    transpose map (correlation), which is this op's gradient.

    Inputs: ``x`` (E, ny, nx) float64 (``adjoint``: the cotangent, same shape) and the
    kernel's transform ``K`` (E, fy, fx // 2 + 1) complex128. The crop starts at
    ``(y0, x0)`` of the circular result.

    Examples
    --------
    The adjoint is the transpose: ``<A x, y> = <x, A^T y>``.

    >>> import pytensor
    >>> rng = np.random.default_rng(1)
    >>> x, y = rng.random((1, 4, 5)), rng.random((1, 4, 5))
    >>> K = pt.constant(np.fft.rfftn(rng.random((1, 3, 3)), s=(6, 8), axes=(1, 2)))
    >>> a, b = pt.tensor3("a"), pt.tensor3("b")
    >>> f = pytensor.function([a, b], mode="CVM", outputs=[FFTConvolve(6, 8, 1, 1)(a, K),
    ...                                FFTConvolve(6, 8, 1, 1, adjoint=True)(b, K)])
    >>> ax, aty = f(x, y)
    >>> bool(np.isclose((ax * y).sum(), (x * aty).sum()))
    True
    """

    __props__ = ("fy", "fx", "y0", "x0", "adjoint")

    def __init__(self, fy: int, fx: int, y0: int, x0: int, adjoint: bool = False) -> None:
        self.fy, self.fx, self.y0, self.x0 = int(fy), int(fx), int(y0), int(x0)
        self.adjoint = bool(adjoint)

    def make_node(self, x, spec):
        x = pt.as_tensor_variable(x)
        spec = pt.as_tensor_variable(spec)
        if x.ndim != 3 or spec.ndim != 3:
            raise TypeError("FFTConvolve needs (E, ny, nx) planes and (E, fy, fx//2+1) "
                            "kernel transforms")
        return Apply(self, [x, spec], [pt.tensor(dtype="float64", shape=x.type.shape)])

    def perform(self, node, inputs, outputs):
        from scipy import fft

        x, spec = inputs
        ny, nx = x.shape[-2:]
        s = (self.fy, self.fx)
        if not self.adjoint:
            full = fft.irfft2(fft.rfft2(x, s=s) * spec, s=s)
            out = full[:, self.y0:self.y0 + ny, self.x0:self.x0 + nx]
        else:
            padded = np.zeros((x.shape[0], *s))
            padded[:, self.y0:self.y0 + ny, self.x0:self.x0 + nx] = x
            out = fft.irfft2(fft.rfft2(padded) * np.conj(spec), s=s)[:, :ny, :nx]
        outputs[0][0] = np.ascontiguousarray(out)

    def infer_shape(self, node, shapes):
        return [shapes[0]]

    def pullback(self, inputs, outputs, cotangents):
        from pytensor.gradient import DisconnectedType

        (g,) = cotangents
        transpose = FFTConvolve(self.fy, self.fx, self.y0, self.x0, not self.adjoint)
        return [transpose(g, inputs[1]), DisconnectedType()()]

    def connection_pattern(self, node):
        return [[True], [False]]
