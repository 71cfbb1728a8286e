"""Read and write Gammapy DL4 ("gadf") map HDUs: WCS images and single-region tables.

Layouts handled (as written by Gammapy 2.1):

* image: an ``ImageHDU`` with the WCS in its header, ``BUNIT``, ``AXCOLSn``/``INTERPn``
  naming the columns of each non-spatial axis in the ``BANDSHDU`` table
  (``E_MIN,E_MAX`` / ``NAME_MIN,NAME_MAX`` for binned axes, ``NAME`` for node axes);
  axis ``n = 1`` is the fastest-varying non-spatial FITS axis (NAXIS3).
* region: a ``BinTableHDU`` with ``CHANNEL`` and ``DATA`` columns (unit in ``TUNIT``), the
  flattened data of shape ``(axis_n, ..., axis_1, 1, 1)``, the same ``*_BANDS`` table and an
  optional ``*_REGION`` table.

Axis units come from the ``TUNIT`` of the bands columns; axis names from the first column
(``E_MIN`` -> ``energy``, ``THETA`` -> ``rad``, ``X_MIN`` / ``X`` -> ``x``).
"""

from __future__ import annotations

import warnings

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning

from .axis import MapAxis
from .geom import WcsGeom, frame_of_wcs
from .map import Map
from .region import RegionGeom

__all__ = [
    "FileFormatError",
    "axes_from_bands",
    "axes_header",
    "axes_to_bands",
    "map_from_hdulist",
    "map_to_hdus",
]


class FileFormatError(ValueError):
    """A file or HDU that is not in the expected Gammapy DL4 layout.

    Examples
    --------
    >>> try:
    ...     map_from_hdulist(fits.HDUList([fits.PrimaryHDU()]), "counts")
    ... except FileFormatError as exc:
    ...     print(exc)
    HDU 'COUNTS': no such HDU
    """


def _where(hdu: str, filename) -> str:
    return f"HDU {hdu!r}" + (f" of {filename}" if filename else "")


def _unit(text: str, what: str) -> u.UnitBase:
    try:
        return u.Unit(text or "", parse_strict="raise")
    except ValueError as exc:
        raise FileFormatError(f"{what}: invalid unit {text!r} ({exc})") from None


def _axis_name(first_col: str) -> str:
    if first_col in ("E_MIN", "ENERGY"):
        return "energy"
    name = first_col.removesuffix("_MIN").lower()
    return "rad" if name == "theta" else name  # Gammapy's backward-compatible rename


def axes_from_bands(hdu: fits.BinTableHDU, where: str = "") -> list[MapAxis]:
    """The non-spatial axes described by a ``*_BANDS`` table (``AXCOLSn``, ``INTERPn``).

    Examples
    --------
    >>> axis = MapAxis.from_energy_edges([0.1, 1.0, 10.0])
    >>> [ax.nbin for ax in axes_from_bands(axes_to_bands([axis], "X_BANDS"))]
    [2]
    """
    header, data = hdu.header, hdu.data
    axes = []
    for idx in range(1, 10):
        axcols = header.get(f"AXCOLS{idx}")
        if axcols is None:
            break
        cols = [c.strip() for c in axcols.split(",")]
        interp = header.get(f"INTERP{idx}", "lin")
        name = _axis_name(cols[0])
        names = [c.upper() for c in data.columns.names]
        missing = [c for c in cols if c.upper() not in names]
        if missing:
            raise FileFormatError(f"{where}: bands table lacks column(s) {missing} of AXCOLS{idx}")
        col = data.columns[cols[0]]
        unit = _unit(col.unit, f"{where} column {cols[0]}").to_string()
        if len(cols) == 2:
            lo = _in_order(data[cols[0]], f"{where} column {cols[0]}")
            hi = _in_order(data[cols[1]], f"{where} column {cols[1]}")
            edges = np.append(lo, hi[-1])
            axes.append(_axis(where, edges, name=name, unit=unit, interp=interp))
        else:
            nodes = _in_order(data[cols[0]], f"{where} column {cols[0]}")
            if nodes.size >= 2:
                axes.append(MapAxis.from_nodes(nodes, unit=unit, name=name, interp=interp))
            else:  # one node: take its bin from the *_MIN/_MAX columns when present
                lo, hi = f"{cols[0]}_MIN", f"{cols[0]}_MAX"
                if lo.upper() not in names:
                    raise FileFormatError(f"{where}: single-node axis {name!r} without edges")
                edges = [float(data[lo][0]), float(data[hi][0])]
                axes.append(_axis(where, edges, name=name, unit=unit, interp=interp,
                                  node_type="center", nodes=nodes))
    nbins = int(np.prod([ax.nbin for ax in axes]))
    if axes and nbins != len(data):
        raise FileFormatError(f"{where}: {len(data)} rows, but its axes "
                              f"{[ax.nbin for ax in axes]} give {nbins} bins (repeated edges?)")
    return axes


