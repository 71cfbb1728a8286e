r"""The Cash statistic's logarithm, :math:`\sum_i n_i \ln \max(\mu_i, 10^{-25})`, as one
op with a vectorised logarithm.

At the bins with counts the statistic needs one logarithm per bin (~29k on the
Fermi-LAT Galactic centre). As PyTensor's elementwise code it called the C library's
``log`` bin by bin, with the sum apart: ~95 us of a Galactic-centre evaluation, the
largest part after the free sources' own. :class:`CountsLogSum` takes four bins at a
time through fdlibm's logarithm (the C library's algorithm, as arithmetic on vectors:
within one unit in the last place) and sums as it goes: ~20 us. Its gradient,
``n / mu`` where ``mu`` is at or above the floor, is :class:`CountsLogGrad` (four
divisions at a time: ~12 us, where PyTensor's elementwise code took ~25); second
derivatives are PyTensor code. Both split their loops into runs of at least
:data:`THREAD_BINS` bins, one per OpenMP thread (the sum's parts added in a fixed
order); Numba and JAX translations in :mod:`.numba_ops` and :mod:`.jax_ops`.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Apply
from pytensor.link.c.op import COp

from . import radialcounts_c
from .stat import TRUNCATION_VALUE

__all__ = ["CountsLogGrad", "CountsLogSum", "counts_log_sum"]


THREAD_BINS = 16384
"""Bins per OpenMP thread, at least."""


class _CountsOp(radialcounts_c.OpenMPCode, COp):
    """The C support both ops share: their loops (:data:`FUNCTION`) compiled for the
    radial loops' target, OpenMP."""

    __props__ = ()

    def c_code_cache_version(self):
        return (4, radialcounts_c.openmp(), radialcounts_c.vector_target())

    def c_support_code(self, **kwargs):
        return [radialcounts_c.SUPPORT,
                FUNCTION.replace("TARGET", radialcounts_c.target_attribute())]

    def _head(self, n, mu, fail):
        """C code: contiguous ``n`` and ``mu`` (``n_c``, ``mu_c``; released by
        :data:`RELEASE`), their ``size`` checked equal, their data ``n`` and ``mu``, and
        ``nth``, the OpenMP threads for them."""
        return f"""
        PyArrayObject *n_c = PyArray_GETCONTIGUOUS({n}), *mu_c = PyArray_GETCONTIGUOUS({mu});
        const npy_intp size = PyArray_SIZE(mu_c);
        if (PyArray_SIZE(n_c) != size) {{
            {RELEASE}
            PyErr_SetString(PyExc_ValueError, "{type(self).__name__}: n and mu differ in length");
            {fail}
        }}
        const double *n = (const double*)PyArray_DATA(n_c), *mu = (const double*)PyArray_DATA(mu_c);
        {radialcounts_c.threads("size", THREAD_BINS)}"""


RELEASE = "Py_DECREF(n_c); Py_DECREF(mu_c);"


def counts_log_sum(n, mu):
    r""":math:`\sum_i n_i \ln \max(\mu_i, 10^{-25})` (the floor is
    :data:`~skyfit.forward.stat.TRUNCATION_VALUE`, as in Gammapy).

    Parameters
    ----------
    n, mu : TensorVariable, shape (k,)
        Counts and predicted counts at the same bins (float64).

    Returns
    -------
    TensorVariable, scalar
        ``nan`` where any ``mu`` is ``nan``, as ``numpy.log`` gives it.

    Examples
    --------
    >>> import pytensor
    >>> mu = pt.dvector("mu")
    >>> s = counts_log_sum(np.array([1.0, 2.0, 3.0]), mu)
    >>> f = pytensor.function([mu], [s, pytensor.grad(s, mu)], mode="CVM")
    >>> value, grad = f(np.array([1.0, np.e, 1e-30]))
    >>> round(float(value), 6), grad.tolist()
    (-170.693882, [1.0, 0.7357588823428847, 0.0])
    """
    n, mu = (pt.as_tensor_variable(v, dtype="float64") for v in (n, mu))
    return CountsLogSum()(n, mu)


