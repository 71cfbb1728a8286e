"""Model YAML files in Gammapy 2.1's layout.

Reading follows Gammapy: each model block starts from its class's default parameters
and the file overrides them, so an entry with only ``value`` keeps the default unit,
bounds and frozen flag. Writing follows Gammapy too: keys equal to the class defaults
are left out. Parameter keys skyfit does not use (``interp``, ``scale_method``,
``scale_transform``...) are kept in ``Parameter.meta`` and written back. Linked
parameters (Gammapy's ``link``) are shared objects. A ``covariance`` file reference is
not read (a warning says so). Joint priors go in a top-level ``priors`` list (see
:mod:`skyfit.models.priors`), which Gammapy ignores.

Examples
--------
>>> import tempfile, pathlib
>>> from skyfit.models import FoVBackgroundModel, Models
>>> path = pathlib.Path(tempfile.mkdtemp()) / "models.yaml"
>>> Models([FoVBackgroundModel("obs")]).write(path)
>>> read_models(path).names
['obs-bkg']
"""

from __future__ import annotations

import dataclasses
import math
import os
import tempfile
import warnings
from datetime import UTC, datetime
from os import PathLike
from pathlib import Path

import yaml

from .collection import Models
from .parameter import Parameter
from .priors import MultivariateGaussianPrior, prior_from_dict
from .sky import FoVBackgroundModel, SkyModel

__all__ = [
    "ModelFileError",
    "models_from_dict",
    "models_to_dict",
    "models_to_yaml",
    "read_models",
    "write_models",
]

_YAML_FORMAT = dict(sort_keys=False, indent=4, width=80, default_flow_style=False)
_KNOWN_PAR_KEYS = ("name", "value", "unit", "error", "min", "max", "frozen", "prior", "link")
_TEMPLATE_KEYS = ("filename", "normalize")


class ModelFileError(ValueError):
    """A model file or dict that skyfit cannot read (the message names file and place).

    Examples
    --------
    >>> try:
    ...     models_from_dict({"sources": []})
    ... except ModelFileError as exc:
    ...     print(exc)
    <dict>: not a model file (no 'components' list; found ['sources'])
    """


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("skyfit")
    except Exception:  # pragma: no cover - not installed
        return "unknown"


