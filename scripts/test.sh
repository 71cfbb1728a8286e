#!/usr/bin/env bash
# The test command: set up (once), then the default test suite (slow checks excluded).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest -m "not slow" "$@"