class CountsLogSum(_CountsOp):
    """``sum(n * log(maximum(mu, 1e-25)))`` of two vectors of equal length: C code
    with fdlibm's logarithm on four bins at a time (:data:`FUNCTION`); the C
    library's ``log`` for the last few bins, and for all of them where any ``mu`` is
    infinite or ``nan``.

    Examples
    --------
    >>> import pytensor.tensor as pt
    >>> isinstance(counts_log_sum(pt.dvector(), pt.dvector()).owner.op, CountsLogSum)
    True
    """

    def make_node(self, n, mu):
        inputs = [pt.as_tensor_variable(v, dtype="float64") for v in (n, mu)]
        if any(v.type.ndim != 1 for v in inputs):
            raise TypeError("CountsLogSum: n and mu must be vectors")
        return Apply(self, inputs, [pt.dscalar()])

    def perform(self, node, inputs, outputs):
        n, mu = inputs
        if n.shape != mu.shape:
            raise ValueError(f"CountsLogSum: n {n.shape} and mu {mu.shape} differ in shape")
        outputs[0][0] = np.asarray(np.dot(n, np.log(np.maximum(mu, TRUNCATION_VALUE))))

    def pullback(self, inputs, outputs, cotangents):
        n, mu = inputs
        (g,) = cotangents
        return [g * pt.log(pt.maximum(mu, TRUNCATION_VALUE)), CountsLogGrad()(n, mu, g)]

    def infer_shape(self, node, shapes):
        return [()]

    def c_code(self, node, name, inputs, outputs, sub):
        n, mu = inputs
        (out,) = outputs
        fail = sub["fail"]
        return f"""
        {{
        {self._head(n, mu, fail)}
        {radialcounts_c.scalar_out(out, RELEASE, fail)}
        double parts[16];
        if (nth == 1) {{
            parts[0] = skyfit_counts_log_sum(n, mu, size);
        }} else {{
            #pragma omp parallel for schedule(static, 1) num_threads(nth)
            for (int c = 0; c < nth; ++c) {{
                const npy_intp i0 = size * c / nth, i1 = size * (c + 1) / nth;
                parts[c] = skyfit_counts_log_sum(n + i0, mu + i0, i1 - i0);
            }}
        }}
        double total = 0.0;
        for (int c = 0; c < nth; ++c) total += parts[c];  /* in a fixed order */
        ((double*)PyArray_DATA({out}))[0] = total;
        {RELEASE}
        }}
        """


class CountsLogGrad(_CountsOp):
    """The gradient of :class:`CountsLogSum` with respect to ``mu`` times ``g``:
    ``g * n / mu`` where ``mu >= 1e-25`` (as ``pt.maximum``'s gradient), else 0. A C
    loop on four bins at a time (PyTensor's elementwise code divided one by one:
    ~25 us on the Galactic centre's bins with counts, ~12 us now); its own gradient
    is PyTensor code, for second derivatives.

    Examples
    --------
    >>> out = [[None]]
    >>> CountsLogGrad().perform(None, [np.ones(2), np.array([4.0, 0.0]), 2.0], out)
    >>> out[0][0].tolist()
    [0.5, 0.0]
    """

    def make_node(self, n, mu, g):
        inputs = [pt.as_tensor_variable(v, dtype="float64") for v in (n, mu, g)]
        return Apply(self, inputs, [inputs[1].type()])

    def perform(self, node, inputs, outputs):
        n, mu, g = inputs
        passes = mu >= TRUNCATION_VALUE
        outputs[0][0] = np.where(passes, g * n / np.where(passes, mu, 1.0), 0.0)

    def pullback(self, inputs, outputs, cotangents):
        n, mu, g = inputs
        (c,) = cotangents
        inverse = pt.switch(pt.ge(mu, TRUNCATION_VALUE), 1.0 / mu, 0.0)
        return [c * g * inverse, -c * g * n * inverse**2, (c * n * inverse).sum()]

    def infer_shape(self, node, shapes):
        return [shapes[1]]

    def c_code(self, node, name, inputs, outputs, sub):
        n, mu, g = inputs
        (out,) = outputs
        fail = sub["fail"]
        return f"""
        {{
        {self._head(n, mu, fail)}
        {radialcounts_c.vector_out(out, "size", RELEASE, fail)}
        const double g = ((double*)PyArray_DATA({g}))[0];
        double *o = (double*)PyArray_DATA({out});
        if (nth == 1) {{
            skyfit_counts_log_grad(n, mu, g, o, size);
        }} else {{
            #pragma omp parallel for schedule(static, 1) num_threads(nth)
            for (int c = 0; c < nth; ++c) {{
                const npy_intp i0 = size * c / nth, i1 = size * (c + 1) / nth;
                skyfit_counts_log_grad(n + i0, mu + i0, g, o + i0, i1 - i0);
            }}
        }}
        {RELEASE}
        }}
        """


