"""ARKit capture import (Live Link Face CSV): parsing, frames from the timecode at the scene's rate,
shape-key keyframes from the API and the operator (an undo step), browInnerUp/cheekPuff driving both
sides, tongueOut reported. The tests write their CSV files themselves."""
from __future__ import annotations

import csv

import numpy as np
import pytest

from styleface_blender.capture_csv import CaptureError, read_capture

LIVE_LINK_HEADER = ["Timecode", "BlendShapeCount", "EyeBlinkLeft", "JawOpen", "BrowInnerUp", "CheekPuff",
                    "TongueOut", "HeadYaw", "HeadPitch", "LeftEyeYaw"]


def write_capture(path, rows: int = 120, fps: int = 60, header=LIVE_LINK_HEADER, timecode: bool = True,
                  start=(13, 58, 58, 10)) -> np.ndarray:
    """A Live Link Face-style CSV: ``rows`` frames at ``fps`` from timecode ``start``; returns the
    blendshape values (rows, 5) written for EyeBlinkLeft, JawOpen, BrowInnerUp, CheekPuff, TongueOut."""
    rng = np.random.default_rng(rows)
    values = rng.uniform(0, 1, (rows, 5)).round(4)
    h, m, s, f = start
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header if timecode else header[1:])
        for r in range(rows):
            frame = f + r
            sec = s + frame // fps
            tc = f"{h:02d}:{m + sec // 60:02d}:{sec % 60:02d}:{frame % fps:02d}.{r * 7 % 1000:03d}"
            extra = [0.1 * r, -0.2, 0.05]
            row = [61, *values[r], *extra]
            w.writerow(([tc] if timecode else []) + row)
    return values


def test_read_capture_names_timecode_and_rate(tmp_path):
    p = tmp_path / "take.csv"
    values = write_capture(p, rows=130, fps=60)
    cap = read_capture(str(p))
    assert cap.names == ["eyeBlinkLeft", "jawOpen", "browInnerUp", "cheekPuff", "tongueOut"]
    assert cap.ignored == ["HeadYaw", "HeadPitch", "LeftEyeYaw"]
    assert np.allclose(cap.values, values)
    assert cap.capture_fps() == 60.0                      # frame numbers 0..59 roll over
    t = cap.seconds()
    assert t[0] == 0 and np.allclose(np.diff(t)[:50], 1 / 60, atol=0.02)  # the sub-frame adds < 1 frame
    frames, rows = cap.frames(24.0, frame_start=1)
    assert frames[0] == 1 and np.all(np.diff(frames) == 1)
    assert frames[-1] == 1 + round(t[-1] * 24)
    assert np.all(np.abs(t[rows] * 24 - (frames - 1)) <= 0.5 + 1e-9)   # the nearest row per frame


def test_read_capture_lowercase_and_no_timecode(tmp_path):
    p = tmp_path / "lower.csv"
    header = ["Timecode", "BlendShapeCount", "eyeBlinkLeft", "jawOpen", "browInnerUp", "cheekPuff", "tongueOut",
              "headYaw", "headPitch", "leftEyeYaw"]
    write_capture(p, rows=10, header=header, timecode=False)
    cap = read_capture(str(p))
    assert cap.names[:2] == ["eyeBlinkLeft", "jawOpen"] and cap.timecodes is None
    frames, rows = cap.frames(24.0, frame_start=5)
    assert list(frames) == list(range(5, 15)) and list(rows) == list(range(10))


@pytest.mark.parametrize("text, message", [
    ("", "empty"),
    ("Timecode,HeadYaw\n00:00:00:00.000,0.1\n", "no ARKit blendshape columns"),
    ("Timecode,JawOpen\n", "no rows"),
    ("Timecode,JawOpen\n00:00:00:00.000,abc\n", "not a number"),
])
def test_bad_capture_files(tmp_path, text, message):
    p = tmp_path / "bad.csv"
    p.write_text(text)
    with pytest.raises(CaptureError, match=message):
        read_capture(str(p))
    with pytest.raises(CaptureError, match="cannot read"):
        read_capture(str(tmp_path / "missing.csv"))


