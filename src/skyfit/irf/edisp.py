"""Energy dispersion: kernel maps (``EDispKernelMap``), migration maps (``EDispMap``), identity.

``kernel_at`` returns ``K[i, j]``, the probability that a photon of true energy in bin ``i``
is reconstructed in reco bin ``j``, at the tabulated sky cell nearest to the position (the
nearest cell holding data, as Gammapy's ``_get_nearest_valid_position``; region tables
apply everywhere).
"""

from __future__ import annotations

import itertools

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.io import fits

from ..maps import Map, MapAxis
from ..maps.io import map_from_hdulist, map_to_hdus
from ._common import axis_scale, interp_along, nearest_cell

__all__ = ["EDispKernelMap", "EDispMap", "identity_kernel"]


def identity_kernel(energy_true_axis: MapAxis, energy_axis: MapAxis) -> np.ndarray:
    """Identity kernel ``[E_true, E_reco]`` for a dataset without energy dispersion.

    Examples
    --------
    >>> ax = MapAxis.from_energy_edges([0.1, 1.0, 10.0])
    >>> identity_kernel(MapAxis.from_energy_edges([100, 1e3, 1e4], "GeV", "energy_true"), ax)
    array([[1., 0.],
           [0., 1.]])
    """
    if not energy_true_axis.is_allclose(energy_axis):
        raise ValueError(
            "no energy dispersion given, so the true-energy axis must equal the reco-energy "
            f"axis: got {energy_true_axis!r} and {energy_axis!r}")
    return np.eye(energy_axis.nbin)


def _regroup(kernel: np.ndarray, stored: MapAxis, wanted: MapAxis) -> np.ndarray:
    """Sum reco columns into ``wanted`` bins when its edges are a subset of the stored ones."""
    edges = stored.edges
    idx = np.array([np.argmin(np.abs(edges - e)) for e in wanted.edges_in(stored.unit)])
    if not np.allclose(edges[idx], wanted.edges_in(stored.unit), rtol=1e-6):
        raise ValueError(f"reco-energy axis {wanted!r} does not match the stored EDISP reco "
                         f"axis {stored!r} (nor groups its bins)")
    return np.stack([kernel[:, a:b].sum(axis=1) for a, b in itertools.pairwise(idx)],
                    axis=1)


class EDispKernelMap:
    """Energy-dispersion kernels (``energy_true`` x ``energy``) per coarse sky cell or region.

    Parameters
    ----------
    edisp_map : Map
        Data of shape ``(n_true, n_reco, ny, nx)``, axes ``[energy, energy_true]``.
    exposure_map : Map or None
        The EDISP exposure (kept for writing).

    Examples
    --------
    >>> from skyfit.maps.region import RegionGeom
    >>> reco = MapAxis.from_energy_edges([0.1, 1.0, 10.0])
    >>> true = MapAxis.from_energy_edges([0.1, 1.0, 10.0], name="energy_true")
    >>> edisp = EDispKernelMap(Map(RegionGeom([reco, true]), np.eye(2)[..., None, None]))
    >>> edisp.kernel_at(None).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """

    hdu = "EDISP"

    def __init__(self, edisp_map: Map, exposure_map: Map | None = None) -> None:
        names = [ax.name for ax in edisp_map.geom.axes]
        if names != ["energy", "energy_true"]:
            raise ValueError(f"EDispKernelMap needs axes ['energy', 'energy_true'], got {names}")
        self.edisp_map = edisp_map
        self.exposure_map = exposure_map

    @property
    def energy_axis(self) -> MapAxis:
        return self.edisp_map.geom.axis("energy")

    @property
    def energy_true_axis(self) -> MapAxis:
        return self.edisp_map.geom.axis("energy_true")

    def kernel_at(self, position: SkyCoord | None, energy_true_axis: MapAxis | None = None,
                  energy_axis: MapAxis | None = None) -> np.ndarray:
        """Kernel ``[E_true, E_reco]`` (float64) of the nearest valid cell.

        A requested true axis must equal the stored one; a requested reco axis must equal
        it or group its bins (columns are then summed). Anything else raises ValueError.
        """
        iy, ix = nearest_cell(self.edisp_map, position)
        kernel = np.asarray(self.edisp_map.data[..., iy, ix], float)
        if energy_true_axis is not None and not energy_true_axis.is_allclose(
                self.energy_true_axis):
            raise ValueError(f"true-energy axis {energy_true_axis!r} differs from the stored "
                             f"EDISP kernel axis {self.energy_true_axis!r}; no resampling")
        if energy_axis is not None and not energy_axis.is_allclose(self.energy_axis):
            kernel = _regroup(kernel, self.energy_axis, energy_axis)
        return kernel

    @classmethod
    def from_hdulist(cls, hdulist: fits.HDUList, hdu: str = "EDISP",
                     exposure_hdu: str = "EDISP_EXPOSURE", filename=None):
        """Read an ``EDISP`` HDU: a kernel map, or an :class:`EDispMap` for a migra axis."""
        irf = map_from_hdulist(hdulist, hdu, filename=filename)
        exposure = (map_from_hdulist(hdulist, exposure_hdu, filename=filename)
                    if exposure_hdu.upper() in hdulist else None)
        names = [ax.name for ax in irf.geom.axes]
        return (EDispMap if "migra" in names else EDispKernelMap)(irf, exposure)

    def to_hdus(self) -> list:
        hdus = map_to_hdus(self.edisp_map, self.hdu)
        if self.exposure_map is not None:
            hdus += map_to_hdus(self.exposure_map, f"{self.hdu}_EXPOSURE")
        return hdus

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.edisp_map!r})"


