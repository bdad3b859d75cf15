"""No lost work: each scene change by the add-on is one named undo step and marks the file modified.

The operators run as in the UI (threaded job drained by the timer callback, ``_blocking`` patched),
so these tests see what an artist gets from Ctrl+Z / Ctrl+Shift+Z. ``bpy.data.is_dirty`` (the
"Save changes?" on quit) is always True in background mode (Blender only tracks saves with a window
manager running), so it is asserted only where the build tracks it; the real-Blender GUI check covers it.
"""
from __future__ import annotations

import time

import pytest

bpy = pytest.importorskip("bpy", reason="needs Blender as a Python module (pip install bpy)")

from styleface_blender import build  # noqa: E402


@pytest.fixture
def addon_ui(bpy_clean, worker_env, monkeypatch, tmp_path):
    """The registered add-on in a saved, clean file, with the timer (UI) path for jobs."""
    import styleface_blender
    from styleface_blender import operators
    styleface_blender.register()
    monkeypatch.setattr(operators, "_blocking", lambda: False)
    s = bpy.context.scene.styleface
    s.texture_size, s.count, s.crowd_spacing = 16, 3, 0.5
    bpy.ops.ed.undo_push(message="Original")  # the step a GUI session has after loading a file
    path = str(tmp_path / "scene.blend")
    bpy.ops.wm.save_as_mainfile(filepath=path)
    try:
        yield operators, path
    finally:
        styleface_blender.unregister()


def _drain(operators) -> None:
    """What the timer does in the UI, until the job is done."""
    deadline = time.time() + 60
    while operators._tick() is not None:
        assert time.time() < deadline, "job did not finish"
        time.sleep(0.01)


def _generate(operators, seed: int) -> None:
    bpy.context.scene.styleface.seed = seed
    assert bpy.ops.styleface.generate() == {"FINISHED"}
    _drain(operators)
    assert operators.STATE.error == ""


def _saved_clean() -> bool:
    """True where this Blender tracks unsaved changes (not in background mode)."""
    return not bpy.data.is_dirty


def _faces() -> set[str]:
    return {o.name for o in bpy.data.objects if build.is_styleface(o)}


def _names() -> set[str]:
    return {o.name for o in bpy.data.objects}


def test_generate_edit_generate_undo_redo_save_reopen(addon_ui):
    operators, path = addon_ui
    tracked = _saved_clean()
    _generate(operators, 1)
    assert _faces() == {"StyleFace_1"} and bpy.data.is_dirty  # quitting now asks to save
    bpy.ops.object.empty_add("EXEC_DEFAULT", True)  # an edit of the user's own, as from the menu
    bpy.context.active_object.name = "Unrelated edit"
    bpy.ops.ed.undo_push(message="Rename")
    _generate(operators, 2)
    assert _faces() == {"StyleFace_1", "StyleFace_2"}
    # the job's step is the last operation: "Adjust Last Operation" no longer re-runs Add Empty (which
    # would undo back past it and drop face 2); the step has nothing to adjust
    last = bpy.context.window_manager.operators[-1]
    assert last.bl_idname == "STYLEFACE_OT_step_generate" and not list(last.properties.keys())

    bpy.ops.ed.undo()
    assert _names() == {"StyleFace_1", "Unrelated edit"}
    bpy.ops.ed.undo()
    bpy.ops.ed.undo()
    assert _names() == {"StyleFace_1"}
    bpy.ops.ed.undo()
    assert _names() == set()
    for expected in ({"StyleFace_1"}, {"StyleFace_1", "Empty"}, {"StyleFace_1", "Unrelated edit"},
                     {"StyleFace_1", "Unrelated edit", "StyleFace_2"}):
        bpy.ops.ed.redo()
        assert _names() == expected
    face = bpy.data.objects["StyleFace_2"]
    assert face.data.materials[0].node_tree is not None and len(face.data.vertices) > 0

    bpy.ops.wm.save_as_mainfile(filepath=path)
    assert _saved_clean() == tracked
    bpy.ops.wm.open_mainfile(filepath=path)
    assert _names() == {"StyleFace_1", "Unrelated edit", "StyleFace_2"}
    images = [n.image for n in bpy.data.objects["StyleFace_2"].data.materials[0].node_tree.nodes
              if n.type == "TEX_IMAGE"]
    assert len(images) == 2 and all(img.packed_file is not None and img.size[0] == 16 for img in images)


def test_crowd_and_regenerate_are_one_step_each(addon_ui):
    operators, path = addon_ui
    assert bpy.ops.styleface.populate_crowd() == {"FINISHED"}
    _drain(operators)
    crowd = _faces()
    assert len(crowd) == 3 and bpy.data.is_dirty
    bpy.context.view_layer.objects.active = bpy.data.objects["StyleFace_0"]
    bpy.ops.wm.save_as_mainfile(filepath=path)
    assert bpy.ops.styleface.regenerate("EXEC_DEFAULT", True, mode="SEED") == {"FINISHED"}  # as a click
    assert bpy.data.is_dirty
    assert build.face_props(bpy.data.objects["StyleFace_0"])["seed"] == 1  # new face, old name
    bpy.ops.ed.undo()  # regenerate undone: the old face (seed 0) is back
    assert build.face_props(bpy.data.objects["StyleFace_0"])["seed"] == 0
    bpy.ops.ed.undo()  # the whole crowd goes in one step
    assert _faces() == set()
    bpy.ops.ed.redo()
    assert _faces() == crowd
    bpy.ops.ed.redo()
    assert build.face_props(bpy.data.objects["StyleFace_0"])["seed"] == 1


def test_live_slider_update_is_part_of_the_property_step(addon_ui):
    """The UI pushes one step per slider edit; the face's modifier change must be inside it."""
    operators, _ = addon_ui
    _generate(operators, 5)
    face = bpy.data.objects["StyleFace_5"]
    bpy.context.view_layer.objects.active = face
    before = face.modifiers[build.DISPLACE_NAME].strength
    bpy.context.scene.styleface.displacement_strength = 3.0
    bpy.ops.ed.undo_push(message="Displacement")  # what Blender's slider does after the update
    assert bpy.data.objects["StyleFace_5"].modifiers[build.DISPLACE_NAME].strength == pytest.approx(3 * before)
    bpy.ops.ed.undo()
    assert bpy.data.objects["StyleFace_5"].modifiers[build.DISPLACE_NAME].strength == pytest.approx(before)
    assert bpy.context.scene.styleface.displacement_strength == pytest.approx(1.0)


def test_undo_while_a_job_runs_stops_it(addon_ui, worker_env):
    operators, _ = addon_ui
    worker_env("slow")
    bpy.context.scene.styleface.count = 6
    bpy.context.scene.collection.objects.link(bpy.data.objects.new("Unrelated edit", None))
    bpy.ops.ed.undo_push(message="Add Empty")
    assert bpy.ops.styleface.populate_crowd() == {"FINISHED"}
    deadline = time.time() + 60
    while not operators.STATE.job.objects:
        assert time.time() < deadline
        operators._tick()
        time.sleep(0.01)
    bpy.ops.ed.undo()  # Ctrl+Z mid-crowd: the job stops, nothing is built into the undone scene
    assert operators.STATE.job is None and operators.STATE.message == "Generation stopped by undo"
    assert _names() == set()
    bpy.ops.ed.redo()  # the redo history is intact (no step was pushed after the undo)
    assert _names() == {"Unrelated edit"}
