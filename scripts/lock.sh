#!/usr/bin/env bash
# Refresh requirements-test.lock: exact versions and hashes of what `pip install -e '.[test]'`
# installs (paitui itself stays outside the lock), for Python 3.11+ on any platform.
#   bash scripts/lock.sh                          keep the locked versions, add what pyproject.toml now asks
#   bash scripts/lock.sh --upgrade                the newest versions pyproject.toml allows
#   bash scripts/lock.sh --upgrade-package ruff   one package only
# Then run the checks (CONTRIBUTING.md) and commit pyproject.toml and the lock together.
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-.venv/bin/python}
"$py" -m uv --version >/dev/null 2>&1 || "$py" -m pip install -q uv
exec "$py" -m uv pip compile -q pyproject.toml --extra test --generate-hashes --universal \
  --python-version 3.11 --custom-compile-command "bash scripts/lock.sh" \
  -o requirements-test.lock "$@"
