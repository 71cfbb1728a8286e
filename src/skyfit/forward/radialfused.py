r"""A free radial source's counts and their derivatives in one pass, for compiled value
and gradient functions.

A function of the statistic's value and gradient holds, for each free radial source,
:class:`~skyfit.forward.radialcounts.RadialCounts` and its gradient
:class:`~skyfit.forward.radialcounts.RadialCountsGrad`, and each goes through the
source's sub-pixels: the gradient cannot run in the value's loop, because it needs
``g_at``, the statistic's derivative at the bins with counts, which depends on every
source's counts there. :class:`RadialCountsJac` goes through them once and returns, with
``(total, at)``, their derivatives with respect to ``(lon, lat, flux)``,

.. math::
    \partial\,\mathrm{total} \in \mathbb{R}^{2+T}, \qquad
    \partial\,\mathrm{at} \in \mathbb{R}^{K \times (2+T)},

so the gradient is ``g_total * d_total + g_at @ d_at`` (:class:`Contract`): one small
product after the loop (``K``: the bins with counts of the cutout). The rewrite
:func:`fuse_radial_gradients` replaces each pair of a ``RadialCounts`` and its
``RadialCountsGrad`` by that; it is registered under the tag :data:`FUSE_TAG`, which
the statistic's value+gradient function includes where it is C code (mode ``"CVM"``,
:func:`skyfit.forward.likelihood._compile_mode`; the ops' ``perform`` is numpy). Not in
Numba: there its three accumulators per energy plane stayed scalar code, slower than the
pair. Graphs of npred cubes (the Bayesian model's) leave it out: there ``K`` is every
bin of the cutout.
Gradients are taken before the rewrite (the op itself has none): second derivatives go
through ``RadialCountsGrad`` as before.

Threads: the C loop, like ``RadialCounts``', splits the sub-pixels into runs of whole
pixels (with their bins), one per OpenMP thread (``OMP_NUM_THREADS``; at least 4096
sub-pixels each), each with its own sums, added in a fixed order: the numbers depend on
the thread count only by the order of additions (~1e-16 relative). Where the compiler
has no OpenMP the runs go in turn. Dask workers run with one thread (its default), the
benchmarks with ``OMP_NUM_THREADS=1`` unless they say otherwise.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
from pytensor.compile.mode import optdb
from pytensor.graph.basic import Apply
from pytensor.graph.features import ReplaceValidate
from pytensor.graph.rewriting.basic import GraphRewriter
from pytensor.link.c.op import COp

from . import radialcounts_c
from .radialcounts import D2R, RadialCounts, RadialCountsGrad, _Base

__all__ = ["FUSE_TAG", "Contract", "RadialCountsJac", "fuse_radial_gradients"]

FUSE_TAG = "skyfit_fuse_radial"


class RadialCountsJac(_Base):
    """``(total, at, d_total (2+T,), d_at (K, 2+T))``: the outputs of
    :class:`~skyfit.forward.radialcounts.RadialCounts` and their derivatives with
    respect to ``lon``, ``lat`` (deg) and ``flux (T,)``, in that order; the inputs of
    ``RadialCounts``.

    Examples
    --------
    The example of ``RadialCounts``: ``total = at = 12 = (1 + 1) * 2 * flux``, so both
    change by 4 per unit flux; a flat profile does not change with position.

    >>> from skyfit.forward.pixelspline import coefficient_table
    >>> from skyfit.forward.radial import RadialSpline
    >>> spline = RadialSpline(np.linspace(0, 1, 11), np.ones((1, 11)), r_max=1.0, nodes=10)
    >>> xyz = np.array([[1.0, np.cos(np.radians(0.5))], [0.0, np.sin(np.radians(0.5))],
    ...                 [0.0, 0.0]])
    >>> op = RadialCountsJac(1, 1, spline.h, spline.nodes)
    >>> total, at, d_total, d_at = op.compute(
    ...     0.0, 0.0, np.array([3.0]), xyz, np.ones(2), np.zeros(2, int),
    ...     coefficient_table(spline).transpose(0, 2, 1), np.array([[2.0]]), np.eye(1),
    ...     np.ones((1, 1)), np.zeros(1, int))
    >>> float(total), at.tolist(), np.round(d_total, 12).tolist(), np.round(d_at, 12).tolist()
    (12.0, [12.0], [0.0, 0.0, 4.0], [[0.0, 0.0, 4.0]])
    """

    def make_node(self, lon, lat, flux, xyz, w, pix, table, expo, disp, mrow, bins):
        inputs = self._inputs(lon, lat, flux, xyz, w, pix, table, expo, disp, mrow, bins)
        n_j = inputs[6].type.shape[2] + 2  # static: Contract's loop knows its length
        outs = [pt.dscalar(), pt.tensor(dtype="float64", shape=(None,)),
                pt.tensor(dtype="float64", shape=(n_j,)),
                pt.tensor(dtype="float64", shape=(None, n_j))]
        return Apply(self, inputs, outs)

    def compute(self, lon, lat, flux, xyz, w, pix, table, expo, disp, mrow, bins, m=np):
        """The op's outputs from arrays (``m``: numpy or ``jax.numpy``)."""
        c, dcds, s = self.chords(lon, lat, xyz, m)
        sin_lat = m.sin(lat * D2R)
        ds_lon = m.stack([-s[1], s[0], 0.0 * s[2]]) * D2R
        ds_lat = m.stack([-sin_lat * m.cos(lon * D2R), -sin_lat * m.sin(lon * D2R),
                          m.cos(lat * D2R)]) * D2R
        val = self.values(c, table, 0, m) * w[:, None]  # (P, T)
        der = self.values(c, table, 1, m) * w[:, None]
        ae = self.pixel_sums(val, pix, m) * expo  # (pixels, T): d x / d flux
        ef = expo * flux
        x = ae * flux  # the counts before the dispersion
        x_lon = self.pixel_sums(der * (ds_lon @ dcds)[:, None], pix, m) * ef
        x_lat = self.pixel_sums(der * (ds_lat @ dcds)[:, None], pix, m) * ef
        at_pixel, column = self.bins_at(bins, disp, m)
        d_total = m.concatenate([m.stack([(x_lon * mrow).sum(), (x_lat * mrow).sum()]),
                                 (ae * mrow).sum(axis=0)])
        d_at = m.concatenate([m.stack([(x_lon[at_pixel] * column).sum(axis=1),
                                       (x_lat[at_pixel] * column).sum(axis=1)], axis=1),
                              ae[at_pixel] * column], axis=1)
        return (x * mrow).sum(), (x[at_pixel] * column).sum(axis=1), d_total, d_at

    def perform(self, node, inputs, outputs, params=None):
        values = self.compute(float(inputs[0]), float(inputs[1]), *inputs[2:])
        for out, value in zip(outputs, values, strict=True):
            out[0] = np.asarray(value, float)

    def infer_shape(self, node, shapes):
        n = shapes[2][0] + 2
        return [(), shapes[10], (n,), (shapes[10][0], n)]

    def pullback(self, inputs, outputs, cotangents):
        raise NotImplementedError("RadialCountsJac is made by a rewrite after "
                                  "differentiation; differentiate RadialCounts instead")

    def c_body(self, node, name, inputs, outputs, sub):
        return _c_code(node, name, inputs, outputs, sub)


