#!/usr/bin/env bash
# The main job: set up (once), then run skyfit's demo on the built-in synthetic instrument.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/skyfit demo "$@"
