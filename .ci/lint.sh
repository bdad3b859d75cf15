#!/usr/bin/env bash
# CI: ruff on every package (one configuration, pyproject.toml [tool.ruff]) and mypy on the Blender
# add-on against fake-bpy-module (pyproject.toml [tool.mypy]); tools pinned in .ci/lint-requirements.txt,
# installed into .venv-lint on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
if [ ! -x .venv-lint/bin/python ]; then
  "$PY" -m venv .venv-lint
fi
.venv-lint/bin/python -m pip install -q -r .ci/lint-requirements.txt >/dev/null
.venv-lint/bin/ruff check .
.venv-lint/bin/mypy
