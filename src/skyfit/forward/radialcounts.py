r"""What the Cash statistic needs of a free radial source (a point, or a round source
of frozen size), as one PyTensor op with C code.

A point source's PSF, or a round source's profile after the PSF
(:mod:`skyfit.forward.convolved`), centred at the free position ``(lon, lat)``, gives in
the cutout

.. math::
    \mu_{e,j} = \sum_t D_{t e}\, x_{t j}, \qquad
    x_{t j} = \phi_t\, X_{t j} \sum_{p \in j} w_p\, S_t(c_p),
    \qquad c_p = |\hat x_p - \hat s(\mathrm{lon}, \mathrm{lat})|,

with :math:`S_t` the profile of true-energy bin :math:`t` tabulated against the chord
:math:`c_p` between the sub-pixel's unit vector and the source's (a cubic spline,
:class:`~skyfit.forward.radial.RadialSpline`), :math:`w_p` the sub-pixel's solid angle,
:math:`X` the exposure, :math:`\phi` the spectral bin integrals and :math:`D` the energy
dispersion. The statistic (:mod:`skyfit.forward.fitted`) needs of :math:`\mu` only its
sum over the fitted bins, :math:`\sum_{j,t} x_{tj} M_{jt}` with :math:`M_{jt} = \sum_e
D_{te}\,\mathrm{fitted}_{ej}` (:func:`fitted_rows`), and its values at the bins with
counts: :class:`RadialCounts` computes these two, with no cube of the cutout's size, in
one loop over the sub-pixel nodes (the core boxes' among them, sorted by pixel; the coarser
ones under a finer box, of zero weight, left out) that accumulates each pixel's ``T``
planes, one over the pixels (exposure, flux, the sum) and one over the bins with counts
(the dispersion there only: ~4-10 % of a Fermi-LAT cutout's bins). Its gradient with
respect to ``lon``, ``lat`` and ``flux`` is :class:`RadialCountsGrad`: the same loops
backwards. Built from PyTensor operations this was a dozen ops and as many arrays of the
cutout's size, then the product with the fit mask, its sum, the gather at the bins with
counts, and as many again for the gradient. A graph that needs the cube asks for every
bin (:meth:`skyfit.forward.npred.DatasetPredictor.npred`).

The C loops run over four energy planes at a time (GCC vector extensions: the compiler
left these short loops scalar) with the numbers of energy bins as constants of the code;
the cutout and the spline's step reach them at run time (the op's params), so PyTensor
compiles them once per ``(T, E)``, as a function of their own at ``-O3`` for this CPU
whatever the module around them (:func:`~skyfit.forward.radialcounts_c.function`). The
value's loops go in runs of whole pixels, one per OpenMP thread.
The statistic's C value+gradient function replaces the pair by one pass
(:mod:`skyfit.forward.radialfused`).

Second derivatives (exact Hessians) go through the same quantities built from PyTensor
operations (``reference``, given by the caller): slower, but only compiled when asked.

Backends: C (PyTensor's C linkers), numpy (``perform``: FAST_COMPILE, tests), Numba
(the C code's loops, :mod:`skyfit.forward.numba_ops`) and JAX (the same
array code in ``jax.numpy``, :mod:`skyfit.forward.jax_ops`).
"""

from __future__ import annotations

import numpy as np
import pytensor.scalar as ps
import pytensor.tensor as pt
from pytensor.graph.basic import Apply
from pytensor.link.c.op import COp
from pytensor.link.c.params_type import ParamsType

from ..maps.geom import _unit_vectors
from . import radialcounts_c
from .pixelspline import coefficient_table, poly

__all__ = ["RadialCounts", "RadialCountsGrad", "SubPixels", "fitted_rows", "radial_counts"]

D2R = radialcounts_c.D2R


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


