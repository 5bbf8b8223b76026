"""HTTP routers: thin layers over ``geo_service``, ``solvers`` and the job manager."""