class EDispMap(EDispKernelMap):
    """Migration pdf (``migra = E_reco / E_true``) per true energy and sky cell.

    Parameters
    ----------
    edisp_map : Map
        Data of shape ``(n_true, n_migra, ny, nx)``, axes ``[migra, energy_true]``, a density
        in ``migra`` (dimensionless).
    exposure_map : Map or None
        The EDISP exposure (kept for writing).

    Examples
    --------
    >>> from skyfit.maps.region import RegionGeom
    >>> migra = MapAxis(np.linspace(0.5, 1.5, 11), name="migra", unit="", interp="lin")
    >>> true = MapAxis.from_energy_edges([0.1, 1.0, 10.0], name="energy_true")
    >>> pdf = np.ones((2, 10, 1, 1))
    >>> edisp = EDispMap(Map(RegionGeom([migra, true]), pdf))
    >>> k = edisp.kernel_at(None, true, MapAxis.from_energy_edges([0.01, 1.0, 100.0]))
    >>> k.sum(axis=1).round(6).tolist()
    [1.0, 1.0]
    """

    def __init__(self, edisp_map: Map, exposure_map: Map | None = None) -> None:
        names = [ax.name for ax in edisp_map.geom.axes]
        if names != ["migra", "energy_true"]:
            raise ValueError(f"EDispMap needs axes ['migra', 'energy_true'], got {names}")
        self.edisp_map = edisp_map
        self.exposure_map = exposure_map

    @property
    def migra_axis(self) -> MapAxis:
        return self.edisp_map.geom.axis("migra")

    def kernel_at(self, position: SkyCoord | None, energy_true_axis: MapAxis | None = None,
                  energy_axis: MapAxis | None = None, threshold: float = 1e-8) -> np.ndarray:
        """Kernel ``[E_true, E_reco]``: the migration pdf integrated over each reco bin.

        As Gammapy's ``EDispMap.get_edisp_kernel``: the cumulative integral of the pdf over
        the migra bins is interpolated (linearly in the migra axis scale, constant beyond
        its ends) at ``E_reco_edge / E_true_centre`` and differenced; values below
        ``threshold`` are set to 0. For true energies other than the tabulated ones the pdf
        is first interpolated linearly in log true energy (Gammapy only evaluates at its
        own true axis). ``energy_axis`` is required.
        """
        if energy_axis is None:
            raise ValueError("EDispMap.kernel_at needs the reco-energy axis (energy_axis)")
        iy, ix = nearest_cell(self.edisp_map, position)
        pdf = np.asarray(self.edisp_map.data[..., iy, ix], float)
        stored = self.edisp_map.geom.axis("energy_true")
        true_axis = stored if energy_true_axis is None else energy_true_axis
        e_true = u.Quantity(true_axis.center, true_axis.unit)
        if true_axis is not stored and not true_axis.is_allclose(stored):
            pdf = interp_along(pdf, stored, e_true)
        migra = self.migra_axis
        cum = np.concatenate([np.zeros((len(pdf), 1)),
                              np.cumsum(pdf * np.diff(migra.edges), axis=1)], axis=1)
        e_reco = energy_axis.edges_in(true_axis.unit)
        m = (e_reco[None, :] / e_true.value[:, None]) * u.Unit("").to(migra.unit)
        x = axis_scale(migra.edges, migra.interp)
        t = axis_scale(m, migra.interp)
        values = np.array([np.interp(t[i], x, cum[i]) for i in range(len(cum))])
        kernel = np.clip(np.diff(values, axis=1), 0, None)
        kernel[kernel < threshold] = 0.0
        return kernel
