"""Study rows (one dict per task) gathered into one :class:`astropy.table.Table`."""

from __future__ import annotations

import numpy as np
from astropy.table import Column, MaskedColumn, Table

__all__ = ["rows_to_table"]


def rows_to_table(rows: list[dict], meta: dict | None = None) -> Table:
    """One table from row dicts: columns in first-seen order, one row per dict.

    A key missing from some rows (e.g. parameters of models that differ between the files
    of a survey) gives a masked column. ``Table.to_pandas()`` turns the result into a
    DataFrame where pandas is installed.

    Examples
    --------
    >>> t = rows_to_table([{"a": 1, "b": 2.0}, {"a": 2, "c": "x"}], meta={"n": 2})
    >>> t.colnames, t["a"].tolist(), bool(t["b"].mask[1]), t.meta["n"]
    (['a', 'b', 'c'], [1, 2], True, 2)
    """
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    columns = []
    for name in names:
        present = [name in row for row in rows]
        values = [row.get(name) for row in rows]
        if all(present):
            columns.append(Column(values, name=name))
            continue
        fill = next(v for v in values if v is not None)
        filler = {bool: False, str: ""}.get(type(fill), np.nan if isinstance(
            fill, float) else 0)
        columns.append(MaskedColumn([filler if v is None else v for v in values],
                                    name=name, mask=[not p for p in present]))
    return Table(columns, meta=dict(meta or {}))
