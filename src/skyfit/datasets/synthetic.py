"""A built-in synthetic instrument: complete datasets of any size, in memory, no download.

Analytic instrument response:

* effective area :math:`A(E) = A_0 (E / 1\\,\\mathrm{TeV})^{a}\\, \\exp(-E_{th}/E)`, times a
  livetime and a smooth Gaussian fall-off with offset from the map centre (a pointed
  instrument's field of view, ``fov``; none for a survey);
* PSF: Gaussian (or King) with :math:`\\sigma(E) = \\max(\\sigma_0 (E/E_0)^{-1/2},
  \\sigma_{min})`;
* energy dispersion: Gaussian in :math:`\\ln E` with relative resolution ``resolution``;
* background: a power law in energy with a gentle spatial gradient, and the same
  fall-off.
"""

from __future__ import annotations

import numpy as np
from astropy.coordinates import SkyCoord
from scipy.special import ndtr

from ..maps import Map, MapAxis, WcsGeom

__all__ = ["AnalyticEDisp", "AnalyticPSF", "synthetic_dataset"]


class AnalyticPSF:
    """Radially symmetric PSF with an energy-dependent width, the same at every position.

    Parameters
    ----------
    sigma_0 : float
        Width (deg) at ``energy_0`` TeV; scales as ``E**-0.5`` down to ``sigma_min``.
    kind : {"gauss", "king"}
        Gaussian, or King profile with tail index ``gamma``.

    Examples
    --------
    >>> psf = AnalyticPSF(sigma_0=0.1)
    >>> rad, dens = psf.profile_at(None, [0.1, 1.0])
    >>> dens.shape[0], bool(dens[0, 0] < dens[1, 0])
    (2, True)
    """

    is_reco = False

    def __init__(self, sigma_0: float = 0.1, energy_0: float = 1.0, sigma_min: float = 0.02,
                 kind: str = "gauss", gamma: float = 2.5) -> None:
        if kind not in ("gauss", "king"):
            raise ValueError(f"PSF kind must be 'gauss' or 'king', got {kind!r}")
        self.sigma_0, self.energy_0, self.sigma_min = sigma_0, energy_0, sigma_min
        self.kind, self.gamma = kind, gamma

    def sigma(self, energy) -> np.ndarray:
        energy = np.asarray(getattr(energy, "value", energy), float)
        if hasattr(energy, "unit"):
            energy = energy.to_value("TeV")
        return np.maximum(self.sigma_0 * (energy / self.energy_0) ** -0.5, self.sigma_min)

    def profile_at(self, position, energy):
        """Profiles on a radius grid: ``(rad [deg], density [E, R] in sr-1)``."""
        import astropy.units as u

        energy = u.Quantity(energy, "TeV").to_value("TeV")
        sigma = self.sigma(energy)[:, None]
        rad = np.linspace(0, 8 * sigma.max() if self.kind == "gauss" else 30 * sigma.max(), 801)
        s = np.radians(sigma)
        r = np.radians(rad)[None, :]
        if self.kind == "gauss":
            dens = np.exp(-0.5 * (r / s) ** 2) / (2 * np.pi * s**2)
        else:
            g = self.gamma
            dens = (1 - 1 / g) / (2 * np.pi * s**2) * (1 + r**2 / (2 * g * s**2)) ** -g
        return rad * u.deg, dens


class AnalyticEDisp:
    """Gaussian energy dispersion in ``ln E`` with relative width ``resolution``.

    Examples
    --------
    >>> t = MapAxis.from_energy_edges(np.geomspace(0.1, 10, 9), name="energy_true")
    >>> e = MapAxis.from_energy_edges(np.geomspace(0.1, 10, 5))
    >>> AnalyticEDisp(0.1).kernel_at(None, t, e).shape
    (8, 4)
    """

    def __init__(self, resolution: float = 0.1, bias: float = 0.0) -> None:
        self.resolution, self.bias = resolution, bias

    def kernel_at(self, position, energy_true_axis: MapAxis, energy_axis: MapAxis) -> np.ndarray:
        log_true = np.log(energy_true_axis.center_in("TeV"))[:, None] + self.bias
        log_edges = np.log(energy_axis.edges_in("TeV"))[None, :]
        cdf = ndtr((log_edges - log_true) / self.resolution)
        return np.diff(cdf, axis=1)