def _matrix_out(o, rows, cols, release, fail):
    """Allocate the 2-d output ``o`` of ``rows x cols`` elements if needed."""
    return f"""
    if ({o} == NULL || PyArray_DIMS({o})[0] != {rows} || PyArray_DIMS({o})[1] != {cols}) {{
        Py_XDECREF({o});
        npy_intp dims_[2] = {{{rows}, {cols}}};
        {o} = (PyArrayObject*)PyArray_EMPTY(2, dims_, NPY_FLOAT64, 0);
        if ({o} == NULL) {{ {release} {fail} }}
    }}"""


def _c_code(node, name, inputs, outputs, sub):
    """The C code of :class:`RadialCountsJac`: the loops of
    ``RadialCounts`` carrying, per plane, the derivatives of each pixel's sum with
    respect to ``lon`` and ``lat``."""
    o_total, o_at, o_dtot, o_jac = outputs
    head, release = radialcounts_c.setup(node, inputs, sub, name)
    fail = sub["fail"]
    return f"""
    {{
    {head}
    {radialcounts_c.scalar_out(o_total, release, fail)}
    {radialcounts_c.vector_out(o_at, "K", release, fail)}
    {radialcounts_c.vector_out(o_dtot, "T + 2", release, fail)}
    {_matrix_out(o_jac, "K", "T + 2", release, fail)}
    double *O = (double*)PyArray_DATA({o_at}), *G = (double*)PyArray_DATA({o_dtot}),
           *JA = (double*)PyArray_DATA({o_jac});
    constexpr npy_intp J = T + 2;  /* a row of the Jacobian: lon, lat, flux (T) */
    /* d s / d lon and d s / d lat (per degree) */
    const double LX = -s1 * D2R, LY = s0 * D2R;
    const double AX = -s2 * cos(lon_r) * D2R, AY = -s2 * sin(lon_r) * D2R,
                 AZ = cos(lat_r) * D2R;
    const skyfit_v4d zero = skyfit_v4d{{0.0, 0.0, 0.0, 0.0}};
    constexpr npy_intp PART = 4 * (2 * NT4 + 2);  /* per run: sums, gF, gl, gb */
    {radialcounts_c.chunks("PART", release, fail)}
    {radialcounts_c.RUN}
    {radialcounts_c.prepass("f * (dx * LX + dy * LY)", "f * (dx * AX + dy * AY + dz * AZ)")}
    /* the total's sum per plane and its derivatives (flux per plane; lon, lat) */
    skyfit_v4d sums[NT4], gF[NT4], gl = zero, gb = zero;
    for (npy_intp v = 0; v < NT4; ++v) sums[v] = gF[v] = zero;
    for (npy_intp p = P0; p < P1;) {{  /* pixel by pixel, as in RadialCounts */
        const npy_intp j = PIX[p];
        for (; k < K1 && BP[k] < j; ++k) {{  /* no sub-pixel there */
            O[k] = 0.0;
            memset(JA + k * J, 0, J * sizeof(double));
        }}
        /* the pixel's sums per plane and their derivatives */
        skyfit_v4d av[NT4], dl[NT4], db[NT4];
        for (npy_intp v = 0; v < NT4; ++v) av[v] = dl[v] = db[v] = zero;
        for (; p < P1 && PIX[p] == j; ++p) {{
            {radialcounts_c.node_coefficients()}
            const double wp = W[p], fl = NX0_[p], fb = NX1_[p];
            for (npy_intp v = 0; v < NT4; ++v) {{
                const npy_intp n = 4 * v;
                const skyfit_v4d k0 = skyfit_ldv(c0 + n, v, NV, TT),
                                 k1 = skyfit_ldv(c1 + n, v, NV, TT),
                                 k2 = skyfit_ldv(c2 + n, v, NV, TT),
                                 k3 = skyfit_ldv(c3 + n, v, NV, TT);
                av[v] += wp * (k0 + t * (k1 + t * (k2 + t * k3)));
                const skyfit_v4d der = k1 + t * (2.0 * k2 + (3.0 * t) * k3);
                dl[v] += fl * der;
                db[v] += fb * der;
            }}
        }}
        /* times exposure (ae: d x / d flux) and flux (x, and its lon, lat slopes) */
        const double *__restrict__ ex = EX + j * ES, *__restrict__ mr = M + j * MS;
        skyfit_v4d ae[NT4];
        for (npy_intp v = 0; v < NT4; ++v) {{
            const skyfit_v4d e = skyfit_ldv(ex + 4 * v, v, NV, TT),
                             m = skyfit_ldv(mr + 4 * v, v, NV, TT),
                             ef = e * skyfit_ldv(F + 4 * v, v, NV, TT);
            ae[v] = av[v] * e;
            av[v] *= ef;
            dl[v] *= ef;
            db[v] *= ef;
            sums[v] += av[v] * m;
            gF[v] += ae[v] * m;
            gl += dl[v] * m;
            gb += db[v] * m;
        }}
        for (; k < K1 && BP[k] == j; ++k) {{
            const double *__restrict__ dc = DC + BE[k] * 4 * NT4;
            double *__restrict__ row = JA + k * J;
            skyfit_v4d y = zero, yl = zero, yb = zero;
            for (npy_intp v = 0; v < NT4; ++v) {{
                const skyfit_v4d d = skyfit_ld4(dc + 4 * v);
                y += av[v] * d;
                yl += dl[v] * d;
                yb += db[v] * d;
                skyfit_stv(row + 2 + 4 * v, ae[v] * d, v, NV, TT);
            }}
            O[k] = skyfit_hsum(y);
            row[0] = skyfit_hsum(yl);
            row[1] = skyfit_hsum(yb);
        }}
    }}
    for (; k < K1; ++k) {{
        O[k] = 0.0;
        memset(JA + k * J, 0, J * sizeof(double));
    }}
    double *mine = parts + c * PART;
    for (npy_intp v = 0; v < NT4; ++v) {{
        skyfit_st4(mine + 4 * v, sums[v]);
        skyfit_st4(mine + 4 * (NT4 + v), gF[v]);
    }}
    skyfit_st4(mine + 8 * NT4, gl);
    skyfit_st4(mine + 8 * NT4 + 4, gb);
    }}  /* runs */
    /* the threads' sums, in a fixed order */
    skyfit_v4d sums[NT4], gF[NT4], gl = zero, gb = zero;
    for (npy_intp v = 0; v < NT4; ++v) sums[v] = gF[v] = zero;
    for (int c = 0; c < nch; ++c) {{
        const double *theirs = parts + c * PART;
        for (npy_intp v = 0; v < NT4; ++v) {{
            sums[v] += skyfit_ld4(theirs + 4 * v);
            gF[v] += skyfit_ld4(theirs + 4 * (NT4 + v));
        }}
        gl += skyfit_ld4(theirs + 8 * NT4);
        gb += skyfit_ld4(theirs + 8 * NT4 + 4);
    }}
    free(parts);
    for (npy_intp v = 0; v < NT4; ++v) skyfit_stv(SUMS + 4 * v, sums[v], v, NV, TT);
    double total = 0.0;
    for (npy_intp n = 0; n < T; ++n) total += SUMS[n];
    ((double*)PyArray_DATA({o_total}))[0] = total;
    G[0] = skyfit_hsum(gl);
    G[1] = skyfit_hsum(gb);
    for (npy_intp v = 0; v < NT4; ++v) skyfit_stv(G + 2 + 4 * v, gF[v], v, NV, TT);
    {release}
    }}
    """