# -- reading -------------------------------------------------------------------------------
def read_models(path: str | PathLike) -> Models:
    """Read a Gammapy model YAML file into :class:`~skyfit.models.Models`.

    Examples
    --------
    >>> import tempfile
    >>> from skyfit.models import FoVBackgroundModel, Models
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     write_models(Models([FoVBackgroundModel("obs")]), Path(folder) / "m.yaml")
    ...     models = read_models(Path(folder) / "m.yaml")
    >>> models.names, models.parameter("norm").value
    (['obs-bkg'], 1.0)
    """
    path = Path(path)
    if not path.is_file():
        if path.is_dir():
            raise FileNotFoundError(f"{path} is a folder, not a model file")
        raise FileNotFoundError(f"model file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text())
    except UnicodeDecodeError:
        raise ModelFileError(f"{path}: not a text (YAML) file; a FITS dataset is read with "
                             "skyfit.datasets.read_dataset") from None
    except yaml.YAMLError as exc:
        raise ModelFileError(f"{path}: not valid YAML ({exc})") from exc
    return models_from_dict(data, path=path.parent, source=str(path))


def models_from_dict(
    data: dict, path: str | PathLike | None = None, source: str = "<dict>"
) -> Models:
    """Create :class:`~skyfit.models.Models` from Gammapy's dict layout.

    Examples
    --------
    Parameters missing from the dict keep the defaults of their model:

    >>> models = models_from_dict({"components": [
    ...     {"name": "src", "type": "SkyModel",
    ...      "spectral": {"type": "PowerLawSpectralModel",
    ...                   "parameters": [{"name": "index", "value": 2.7}]}}]})
    >>> spectral = models["src"].spectral_model
    >>> spectral.parameters["index"].value, spectral.parameters["amplitude"].unit
    (2.7, 'cm-2 s-1 TeV-1')
    """
    if not isinstance(data, dict) or "components" not in data:
        keys = list(data) if isinstance(data, dict) else type(data).__name__
        raise ModelFileError(f"{source}: not a model file (no 'components' list; found {keys})")
    if not isinstance(data["components"], list):
        raise ModelFileError(f"{source}: 'components' must be a list")
    if "covariance" in data:
        warnings.warn(
            f"{source}: covariance file {data['covariance']!r} is not read by skyfit",
            UserWarning,
            stacklevel=2,
        )
    folder = Path(path) if path is not None else None
    links: dict[str, Parameter] = {}
    components = []
    for i, block in enumerate(data["components"]):
        name = block.get("name") if isinstance(block, dict) else None
        where = f"{source}, component #{i}" + (f" ({name!r})" if name else "")
        components.append(_component_from_dict(block, where, folder, links))
    try:
        models = Models(components)
    except ValueError as exc:
        raise ModelFileError(f"{source}: {exc}") from exc
    for j, entry in enumerate(data.get("priors") or []):
        where = f"{source}, priors #{j}"
        try:
            prior = prior_from_dict(entry, where=where)
        except (TypeError, ValueError) as exc:
            text = str(exc)
            raise ModelFileError(text if where in text else f"{where}: {text}") from exc
        if not isinstance(prior, MultivariateGaussianPrior):
            raise ModelFileError(f"{where}: only joint priors belong here, got {prior.tag}")
        for pname in prior.names:
            try:
                models.parameter(pname)
            except KeyError as exc:
                raise ModelFileError(f"{where}: {exc.args[0]}") from None
        models.priors.append(prior)
    return models


def _component_from_dict(block, where: str, folder, links):
    if not isinstance(block, dict) or "type" not in block:
        raise ModelFileError(f"{where}: a component must be a mapping with a 'type'")
    kind = block["type"]
    if kind in ("SkyModel", "sky-model"):
        if "name" not in block:
            raise ModelFileError(f"{where}: a SkyModel needs a 'name'")
        if block.get("temporal") is not None:
            raise ModelFileError(f"{where}: temporal models are not supported by skyfit")
        apply_irf = block.get("apply_irf")
        if apply_irf is not None and not all(apply_irf.values()):
            raise ModelFileError(
                f"{where}: apply_irf={apply_irf} is not supported (skyfit applies all IRFs)"
            )
        if "spectral" not in block:
            raise ModelFileError(f"{where}: a SkyModel needs a 'spectral' model")
        spectral = _model_from_dict(block["spectral"], "spectral", where, folder, links)
        spatial = None
        if block.get("spatial") is not None:
            spatial = _model_from_dict(block["spatial"], "spatial", where, folder, links)
        return SkyModel(
            spatial, spectral, name=block["name"], datasets_names=block.get("datasets_names")
        )
    if kind in ("FoVBackgroundModel", "fov-bkg"):
        names = block.get("datasets_names")
        if isinstance(names, str):
            names = [names]
        if not names or len(names) != 1:
            raise ModelFileError(
                f"{where}: a FoVBackgroundModel needs exactly one name in datasets_names"
            )
        if block.get("spatial") is not None:
            raise ModelFileError(f"{where}: spatial FoV background norms are not supported")
        spectral = None
        if block.get("spectral") is not None:
            spectral = _model_from_dict(block["spectral"], "spectral", where, folder, links)
        try:
            return FoVBackgroundModel(names[0], spectral, name=block.get("name"))
        except ValueError as exc:
            raise ModelFileError(f"{where}: {exc}") from exc
    raise ModelFileError(
        f"{where}: unknown component type {kind!r}; skyfit reads SkyModel and FoVBackgroundModel"
    )


def _registry(kind: str) -> dict:
    if kind == "spectral":
        from .spectral import SPECTRAL_MODELS

        return SPECTRAL_MODELS
    from .spatial import SPATIAL_MODELS

    return SPATIAL_MODELS


def _model_from_dict(block, kind: str, where: str, folder, links):
    where = f"{where}, {kind}"
    if not isinstance(block, dict) or "type" not in block:
        raise ModelFileError(f"{where}: a {kind} model must be a mapping with a 'type'")
    registry = _registry(kind)
    cls = registry.get(block["type"])
    if cls is None:
        known = sorted({c.tag for c in registry.values()})
        raise ModelFileError(
            f"{where}: unknown {kind} model type {block['type']!r}; known types: {known}"
        )
    try:
        if "filename" in block:  # a template: read its map (its frame is the map's)
            filename = Path(str(block["filename"]))
            if folder is not None and not filename.is_absolute() and (folder / filename).exists():
                filename = folder / filename
            if not filename.exists():
                raise FileNotFoundError(f"template file not found: {filename}")
            model = cls.read(str(filename), normalize=bool(block.get("normalize", True)))
        elif "frame" in block:
            model = cls(frame=block["frame"])
        else:
            model = cls()
    except Exception as exc:
        raise ModelFileError(f"{where}: cannot create {cls.__name__}: {exc}") from exc
    extra = {
        k: v for k, v in block.items() if k not in ("type", "parameters", "frame", *_TEMPLATE_KEYS)
    }
    if extra:
        model._yaml_extra = extra
    _update_parameters(model, block.get("parameters") or [], where, links)
    return model


def _update_parameters(model, entries, where: str, links) -> None:
    defaults = {p.name: p for p in type(model).default_parameters}
    seen = set()
    for entry in entries:
        if not isinstance(entry, dict) or "name" not in entry:
            raise ModelFileError(f"{where}: each parameter needs a 'name', got {entry!r}")
        name = entry["name"]
        if name not in defaults:
            raise ModelFileError(
                f"{where}: {type(model).__name__} has no parameter {name!r}; "
                f"its parameters are {list(defaults)}"
            )
        if name in seen:
            raise ModelFileError(f"{where}: parameter {name!r} is given twice")
        seen.add(name)
        par = model.parameters[name]
        new = _parameter_from_dict(entry, defaults[name], f"{where}, parameter {name!r}")
        for f in dataclasses.fields(Parameter):
            setattr(par, f.name, getattr(new, f.name))
        label = entry.get("link")
        if label is not None:
            if label in links:
                model.parameters[name] = links[label]
            else:
                links[label] = par


def _parameter_from_dict(entry: dict, default: Parameter, where: str) -> Parameter:
    fields = {k: getattr(default, k) for k in ("value", "unit", "min", "max", "frozen", "error")}
    try:
        for key in ("value", "min", "max", "error"):
            if key in entry and entry[key] is not None:
                fields[key] = float(entry[key])
        if "unit" in entry:
            fields["unit"] = "" if entry["unit"] is None else str(entry["unit"])
        if "frozen" in entry:
            fields["frozen"] = _bool(entry["frozen"])
        prior = entry.get("prior")
        prior = prior_from_dict(prior, where=where) if prior not in (None, "") else None
        meta = {k: v for k, v in entry.items() if k not in _KNOWN_PAR_KEYS and k != "is_norm"}
        par = Parameter(default.name, prior=prior, meta=meta, **fields)
        par.factor_to(default.unit)  # a unit that cannot convert is refused here
        return par
    except ModelFileError:
        raise
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"{where}: {exc}") from exc