def synthetic_dataset(npix: tuple[int, int] = (80, 80), binsz: float = 0.05,
                      energy_edges=None, energy_true_edges=None,
                      skydir: tuple[float, float] = (0.0, 0.0), frame: str = "galactic",
                      livetime: float = 1e6, aeff: float = 1e9, aeff_index: float = 0.3,
                      psf: AnalyticPSF | None = None, edisp: AnalyticEDisp | None = None,
                      background_rate: float = 2e-4, background_index: float = 2.7,
                      fov: float | None = 3.0, name: str = "synthetic"):
    """A complete :class:`MapDataset` from the synthetic instrument, counts set to background.

    Parameters
    ----------
    npix, binsz, skydir, frame
        Sky grid: ``npix = (nx, ny)`` pixels of ``binsz`` deg centred on ``skydir``.
    energy_edges, energy_true_edges : array (TeV)
        Reconstructed and true energy bin edges (defaults: 6 bins 0.1-10 TeV, and 12
        true-energy bins 0.05-20 TeV).
    livetime, aeff, aeff_index
        Exposure ``aeff * (E/1 TeV)**aeff_index * livetime`` in cm2 s at the centre.
    psf, edisp
        Analytic PSF and dispersion (defaults: Gaussian 0.1 deg at 1 TeV, 10 % resolution).
    background_rate, background_index
        Background counts per pixel per unit ln E at 1 TeV at the centre, and its index.
    fov : float or None
        Exposure and background fall off with the offset from the map centre as a
        Gaussian of this sigma (deg), a pointed instrument's field of view; None: the
        same everywhere, a survey's (a map's counts then grow with its pixels).

    Examples
    --------
    >>> ds = synthetic_dataset(npix=(20, 10))
    >>> ds.counts.data.shape
    (6, 10, 20)
    >>> survey = synthetic_dataset(npix=(20, 10), fov=None)
    >>> bool(np.ptp(survey.exposure.data[0]) == 0)
    True
    """
    from .mapdataset import MapDataset

    e_edges = np.geomspace(0.1, 10, 7) if energy_edges is None else np.asarray(energy_edges)
    t_edges = (np.geomspace(0.05, 20, 13) if energy_true_edges is None
               else np.asarray(energy_true_edges))
    e_axis = MapAxis.from_energy_edges(e_edges, name="energy")
    t_axis = MapAxis.from_energy_edges(t_edges, name="energy_true")
    geom = WcsGeom.create(skydir, frame=frame, binsz=binsz, npix=npix, axes=[e_axis])
    geom_true = geom.with_axes([t_axis])

    lon, lat = geom.get_coord()
    centre = SkyCoord(*skydir, unit="deg", frame=frame)
    offset = SkyCoord(lon, lat, unit="deg", frame=frame).separation(centre).deg
    falloff = np.ones_like(offset) if fov is None else np.exp(-0.5 * (offset / fov) ** 2)
    e_true = t_axis.center
    area = aeff * (e_true) ** aeff_index * np.exp(-0.03 / e_true)
    exposure = area[:, None, None] * livetime * falloff[None]

    e_reco = e_axis.center
    dlne = np.diff(np.log(e_edges))
    gradient = 1 + 0.1 * (lon - lon.mean()) / max(np.ptp(lon), 1e-9)
    bkg = (background_rate * e_reco ** (1 - background_index) * dlne)[:, None, None] \
        * (falloff * gradient)[None]

    return MapDataset(
        counts=Map(geom, np.zeros(geom.data_shape)),
        exposure=Map(geom_true, exposure, "cm2 s"),
        background=Map(geom, bkg),
        psf=psf if psf is not None else AnalyticPSF(),
        edisp=edisp if edisp is not None else AnalyticEDisp(),
        name=name,
    )