class Contract(radialcounts_c.OpenMPCode, COp):
    """``g_total * d_total + g_at @ d_at``: the gradient from :class:`RadialCountsJac`'s
    derivatives (one loop, no ``(K, 2+T)`` product array). With a fifth input ``idx``,
    ``g_at`` is ``g[idx]`` of a longer vector ``g`` (the statistic's derivative at all
    the bins with counts), gathered in the loop. Made by the rewrite, after
    differentiation: no gradient of its own.

    Examples
    --------
    >>> Contract().perform(None, [np.float64(2.0), np.array([1.0, 3.0]), np.ones(2),
    ...                          np.array([[1.0, 2.0], [3.0, 4.0]])], out := [[None]])
    >>> out[0][0].tolist()
    [12.0, 16.0]
    >>> Contract().perform(None, [np.float64(2.0), np.array([5.0, 3.0, 1.0]), np.ones(2),
    ...                          np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([2, 1])],
    ...                    out := [[None]])
    >>> out[0][0].tolist()
    [12.0, 16.0]
    """

    __props__ = ()

    def make_node(self, g_total, g_at, d_total, d_at, idx=None):
        inputs = [pt.as_tensor_variable(v, dtype="float64")
                  for v in (g_total, g_at, d_total, d_at)]
        if idx is not None:
            inputs.append(pt.as_tensor_variable(idx, dtype="int64"))
        shape = (inputs[2].type.shape[0],)
        return Apply(self, inputs, [pt.tensor(dtype="float64", shape=shape)])

    def perform(self, node, inputs, outputs):
        g_total, g_at, d_total, d_at, *idx = inputs
        if idx:
            g_at = g_at[idx[0]]
        outputs[0][0] = np.asarray(g_total * d_total + g_at @ d_at, float)

    def infer_shape(self, node, shapes):
        return [shapes[2]]

    def c_code_cache_version(self):
        return (10, radialcounts_c.openmp(), radialcounts_c.vector_target())

    def c_support_code(self, **kwargs):
        return [radialcounts_c.SUPPORT,
                CONTRACT.replace("TARGET", radialcounts_c.target_attribute())]

    def c_code(self, node, name, inputs, outputs, sub):
        g_total, g_at, d_total, d_at, *idx = inputs
        # the row's length a constant of the code (RadialCountsJac's is static: 2 + T):
        # the sums stay in registers
        n_j = node.inputs[3].type.shape[1]
        if n_j is None:
            raise NotImplementedError("Contract's C code needs d_at's static row length")
        (out,) = outputs
        fail = sub["fail"]
        names = ["GA", "DT", "DA", *(["IX"] if idx else [])]
        decl = "\n".join(f"PyArrayObject *{n}_c = PyArray_GETCONTIGUOUS({a});"
                         for n, a in zip(names, (g_at, d_total, d_at, *idx), strict=True))
        release = " ".join(f"Py_XDECREF({n}_c);" for n in names)
        n_g = "PyArray_DIMS(IX_c)[0]" if idx else "NG"
        ix = "(const npy_int64*)PyArray_DATA(IX_c)" if idx else "NULL"
        return f"""
        {{
        {decl}
        const npy_intp K = PyArray_DIMS(DA_c)[0], NG = PyArray_DIMS(GA_c)[0];
        constexpr npy_intp J = {n_j};
        if ({n_g} != K || PyArray_DIMS(DT_c)[0] != J || PyArray_DIMS(DA_c)[1] != J) {{
            {release}
            PyErr_SetString(PyExc_ValueError, "Contract: inconsistent input shapes");
            {fail}
        }}
        {radialcounts_c.vector_out(out, "J", release, fail)}
        double *o = (double*)PyArray_DATA({out});
        /* runs of rows, one per OpenMP thread, their sums added in a fixed order */
        {radialcounts_c.threads("K * J", CONTRACT_THREAD_ENTRIES)}
        double parts[16][J];
        int bad = 0;
        const double *ga = (const double*)PyArray_DATA(GA_c),
                     *da = (const double*)PyArray_DATA(DA_c);
        const npy_int64 *ix = {ix};
        /* run c: rows k0..k1 (and, without indices, their elements of g) */
        #define SKYFIT_RUN(c) skyfit_contract<J>( \
            ix == NULL ? ga + K * (c) / nth : ga, ix == NULL ? NULL : ix + K * (c) / nth, \
            NG, da + K * (c) / nth * J, K * ((c) + 1) / nth - K * (c) / nth, parts[c])
        if (nth == 1) {{
            bad = SKYFIT_RUN(0);
        }} else {{
            #pragma omp parallel for schedule(static, 1) num_threads(nth) reduction(|:bad)
            for (int c = 0; c < nth; ++c) bad |= SKYFIT_RUN(c);
        }}
        #undef SKYFIT_RUN
        if (bad) {{
            {release}
            PyErr_SetString(PyExc_IndexError, "Contract: an index is out of bounds");
            {fail}
        }}
        const double gt = ((double*)PyArray_DATA({g_total}))[0];
        const double *dt = (const double*)PyArray_DATA(DT_c);
        for (npy_intp j = 0; j < J; ++j) {{
            double acc = gt * dt[j];
            for (int c = 0; c < nth; ++c) acc += parts[c][j];
            o[j] = acc;
        }}
        {release}
        }}
        """


