"""Brute-force npred of the Galactic-centre disks (reference for skyfit's round-source path).

Gammapy evaluates a disk on the pixel grid (1-2 samples per pixel side here), then
convolves with a PSF kernel that is itself integrated over pixels: the rim is smoothed
by about a pixel more than the sky model says. skyfit convolves the disk with the PSF
profile exactly (``skyfit.forward.convolved``) and integrates the result over each pixel.
This script computes the disks' npred without either approximation and independently of
skyfit:

- the disk brightness (Gammapy's own ``evaluate``, 4 x 4 samples per cell) and the PSF
  profile (the PSF map at the disk centre, linear in rad between the table nodes, as
  Gammapy; 3 x 3 samples per cell) on a fine tangent-plane grid (0.005 deg), convolved by
  FFT;
- the result interpolated at 10 x 10 sub-pixels of every map pixel (gnomonic offsets),
  times the exact sub-pixel solid angle, the exposure at the pixel centre, the exact
  spectral integral per true-energy bin (scipy.quad), and the dispersion kernel at the
  disk centre.

It writes ``reference/bruteforce_gc_disks.json``: per disk and energy, Gammapy's and the
brute force's counts, and Gammapy's GC statistic with its point sources and disks replaced
by the brute-force ones (``stat_with_bruteforce_points_and_disks``); and
``reference/bruteforce_gc_disks.npz``: each disk's brute-force npred (float32) in the box
of pixels where it is above 1e-9 of its peak (``<name>`` and ``<name>:box``, the box as
``y0, y1, x0, x1``). Run with Gammapy 2.1::

    .venv/bin/python validation/make_bruteforce_disks.py    # ~1 min
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import astropy.units as u
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from make_gammapy_reference import (  # noqa: E402
    GC_DATA,
    GC_MODELS,
    _exact_band_flux,
    bruteforce_point_npred,
    load_dataset,
    provenance,
)

FINE = 0.005  # deg, the tangent-plane grid of the convolution
NSUB = 10  # sub-pixels per map pixel side


def _psf_profiles(dataset, position, energies):
    psf_map = dataset.psf.psf_map
    rad = psf_map.geom.axes["rad"].center
    profiles = [np.clip(np.asarray(psf_map.interp_by_coord(
        {"skycoord": position, "rad": rad, "energy_true": e}, method="linear"), float), 0, None)
        for e in energies]
    return rad.to_value("deg"), np.array(profiles)


def _supersampled(fn, x, y, n):
    """Mean of ``fn(x + dx, y + dy)`` over n x n offsets within each FINE cell."""
    off = ((np.arange(n) + 0.5) / n - 0.5) * FINE
    return sum(fn(x + dx, y + dy) for dx in off for dy in off) / n**2


def bruteforce_disk_npred(dataset, model):
    """npred (reco energy, full map) of one disk, as described in the module docstring."""
    from astropy.coordinates import SkyCoord
    from scipy.ndimage import map_coordinates
    from scipy.signal import fftconvolve

    geom = dataset.exposure.geom
    etrue = geom.axes["energy_true"]
    spatial = model.spatial_model
    center = spatial.position  # the tangent plane is in the model's frame
    rad, profiles = _psf_profiles(dataset, spatial.position, etrue.center)
    reach = float(spatial.evaluation_radius.to_value("deg")) + rad.max()
    n = int(np.ceil(reach / FINE))
    axis = np.arange(-n, n + 1) * FINE
    xx, yy = np.meshgrid(axis, axis)  # tangent-plane offsets (deg): x east, y north

    def disk(x, y):
        lon, lat = _untangent(center, x, y)
        return spatial.evaluate(lon * u.deg, lat * u.deg, **{
            p.name: p.quantity for p in spatial.parameters}).to_value("sr-1")

    brightness = _supersampled(disk, xx, yy, 4)
    cell = np.radians(FINE) ** 2
    images = []
    for prof in profiles:
        psf = _supersampled(lambda x, y, p=prof: np.interp(np.hypot(x, y), rad, p, right=0.0),
                            xx, yy, 3)
        images.append(fftconvolve(brightness, psf, mode="same") * cell)  # sr-1
    ny, nx = geom.data_shape[-2:]
    sub = (np.arange(NSUB) + 0.5) / NSUB - 0.5
    xs, ys = np.arange(nx)[:, None] + sub, np.arange(ny)[:, None] + sub
    px, py = np.meshgrid(xs.ravel(), ys.ravel())
    sky = SkyCoord.from_pixel(px.ravel(), py.ravel(), geom.wcs)
    east, north = _tangent(center, sky.transform_to(center.frame))
    inside = (np.abs(east) < n * FINE) & (np.abs(north) < n * FINE)
    lat = np.radians(sky.spherical.lat.to_value("deg"))
    d = np.radians(abs(float(geom.pixel_scales[0].to_value("deg"))) / NSUB)
    domega = d * 2 * np.sin(d / 2) * np.cos(lat)
    flux = _exact_band_flux(model.spectral_model, etrue.edges)
    expo = dataset.exposure.quantity.to_value("cm2 s")
    out_true = np.zeros((etrue.nbin, ny, nx))
    coords = np.array([north[inside] / FINE + n, east[inside] / FINE + n])
    for i, image in enumerate(images):
        w = np.zeros(sky.shape)
        w[inside] = map_coordinates(image, coords, order=1) * domega[inside]
        w = w.reshape(ny, NSUB, nx, NSUB).sum(axis=(1, 3))
        out_true[i] = w * flux[i] * expo[i]
    edisp = dataset.edisp.get_edisp_kernel(position=spatial.position,
                                           energy_axis=dataset.counts.geom.axes["energy"])
    return np.einsum("iyx,ij->jyx", out_true, edisp.pdf_matrix)


def _tangent(center, sky):
    """Gnomonic offsets (deg) of ``sky`` from ``center``: east (lon), north (lat)."""
    lon0, lat0 = center.spherical.lon.radian, center.spherical.lat.radian
    lon, lat = sky.spherical.lon.radian, sky.spherical.lat.radian
    cos_c = np.sin(lat0) * np.sin(lat) + np.cos(lat0) * np.cos(lat) * np.cos(lon - lon0)
    x = np.cos(lat) * np.sin(lon - lon0) / cos_c
    y = (np.cos(lat0) * np.sin(lat) - np.sin(lat0) * np.cos(lat) * np.cos(lon - lon0)) / cos_c
    return np.degrees(x), np.degrees(y)


def _untangent(center, x, y):
    """Inverse of :func:`_tangent`: (lon, lat) in deg in the centre's frame."""
    lon0, lat0 = center.spherical.lon.radian, center.spherical.lat.radian
    x, y = np.radians(x), np.radians(y)
    rho = np.hypot(x, y)
    c = np.arctan(rho)
    with np.errstate(invalid="ignore", divide="ignore"):
        lat = np.arcsin(np.cos(c) * np.sin(lat0) + np.where(
            rho > 0, y * np.sin(c) * np.cos(lat0) / rho, 0.0))
    lon = lon0 + np.arctan2(x * np.sin(c),
                            rho * np.cos(lat0) * np.cos(c) - y * np.sin(lat0) * np.sin(c))
    return np.degrees(lon), np.degrees(lat)


