"""Sky geometry and map containers."""

from .axis import MapAxis
from .geom import WcsGeom, frame_of_wcs, transform_coords
from .map import Map

__all__ = ["Map", "MapAxis", "WcsGeom", "frame_of_wcs", "transform_coords"]