FUNCTION = """
#ifndef SKYFIT_COUNTS_LOG_SUM
#define SKYFIT_COUNTS_LOG_SUM
typedef long long skyfit_v4i __attribute__((vector_size(32)));
/* fdlibm's log (Sun Microsystems, 1993; e_log.c) of four positive normal doubles:
   x = 2^k (1 + f) with 1 + f in [sqrt(2)/2, sqrt(2)), s = f / (2 + f),
   log(1 + f) = f - (f^2/2 - s (f^2/2 + R(s^2))), R its minimax polynomial;
   k and 1 + f from the bits (the offset moves sqrt(2)/2 to 1), k as a double by
   adding it to 2^52's mantissa */
SKYFIT_INLINE skyfit_v4d skyfit_log4(skyfit_v4d x) {
    const skyfit_v4i u = (skyfit_v4i)x + (0x3ff0000000000000LL - 0x3fe6a09e667f3bcdLL);
    const skyfit_v4d k = (skyfit_v4d)((u >> 52) | 0x4330000000000000LL)
                         - (4503599627370496.0 + 1023.0);
    const skyfit_v4d f =
        (skyfit_v4d)((u & 0x000fffffffffffffLL) + 0x3fe6a09e667f3bcdLL) - 1.0;
    const skyfit_v4d s = f / (2.0 + f), z = s * s, w = z * z;
    const skyfit_v4d t1 = w * (3.999999999940941908e-01 + w * (2.222219843214978396e-01
                               + w * 1.531383769920937332e-01));
    const skyfit_v4d t2 = z * (6.666666666666735130e-01 + w * (2.857142874366239149e-01
                               + w * (1.818357216161805012e-01
                                      + w * 1.479819860511658591e-01)));
    const skyfit_v4d hfsq = 0.5 * f * f;
    return k * 6.93147180369123816490e-01
           - ((hfsq - (s * (hfsq + t1 + t2) + k * 1.90821492927058770002e-10)) - f);
}
/* sum(n * log(max(mu, 1e-25))): eight bins a step in two sums of four lanes; the C
   library's log for the rest, and for all where a mu is infinite or nan (the bits
   above do not make those) */
SKYFIT_OPTIMISE TARGET
static double skyfit_counts_log_sum(const double *__restrict__ n,
                                    const double *__restrict__ mu, npy_intp size) {
    const skyfit_v4d floor = {1e-25, 1e-25, 1e-25, 1e-25};
    const skyfit_v4d huge = {1.7976931348623157e308, 1.7976931348623157e308,
                             1.7976931348623157e308, 1.7976931348623157e308};
    skyfit_v4d a0 = {0.0, 0.0, 0.0, 0.0}, a1 = a0;
    skyfit_v4i finite = {-1, -1, -1, -1};
    npy_intp i = 0;
    for (; i + 8 <= size; i += 8) {
        const skyfit_v4d x0 = skyfit_ld4(mu + i), x1 = skyfit_ld4(mu + i + 4);
        finite &= (skyfit_v4i)(x0 <= huge) & (skyfit_v4i)(x1 <= huge);
        const skyfit_v4i m0 = (skyfit_v4i)(x0 > floor), m1 = (skyfit_v4i)(x1 > floor);
        const skyfit_v4d y0 = (skyfit_v4d)(((skyfit_v4i)x0 & m0) | ((skyfit_v4i)floor & ~m0));
        const skyfit_v4d y1 = (skyfit_v4d)(((skyfit_v4i)x1 & m1) | ((skyfit_v4i)floor & ~m1));
        a0 += skyfit_ld4(n + i) * skyfit_log4(y0);
        a1 += skyfit_ld4(n + i + 4) * skyfit_log4(y1);
    }
    if (!(finite[0] & finite[1] & finite[2] & finite[3])) { a0 = a1 = floor * 0.0; i = 0; }
    a0 += a1;
    double acc = a0[0] + a0[1] + a0[2] + a0[3];
    for (; i < size; ++i) acc += n[i] * log(mu[i] > 1e-25 || mu[i] != mu[i] ? mu[i] : 1e-25);
    return acc;
}
/* g * n / mu where mu >= 1e-25, else 0: the division by the floored mu for every bin
   and a selection after it (no division under a branch: the loop vectorises) */
SKYFIT_OPTIMISE TARGET
static void skyfit_counts_log_grad(const double *__restrict__ n,
                                   const double *__restrict__ mu, const double g,
                                   double *__restrict__ out, npy_intp size) {
    for (npy_intp i = 0; i < size; ++i) {
        const double q = g * n[i] / (mu[i] > 1e-25 ? mu[i] : 1e-25);
        out[i] = mu[i] >= 1e-25 ? q : 0.0;
    }
}
#endif
"""
