"""Application services: work built from the core, solvers and maps for the API and the CLI.

- :mod:`.batch`: run optimisations over many stored counties (local processes or dask).
- :mod:`.demo`, :mod:`.synthetic`, :mod:`.province`, :mod:`.names`, :mod:`.seed`: the synthetic
  demo county and province (reproducible from a seed) and the demo dataset seeded into a store.

This layer may import :mod:`solvers`, :mod:`maps` and the core (:mod:`geo_service`); it never
imports :mod:`api` or :mod:`geo_service.cli` (see the import-linter contract in pyproject.toml).
"""
