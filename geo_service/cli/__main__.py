"""``python -m geo_service.cli``."""

from . import main

main()
