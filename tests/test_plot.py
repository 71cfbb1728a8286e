"""Plots (skyfit.plot) on a small synthetic fit: content of the figures, not only no error."""

from __future__ import annotations

import subprocess
import sys

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from skyfit.datasets.synthetic import synthetic_dataset
from skyfit.fit import MapFit
from skyfit.models import FoVBackgroundModel, Models, SkyModel
from skyfit.models.spatial import PointSpatialModel
from skyfit.models.spectral import PowerLawSpectralModel
from skyfit.plot import (
    band_slices,
    counts_spectrum,
    plot_contour,
    plot_counts_spectrum,
    plot_profile,
    plot_residual_maps,
    plot_spectrum,
    residual_significance,
    spectrum_band,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def fitted():
    """Point source (frozen position) over background on 16 x 16 pixels, fitted, + MINOS."""
    ds = synthetic_dataset(npix=(16, 16), binsz=0.05, background_rate=0.05, name="toy")
    spatial = PointSpatialModel(lon_0=0.1, lat_0=-0.05, frame="galactic")
    for par in spatial.parameters:
        par.frozen = True
    src = SkyModel(spatial, PowerLawSpectralModel(amplitude=2e-12, index=2.3), name="src")
    models = Models([src, FoVBackgroundModel("toy")])
    ds.models = models
    ds.fake(random_seed=2)
    models.parameter("index").value = 2.0
    fit = MapFit.from_datasets([ds], models)
    result = fit.run()
    assert result.success, result.message
    interval = fit.confidence("index")
    assert interval["success"], interval["message"]
    return fit, result, interval


def test_plot_does_not_import_matplotlib_with_the_fit_path():
    code = ("import sys, skyfit, skyfit.fit, skyfit.plot; "
            "assert 'matplotlib' not in sys.modules, 'matplotlib imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_residual_significance_cash_and_simple():
    n, mu = np.array([0.0, 3.0, 50.0, 400.0]), np.array([2.0, 3.0, 40.0, 441.0])
    cash = residual_significance(n, mu)
    expected = np.sign(n - mu) * np.sqrt(2 * (mu - n + np.where(n > 0, n * np.log(
        np.where(n > 0, n, 1) / mu), 0)))
    np.testing.assert_allclose(cash, expected)
    assert cash[0] == pytest.approx(-2.0) and cash[1] == 0
    simple = residual_significance(n, mu, method="simple")
    np.testing.assert_allclose(simple, (n - mu) / np.sqrt(mu))
    assert cash[3] == pytest.approx(simple[3], rel=0.05)  # Gaussian limit
    assert np.isnan(residual_significance([1.0], [0.0])[0])
    with pytest.raises(ValueError, match="unknown method"):
        residual_significance(n, mu, method="lima")


def test_band_slices():
    edges = np.geomspace(0.1, 10, 7)
    assert [b.tolist() for b, _, _ in band_slices(edges)] == [list(range(6))]
    bands = band_slices(edges, 3)
    assert [b.tolist() for b, _, _ in bands] == [[0, 1], [2, 3], [4, 5]]
    assert bands[1][1:] == pytest.approx((edges[2], edges[4]))
    with pytest.raises(ValueError, match="no energy bin"):
        band_slices(edges, [(20, 30)])


def test_residual_maps_content(fitted):
    fit, _, _ = fitted
    ds = fit.datasets[0]
    fig, axes = plot_residual_maps(ds, energy_bands=[(0.1, 1.0), (1.0, 10.0)])
    assert axes.shape == (2, 3)
    assert len(fig.axes) == 12  # six maps, six colour bars
    counts, npred = ds.counts.data, ds.npred()
    for row, sl in zip(axes, (slice(0, 3), slice(3, 6)), strict=True):
        n = row[0].images[0].get_array()
        mu = row[1].images[0].get_array()
        sig = row[2].images[0].get_array()
        assert n.shape == (16, 16)
        np.testing.assert_allclose(n, counts[sl].sum(axis=0))
        np.testing.assert_allclose(mu, npred[sl].sum(axis=0))
        np.testing.assert_allclose(sig, residual_significance(n, mu))
        assert row[2].images[0].get_clim()[0] == -row[2].images[0].get_clim()[1]
    assert axes[0, 0].get_title() == "counts, 0.1-1 TeV"
    assert axes[1, 2].get_title() == "significance, 1-10 TeV"
    assert axes[0, 0].coords[0].get_axislabel() == "Galactic longitude"
    # the source marker sits on the source's pixel (0.1, -0.05 deg in galactic)
    marker = next(ln for ln in axes[0, 1].lines if ln.get_label() == "src")
    x, y = ds.counts.geom.world_to_pix(0.1, -0.05)
    assert (marker.get_xdata()[0], marker.get_ydata()[0]) == pytest.approx((x[0], y[0]))
    assert axes[0, 1].get_xlim() == pytest.approx((-0.5, 15.5))


def test_residual_maps_mask_and_given_axes(fitted):
    fit, _, _ = fitted
    ds = fit.datasets[0]
    fig, grid = plt.subplots(1, 3)
    from skyfit.maps import Map

    mask = np.ones(ds.counts.data.shape, bool)
    mask[:, :, :4] = False
    ds.mask_fit = Map(ds.counts.geom, mask)
    try:
        out_fig, axes = plot_residual_maps(ds, axes=grid, method="simple", sources=False)
    finally:
        ds.mask_fit = None
    assert out_fig is fig and axes.shape == (1, 3)
    n = np.ma.filled(axes[0, 0].images[0].get_array(), np.nan)
    assert np.all(np.isnan(n[:, :4])) and np.all(np.isfinite(n[:, 4:]))
    assert axes[0, 2].get_title().startswith("(n - mu) / sqrt(mu)")
    assert axes[0, 0].get_xlabel() == "x [pixel]"


def test_spectrum_band_from_covariance_matches_power_law_formula(fitted):
    fit, result, _ = fitted
    src = fit.models["src"]
    energy = np.geomspace(0.1, 10, 30)
    band = spectrum_band(src, result.covariance_result, energy)
    assert band["parameters"] == ["index", "amplitude"]
    cov = result.covariance_result
    i, a = cov.names.index("src.index"), cov.names.index("src.amplitude")
    amp, idx = src.spectral_model.parameters["amplitude"].value, fit.models.parameter(
        "index").value
    flux = energy**2 * amp * energy**-idx
    np.testing.assert_allclose(band["flux"], flux, rtol=1e-12)
    # d flux = flux * (d amp / amp - ln(E) d index)
    log_e = np.log(energy)
    rel_var = (cov.matrix[a, a] / amp**2 + log_e**2 * cov.matrix[i, i]
               - 2 * log_e * cov.matrix[i, a] / amp)
    np.testing.assert_allclose(band["hi"] - flux, flux * np.sqrt(rel_var), rtol=1e-4)
    np.testing.assert_allclose(flux - band["lo"], flux * np.sqrt(rel_var), rtol=1e-4)
    # the same through a MapFit (parameters matched by identity)
    via_fit = spectrum_band(src, fit, energy)
    np.testing.assert_allclose(via_fit["hi"], band["hi"], rtol=1e-3)


def test_plot_spectrum_band_contains_best_fit(fitted):
    fit, result, _ = fitted
    _fig, ax = plot_spectrum(fit.models["src"], result, (0.1, 10), n_points=40)
    line = ax.lines[0]
    x, y = line.get_data()
    assert x[0] == pytest.approx(0.1) and x[-1] == pytest.approx(10) and x.size == 40
    verts = ax.collections[0].get_paths()[0].vertices
    assert verts[:, 0].min() == pytest.approx(0.1) and verts[:, 0].max() == pytest.approx(10)
    band = spectrum_band(fit.models["src"], result, x)
    assert np.all(band["lo"] < y) and np.all(y < band["hi"])
    # the drawn polygon spans [lo, hi] at every energy
    for k in (0, 20, 39):
        at = verts[np.isclose(verts[:, 0], x[k]), 1]
        assert at.min() == pytest.approx(band["lo"][k]) and at.max() == pytest.approx(
            band["hi"][k])
    assert ax.get_xscale() == ax.get_yscale() == "log"
    assert ax.get_xlabel() == "Energy [TeV]"
    assert ax.get_ylabel() == "E^2 dN/dE [TeV cm-2 s-1]"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "src", "src 1 sigma (covariance)"]
    lo_y, hi_y = ax.get_ylim()
    assert lo_y <= band["lo"].min() and hi_y >= band["hi"].max()


def test_spectrum_band_from_posterior_draws(fitted):
    fit, result, _ = fitted
    cov = result.covariance_result
    rng = np.random.default_rng(0)
    draws = rng.multivariate_normal([fit.models.parameter(n).value for n in cov.names],
                                    cov.matrix, size=20000)
    posterior = {n.split(".")[-1]: draws[:, k] for k, n in enumerate(cov.names)}
    energy = np.geomspace(0.1, 10, 9)
    post = spectrum_band(fit.models["src"], posterior=posterior, energy=energy)
    lin = spectrum_band(fit.models["src"], cov, energy)
    half = (lin["hi"] - lin["lo"]) / 2
    np.testing.assert_allclose((post["hi"] - post["lo"]) / 2, half, rtol=0.05)
    np.testing.assert_allclose(post["median"], lin["flux"], atol=0.1 * half.max())
    _fig, ax = plot_spectrum(fit.models["src"], energy_range=(0.1, 10), posterior=posterior)
    assert ax.get_legend().get_texts()[1].get_text() == "src 1 sigma (posterior)"
    with pytest.raises(ValueError, match="either covariance or posterior"):
        spectrum_band(fit.models["src"], cov, posterior=posterior)


def test_counts_spectrum_content(fitted):
    fit, _, _ = fitted
    ds = fit.datasets[0]
    fig, (top, bottom) = plot_counts_spectrum(ds)
    spec = counts_spectrum(ds)
    np.testing.assert_allclose(spec["counts"], ds.counts.data.sum(axis=(1, 2)))
    stairs = top.patches[0]
    np.testing.assert_allclose(stairs.get_data().values, ds.npred().sum(axis=(1, 2)))
    np.testing.assert_allclose(stairs.get_data().edges, np.geomspace(0.1, 10, 7))
    points = top.lines[0].get_ydata()
    np.testing.assert_allclose(points, spec["counts"])
    res = bottom.lines[-1].get_ydata()
    np.testing.assert_allclose(res, residual_significance(spec["counts"], spec["npred"]))
    assert top.get_ylabel() == "counts" and bottom.get_xlabel() == "Energy [TeV]"
    assert bottom.get_ylim()[1] >= np.abs(res).max()
    assert len(fig.axes) == 2


def test_profile_with_minos_lines(fitted):
    fit, result, interval = fitted
    par = fit.models.parameter("index")
    profile = fit.minos_profile("index", bounds=2, nvalues=9)
    _fig, ax = plot_profile(profile, interval, value=par.value, best_stat=result.total_stat,
                           parameter="src.index")
    lines = {ln.get_label(): ln for ln in ax.lines}
    assert lines["MINOS"].get_xdata()[0] == pytest.approx(par.value - interval["errn"])
    assert lines["_minos_upper"].get_xdata()[0] == pytest.approx(par.value + interval["errp"])
    assert lines["delta stat = 1"].get_ydata()[0] == 1
    x, delta = lines["profile"].get_data()
    order = np.argsort(profile["values"])
    np.testing.assert_allclose(x, profile["values"][order])
    np.testing.assert_allclose(delta, profile["likelihood"][order] - result.total_stat)
    # the profile crosses delta stat = 1 at the MINOS ends (re-optimised profile)
    for end in (par.value - interval["errn"], par.value + interval["errp"]):
        assert np.interp(end, x, delta) == pytest.approx(1.0, abs=0.15)
    assert ax.get_xlabel() == "src.index" and ax.get_ylabel() == "delta stat (Cash)"
    assert min(delta) >= -1e-3


def test_profile_marks_failed_points_and_finds_minimum():
    x = np.linspace(-2, 2, 9)
    prof = {"values": x, "likelihood": 5 + (x - 0.3) ** 2,
            "success": np.arange(9) != 4}
    _fig, ax = plot_profile(prof)
    failed = next(ln for ln in ax.lines if ln.get_label() == "fit failed at point")
    assert failed.get_xdata().tolist() == [0.0]
    assert ax.get_xlabel() == "parameter value"
    assert not any(ln.get_label() == "MINOS" for ln in ax.lines)


def test_slice_contour(fitted):
    fit, _, _ = fitted
    cont = fit.likelihood_contour("index", "amplitude", bounds=3, nvalues=9)
    _fig, ax = plot_contour(cont, x_label="index", y_label="amplitude")
    cs = ax.collections[0]
    assert list(cs.levels) == [1, 4]
    ring = np.concatenate(cs.allsegs[0])
    assert cont["x"].min() < ring[:, 0].min() and ring[:, 0].max() < cont["x"].max()
    index = fit.models.parameter("index")
    # a slice (others fixed) is narrower than the profile: inside +-1.2 sigma
    assert np.all(np.abs(ring[:, 0] - index.value) < 1.2 * index.error)
    best = next(ln for ln in ax.lines if ln.get_label() == "best fit")
    assert best.get_xdata()[0] in cont["x"]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("index", "amplitude")


def test_minos_contour_points(fitted):
    fit, _, interval = fitted
    cont = fit.minos_contour("index", "amplitude", numpoints=8)
    index = fit.models.parameter("index")
    amp = fit.models.parameter("amplitude")
    _fig, ax = plot_contour(cont, best=(index.value, amp.value))
    xs, ys = ax.lines[0].get_data()
    assert xs.size == cont["x"].size + 1 and (xs[0], ys[0]) == (xs[-1], ys[-1])
    # projections of the 1-sigma MINOS contour reach the 1-D MINOS interval
    assert xs.max() == pytest.approx(index.value + interval["errp"], rel=0.01)
    assert xs.min() == pytest.approx(index.value - interval["errn"], rel=0.01)
    dashed = [ln.get_xdata()[0] for ln in ax.lines if ln.get_linestyle() == "--"]
    assert index.value + cont["x_info"]["errp"] in dashed
    assert ax.get_xlabel() == "x"


def test_demo_plots_written_and_never_overwritten(fitted, tmp_path, capsys):
    from skyfit.cli import main
    from skyfit.cli.demo import plot_files_in, write_plots

    fit, result, interval = fitted
    folder = tmp_path / "plots"
    files = plot_files_in(str(folder))
    write_plots(fit, result, interval, files, "src.index")
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["demo_profile_point-index.png", "demo_residual_maps.png",
                     "demo_spectrum.png"]
    for name in names:
        assert (folder / name).read_bytes()[:4] == b"\x89PNG"
    # `skyfit demo --plots` refuses before simulating anything when a plot file exists
    before = (folder / names[0]).stat().st_mtime_ns
    assert main(["demo", "--npix", "16", "--plots", str(folder)]) == 2
    out = capsys.readouterr()
    assert "refusing to overwrite" in out.err and "fit" not in out.out
    assert (folder / names[0]).stat().st_mtime_ns == before
    assert "--plots DIR" in subprocess.run(
        [sys.executable, "-m", "skyfit.cli", "demo", "--help"], check=True,
        capture_output=True, text=True).stdout
