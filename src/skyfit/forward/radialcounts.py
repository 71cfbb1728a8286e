r"""Predicted counts of a free radial source (a point, or a round source of frozen size)
in its cutout, as one PyTensor op with C code.

A point source's PSF, or a round source's profile after the PSF
(:mod:`skyfit.forward.convolved`), centred at the free position ``(lon, lat)``, gives in
the cutout

.. math::
    \mu_{e,j} = \sum_t D_{t e}\, \phi_t\, X_{t j} \sum_{p \in j} w_p\, S_t(c_p),
    \qquad c_p = |\hat x_p - \hat s(\mathrm{lon}, \mathrm{lat})|,

with :math:`S_t` the profile of true-energy bin :math:`t` tabulated against the chord
:math:`c_p` between the sub-pixel's unit vector and the source's (a cubic spline,
:class:`~skyfit.forward.radial.RadialSpline`), :math:`w_p` the sub-pixel's solid angle,
:math:`X` the exposure, :math:`\phi` the spectral bin integrals and :math:`D` the energy
dispersion. Built from PyTensor operations (chords, :class:`~.pixelspline.SplinePixels`
on the cutout and on its finely sampled core box, products, the dispersion) this is a
dozen ops and as many arrays of the cutout's size, and their gradients as many again: on
the Fermi-LAT Galactic centre, more time than the profile sums themselves.
:class:`RadialCounts` does it in one loop over the sub-pixels (the core box's among
them, sorted by pixel; the coarse ones under the core box, of zero weight, left out)
that accumulates each pixel's ``T`` planes, then one over the pixels (exposure, flux,
dispersion); its gradient with respect to ``lon``, ``lat`` and ``flux`` is
:class:`RadialCountsGrad`, one loop over the pixels (back through dispersion and
exposure) and one over the sub-pixels.

The C loops run over four energy planes at a time (GCC vector extensions: the compiler
left these short loops scalar) with the numbers of energy bins as constants of the code
(one module per ``(T, E)``), and the dispersion four pixels at a time, in registers.
Against the same computation from PyTensor operations, on the Galactic-centre sources:
value 0.7x, gradient 0.4x the time.

Second derivatives (exact Hessians) go through the same prediction built from PyTensor
operations (``reference``, given by the caller): slower, but only compiled when asked.

Backends: C (PyTensor's C linkers), numpy (``perform``: FAST_COMPILE, tests), Numba
(the C code's loops, :mod:`skyfit.forward.numba_ops`) and JAX (the same
array code in ``jax.numpy``, :mod:`skyfit.forward.jax_ops`).
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Apply
from pytensor.link.c.op import COp

from ..maps.geom import _unit_vectors
from .pixelspline import coefficient_table, poly

__all__ = ["RadialCounts", "RadialCountsGrad", "SubPixels", "radial_counts"]

D2R = np.pi / 180.0


class SubPixels:
    """The sub-pixels of a cutout that carry weight: unit vectors ``xyz (3, P)``, solid
    angles ``w (P,)`` (sr) and flat pixel index ``pix (P,)`` in the ``(ny, nx)`` cutout,
    sorted by pixel.

    Parameters
    ----------
    boxes : list of (Cutout, (row, col))
        Sampled boxes (their ``lon``, ``lat`` in deg, ``solid_angle`` and ``k``) and the
        cutout pixel of each box's first pixel.
    shape : (ny, nx)
        The cutout.

    Examples
    --------
    >>> from skyfit.maps import WcsGeom
    >>> from skyfit.forward.response import make_cutout
    >>> geom = WcsGeom.create((0, 0), frame="galactic", binsz=0.1, npix=(3, 2))
    >>> cut = make_cutout(geom, 0, 0, "galactic", radius=0, k=2, full=True)
    >>> sub = SubPixels([(cut, (0, 0))], cut.shape)
    >>> sub.xyz.shape, sub.pix[:5].tolist(), round(float(sub.w.sum() / cut.solid_angle.sum()), 6)
    ((3, 24), [0, 0, 0, 0, 1], 1.0)
    """

    def __init__(self, boxes, shape) -> None:
        xyz, w, pix = [], [], []
        ny, nx = shape
        for box, (row, col) in boxes:
            k = box.k
            rows = np.arange(box.lon.shape[0]) // k + row
            cols = np.arange(box.lon.shape[1]) // k + col
            xyz.append(_unit_vectors(box.lon, box.lat).reshape(-1, 3))
            w.append(np.asarray(box.solid_angle, float).ravel())
            pix.append((rows[:, None] * nx + cols[None, :]).ravel())
        xyz, w, pix = np.concatenate(xyz), np.concatenate(w), np.concatenate(pix)
        keep = w != 0  # the coarse cutout's sub-pixels under a finer box
        order = np.argsort(pix[keep], kind="stable")
        self.xyz = np.ascontiguousarray(xyz[keep][order].T)
        self.w = np.ascontiguousarray(w[keep][order])
        self.pix = np.ascontiguousarray(pix[keep][order].astype(np.int64))
        self.shape = (int(ny), int(nx))


def radial_counts(lon, lat, flux, sub: SubPixels, spline, exposure, disp, reference=None):
    """``(E, ny, nx)`` predicted counts of a radial source at ``(lon, lat)`` (deg) with
    true-energy bin integrals ``flux (T,)``; ``spline``: the profile against the chord
    (:meth:`~skyfit.forward.radial.RadialSpline.of_chord`), ``exposure`` ``(T,)`` (at
    the source) or ``(T, ny, nx)``, ``disp`` the ``(T, E)`` dispersion (None: none).
    ``reference(lon, lat, flux)``: the same prediction from PyTensor operations, for
    second derivatives (None: the gradient is not differentiable again).

    Examples
    --------
    A Gaussian PSF (density in sr-1) in the middle of a 9 x 9 cutout, exposure 1e10,
    no dispersion, unit flux: npred sums to the flux times the exposure.

    >>> from skyfit.maps import WcsGeom
    >>> from skyfit.forward.radial import RadialSpline
    >>> from skyfit.forward.response import make_cutout
    >>> rad = np.linspace(0, 1, 101)
    >>> density = np.exp(-0.5 * (rad / 0.1) ** 2) / (2 * np.pi * np.radians(0.1) ** 2)
    >>> spline = RadialSpline(rad, density[None], r_max=1.0).of_chord()
    >>> geom = WcsGeom.create((0, 0), frame="galactic", binsz=0.1, npix=(9, 9))
    >>> cut = make_cutout(geom, 0, 0, "galactic", radius=0, k=4, full=True)
    >>> sub = SubPixels([(cut, (0, 0))], cut.shape)
    >>> mu = radial_counts(0.0, 0.0, np.ones(1), sub, spline, np.array([1e10]), None)
    >>> mu.shape, round(float(mu.sum() / 1e10), 2)
    ((1, 9, 9), 1.0)
    """
    # the cubic's coefficients per interval as (4, T) rows and the exposure per pixel as
    # (T,) rows: the loops over energy planes read contiguous memory (vector code)
    table = np.ascontiguousarray(coefficient_table(spline).transpose(0, 2, 1))
    n_t = table.shape[2]
    ny, nx = sub.shape
    expo = np.asarray(exposure, float)
    expo = np.ascontiguousarray(np.broadcast_to(
        expo.reshape(n_t, -1).T if expo.ndim == 3 else expo[None, :], (ny * nx, n_t)))
    disp = np.eye(n_t) if disp is None else np.ascontiguousarray(disp, float)
    op = RadialCounts(ny, nx, spline.h, spline.nodes, reference)
    consts = (sub.xyz, sub.w, sub.pix, table, expo, disp)
    if all(isinstance(v, float | int | np.ndarray) for v in (lon, lat, flux)):
        return op.compute(float(lon), float(lat), np.asarray(flux, float), *consts)
    return op(lon, lat, flux, *(pt.constant(c) for c in consts))


class _Base(COp):
    __props__ = ("ny", "nx", "h", "nodes")

    def __init__(self, ny: int, nx: int, h: float, nodes: int, reference=None) -> None:
        self.ny, self.nx, self.h, self.nodes = int(ny), int(nx), float(h), int(nodes)
        # not a prop: the same computation from PyTensor ops, for second derivatives;
        # nodes with equal props and equal inputs compute the same
        self.reference = reference

    def __getstate__(self):
        # PyTensor pickles ops into its compile cache's keys: without the reference (a
        # closure; not part of what the op computes)
        return {**self.__dict__, "reference": None}

    def c_code_cache_version(self):
        return (14,)

    # a work array kept between calls (allocating it per call costs page faults)
    def c_support_code_struct(self, node, name):
        return f"double *work_{name}; size_t cap_{name};"

    def c_init_code_struct(self, node, name, sub):
        return f"work_{name} = NULL; cap_{name} = 0;"

    def c_cleanup_code_struct(self, node, name):
        return f"free(work_{name});"

    def c_headers(self, **kwargs):
        return ["<math.h>", "<string.h>", "<stdlib.h>"]

    def c_support_code(self, **kwargs):
        # four energy planes at a time (GCC vector extensions: the compiler does not
        # vectorise these short loops by itself); unaligned loads and stores
        return """
        #ifndef SKYFIT_V4D
        #define SKYFIT_V4D
        typedef double skyfit_v4d __attribute__((vector_size(32)));
        static inline skyfit_v4d skyfit_ld4(const double *p) {
            skyfit_v4d v; memcpy(&v, p, sizeof(v)); return v; }
        static inline void skyfit_st4(double *p, skyfit_v4d v) { memcpy(p, &v, sizeof(v)); }
        /* four pixels at once: out[q] = sum_r x[r][q] m[r], m's rows NV vectors long (the
           dispersion or its transpose, padded); 4 NV independent sums in registers */
        template <long R, long NV>
        static inline void skyfit_mix4(const double *x, const double *m,
                                       skyfit_v4d out[4][NV]) {
            for (int q = 0; q < 4; ++q)
                for (long k = 0; k < NV; ++k) out[q][k] = skyfit_v4d{0.0, 0.0, 0.0, 0.0};
            for (long r = 0; r < R; ++r)
                for (long k = 0; k < NV; ++k) {
                    const skyfit_v4d mk = skyfit_ld4(m + (r * NV + k) * 4);
                    for (int q = 0; q < 4; ++q) out[q][k] += x[r * 4 + q] * mk;
                }
        }
        #endif
        """

    def _inputs(self, lon, lat, flux, *consts):
        scalars = [pt.as_tensor_variable(v, dtype="float64") for v in (lon, lat)]
        flux = pt.as_tensor_variable(flux, dtype="float64")
        xyz, w, pix, table, expo, disp = (pt.as_tensor_variable(c) for c in consts)
        if table.type.shape[2] is None or disp.type.shape[1] is None:
            raise TypeError("RadialCounts: the spline table and the dispersion need static "
                            "shapes (constants); the energy bins are constants of its code")
        return [*scalars, flux, xyz, w, pt.cast(pix, "int64"), table, expo, disp]

    def chords(self, lon, lat, xyz, m=np):
        """``(c (P,), dc/ds (3, P), s (3,))``: chords in degrees, their derivative with
        respect to the source's unit vector (0 where they vanish) and the vector;
        ``m``: numpy or ``jax.numpy``."""
        s = m.stack([m.cos(lat * D2R) * m.cos(lon * D2R),
                     m.cos(lat * D2R) * m.sin(lon * D2R), m.sin(lat * D2R)])
        diff = s[:, None] - xyz
        root = m.sqrt((diff * diff).sum(axis=0))
        safe = m.where(root > 0, root, 1.0)
        return root / D2R, m.where(root > 0, diff / (safe * D2R), 0.0), s

    def values(self, c, table, deriv, m=np):
        """``(P, T)``: the spline's ``deriv``-th derivative at the chords ``c``."""
        idx = m.clip(m.floor(c / self.h), 0, self.nodes).astype(np.int64)
        t = m.minimum(c - idx * self.h, self.h)
        return poly(table[idx].transpose(0, 2, 1), t[:, None], deriv)

    def _c_setup(self, node, inputs, sub, name):
        """Contiguous views of the inputs, the source vector, the work arrays."""
        lon, lat, flux, xyz, w, pix, table, expo, disp = inputs[:9]
        fail = sub["fail"]
        names = ["F", "X", "W", "PIX", "C", "EX", "D"] + (["G"] if len(inputs) > 9 else [])
        arrays = [flux, xyz, w, pix, table, expo, disp, *inputs[9:]]
        ctypes = ["double", "double", "double", "npy_int64", "double", "double", "double",
                  "double"]
        decl = "\n".join(f"PyArrayObject *{n}_c = PyArray_GETCONTIGUOUS({a});"
                         for n, a in zip(names, arrays, strict=True))
        ptrs = "\n".join(f"const {t} *{n} = (const {t}*)PyArray_DATA({n}_c);"
                         for n, t in zip(names, ctypes, strict=False))
        release = " ".join(f"Py_XDECREF({n}_c);" for n in names)
        n_t, n_e = node.inputs[6].type.shape[2], node.inputs[8].type.shape[1]
        return f"""
        {decl}
        {ptrs}
        /* the numbers of energy bins are constants of the code: short loops unrolled,
           vectors of four planes; NT4, NE4: vectors per true / reconstructed plane row */
        constexpr npy_intp T = {n_t}, E = {n_e}, NT4 = (T + 3) / 4, NE4 = (E + 3) / 4;
        const npy_intp P = PyArray_DIMS({w})[0], NPIX = {self.ny * self.nx};
        const double H = {self.h!r}, D2R = {D2R!r}, INV_H = 1.0 / H, INV_D2R = 1.0 / D2R;
        const double lon_r = ((double*)PyArray_DATA({lon}))[0] * D2R;
        const double lat_r = ((double*)PyArray_DATA({lat}))[0] * D2R;
        const double s0 = cos(lat_r) * cos(lon_r), s1 = cos(lat_r) * sin(lon_r),
                     s2 = sin(lat_r);
        /* work: per-pixel rows (NPIX, T), chords (P), padded dispersion rows, 3 T sums */
        const size_t need = (size_t)(NPIX * T + P + 4 * (T * NE4 + E * NT4) + 3 * T);
        if (cap_{name} < need) {{
            free(work_{name});
            cap_{name} = need;
            work_{name} = (double*)malloc(cap_{name} * sizeof(double));
            if (work_{name} == NULL) cap_{name} = 0;
        }}
        double *acc = work_{name};
        if (acc == NULL || PyArray_SIZE({xyz}) != 3 * P || PyArray_DIMS({pix})[0] != P
            || PyArray_SIZE({flux}) != T || PyArray_SIZE({expo}) != T * NPIX
            || PyArray_DIMS({table})[2] != T || PyArray_DIMS({disp})[0] != T
            || PyArray_DIMS({disp})[1] != E) {{
            {release}
            PyErr_SetString(PyExc_ValueError, "RadialCounts: inconsistent input shapes");
            {fail}
        }}
        double *__restrict__ RR = acc + NPIX * T;  /* the chords (deg) */
        double *__restrict__ DR = RR + P;  /* D rows padded: DR[n][e], NE4 vectors each */
        double *__restrict__ DC = DR + 4 * T * NE4;  /* D columns padded: DC[e][n] */
        for (npy_intp n = 0; n < T; ++n)
            for (npy_intp e = 0; e < 4 * NE4; ++e)
                DR[n * 4 * NE4 + e] = e < E ? D[n * E + e] : 0.0;
        for (npy_intp e = 0; e < E; ++e)
            for (npy_intp n = 0; n < 4 * NT4; ++n)
                DC[e * 4 * NT4 + n] = n < T ? D[n * E + e] : 0.0;
        for (npy_intp p = 0; p < P; ++p) {{
            const double dx = s0 - X[p], dy = s1 - X[P + p], dz = s2 - X[2 * P + p];
            RR[p] = sqrt(dx * dx + dy * dy + dz * dz) * INV_D2R;
        }}
        """, release

    _C_CHORD = """
        const double rr = RR[p];
        double q = rr * INV_H;  /* truncated below: floor for q >= 0 */
        if (!(q > 0.0)) q = 0.0;  /* also NaN: the values stay NaN */
        if (q > NODES) q = NODES;
        const npy_intp idx = (npy_intp)q;
        double t = rr - idx * H;
        if (t > H) t = H;
        const double *__restrict__ c0 = C + idx * 4 * T, *__restrict__ c1 = c0 + T,
                     *__restrict__ c2 = c1 + T, *__restrict__ c3 = c2 + T;
    """