# -- into Blender --------------------------------------------------------------------------------------

def _face(bpy):
    import blender_fakes
    from styleface_blender.build import build_face
    from styleface_blender.facedata import FaceData
    return build_face(FaceData.from_arrays(*blender_fakes.rig_face_arrays(2)))


def _curve_values(obj, key_name: str, frames) -> np.ndarray:
    from styleface_blender.capture import _fcurves
    key = obj.data.shape_keys
    fc = _fcurves(key.animation_data).find(f'key_blocks["{key_name}"].value')
    assert fc is not None, key_name
    return np.array([fc.evaluate(float(f)) for f in frames]), fc


def test_api_import_keys_shape_keys(bpy_clean, tmp_path):
    bpy = bpy_clean
    from styleface_blender import api
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 24, 1.0
    scene.frame_start, scene.frame_end = 1, 10
    obj = _face(bpy)
    before = {k.name: k.value for k in obj.data.shape_keys.key_blocks}
    p = tmp_path / "take.csv"
    values = write_capture(p, rows=120, fps=60)
    res = api.import_arkit_capture(obj, str(p))
    cap = read_capture(str(p))
    frames, rows = cap.frames(24.0, 1)
    assert (res.frame_start, res.frame_end, res.n_keyframes) == (1, int(frames[-1]), len(frames))
    assert scene.frame_end == res.frame_end > 10                       # the scene covers the capture
    assert res.timing == "timecode" and res.capture_fps == 60.0 and res.scene_fps == 24.0
    assert sorted(res.keyed) == sorted(["eyeBlinkLeft", "jawOpen", "browInnerUpLeft", "browInnerUpRight",
                                        "cheekPuffLeft", "cheekPuffRight"])
    assert res.unmapped == ["tongueOut"] and "tongueOut" in res.message()
    got, fc = _curve_values(obj, "jawOpen", frames)
    assert np.allclose(got, values[rows, 1], atol=1e-6)
    assert len(fc.keyframe_points) == len(frames) and fc.keyframe_points[0].interpolation == "LINEAR"
    # ARKit's single browInnerUp / cheekPuff drive both sides
    for single, col in (("browInnerUp", 2), ("cheekPuff", 3)):
        for side in ("Left", "Right"):
            got, _ = _curve_values(obj, single + side, frames)
            assert np.allclose(got, values[rows, col], atol=1e-6)
    # evaluated at a frame, the keys take the capture's values; keys not in the capture keep theirs
    scene.frame_set(int(frames[7]))
    keys = obj.data.shape_keys.key_blocks
    assert keys["eyeBlinkLeft"].value == pytest.approx(values[rows[7], 0], abs=1e-6)
    assert keys["browInnerUpRight"].value == pytest.approx(values[rows[7], 2], abs=1e-6)
    assert keys["cheekRaiserLeft"].value == pytest.approx(before["cheekRaiserLeft"])
    # a second import replaces the curves instead of piling keys up
    res2 = api.import_arkit_capture(obj, str(p), frame_start=100)
    _, fc = _curve_values(obj, "jawOpen", frames)
    assert res2.frame_start == 100 and len(fc.keyframe_points) == len(frames)
    assert fc.keyframe_points[0].co[0] == 100


def test_import_needs_matching_shape_keys(bpy_clean, tmp_path):
    bpy = bpy_clean
    from styleface_blender import api
    p = tmp_path / "take.csv"
    write_capture(p, rows=5)
    mesh = bpy.data.meshes.new("plain")
    mesh.from_pydata([(0, 0, 0), (1, 0, 0), (0, 1, 0)], [], [(0, 1, 2)])
    plain = bpy.data.objects.new("plain", mesh)
    bpy.context.scene.collection.objects.link(plain)
    with pytest.raises(CaptureError, match="no shape keys"):
        api.import_arkit_capture(plain, str(p))
    plain.shape_key_add(name="Basis")
    plain.shape_key_add(name="smile")
    with pytest.raises(CaptureError, match="matches a shape key"):
        api.import_arkit_capture(plain, str(p))