CONTRACT_THREAD_ENTRIES = 32768
"""Entries of ``d_at`` per OpenMP thread in :class:`Contract`, at least."""

CONTRACT = """
#ifndef SKYFIT_CONTRACT
#define SKYFIT_CONTRACT
/* acc = g_at @ d_at, rows of J (a constant: the sums in registers, four columns a
   vector); g_at is g[ix] where ix is given, its indices checked as they go (nonzero
   returned where one is out of bounds). Written with vectors: GCC's own vectorisation
   of this loop depended on the flags, 4-13 us for one Galactic-centre source */
template <long J>
SKYFIT_OPTIMISE TARGET
static int skyfit_contract(const double *__restrict__ g, const npy_int64 *__restrict__ ix,
                           const npy_intp n_g, const double *__restrict__ da,
                           const npy_intp K, double *__restrict__ acc) {
    constexpr long NV = J / 4, TT = J % 4;
    skyfit_v4d a[NV > 0 ? NV : 1];
    double t[TT > 0 ? TT : 1];
    for (long v = 0; v < NV; ++v) a[v] = skyfit_v4d{0.0, 0.0, 0.0, 0.0};
    for (long i = 0; i < TT; ++i) t[i] = 0.0;
    npy_uint64 bad = 0;
    for (npy_intp k = 0; k < K; ++k) {
        npy_intp at = k;
        if (ix != NULL) {
            at = ix[k];
            bad |= (npy_uint64)at >= (npy_uint64)n_g;  /* negative ones too */
            at = bad ? 0 : at;
        }
        const double gk = g[at], *__restrict__ row = da + k * J;
        for (long v = 0; v < NV; ++v) a[v] += gk * skyfit_ld4(row + 4 * v);
        for (long i = 0; i < TT; ++i) t[i] += gk * row[4 * NV + i];
    }
    for (long v = 0; v < NV; ++v) skyfit_st4(acc + 4 * v, a[v]);
    for (long i = 0; i < TT; ++i) acc[4 * NV + i] = t[i];
    return bad != 0;
}
#endif
"""


