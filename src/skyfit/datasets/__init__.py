"""Datasets: ``MapDataset`` (checked containers), Gammapy DL4 FITS and datasets-YAML I/O."""

from .io import FileFormatError, read_dataset, read_datasets, write_dataset, write_datasets
from .mapdataset import MapDataset

__all__ = ["FileFormatError", "MapDataset", "read_dataset", "read_datasets", "write_dataset",
           "write_datasets"]
