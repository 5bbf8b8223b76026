"""Coverage, assignment and gap-closing maps (Folium), safe to serve offline.

Public API: :func:`coverage_map`, :func:`assignment_map`, :func:`gaps_map` (each returns a
``folium.Map`` whose JS/CSS point at the service's ``/static`` assets), :func:`localize` and
:data:`STATIC_DIR` (the folder to serve at ``/static``) and :func:`write_standalone` (a page
with its assets beside it, for use without the service).
"""

from .assets import STATIC_DIR, localize, write_standalone
from .assignment import assignment_map
from .coverage import coverage_map
from .gaps import gaps_map

__all__ = ["STATIC_DIR", "assignment_map", "coverage_map", "gaps_map", "localize", "write_standalone"]
