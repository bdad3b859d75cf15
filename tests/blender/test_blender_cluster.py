"""``python -m styleface_blender.batch --cluster ray:local``: the add-on's batch command handed to the
Ray driver in the backend Python, whose tasks start this Blender Python per few seeds; resumable.

Needs bpy here and Ray in the backend Python (``pip install -e '.[cluster]'`` in .venv; CI has it)."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytest.importorskip("bpy", reason="needs Blender as a Python module (pip install bpy)")

from conftest import ADDON_PARENT, HERE, backend_python  # noqa: E402
from styleface_blender import api  # noqa: E402


def _backend_with_ray() -> str:
    py, why = backend_python()
    if py is None:
        pytest.skip(why)
    if subprocess.run([py, "-c", "import ray"], capture_output=True, timeout=120).returncode != 0:
        pytest.skip(f"backend Python {py} has no Ray (pip install -e '.[cluster]')")
    return py


def _batch(out, seeds: str, *extra: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, STYLEFACE_BACKEND_PYTHON=_backend_with_ray(),
               STYLEFACE_WORKER_GENERATOR="blender_fakes:fast",
               PYTHONPATH=os.pathsep.join([str(ADDON_PARENT), str(HERE)]))
    cmd = [sys.executable, "-m", "styleface_blender.batch", "--cluster", "ray:local", "--seeds", seeds,
           "--out", str(out), "--resolution", "32", "--samples", "2", "--yaws=-30,0", "--texture-size", "16",
           "--seeds-per-task", "2", "--quiet", *extra]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=400)


@pytest.mark.slow
def test_cluster_batch_renders_and_resumes(tmp_path):
    out = tmp_path / "renders"
    r = _batch(out, "0-4")
    assert r.returncode == 0, r.stderr[-3000:]
    expected = sorted(api.view_filename(s, y) for s in range(5) for y in (-30, 0))
    assert sorted(os.listdir(out)) == expected
    assert all((out / n).stat().st_size > 500 for n in expected)
    (out / api.view_filename(3, 0)).unlink()  # as if the job died before this view was copied
    stamp = (out / api.view_filename(0, 0)).stat().st_mtime_ns
    r = _batch(out, "0-5")
    assert r.returncode == 0, r.stderr[-3000:]
    assert sorted(os.listdir(out)) == sorted(api.view_filename(s, y) for s in range(6) for y in (-30, 0))
    assert (out / api.view_filename(0, 0)).stat().st_mtime_ns == stamp  # complete seeds untouched


def test_cluster_batch_rejects_a_bad_cluster_in_one_line(tmp_path):
    _backend_with_ray()
    env = dict(os.environ, STYLEFACE_BACKEND_PYTHON=_backend_with_ray(),
               PYTHONPATH=str(ADDON_PARENT))
    r = subprocess.run([sys.executable, "-m", "styleface_blender.batch", "--cluster", "dask", "--seeds", "0",
                        "--out", str(tmp_path)], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0 and "unknown cluster" in r.stderr