def _in_order(column, where: str) -> np.ndarray:
    """Distinct values of a bands column in file order; they must increase (as bins do)."""
    values = np.asarray(column, float)
    _, first = np.unique(values, return_index=True)
    values = values[np.sort(first)]
    if values.size > 1 and not np.all(np.diff(values) > 0):
        raise FileFormatError(f"{where}: values do not increase ({values.tolist()}); "
                              "energy/axis bins must be stored in increasing order")
    return values


def _axis(where: str, *args, **kwargs) -> MapAxis:
    try:
        return MapAxis(*args, **kwargs)
    except ValueError as exc:
        raise FileFormatError(f"{where}: {exc}") from None


def axes_header(axes) -> dict[str, str]:
    """``AXCOLSn`` / ``INTERPn`` cards for the axes, as Gammapy writes them.

    Examples
    --------
    >>> axes_header([MapAxis.from_energy_edges([0.1, 1.0, 10.0])])
    {'AXCOLS1': 'E_MIN,E_MAX', 'INTERP1': 'log'}
    """
    cards = {}
    for idx, ax in enumerate(axes, start=1):
        up = ax.name.upper()
        if ax.node_type == "center":
            cards[f"AXCOLS{idx}"] = up
        elif ax.name == "energy":
            cards[f"AXCOLS{idx}"] = "E_MIN,E_MAX"
        else:
            cards[f"AXCOLS{idx}"] = f"{up}_MIN,{up}_MAX"
        cards[f"INTERP{idx}"] = ax.interp
    return cards


def axes_to_bands(axes, name: str) -> fits.BinTableHDU:
    """The ``*_BANDS`` table HDU of the axes (Gammapy's column layout and row order).

    Examples
    --------
    >>> bands = axes_to_bands([MapAxis.from_energy_edges([0.1, 1.0, 10.0])], "COUNTS_BANDS")
    >>> bands.name, bands.columns.names
    ('COUNTS_BANDS', ['CHANNEL', 'ENERGY', 'E_MIN', 'E_MAX'])
    >>> bands.data["E_MAX"].tolist()
    [1.0, 10.0]
    """
    n = int(np.prod([ax.nbin for ax in axes]))
    cols = [fits.Column("CHANNEL", "K", array=np.arange(n, dtype=np.int64))]
    grids = [np.meshgrid(*[f(ax) for ax in axes]) for f in
             (lambda a: a.center, lambda a: a.edges[:-1], lambda a: a.edges[1:])] if axes else []
    for i, ax in enumerate(axes):
        up = ax.name.upper()
        names = ["ENERGY", "E_MIN", "E_MAX"] if up == "ENERGY" else [up, f"{up}_MIN", f"{up}_MAX"]
        for colname, grid in zip(names, grids, strict=True):
            cols.append(fits.Column(colname, "D", unit=ax.unit, array=np.ravel(grid[i])))
    hdu = fits.BinTableHDU.from_columns(cols, name=name)
    for key, value in axes_header(axes).items():
        hdu.header[key] = value
    return hdu


def _native(data: np.ndarray) -> np.ndarray:
    data = np.asarray(data)
    return data.astype(data.dtype.newbyteorder("="), copy=True)


