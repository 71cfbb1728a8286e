"""Small shared helpers: axes creation and lazy matplotlib import."""

from __future__ import annotations

__all__ = ["get_ax"]


def get_ax(ax=None, **subplot_kw):
    """``(fig, ax)``: the given axes and its figure, or a new figure with one axes.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = get_ax()
    >>> get_ax(ax) == (fig, ax)
    True
    >>> plt.close(fig)
    """
    import matplotlib.pyplot as plt

    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(subplot_kw=subplot_kw or None)
    return fig, ax
