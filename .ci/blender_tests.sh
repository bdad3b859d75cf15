#!/usr/bin/env bash
# CI: the Blender add-on tests in Blender-as-a-module (PyPI bpy, Python 3.11), once per supported
# Blender: the oldest (= blender_version_min in the manifest), the 4.5 LTS and the current release.
# Each version has its own venv (.venv-bpy-<version>, made on first use). Pick versions with
# BPY_VERSIONS="5.0.1" (space separated); extra arguments go to pytest.
# bpy and torch never share a process: the tests start the backend worker with .venv/bin/python
# (made by .ci/run); without it they fall back to a numpy-only worker and skip the demo-generator test.
# pytest runs through tests/blender/run_pytest.py, which exits with pytest's status via os._exit:
# bpy 4.2 segfaults at interpreter exit after the tests (a Blender bug), 4.5 can hang there.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
BPY_VERSIONS=${BPY_VERSIONS:-"4.2.0 4.5.15 5.0.1"}
if [ -z "${STYLEFACE_BACKEND_PYTHON:-}" ] && [ -x .venv/bin/python ]; then
  export STYLEFACE_BACKEND_PYTHON="$PWD/.venv/bin/python"
fi
summary=()
failed=0
newest=$(printf '%s\n' $BPY_VERSIONS | sort -V | tail -1)
for v in $BPY_VERSIONS; do
  # the real torch worker (~20 s) does not depend on the Blender version: only on the newest
  only=()
  [ "$v" = "$newest" ] || only=(-m "not real_backend")
  venv=".venv-bpy-$v"
  t0=$(date +%s)
  if [ ! -x "$venv/bin/python" ]; then
    "$PY" -m venv "$venv"
  fi
  if ! "$venv/bin/python" -c "import bpy, pytest; assert bpy.app.version_string.split()[0] == '$v'" 2>/dev/null; then
    "$venv/bin/python" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
    "$venv/bin/python" -m pip install -q "bpy==$v" 'numpy<2' pytest
  fi
  t1=$(date +%s)
  echo "== Blender add-on tests on bpy $v =="
  # --confcutdir: tests/conftest.py imports the torch backend, which the bpy venvs do not have.
  status=0
  "$venv/bin/python" tests/blender/run_pytest.py -q -p no:cacheprovider --confcutdir=tests/blender tests/blender \
    ${only[@]+"${only[@]}"} "$@" || status=$?
  t2=$(date +%s)
  summary+=("bpy $v: install/check $((t1 - t0)) s, tests $((t2 - t1)) s, exit status $status")
  [ "$status" -eq 0 ] || failed=1
done
printf '%s\n' "${summary[@]}"
exit "$failed"
