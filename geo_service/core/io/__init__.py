"""Import and export: files users have (GeoPackage, GeoJSON, Shapefile, CSV, XLSX, zip) <-> Dataset.

- :func:`read_dataset` / :func:`read_layers_from_files`: read, convert (GCJ-02/BD-09 -> WGS-84),
  validate; every problem at once as :class:`~geo_service.core.dataset.DatasetValidationError`.
- :func:`write_dataset`: GeoPackage, XLSX workbook, or a folder of GeoJSON/Shapefile/CSV.
- :func:`write_table`: any (Geo)DataFrame as CSV/XLSX/GeoJSON (result tables for the API).
- :func:`townships_from_points`: township polygons from seat points and villages (Voronoi).
"""

from .gpkg import read_gpkg, write_gpkg
from .readers import IMPORT_REQUIRED, read_dataset, read_layers_from_files
from .townships import townships_from_points
from .writers import FORMATS, layer_table, write_dataset, write_table

__all__ = ["FORMATS", "IMPORT_REQUIRED", "layer_table", "read_dataset", "read_gpkg", "read_layers_from_files",
           "townships_from_points", "write_dataset", "write_gpkg", "write_table"]
