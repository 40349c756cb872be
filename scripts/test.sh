#!/usr/bin/env bash
# The whole test suite on a fresh Debian machine: set up what is missing, check, test, tear down.
#   bash scripts/test.sh [pytest args...]
# As root it installs Debian's docker.io, docker-registry, busybox-static, umockdev and tmux, starts
# dockerd and a registry on 127.0.0.1:5000 if none is running, builds the test images, then runs
# ruff (lint and format), mypy --strict, the import contracts and pytest in .venv (installed from
# requirements-test.lock), and stops only what it started.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n== %s\n' "$*"; }

ensure_python() {
  if ! python3 -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null; then
    echo "paitui needs Python 3.11 or newer (python3 is $(python3 --version 2>&1))" >&2; exit 1
  fi
  if [[ ! -x .venv/bin/python ]]; then
    if ! python3 -m venv .venv 2>/dev/null; then
      [[ $(id -u) -eq 0 ]] || { echo "python3-venv is missing: sudo apt-get install python3-venv" >&2; exit 1; }
      rm -rf .venv
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
      python3 -m venv .venv
    fi
  fi
  # Exact versions and hashes from the lock (refresh: CONTRIBUTING.md); paitui itself editable,
  # built with the locked hatchling so nothing unpinned is fetched.
  log "installing the locked test tools and paitui into .venv"
  .venv/bin/python -m pip install -q --disable-pip-version-check --require-hashes \
    -r requirements-test.lock
  .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
}

ensure_python
export PATH="$PWD/.venv/bin:$PATH"

log "test environment (Docker engine, registry, images)"
export PAITUI_TEST_STATE=${PAITUI_TEST_STATE:-/tmp/paitui-test-env}
trap 'bash scripts/test-env.sh down' EXIT
bash scripts/test-env.sh up

log "ruff"
ruff check paitui tests bench scripts
ruff format --check paitui tests bench scripts

log "mypy --strict (package and tests)"
mypy

log "import contracts"
lint-imports --no-logo

log "pytest"
set +e
python -m pytest -q -p no:cacheprovider "$@"
status=$?
set -e
if [[ $status -eq 5 ]]; then
  echo "pytest collected no tests: that is a failure here" >&2
  status=1
fi
exit $status
