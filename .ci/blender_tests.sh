#!/usr/bin/env bash
# CI: the Blender add-on tests in Blender-as-a-module (PyPI bpy 5.0.1 = Blender 5.0, Python 3.11).
# bpy and torch never share a process: the tests start the backend worker with .venv/bin/python
# (made by .ci/run); without it they fall back to a numpy-only worker and skip the demo-generator test.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
if [ ! -x .venv-bpy/bin/python ]; then
  "$PY" -m venv .venv-bpy
fi
.venv-bpy/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
.venv-bpy/bin/python -m pip install -q bpy==5.0.1 'numpy<2' pytest
if [ -z "${STYLEFACE_BACKEND_PYTHON:-}" ] && [ -x .venv/bin/python ]; then
  export STYLEFACE_BACKEND_PYTHON="$PWD/.venv/bin/python"
fi
# --confcutdir: tests/conftest.py imports the torch backend, which the bpy venv does not have.
.venv-bpy/bin/python -m pytest -q -p no:cacheprovider --confcutdir=tests/blender tests/blender "$@"
