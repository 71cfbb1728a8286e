"""Predicted counts of one dataset as a function of the model parameters.

``DatasetPredictor`` prepares, once per model structure, everything that does not depend
on free parameters (cutouts, PSF splines and kernels at the source positions, dispersion
matrices, and the whole response of sources whose position and shape are frozen); its
``npred(value_of)`` then composes

    npred = background x norm x (E / E_ref)^-tilt
          + sum_sources  Edisp^T . PSF * (exposure x spatial) . flux(E_true bins)

where ``value_of(parameter)`` returns a float (numpy evaluation) or a PyTensor variable
(graph building). One code path serves both.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np

from .._math import xp
from ..models.sky import FoVBackgroundModel
from ..models.spatial.sphere import angular_separation
from .batch import FixedSources, spectral_fluxes
from .convolved import convolved_profile, is_round
from .quadrature import core_nodes
from .radial import RadialSpline
from .response import bilinear, extended_true, make_cutout, point_true, psf_kernel

__all__ = ["DatasetPredictor"]

PSF_CONTAINMENT = 0.999  # cutouts and kernels reach the radius containing this fraction
MAX_PSF_RADIUS = 5.0  # deg


class DatasetPredictor:
    """The fixed structure of one dataset's npred for given models.

    Parameters
    ----------
    dataset : MapDataset
    models : Models
        All models; those that apply to this dataset are selected by ``datasets_names``.
    is_free : callable
        ``is_free(parameter) -> bool``; responses of sources whose spatial parameters are
        all frozen are precomputed with numpy.

    Examples
    --------
    With plain numbers for the parameter values, ``npred`` is a numpy array:

    >>> from skyfit.datasets.synthetic import synthetic_dataset
    >>> from skyfit.models import FoVBackgroundModel, Models, SkyModel
    >>> from skyfit.models.spatial import PointSpatialModel
    >>> from skyfit.models.spectral import PowerLawSpectralModel
    >>> ds = synthetic_dataset(npix=(8, 8), name="toy")
    >>> src = SkyModel(PointSpatialModel(frame="galactic"), PowerLawSpectralModel(), name="src")
    >>> predictor = DatasetPredictor(ds, Models([src, FoVBackgroundModel("toy")]),
    ...                              is_free=lambda par: False)
    >>> predictor.fixed is not None  # position frozen: a precomputed response
    True
    >>> npred = predictor.npred(lambda par: par.value)
    >>> npred.shape, bool(npred.sum() > predictor.background(lambda par: par.value).sum())
    ((6, 8, 8), True)
    """

    def __init__(self, dataset, models, is_free) -> None:
        self.dataset = dataset
        self.geom = dataset.counts.geom
        self.e_axis = self.geom.axis("energy")
        self.t_axis = dataset.exposure.geom.axis("energy_true")
        self.exposure = np.asarray(dataset.exposure.data, float)
        self.sources = []
        self.backgrounds = []
        for component in models:
            names = getattr(component, "datasets_names", None)
            if names is not None and dataset.name not in names:
                continue
            if isinstance(component, FoVBackgroundModel):
                self.backgrounds.append(component)
            elif component.spatial_model is None:
                raise ValueError(f"model {component.name!r} has no spatial part: a map "
                                 "dataset needs SkyModel(spatial_model, spectral_model)")
            else:
                self.sources.append(_SourcePlan(self, component, is_free))
        self.sources = [s for s in self.sources if s.cut is not None]
        fixed = [s for s in self.sources if s.fixed is not None and not s.reco_psf]
        self.fixed = FixedSources(fixed, self.geom.data_shape) if fixed else None
        self.sources = [s for s in self.sources if not any(s is f for f in fixed)]
        if len(self.backgrounds) > 1:
            raise ValueError(f"dataset {dataset.name!r} has {len(self.backgrounds)} "
                             "background models; at most one is supported")

    def out_of_reach(self) -> list[str]:
        """Names of free sources that, at their models' current values, moved beyond the
        region planned for them at the start (see :meth:`_SourcePlan.out_of_reach`)."""
        return [s.component.name for s in self.sources if s.out_of_reach()]

    # -- composition -------------------------------------------------------------------
    def npred(self, value_of):
        """Predicted counts ``(E, ny, nx)``; numpy or PyTensor depending on ``value_of``."""
        total = self.background(value_of)
        if self.fixed is not None:
            flat = total.ravel() + self.fixed.npred(self.t_axis.edges_in("TeV"), value_of)
            total = flat.reshape(self.geom.data_shape)
        fluxes = self.source_fluxes(value_of)
        for i, source in enumerate(self.sources):
            total = _add_box(total, source.npred(value_of, fluxes[i]), *source.cut.slices)
        return total

    def source_fluxes(self, value_of):
        """The ``(S, T)`` spectral bin integrals of the sources not in :attr:`fixed`
        (None if there are none)."""
        if not self.sources:
            return None
        # all spectra in one call per class: a smaller graph (compiling per-source
        # spectral expressions fused into one C function took minutes on the GC)
        return spectral_fluxes([s.spectral for s in self.sources],
                               self.t_axis.edges_in("TeV"), value_of)

    def background_data(self) -> np.ndarray | None:
        """The dataset's background cube (before the background model), or None."""
        bkg = self.dataset.background
        return None if bkg is None else np.asarray(bkg.data, float)

    def background_factor(self, value_of):
        """The background model's factor per reconstructed-energy bin ``(E,)``, or None
        (no background model: the cube is taken as it is)."""
        if not self.backgrounds:
            return None
        spectral = self.backgrounds[0].spectral_model
        pars = spectral.canonical_values({p.name: value_of(p) for p in spectral.parameters})
        return spectral.evaluate(self.e_axis.center_in("TeV"), **pars)

    def background(self, value_of):
        data = self.background_data()
        if data is None:
            return np.zeros(self.geom.data_shape)
        factor = self.background_factor(value_of)
        return data if factor is None else data * factor[:, None, None]


