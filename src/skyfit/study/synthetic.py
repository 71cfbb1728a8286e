"""The simulated setup of the coverage and TS studies: one point source on the synthetic
instrument (:func:`skyfit.datasets.synthetic.synthetic_dataset`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SyntheticSource", "replication_rng"]


def replication_rng(seed: int, replication: int) -> np.random.Generator:
    """The random generator of one replication: a function of ``(seed, replication)`` only.

    Replications can thus run in any order, on any process, and be re-run, with the same
    counts (streams of different replications are independent, by ``SeedSequence``).

    Examples
    --------
    >>> a = replication_rng(1, 7).poisson(5.0, size=3)
    >>> bool((a == replication_rng(1, 7).poisson(5.0, size=3)).all())
    True
    """
    return np.random.default_rng([int(seed), int(replication)])


@dataclass(frozen=True)
class SyntheticSource:
    """A point source with a power-law spectrum over a fitted background norm.

    The dataset is ``synthetic_dataset(npix, binsz, background_rate=..., name="sim")``;
    the models are ``"src"`` (point source at ``(lon, lat)`` galactic, position frozen,
    power law with ``index`` and ``amplitude``) and ``"sim-bkg"`` (its ``norm``). Fitted
    parameters: ``src.index`` (unless ``fit_index=False``: frozen at the truth),
    ``src.amplitude``, ``sim-bkg.norm``. Every fit starts from the ``start_*`` values.

    Parameters
    ----------
    npix, binsz, background_rate
        Dataset grid and background level (see ``synthetic_dataset``).
    lon, lat : float
        Source position (deg).
    index, amplitude, norm : float
        True values (amplitude in cm-2 s-1 TeV-1 at 1 TeV).
    start_index, start_amplitude, start_norm : float
        Start values of every fit.
    fit_index : bool
        Fit the index (else frozen at ``index``).
    mode : str, optional
        PyTensor mode (default ``$SKYFIT_PYTENSOR_MODE`` or CVM).

    Examples
    --------
    >>> source = SyntheticSource(npix=(8, 8), background_rate=2.0)
    >>> fit, npred = source.build()
    >>> npred.shape, sorted(source.truth)
    ((6, 8, 8), ['sim-bkg.norm', 'src.amplitude', 'src.index'])
    """

    npix: tuple[int, int] = (24, 24)
    binsz: float = 0.05
    background_rate: float = 0.05
    lon: float = 0.02
    lat: float = -0.03
    index: float = 2.2
    amplitude: float = 1e-12
    norm: float = 1.0
    start_index: float = 2.0
    start_amplitude: float = 0.7e-12
    start_norm: float = 1.1
    fit_index: bool = True
    mode: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "npix", tuple(int(n) for n in self.npix))

    @property
    def truth(self) -> dict[str, float]:
        """Qualified parameter name -> true value."""
        return {"src.index": self.index, "src.amplitude": self.amplitude,
                "sim-bkg.norm": self.norm}

    @property
    def start(self) -> dict[str, float]:
        """Qualified name -> start value of the fitted parameters."""
        start = {"src.index": self.start_index, "src.amplitude": self.start_amplitude,
                 "sim-bkg.norm": self.start_norm}
        if not self.fit_index:
            del start["src.index"]
        return start

    def build(self):
        """``(MapFit, npred)``: the fit (not yet compiled) and the expected counts at the
        truth, ``(energy, lat, lon)``."""
        from ..datasets.synthetic import synthetic_dataset
        from ..fit import MapFit
        from ..models import FoVBackgroundModel, Models, SkyModel
        from ..models.spatial import PointSpatialModel
        from ..models.spectral import PowerLawSpectralModel

        ds = synthetic_dataset(npix=self.npix, binsz=self.binsz,
                               background_rate=self.background_rate, name="sim")
        spatial = PointSpatialModel(lon_0=self.lon, lat_0=self.lat, frame="galactic")
        for par in spatial.parameters:
            par.frozen = True
        models = Models([SkyModel(spatial, PowerLawSpectralModel(), name="src"),
                         FoVBackgroundModel("sim")])
        for name, value in self.truth.items():
            models.parameter(name).value = value
        models.parameter("src.index").frozen = not self.fit_index
        ds.models = models
        npred = ds.npred()
        return MapFit.from_datasets([ds], models, mode=self.mode), npred

    def reset(self, fit) -> None:
        """Set the start values on ``fit``'s models (before each fit)."""
        for name, value in self.start.items():
            fit.models.parameter(name).value = value
