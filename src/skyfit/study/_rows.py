"""Helpers shared by the studies: free-parameter names and a fit's columns of a row."""

from __future__ import annotations

import math

import numpy as np

# what a fit of one replication or file may raise on bad data; recorded in its row
FIT_ERRORS = (ValueError, RuntimeError, FloatingPointError, np.linalg.LinAlgError)


def free_names(fit) -> list[str]:
    """Qualified names of ``fit``'s free parameters, in the models' order."""
    return [name for name, par in zip(fit.models.qualified_names(), fit.models.parameters,
                                      strict=True) if not par.frozen]


def qualified_name(fit, parameter: str) -> str:
    """The qualified name of a free parameter given by any name ``Models`` accepts."""
    par = fit.models.parameter(parameter)
    name = dict(zip(map(id, fit.models.parameters), fit.models.qualified_names(),
                    strict=True))[id(par)]
    if par.frozen:
        raise ValueError(f"parameter {name!r} is frozen in the study's fit")
    return name


def parameter_columns(names: list[str], values: dict, errors: dict | None = None,
                      suffix: str = "") -> dict:
    """``{name: value, name_err: error}`` for ``names`` (NaN where missing)."""
    row = {}
    for name in names:
        row[name + suffix] = float(values.get(name, math.nan))
        if errors is not None:
            row[f"{name}_err{suffix}"] = float(errors.get(name, math.nan))
    return row


def compile_fit(fit) -> None:
    """Compile the functions a fit uses (statistic and its gradient) for the current
    structure, so that a study's setup time holds the compilation, not its first task."""
    like = fit.likelihood
    like.value()
    like.value_and_grad()


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
