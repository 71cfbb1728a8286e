"""A small constant matrix applied along the first axis, as one PyTensor op with C code.

The energy dispersion maps a free source's ``(T, ny, nx)`` counts in true energy to
``(E, ny, nx)`` in reconstructed energy: ``y = D^T x`` with the ``(T, E)`` matrix ``D``
constant and small. Without a BLAS library PyTensor runs such products (``Dot22``)
through Python and numpy, ~0.1-0.3 ms per call on Galactic-centre cutouts, 15 % of a
value+gradient there. :class:`ConstMatMul` is a C loop over the matrix's non-zero entries
(each a scaled row added to an output row, which the compiler vectorises); its gradient
is the same op with the transposed matrix.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import DisconnectedType
from pytensor.graph.basic import Apply
from pytensor.link.c.op import COp

__all__ = ["ConstMatMul", "apply_along_first"]


def apply_along_first(matrix, x):
    """``tensordot(matrix, x, axes=[[0], [0]])`` for a constant ``(T, E)`` ``matrix`` and
    a PyTensor ``x`` of shape ``(T, ...)``: ``(E, ...)``.

    Examples
    --------
    >>> import pytensor
    >>> d = np.array([[0.9, 0.1], [0.0, 1.0], [0.2, 0.8]])  # 3 true, 2 reco bins
    >>> x = pt.tensor("x", shape=(3, 1, 2))
    >>> y = apply_along_first(d, x)
    >>> f = pytensor.function([x], [y, pytensor.grad(y[1].sum(), x)], mode="CVM")
    >>> value, grad = f(np.ones((3, 1, 2)))
    >>> value[:, 0].tolist(), grad[:, 0, 0].tolist()
    ([[1.1, 1.1], [1.9, 1.9]], [0.1, 1.0, 0.8])
    """
    matrix = np.asarray(matrix, float)
    x = pt.as_tensor_variable(x)
    # static shapes where known (the JAX backend needs them)
    rest = [n if n is not None else x.shape[i + 1] for i, n in enumerate(x.type.shape[1:])]
    size = int(np.prod(rest)) if all(isinstance(n, int) for n in rest) else -1
    flat = x.reshape((matrix.shape[0], size))
    out = ConstMatMul()(pt.constant(matrix), pt.constant(np.ascontiguousarray(matrix.T)), flat)
    return out.reshape((matrix.shape[1], *rest))


class ConstMatMul(COp):
    """``y = A^T x`` for ``A (T, E)``, ``x (T, P)``: ``(E, P)``; inputs ``A``, ``A^T``
    (contiguous, for the gradient ``A g``, the same op with the two swapped), ``x``.

    Examples
    --------
    >>> op = ConstMatMul()
    >>> a = np.array([[1.0, 2.0]])
    >>> op.compute(a, np.array([[3.0, 4.0]])).tolist()
    [[3.0, 4.0], [6.0, 8.0]]
    """

    __props__ = ()

    def make_node(self, a, a_t, x):
        inputs = [pt.as_tensor_variable(v, dtype="float64") for v in (a, a_t, x)]
        out = pt.tensor(dtype="float64", shape=(inputs[0].type.shape[1], None))
        return Apply(self, inputs, [out])

    @staticmethod
    def compute(a, x):
        return a.T @ x

    def perform(self, node, inputs, outputs):
        a, _, x = inputs
        outputs[0][0] = self.compute(a, x)

    def infer_shape(self, node, shapes):
        return [(shapes[0][1], shapes[2][1])]

    def connection_pattern(self, node):
        return [[False], [False], [True]]

    def pullback(self, inputs, outputs, cotangents):
        a, a_t, _ = inputs
        return [DisconnectedType()(), DisconnectedType()(), self(a_t, a, cotangents[0])]

    def c_code_cache_version(self):
        return (2,)

    def c_code(self, node, name, inputs, outputs, sub):
        a, _, x = inputs
        (y,) = outputs
        fail = sub["fail"]
        return f"""
        if (PyArray_DIMS({a})[0] != PyArray_DIMS({x})[0]) {{
            PyErr_SetString(PyExc_ValueError, "ConstMatMul: matrix and input disagree");
            {fail}
        }}
        {{
        PyArrayObject *a_c = PyArray_GETCONTIGUOUS({a}), *x_c = PyArray_GETCONTIGUOUS({x});
        npy_intp T = PyArray_DIMS({a})[0], E = PyArray_DIMS({a})[1];
        npy_intp P = PyArray_DIMS({x})[1];
        npy_intp dims[2] = {{E, P}};
        if ({y} == NULL || PyArray_DIMS({y})[0] != E || PyArray_DIMS({y})[1] != P
            || !PyArray_IS_C_CONTIGUOUS({y})) {{
            Py_XDECREF({y});
            {y} = (PyArrayObject*)PyArray_EMPTY(2, dims, NPY_FLOAT64, 0);
            if ({y} == NULL) {{ Py_XDECREF(a_c); Py_XDECREF(x_c); {fail} }}
        }}
        const double *A = (const double*)PyArray_DATA(a_c);
        const double *X = (const double*)PyArray_DATA(x_c);
        double *Y = (double*)PyArray_DATA({y});
        /* blocks of columns: the block of x (T rows) stays in cache for all E rows */
        const npy_intp B = 256;
        for (npy_intp p0 = 0; p0 < P; p0 += B) {{
            const npy_intp nb = (P - p0 < B) ? P - p0 : B;
            for (npy_intp e = 0; e < E; ++e) {{
                double* row = Y + e * P + p0;
                for (npy_intp p = 0; p < nb; ++p) row[p] = 0.0;
                for (npy_intp t = 0; t < T; ++t) {{
                    const double w = A[t * E + e];
                    if (w == 0.0) continue;
                    const double* in = X + t * P + p0;
                    for (npy_intp p = 0; p < nb; ++p) row[p] += w * in[p];
                }}
            }}
        }}
        Py_XDECREF(a_c); Py_XDECREF(x_c);
        }}
        """