class _SourcePlan:
    """Precomputed pieces of one SkyModel on one dataset."""

    def __init__(self, pred: DatasetPredictor, component, is_free) -> None:
        self.component = component
        self.spatial = component.spatial_model
        self.spectral = component.spectral_model
        self.pred = pred
        dataset, geom = pred.dataset, pred.geom
        self.free_spatial = any(is_free(p) for p in self.spatial.parameters)
        frame = getattr(self.spatial, "frame", geom.frame)
        self.frame = frame
        pars = self.spatial.canonical_values()
        lon0, lat0 = pars.get("lon_0"), pars.get("lat_0")
        self.position = None
        if lon0 is not None:
            from astropy.coordinates import SkyCoord

            self.position = SkyCoord(lon0, lat0, unit="deg", frame=frame)
        psf = dataset.psf
        self.reco_psf = bool(getattr(psf, "is_reco", False))
        psf_axis = pred.e_axis if self.reco_psf else pred.t_axis
        self.spline, psf_radius = _psf_spline(psf, self.position, psf_axis, geom)
        self.edisp = _edisp_matrix(dataset, self.position, pred.t_axis, pred.e_axis)
        size = 0.0 if self.spatial.is_point else _eval_radius(self.spatial)
        # a round source of frozen size is, after the PSF, a radial profile: sampled
        # like a point source's PSF (no convolution in the graph)
        self.profile = None
        if self.spline is not None and not self.reco_psf and is_round(self.spatial):
            self.profile = convolved_profile(self.spatial, self.spline)
        radial = self.spatial.is_point or self.profile is not None
        pixel = float(geom.pixel_scales.min())
        whole = self.position is None
        if radial:  # Gauss-Legendre nodes per pixel per band of distance from the source,
            # bands of one 68 % radius (the smallest), or of one pixel where that is wider
            profile = self.spline if self.profile is None else self.profile
            band = max(self.spline.core_radius, pixel)
            nodes = _radial_nodes(profile, band, pixel, size)
        k = nodes[-1] if radial else _oversampling(self.spatial, pixel)
        self.cut = make_cutout(geom, lon0 if not whole else 0.0, lat0 if not whole else 0.0,
                               frame, psf_radius + size, k, full=whole,
                               rule="gauss" if radial else "midpoint")
        self.cores = []
        if self.cut is not None and radial:
            self.cores = _core_boxes(geom, lon0, lat0, frame, self.cut, nodes, band, size)
            if not whole:
                _drop_corners(self.cut, lon0, lat0, profile.r_max)
        if self.cut is None:
            warnings.warn(f"source {component.name!r} at ({lon0:.3f}, {lat0:.3f}) {frame} is "
                          f"more than {psf_radius + size:.2f} deg outside dataset "
                          f"{dataset.name!r}: it contributes nothing there", stacklevel=3)
            return
        sy, sx = self.cut.slices
        self.exposure_cut = pred.exposure[:, sy, sx]
        if self.spatial.is_point:
            x, y = geom.world_to_pix(lon0, lat0, frame)
            self.exposure_src = bilinear(pred.exposure, float(x[0]), float(y[0]))
        self.kernel = None
        if not radial and self.spline is not None:
            self.kernel = psf_kernel(self.spline, pixel, psf_radius)
        self.shape_cut, self.into = self.cut, None
        self.reach = None  # (lon, lat, radius): where a free source must stay
        if self.free_spatial and not radial and not whole:
            self._shape_box(geom, lon0, lat0, frame, pixel)
        elif self.free_spatial and self.cores:  # its peak stays in the core boxes
            self.reach = (lon0, lat0, size + (CORE_RADII - 1.0) * self.spline.core_radius)
        self.fixed = None
        self._subpixels = None  # of a free radial source: built on first use
        if not self.free_spatial:
            self.fixed = self._response({p.name: p.value for p in self.spatial.parameters})

    def _shape_box(self, geom, lon0, lat0, frame, pixel) -> None:
        """Sample a free extended shape only where it can reach, not over the whole
        cutout (which adds the PSF radius): the shape's radius plus a margin for moving
        (:func:`_free_margin`). On the Fermi-LAT Galactic-centre disks this is ~5x fewer
        sub-pixels; the PSF convolution still covers the whole cutout."""
        reach = _eval_radius(self.spatial)
        box = make_cutout(geom, lon0, lat0, frame, reach + _free_margin(reach, pixel),
                          self.cut.k, within=self.cut.slices)
        if box is None or box.shape == self.cut.shape:
            return
        self.shape_cut = box
        self.reach = (lon0, lat0, reach + _free_margin(reach, pixel))
        self.into = (self.cut.shape, _relative(box.slices, self.cut.slices))

    def out_of_reach(self) -> bool:
        """Whether the source, at its model's current values, left the region its
        sampling was planned for at the start: a point source's peak outside its finely
        sampled core boxes, an extended shape (centre offset plus radius) outside the box
        its brightness is sampled in. The prediction stays smooth there but is
        truncated or coarse: the fit must be planned again around the new values."""
        if self.reach is None:
            return False
        lon0, lat0, radius = self.reach
        pars = self.spatial.canonical_values()
        d2r = np.pi / 180.0
        moved = float(angular_separation(lon0 * d2r, lat0 * d2r, pars["lon_0"] * d2r,
                                         pars["lat_0"] * d2r)) / d2r
        size = 0.0 if self.spatial.is_point else _eval_radius(self.spatial)
        return moved + size > radius

    # -- response per unit flux in each true-energy bin: (T, E, ny, nx) or (T, ny, nx) ---
    def _radial_profile(self):
        """``(spline, exposure)`` of a point or round source: its profile after the PSF
        and the exposure, ``(T,)`` at the source or ``(T, ny, nx)`` per pixel."""
        if self.profile is not None:  # exposure per pixel, as for other extended ones
            return self.profile, self.exposure_cut
        if self.reco_psf:
            return self.spline, np.ones(self.pred.e_axis.nbin)
        return self.spline, self.exposure_src

    def _radial_true(self, lon, lat):
        spline, expo = self._radial_profile()
        true = point_true(lon, lat, self.cut, spline, expo)
        for core, (sy, sx) in self.cores:
            inner = point_true(lon, lat, core, spline,
                               expo[:, sy, sx] if expo.ndim == 3 else expo)
            true = _add_box(true, inner, sy, sx)
        return true

    def fitted(self, value_of, flux, weight, bins):
        """``(sum, at)``: the source's counts summed over the fitted bins of its cutout
        (``weight (E, ny, nx)``, None: all) and at the flat indices ``bins`` of its
        ``(E, ny, nx)`` counts: what the statistic needs (:mod:`~.fitted`). A free point
        or round source gives them from one op (:mod:`~skyfit.forward.radialcounts`),
        with no cube; others from :meth:`npred`."""
        if self._radial_op(value_of, flux):
            return self._radial_counts(value_of, flux, weight, bins)
        part = self.npred(value_of, flux)
        return (part.sum() if weight is None else (part * weight).sum()), part.ravel()[bins]

    def _radial_op(self, value_of, flux) -> bool:
        """Whether this source's graph is the op of :mod:`~.radialcounts`: a free point
        or round source, in a PyTensor graph, with the PSF in true energy."""
        radial = self.spatial.is_point or self.profile is not None
        return (self.fixed is None and radial and not self.reco_psf
                and xp(flux, *(value_of(p) for p in self.spatial.parameters)).symbolic)

    def _radial_counts(self, value_of, flux, weight, bins):
        """:meth:`fitted` of a free point or round source as one op; its second
        derivatives through :meth:`_radial_true`."""
        from .radialcounts import SubPixels, radial_counts

        if self._subpixels is None:  # the cutout's and the core boxes', once
            boxes = [(self.cut, (0, 0))]
            boxes += [(core, (sy.start, sx.start)) for core, (sy, sx) in self.cores]
            self._subpixels = SubPixels(boxes, self.cut.shape)
        pars = self.spatial.canonical_values({p.name: value_of(p)
                                              for p in self.spatial.parameters})
        spline, expo = self._radial_profile()

        def reference(lon, lat, flux, bins):
            true = self._radial_true(lon, lat) * flux[:, None, None]
            cube = _tensordot(self.edisp, true, xp(true))
            return (cube.sum() if weight is None else (cube * weight).sum(),
                    cube.ravel()[bins])

        return radial_counts(pars["lon_0"], pars["lat_0"], flux, self._subpixels,
                             spline.of_chord(), expo, self.edisp, weight, bins, reference)

    def _response(self, spatial_values):
        pars = self.spatial.canonical_values(spatial_values)
        if self.spatial.is_point or self.profile is not None:
            true = self._radial_true(pars["lon_0"], pars["lat_0"])
        else:
            density = self._density(pars)
            true = extended_true(density, self.shape_cut, self.exposure_cut,
                                 None if self.reco_psf else self.kernel, into=self.into)
        return true

    def _density(self, pars):
        if hasattr(self.spatial, "evaluate_at"):  # templates: fixed maps, maybe per energy
            energy = self.pred.t_axis.center_in("TeV")
            return self.spatial.evaluate_at(self.shape_cut.lon, self.shape_cut.lat, energy)
        if hasattr(self.spatial, "smoothed"):  # sharp edges: resolve them on the sub-pixels
            pixel = float(self.pred.geom.pixel_scales.min())
            pars = self.spatial.smoothed(pars, 3.0 * pixel / self.shape_cut.k)
        return self.spatial.evaluate(self.shape_cut.lon, self.shape_cut.lat, **pars)

    def npred(self, value_of, flux):
        """Predicted counts in the cutout; ``flux``: the (T,) bin integrals of the
        spectrum (cm-2 s-1), computed for all sources at once by the predictor."""
        if self._radial_op(value_of, flux):  # the op at every bin, pixel by pixel
            (ny, nx), n_e = self.cut.shape, self.pred.e_axis.nbin
            bins = np.arange(n_e * ny * nx).reshape(n_e, ny * nx).T.ravel()
            at = self._radial_counts(value_of, flux, None, bins)[1]
            return at.reshape((ny * nx, n_e)).T.reshape((n_e, ny, nx))
        if self.fixed is not None:
            resp = self.fixed
        else:
            resp = self._response({p.name: value_of(p) for p in self.spatial.parameters})
        m = xp(flux, resp)
        if self.reco_psf:
            return self._npred_reco_psf(flux, resp, m)
        true = resp * flux[:, None, None]
        return _tensordot(self.edisp, true, m)

    def _npred_reco_psf(self, flux, resp, m):
        """PSF in reconstructed energy: flux x exposure -> dispersion -> PSF."""
        if self.spatial.is_point:
            weights = _tensordot(self.edisp, self.exposure_src * flux, m)  # (E,)
            return resp * weights[:, None, None]
        reco = _tensordot(self.edisp, resp * flux[:, None, None], m)
        if self.kernel is None:
            return reco
        from .response import convolve

        return convolve(reco, self.kernel, self.cut.shape)


