r"""Radial profiles summed over sub-pixels, as one PyTensor op with C code.

A point source's PSF, or a round source's profile after the PSF
(:mod:`skyfit.forward.convolved`), is evaluated at every sub-pixel of its cutout and
summed into pixels:

.. math::
    y_{n,ij} = \sum_{p \in \mathrm{pixel}(i,j)} w_p\, S_n(r_p),

with :math:`S_n` the cubic spline of energy plane :math:`n`
(:class:`~skyfit.forward.radial.RadialSpline`), :math:`r_p` the sub-pixel's distance from
the source (the only input that depends on free parameters) and :math:`w_p` its solid
angle. As elementwise PyTensor operations this took four gathers of ``(N, P)``
coefficient arrays, a Horner step, a product and a reshaped sum, with the same again for
the gradient: most of a Galactic-centre evaluation. :class:`SplinePixels` does it in one
loop that writes only the ``(N, ny, nx)`` result; its gradient with respect to ``r`` is
:class:`SplinePixelsT` (one loop writing ``(P,)``), and theirs are the same ops with the
next derivative of the spline (exact Hessians).

Backends: C (PyTensor's C linkers), numpy (``perform``: FAST_COMPILE, tests), Numba and
JAX (registered in :mod:`skyfit.forward.numba_ops` and :mod:`skyfit.forward.jax_ops`).
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import DisconnectedType
from pytensor.graph.basic import Apply
from pytensor.link.c.op import COp

__all__ = ["SplinePixels", "SplinePixelsT", "coefficient_table", "poly", "spline_pixels"]

MAX_DERIV = 3  # a cubic's fourth derivative is zero


def coefficient_table(spline) -> np.ndarray:
    """``(nodes + 1, N, 4)`` table of a RadialSpline: the cubic's coefficients per interval
    and plane, contiguous per interval (one cache line of reads per sub-pixel and plane).

    Examples
    --------
    >>> from skyfit.forward.radial import RadialSpline
    >>> spline = RadialSpline(np.linspace(0, 1, 11), np.ones((2, 11)), r_max=1.0, nodes=10)
    >>> table = coefficient_table(spline)
    >>> table.shape, table[3, 1].tolist()  # interval 3, plane 1: the constant 1
    ((11, 2, 4), [1.0, 0.0, 0.0, 0.0])
    """
    table = np.stack([spline.a, spline.b, spline.c2, spline.d], axis=-1)  # (N, nodes+1, 4)
    return np.ascontiguousarray(table.transpose(1, 0, 2))


def poly(c, t, deriv: int):
    """The ``deriv``-th derivative of ``c0 + c1 t + c2 t^2 + c3 t^3`` (``c[..., i]``).

    Examples
    --------
    >>> c = np.array([1.0, 2.0, 3.0, 4.0])
    >>> [float(poly(c, 1.0, k)) for k in range(5)]
    [10.0, 20.0, 30.0, 24.0, 0.0]
    """
    if deriv == 0:
        return c[..., 0] + t * (c[..., 1] + t * (c[..., 2] + t * c[..., 3]))
    if deriv == 1:
        return c[..., 1] + t * (2.0 * c[..., 2] + 3.0 * t * c[..., 3])
    if deriv == 2:
        return 2.0 * c[..., 2] + 6.0 * t * c[..., 3]
    if deriv == 3:
        return 6.0 * c[..., 3] + 0.0 * t
    return 0.0 * (c[..., 0] + t)


_C_POLY = {0: "c[0] + t * (c[1] + t * (c[2] + t * c[3]))",
           1: "c[1] + t * (2.0 * c[2] + 3.0 * t * c[3])",
           2: "2.0 * c[2] + 6.0 * t * c[3]",
           3: "6.0 * c[3]"}


def spline_pixels(spline, r, weight, k: int, shape: tuple[int, int]):
    """``(N, ny, nx)``: the spline at the sub-pixel radii ``r`` (``(ny*k * nx*k,)``, deg,
    row-major) times ``weight`` (same shape), summed over each pixel's ``k x k``
    sub-pixels. numpy in, numpy out; a PyTensor ``r`` gives a PyTensor result.

    Examples
    --------
    >>> from skyfit.forward.radial import RadialSpline
    >>> rad = np.linspace(0, 1, 11)
    >>> spline = RadialSpline(rad, np.vstack([1 - rad, 2 - 2 * rad]), r_max=1.0)
    >>> r = np.array([0.1, 0.2, 0.3, 0.4])  # 2 x 2 pixels, one sample each
    >>> spline_pixels(spline, r, np.ones(4), 1, (2, 2)).round(6).tolist()
    [[[0.9, 0.8], [0.7, 0.6]], [[1.8, 1.6], [1.4, 1.2]]]
    >>> import pytensor
    >>> radii = pytensor.tensor.dvector("r")
    >>> y = spline_pixels(spline, radii, np.ones(4), 2, (1, 1))  # one pixel, 2 x 2 samples
    >>> f = pytensor.function([radii], [y, pytensor.grad(y.sum(), radii)], mode="CVM")
    >>> [v.round(6).tolist() for v in f(r)]  # the slopes: -1 and -2
    [[[[3.0]], [[6.0]]], [-3.0, -3.0, -3.0, -3.0]]
    """
    op = SplinePixels(0, k, *shape, spline.h, spline.nodes)
    table = coefficient_table(spline)
    if isinstance(r, np.ndarray):
        return op.compute(np.asarray(r, float), np.asarray(weight, float), table)
    return op(pt.as_tensor_variable(r), pt.as_tensor_variable(np.asarray(weight, float)),
              pt.constant(table))


class _Base(COp):
    __props__ = ("deriv", "k", "ny", "nx", "h", "nodes")

    def __init__(self, deriv: int, k: int, ny: int, nx: int, h: float, nodes: int) -> None:
        self.deriv, self.k, self.ny, self.nx = int(deriv), int(k), int(ny), int(nx)
        self.h, self.nodes = float(h), int(nodes)

    def _with(self, cls, deriv):
        return cls(deriv, self.k, self.ny, self.nx, self.h, self.nodes)

    def pixel_of(self) -> np.ndarray:
        """Flat pixel index ``iy * nx + ix`` of each sub-pixel (row-major)."""
        rows = np.arange(self.ny * self.k) // self.k
        cols = np.arange(self.nx * self.k) // self.k
        return (rows[:, None] * self.nx + cols[None, :]).ravel()

    def values(self, r, table, deriv):
        """``(P, N)``: the spline's ``deriv``-th derivative at ``r``."""
        idx = np.clip(np.floor(r / self.h), 0, self.nodes).astype(np.int64)
        t = np.minimum(r - idx * self.h, self.h)
        return poly(table[idx], t[:, None], deriv)

    def c_code_cache_version(self):
        return (2,)

    def c_headers(self, **kwargs):
        return ["<math.h>", "<string.h>"]

    def _c_loop(self, inputs, outputs, sub, body_head, body_plane, body_tail, out_setup):
        """The sub-pixel loop shared by both ops. ``out_setup`` (C, with ``{y}``,
        ``{fail}`` and ``{release}`` -- the contiguous copies' references -- to fill in)
        allocates the output; ``body_*`` run per sub-pixel, per plane, and after."""
        r, w, coef = inputs[:3]
        (y,) = outputs
        fail = sub["fail"]
        n_sub = self.ny * self.k * self.nx * self.k
        extra = "" if len(inputs) == 3 else ", *g_c = NULL"
        get_g = "" if len(inputs) == 3 else f"g_c = PyArray_GETCONTIGUOUS({inputs[3]});"
        release = "Py_XDECREF(r_c); Py_XDECREF(w_c); Py_XDECREF(c_c);" + (
            "" if len(inputs) == 3 else " Py_XDECREF(g_c);")
        return f"""
        if (PyArray_SIZE({r}) != {n_sub} || PyArray_SIZE({w}) != {n_sub}) {{
            PyErr_SetString(PyExc_ValueError, "SplinePixels: radii and weights must have "
                            "one value per sub-pixel ({n_sub})");
            {fail}
        }}
        {{
        npy_intp N = PyArray_DIMS({coef})[1];
        PyArrayObject *r_c = PyArray_GETCONTIGUOUS({r}), *w_c = PyArray_GETCONTIGUOUS({w}),
                      *c_c = PyArray_GETCONTIGUOUS({coef}){extra};
        {get_g}
        const npy_intp K = {self.k}, NY = {self.ny}, NX = {self.nx}, NXS = {self.nx * self.k};
        const npy_intp S = NY * NX;
        const double H = {self.h!r};
        {out_setup.format(y=y, fail=fail, release=release)}
        const double *R = (const double*)PyArray_DATA(r_c);
        const double *W = (const double*)PyArray_DATA(w_c);
        const double *C = (const double*)PyArray_DATA(c_c);
        double* O = (double*)PyArray_DATA({y});
        for (npy_intp iy = 0; iy < NY; ++iy)
        for (npy_intp ix = 0; ix < NX; ++ix) {{
            const npy_intp pix = iy * NX + ix;
            for (npy_intp sy = 0; sy < K; ++sy)
            for (npy_intp sx = 0; sx < K; ++sx) {{
                const npy_intp p = (iy * K + sy) * NXS + ix * K + sx;
                double rr = R[p];
                double q = floor(rr / H);
                if (!(q > 0.0)) q = 0.0;  /* also NaN: the value below stays NaN */
                if (q > {self.nodes}) q = {self.nodes};
                const npy_intp idx = (npy_intp)q;
                double t = rr - idx * H;
                if (t > H) t = H;
                const double* cc = C + idx * N * 4;
                {body_head}
                for (npy_intp n = 0; n < N; ++n) {{
                    const double* c = cc + 4 * n;
                    {body_plane}
                }}
                {body_tail}
            }}
        }}
        {release}
        }}
        """


