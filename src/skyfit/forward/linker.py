"""One C module for a whole graph where PyTensor allows it: the default CPU linker.

PyTensor's CVM linker compiles one C module per distinct operation (its signature and
inlined constants) and runs them from a C loop. A Crab-sized statistic has ~25 such
operations: ~16 s of compiler in a fresh process, and a new set of frozen parameters
recompiles most of them. PyTensor's plain C linker compiles the whole graph into one
module instead: on the Crab ~4 s in a fresh process (two modules: value, value and
gradient), and each call runs without the loop between operations (value and gradient
~30 % faster).

The plain C linker cannot run every graph: operations without C code (the FFT
convolution of extended sources; ``Dot22`` where PyTensor found no BLAS library), and
operations whose C code reads the Python object of an intermediate result
(``py_<name>``, which only the per-operation linkers keep in sync). For basic views and
increments (``Subtensor``, ``IncSubtensor``: the gradients of stacked spectral
parameters) the same C code on the array itself is substituted; others (e.g.
``TensorFromScalar``) stay blockers. A free point source's graph qualifies (its
dispersion is skyfit's :class:`~skyfit.forward.matmul.ConstMatMul`, not ``Dot22``).
:class:`WholeGraphCLinker` looks at the rewritten graph and uses the plain C linker only
where every operation qualifies and the graph is small enough for one module to compile
quickly; otherwise PyTensor's CVM linker, keeping its intermediate arrays between calls as
the plain C linker does (``allow_gc=False``: no allocation of the same arrays again on
every call; on the Fermi-LAT Galactic centre the value+gradient function keeps 6.9 MB
and is ~0.05 ms faster of ~0.7).
Both run the same operations' C code; results agree to round-off (the optimisation level
changes the order of a few floating-point operations: ~1e-15 relative on the Crab).
"""

from __future__ import annotations

import re
from copy import copy

import numpy as np
from pytensor.graph.basic import Constant
from pytensor.link.basic import Linker
from pytensor.link.c.basic import CLinker
from pytensor.link.c.cmodule import GCC_compiler
from pytensor.link.c.interface import CLinkerOp
from pytensor.link.vm import VMLinker
from pytensor.tensor.subtensor import IncSubtensor, Subtensor
from pytensor.tensor.type import TensorType

__all__ = ["WholeGraphCLinker", "whole_graph_ok"]

#: above this many operations the graph compiles per operation (a module's compile time
#: grows with the graph: at -O1 1.6 s for 38 operations, 2.6 s for 108, 7.6 s for 211,
#: where the per-operation linker took 23 s in a fresh cache; per operation, modules
#: already in the cache are reused)
MAX_NODES = 250
#: above this many elements in the constants of a graph (together: a proxy for the
#: number and size of its free sources' cutouts) the graph runs per operation: one
#: module per graph compiles again for every new set of free parameters, where per
#: operation the modules already in the cache are reused. Galactic centre,
#: configurations a, b, ad of validation/gc_fit.py (43, 53, 37 free) in a fresh cache:
#: 28 + 10 + 4 s per operation, 14 + 30 + 10 s as one module each (measured before the
#: radial loops compiled once per numbers of energy bins); the same speed (those loops
#: are compiled apart, for this CPU: radialcounts_c.function). Their value+gradient
#: graphs hold 0.4-1.0 million elements (since the pixels' Gauss-Legendre nodes: ~2x
#: fewer than before), the Crab's with a free position 54 thousand.
MAX_CONSTANT_SIZE = 300_000


class WholeGraphCLinker(Linker):
    """PyTensor's C linker (one module) for graphs that allow it, else its CVM linker.

    Examples
    --------
    >>> import numpy as np
    >>> import pytensor
    >>> import pytensor.tensor as pt
    >>> from pytensor.compile.mode import Mode
    >>> x = pt.dvector("x")
    >>> f = pytensor.function([x], (x ** 2).sum(),
    ...                       mode=Mode(linker=WholeGraphCLinker(), optimizer="fast_run"))
    >>> float(f(np.array([1.0, 2.0])))
    5.0
    >>> type(f.maker.linker.chosen).__name__
    '_CLinker'
    """

    def __init__(self, max_nodes: int = MAX_NODES,
                 max_constant_size: int = MAX_CONSTANT_SIZE) -> None:
        super().__init__()
        self.max_nodes = max_nodes
        self.max_constant_size = max_constant_size
        self.chosen = None

    def accept(self, fgraph, no_recycling=None, profile=None):
        new = copy(self)
        if whole_graph_ok(fgraph, self.max_nodes, self.max_constant_size):
            for node in fgraph.toposort():
                op = _array_op(node)
                if op is not None:
                    fgraph.replace_all(zip(node.outputs, op.make_node(*node.inputs).outputs,
                                           strict=True), reason="WholeGraphCLinker")
            new.chosen = _CLinker().accept(fgraph, no_recycling)
        else:
            new.chosen = VMLinker(use_cloop=True, allow_gc=False).accept(
                fgraph, no_recycling, profile)
        return new

    def make_thunk(self, **kwargs):
        return self.chosen.make_thunk(**kwargs)


