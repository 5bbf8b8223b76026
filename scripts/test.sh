#!/usr/bin/env bash
# Install everything the test suite needs and run it (README quick start, command 2; .ci/run calls it).
#   - a virtual environment in .venv with the project and its test extras;
#   - Debian's chromium (browser tests), PostgreSQL 15 + PostGIS 3 (PostGIS store tests) and gdal-bin
#     (GDAL's OGC API client, OGC tests), when this
#     machine can install them (root + apt-get); otherwise those tests skip with a stated reason,
#     except under CI=true where a missing browser or database fails the run.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -k store -x`. Before the tests, ruff,
# import-linter and mypy (the core) check the code (rules in pyproject.toml).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$PYTHON" -m venv .venv
fi
echo "==> installing the project and its test dependencies"
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'

need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -x /usr/lib/postgresql/15/bin/postgres ] || need+=(postgresql-15)
[ -f /usr/share/postgresql/15/extension/postgis.control ] || need+=(postgresql-15-postgis-3)
command -v ogrinfo >/dev/null 2>&1 || need+=(gdal-bin)  # GDAL's OGC API - Features client (tests/test_ogc_clients.py)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing system packages: ${need[*]}"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "==> cannot install ${need[*]} (not root or no apt-get): browser/PostGIS tests will skip"
  fi
fi

echo "==> linting (ruff, rules in pyproject.toml [tool.ruff])"
.venv/bin/ruff check geo_service api solvers maps tests scripts benchmarks

echo "==> checking the import layers (pyproject.toml [tool.importlinter])"
.venv/bin/lint-imports

echo "==> type checking the core (mypy, pyproject.toml [tool.mypy])"
.venv/bin/mypy

echo "==> running the test suite (pytest-xdist: one worker per core; PYTEST_WORKERS=0 runs it in one process)"
exec .venv/bin/python -m pytest -n "${PYTEST_WORKERS:-auto}" "$@"
