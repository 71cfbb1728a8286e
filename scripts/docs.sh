#!/usr/bin/env bash
# Build the documentation site into docs/_build/html (Sphinx + numpydoc + MyST); warnings
# are errors, as in CI (tests/test_docs.py runs the same build). Extra arguments go to
# sphinx-build, e.g. `bash scripts/docs.sh -E` for a full rebuild.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m sphinx -W --keep-going -b html docs docs/_build/html "$@"