def main() -> None:
    from gammapy.modeling.models import DiskSpatialModel, PointSpatialModel
    from gammapy.stats import cash

    ds = load_dataset(GC_DATA, GC_MODELS, "fermi-3fhl-gc")
    counts = ds.counts.data.astype(float)
    mask = ds.mask.data.astype(bool)
    total = ds.npred().data.astype(float)
    replaced = total.copy()
    per, cubes = {}, {}
    for model in ds.models:
        spatial = getattr(model, "spatial_model", None)
        if isinstance(spatial, PointSpatialModel):
            bf, _ = bruteforce_point_npred(ds, model, nsub=NSUB)
        elif isinstance(spatial, DiskSpatialModel):
            bf = bruteforce_disk_npred(ds, model)
        else:
            continue
        g = ds.npred_signal(model_names=[model.name]).data.astype(float)
        replaced += bf - g
        if isinstance(spatial, DiskSpatialModel):
            per[model.name] = {"gammapy_per_energy": g.sum(axis=(1, 2)).tolist(),
                               "bruteforce_per_energy": bf.sum(axis=(1, 2)).tolist()}
            ys, xs = np.nonzero(bf.max(axis=0) > 1e-9 * bf.max())
            box = (ys.min(), ys.max() + 1, xs.min(), xs.max() + 1)
            cubes[model.name] = bf[:, box[0]:box[1], box[2]:box[3]].astype(np.float32)
            cubes[model.name + ":box"] = np.array(box)
            print(model.name, np.round(bf.sum(axis=(1, 2)) / g.sum(axis=(1, 2)), 4), flush=True)
    out = {
        "provenance": provenance({"command": " ".join(sys.argv), "fine_deg": FINE,
                                  "nsub": NSUB}),
        "stat_gammapy": float(cash(counts, total)[mask].sum()),
        "stat_with_bruteforce_points_and_disks": float(cash(counts, replaced)[mask].sum()),
        "disks": per,
    }
    print(json.dumps({k: v for k, v in out.items() if k.startswith("stat")}))
    (HERE / "reference" / "bruteforce_gc_disks.json").write_text(json.dumps(out, indent=1))
    np.savez_compressed(HERE / "reference" / "bruteforce_gc_disks.npz", **cubes)


if __name__ == "__main__":
    main()