def _tensordot(edisp, true, m):
    """Apply a (T, E) dispersion matrix along the first axis of ``true``."""
    if edisp is None:
        return true
    if m.symbolic:
        from .matmul import apply_along_first

        return apply_along_first(edisp, true)
    return np.tensordot(edisp, true, axes=([0], [0]))


def _free_margin(reach: float, pixel: float) -> float:
    """How far (deg) a free extended source may move, or grow, during a fit before its
    brightness leaves the box it is sampled in: its own radius, at least 0.3 deg and
    5 pixels."""
    return max(reach, 0.3, 5.0 * pixel)


def _eval_radius(spatial) -> float:
    radius = getattr(spatial, "evaluation_radius", None)
    return float(radius) if radius is not None else 0.0


def _add_box(total, part, sy, sx):
    if xp(total, part).symbolic:
        import pytensor.tensor as pt

        return pt.inc_subtensor(pt.as_tensor_variable(total)[:, sy, sx], part)
    total = np.array(total, copy=True)
    total[:, sy, sx] += part
    return total


MOVE_RADII = 2.0  # the nodes meet the tolerance with the source this far from its start
# (in 68 % radii, the smallest one)
BANDS = (1.0, 2.0, 3.0, 4.0)  # outer edges of the bands of distance from the source (68 %
# radii beyond its size) whose nodes are chosen apart; beyond the last, as in it
CORE_RADII = 4.0  # a free source that moves more than CORE_RADII - 1 radii (to the edge
# of its finest box, which reaches BANDS[0] + MOVE_RADII) is planned again


