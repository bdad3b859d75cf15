#!/usr/bin/env bash
# The whole test suite: backend and training tests in .venv (torch), then the Blender add-on tests in
# .venv-bpy (PyPI bpy 5.0.1 = Blender 5.0 as a module; created on first use). torch and bpy never
# share a process.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python -m pytest -q "$@"
bash .ci/blender_tests.sh