class SplinePixels(_Base):
    """``y[n, iy, ix] = sum_p w[p] S_n^(deriv)(r[p])`` over the ``k x k`` sub-pixels ``p``
    of pixel ``(iy, ix)``; inputs ``r (P,)``, ``w (P,)``, ``table (nodes+1, N, 4)``
    (:func:`coefficient_table`). Parameters: ``deriv, k, ny, nx`` and the spline's node
    spacing ``h`` and number of intervals ``nodes``. See :func:`spline_pixels`.

    Examples
    --------
    >>> from skyfit.forward.radial import RadialSpline
    >>> spline = RadialSpline(np.linspace(0, 1, 11), np.ones((1, 11)), r_max=1.0, nodes=10)
    >>> op = SplinePixels(0, 1, 1, 2, spline.h, spline.nodes)  # 1 x 2 pixels
    >>> op.compute(np.array([0.5, 2.0]), np.ones(2), coefficient_table(spline)).tolist()
    [[[1.0, 0.0]]]
    """

    def make_node(self, r, w, table):
        inputs = [pt.as_tensor_variable(v, dtype="float64") for v in (r, w, table)]
        out = pt.tensor(dtype="float64", shape=(inputs[2].type.shape[1], self.ny, self.nx))
        return Apply(self, inputs, [out])

    def compute(self, r, w, table):
        vals = self.values(r, table, self.deriv) * w[:, None]  # (P, N)
        n = table.shape[1]
        x = vals.T.reshape(n, self.ny, self.k, self.nx, self.k)
        return x.sum(axis=(2, 4))

    def perform(self, node, inputs, outputs):
        outputs[0][0] = self.compute(*inputs)

    def infer_shape(self, node, shapes):
        return [(shapes[2][1], self.ny, self.nx)]

    def connection_pattern(self, node):
        return [[True], [True], [False]]

    def pullback(self, inputs, outputs, cotangents):
        r, w, table = inputs
        (g,) = cotangents
        grad_r = (self._with(SplinePixelsT, self.deriv + 1)(r, w, table, g)
                  if self.deriv < MAX_DERIV else pt.zeros_like(r))
        grad_w = self._with(SplinePixelsT, self.deriv)(r, pt.ones_like(w), table, g)
        return [grad_r, grad_w, DisconnectedType()()]

    def c_code(self, node, name, inputs, outputs, sub):
        setup = """
        npy_intp dims[3] = {{N, NY, NX}};
        if ({y} == NULL || PyArray_NDIM({y}) != 3 || PyArray_DIMS({y})[0] != N
            || !PyArray_IS_C_CONTIGUOUS({y})) {{
            Py_XDECREF({y});
            {y} = (PyArrayObject*)PyArray_EMPTY(3, dims, NPY_FLOAT64, 0);
            if ({y} == NULL) {{ {release} {fail} }}
        }}
        memset(PyArray_DATA({y}), 0, PyArray_NBYTES({y}));
        """
        plane = f"O[n * S + pix] += W[p] * ({_C_POLY[self.deriv]});"
        return self._c_loop(inputs, outputs, sub, "", plane, "", setup)