class RadialCounts(_Base):
    """``mu (E, ny, nx)`` of a radial source; inputs ``lon, lat`` (deg, scalars), ``flux
    (T,)``, and constants ``xyz (3, P)``, ``w (P,)``, ``pix (P,)`` (:class:`SubPixels`),
    ``table (nodes+1, 4, T)`` (:func:`~.pixelspline.coefficient_table`, transposed),
    ``expo (ny*nx, T)``, ``disp (T, E)``. See :func:`radial_counts`.

    Examples
    --------
    One pixel, two sub-pixels at chords 0 and 0.5 deg from the source, a profile equal to
    1 everywhere (one energy), exposure 2, flux 3, no dispersion: ``(1 + 1) * 2 * 3``.

    >>> from skyfit.forward.pixelspline import coefficient_table
    >>> from skyfit.forward.radial import RadialSpline
    >>> spline = RadialSpline(np.linspace(0, 1, 11), np.ones((1, 11)), r_max=1.0, nodes=10)
    >>> xyz = np.array([[1.0, np.cos(np.radians(0.5))], [0.0, np.sin(np.radians(0.5))],
    ...                 [0.0, 0.0]])
    >>> op = RadialCounts(1, 1, spline.h, spline.nodes)
    >>> op.compute(0.0, 0.0, np.array([3.0]), xyz, np.ones(2), np.zeros(2, int),
    ...            coefficient_table(spline).transpose(0, 2, 1), np.array([[2.0]]),
    ...            np.eye(1)).tolist()
    [[[12.0]]]
    """

    def make_node(self, lon, lat, flux, xyz, w, pix, table, expo, disp):
        inputs = self._inputs(lon, lat, flux, xyz, w, pix, table, expo, disp)
        out = pt.tensor(dtype="float64",
                        shape=(inputs[8].type.shape[1], self.ny, self.nx))
        return Apply(self, inputs, [out])

    def compute(self, lon, lat, flux, xyz, w, pix, table, expo, disp, m=np):
        """The op's output from arrays (``m``: numpy or ``jax.numpy``)."""
        c = self.chords(lon, lat, xyz, m)[0]
        per_sub = self.values(c, table, 0, m) * w[:, None]  # (P, T)
        if m is np:
            per_pixel = np.zeros((self.ny * self.nx, table.shape[2]))
            np.add.at(per_pixel, pix, per_sub)
        else:  # JAX: arrays are immutable
            per_pixel = m.zeros((self.ny * self.nx, table.shape[2])).at[pix].add(per_sub)
        counts = per_pixel * expo * flux  # (pixels, T)
        return (counts @ disp).T.reshape(-1, self.ny, self.nx)

    def perform(self, node, inputs, outputs):
        outputs[0][0] = self.compute(float(inputs[0]), float(inputs[1]), *inputs[2:])

    def infer_shape(self, node, shapes):
        return [(shapes[8][1], self.ny, self.nx)]

    def connection_pattern(self, node):
        return [[True]] * 3 + [[False]] * 6

    def pullback(self, inputs, outputs, cotangents):
        from pytensor.gradient import DisconnectedType

        grads = RadialCountsGrad(self.ny, self.nx, self.h, self.nodes, self.reference)(
            *inputs, cotangents[0])
        return [*grads, *(DisconnectedType()() for _ in inputs[3:])]

    def c_code(self, node, name, inputs, outputs, sub):
        (y,) = outputs
        setup, release = self._c_setup(node, inputs, sub, name)
        fail = sub["fail"]
        chord = self._C_CHORD.replace("NODES", str(self.nodes))
        return f"""
        {{
        {setup}
        npy_intp dims[3] = {{E, {self.ny}, {self.nx}}};
        if ({y} == NULL || PyArray_DIMS({y})[0] != E || !PyArray_IS_C_CONTIGUOUS({y})) {{
            Py_XDECREF({y});
            {y} = (PyArrayObject*)PyArray_EMPTY(3, dims, NPY_FLOAT64, 0);
            if ({y} == NULL) {{ {release} {fail} }}
        }}
        double *O = (double*)PyArray_DATA({y});
        double *__restrict__ A = acc;  /* (pixels, T): the profile summed per pixel */
        memset(A, 0, NPIX * T * sizeof(double));
        for (npy_intp p = 0; p < P; ++p) {{
            {chord}
            const double wp = W[p];
            double *__restrict__ a = A + PIX[p] * T;
            npy_intp n = 0;
            for (; n + 4 <= T; n += 4) {{
                skyfit_v4d y = skyfit_ld4(c3 + n);
                y = skyfit_ld4(c2 + n) + t * y;
                y = skyfit_ld4(c1 + n) + t * y;
                y = skyfit_ld4(c0 + n) + t * y;
                skyfit_st4(a + n, skyfit_ld4(a + n) + wp * y);
            }}
            for (; n < T; ++n)
                a[n] += wp * (c0[n] + t * (c1[n] + t * (c2[n] + t * c3[n])));
        }}
        for (npy_intp j0 = 0; j0 < NPIX; j0 += 4) {{  /* exposure, flux, dispersion */
            /* four pixels at a time: 4 NE4 independent sums (registers), each row of D
               loaded once for the four */
            const npy_intp nq = NPIX - j0 < 4 ? NPIX - j0 : 4;
            double x[T * 4];
            for (npy_intp n = 0; n < T; ++n)
                for (int q = 0; q < 4; ++q) {{
                    const npy_intp j = j0 + q;
                    x[n * 4 + q] = q < nq ? A[j * T + n] * EX[j * T + n] * F[n] : 0.0;
                }}
            skyfit_v4d out[4][NE4];
            skyfit_mix4<T, NE4>(x, DR, out);
            for (npy_intp q = 0; q < nq; ++q) {{
                double flat[4 * NE4];
                memcpy(flat, out[q], sizeof(flat));
                for (npy_intp e = 0; e < E; ++e) O[e * NPIX + j0 + q] = flat[e];
            }}
        }}
        {release}
        }}
        """


