"""Cycles renders of a face (headless, CPU) and the resumable batch command."""
from __future__ import annotations

import os

import numpy as np
import pytest

bpy = pytest.importorskip("bpy", reason="needs Blender as a Python module (pip install bpy)")

from conftest import synthetic_face  # noqa: E402
from styleface_blender import api, batch, build, lighting  # noqa: E402


def _png_pixels(path: str) -> np.ndarray:
    img = bpy.data.images.load(path)
    try:
        w, h = img.size
        px = np.empty(w * h * 4, np.float32)
        img.pixels.foreach_get(px)
        return px.reshape(h, w, 4)
    finally:
        bpy.data.images.remove(img)


def test_cycles_render_64px_is_a_face(bpy_clean, tmp_path):
    obj = build.build_face(synthetic_face(seed=1), displacement_method="SHADER")
    lighting.match_lighting(obj)
    engine_before = bpy.context.scene.render.engine
    paths = api.render_views(obj, [0, 30], str(tmp_path), resolution=64, samples=4)
    assert [os.path.basename(p) for p in paths] == ["StyleFace_1_yaw+000.png", "StyleFace_1_yaw+030.png"]
    for p in paths:
        assert os.path.getsize(p) > 500
        px = _png_pixels(p)
        assert px.shape == (64, 64, 4)
        centre, corner = px[24:40, 24:40, :3].mean(), px[:6, :6, :3].mean()
        assert px[..., :3].std() > 0.02 and abs(centre - corner) > 0.05  # a lit face on a background
    assert not list(tmp_path.glob("*.partial.png"))
    assert bpy.context.scene.render.engine == engine_before   # settings restored
    assert tuple(obj.rotation_euler) == pytest.approx(build.object_rotation(0, 0))


def test_render_views_to_a_file_cleans_up(bpy_clean, tmp_path):
    obj = build.build_face(synthetic_face(seed=2))
    before = {k: {b.name for b in getattr(bpy.data, k)} for k in ("objects", "cameras", "lights", "worlds")}
    world = bpy.context.scene.world
    target = tmp_path / "x.png"
    assert api.render_views(obj, [15], str(target), resolution=32, samples=1) == [str(target)]
    assert target.is_file() and os.path.getsize(target) > 100          # a file, not a folder
    after = {k: {b.name for b in getattr(bpy.data, k)} for k in before}
    assert after == before and bpy.context.scene.world == world         # no camera, sun or world left
    paths = api.render_views(obj, [-10, 10], str(target), resolution=32, samples=1)
    assert [os.path.basename(p) for p in paths] == ["x_yaw-010.png", "x_yaw+010.png"]


def test_batch_renders_and_resumes(bpy_clean, worker_env, tmp_path, capsys):
    out = tmp_path / "renders"
    args = ["--seeds", "0-2", "--out", str(out), "--resolution", "32", "--samples", "2", "--yaws=-30,0",
            "--texture-size", "16"]
    assert batch.run(args) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(api.view_filename(s, y) for s in range(3) for y in (-30, 0))
    (out / api.view_filename(1, 0)).unlink()            # as if interrupted mid-seed
    stamp = os.path.getmtime(out / api.view_filename(0, 0))
    capsys.readouterr()
    assert batch.run(args[:1] + ["0-3"] + args[2:]) == 0
    text = capsys.readouterr().out
    assert "2 already done, 2 to render" in text
    assert os.path.getmtime(out / api.view_filename(0, 0)) == stamp   # untouched
    assert (out / api.view_filename(1, 0)).is_file() and (out / api.view_filename(3, -30)).is_file()
    assert not bpy.data.meshes  # every face removed after rendering
    assert batch.run(args) == 0 and "3 already done, 0 to render" in capsys.readouterr().out


def test_batch_argument_errors(capsys):
    assert batch.run(["--seeds", "5-1", "--out", "/tmp/x"]) == 2
    assert "bad seed range" in capsys.readouterr().err
    assert batch.parse_seeds("3,0-2,3") == [3, 0, 1, 2]