def fitted_rows(disp, weight) -> np.ndarray:
    """``M (1 or ny*nx, T)``: the fitted bins seen from true energy, ``M[j, t] = sum_e
    D[t, e] weight[e, j]``, so that a source's counts summed over the fitted bins of its
    cutout are ``sum_{j,t} x[t, j] M[j, t]`` (``x``: its counts before the dispersion
    ``disp (T, E)``); one row where every bin of the cutout is fitted (``weight`` None
    or all ones).

    Examples
    --------
    >>> fitted_rows(np.array([[0.9, 0.1], [0.0, 1.0]]), None).tolist()
    [[1.0, 1.0]]
    >>> fitted_rows(np.eye(2), np.array([[[1.0, 0.0]], [[1.0, 1.0]]])).tolist()
    [[1.0, 1.0], [0.0, 1.0]]
    """
    disp = np.asarray(disp, float)
    if weight is None or np.all(np.asarray(weight) == 1):
        return disp.sum(axis=1)[None, :]
    weight = np.asarray(weight, float)
    return np.ascontiguousarray((disp @ weight.reshape(weight.shape[0], -1)).T)


def radial_counts(lon, lat, flux, sub: SubPixels, spline, exposure, disp, weight, bins,
                  reference=None):
    """``(total, at)``: the counts of a radial source at ``(lon, lat)`` (deg) with
    true-energy bin integrals ``flux (T,)``, summed over the fitted bins of its cutout
    and at the bins ``bins`` (flat indices into its ``(E, ny, nx)`` counts, sorted by
    pixel: ``bins % (ny * nx)`` non-decreasing);
    ``spline``: the profile against the chord
    (:meth:`~skyfit.forward.radial.RadialSpline.of_chord`), ``exposure`` ``(T,)`` (at
    the source) or ``(T, ny, nx)``, ``disp`` the ``(T, E)`` dispersion (None: none),
    ``weight`` the fitted bins ``(E, ny, nx)`` (None: all).
    ``reference(lon, lat, flux, bins)``: the same from PyTensor operations, for second
    derivatives (None: the gradient is not differentiable again).

    Examples
    --------
    A Gaussian PSF (density in sr-1) in the middle of a 9 x 9 cutout, exposure 1e10,
    no dispersion, unit flux: its counts sum to the flux times the exposure, the most
    at the middle pixel.

    >>> from skyfit.maps import WcsGeom
    >>> from skyfit.forward.radial import RadialSpline
    >>> from skyfit.forward.response import make_cutout
    >>> rad = np.linspace(0, 1, 101)
    >>> density = np.exp(-0.5 * (rad / 0.1) ** 2) / (2 * np.pi * np.radians(0.1) ** 2)
    >>> spline = RadialSpline(rad, density[None], r_max=1.0).of_chord()
    >>> geom = WcsGeom.create((0, 0), frame="galactic", binsz=0.1, npix=(9, 9))
    >>> cut = make_cutout(geom, 0, 0, "galactic", radius=0, k=4, full=True)
    >>> sub = SubPixels([(cut, (0, 0))], cut.shape)
    >>> total, at = radial_counts(0.0, 0.0, np.ones(1), sub, spline, np.array([1e10]),
    ...                           None, None, np.array([0, 40]))
    >>> round(float(total / 1e10), 2), bool(at[1] > 100 * at[0])
    (1.0, True)
    """
    # the cubic's coefficients per interval as (4, T) rows and the exposure as (T,) rows:
    # the loops over energy planes read contiguous memory (vector code)
    table = np.ascontiguousarray(coefficient_table(spline).transpose(0, 2, 1))
    n_t = table.shape[2]
    ny, nx = sub.shape
    expo = np.asarray(exposure, float)  # one row for all pixels (a point source's)
    expo = np.ascontiguousarray(expo.reshape(n_t, -1).T if expo.ndim == 3 else expo[None, :])
    disp = np.eye(n_t) if disp is None else np.ascontiguousarray(disp, float)
    mrow = fitted_rows(disp, weight)
    op = RadialCounts(ny, nx, spline.h, spline.nodes, reference)
    consts = (sub.xyz, sub.w, sub.pix, table, expo, disp, mrow)
    if all(isinstance(v, float | int | np.ndarray) for v in (lon, lat, flux, bins)):
        return op.compute(float(lon), float(lat), np.asarray(flux, float), *consts,
                          np.asarray(bins, np.int64))
    return op(lon, lat, flux, *(pt.constant(c) for c in consts), bins)