def _radial_nodes(profile, width, pixel, size=0.0) -> list[int]:
    """Gauss-Legendre nodes per pixel side that keep a radial source's pixels within
    the tolerance (:func:`~skyfit.forward.quadrature.core_nodes`), per band of distance
    from the source: within ``size + width`` deg, then ``size + (1 .. 2) width``, ...
    (see ``BANDS``), the last also beyond (the profile flattens further out).
    ``width``: the PSF's smallest 68 % radius (or a pixel, if wider), ``profile``: the
    PSF, or the round source's profile after it."""
    bands = [(0.0, size + BANDS[0] * width)]
    bands += [(size + a * width, size + b * width) for a, b in itertools.pairwise(BANDS)]
    return core_nodes(profile, pixel, bands)


def _core_boxes(geom, lon0, lat0, frame, cut, nodes, width, size=0.0):
    """Finely sampled boxes around a point source's PSF core (or a round source of
    radius ``size`` deg and its PSF-smoothed edge), each carved out of the one around
    it (the coarse ``cut``, sampled as the last band, first): ``[(box, (sy, sx))]``,
    slices in ``cut``'s pixels.

    ``nodes``: the Gauss-Legendre nodes per pixel side of each band of distance from the
    source (:func:`_radial_nodes`, bands ``width`` deg wide); each band's box reaches
    ``MOVE_RADII`` widths beyond it, so that it serves while the source moves that far.
    The nodes of a box's pixels get zero weight in the box around it: each pixel is
    integrated once, finely where the profile is steep, coarsely in the wings.
    """
    levels = [(size + (edge + MOVE_RADII) * width, k)
              for edge, k in zip(BANDS[:-1], nodes[:-1], strict=True)][::-1]
    boxes, parent = [], cut
    for radius, k in levels:
        if k <= parent.k:
            continue
        box = make_cutout(geom, lon0, lat0, frame, radius, k, within=parent.slices,
                          rule="gauss")
        if box is None:
            continue
        _carve(parent, box)
        boxes.append((box, _relative(box.slices, cut.slices)))
        parent = box
    return boxes


