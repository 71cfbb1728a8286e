"""Likelihood profiles with their MINOS interval, and 2-D likelihood contours."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["plot_contour", "plot_profile", "profile_minimum"]


def profile_minimum(values, stat) -> float:
    """Position of the minimum of a sampled profile (parabola through the lowest 3 points).

    Examples
    --------
    >>> x = np.linspace(0, 2, 5)
    >>> round(profile_minimum(x, (x - 0.8) ** 2), 12)
    0.8
    """
    x = np.asarray(values, float)
    y = np.asarray(stat, float)
    good = np.isfinite(y)
    x, y = x[good], y[good]
    order = np.argsort(x)
    x, y = x[order], y[order]
    k = int(np.argmin(y))
    if x.size < 3 or k in (0, x.size - 1):
        return float(x[k])
    a, b, _ = np.polyfit(x[k - 1:k + 2], y[k - 1:k + 2], 2)
    return float(-b / (2 * a)) if a > 0 else float(x[k])


def plot_profile(profile: dict, minos: dict | None = None, *, value: float | None = None,
                 best_stat: float | None = None, parameter: str | None = None,
                 sigma: float = 1, ax=None):
    """Plot a likelihood profile (``delta stat``) with the MINOS interval marked.

    Parameters
    ----------
    profile : dict
        ``values`` and ``likelihood`` arrays (from :meth:`MapFit.likelihood_profile` or
        :meth:`MapFit.minos_profile`; points with ``success`` False are marked with
        crosses).
    minos : dict, optional
        :meth:`MapFit.confidence` output (``errp``, ``errn``): the interval
        ``[value - errn, value + errn]`` is shaded and its ends drawn as vertical lines.
    value : float, optional
        Best-fit value (default: the minimum of the sampled profile,
        :func:`profile_minimum`). Pass the parameter's value after a fit.
    best_stat : float, optional
        Statistic at the best fit, subtracted (default: the smallest profile value).
    parameter : str, optional
        Axis label (default ``"parameter value"``).
    sigma : float
        Level of the interval: a horizontal line at ``delta stat = sigma**2``.
    ax : Axes, optional

    Returns
    -------
    fig : Figure
    ax : Axes
        The profile is ``ax.lines[0]``; the MINOS ends are the lines with label
        ``"MINOS"`` (the lower end) and ``"_minos_upper"``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> x = np.linspace(1, 3, 21)
    >>> fig, ax = plot_profile({"values": x, "likelihood": 10 + ((x - 2) / 0.2) ** 2},
    ...                        {"errp": 0.2, "errn": 0.2}, value=2.0, parameter="index")
    >>> [round(float(ln.get_xdata()[0]), 6) for ln in ax.lines
    ...  if ln.get_label() in ("MINOS", "_minos_upper")]
    [1.8, 2.2]
    """
    from ._util import get_ax

    x = np.asarray(profile["values"], float)
    stat = np.asarray(profile["likelihood"], float)
    ref = float(np.nanmin(stat)) if best_stat is None else float(best_stat)
    delta = stat - ref
    order = np.argsort(x)
    fig, ax = get_ax(ax)
    ax.plot(x[order], delta[order], "o-", color="C0", ms=3, label="profile")
    ok = np.asarray(profile.get("success", np.ones(x.size, bool)), bool)
    if not ok.all():
        ax.plot(x[~ok], delta[~ok], "x", color="C3", ms=7, ls="none",
                label="fit failed at point")
    ax.axhline(sigma**2, color="0.4", ls=":", lw=1, label=f"delta stat = {sigma**2:g}")
    if value is None:
        value = profile_minimum(x, stat)
    if minos is not None:
        lo, hi = value - float(minos["errn"]), value + float(minos["errp"])
        ax.axvspan(lo, hi, color="C1", alpha=0.15, lw=0)
        ax.axvline(lo, color="C1", lw=1.5, label="MINOS")
        ax.axvline(hi, color="C1", lw=1.5, label="_minos_upper")
        ax.axvline(value, color="C1", lw=1, ls="--", label="_best")
        ax.set_title(f"{parameter or 'value'} = {value:.4g} +{minos['errp']:.2g} "
                     f"-{minos['errn']:.2g} ({sigma:g} sigma)", fontsize=9)
    ax.set_xlabel(parameter or "parameter value")
    ax.set_ylabel("delta stat (Cash)")
    ax.set_ylim(bottom=min(0.0, float(np.nanmin(delta))) - 0.05 * max(
        1.0, float(np.nanmax(delta))))
    ax.legend(fontsize=8)
    return fig, ax


def plot_contour(contour: dict, *, sigmas: Sequence[float] = (1, 2),
                 levels: Sequence[float] | None = None, best: tuple[float, float] | None = None,
                 best_stat: float | None = None, x_label: str | None = None,
                 y_label: str | None = None, ax=None):
    """Plot a 2-D likelihood contour: a slice grid or the points of a MINOS contour.

    Parameters
    ----------
    contour : dict
        :meth:`MapFit.likelihood_contour` output (``x``, ``y`` grids and ``likelihood`` of
        shape ``(len(x), len(y))``): contour lines of ``delta stat`` are drawn; or
        :meth:`MapFit.minos_contour` output (``x``, ``y`` points): the closed polygon is
        drawn, and with ``best`` the MINOS intervals of both parameters (``x_info``,
        ``y_info``) as dashed lines.
    sigmas : sequence of float
        Grid contours at ``delta stat = sigma**2`` (the MINOS convention: the 1-sigma
        contour projects onto the 1-D MINOS intervals; a joint 2-D 68 % region needs
        ``levels=[2.30]``).
    levels : sequence of float, optional
        Explicit ``delta stat`` levels (override ``sigmas``).
    best : (float, float), optional
        Best-fit point, marked (default for grids: the grid minimum).
    best_stat : float, optional
        Statistic at the best fit (default: the grid minimum).
    x_label, y_label : str, optional
    ax : Axes, optional

    Returns
    -------
    fig : Figure
    ax : Axes
        Grid: the :class:`~matplotlib.contour.ContourSet` is ``ax.collections[0]``;
        MINOS: the closed contour is ``ax.lines[0]``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> g = np.linspace(-3, 3, 61)
    >>> stat = g[:, None] ** 2 + g[None, :] ** 2
    >>> fig, ax = plot_contour({"x": g, "y": g, "likelihood": stat}, sigmas=[1])
    >>> ring = ax.collections[0].allsegs[0][0]
    >>> bool(np.allclose(np.hypot(*ring.T), 1, atol=0.01))
    True
    """
    from ._util import get_ax

    fig, ax = get_ax(ax)
    x = np.asarray(contour["x"], float)
    y = np.asarray(contour["y"], float)
    if "likelihood" in contour:
        stat = np.asarray(contour["likelihood"], float)
        if stat.shape != (x.size, y.size):
            raise ValueError(f"likelihood has shape {stat.shape}, expected "
                             f"(len(x), len(y)) = {(x.size, y.size)}")
        ref = float(np.nanmin(stat)) if best_stat is None else float(best_stat)
        lev = sorted(levels if levels is not None else [s**2 for s in sigmas])
        cs = ax.contour(x, y, (stat - ref).T, levels=lev, colors="C0")
        ax.clabel(cs, fmt={v: f"{v:g}" for v in lev}, fontsize=8)
        if best is None:
            a, b = np.unravel_index(np.nanargmin(stat), stat.shape)
            best = (x[a], y[b])
    else:
        xc, yc = np.append(x, x[:1]), np.append(y, y[:1])
        ax.plot(xc, yc, "o-", color="C0", ms=3, label="MINOS contour")
        if best is not None:
            for key, line in (("x_info", ax.axvline), ("y_info", ax.axhline)):
                info = contour.get(key)
                centre = best[0] if key == "x_info" else best[1]
                if info is not None:
                    for end in (centre - info["errn"], centre + info["errp"]):
                        line(end, color="C1", ls="--", lw=1)
    if best is not None:
        ax.plot([best[0]], [best[1]], "+", color="k", ms=10, mew=1.5, label="best fit")
    ax.set_xlabel(x_label or "x")
    ax.set_ylabel(y_label or "y")
    return fig, ax