class SplinePixelsT(_Base):
    """The transpose of :class:`SplinePixels` applied to ``g (N, ny, nx)``:
    ``out[p] = w[p] sum_n g[n, pixel(p)] S_n^(deriv)(r[p])``; inputs ``r``, ``w``,
    ``table``, ``g``.

    Examples
    --------
    >>> from skyfit.forward.radial import RadialSpline
    >>> spline = RadialSpline(np.linspace(0, 1, 11), np.ones((1, 11)), r_max=1.0, nodes=10)
    >>> op = SplinePixelsT(0, 1, 1, 2, spline.h, spline.nodes)
    >>> g = np.array([[[2.0, 3.0]]])
    >>> op.compute(np.array([0.5, 2.0]), np.ones(2), coefficient_table(spline), g).tolist()
    [2.0, 0.0]
    """

    def make_node(self, r, w, table, g):
        inputs = [pt.as_tensor_variable(v, dtype="float64") for v in (r, w, table, g)]
        return Apply(self, inputs, [pt.tensor(dtype="float64", shape=(None,))])

    def compute(self, r, w, table, g):
        vals = self.values(r, table, self.deriv)  # (P, N)
        at = g.reshape(g.shape[0], -1)[:, self.pixel_of()]  # (N, P)
        return w * np.einsum("pn,np->p", vals, at)

    def perform(self, node, inputs, outputs):
        outputs[0][0] = self.compute(*inputs)

    def infer_shape(self, node, shapes):
        return [shapes[0]]

    def connection_pattern(self, node):
        return [[True], [True], [False], [True]]

    def pullback(self, inputs, outputs, cotangents):
        r, w, table, g = inputs
        (h,) = cotangents
        grad_r = (h * self._with(SplinePixelsT, self.deriv + 1)(r, w, table, g)
                  if self.deriv < MAX_DERIV else pt.zeros_like(r))
        grad_w = h * self._with(SplinePixelsT, self.deriv)(r, pt.ones_like(w), table, g)
        grad_g = self._with(SplinePixels, self.deriv)(r, w * h, table)
        return [grad_r, grad_w, DisconnectedType()(), grad_g]

    def c_code(self, node, name, inputs, outputs, sub):
        setup = """
        npy_intp n_out = PyArray_SIZE(r_c);
        if ({y} == NULL || PyArray_DIMS({y})[0] != n_out) {{
            Py_XDECREF({y});
            {y} = (PyArrayObject*)PyArray_EMPTY(1, &n_out, NPY_FLOAT64, 0);
            if ({y} == NULL) {{ {release} {fail} }}
        }}
        if (PyArray_SIZE(g_c) != N * S) {{
            PyErr_SetString(PyExc_ValueError, "SplinePixelsT: g must be (N, ny, nx)");
            {release} {fail}
        }}
        const double* G = (const double*)PyArray_DATA(g_c);
        """
        plane = f"acc += G[n * S + pix] * ({_C_POLY[self.deriv]});"
        return self._c_loop(inputs, outputs, sub, "double acc = 0.0;", plane,
                            "O[p] = W[p] * acc;", setup)