class _Base(radialcounts_c.OpenMPCode, COp):
    __props__ = ("ny", "nx", "h", "nodes", "chunks")
    # the C code reads these at run time (radialcounts_c.call): one module per numbers
    # of energy bins, whatever the cutout and spline
    params_type = ParamsType(ny=ps.int64, nx=ps.int64, h=ps.float64, nodes=ps.int64,
                             chunks=ps.int64)

    def __init__(self, ny: int, nx: int, h: float, nodes: int, reference=None,
                 chunks: int = 0) -> None:
        self.ny, self.nx, self.h, self.nodes = int(ny), int(nx), float(h), int(nodes)
        # runs of whole pixels done apart (radialcounts_c.chunks); 0: one per thread
        self.chunks = int(chunks)
        # not a prop: the same computation from PyTensor ops, for second derivatives;
        # nodes with equal props and equal inputs compute the same
        self.reference = reference

    def __getstate__(self):
        # PyTensor pickles ops into its compile cache's keys: without the reference (a
        # closure; not part of what the op computes)
        return {**self.__dict__, "reference": None}

    def c_code_cache_version(self):
        return (61, radialcounts_c.openmp(), radialcounts_c.vector_target())

    # a work array kept between calls (allocating it per call costs page faults)
    def c_support_code_struct(self, node, name):
        return f"double *work_{name}; size_t cap_{name};"

    def c_init_code_struct(self, node, name, sub):
        return f"work_{name} = NULL; cap_{name} = 0;"

    def c_cleanup_code_struct(self, node, name):
        return f"free(work_{name});"

    def c_support_code(self, **kwargs):
        return radialcounts_c.SUPPORT

    # the loops as a function of their own, compiled optimised for this CPU whatever
    # the module's flags (radialcounts_c.function)
    def c_support_code_apply(self, node, name):
        return radialcounts_c.function(self, node, name)

    def c_code(self, node, name, inputs, outputs, sub):
        return radialcounts_c.call(self, node, name, inputs, outputs, sub)

    def _inputs(self, lon, lat, flux, *consts):
        scalars = [pt.as_tensor_variable(v, dtype="float64") for v in (lon, lat)]
        flux = pt.as_tensor_variable(flux, dtype="float64")
        xyz, w, pix, table, expo, disp, mrow, bins = (pt.as_tensor_variable(c)
                                                      for c in consts)
        # the C code reads doubles (and 64-bit integers, below)
        xyz, w, table, expo, disp, mrow = (pt.cast(v, "float64")
                                           for v in (xyz, w, table, expo, disp, mrow))
        if table.type.shape[2] is None or disp.type.shape[1] is None:
            raise TypeError("RadialCounts: the spline table and the dispersion need static "
                            "shapes (constants); the energy bins are constants of its code")
        return [*scalars, flux, xyz, w, pt.cast(pix, "int64"), table, expo, disp, mrow,
                pt.cast(bins, "int64")]

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
        # a NaN chord (a NaN position) reads interval 0 at a NaN offset: NaN values
        idx = m.clip(m.nan_to_num(m.floor(c / self.h)), 0, self.nodes).astype(np.int64)
        t = m.minimum(c - idx * self.h, self.h)
        return poly(table[idx].transpose(0, 2, 1), t[:, None], deriv)

    def pixel_sums(self, per_sub, pix, m=np):
        """``(ny*nx, T)``: the sub-pixels' rows ``per_sub (P, T)`` summed per pixel."""
        if m is np:
            out = np.zeros((self.ny * self.nx, per_sub.shape[1]))
            np.add.at(out, pix, per_sub)
            return out
        return m.zeros((self.ny * self.nx, per_sub.shape[1])).at[pix].add(per_sub)  # JAX

    def bins_at(self, bins, disp, m=np):
        """``(pixel (K,), dispersion column (K, T))`` of the flat bin indices ``bins``
        into ``(E, ny, nx)`` (in numpy, refused outside it or not sorted by pixel, as
        in C)."""
        npix = self.ny * self.nx
        if m is np and bins.size and (bins.min() < 0 or bins.max() >= disp.shape[1] * npix
                                      or np.any(np.diff(bins % npix) < 0)):
            raise ValueError("RadialCounts: bins outside the cutout or not sorted by pixel")
        return bins % npix, disp.T[bins // npix]

class RadialCounts(_Base):
    """``(total, at)`` of a radial source: its counts summed over the fitted bins of its
    cutout and at the bins ``bins``; inputs ``lon, lat`` (deg, scalars), ``flux (T,)``,
    constants ``xyz (3, P)``, ``w (P,)``, ``pix (P,)`` (:class:`SubPixels`), ``table
    (nodes+1, 4, T)`` (:func:`~.pixelspline.coefficient_table`, transposed), ``expo
    (1 or ny*nx, T)``, ``disp (T, E)``, ``mrow (1 or ny*nx, T)`` (the fitted bins through the
    dispersion, :func:`fitted_rows`), and ``bins (K,)``, flat indices into ``(E, ny,
    nx)`` sorted by pixel. See :func:`radial_counts`.

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
    >>> total, at = op.compute(0.0, 0.0, np.array([3.0]), xyz, np.ones(2), np.zeros(2, int),
    ...                        coefficient_table(spline).transpose(0, 2, 1),
    ...                        np.array([[2.0]]), np.eye(1), np.ones((1, 1)), np.zeros(1, int))
    >>> float(total), at.tolist()
    (12.0, [12.0])
    """

    def make_node(self, lon, lat, flux, xyz, w, pix, table, expo, disp, mrow, bins):
        inputs = self._inputs(lon, lat, flux, xyz, w, pix, table, expo, disp, mrow, bins)
        return Apply(self, inputs, [pt.dscalar(), pt.tensor(dtype="float64", shape=(None,))])

    def compute(self, lon, lat, flux, xyz, w, pix, table, expo, disp, mrow, bins, m=np):
        """The op's outputs from arrays (``m``: numpy or ``jax.numpy``)."""
        c = self.chords(lon, lat, xyz, m)[0]
        per_pixel = self.pixel_sums(self.values(c, table, 0, m) * w[:, None], pix, m)
        counts = per_pixel * expo * flux  # (pixels, T), before the dispersion
        at_pixel, column = self.bins_at(bins, disp, m)
        return (counts * mrow).sum(), (counts[at_pixel] * column).sum(axis=1)

    def perform(self, node, inputs, outputs, params=None):
        total, at = self.compute(float(inputs[0]), float(inputs[1]), *inputs[2:])
        outputs[0][0], outputs[1][0] = np.asarray(total, float), np.asarray(at, float)

    def infer_shape(self, node, shapes):
        return [(), shapes[10]]

    def connection_pattern(self, node):
        return [[True, True]] * 3 + [[False, False]] * 8

    def pullback(self, inputs, outputs, cotangents):
        from pytensor.gradient import DisconnectedType

        g_total, g_at = cotangents
        if isinstance(g_total.type, DisconnectedType):
            g_total = pt.constant(0.0)
        if isinstance(g_at.type, DisconnectedType):
            g_at = pt.zeros_like(outputs[1])
        grads = RadialCountsGrad(**self._props_dict(), reference=self.reference)(
            *inputs, g_total, g_at)
        return [*grads, *(DisconnectedType()() for _ in inputs[3:])]

    def c_body(self, node, name, inputs, outputs, sub):
        return radialcounts_c.value_code(node, name, inputs, outputs, sub)


class RadialCountsGrad(_Base):
    """The gradient of ``g_total * total + g_at . at`` (:class:`RadialCounts`) with
    respect to ``lon``, ``lat`` (deg) and ``flux``: outputs ``(g_lon, g_lat, g_flux
    (T,))``; inputs those of :class:`RadialCounts`, ``g_total`` (scalar) and ``g_at
    (K,)``.

    Examples
    --------
    The example of :class:`RadialCounts` is linear in the flux: ``d(total + 0.5 at)/d
    flux = 1.5 * 12 / 3``; a flat profile does not change with position.

    >>> from skyfit.forward.pixelspline import coefficient_table
    >>> from skyfit.forward.radial import RadialSpline
    >>> spline = RadialSpline(np.linspace(0, 1, 11), np.ones((1, 11)), r_max=1.0, nodes=10)
    >>> xyz = np.array([[1.0, np.cos(np.radians(0.5))], [0.0, np.sin(np.radians(0.5))],
    ...                 [0.0, 0.0]])
    >>> op = RadialCountsGrad(1, 1, spline.h, spline.nodes)
    >>> g_lon, g_lat, g_flux = op.compute(
    ...     0.0, 0.0, np.array([3.0]), xyz, np.ones(2), np.zeros(2, int),
    ...     coefficient_table(spline).transpose(0, 2, 1), np.array([[2.0]]), np.eye(1),
    ...     np.ones((1, 1)), np.zeros(1, int), 1.0, np.array([0.5]))
    >>> round(float(g_lon), 12), round(float(g_lat), 12), g_flux.tolist()
    (0.0, 0.0, [6.0])
    """

    def make_node(self, lon, lat, flux, xyz, w, pix, table, expo, disp, mrow, bins,
                  g_total, g_at):
        inputs = self._inputs(lon, lat, flux, xyz, w, pix, table, expo, disp, mrow, bins)
        inputs += [pt.as_tensor_variable(g, dtype="float64") for g in (g_total, g_at)]
        outs = [pt.dscalar(), pt.dscalar(), pt.tensor(dtype="float64", shape=(None,))]
        return Apply(self, inputs, outs)

    def compute(self, lon, lat, flux, xyz, w, pix, table, expo, disp, mrow, bins,
                g_total, g_at, m=np):
        """The op's outputs from arrays (``m``: numpy or ``jax.numpy``)."""
        c, dcds, s = self.chords(lon, lat, xyz, m)
        at_pixel, column = self.bins_at(bins, disp, m)
        back = m.zeros((self.ny * self.nx, table.shape[2])) + g_total * mrow
        if m is np:
            np.add.at(back, at_pixel, g_at[:, None] * column)
        else:
            back = back.at[at_pixel].add(g_at[:, None] * column)
        at = (back * expo)[pix]  # (P, T): back through dispersion and exposure
        g_flux = m.einsum("p,pt,pt->t", w, self.values(c, table, 0, m), at)
        slope = m.einsum("p,pt,pt->p", w, self.values(c, table, 1, m), at * flux)
        g_s = dcds @ slope
        sin_lat = m.sin(lat * D2R)
        g_lon = (s[0] * g_s[1] - s[1] * g_s[0]) * D2R
        g_lat = (m.cos(lat * D2R) * g_s[2] - sin_lat * (m.cos(lon * D2R) * g_s[0]
                                                        + m.sin(lon * D2R) * g_s[1])) * D2R
        return g_lon, g_lat, g_flux

    def perform(self, node, inputs, outputs, params=None):
        values = self.compute(float(inputs[0]), float(inputs[1]), *inputs[2:11],
                              float(inputs[11]), inputs[12])
        for out, value in zip(outputs, values, strict=True):
            out[0] = np.asarray(value, float)

    def infer_shape(self, node, shapes):
        return [(), (), shapes[2]]

    def connection_pattern(self, node):
        return [[True] * 3] * 3 + [[False] * 3] * 8 + [[True] * 3] * 2

    def pullback(self, inputs, outputs, cotangents):
        """Through ``reference`` (PyTensor operations): exact second derivatives."""
        import pytensor
        from pytensor.gradient import DisconnectedType
        from pytensor.graph.replace import graph_replace

        if self.reference is None:
            raise NotImplementedError("RadialCounts: no reference graph given for second "
                                      "derivatives")
        # on independent stand-ins: the inputs may depend on each other (g on lon ...)
        outer = [*inputs[:3], *inputs[11:]]
        lon, lat, flux, g_total, g_at = (v.type() for v in outer)
        total, at = self.reference(lon, lat, flux, inputs[10])
        firsts = pytensor.grad(None, wrt=[lon, lat, flux],
                               known_grads={total: g_total, at: g_at})
        known = {f: c for f, c in zip(firsts, cotangents, strict=True)
                 if not isinstance(c.type, DisconnectedType)}
        stand_ins = [lon, lat, flux, g_total, g_at]
        seconds = pytensor.grad(None, wrt=stand_ins, known_grads=known,
                                disconnected_inputs="ignore", return_disconnected="zero")
        seconds = graph_replace(seconds, dict(zip(stand_ins, outer, strict=True)),
                                strict=False)
        return [*seconds[:3], *(DisconnectedType()() for _ in inputs[3:11]), *seconds[3:]]

    def c_body(self, node, name, inputs, outputs, sub):
        return radialcounts_c.grad_code(node, name, inputs, outputs, sub)
