"""Gammapy DL4 ``MapDataset`` FITS files and datasets YAML files.

File layout (Gammapy 2.1 ``MapDataset.write``): primary HDU (``NAME`` + metadata cards),
``COUNTS``, ``EXPOSURE``, ``BACKGROUND``, ``EDISP`` (+ ``EDISP_EXPOSURE``), ``PSF``
(+ ``PSF_EXPOSURE``), ``MASK_SAFE``, ``MASK_FIT`` (each with its ``*_BANDS`` table) and
``GTI``. Other HDUs (e.g. ``META_TABLE``) are not read.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import warnings
from pathlib import Path

import yaml
from astropy.io import fits
from astropy.table import Table

from ..irf import EDispKernelMap, PSFMap
from ..maps.io import FileFormatError, map_from_hdulist, map_to_hdus
from .mapdataset import MapDataset

__all__ = ["FileFormatError", "read_dataset", "read_datasets", "write_dataset",
           "write_datasets"]

_STRUCTURAL = {"SIMPLE", "BITPIX", "NAXIS", "EXTEND", "NAME", "COMMENT", "HISTORY", "CHECKSUM",
               "DATASUM", ""}


@contextlib.contextmanager
def _open(path: Path):
    """Open and fully load a FITS file (plain or gzip); any failure names the file."""
    if not path.exists():
        raise FileNotFoundError(f"dataset file not found: {path}")
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder; give the dataset FITS file inside it")
    with path.open("rb") as fh:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                # checksum=True: a file whose CHECKSUM/DATASUM cards (written by skyfit)
                # disagree with its bytes is refused; files without them are read as is
                hdulist = fits.open(fh, memmap=False, lazy_load_hdus=False, checksum=True)
                for hdu in hdulist:
                    _ = hdu.data
        except (OSError, ValueError, TypeError, IndexError, EOFError, Warning) as exc:
            raise FileFormatError(f"{path}: not a readable FITS file "
                                  f"({type(exc).__name__}: {exc})") from None
        try:
            yield hdulist
        finally:
            hdulist.close()


def read_dataset(path: str | Path, name: str | None = None) -> MapDataset:
    """Read a Gammapy DL4 MapDataset FITS file (``.fits`` or ``.fits.gz``).

    Raises FileNotFoundError for a missing file, :class:`FileFormatError` (a ValueError)
    naming the file for a non-FITS or truncated file or a missing ``COUNTS`` / ``EXPOSURE``
    HDU, and ValueError for inconsistent content (see :class:`MapDataset`).

    Examples
    --------
    >>> read_dataset("/no/such/file.fits")
    Traceback (most recent call last):
    ...
    FileNotFoundError: dataset file not found: /no/such/file.fits
    """
    path = Path(path)
    with _open(path) as hdulist:
        names = [h.name for h in hdulist]
        for required in ("COUNTS", "EXPOSURE"):
            if required not in names:
                raise FileFormatError(f"{path}: required HDU {required!r} is missing "
                                      f"(HDUs: {names[1:]})")

        def get(hdu):
            return map_from_hdulist(hdulist, hdu, filename=path) if hdu in names else None

        primary = hdulist[0].header
        meta = {k: primary[k] for k in primary if k not in _STRUCTURAL}
        psf = PSFMap.from_hdulist(hdulist, filename=path) if "PSF" in names else None
        edisp = EDispKernelMap.from_hdulist(hdulist, filename=path) if "EDISP" in names \
            else None
        gti = Table.read(hdulist["GTI"]) if "GTI" in names else None
        kwargs = {"counts": get("COUNTS"), "exposure": get("EXPOSURE"),
                  "background": get("BACKGROUND"), "mask_safe": get("MASK_SAFE"),
                  "mask_fit": get("MASK_FIT")}
    name = name or primary.get("NAME") or path.name.split(".")[0]
    try:
        return MapDataset(psf=psf, edisp=edisp, gti=gti, meta=meta, name=name, **kwargs)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def dataset_to_hdulist(dataset: MapDataset) -> fits.HDUList:
    primary = fits.PrimaryHDU()
    primary.header["NAME"] = dataset.name
    for key, value in dataset.meta.items():
        with contextlib.suppress(ValueError, TypeError):
            primary.header[key] = value
    hdus = [primary, *map_to_hdus(dataset.counts, "COUNTS"),
            *map_to_hdus(dataset.exposure, "EXPOSURE")]
    if dataset.background is not None:
        hdus += map_to_hdus(dataset.background, "BACKGROUND")
    for attr in ("edisp", "psf"):
        irf = getattr(dataset, attr)
        if irf is not None and not hasattr(irf, "to_hdus"):
            raise TypeError(f"dataset {dataset.name!r}: its {attr} ({type(irf).__name__}) has no "
                            f"DL4 file layout; set dataset.{attr} = None to write the rest, or "
                            "use a PSFMap / EDispKernelMap")
    if dataset.edisp is not None:
        hdus += dataset.edisp.to_hdus()
    if dataset.psf is not None:
        hdus += dataset.psf.to_hdus()
    for attr in ("mask_safe", "mask_fit"):
        m = getattr(dataset, attr)
        if m is not None:
            hdus += map_to_hdus(m, attr.upper())
    if dataset.gti is not None:
        gti = dataset.gti if isinstance(dataset.gti, Table) else Table(dataset.gti)
        hdu = fits.table_to_hdu(gti)
        hdu.name = "GTI"
        hdus.append(hdu)
    return fits.HDUList(hdus)


def _atomic_write(hdulist: fits.HDUList, path: Path, overwrite: bool) -> None:
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists (use overwrite=True)")
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(path.suffixes[-2:]) or ".fits"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        hdulist.writeto(tmp, overwrite=True, checksum=True)
        if overwrite:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # atomic and refuses an existing file
            os.unlink(tmp)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_dataset(dataset: MapDataset, path: str | Path, overwrite: bool = False) -> None:
    """Write ``dataset`` to ``path`` in Gammapy's DL4 layout (atomic, see module doc).

    Examples
    --------
    >>> from skyfit.datasets.synthetic import synthetic_dataset
    >>> dataset = synthetic_dataset(npix=(4, 3), name="toy")
    >>> dataset.psf = dataset.edisp = None  # the analytic IRFs have no file layout
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     write_dataset(dataset, Path(folder) / "toy.fits")
    ...     back = read_dataset(Path(folder) / "toy.fits")
    >>> back.name, back.counts.data.shape, back.exposure.unit
    ('toy', (6, 3, 4), Unit("cm2 s"))
    """
    _atomic_write(dataset_to_hdulist(dataset), Path(path), overwrite)


def read_datasets(path: str | Path) -> list[MapDataset]:
    """Read a Gammapy datasets YAML (``datasets: [{name, type, filename}]``).

    File names are relative to the YAML file's folder (absolute ones are used as given).

    Examples
    --------
    >>> from skyfit.datasets.synthetic import synthetic_dataset
    >>> datasets = [synthetic_dataset(npix=(4, 3), name=name) for name in ("a", "b")]
    >>> for dataset in datasets:
    ...     dataset.psf = dataset.edisp = None
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     write_datasets(datasets, Path(folder) / "datasets.yaml")
    ...     [d.name for d in read_datasets(Path(folder) / "datasets.yaml")]
    ['a', 'b']
    """
    path = Path(path)
    if not path.is_file():
        if path.is_dir():
            raise FileNotFoundError(f"{path} is a folder, not a datasets YAML file")
        raise FileNotFoundError(f"datasets file not found: {path}")
    try:
        content = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise FileFormatError(f"{path}: not a datasets YAML file ({type(exc).__name__}: "
                              f"{exc}); a FITS dataset is read with read_dataset") from None
    if not isinstance(content, dict) or not isinstance(content.get("datasets"), list):
        hint = ""
        if isinstance(content, dict) and "components" in content:
            hint = (": this is a models file (it has 'components'); give the dataset FITS "
                    "or datasets YAML first and the models YAML second")
        raise FileFormatError(f"{path}: expected a datasets YAML, a mapping with a "
                              f"'datasets' list{hint}")
    names = [e.get("name") for e in content["datasets"] if isinstance(e, dict) and e.get("name")]
    if len(set(names)) != len(names):
        raise FileFormatError(f"{path}: dataset names must be unique (models refer to "
                              f"datasets by name), got {names}")
    out = []
    for i, entry in enumerate(content["datasets"]):
        if not isinstance(entry, dict):
            raise FileFormatError(f"{path}: dataset {i} must be a mapping with 'name', 'type' "
                                  f"and 'filename', got {entry!r}")
        kind = entry.get("type", "MapDataset")
        if kind != "MapDataset":
            raise FileFormatError(f"{path}: dataset {i} has type {kind!r}; only MapDataset "
                                  "is supported")
        if "filename" not in entry:
            raise FileFormatError(f"{path}: dataset {i} has no 'filename'")
        filename = Path(entry["filename"])
        if not filename.is_absolute():
            filename = path.parent / filename
        out.append(read_dataset(filename, name=entry.get("name")))
    return out


def write_datasets(datasets, path: str | Path, overwrite: bool = False) -> None:
    """Write each dataset to ``<name>.fits`` next to the YAML file, then the YAML (Gammapy's
    ``Datasets.write`` layout).

    Examples
    --------
    >>> from skyfit.datasets.synthetic import synthetic_dataset
    >>> datasets = [synthetic_dataset(npix=(4, 3), name=name) for name in ("a", "b")]
    >>> for dataset in datasets:
    ...     dataset.psf = dataset.edisp = None
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     write_datasets(datasets, Path(folder) / "datasets.yaml")
    ...     sorted(p.name for p in Path(folder).iterdir())
    ['a.fits', 'b.fits', 'datasets.yaml']
    """
    path = Path(path)
    entries = []
    for ds in datasets:
        filename = f"{ds.name.replace(' ', '_')}.fits"
        entries.append({"name": ds.name, "type": "MapDataset", "filename": filename})
    names = [e["filename"] for e in entries]
    if len(set(names)) != len(names):
        raise ValueError(f"dataset names must be unique to write them: {names}")
    targets = [path, *(path.parent / name for name in names)]
    existing = [str(t) for t in targets if t.exists()]
    if existing and not overwrite:  # checked before anything is written
        raise FileExistsError(f"{existing} exist(s) (use overwrite=True)")
    for ds, entry in zip(datasets, entries, strict=True):
        write_dataset(ds, path.parent / entry["filename"], overwrite=overwrite)
    text = yaml.safe_dump({"datasets": entries}, sort_keys=False)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