def _bool(value) -> bool:
    if isinstance(value, str):
        if value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise ValueError(f"frozen must be true or false, got {value!r}")
    return bool(value)


# -- writing -------------------------------------------------------------------------------
def models_to_dict(models: Models, path: str | PathLike | None = None) -> dict:
    """Gammapy's dict layout (``path``: folder of the file, for template file names).

    Examples
    --------
    >>> from skyfit.models import FoVBackgroundModel
    >>> data = models_to_dict(Models([FoVBackgroundModel("obs")]))
    >>> block = data["components"][0]
    >>> block["type"], block["datasets_names"], block["spectral"]["type"]
    ('FoVBackgroundModel', ['obs'], 'PowerLawNormSpectralModel')
    """
    counts: dict[int, int] = {}
    for component in models:
        for par in component.parameters:
            counts[id(par)] = counts.get(id(par), 0) + 1
    labels = {}
    for par in models.parameters:
        if counts[id(par)] > 1:
            labels[id(par)] = f"{par.name}@link{len(labels)}"
    folder = Path(path).resolve() if path is not None else None
    components = []
    for component in models:
        data: dict = {}
        if isinstance(component, SkyModel):
            data["name"] = component.name
            data["type"] = component.tag
            if component.datasets_names is not None:
                data["datasets_names"] = list(component.datasets_names)
        else:
            data["type"] = component.tag
            if component.name != component.default_name:
                data["name"] = component.name
            data["datasets_names"] = list(component.datasets_names)
        for kind, model in component._models():
            data[kind] = _model_to_dict(model, kind, folder, labels)
        components.append(data)
    out: dict = {"components": components}
    if models.priors:
        out["priors"] = [prior.to_dict() for prior in models.priors]
    return out


