"""Plots of datasets, fits and profiles (matplotlib, imported only when a plot is drawn).

Every function draws on an optional ``ax`` (or ``axes``) and returns ``(fig, ax)`` (or
``(fig, axes)``), so figures can be composed and inspected. Importing this package does
not import matplotlib; each function imports it on first use.

* :func:`plot_residual_maps` -- counts, npred and residual significance per energy band;
* :func:`plot_spectrum` -- best-fit ``E^2 dN/dE`` with its band (covariance or posterior),
  computed by :func:`spectrum_band`;
* :func:`plot_counts_spectrum` -- observed against predicted counts per energy bin;
* :func:`plot_profile`, :func:`plot_contour` -- likelihood profiles with the MINOS interval,
  and 2-D slice grids or MINOS contours.

Trace, rank and pair plots of posterior samples are drawn by :mod:`skyfit.bayes.report`
(through ``arviz_plots``).

Examples
--------
>>> import sys, skyfit.plot
>>> "matplotlib.pyplot" in sys.modules or "not imported by skyfit.plot"  # doctest: +SKIP
'not imported by skyfit.plot'
"""

from .counts import counts_spectrum, plot_counts_spectrum
from .maps import band_slices, plot_residual_maps, residual_significance, source_positions
from .profile import plot_contour, plot_profile, profile_minimum
from .spectrum import plot_spectrum, spectrum_band

__all__ = ["band_slices", "counts_spectrum", "plot_contour", "plot_counts_spectrum",
           "plot_profile", "plot_residual_maps", "plot_spectrum", "profile_minimum",
           "residual_significance", "source_positions", "spectrum_band"]
