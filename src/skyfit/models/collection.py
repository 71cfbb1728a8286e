"""The :class:`Models` collection: ordered sky-model components plus joint priors.

Parameter naming: every parameter has a qualified name ``"<component>.<parameter>"``
(``"Crab Nebula.alpha"``, ``"Fermi-LAT-bkg.norm"``); where a component has two
parameters of the same name (spectral and spatial), the qualified names of those two
are ``"<component>.spectral.<parameter>"`` and ``"<component>.spatial.<parameter>"``.
A short name (``"alpha"``) is accepted where it is unique across all components.
A parameter shared between components (Gammapy's ``link``) appears once in
:attr:`Models.parameters`, under its first qualified name.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Iterator
from os import PathLike

from .parameter import Parameter, Parameters
from .sky import FoVBackgroundModel, SkyModel

__all__ = ["Models"]

Component = SkyModel | FoVBackgroundModel


class Models:
    """An ordered collection of :class:`SkyModel` and :class:`FoVBackgroundModel`.

    Parameters
    ----------
    components : iterable of SkyModel or FoVBackgroundModel
        Components with unique names; at most one FoVBackgroundModel per dataset.
    priors : list of MultivariateGaussianPrior, optional
        Joint priors over several parameters (named by qualified or unique short names).

    Examples
    --------
    >>> models = Models([FoVBackgroundModel("Fermi-LAT")])
    >>> models["Fermi-LAT-bkg"].name
    'Fermi-LAT-bkg'
    >>> models.parameter("Fermi-LAT-bkg.norm") is models.parameter("norm")
    True
    >>> models.qualified_names()[-1]
    'Fermi-LAT-bkg.reference'
    """

    def __init__(self, components: Iterable[Component] = (), priors: Iterable = ()) -> None:
        self._components: list[Component] = []
        for component in components:
            self.append(component)
        self.priors = list(priors)

    # -- container ---------------------------------------------------------------------
    def append(self, component: Component) -> None:
        """Add a component, checking its name and background assignment.

        Examples
        --------
        >>> models = Models()
        >>> models.append(FoVBackgroundModel("obs"))
        >>> try:
        ...     models.append(FoVBackgroundModel("obs"))
        ... except ValueError as exc:
        ...     print(exc)
        model names must be unique: a component named 'obs-bkg' is already present
        """
        if not isinstance(component, SkyModel | FoVBackgroundModel):
            raise TypeError(
                f"Models holds SkyModel and FoVBackgroundModel, got {type(component).__name__}"
            )
        if component.name in self.names:
            raise ValueError(
                f"model names must be unique: a component named {component.name!r} "
                "is already present"
            )
        if isinstance(component, FoVBackgroundModel):
            for other in self._components:
                if isinstance(other, FoVBackgroundModel) and (
                    other.dataset_name == component.dataset_name
                ):
                    raise ValueError(
                        f"only one FoVBackgroundModel per dataset: {other.name!r} already "
                        f"applies to dataset {component.dataset_name!r}"
                    )
        self._components.append(component)

    def __len__(self) -> int:
        return len(self._components)

    def __iter__(self) -> Iterator[Component]:
        return iter(self._components)

    def __getitem__(self, key: int | str) -> Component:
        if isinstance(key, str):
            for component in self._components:
                if component.name == key:
                    return component
            raise KeyError(f"no component named {key!r}; components are {self.names}")
        return self._components[key]

    def __contains__(self, key: str | Component) -> bool:
        if isinstance(key, str):
            return key in self.names
        return any(c is key for c in self._components)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self._components]

    def copy(self) -> Models:
        """Deep copy (shared parameters stay shared within the copy).

        Examples
        --------
        >>> models = Models([FoVBackgroundModel("obs")])
        >>> other = models.copy()
        >>> other.parameter("norm").value = 2.0
        >>> models.parameter("norm").value
        1.0
        """
        return copy.deepcopy(self)

    def __repr__(self) -> str:
        return f"Models({self.names})"

    # -- parameters ----------------------------------------------------------------------
    def _entries(self) -> list[tuple[list[str], str, Parameter]]:
        """(qualified names, short name, parameter) for each distinct parameter, in order."""
        entries: list[tuple[list[str], str, Parameter]] = []
        index: dict[int, int] = {}
        for component in self._components:
            parts = list(component._models())
            counts: dict[str, int] = {}
            for _, model in parts:
                for par in model.parameters:
                    counts[par.name] = counts.get(par.name, 0) + 1
            for kind, model in parts:
                for par in model.parameters:
                    if counts[par.name] > 1:
                        qname = f"{component.name}.{kind}.{par.name}"
                    else:
                        qname = f"{component.name}.{par.name}"
                    if id(par) in index:
                        entries[index[id(par)]][0].append(qname)
                    else:
                        index[id(par)] = len(entries)
                        entries.append(([qname], par.name, par))
        return entries

    @property
    def parameters(self) -> Parameters:
        """All parameters of all components, in order (shared ones once)."""
        return Parameters(par for _, _, par in self._entries())

    @property
    def free_parameters(self) -> Parameters:
        return self.parameters.free_parameters

    def qualified_names(self) -> list[str]:
        """Qualified names, aligned with :attr:`parameters`.

        Examples
        --------
        >>> Models([FoVBackgroundModel("obs")]).qualified_names()
        ['obs-bkg.tilt', 'obs-bkg.norm', 'obs-bkg.reference']
        """
        return [qnames[0] for qnames, _, _ in self._entries()]

    def parameter_names(self) -> list[str]:
        """User names aligned with :attr:`parameters`: short where unique, else qualified.

        Examples
        --------
        Both components have a ``reference``:

        >>> from skyfit.models.spatial import PointSpatialModel
        >>> from skyfit.models.spectral import PowerLawSpectralModel
        >>> src = SkyModel(PointSpatialModel(), PowerLawSpectralModel(), name="src")
        >>> Models([src, FoVBackgroundModel("obs")]).parameter_names()
        ['index', 'amplitude', 'src.reference', 'lon_0', 'lat_0', 'tilt', 'norm',
         'obs-bkg.reference']
        """
        entries = self._entries()
        shorts = [short for _, short, _ in entries]
        return [short if shorts.count(short) == 1 else qnames[0] for qnames, short, _ in entries]

    def parameter(self, key: str | Parameter) -> Parameter:
        """Look a parameter up by unique short name, qualified name or the object itself.

        Raises
        ------
        KeyError
            Unknown or ambiguous name (the message lists the candidates).

        Examples
        --------
        >>> models = Models([FoVBackgroundModel("obs")])
        >>> models.parameter("norm") is models.parameter("obs-bkg.norm")
        True
        >>> models.parameter("reference").unit
        'TeV'
        >>> try:
        ...     models.parameter("nrm")
        ... except KeyError as exc:
        ...     print(exc.args[0])  # doctest: +ELLIPSIS
        no parameter 'nrm': give a unique short name or a qualified name ...
        """
        entries = self._entries()
        if isinstance(key, Parameter):
            for _, _, par in entries:
                if par is key:
                    return par
            raise KeyError(f"parameter {key.name!r} (the object given) is not in these models")
        key = str(key)
        for qnames, _, par in entries:
            if key in qnames:
                return par
        matches = [(qnames[0], par) for qnames, short, par in entries if short == key]
        if len(matches) == 1:
            return matches[0][1]
        if matches:
            raise KeyError(
                f"parameter name {key!r} is ambiguous; use one of {[q for q, _ in matches]}"
            )
        close = [q for qnames, _, _ in entries for q in qnames if key.lower() in q.lower()]
        hint = f"; did you mean one of {close}?" if close else ""
        raise KeyError(
            f"no parameter {key!r}: give a unique short name or a qualified name "
            f"'<component>.<parameter>'{hint} (components: {self.names})"
        )

    def check_values(self) -> None:
        """Raise ValueError naming every parameter whose value is NaN/inf or outside its
        bounds, or whose min exceeds its max (values and bounds may be set freely, one at a
        time; predictions and fits need valid ones).

        Examples
        --------
        >>> models = Models([FoVBackgroundModel("obs")])
        >>> models.parameter("norm").min = 0.0
        >>> models.parameter("norm").value = -1.0
        >>> models.check_values()
        Traceback (most recent call last):
        ...
        ValueError: invalid parameter values: obs-bkg.norm = -1 is outside its bounds [0, nan]
        """
        bad = []
        for qnames, _, par in self._entries():
            if par.min > par.max:  # bounds may be set one at a time, so checked here
                bad.append(f"{qnames[0]} has min {par.min:g} > max {par.max:g}")
            elif not math.isfinite(par.value):
                bad.append(f"{qnames[0]} = {par.value} is not finite")
            elif par.value < par.min or par.value > par.max:
                bad.append(f"{qnames[0]} = {par.value:g} is outside its bounds "
                           f"[{par.min:g}, {par.max:g}]")
        if bad:
            raise ValueError("invalid parameter values: " + "; ".join(bad))

    def check_datasets(self, dataset_names) -> None:
        """Raise ValueError when a component names a dataset not in ``dataset_names``
        (e.g. a FoVBackgroundModel whose dataset is misspelt: it would be silently unused).

        Examples
        --------
        >>> Models([FoVBackgroundModel("obs")]).check_datasets(["obs-1"])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: component 'obs-bkg' applies to dataset(s) ['obs'], which are not among ...
        """
        names = [str(n) for n in dataset_names]
        for component in self._components:
            unknown = [n for n in component.datasets_names or [] if n not in names]
            if unknown:
                raise ValueError(
                    f"component {component.name!r} applies to dataset(s) {unknown}, which are "
                    f"not among the datasets {names}; fix its datasets_names (or the dataset "
                    "name)")

    def prior_stat(self) -> float:
        """Sum of all prior terms (``-2 * weight * logpdf``) at the current values.

        Examples
        --------
        >>> from skyfit.models import GaussianPrior
        >>> models = Models([FoVBackgroundModel("obs")])
        >>> models.prior_stat()
        0.0
        >>> models.parameter("norm").prior = GaussianPrior(mu=1.0, sigma=0.1)
        >>> models.parameter("norm").value = 1.1  # one sigma off: 1 above the peak
        >>> round(models.prior_stat() - GaussianPrior(mu=1.0, sigma=0.1).stat(1.0), 6)
        1.0
        """
        total = 0.0
        for par in self.parameters:
            if par.prior is not None:
                total += float(par.prior.stat(par.value))
        for prior in self.priors:
            values = [self.parameter(name).value for name in prior.names]
            total += float(prior.stat(values))
        return total

    # -- serialisation -------------------------------------------------------------------
    def to_dict(self, path: str | PathLike | None = None) -> dict:
        """Gammapy's layout (``components``, plus ``priors`` for joint priors).

        ``path``: folder of the YAML file, for relative template file names.

        Examples
        --------
        >>> data = Models([FoVBackgroundModel("obs")]).to_dict()
        >>> [(c["type"], c["datasets_names"]) for c in data["components"]]
        [('FoVBackgroundModel', ['obs'])]
        """
        from .io import models_to_dict

        return models_to_dict(self, path=path)

    @classmethod
    def from_dict(cls, data: dict, path: str | PathLike | None = None) -> Models:
        """Create from a dict in Gammapy's layout (``path``: folder for template files).

        Examples
        --------
        >>> models = Models.from_dict(Models([FoVBackgroundModel("obs")]).to_dict())
        >>> models, models.parameter("norm").value
        (Models(['obs-bkg']), 1.0)
        """
        from .io import models_from_dict

        return models_from_dict(data, path=path)

    @classmethod
    def read(cls, path: str | PathLike) -> Models:
        """Read a Gammapy model YAML file.

        Examples
        --------
        >>> import tempfile
        >>> from pathlib import Path
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     Models([FoVBackgroundModel("obs")]).write(Path(folder) / "models.yaml")
        ...     Models.read(Path(folder) / "models.yaml")
        Models(['obs-bkg'])
        """
        from .io import read_models

        return read_models(path)

    def write(self, path: str | PathLike, overwrite: bool = False) -> None:
        """Write a Gammapy model YAML file (atomically; refuses to overwrite by default).

        Examples
        --------
        >>> import tempfile
        >>> from pathlib import Path
        >>> models = Models([FoVBackgroundModel("obs")])
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     models.write(Path(folder) / "models.yaml")
        ...     models.write(Path(folder) / "models.yaml", overwrite=True)
        ...     Path(folder, "models.yaml").read_text().startswith("components:")
        True
        """
        from .io import write_models

        write_models(self, path, overwrite=overwrite)

    def to_yaml(self) -> str:
        """The YAML text :meth:`write` writes (with a ``metadata`` block).

        Examples
        --------
        >>> text = Models([FoVBackgroundModel("obs")]).to_yaml()
        >>> "type: FoVBackgroundModel" in text, "metadata:" in text
        (True, True)
        """
        from .io import models_to_yaml

        return models_to_yaml(self)