def _model_to_dict(model, kind: str, folder, labels) -> dict:
    data: dict = {"type": type(model).tag}
    if (
        kind == "spatial"
        and hasattr(model, "frame")
        and type(model).tag not in ("ConstantSpatialModel", "ConstantFluxSpatialModel")
    ):
        data["frame"] = model.frame
    defaults = {p.name: p for p in type(model).default_parameters}
    data["parameters"] = [
        _parameter_to_dict(p, defaults.get(p.name), labels.get(id(p))) for p in model.parameters
    ]
    if getattr(model, "filename", None) is not None:
        filename = Path(str(model.filename))
        if folder is not None and filename.resolve().parent == folder:
            filename = Path(filename.name)
        data["filename"] = str(filename)
        data["normalize"] = bool(getattr(model, "normalize", True))
    data.update(getattr(model, "_yaml_extra", {}))
    return data


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def _parameter_to_dict(par: Parameter, default: Parameter | None, link: str | None) -> dict:
    out: dict = {"name": par.name, "value": float(par.value)}
    if default is None or default.unit != "" or par.unit != "":
        out["unit"] = par.unit
    for key in ("error", "min", "max"):
        value = float(getattr(par, key))
        if default is None or not _same(value, getattr(default, key)):
            out[key] = value
    if default is None or par.frozen != default.frozen:
        out["frozen"] = bool(par.frozen)
    out.update(par.meta)
    if link is not None:
        out["link"] = link
    if par.prior is not None:
        out["prior"] = par.prior.to_dict()
    return out


def models_to_yaml(models: Models, path: str | PathLike | None = None) -> str:
    """YAML text of ``models`` with Gammapy's ``metadata`` block.

    Examples
    --------
    >>> from skyfit.models import FoVBackgroundModel
    >>> text = models_to_yaml(Models([FoVBackgroundModel("obs")]))
    >>> print(text.splitlines()[0:2])
    ['components:', '-   type: FoVBackgroundModel']
    >>> "creator: skyfit" in text
    True
    """
    data = models_to_dict(models, path=path)
    data["metadata"] = {
        "creator": f"skyfit {_version()}",
        "date": datetime.now(UTC).replace(tzinfo=None).isoformat(),
        "origin": None,
    }
    return yaml.safe_dump(data, **_YAML_FORMAT)


def write_models(models: Models, path: str | PathLike, overwrite: bool = False) -> None:
    """Write ``models`` to a YAML file atomically (temporary file, then ``os.replace``).

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is False.

    Examples
    --------
    >>> import tempfile
    >>> from skyfit.models import FoVBackgroundModel
    >>> models = Models([FoVBackgroundModel("obs")])
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     write_models(models, Path(folder) / "models.yaml")
    ...     try:
    ...         write_models(models, Path(folder) / "models.yaml")
    ...     except FileExistsError:
    ...         print("exists")
    ...     write_models(models, Path(folder) / "models.yaml", overwrite=True)
    exists
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"model file exists already: {path} (use overwrite=True)")
    path.parent.mkdir(parents=True, exist_ok=True)
    text = models_to_yaml(models, path=path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
