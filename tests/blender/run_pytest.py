"""Run pytest in a bpy venv and leave with pytest's own status through ``os._exit``.

Why: bpy 4.2 LTS segfaults while the interpreter shuts down (a Blender bug with Python callbacks on
registered properties), after every test has passed, and a 4.5 process can hang there. Skipping the
interpreter's shutdown keeps pytest's real result: a failing test still exits 1, and a crash during
the tests still kills the process with its signal before this line is reached.

    .venv-bpy-4.2/bin/python tests/blender/run_pytest.py -q --confcutdir=tests/blender tests/blender
"""
from __future__ import annotations

import os
import sys

import pytest

if __name__ == "__main__":
    status = int(pytest.main(sys.argv[1:]))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