def _gathered(g_at):
    """``(g, idx)`` where ``g_at`` is ``g[idx]`` (a vector indexed by one integer
    vector), else ``(g_at, None)``."""
    from pytensor.tensor.subtensor import AdvancedSubtensor

    node = g_at.owner
    if node is not None and isinstance(node.op, AdvancedSubtensor):
        g, *index = node.inputs
        if (g.type.ndim == 1 and len(index) == 1 and index[0].type.ndim == 1
                and len(node.op.idx_list) == 1
                and index[0].type.dtype in ("int64", "int32")):
            return g, index[0]
    return g_at, None


class _FuseRadialGradients(GraphRewriter):
    """Replace each ``RadialCounts`` node and the ``RadialCountsGrad`` node on the same
    inputs by one :class:`RadialCountsJac` node and the product with ``(g_total,
    g_at)``."""

    def add_requirements(self, fgraph):
        fgraph.attach_feature(ReplaceValidate())

    def apply(self, fgraph):
        values = {(node.op._props(), tuple(node.inputs)): node
                  for node in fgraph.apply_nodes if type(node.op) is RadialCounts}
        grads = [node for node in fgraph.apply_nodes if type(node.op) is RadialCountsGrad]
        for grad in grads:
            value = values.pop((grad.op._props(), tuple(grad.inputs[:11])), None)
            if value is None:
                continue
            total, at, d_total, d_at = RadialCountsJac(**grad.op._props_dict(),
                                                       reference=grad.op.reference)(
                *grad.inputs[:11])
            g_total, g_at = grad.inputs[11:]
            g_all, idx = _gathered(g_at)  # the gather of g_at done in the product
            g = (Contract()(g_total, g_at, d_total, d_at) if idx is None else
                 Contract()(g_total, g_all, d_total, d_at, idx))
            pairs = [*zip(value.outputs, (total, at), strict=True),
                     *zip(grad.outputs, (g[0], g[1], g[2:]), strict=True)]
            fgraph.replace_all_validate(pairs, reason="fuse_radial_gradients")


fuse_radial_gradients = _FuseRadialGradients()
# after canonicalisation and merging (equal inputs are one variable)
optdb.register("fuse_radial_gradients", fuse_radial_gradients, FUSE_TAG, position=1.3)