class RadialCountsGrad(_Base):
    """The gradient of ``sum(g * RadialCounts(...))`` with respect to ``lon``, ``lat``
    (deg) and ``flux``: outputs ``(g_lon, g_lat, g_flux (T,))``; inputs those of
    :class:`RadialCounts` and ``g (E, ny, nx)``.

    Examples
    --------
    The example of :class:`RadialCounts` is linear in the flux: ``d(g * mu)/d flux = g *
    12 / 3``; a flat profile does not change with position.

    >>> from skyfit.forward.pixelspline import coefficient_table
    >>> from skyfit.forward.radial import RadialSpline
    >>> spline = RadialSpline(np.linspace(0, 1, 11), np.ones((1, 11)), r_max=1.0, nodes=10)
    >>> xyz = np.array([[1.0, np.cos(np.radians(0.5))], [0.0, np.sin(np.radians(0.5))],
    ...                 [0.0, 0.0]])
    >>> op = RadialCountsGrad(1, 1, spline.h, spline.nodes)
    >>> g_lon, g_lat, g_flux = op.compute(
    ...     0.0, 0.0, np.array([3.0]), xyz, np.ones(2), np.zeros(2, int),
    ...     coefficient_table(spline).transpose(0, 2, 1), np.array([[2.0]]), np.eye(1),
    ...     np.array([[[0.5]]]))
    >>> round(float(g_lon), 12), round(float(g_lat), 12), g_flux.tolist()
    (0.0, 0.0, [2.0])
    """

    def make_node(self, lon, lat, flux, xyz, w, pix, table, expo, disp, g):
        inputs = self._inputs(lon, lat, flux, xyz, w, pix, table, expo, disp)
        inputs.append(pt.as_tensor_variable(g, dtype="float64"))
        outs = [pt.dscalar(), pt.dscalar(), pt.tensor(dtype="float64", shape=(None,))]
        return Apply(self, inputs, outs)

    def compute(self, lon, lat, flux, xyz, w, pix, table, expo, disp, g, m=np):
        """The op's outputs from arrays (``m``: numpy or ``jax.numpy``)."""
        c, dcds, s = self.chords(lon, lat, xyz, m)
        back = (disp @ g.reshape(disp.shape[1], -1)).T * expo  # (pixels, T)
        at = back[pix]  # (P, T)
        g_flux = m.einsum("p,pt,pt->t", w, self.values(c, table, 0, m), at)
        slope = m.einsum("p,pt,pt->p", w, self.values(c, table, 1, m), at * flux)
        g_s = dcds @ slope
        sin_lat = m.sin(lat * D2R)
        g_lon = (s[0] * g_s[1] - s[1] * g_s[0]) * D2R
        g_lat = (m.cos(lat * D2R) * g_s[2] - sin_lat * (m.cos(lon * D2R) * g_s[0]
                                                        + m.sin(lon * D2R) * g_s[1])) * D2R
        return g_lon, g_lat, g_flux

    def perform(self, node, inputs, outputs):
        for out, value in zip(outputs, self.compute(float(inputs[0]), float(inputs[1]),
                                                    *inputs[2:]), strict=True):
            out[0] = np.asarray(value, float)

    def infer_shape(self, node, shapes):
        return [(), (), shapes[2]]

    def connection_pattern(self, node):
        return [[True] * 3] * 3 + [[False] * 3] * 6 + [[True] * 3]

    def pullback(self, inputs, outputs, cotangents):
        """Through ``reference`` (PyTensor operations): exact second derivatives."""
        import pytensor
        from pytensor.gradient import DisconnectedType

        if self.reference is None:
            raise NotImplementedError("RadialCounts: no reference graph given for second "
                                      "derivatives")
        from pytensor.graph.replace import graph_replace

        # on independent stand-ins: the inputs may depend on each other (g on lon ...)
        outer = [*inputs[:3], inputs[9]]
        lon, lat, flux, g = (v.type() for v in outer)
        mu = self.reference(lon, lat, flux)
        firsts = pytensor.grad(None, wrt=[lon, lat, flux], known_grads={mu: g})
        known = {f: c for f, c in zip(firsts, cotangents, strict=True)
                 if not isinstance(c.type, DisconnectedType)}
        seconds = pytensor.grad(None, wrt=[lon, lat, flux, g], known_grads=known,
                                disconnected_inputs="ignore", return_disconnected="zero")
        seconds = graph_replace(seconds, dict(zip([lon, lat, flux, g], outer, strict=True)),
                                strict=False)
        return [*seconds[:3], *(DisconnectedType()() for _ in inputs[3:9]), seconds[3]]

    def c_code(self, node, name, inputs, outputs, sub):
        o_lon, o_lat, o_flux = outputs
        setup, release = self._c_setup(node, inputs, sub, name)
        fail = sub["fail"]
        chord = self._C_CHORD.replace("NODES", str(self.nodes))
        scalar = """
        if ({o} == NULL) {{
            {o} = (PyArrayObject*)PyArray_EMPTY(0, NULL, NPY_FLOAT64, 0);
            if ({o} == NULL) {{ {release} {fail} }}
        }}"""
        return f"""
        {{
        {setup}
        if (PyArray_SIZE(G_c) != E * NPIX) {{
            {release}
            PyErr_SetString(PyExc_ValueError, "RadialCountsGrad: g must be (E, ny, nx)");
            {fail}
        }}
        {scalar.format(o=o_lon, release=release, fail=fail)}
        {scalar.format(o=o_lat, release=release, fail=fail)}
        if ({o_flux} == NULL || PyArray_SIZE({o_flux}) != T) {{
            Py_XDECREF({o_flux});
            npy_intp nt = T;
            {o_flux} = (PyArrayObject*)PyArray_EMPTY(1, &nt, NPY_FLOAT64, 0);
            if ({o_flux} == NULL) {{ {release} {fail} }}
        }}
        double *gf = (double*)PyArray_DATA({o_flux});
        memset(gf, 0, T * sizeof(double));
        double *__restrict__ B = acc;  /* (pixels, T): back through dispersion, exposure */
        double *__restrict__ GX = DC + 4 * E * NT4, *__restrict__ GY = GX + T,
               *__restrict__ GZ = GY + T;
        for (npy_intp n = 0; n < T; ++n) GX[n] = GY[n] = GZ[n] = 0.0;
        for (npy_intp j0 = 0; j0 < NPIX; j0 += 4) {{  /* four pixels at a time, as above */
            const npy_intp nq = NPIX - j0 < 4 ? NPIX - j0 : 4;
            double x[E * 4];
            for (npy_intp e = 0; e < E; ++e)
                for (int q = 0; q < 4; ++q) x[e * 4 + q] = q < nq ? G[e * NPIX + j0 + q] : 0.0;
            skyfit_v4d back[4][NT4];
            skyfit_mix4<E, NT4>(x, DC, back);
            for (npy_intp q = 0; q < nq; ++q) {{
                double flat[4 * NT4];
                memcpy(flat, back[q], sizeof(flat));
                double *__restrict__ b = B + (j0 + q) * T;
                const double *__restrict__ ex = EX + (j0 + q) * T;
                for (npy_intp n = 0; n < T; ++n) b[n] = flat[n] * ex[n];
            }}
        }}
        for (npy_intp p = 0; p < P; ++p) {{
            {chord}
            const double wp = W[p];
            const double *__restrict__ b = B + PIX[p] * T;
            /* d chord / d s, times the weight (0 where the chord vanishes) */
            const double f = rr > 0.0 ? wp / (rr * D2R * D2R) : 0.0;
            const double fx = f * (s0 - X[p]), fy = f * (s1 - X[P + p]),
                         fz = f * (s2 - X[2 * P + p]);
            npy_intp n = 0;
            for (; n + 4 <= T; n += 4) {{
                const skyfit_v4d k0 = skyfit_ld4(c0 + n), k1 = skyfit_ld4(c1 + n),
                                 k2 = skyfit_ld4(c2 + n), k3 = skyfit_ld4(c3 + n);
                const skyfit_v4d bn = skyfit_ld4(b + n);
                const skyfit_v4d v = k0 + t * (k1 + t * (k2 + t * k3));
                const skyfit_v4d slope = bn * (k1 + t * (2.0 * k2 + (3.0 * t) * k3));
                skyfit_st4(gf + n, skyfit_ld4(gf + n) + wp * (bn * v));
                skyfit_st4(GX + n, skyfit_ld4(GX + n) + fx * slope);
                skyfit_st4(GY + n, skyfit_ld4(GY + n) + fy * slope);
                skyfit_st4(GZ + n, skyfit_ld4(GZ + n) + fz * slope);
            }}
            for (; n < T; ++n) {{
                const double v = c0[n] + t * (c1[n] + t * (c2[n] + t * c3[n]));
                const double slope = b[n] * (c1[n] + t * (2.0 * c2[n] + 3.0 * t * c3[n]));
                gf[n] += wp * b[n] * v;
                GX[n] += slope * fx; GY[n] += slope * fy; GZ[n] += slope * fz;
            }}
        }}
        double g0 = 0.0, g1 = 0.0, g2 = 0.0;
        for (npy_intp n = 0; n < T; ++n) {{
            g0 += F[n] * GX[n]; g1 += F[n] * GY[n]; g2 += F[n] * GZ[n];
        }}
        ((double*)PyArray_DATA({o_lon}))[0] = (-g0 * s1 + g1 * s0) * D2R;
        ((double*)PyArray_DATA({o_lat}))[0] =
            (-g0 * sin(lat_r) * cos(lon_r) - g1 * sin(lat_r) * sin(lon_r)
             + g2 * cos(lat_r)) * D2R;
        {release}
        }}
        """
