"""A binned (or node) axis of a map: reconstructed or true energy, offset, migration."""

from __future__ import annotations

from dataclasses import dataclass

import astropy.units as u
import numpy as np

__all__ = ["MapAxis"]

_INTERPS = ("lin", "log", "sqrt")


@dataclass(frozen=True, eq=False)
class MapAxis:
    """One non-spatial axis of a map.

    Parameters
    ----------
    edges : array
        Bin edges (``nbin + 1`` values, strictly increasing) in ``unit``.
    name : str
        ``"energy"`` (reconstructed), ``"energy_true"``, ``"rad"``, ``"migra"``...
    unit : str
        Unit of the edges.
    interp : str
        ``"log"`` or ``"lin"``: how the centres are placed and values interpolated.
    node_type : str
        ``"edges"`` for a binned axis, ``"center"`` for an axis defined by nodes
        (its edges are then derived midway between nodes, in ``interp`` space).
    nodes : array or None
        The nodes of a ``node_type="center"`` axis (kept to write it back exactly).

    Examples
    --------
    >>> axis = MapAxis.from_energy_edges([0.01, 0.1, 1.0])
    >>> axis.nbin, axis.center.round(4).tolist()
    (2, [0.0316, 0.3162])
    """

    edges: np.ndarray
    name: str = "energy"
    unit: str = "TeV"
    interp: str = "log"
    node_type: str = "edges"
    nodes: np.ndarray | None = None

    def __post_init__(self) -> None:
        edges = np.asarray(self.edges, dtype=float)
        object.__setattr__(self, "edges", edges)
        try:
            object.__setattr__(self, "unit", u.Unit(self.unit).to_string())
        except ValueError:
            raise ValueError(f"axis {self.name!r}: invalid unit {self.unit!r}") from None
        if self.interp not in _INTERPS:
            raise ValueError(f"axis {self.name!r}: interp must be one of {_INTERPS}, "
                             f"got {self.interp!r}")
        if edges.ndim != 1:
            raise ValueError(f"axis {self.name!r}: edges must be 1-D, got shape {edges.shape}")
        if edges.size < 2:
            raise ValueError(f"axis {self.name!r}: need at least two edges, got {edges.size}")
        if not np.all(np.isfinite(edges)):
            raise ValueError(f"axis {self.name!r}: edges must be finite, got {edges}")
        if not np.all(np.diff(edges) > 0):
            raise ValueError(f"axis {self.name!r}: edges must increase strictly, got {edges}")
        if self.interp == "log" and edges[0] <= 0:
            raise ValueError(f"axis {self.name!r}: log axis needs positive edges, got {edges}")

    @classmethod
    def from_energy_edges(cls, edges, unit: str = "TeV", name: str = "energy") -> MapAxis:
        if isinstance(edges, u.Quantity):
            edges, unit = edges.value, edges.unit.to_string()
        return cls(np.asarray(edges, float), name=name, unit=unit, interp="log")

    @classmethod
    def from_nodes(cls, nodes, unit: str = "TeV", name: str = "energy_true",
                   interp: str = "log") -> MapAxis:
        """Axis defined by node values; edges lie midway between nodes (in log for log)."""
        nodes = np.asarray(nodes, float)
        if nodes.size < 2:
            raise ValueError(f"axis {name!r}: need at least two nodes to derive bin edges")
        t = np.log(nodes) if interp == "log" else nodes
        mid = 0.5 * (t[1:] + t[:-1])
        edges_t = np.concatenate([[2 * t[0] - mid[0]], mid, [2 * t[-1] - mid[-1]]])
        edges = np.exp(edges_t) if interp == "log" else edges_t
        return cls(edges, name=name, unit=unit, interp=interp, node_type="center", nodes=nodes)

    @property
    def nbin(self) -> int:
        return self.edges.size - 1

    @property
    def center(self) -> np.ndarray:
        if self.nodes is not None:
            return self.nodes
        lo, hi = self.edges[:-1], self.edges[1:]
        return np.sqrt(lo * hi) if self.interp == "log" else 0.5 * (lo + hi)

    def edges_in(self, unit: str) -> np.ndarray:
        return self.edges * u.Unit(self.unit).to(unit)

    def center_in(self, unit: str) -> np.ndarray:
        return self.center * u.Unit(self.unit).to(unit)

    def is_allclose(self, other: MapAxis, rtol: float = 1e-6) -> bool:
        if self.nbin != other.nbin:
            return False
        try:
            return bool(np.allclose(self.edges, other.edges_in(self.unit), rtol=rtol))
        except u.UnitConversionError:
            return False

    def __repr__(self) -> str:
        return (f"MapAxis({self.name!r}, nbin={self.nbin}, "
                f"[{self.edges[0]:.4g}, {self.edges[-1]:.4g}] {self.unit}, {self.interp})")