def _relative(inner, outer) -> tuple[slice, slice]:
    """The pixel slices ``inner`` (of the dataset) within the box of slices ``outer``."""
    return tuple(slice(i.start - o.start, i.stop - o.start)
                 for i, o in zip(inner, outer, strict=True))


def _carve(outer, inner) -> None:
    """Zero the weights of ``outer``'s nodes in ``inner``'s pixels."""
    (sy, sx), k = _relative(inner.slices, outer.slices), outer.k
    outer.solid_angle[sy.start * k:sy.stop * k, sx.start * k:sx.stop * k] = 0.0


def _drop_corners(cut, lon0, lat0, radius) -> None:
    """Zero the weights of ``cut``'s nodes more than ``radius`` deg from ``(lon0, lat0)``:
    the box's corners, ~20 % of it, where a radial profile that ends at ``radius`` is zero
    with the source at its start. (A free source that moves by ``d`` then misses there
    what the box's sides already miss: its profile beyond ``radius - d``.)"""
    d2r = np.pi / 180.0
    sep = angular_separation(lon0 * d2r, lat0 * d2r, cut.lon * d2r, cut.lat * d2r) / d2r
    cut.solid_angle[sep > radius] = 0.0


def _oversampling(spatial, pixel: float) -> int:
    """Sub-pixels per pixel side of an extended shape sampled on the pixel grid: enough
    to resolve its edge (disk, shell) or a fifth of its radius (smooth shapes)."""
    scale = getattr(spatial, "sampling_scale", None)  # sharp-edged shapes (disk, shell)
    if scale is None:
        size = _eval_radius(spatial)  # smooth shapes: a fifth of their radius
        scale = size / 5.0 if size > 0 else np.inf
    return int(np.clip(np.ceil(pixel / max(scale, 1e-9)), 1, 8))


