"""Application services: work built from the core, solvers and maps for the API and the CLI.

- :mod:`.jobs`: the job runner shared by the API's jobs and the batches (job kinds, job-record
  fields, solver child processes terminated on cancel, the API's bounded worker pool).
- :mod:`.batch`: run optimisations over many stored counties on Dask, surviving lost workers and
  reporting a lost scheduler per county; resume by batch id (:mod:`.batch_loading`: where a
  county is loaded).
- :mod:`.demo`, :mod:`.synthetic`, :mod:`.province`, :mod:`.names`, :mod:`.seed`: the synthetic
  demo county and province (reproducible from a seed) and the demo dataset seeded into a store.

This layer may import :mod:`solvers`, :mod:`maps` and the core (:mod:`geo_service`); it never
imports :mod:`api` or :mod:`geo_service.cli` (see the import-linter contract in pyproject.toml).
"""
