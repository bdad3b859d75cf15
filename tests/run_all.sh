#!/usr/bin/env bash
# The whole test suite: backend and training tests in .venv (torch), then the Blender add-on tests in
# one venv per supported Blender (PyPI bpy 4.2.0, 4.5.15, 5.0.1 as a module; .venv-bpy-<version>,
# created on first use; see .ci/blender_tests.sh). torch and bpy never share a process.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python -m pytest -q "$@"
bash .ci/blender_tests.sh
