"""A constant sparse matrix times a vector, as one PyTensor op with C code.

The precomputed responses of fixed-position sources (:mod:`skyfit.forward.batch`) enter
the graph as ``A @ f``, with ``A`` constant and only ``f`` depending on the parameters.
PyTensor's own ``structured_dot`` runs through Python (scipy) on every call, and its
gradient multiplies by ``A.T`` in CSC form (a scatter); for small problems like the Crab
those two calls were most of an evaluation. :func:`csr_matvec` instead stores ``A`` and
``A.T`` both in CSR form, multiplies in a C loop, and its gradient is the same op on the
transpose. The loop sums long rows one by one; short ones (the fixed sources at the
bins with counts: ~2 entries, half of them none, on the Fermi-LAT Galactic centre) it
builds by spreading the transpose's long rows into the output, with no branch per row
that mispredicts on their lengths (0.16 -> 0.06 ms there).
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import DisconnectedType
from pytensor.graph.basic import Apply
from pytensor.link.c.op import COp

from . import radialcounts_c

__all__ = ["CSRMatVec", "csr_arrays", "csr_matvec"]

THREAD_NNZ = 16384
"""Entries of the matrix per OpenMP thread, at least (fewer threads for fewer)."""


def csr_matvec(matrix, x):
    """``matrix @ x`` for a constant scipy sparse ``matrix`` and a PyTensor vector ``x``.

    Parameters
    ----------
    matrix : scipy.sparse matrix or array, shape (m, n)
        Constant; converted to CSR (float64) once, with its transpose.
    x : TensorVariable, shape (n,)

    Returns
    -------
    TensorVariable, shape (m,)

    Examples
    --------
    >>> import pytensor
    >>> from scipy import sparse
    >>> a = sparse.csr_matrix(np.array([[1.0, 0.0, 2.0], [0.0, 3.0, 0.0]]))
    >>> x = pt.dvector("x")
    >>> y = csr_matvec(a, x)
    >>> f = pytensor.function([x], [y, pytensor.grad(y.sum(), x)], mode="CVM")
    >>> [v.tolist() for v in f(np.array([1.0, 1.0, 1.0]))]
    [[3.0, 3.0], [1.0, 3.0, 2.0]]
    """
    parts = [pt.constant(arr) for arr in csr_arrays(matrix)]
    return CSRMatVec()(*parts, pt.as_tensor_variable(x, dtype="float64"))


def csr_arrays(matrix) -> list[np.ndarray]:
    """The six inputs :class:`CSRMatVec` takes for ``matrix``: ``data``, ``indices``,
    ``indptr`` of ``matrix`` and of its transpose, in CSR form (float64; int32 indices
    where they fit, half the index traffic).

    Examples
    --------
    >>> [a.tolist() for a in csr_arrays(np.array([[1.0, 0.0], [2.0, 3.0]]))]
    [[1.0, 2.0, 3.0], [0, 0, 1], [0, 1, 3], [1.0, 2.0, 3.0], [0, 1, 1], [0, 2, 3]]
    """
    from scipy import sparse

    a = sparse.csr_matrix(matrix, dtype=np.float64)
    a_t = sparse.csr_matrix(a.T)
    a.sort_indices()  # (the C code's threads find their rows by bisection)
    a_t.sort_indices()
    index = np.int32 if a.nnz < 2**31 - 1 else np.int64
    return [arr for m in (a, a_t)
            for arr in (m.data, m.indices.astype(index), m.indptr.astype(index))]


class CSRMatVec(radialcounts_c.OpenMPCode, COp):
    """``y = A @ x`` with ``A`` given as CSR ``(data, indices, indptr)`` of shape
    ``(len(indptr) - 1, len(x))``; the next three inputs are ``A.T`` in CSR, used by the
    gradient (so both products run as row-wise C loops). Both in canonical form, with
    sorted indices in each row, as :func:`csr_arrays` makes them: the C code's OpenMP
    threads (one per :data:`THREAD_NNZ` entries at most) find their rows by bisection.

    Examples
    --------
    >>> import pytensor.tensor as pt
    >>> isinstance(csr_matvec(np.eye(2), pt.dvector()).owner.op, CSRMatVec)
    True
    """

    __props__ = ()

    def make_node(self, *inputs):
        inputs = [pt.as_tensor_variable(v) for v in inputs]
        return Apply(self, inputs, [pt.tensor(dtype="float64", shape=(None,))])

    def perform(self, node, inputs, outputs):
        data, indices, indptr, *_, x = inputs
        rows = np.repeat(np.arange(indptr.size - 1), np.diff(indptr))
        outputs[0][0] = np.bincount(rows, weights=data * x[indices], minlength=indptr.size - 1)

    def pullback(self, inputs, outputs, cotangents):
        data, indices, indptr, data_t, indices_t, indptr_t, _ = inputs
        (g,) = cotangents
        back = self(data_t, indices_t, indptr_t, data, indices, indptr, g)
        return [DisconnectedType()() for _ in range(6)] + [back]

    def connection_pattern(self, node):
        return [[False]] * 6 + [[True]]

    def infer_shape(self, node, shapes):
        return [(shapes[2][0] - 1,)]

    def c_support_code(self, **kwargs):
        return radialcounts_c.SUPPORT  # skyfit_forked (GNU OpenMP and fork())

    def c_code(self, node, name, inputs, outputs, sub):
        data, indices, indptr, data_t, indices_t, indptr_t, x = inputs
        (y,) = outputs
        fail = sub["fail"]
        return f"""
        npy_intp n_rows = PyArray_DIMS({indptr})[0] - 1;
        if ({y} == NULL || PyArray_DIMS({y})[0] != n_rows) {{
            Py_XDECREF({y});
            {y} = (PyArrayObject*)PyArray_EMPTY(1, &n_rows, NPY_FLOAT64, 0);
            if ({y} == NULL) {{ {fail} }}
        }}
        {{
            const npy_intp n_cols = PyArray_DIMS({indptr_t})[0] - 1;
            const npy_intp nnz = PyArray_DIMS({data})[0];
            const char* xb = (const char*)PyArray_DATA({x});
            npy_intp xs = PyArray_STRIDES({x})[0];
            double* out = (double*)PyArray_DATA({y});
            {radialcounts_c.threads("nnz", THREAD_NNZ)}
            if (nnz < 8 * n_rows) {{
                /* short rows (the fixed sources at the bins with counts: ~2 entries,
                   many none): their varying lengths cost a mispredicted branch per
                   row; instead each column of the transpose's long rows is spread
                   into the output. Threads take ranges of output rows, each finding
                   its part of a column by bisection (its row indices are sorted) */
                const double* d = (const double*)PyArray_DATA({data_t});
                const dtype_{indices_t}* ix = (const dtype_{indices_t}*)PyArray_DATA({indices_t});
                const dtype_{indptr_t}* ip = (const dtype_{indptr_t}*)PyArray_DATA({indptr_t});
                #pragma omp parallel num_threads(nth) if (nth > 1)
                {{
                int c0 = 0, nc = 1;
                #ifdef _OPENMP
                c0 = omp_get_thread_num(); nc = omp_get_num_threads();
                #endif
                const npy_intp r0 = n_rows * c0 / nc, r1 = n_rows * (c0 + 1) / nc;
                memset(out + r0, 0, (r1 - r0) * sizeof(double));
                for (npy_intp c = 0; c < n_cols; ++c) {{
                    const double xc = *(const double*)(xb + c * xs);
                    npy_intp k0 = ip[c], k1 = ip[c + 1];
                    if (nc > 1) {{
                        npy_intp lo = k0, hi = k1;  /* first entry at or after row r0 */
                        while (lo < hi) {{
                            const npy_intp mid = (lo + hi) / 2;
                            if (ix[mid] < r0) lo = mid + 1; else hi = mid;
                        }}
                        k0 = lo; hi = k1;  /* first at or after row r1 */
                        while (lo < hi) {{
                            const npy_intp mid = (lo + hi) / 2;
                            if (ix[mid] < r1) lo = mid + 1; else hi = mid;
                        }}
                        k1 = lo;
                    }}
                    for (npy_intp k = k0; k < k1; ++k) out[ix[k]] += d[k] * xc;
                }}
                }}
            }} else {{  /* long rows: one sum per row, in four partial sums (one
                          chain of additions waited on each one's latency) */
                const double* d = (const double*)PyArray_DATA({data});
                const dtype_{indices}* ix = (const dtype_{indices}*)PyArray_DATA({indices});
                const dtype_{indptr}* ip = (const dtype_{indptr}*)PyArray_DATA({indptr});
                #define SKYFIT_X(k) (d[k] * *(const double*)(xb + ix[k] * xs))
                #pragma omp parallel for schedule(static) num_threads(nth) if (nth > 1)
                for (npy_intp r = 0; r < n_rows; ++r) {{
                    double a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0;
                    npy_intp k = ip[r];
                    for (; k + 4 <= ip[r + 1]; k += 4) {{
                        a0 += SKYFIT_X(k); a1 += SKYFIT_X(k + 1);
                        a2 += SKYFIT_X(k + 2); a3 += SKYFIT_X(k + 3);
                    }}
                    for (; k < ip[r + 1]; ++k) a0 += SKYFIT_X(k);
                    out[r] = (a0 + a1) + (a2 + a3);
                }}
                #undef SKYFIT_X
            }}
        }}
        """

    def c_code_cache_version(self):
        return (6, radialcounts_c.openmp())
