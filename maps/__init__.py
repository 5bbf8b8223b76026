"""Coverage, assignment and gap-closing maps (Folium), safe to serve offline.

Public API: :func:`coverage_map`, :func:`assignment_map`, :func:`gaps_map` (each returns a
``folium.Map`` whose JS/CSS point at the service's ``/static`` assets), :func:`localize` and
:data:`STATIC_DIR` (the folder to serve at ``/static``) and :func:`write_standalone` (a page
with its assets beside it, for use without the service) and :func:`tile_hosts` (the tile
origins a map loads images from, for a Content-Security-Policy).

Print-ready static maps (matplotlib, offline, PNG/PDF/SVG): :func:`maps.static_maps.render`
(drawn by :mod:`maps.static_coverage`, :mod:`maps.static_gaps`, :mod:`maps.static_assignment` with
the page helpers of :mod:`maps.static_render`); imported on use, so the HTML maps do not load
matplotlib.
"""

from .assets import STATIC_DIR, localize, write_standalone
from .assignment import assignment_map
from .coverage import coverage_map
from .gaps import gaps_map
from .render import tile_hosts

__all__ = ["STATIC_DIR", "assignment_map", "coverage_map", "gaps_map", "localize", "tile_hosts",
           "write_standalone"]