def _psf_spline(psf, position, axis, geom):
    """A RadialSpline of the PSF at ``position`` for the centres of ``axis``, and its radius."""
    pixel = float(geom.pixel_scales.min())
    if psf is None:
        # no PSF: a Gaussian of a third of a pixel keeps the likelihood smooth in position
        sigma = pixel / 3.0
        rad = np.linspace(0, 5 * sigma, 200)
        dens = np.exp(-0.5 * (rad / sigma) ** 2) / (2 * np.pi * np.radians(sigma) ** 2)
        values = np.repeat(dens[None], axis.nbin, 0)
        return _spline(rad, values), 5 * sigma
    if not hasattr(psf, "profile_at"):
        raise TypeError(f"unsupported PSF object {type(psf).__name__}: the forward model "
                        "needs a PSF map (PSFMap / RecoPSFMap)")
    from astropy.coordinates import SkyCoord

    if position is None:
        position = geom.center_skydir
    elif not isinstance(position, SkyCoord):
        position = SkyCoord(*position, unit="deg")
    rad, dens = psf.profile_at(position, axis.center * _unit(axis))
    rad = np.asarray(getattr(rad, "value", rad), float)
    dens = np.asarray(dens, float)
    radius = min(_containment_radius(rad, dens, PSF_CONTAINMENT).max(), MAX_PSF_RADIUS, rad[-1])
    radius = max(radius, 2 * pixel)
    return _spline(rad, dens, radius), radius


def _spline(rad, values, radius=None) -> RadialSpline:
    radius = float(rad[-1]) if radius is None else float(radius)
    spline = RadialSpline(rad, values, r_max=radius, nodes=max(200, min(2000, len(rad) * 4)))
    spline.core_radius = float(_containment_radius(rad, values, 0.68).min())
    return spline


def _containment_radius(rad, dens, fraction):
    """Radius (deg) containing ``fraction`` of each profile (small-angle integral)."""
    r = np.radians(rad)
    ring = 2 * np.pi * dens * np.sin(r)
    cum = np.concatenate([np.zeros((dens.shape[0], 1)),
                          np.cumsum(0.5 * (ring[:, 1:] + ring[:, :-1]) * np.diff(r), 1)], 1)
    cum /= np.maximum(cum[:, -1:], 1e-300)
    return np.array([np.interp(fraction, c, rad) for c in cum])


def _edisp_matrix(dataset, position, t_axis, e_axis):
    edisp = dataset.edisp
    if edisp is None:
        if t_axis.is_allclose(e_axis):
            return None
        raise ValueError(
            f"dataset {dataset.name!r} has no energy dispersion but its true-energy axis "
            f"({t_axis.nbin} bins) differs from its reconstructed-energy axis "
            f"({e_axis.nbin} bins): add an EDISP or use matching axes")
    from astropy.coordinates import SkyCoord

    if position is None:
        position = dataset.counts.geom.center_skydir
    elif not isinstance(position, SkyCoord):
        position = SkyCoord(*position, unit="deg")
    kernel = np.asarray(edisp.kernel_at(position, t_axis, e_axis), float)
    if kernel.shape != (t_axis.nbin, e_axis.nbin):
        raise ValueError(f"energy dispersion of dataset {dataset.name!r} has shape "
                         f"{kernel.shape}, expected (true, reco) = ({t_axis.nbin}, {e_axis.nbin})")
    return kernel


def _unit(axis):
    import astropy.units as u

    return u.Unit(axis.unit)