class _GCC(GCC_compiler):
    """PyTensor's g++ without the ``-march`` flags of this CPU: finding them runs the
    compiler twice in every process that compiles or loads a C module (~0.4 s of a
    warm-cache first fit); at ``-O1`` the code is not vectorised anyway."""

    @staticmethod
    def compile_args(march_flags=True):
        return GCC_compiler.compile_args(march_flags=False)


class _CLinker(CLinker):
    """PyTensor's C linker compiling without debug information, at ``-O1`` (the last
    flags win) and for any x86-64 CPU: the module compiles in about a third of the time
    of PyTensor's ``-g -O3`` and ran as fast on the Crab (~8 / 13 us per value / value
    and gradient): these small graphs spend their time in calls to ``log``/``pow`` and
    in memory."""

    def c_compiler(self):
        compiler = super().c_compiler()
        return _GCC if compiler is GCC_compiler else compiler

    def compile_args(self):
        return [*super().compile_args(), "-g0", "-O1"]


def whole_graph_ok(fgraph, max_nodes: int = MAX_NODES,
                   max_constant_size: int = MAX_CONSTANT_SIZE) -> bool:
    """Whether PyTensor's plain C linker can run ``fgraph``, and fast: at most
    ``max_nodes`` operations and ``max_constant_size`` elements in its constants
    together, each operation with C code that does not read the Python object of an
    input computed inside the graph (only the per-operation linkers keep that object),
    once basic views and increments use their array-object variants (:func:`_array_op`).

    Examples
    --------
    >>> import pytensor.tensor as pt
    >>> from pytensor.graph.fg import FunctionGraph
    >>> import numpy as np
    >>> from skyfit.forward.fftconv import fft_convolve
    >>> x = pt.dvector("x")
    >>> whole_graph_ok(FunctionGraph([x], [pt.inc_subtensor((2 * x)[0], 1.0)]))
    True
    >>> whole_graph_ok(FunctionGraph([x], [pt.exp(x).sum()]), max_nodes=1)
    False
    >>> whole_graph_ok(FunctionGraph([x], [x + np.ones(3)]), max_constant_size=2)
    False
    >>> image = x.reshape((1, 2, 2))  # the FFT convolution has no C code
    >>> whole_graph_ok(FunctionGraph([x], [fft_convolve(image, np.ones((1, 1, 1)), (2, 2))]))
    False
    """
    nodes = fgraph.toposort()
    if len(nodes) > max_nodes:
        return False
    if sum(np.size(v.data) for v in fgraph.variables
           if isinstance(v, Constant)) > max_constant_size:
        return False
    for node in nodes:
        op = _array_op(node) or node.op
        if not isinstance(op, CLinkerOp):
            return False
        names = [f"in{k}" for k in range(len(node.inputs))]
        sub = {"failure_var": "failure", "id": 0, "fail": "FAIL;", "params": "params"}
        try:
            code = op.c_code(node, "node", names, [f"out{k}" for k in
                                                    range(len(node.outputs))], sub)
        except Exception:  # no C code (MethodNotDefined, NotImplementedError, ...)
            return False
        for name, var in zip(names, node.inputs, strict=True):
            if var.owner is not None and re.search(rf"\bpy_{name}\b", code):
                return False
    return True


class _ArrayObjectCode:
    """Mixin: the C code reads the input arrays themselves where PyTensor's reads their
    Python objects (``py_<name>``). Under the per-operation linkers the two are the same
    object (PyTensor asserts it); the plain C linker leaves ``py_<name>`` unset for
    intermediate results. The semantics (a view referencing its base, a copy of it) are
    unchanged."""

    def c_code(self, node, name, inputs, outputs, sub):
        code = super().c_code(node, name, inputs, outputs, sub)
        for var, cname in zip(node.inputs, inputs, strict=True):
            if isinstance(var.type, TensorType):  # an array (index inputs are C scalars)
                code = re.sub(rf"\bpy_{cname}\b", f"((PyObject*){cname})", code)
        return code

    def c_code_cache_version(self):
        version = super().c_code_cache_version()
        return (*version, "skyfit-array-object", 1) if version else version


class _ArraySubtensor(_ArrayObjectCode, Subtensor):
    pass


class _ArrayIncSubtensor(_ArrayObjectCode, IncSubtensor):
    pass


def _array_op(node):
    """The array-object variant of ``node``'s op where it reads the Python object of an
    input computed in the graph (basic ``Subtensor`` views, ``IncSubtensor``), else None."""
    op = node.op
    if not any(var.owner is not None for var in node.inputs):
        return None
    if type(op) is Subtensor:
        return _ArraySubtensor(op.idx_list)
    if type(op) is IncSubtensor:
        return _ArrayIncSubtensor(**{name: getattr(op, name) for name in op.__props__})
    return None

