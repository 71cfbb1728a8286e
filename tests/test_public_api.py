"""Every public function and class has a numpydoc docstring with a runnable example.

Public means listed in the ``__all__`` of a module or package of ``skyfit`` (private
modules included: their ``__all__`` is what the rest of the package may use). The examples
themselves run as doctests (``--doctest-modules`` in ``pyproject.toml``); this test makes
sure there is one, so that a new public name without an example fails here.
"""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import pytest

import skyfit

PACKAGE_DIR = Path(skyfit.__file__).resolve().parent

# numpydoc section header, then at least one doctest line inside the section
EXAMPLES = re.compile(r"^Examples\n-{8,}\n(?:(?!^\w[\w ]*\n-{3,}\n).)*?^\s*>>> ", re.M | re.S)


def _module_names() -> list[str]:
    """Dotted names of all modules and packages below ``src/skyfit``, without importing."""
    names = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.append(".".join(parts))
    return names


MODULES = _module_names()


def _import(name: str):
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:  # an optional dependency (jax, ...) is missing
        if exc.name and not exc.name.startswith("skyfit"):
            pytest.skip(f"{name} needs {exc.name}, which is not installed")
        raise


def _lacks_example(obj) -> bool:
    doc = inspect.getdoc(obj) or ""
    return EXAMPLES.search(doc) is None


def test_modules_found():
    assert {"skyfit", "skyfit.fit.mapfit", "skyfit.models.parameter"} <= set(MODULES)


@pytest.mark.parametrize("module_name", MODULES)
def test_public_names_have_examples(module_name):
    module = _import(module_name)
    public = getattr(module, "__all__", [])
    missing = []
    for name in public:
        obj = getattr(module, name)  # an AttributeError here: __all__ names a missing object
        if not (inspect.isclass(obj) or inspect.isroutine(obj)):
            continue  # constants (DEFAULT_N, PRIORS, ...) carry no docstring of their own
        if _lacks_example(obj):
            missing.append(f"{getattr(obj, '__module__', module_name)}.{name}")
    assert not missing, (f"public names of {module_name} without an 'Examples' section with "
                         f">>> lines in their docstring: {missing}")


@pytest.mark.parametrize("doc, has_example", [
    ("Sum.\n\nExamples\n--------\n>>> 1 + 1\n2\n", True),
    ("Sum.\n\nExamples\n--------\nSee the tutorial.\n", False),
    ("Sum.\n\n>>> 1 + 1\n2\n", False),
    ("Sum.\n\nExamples\n--------\nNone here.\n\nNotes\n-----\n>>> 1\n1\n", False),
])
def test_example_detection(doc, has_example):
    def f():
        pass

    f.__doc__ = doc
    assert _lacks_example(f) is not has_example