def _region_center(hdu) -> SkyCoord | None:
    """Centre of the first shape of a ``*_REGION`` table (pixel X, Y + WCS header)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)
            wcs = WCS(hdu.header, naxis=2)
        x, y = float(hdu.data["X"][0]), float(hdu.data["Y"][0])
        lon, lat = wcs.wcs_pix2world([x], [y], 1)
        frame = "galactic" if wcs.wcs.ctype[0].startswith("GLON") else "icrs"
        return SkyCoord(lon[0], lat[0], unit="deg", frame=frame)
    except (KeyError, ValueError, IndexError, TypeError):
        return None


def map_from_hdulist(hdulist: fits.HDUList, hdu: str, hdu_bands: str | None = None,
                     filename=None) -> Map:
    """Read one map HDU (image or region layout) and its bands table into a :class:`Map`.

    Masks (HDU names containing ``MASK``) are returned as bool, as Gammapy does. Data are
    converted to native byte order, keeping their kind and size.

    Examples
    --------
    >>> geom = WcsGeom.create((0, 0), binsz=0.5, npix=(4, 3),
    ...                       axes=[MapAxis.from_energy_edges([0.1, 1, 10])])
    >>> hdus = fits.HDUList([fits.PrimaryHDU(), *map_to_hdus(Map.from_geom(geom), "COUNTS")])
    >>> map_from_hdulist(hdus, "COUNTS").data.shape
    (2, 3, 4)
    """
    hdu = hdu.upper()
    where = _where(hdu, filename)
    if hdu not in hdulist:
        raise FileFormatError(f"{where}: no such HDU")
    data_hdu = hdulist[hdu]
    header = data_hdu.header
    bands_name = hdu_bands or header.get("BANDSHDU") or f"{hdu}_BANDS"
    axes = []
    if bands_name in hdulist:
        axes = axes_from_bands(hdulist[bands_name], _where(bands_name, filename))
    elif header.get("AXCOLS1"):
        raise FileFormatError(f"{where}: its bands table {bands_name!r} is missing")
    if isinstance(data_hdu, fits.BinTableHDU):
        names = [c.upper() for c in data_hdu.columns.names]
        if "DATA" not in names:
            raise FileFormatError(f"{where}: table without a DATA column (not a region map)")
        col = data_hdu.columns["DATA"]
        unit = _unit(col.unit, where)
        region = f"{hdu}_REGION"
        region_hdu = hdulist[region].copy() if region in hdulist else None
        center = _region_center(region_hdu) if region_hdu is not None else None
        geom = RegionGeom(axes, center, region_hdu)
        flat = _native(data_hdu.data["DATA"])
        if flat.size != int(np.prod(geom.data_shape)):
            raise FileFormatError(f"{where}: {flat.size} values, axes need {geom.data_shape}")
        data = flat.reshape(geom.data_shape)
    else:
        if data_hdu.data is None:
            raise FileFormatError(f"{where}: image HDU without data")
        unit = _unit(header.get("BUNIT", ""), where)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FITSFixedWarning)
                wcs = WCS(header, naxis=2)
            frame_of_wcs(wcs)
        except (ValueError, KeyError) as exc:  # wcslib errors are ValueErrors
            raise FileFormatError(f"{where}: unusable sky WCS "
                                  f"(CTYPE1={header.get('CTYPE1')!r}): {exc}") from None
        if "WCSSHAPE" in header:
            shape = [int(v) for v in header["WCSSHAPE"].strip("()").split(",") if v.strip()]
            npix = (shape[0], shape[1])
        else:
            npix = (header["NAXIS1"], header["NAXIS2"])
        geom = WcsGeom(wcs, npix, axes)
        data = _native(data_hdu.data)
        if data.shape != geom.data_shape:
            raise FileFormatError(
                f"{where}: data shape {data.shape} does not match its WCS and axes "
                f"{geom.data_shape}")
    if "MASK" in hdu:
        data = data.astype(bool)
    return Map(geom, data, unit)


def map_to_hdus(m: Map, hdu: str, hdu_bands: str | None = None) -> list:
    """HDUs of a map in Gammapy's layout: data HDU, ``*_BANDS`` (if axes), ``*_REGION``.

    Examples
    --------
    >>> geom = WcsGeom.create((0, 0), binsz=0.5, npix=(4, 3),
    ...                       axes=[MapAxis.from_energy_edges([0.1, 1, 10])])
    >>> hdus = map_to_hdus(Map.from_geom(geom, unit="cm2 s"), "exposure")
    >>> [h.name for h in hdus], hdus[0].data.shape, hdus[0].header["BUNIT"]
    (['EXPOSURE', 'EXPOSURE_BANDS'], (2, 3, 4), 'cm2 s')
    """
    hdu = hdu.upper()
    bands = (hdu_bands or f"{hdu}_BANDS").upper()
    axes = m.geom.axes
    data = m.data.astype(np.int64) if m.data.dtype == bool else m.data
    out = []
    if isinstance(m.geom, RegionGeom):
        flat = np.ravel(data)
        cols = [fits.Column("CHANNEL", "I", array=np.arange(flat.size, dtype=np.int16)),
                fits.Column("DATA", _tform(flat.dtype), unit=m.unit.to_string("fits"),
                            array=flat)]
        table = fits.BinTableHDU.from_columns(cols, name=hdu)
        for key, value in axes_header(axes).items():
            table.header[key] = value
        out.append(table)
    else:
        header = m.geom.wcs.to_header()
        for key, value in axes_header(axes).items():
            header[key] = value
        shape = ",".join(str(n) for n in (*m.geom.npix, *[ax.nbin for ax in axes]))
        header["WCSSHAPE"] = f"({shape})"
        if axes:
            header["BANDSHDU"] = bands
        image = fits.ImageHDU(data, header=header, name=hdu)
        image.header["META"] = "{}"
        image.header["BUNIT"] = m.unit.to_string("fits")
        out.append(image)
    if axes:
        out.append(axes_to_bands(axes, bands))
    region_hdu = getattr(m.geom, "region_hdu", None)
    if region_hdu is not None:
        region = region_hdu.copy()
        region.name = f"{hdu}_REGION"
        out.append(region)
    return out


def _tform(dtype: np.dtype) -> str:
    codes = {"f8": "D", "f4": "E", "i8": "K", "i4": "J", "i2": "I", "u1": "B", "b1": "L"}
    key = f"{dtype.kind}{dtype.itemsize}"
    if key not in codes:
        raise TypeError(f"cannot write data of dtype {dtype} to a FITS table")
    return codes[key]
