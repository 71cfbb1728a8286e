"""Point-spread function maps (Gammapy's ``PSFMap`` / ``RecoPSFMap``) and PSF kernels.

Evaluation rules (what the forward model relies on):

* position: the tabulated sky cell nearest to the requested position that holds data
  (Gammapy 2.1 interpolates bilinearly between cells, but its PSF maps are coarse,
  e.g. an all-sky 2 x 1 grid with identical cells, so the two agree in practice);
  region ("single-position") tables apply everywhere.
* energy: linear in density between the tabulated energies, in log energy, linearly
  extrapolated outside them and clipped at 0 -- as Gammapy's
  ``psf_map.interp_by_coord(method="linear")``.
* normalisation: each profile is rescaled so that the trapezoid rule of
  ``2 pi sin(r) density(r)`` over the tabulated rad nodes gives 1. Gammapy instead
  integrates ``2 pi r density(r) dr`` with bin widths of the rad axis (midpoint rule, flat
  sky) and does not renormalise when it evaluates the PSF; the difference is ~1e-3.
"""

from __future__ import annotations

from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.io import fits

from ..maps import Map, MapAxis, WcsGeom
from ..maps.geom import _unit_vectors
from ..maps.io import map_from_hdulist, map_to_hdus
from ._common import interp_along, nearest_cell

__all__ = ["PSFKernel", "PSFMap", "RecoPSFMap"]

PSF_MAX_OVERSAMPLING = 4


class PSFMap:
    """PSF density (sr-1) tabulated in ``energy_true`` x ``rad`` per coarse sky cell.

    Parameters
    ----------
    psf_map : Map
        Data of shape ``(n_energy, n_rad, ny, nx)``, axes ``[rad, energy_true]``, unit sr-1.
    exposure_map : Map or None
        The PSF exposure (kept for writing; not used for evaluation).

    Examples
    --------
    >>> import astropy.units as u
    >>> from skyfit.maps.region import RegionGeom
    >>> rad = MapAxis.from_nodes(np.linspace(0, 1, 101), unit="deg", name="rad", interp="lin")
    >>> energy = MapAxis.from_nodes([10.0, 100.0], unit="GeV", name="energy_true")
    >>> sigma = np.radians(0.1)
    >>> dens = np.exp(-0.5 * (np.radians(rad.center) / sigma) ** 2) / (2 * np.pi * sigma**2)
    >>> psf = PSFMap(Map(RegionGeom([rad, energy]), np.tile(dens, (2, 1))[..., None, None],
    ...                  "sr-1"))
    >>> r, d = psf.profile_at(None, [20.0, 50.0] * u.GeV)
    >>> d.shape, round(float(psf.containment_radius(0.68, energy=30 * u.GeV)[0].value), 3)
    ((2, 101), 0.151)
    """

    is_reco = False
    energy_name = "energy_true"
    hdu = "PSF"

    def __init__(self, psf_map: Map, exposure_map: Map | None = None) -> None:
        names = [ax.name for ax in psf_map.geom.axes]
        if "rad" not in names or self.energy_name not in names:
            raise ValueError(f"{type(self).__name__} needs axes 'rad' and {self.energy_name!r}, "
                             f"got {names}")
        if names.index("rad") != 0:
            raise ValueError(f"{type(self).__name__}: axis 'rad' must come first, got {names}")
        psf_map.unit.to("sr-1")
        self.psf_map = psf_map
        self.exposure_map = exposure_map

    @property
    def rad_axis(self) -> MapAxis:
        return self.psf_map.geom.axis("rad")

    @property
    def energy_axis(self) -> MapAxis:
        return self.psf_map.geom.axis(self.energy_name)

    # -- evaluation ----------------------------------------------------------------------
    def table_at(self, position: SkyCoord | None) -> np.ndarray:
        """The tabulated densities (sr-1) ``[n_energy_nodes, n_rad]`` of the nearest cell."""
        iy, ix = nearest_cell(self.psf_map, position)
        return np.asarray(self.psf_map.data[..., iy, ix], float) * self.psf_map.unit.to("sr-1")

    def profile_at(self, position: SkyCoord | None, energy: u.Quantity
                   ) -> tuple[u.Quantity, np.ndarray]:
        """Normalised radial profile at ``position`` for each energy.

        Returns
        -------
        rad : Quantity
            The tabulated rad nodes ``[R]``, in deg.
        density : ndarray
            ``[E, R]`` in sr-1, linear in density between tabulated energies (log energy),
            clipped at 0 and rescaled so that ``2 pi int density(r) sin(r) dr = 1``
            (trapezoid over the nodes).
        """
        energy = np.atleast_1d(u.Quantity(energy))
        dens = np.clip(interp_along(self.table_at(position), self.energy_axis, energy), 0, None)
        rad = self.rad_axis.center_in("rad")
        norm = np.trapezoid(2 * np.pi * np.sin(rad) * dens, rad, axis=-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            dens = np.where(norm[:, None] > 0, dens / norm[:, None], 0.0)
        return u.Quantity(np.degrees(rad), "deg"), dens

    def containment(self, rad: u.Quantity, energy: u.Quantity,
                    position: SkyCoord | None = None) -> np.ndarray:
        """Fraction ``[E, len(rad)]`` of the normalised profile within each radius."""
        r_nodes, dens = self.profile_at(position, energy)
        fine, cum = _cumulative(r_nodes.to_value("rad"), dens)
        r = np.atleast_1d(u.Quantity(rad).to_value("rad"))
        return np.array([np.interp(r, fine, c) for c in cum])

    def containment_radius(self, fraction: float, position: SkyCoord | None = None,
                           energy: u.Quantity | None = None) -> u.Quantity:
        """Radius (deg) ``[E]`` containing ``fraction`` of the PSF (default energies: nodes)."""
        if energy is None:
            energy = u.Quantity(self.energy_axis.center, self.energy_axis.unit)
        r_nodes, dens = self.profile_at(position, energy)
        fine, cum = _cumulative(r_nodes.to_value("rad"), dens)
        out = np.empty(len(cum))
        for k, c in enumerate(cum):
            i = min(int(np.searchsorted(c, fraction)), c.size - 1)
            if i == 0:
                out[k] = fine[0]
            else:
                w = (fraction - c[i - 1]) / (c[i] - c[i - 1]) if c[i] > c[i - 1] else 1.0
                out[k] = fine[i - 1] + w * (fine[i] - fine[i - 1])
        return u.Quantity(np.degrees(out), "deg")

    # -- I/O -----------------------------------------------------------------------------
    @classmethod
    def from_hdulist(cls, hdulist: fits.HDUList, hdu: str = "PSF",
                     exposure_hdu: str = "PSF_EXPOSURE", filename=None) -> PSFMap:
        """Read a ``PSF`` (+ ``PSF_EXPOSURE``) HDU; a reco-energy table gives RecoPSFMap."""
        psf_map = map_from_hdulist(hdulist, hdu, filename=filename)
        exposure = (map_from_hdulist(hdulist, exposure_hdu, filename=filename)
                    if exposure_hdu.upper() in hdulist else None)
        names = [ax.name for ax in psf_map.geom.axes]
        out_cls = RecoPSFMap if "energy" in names else PSFMap
        return out_cls(psf_map, exposure)

    def to_hdus(self) -> list:
        hdus = map_to_hdus(self.psf_map, self.hdu)
        if self.exposure_map is not None:
            hdus += map_to_hdus(self.exposure_map, f"{self.hdu}_EXPOSURE")
        return hdus

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.psf_map!r})"


