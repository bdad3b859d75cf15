"""Fixtures for the add-on tests, which run in a venv with the PyPI ``bpy`` module (Blender 5.0).

Torch and bpy never share a process: tests that need the backend start the real worker with a
separate interpreter, found as $STYLEFACE_BACKEND_PYTHON, else ``<repo>/.venv/bin/python``, else this
interpreter if it can import the backend's numpy. The worker uses the fake generators in
``blender_fakes.py`` (numpy only) unless a test asks for the real default generator.

Run: ``.venv-bpy/bin/python -m pytest -q --confcutdir=tests/blender tests/blender`` (``--confcutdir``
keeps the torch-only ``tests/conftest.py`` out of the bpy process). Without bpy every test that needs
it is skipped, so the main suite stays green.
"""
from __future__ import annotations

import functools
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
ADDON_PARENT = REPO / "addon"
for p in (str(ADDON_PARENT), str(HERE)):
    if p not in sys.path:
        sys.path.insert(0, p)


def _venv_python(root: Path) -> Path:
    return root / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


@functools.lru_cache(maxsize=None)
def backend_python() -> tuple[str | None, str]:
    """(interpreter, reason if None): the backend Python the worker tests use."""
    candidates = []
    if os.environ.get("STYLEFACE_BACKEND_PYTHON"):
        candidates.append(os.environ["STYLEFACE_BACKEND_PYTHON"])
    candidates += [str(_venv_python(REPO / ".venv")), sys.executable]
    for py in candidates:
        if not Path(py).is_file():
            continue
        probe = subprocess.run([py, "-c", "import numpy"], capture_output=True, timeout=120)
        if probe.returncode == 0:
            return py, ""
    return None, ("no backend Python with numpy found: set STYLEFACE_BACKEND_PYTHON or create "
                  "<repo>/.venv (tried: " + ", ".join(candidates) + ")")


@functools.lru_cache(maxsize=None)
def backend_has_demo_generator() -> tuple[bool, str]:
    py, why = backend_python()
    if py is None:
        return False, why
    code = "import torch; from styleface.facemodel.procedural import demo_face_model"
    env = dict(os.environ, PYTHONPATH=str(REPO / "backend"))
    r = subprocess.run([py, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    if r.returncode != 0:
        last = (r.stderr.strip().splitlines() or ["?"])[-1]
        return False, f"backend Python {py} cannot run the demo generator ({last})"
    return True, ""


@pytest.fixture
def bpy_clean():
    """An empty scene (no objects, no orphan data) before and after the test."""
    bpy = pytest.importorskip("bpy")
    bpy.ops.wm.read_factory_settings(use_empty=True)
    yield bpy
    bpy.ops.wm.read_factory_settings(use_empty=True)


@pytest.fixture
def worker_env(monkeypatch):
    """Environment for the real worker with a fake generator; returns a setter for the factory."""
    py, why = backend_python()
    if py is None:
        pytest.skip(why)
    monkeypatch.setenv("STYLEFACE_BACKEND_PYTHON", py)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))

    def use(factory: str = "fast", **extra: str) -> str:
        monkeypatch.setenv("STYLEFACE_WORKER_GENERATOR", f"blender_fakes:{factory}")
        for k, v in extra.items():
            monkeypatch.setenv(k, v)
        return py

    use("fast")
    yield use
    from styleface_blender import backend
    backend.get_backend().release()


def synthetic_face(n: int = 30, tex: int = 32, seed: int = 0, with_expressions: bool = True):
    """FaceData built in-process (no worker): a curved grid with random maps."""
    from styleface_blender.facedata import FaceData
    import blender_fakes

    arrays, meta = blender_fakes.face_arrays(seed, tex, n)
    if not with_expressions:
        arrays.pop("expression_deltas")
        meta.pop("expression_names")
    return FaceData.from_arrays(arrays, meta)


def grid_mesh(n_vertices: int, n_faces: int, tex: int = 256, seed: int = 0):
    """A FaceData with exactly ``n_vertices`` / ``n_faces`` (BFM size: 35,709 / 70,789)."""
    from styleface_blender.facedata import FaceData

    rng = np.random.default_rng(seed)
    side = int(np.ceil(np.sqrt(n_vertices)))
    u, v = np.meshgrid(np.linspace(0, 1, side), np.linspace(0, 1, side))
    uvs = np.stack([u, v], -1).reshape(-1, 2)[:n_vertices].astype(np.float32)
    verts = np.stack([(uvs[:, 0] - .5) * 1.6, (uvs[:, 1] - .5) * 2, 0.5 - 0.3 * ((uvs[:, 0] - .5) ** 2)], 1)
    idx = np.arange(side * side).reshape(side, side)
    a, b, c, d = idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel(), idx[1:, 1:].ravel(), idx[1:, :-1].ravel()
    # the quads' two triangulations: the second only tops up the count (BFM's ratio is not a grid's)
    faces = np.concatenate([np.stack([a, b, c], 1), np.stack([a, c, d], 1),
                            np.stack([a, b, d], 1), np.stack([b, c, d], 1)])
    faces = faces[(faces < n_vertices).all(1)][:n_faces]
    assert len(faces) == n_faces, (len(faces), n_faces)
    return FaceData(verts, faces, uvs, rng.uniform(0, 1, (3, tex, tex)),
                    np.tanh(rng.normal(0, 1, (3, tex, tex))), seed=seed,
                    provenance={"bundle_id": "synthetic"})
