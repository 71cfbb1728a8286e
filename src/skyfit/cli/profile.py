"""``skyfit profile`` and ``skyfit contour``: likelihood scans written as a table and a plot.

Both fit first (MIGRAD; ``--no-fit`` scans around the values in the models file, e.g. a
``skyfit fit`` best fit), then scan with :class:`~skyfit.fit.MapFit`: a slice (other
parameters held at the best fit: ``likelihood_profile`` / ``likelihood_contour``) or, with
``--reoptimize``, the profile likelihood (others re-fitted at each point:
``minos_profile`` / ``minos_contour``). The table holds the statistic and its rise
above the best fit, ``delta_stat``; the plot is :func:`skyfit.plot.plot_profile` or
:func:`skyfit.plot.plot_contour`.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ._common import CLIError, check_outputs, free_parameter, load_fit, slug, write_table
from .fit import add_input_arguments

__all__ = ["add_parsers"]


def add_parsers(sub, formatter_class) -> None:
    """Register ``skyfit profile`` and ``skyfit contour`` on the sub-parsers ``sub``.

    Examples
    --------
    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="skyfit")
    >>> add_parsers(parser.add_subparsers(), argparse.RawDescriptionHelpFormatter)
    >>> args = parser.parse_args(["profile", "d.fits", "m.yaml", "index", "--reoptimize",
    ...                           "--bounds", "2.0", "2.6"])
    >>> args.parameter, args.reoptimize, args.bounds, args.nvalues, args.format
    ('index', True, [2.0, 2.6], 11, 'ecsv')
    >>> parser.parse_args(["contour", "d.fits", "m.yaml", "index", "amplitude"]).numpoints
    20
    """
    prof = sub.add_parser(
        "profile", help="likelihood profile of one parameter (table + plot)",
        formatter_class=formatter_class,
        description="Fit, then scan the statistic along one parameter: a slice (others "
        "at the best fit) or, with --reoptimize, the profile likelihood (others re-fitted "
        "at each point). Writes profile_<param>.ecsv (or .yaml) and profile_<param>.png.",
        epilog="examples:\n  skyfit profile data.fits models.yaml index --name Fermi-LAT\n"
        "  skyfit profile datasets.yaml models.yaml \"Crab Nebula.alpha\" --reoptimize "
        "--bounds 3 --nvalues 21 --output profiles\n"
        "  skyfit profile data.fits best-fit.yaml index --no-fit --values 2.0 2.1 2.2 "
        "--format yaml")
    add_input_arguments(prof)
    prof.add_argument("parameter", help="parameter name (unique short or qualified name)")
    prof.add_argument("--values", nargs="+", type=float, metavar="V",
                      help="values to evaluate, in the parameter's unit")
    add_scan_arguments(prof)
    prof.set_defaults(func=run_profile)

    cont = sub.add_parser(
        "contour", help="likelihood contour of two parameters (table + plot)",
        formatter_class=formatter_class,
        description="Fit, then the statistic of two parameters: a slice grid (others at "
        "the best fit) or, with --reoptimize, the MINOS contour (others re-fitted; "
        "--numpoints points where the profile rises by --sigma squared). Writes "
        "contour_<x>_<y>.ecsv (or .yaml) and contour_<x>_<y>.png.",
        epilog="examples:\n  skyfit contour data.fits models.yaml index amplitude "
        "--nvalues 21\n  skyfit contour datasets.yaml models.yaml alpha beta --reoptimize "
        "--numpoints 20 --output contours")
    add_input_arguments(cont)
    cont.add_argument("x", help="first parameter (x axis)")
    cont.add_argument("y", help="second parameter (y axis)")
    cont.add_argument("--x-values", nargs="+", type=float, metavar="V",
                      help="slice grid values of x")
    cont.add_argument("--y-values", nargs="+", type=float, metavar="V",
                      help="slice grid values of y")
    cont.add_argument("--numpoints", type=int, default=20,
                      help="MINOS contour points (default 20)")
    cont.add_argument("--sigma", type=float, default=1.0,
                      help="MINOS contour level: delta stat = sigma**2 (default 1)")
    add_scan_arguments(cont)
    cont.set_defaults(func=run_contour)


def add_scan_arguments(parser) -> None:
    """Options shared by ``profile`` and ``contour``: range, re-fit, outputs."""
    parser.add_argument("--reoptimize", action="store_true",
                        help="re-fit the other free parameters at each point (MINOS)")
    parser.add_argument("--bounds", nargs="+", type=float, default=[2.0], metavar="B",
                        help="scan range: N (value +- N errors, default 2) or MIN MAX")
    parser.add_argument("--nvalues", type=int, default=11,
                        help="grid points per parameter (default 11)")
    parser.add_argument("--no-fit", action="store_true",
                        help="scan around the values in the models file, without fitting")
    parser.add_argument("--backend", choices=["minuit", "scipy"], default="minuit",
                        help="optimiser (default minuit)")
    parser.add_argument("--format", choices=["ecsv", "yaml"], default="ecsv",
                        help="table format (default ecsv)")
    parser.add_argument("--output", default=".", help="folder for the table and the plot "
                        "(default: current folder)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing files")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run_profile(args) -> int:
    """``skyfit profile``: exit code 1 when the fit or a profile point failed."""
    bounds = _bounds(args.bounds)
    fit = load_fit(args.datasets, args.models, args.name)  # reads files, compiles nothing
    name, par = free_parameter(fit.models, args.parameter)
    stem = Path(args.output) / f"profile_{slug(name)}"
    table, png = stem.with_suffix(f".{args.format}"), stem.with_suffix(".png")
    check_outputs([table, png], args.overwrite)
    success = _best_fit(fit, args)
    best_value, best_stat = par.value, fit.total_stat()
    t0 = time.perf_counter()
    try:
        if args.reoptimize:
            prof = fit.minos_profile(name, values=args.values, bounds=bounds,
                                     nvalues=args.nvalues, backend=args.backend,
                                     progress=False if args.quiet else None)
        else:
            prof = fit.likelihood_profile(name, values=args.values, bounds=bounds,
                                          nvalues=args.nvalues)
    except ValueError as exc:  # e.g. no error to set the range: names the way out
        raise CLIError(str(exc)) from None
    stat = np.asarray(prof["likelihood"], float)
    ok = np.asarray(prof.get("success", np.ones(stat.size, bool)), bool)
    kind = "profile (others re-fitted)" if args.reoptimize else "slice (others fixed)"
    meta = {"parameter": name, "unit": str(par.unit), "kind": kind,
            "best_value": float(best_value), "best_stat": float(best_stat),
            "datasets": str(args.datasets), "models": str(args.models)}
    write_table({"value": np.asarray(prof["values"], float), "stat": stat,
                 "delta_stat": stat - best_stat, "success": ok}, meta, table)
    _save_plot(png, "profile", prof, value=best_value, best_stat=best_stat,
               parameter=_label(name, par))
    print(f"{kind} of {name} at {len(stat)} values in {time.perf_counter() - t0:.2f} s "
          f"(best fit {f'{best_value:.6g} {par.unit}'.strip()}, stat {best_stat:.3f}): "
          f"delta stat from {np.nanmin(stat - best_stat):.3g} to "
          f"{np.nanmax(stat - best_stat):.3g}")
    print(f"wrote {table} and {png}")
    return 0 if success and ok.all() else 1


def run_contour(args) -> int:
    """``skyfit contour``: exit code 1 when the fit or the MINOS contour failed."""
    bounds = _bounds(args.bounds)
    fit = load_fit(args.datasets, args.models, args.name)
    (xname, px), (yname, py) = (free_parameter(fit.models, n) for n in (args.x, args.y))
    if px is py:
        raise CLIError(f"contour needs two different parameters, got {xname!r} twice")
    stem = Path(args.output) / f"contour_{slug(xname)}_{slug(yname)}"
    table, png = stem.with_suffix(f".{args.format}"), stem.with_suffix(".png")
    check_outputs([table, png], args.overwrite)
    success = _best_fit(fit, args)
    best = (px.value, py.value)
    best_stat = fit.total_stat()
    t0 = time.perf_counter()
    meta = {"x": xname, "y": yname, "x_unit": str(px.unit), "y_unit": str(py.unit),
            "best_x": float(best[0]), "best_y": float(best[1]), "best_stat": float(best_stat),
            "datasets": str(args.datasets), "models": str(args.models)}
    try:
        if args.reoptimize:
            cont = fit.minos_contour(xname, yname, numpoints=args.numpoints,
                                     sigma=args.sigma)
            success = success and bool(cont["success"])
            meta.update(kind="MINOS contour (others re-fitted)", sigma=args.sigma,
                        delta_stat=args.sigma**2, success=bool(cont["success"]),
                        **{f"{k}_minos": {"errp": float(cont[f"{k}_info"]["errp"]),
                                          "errn": float(cont[f"{k}_info"]["errn"])}
                           for k in ("x", "y")})
            columns = {"x": np.asarray(cont["x"], float), "y": np.asarray(cont["y"], float)}
            plot_kw = {}
        else:
            cont = fit.likelihood_contour(xname, yname, x_values=args.x_values,
                                          y_values=args.y_values, bounds=bounds,
                                          nvalues=args.nvalues,
                                          progress=False if args.quiet else None)
            meta["kind"] = "slice grid (others fixed)"
            gx, gy = np.meshgrid(cont["x"], cont["y"], indexing="ij")
            stat = np.asarray(cont["likelihood"], float)
            columns = {"x": gx.ravel(), "y": gy.ravel(), "stat": stat.ravel(),
                       "delta_stat": stat.ravel() - best_stat}
            plot_kw = {"sigmas": (1, 2)}
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    write_table(columns, meta, table)
    _save_plot(png, "contour", cont, best=best, best_stat=best_stat,
               x_label=_label(xname, px), y_label=_label(yname, py), **plot_kw)
    print(f"{meta['kind']} of {xname} and {yname}: {len(columns['x'])} points in "
          f"{time.perf_counter() - t0:.2f} s")
    print(f"wrote {table} and {png}")
    return 0 if success else 1


def _bounds(values: list[float]):
    """``--bounds N`` (errors) or ``--bounds MIN MAX``, as ``MapFit`` takes them."""
    if len(values) == 1:
        if not values[0] > 0:
            raise CLIError(f"--bounds N needs N > 0 (errors each side), got {values[0]:g}")
        return values[0]
    if len(values) == 2 and values[0] < values[1]:
        return tuple(values)
    raise CLIError(f"--bounds takes N (errors each side) or MIN MAX with MIN < MAX, got "
                   f"{values}")


def _best_fit(fit, args) -> bool:
    """Fit unless ``--no-fit``; print one line; False if the fit failed."""
    if args.no_fit:
        return True
    result = fit.optimize(backend=args.backend)
    print(f"fit: {'success' if result.success else 'FAILED'}, stat {result.total_stat:.3f} "
          f"({result.message})")
    return result.success


def _label(name: str, par) -> str:
    return f"{name} [{par.unit}]" if str(par.unit) else name


def _save_plot(path: Path, kind: str, data: dict, **kwargs) -> None:
    from matplotlib.figure import Figure  # no pyplot: no display, nothing left open

    from ..plot import plot_contour, plot_profile

    fig = Figure(figsize=(5.5, 4))
    (plot_profile if kind == "profile" else plot_contour)(data, ax=fig.add_subplot(), **kwargs)
    fig.savefig(path, dpi=100, bbox_inches="tight")
