#!/usr/bin/env bash
# Install paitui into .venv (first run) and start it; arguments go to paitui.
#   bash scripts/start.sh            the terminal UI
#   bash scripts/start.sh hw --json  any sub-command
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ! -x .venv/bin/paitui ]] || [[ pyproject.toml -nt .venv/bin/paitui ]]; then
  if ! python3 -m venv .venv 2>/dev/null; then
    [[ $(id -u) -eq 0 ]] || { echo "python3-venv is missing: sudo apt-get install python3-venv" >&2; exit 1; }
    rm -rf .venv
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv .venv
  fi
  .venv/bin/python -m pip install -q --disable-pip-version-check -e . >&2
  touch .venv/bin/paitui
fi
exec .venv/bin/paitui "$@"
