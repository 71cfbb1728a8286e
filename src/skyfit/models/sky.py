"""Components of a sky model: :class:`SkyModel` (a source) and :class:`FoVBackgroundModel`.

A component groups a spectral model and (for sources) a spatial model under a name.
Its ``parameters`` are those of the spectral model followed by those of the spatial
model, as in Gammapy.
"""

from __future__ import annotations

import codecs
import copy
from base64 import urlsafe_b64encode
from collections.abc import Iterator
from uuid import uuid4

from .base import Model
from .parameter import Parameters

__all__ = ["FoVBackgroundModel", "SkyModel", "make_name"]


def make_name() -> str:
    """A random 8-character name, as Gammapy gives to unnamed models.

    Examples
    --------
    >>> name = make_name()
    >>> len(name), name == make_name()
    (8, False)
    """
    while True:
        name = urlsafe_b64encode(codecs.decode(uuid4().hex, "hex")).decode()[:8]
        if name[0] != "_":
            return name


def _is_spatial(model: object) -> bool:
    return hasattr(model, "frame")


class _Component:
    """Shared behaviour of sky-model components."""

    name: str
    spectral_model: Model
    spatial_model: Model | None

    def _models(self) -> Iterator[tuple[str, Model]]:
        yield "spectral", self.spectral_model
        if self.spatial_model is not None:
            yield "spatial", self.spatial_model

    @property
    def parameters(self) -> Parameters:
        """Parameters of the spectral model, then of the spatial model (same objects)."""
        return Parameters(p for _, m in self._models() for p in m.parameters)

    @property
    def free_parameters(self) -> Parameters:
        return self.parameters.free_parameters

    def copy(self, name: str | None = None):
        """Deep copy, optionally renamed.

        Examples
        --------
        >>> from skyfit.models.spatial import PointSpatialModel
        >>> from skyfit.models.spectral import PowerLawSpectralModel
        >>> src = SkyModel(PointSpatialModel(), PowerLawSpectralModel(), name="src")
        >>> twin = src.copy(name="twin")
        >>> twin.name, twin.parameters["index"] is src.parameters["index"]
        ('twin', False)
        """
        new = copy.deepcopy(self)
        if name is not None:
            new.name = name
        return new


class SkyModel(_Component):
    """A source: spatial model times spectral model.

    Parameters
    ----------
    spatial_model : spatial Model or None
        Spatial part (``frame``, ``evaluate(lon, lat, ...)`` in sr-1). ``None`` gives a
        spectral-only model, which Gammapy allows (e.g. for 1D analyses); skyfit's map
        forward model needs a spatial part and refuses such a model.
    spectral_model : spectral Model
        Spectral part (``evaluate(energy, ...)`` in cm-2 s-1 TeV-1).
    name : str, optional
        Component name; a random 8-character name when omitted (as in Gammapy).
    datasets_names : list of str, optional
        Datasets the model applies to; ``None`` means all.

    Examples
    --------
    >>> from skyfit.models.spectral import PowerLawSpectralModel
    >>> from skyfit.models.spatial import PointSpatialModel
    >>> m = SkyModel(PointSpatialModel(lon_0=83.6, lat_0=22.0), PowerLawSpectralModel(),
    ...              name="crab")
    >>> m.parameters.names[:2], m.parameters.names[-2:]
    (['index', 'amplitude'], ['lon_0', 'lat_0'])
    """

    tag = "SkyModel"

    def __init__(
        self,
        spatial_model: Model | None = None,
        spectral_model: Model | None = None,
        name: str | None = None,
        datasets_names: list[str] | None = None,
    ) -> None:
        if spectral_model is None:
            raise TypeError("SkyModel needs a spectral_model")
        if _is_spatial(spectral_model):
            raise TypeError(
                f"spectral_model is a spatial model ({type(spectral_model).__name__}); "
                "the order is SkyModel(spatial_model, spectral_model, name)"
            )
        if spatial_model is not None and not _is_spatial(spatial_model):
            raise TypeError(
                f"spatial_model {type(spatial_model).__name__} has no 'frame': not a spatial "
                "model; the order is SkyModel(spatial_model, spectral_model, name)"
            )
        self.spatial_model = spatial_model
        self.spectral_model = spectral_model
        self.name = make_name() if name is None else str(name)
        if isinstance(datasets_names, str):  # one name, not its letters (as Gammapy)
            datasets_names = [datasets_names]
        self.datasets_names = None if datasets_names is None else [str(n) for n in datasets_names]

    def __repr__(self) -> str:
        spatial = type(self.spatial_model).__name__ if self.spatial_model is not None else None
        return (
            f"SkyModel(name={self.name!r}, spatial={spatial}, "
            f"spectral={type(self.spectral_model).__name__})"
        )


class FoVBackgroundModel(_Component):
    """Field-of-view background of one dataset: its background map times a norm spectrum.

    Parameters
    ----------
    dataset_name : str
        The dataset whose background map this scales.
    spectral_model : norm spectral Model, optional
        Default ``PowerLawNormSpectralModel()`` (norm 1, tilt 0, frozen tilt).
    name : str, optional
        Default ``f"{dataset_name}-bkg"`` (Gammapy's rule). Another name is written to
        YAML as ``name`` (skyfit reads it back; Gammapy ignores it and uses the default).

    Examples
    --------
    >>> bkg = FoVBackgroundModel("Fermi-LAT")
    >>> bkg.name, bkg.datasets_names
    ('Fermi-LAT-bkg', ['Fermi-LAT'])
    """

    tag = "FoVBackgroundModel"
    spatial_model = None

    def __init__(
        self,
        dataset_name: str,
        spectral_model: Model | None = None,
        name: str | None = None,
    ) -> None:
        if spectral_model is None:
            from .spectral import PowerLawNormSpectralModel

            spectral_model = PowerLawNormSpectralModel()
        tag = getattr(spectral_model, "tag", "") or type(spectral_model).__name__
        if _is_spatial(spectral_model) or "Norm" not in tag:
            raise ValueError(
                f"FoVBackgroundModel needs a norm spectral model (e.g. "
                f"PowerLawNormSpectralModel), got {type(spectral_model).__name__}"
            )
        self.datasets_names = [str(dataset_name)]
        self.spectral_model = spectral_model
        self.name = f"{dataset_name}-bkg" if name is None else str(name)

    @property
    def dataset_name(self) -> str:
        return self.datasets_names[0]

    @property
    def default_name(self) -> str:
        return f"{self.dataset_name}-bkg"

    def __repr__(self) -> str:
        return (
            f"FoVBackgroundModel(name={self.name!r}, dataset={self.dataset_name!r}, "
            f"spectral={type(self.spectral_model).__name__})"
        )
