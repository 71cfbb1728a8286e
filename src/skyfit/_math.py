"""One namespace of math functions for numpy arrays and PyTensor variables alike.

Model functions call ``xp(*args)`` to get either ``numpy`` (with ``scipy.special``
functions added) or ``pytensor.tensor``, so one formula serves both the numeric
reference and the compiled graph.

Examples
--------
>>> import numpy as np
>>> from skyfit._math import xp
>>> m = xp(np.array([1.0]))
>>> float(m.exp(m.asarray([0.0]))[0])
1.0
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

__all__ = ["is_symbolic", "xp"]


def is_symbolic(*args) -> bool:
    """True if any argument is a PyTensor variable.

    Examples
    --------
    >>> import pytensor.tensor as pt
    >>> is_symbolic(1.0, np.ones(3)), is_symbolic(1.0, pt.dvector("x"))
    (False, True)
    """
    try:
        from pytensor.graph.basic import Variable
    except ImportError:  # pragma: no cover - pytensor is a hard dependency
        return False
    return any(isinstance(a, Variable) for a in args)


class _Numpy(SimpleNamespace):
    """numpy's functions, and scipy.special's imported on first use (0.2 s of import
    that a fit of models without them does not need)."""

    def __getattr__(self, name):  # only for names not set yet
        if name not in ("erf", "erfc", "gammaln", "gammaincc", "gamma", "i0e"):
            raise AttributeError(name)
        import scipy.special

        value = getattr(scipy.special, name)
        setattr(self, name, value)
        return value


_NUMPY = _Numpy(
    **{name: getattr(np, name) for name in (
        "exp", "log", "log1p", "expm1", "sqrt", "sin", "cos", "tan", "arcsin", "arccos",
        "arctan2", "abs", "where", "maximum", "minimum", "clip", "sum", "asarray",
        "zeros_like", "ones_like", "stack", "power", "pi", "isclose",
    )},
    symbolic=False,
)


def _pytensor_namespace():
    import pytensor.tensor as pt

    def where(cond, a, b):
        # a condition that is a plain (numpy) boolean selects at graph-build time
        if isinstance(cond, (bool, np.bool_)) or (
                isinstance(cond, np.ndarray) and cond.ndim == 0):
            return a if bool(cond) else b
        return pt.switch(cond, a, b)

    return SimpleNamespace(
        exp=pt.exp, log=pt.log, log1p=pt.log1p, expm1=pt.expm1, sqrt=pt.sqrt, sin=pt.sin,
        cos=pt.cos, tan=pt.tan, arcsin=pt.arcsin, arccos=pt.arccos, arctan2=pt.arctan2,
        abs=pt.abs, where=where, maximum=pt.maximum, minimum=pt.minimum, clip=pt.clip,
        sum=pt.sum, asarray=pt.as_tensor_variable, zeros_like=pt.zeros_like,
        ones_like=pt.ones_like, stack=pt.stack, power=pt.power, pi=np.pi,
        isclose=pt.isclose, erf=pt.erf, erfc=pt.erfc, gammaln=pt.gammaln,
        gammaincc=pt.gammaincc, gamma=pt.gamma, i0e=pt.i0e if hasattr(pt, "i0e") else None,
        symbolic=True,
    )


_PT = None


def xp(*args) -> SimpleNamespace:
    """Return the math namespace matching the arguments (PyTensor if any is symbolic).

    Examples
    --------
    One formula for numbers and graphs:

    >>> import pytensor.tensor as pt
    >>> def softplus(x):
    ...     m = xp(x)
    ...     return m.log1p(m.exp(x))
    >>> round(float(softplus(np.float64(0.0))), 6)
    0.693147
    >>> softplus(pt.dscalar("x")).type  # a graph, to be compiled with the others
    TensorType(float64, shape=())
    """
    global _PT
    if is_symbolic(*args):
        if _PT is None:
            _PT = _pytensor_namespace()
        return _PT
    return _NUMPY
