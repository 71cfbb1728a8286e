"""The ``skyfit`` command line: demo, simulate, fit, profile, contour, sample, info.

Examples::

    skyfit demo                                    # simulate and fit, no download
    skyfit simulate --output sims --n 10 --seed 1  # synthetic datasets + models.yaml
    skyfit fit datasets.yaml models.yaml --output results
    skyfit fit data.fits models.yaml --name Fermi-LAT --minos "Crab Nebula.alpha"
    skyfit profile data.fits models.yaml index --reoptimize --output profiles
    skyfit contour data.fits models.yaml index amplitude --output contours
    skyfit sample data.fits --models models_priors.yaml --report crab/report.md
    skyfit info data.fits models.yaml

Outputs go to a folder (``--output``) and existing files are never replaced without
``--overwrite``; a problem with the inputs (missing file, unknown parameter...) is one
line on standard error and exit code 2.
"""

from __future__ import annotations

import argparse
import sys

from . import demo, fit, profile, simulate
from ._common import CLIError

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    """The ``skyfit`` parser with every sub-command (``sample`` is parsed by
    :func:`skyfit.bayes.cli_sample`, so that ``skyfit --help`` does not import PyMC)."""
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(prog="skyfit", description=__doc__, formatter_class=raw)
    sub = parser.add_subparsers(dest="command", required=True)
    demo.add_parser(sub, raw)
    simulate.add_parser(sub, raw)
    fit.add_parsers(sub, raw)
    profile.add_parsers(sub, raw)
    sub.add_parser("sample", add_help=False,
                   help="NUTS posterior sampling with a diagnostics report (skyfit sample -h)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``skyfit`` command with ``argv`` (default: ``sys.argv[1:]``); the exit code.

    Examples
    --------
    ``skyfit info models.yaml`` from Python:

    >>> import tempfile
    >>> from pathlib import Path
    >>> from skyfit.models import FoVBackgroundModel, Models
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder) / "models.yaml"
    ...     Models([FoVBackgroundModel("obs")]).write(path)
    ...     code = main(["info", str(path)])
    Models(['obs-bkg'])
    >>> code
    0
    """
    import warnings

    # PyTensor's note about BLAS linking is about its own speed, not about results
    warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS")
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["sample"]:
        from ..bayes import cli_sample  # PyMC only when sampling

        return cli_sample(argv[1:])
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except CLIError as exc:
        print(f"skyfit {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