class RecoPSFMap(PSFMap):
    """PSF tabulated in reconstructed energy (Gammapy's ``RecoPSFMap``; axes ``rad, energy``).

    Examples
    --------
    >>> RecoPSFMap.is_reco, RecoPSFMap.energy_name
    (True, 'energy')
    """

    is_reco = True
    energy_name = "energy"


def _cumulative(rad: np.ndarray, dens: np.ndarray, factor: int = 20):
    """Containment on a rad grid ``factor`` times finer (linear density between nodes)."""
    fine = np.interp(np.arange((rad.size - 1) * factor + 1) / factor,
                     np.arange(rad.size), rad)
    d = np.array([np.interp(fine, rad, row) for row in dens])
    f = 2 * np.pi * np.sin(fine) * d
    steps = 0.5 * (f[:, 1:] + f[:, :-1]) * np.diff(fine)
    cum = np.concatenate([np.zeros((len(d), 1)), np.cumsum(steps, axis=1)], axis=1)
    return fine, cum


def _odd(x: float) -> int:
    n = int(np.ceil(x - 1e-9))
    return n + 1 - n % 2


class PSFKernel:
    """PSF kernels ``(E, ky, kx)`` on a dataset's pixel grid, each plane summing to 1.

    Parameters
    ----------
    kernel_map : Map
        Kernel data on an odd-sized :class:`WcsGeom` centred on its middle pixel.
    normalize : bool
        Rescale each energy plane to sum 1 (planes that are all zero stay zero).

    Examples
    --------
    >>> import astropy.units as u
    >>> from skyfit.maps.region import RegionGeom
    >>> rad = MapAxis.from_nodes(np.linspace(0, 1, 101), unit="deg", name="rad", interp="lin")
    >>> energy = MapAxis.from_nodes([10.0, 100.0], unit="GeV", name="energy_true")
    >>> dens = np.exp(-0.5 * (rad.center / 0.1) ** 2)
    >>> psf = PSFMap(Map(RegionGeom([rad, energy]), np.tile(dens, (2, 1))[..., None, None],
    ...                  "sr-1"))
    >>> geom = WcsGeom.create((0, 0), binsz=0.05, npix=(20, 20),
    ...     axes=[MapAxis.from_energy_edges([0.01, 0.1], name="energy_true")])
    >>> kernel = PSFKernel.from_psf_map(psf, geom, max_radius=0.3 * u.deg)
    >>> kernel.data.shape, round(float(kernel.data.sum()), 6)
    ((1, 13, 13), 1.0)
    """

    def __init__(self, kernel_map: Map, normalize: bool = True) -> None:
        self.kernel_map = kernel_map
        if normalize:
            data = np.asarray(kernel_map.data, float)
            sums = data.sum(axis=(-2, -1), keepdims=True)
            with np.errstate(invalid="ignore", divide="ignore"):
                kernel_map.data = np.where(sums > 0, data / sums, 0.0)

    @property
    def data(self) -> np.ndarray:
        return self.kernel_map.data

    @property
    def geom(self) -> WcsGeom:
        return self.kernel_map.geom

    @classmethod
    def from_psf_map(cls, psf_map: PSFMap, geom: WcsGeom, position: SkyCoord | None = None,
                     max_radius: u.Quantity | None = None, containment: float = 0.999,
                     precision_factor: int = 12) -> PSFKernel:
        """Kernel of ``psf_map`` at ``position`` on the pixel size of ``geom``.

        As Gammapy's ``PSFMap.get_psf_kernel``: a square odd-sized grid of the largest
        pixel size of ``geom``, centred on the geometry centre with its projection; plane
        ``i`` (energy centre ``i`` of ``geom``'s energy axis) is non-zero within the square
        of half width ``min(r_containment(E_i), max_radius)``; the density is evaluated
        (linear in rad between nodes, 0 beyond the last node) at the centres of
        ``f_i x f_i`` sub-pixels, ``f_i = min(ceil(precision_factor * binsz / (2 r68)), 4)``,
        summed per pixel, and each plane normalised to 1. ``max_radius`` defaults to the
        largest containment radius.
        """
        energy_axis = geom.axis(psf_map.energy_name)
        energy = u.Quantity(energy_axis.center, energy_axis.unit)
        radii = psf_map.containment_radius(containment, position, energy).to_value("deg")
        rmax = float(radii.max()) if max_radius is None else u.Quantity(max_radius).to_value("deg")
        radii = np.minimum(radii, rmax)
        r68 = psf_map.containment_radius(0.68, position, energy).to_value("deg")
        binsz = float(np.max(geom.pixel_scales))
        n = _odd(2 * rmax / binsz)
        proj = geom.wcs.wcs.ctype[0][5:] or "CAR"
        centre = geom.center_skydir
        lon, lat = centre.spherical.lon.deg, centre.spherical.lat.deg
        kgeom = WcsGeom.create((lon, lat), frame=geom.frame, binsz=binsz, npix=(n, n),
                               proj=proj, axes=[energy_axis])
        rad_nodes, dens = psf_map.profile_at(position, energy)
        rad_nodes = rad_nodes.to_value("deg")
        data = np.zeros(kgeom.data_shape)
        c0 = _unit_vectors(np.array(lon), np.array(lat))
        for i in range(energy_axis.nbin):
            m = min(_odd(2 * radii[i] / binsz), n)
            f = 1
            if r68[i] > 0:
                f = int(min(np.ceil(precision_factor * binsz / (2 * r68[i])), PSF_MAX_OVERSAMPLING))
            sub = (np.arange(m * f) + 0.5) / f - 0.5 + (n - m) // 2
            x, y = np.meshgrid(sub, sub)
            slon, slat = kgeom.wcs.wcs_pix2world(x, y, 0)
            cosd = np.clip(_unit_vectors(slon, slat) @ c0, -1, 1)
            sep = np.degrees(np.arccos(cosd))
            val = np.interp(sep, rad_nodes, dens[i], right=0.0)
            block = val.reshape(m, f, m, f).sum(axis=(1, 3))
            lo = (n - m) // 2
            data[i, lo:lo + m, lo:lo + m] = block
        return cls(Map(kgeom, data, ""))

    # -- I/O (a plain map file, as Gammapy's PSFKernel.read / write) ---------------------
    @classmethod
    def read(cls, path, hdu: str = "PSF_KERNEL") -> PSFKernel:
        with fits.open(path, memmap=False) as hdulist:
            return cls(map_from_hdulist(hdulist, hdu, filename=path), normalize=False)

    def write(self, path, hdu: str = "PSF_KERNEL", overwrite: bool = False) -> None:
        """Write as a Gammapy map file (readable with ``gammapy.irf.PSFKernel.read``)."""
        path = Path(path)
        if path.exists() and not overwrite:
            raise FileExistsError(f"{path} exists (use overwrite=True)")
        fits.HDUList([fits.PrimaryHDU(), *map_to_hdus(self.kernel_map, hdu)]).writeto(
            path, overwrite=overwrite)

    def __repr__(self) -> str:
        return f"PSFKernel(shape={self.data.shape})"