def test_operator_imports_and_is_an_undo_step(bpy_clean, tmp_path):
    bpy = bpy_clean
    import styleface_blender
    styleface_blender.register()
    try:
        op_cls = bpy.types.STYLEFACE_OT_import_arkit_capture
        assert {"REGISTER", "UNDO"} <= set(op_cls.bl_options)
        assert bpy.types.STYLEFACE_PT_capture.bl_parent_id == "STYLEFACE_PT_main"
        obj = _face(bpy)
        bpy.context.view_layer.objects.active = obj
        p = tmp_path / "take.csv"
        write_capture(p, rows=30)
        assert bpy.ops.styleface.import_arkit_capture.poll()
        assert bpy.ops.styleface.import_arkit_capture(filepath=str(p)) == {"FINISHED"}
        assert obj.data.shape_keys.animation_data.action is not None
        bad = tmp_path / "bad.csv"
        bad.write_text("Timecode,HeadYaw\n00:00:00:00.000,0.1\n")
        with pytest.raises(RuntimeError, match="no ARKit blendshape columns"):
            bpy.ops.styleface.import_arkit_capture(filepath=str(bad))
    finally:
        styleface_blender.unregister()


def test_operator_import_undoes_and_redoes(bpy_clean, tmp_path):
    """Ctrl+Z after an import takes the keyframes away in one step; Ctrl+Shift+Z brings them back."""
    bpy = bpy_clean
    import styleface_blender
    styleface_blender.register()
    try:
        bpy.ops.ed.undo_push(message="Original")     # the step a GUI session has after loading a file
        bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "scene.blend"))
        obj = _face(bpy)
        name = obj.name
        bpy.context.view_layer.objects.active = obj
        bpy.ops.ed.undo_push(message="Face")
        p = tmp_path / "take.csv"
        write_capture(p, rows=20)

        def animated() -> bool:
            key = bpy.data.objects[name].data.shape_keys
            return key.animation_data is not None and key.animation_data.action is not None

        # 'EXEC_DEFAULT', True: call as a button does (scripts' operator calls push no undo step)
        assert bpy.ops.styleface.import_arkit_capture("EXEC_DEFAULT", True, filepath=str(p)) == {"FINISHED"}
        assert animated()
        bpy.ops.ed.undo()
        assert not animated()
        bpy.ops.ed.redo()
        assert animated()
    finally:
        styleface_blender.unregister()


def test_remove_face_drops_its_capture_and_regenerate_keeps_it(bpy_clean, tmp_path, monkeypatch):
    bpy = bpy_clean
    from styleface_blender import api, build
    p = tmp_path / "take.csv"
    values = write_capture(p, rows=40)
    obj = _face(bpy)
    api.import_arkit_capture(obj, str(p))
    assert len(bpy.data.actions) == 1
    build.remove_face(obj)
    assert len(bpy.data.actions) == 0                     # nothing orphaned

    obj = _face(bpy)
    api.import_arkit_capture(obj, str(p))
    name = obj.name
    monkeypatch.setattr(api, "generate_face", lambda seed, **kw: _face(bpy))  # no worker needed
    new = api.regenerate(obj)
    assert new.name == name and len(bpy.data.actions) == 1
    cap = read_capture(str(p))
    frames, rows = cap.frames(bpy.context.scene.render.fps / bpy.context.scene.render.fps_base, 1)
    got, _ = _curve_values(new, "jawOpen", frames)
    assert np.allclose(got, values[rows, 1], atol=1e-6)
    bpy.context.scene.frame_set(int(frames[3]))
    assert new.data.shape_keys.key_blocks["jawOpen"].value == pytest.approx(values[rows[3], 1], abs=1e-6)
