#!/usr/bin/env bash
# Create .venv (Python >= 3.12) with skyfit and what the tests, docs build, Dask and JAX
# paths need, once (or again when one of them is missing).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import skyfit, pytest, sphinx, distributed, jax' 2>/dev/null; then
  PY="$(bash scripts/python.sh)"
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[test,bayes,docs,scale,jax]"
fi
