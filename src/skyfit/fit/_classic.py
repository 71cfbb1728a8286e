"""Inputs of the classic ``MapFit(model, counts, exposure, ...)`` turned into a MapDataset.

The classic API passes a PSF *kernel* (an image per energy on the pixel grid) and an
energy-dispersion matrix; the forward model wants a PSF profile (``profile_at``) and a
dispersion kernel (``kernel_at``). Two small adapters bridge them.
"""

from __future__ import annotations

import astropy.units as u
import numpy as np

__all__ = ["KernelPSF", "MatrixEDisp", "dataset_from_maps"]


class KernelPSF:
    """A :class:`~skyfit.irf.PSFKernel` seen as a radial PSF profile (``profile_at``).

    The kernel pixels are averaged in rings of half a pixel around the kernel centre and
    divided by the pixel solid angle. The kernel is pixel-integrated, so for a PSF
    narrower than about two pixels the profile core is smoothed by one pixel; the
    forward model integrates the profile over pixels again.

    Examples
    --------
    >>> from skyfit.irf import PSFKernel
    >>> from skyfit.maps import Map, MapAxis, WcsGeom
    >>> axis = MapAxis.from_energy_edges([0.1, 1.0], name="energy_true")
    >>> geom = WcsGeom.create((0, 0), binsz=0.02, npix=(21, 21), axes=[axis])
    >>> y, x = np.mgrid[-10:11, -10:11] * 0.02
    >>> kernel = PSFKernel(Map(geom, np.exp(-0.5 * (x**2 + y**2) / 0.05**2)[None]))
    >>> rad, dens = KernelPSF(kernel).profile_at(None, [0.3] * u.TeV)
    >>> dens.shape[0], bool(dens[0, 0] > dens[0, 10] > 0)
    (1, True)
    """

    is_reco = False

    def __init__(self, kernel) -> None:
        data = np.asarray(kernel.data, float)
        if data.ndim != 3 or data.shape[1] % 2 == 0 or data.shape[2] % 2 == 0:
            raise ValueError(f"PSF kernel must be (energy, ky, kx) with odd sizes, got "
                             f"{data.shape}")
        geom = kernel.geom
        binsz = float(np.max(geom.pixel_scales))
        ny, nx = data.shape[1:]
        iy, ix = np.mgrid[:ny, :nx]
        r_pix = np.hypot(iy - ny // 2, ix - nx // 2)
        ring = np.floor(r_pix * 2 + 0.5).astype(int)  # rings of half a pixel
        nring = ring.max() + 1
        counts = np.bincount(ring.ravel(), minlength=nring)
        keep = counts > 0
        self.rad = (np.bincount(ring.ravel(), r_pix.ravel(), nring)[keep] / counts[keep]) * binsz
        solid = np.radians(binsz) ** 2
        self.density = np.array([np.bincount(ring.ravel(), plane.ravel(), nring)[keep]
                                 / counts[keep] / solid for plane in data])
        self.energy = np.asarray(geom.axes[0].center_in("TeV"), float)

    def profile_at(self, position, energy):
        """``(rad [deg], density [E, R] in sr-1)``, the kernel plane nearest in log energy."""
        energy = np.atleast_1d(u.Quantity(energy, "TeV").to_value("TeV"))
        index = np.abs(np.log(energy)[:, None] - np.log(self.energy)[None, :]).argmin(axis=1)
        return self.rad * u.deg, self.density[index]


class MatrixEDisp:
    """A fixed ``(n_true, n_reco)`` energy-dispersion matrix (``kernel_at``).

    Examples
    --------
    >>> MatrixEDisp(np.eye(3)).kernel_at(None, None, None).shape
    (3, 3)
    """

    def __init__(self, matrix) -> None:
        self.matrix = np.asarray(matrix, float)
        if self.matrix.ndim != 2:
            raise ValueError(f"energy dispersion matrix must be 2-D, got {self.matrix.shape}")

    def kernel_at(self, position, energy_true_axis, energy_axis) -> np.ndarray:
        return self.matrix


def dataset_from_maps(model, counts, exposure, background=None, mask=None, psf=None,
                      edisp=None, background_model=None, name: str | None = None):
    """``(MapDataset, Models)`` from the classic ``MapFit`` arguments.

    ``model``: SkyModel, list of SkyModel or Models; ``mask``: Map of 0/1 or bool (the
    fit mask); ``psf``: PSFKernel, or any PSF with ``profile_at`` (PSFMap, AnalyticPSF);
    ``edisp``: 2-D array, or any dispersion with ``kernel_at`` (EDispKernelMap);
    ``background_model``: a FoVBackgroundModel scaling ``background`` (then the dataset
    is named after it). Without ``background_model`` the background map is fixed.

    Examples
    --------
    >>> from skyfit.datasets.synthetic import synthetic_dataset
    >>> from skyfit.models import FoVBackgroundModel, SkyModel
    >>> from skyfit.models.spatial import PointSpatialModel
    >>> from skyfit.models.spectral import PowerLawSpectralModel
    >>> maps = synthetic_dataset(npix=(8, 8))
    >>> src = SkyModel(PointSpatialModel(frame="galactic"), PowerLawSpectralModel(), name="src")
    >>> dataset, models = dataset_from_maps(src, maps.counts, maps.exposure, maps.background,
    ...                                     psf=maps.psf, edisp=np.eye(12, 6),
    ...                                     background_model=FoVBackgroundModel("obs"))
    >>> dataset
    MapDataset(name='obs', counts=(6, 8, 8), psf=AnalyticPSF, edisp=MatrixEDisp)
    >>> models.names
    ['src', 'obs-bkg']
    """
    from ..datasets import MapDataset
    from ..irf import PSFKernel
    from ..maps import Map
    from ..models import FoVBackgroundModel, Models

    if background_model is not None:
        if not isinstance(background_model, FoVBackgroundModel):
            raise TypeError("background_model must be a FoVBackgroundModel, got "
                            f"{type(background_model).__name__}")
        if background is None:
            raise ValueError("background_model scales the background map: pass background")
        if name is not None and name != background_model.dataset_name:
            raise ValueError(f"name {name!r} differs from the background model's dataset "
                             f"{background_model.dataset_name!r}")
        name = background_model.dataset_name
    if isinstance(psf, PSFKernel):
        psf = KernelPSF(psf)
    elif psf is not None and not hasattr(psf, "profile_at"):
        raise TypeError(f"psf must be a PSFKernel or a PSF map, got {type(psf).__name__}")
    if edisp is not None and not hasattr(edisp, "kernel_at"):
        edisp = MatrixEDisp(edisp)
    if mask is not None and not isinstance(mask, Map):
        raise TypeError(f"mask must be a Map on the counts geometry, got {type(mask).__name__}")
    dataset = MapDataset(counts=counts, exposure=exposure, background=background, psf=psf,
                         edisp=edisp, mask_fit=mask, name=name or "dataset")
    if isinstance(model, Models):
        models = model
    else:
        models = Models(list(model) if isinstance(model, list | tuple) else [model])
    if background_model is not None and background_model not in models:
        models = Models([*models, background_model], priors=models.priors)
    return dataset, models
