#!/usr/bin/env bash
# Print the path of a Python >= 3.12 interpreter: $SKYFIT_PYTHON, python3.13/3.12 on PATH,
# or one installed under pyenv. Exits 1 with a message when none is found.
set -u
ok() { "$1" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; }
for cand in "${SKYFIT_PYTHON:-}" python3.13 python3.12 python3; do
  [ -n "$cand" ] && command -v "$cand" >/dev/null 2>&1 && ok "$cand" && { command -v "$cand"; exit 0; }
done
if command -v pyenv >/dev/null 2>&1; then
  for v in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.(1[2-9])' | sort -rV); do
    p="$(pyenv root)/versions/$v/bin/python3"
    [ -x "$p" ] && ok "$p" && { echo "$p"; exit 0; }
  done
fi
echo "no Python >= 3.12 found: install one or set SKYFIT_PYTHON" >&2
exit 1
