"""Undo steps for scene changes made outside an operator's ``execute`` (faces built by a timer).

Why: Blender pushes an undo step, and marks the file modified, only when an operator with the UNDO
flag finishes. A generate job builds its faces later, in a ``bpy.app.timers`` callback, so without an
explicit step the faces belong to no step (Ctrl+Z skips them, redo loses them) and quitting does not
ask to save.

The step is pushed by running an internal operator with the REGISTER and UNDO flags (as an undoable
call), not by ``ed.undo_push``: it becomes the last operation, so "Adjust Last Operation" (the panel,
F9) no longer offers the operator before the job. With a bare push the panel kept offering e.g. "Add
Empty", and adjusting it undid back past that step, taking the new faces with it (seen in Blender
4.3's GUI). The step operator has no properties, so there is nothing to adjust and no panel shows.
"""
from __future__ import annotations

import bpy

from .optypes import OpResult


class STYLEFACE_OT_step_generate(bpy.types.Operator):
    """Internal: the undo step of faces built by a Generate job"""
    bl_idname = "styleface.step_generate"
    bl_label = "StyleFace Generate"
    bl_options = {"REGISTER", "UNDO", "INTERNAL"}

    def execute(self, context: bpy.types.Context) -> set[OpResult]:
        return {"FINISHED"}


class STYLEFACE_OT_step_crowd(bpy.types.Operator):
    """Internal: the undo step of faces built by a Populate Crowd job"""
    bl_idname = "styleface.step_crowd"
    bl_label = "StyleFace Populate Crowd"
    bl_options = {"REGISTER", "UNDO", "INTERNAL"}

    def execute(self, context: bpy.types.Context) -> set[OpResult]:
        return {"FINISHED"}


STEPS = {"Generate": "step_generate", "Crowd": "step_crowd"}


def push(kind: str) -> bool:
    """One undo step (named "StyleFace Generate" / "StyleFace Populate Crowd") for what was just
    built; True if Blender took it. ``kind``: a key of ``STEPS``."""
    op = getattr(getattr(bpy.ops, "styleface"), STEPS[kind])  # registered by this add-on
    try:
        wm = getattr(bpy.context, "window_manager", None)
        windows = list(wm.windows) if wm is not None else []
        if bpy.context.window is None and windows:  # a timer has no window in its context
            with bpy.context.temp_override(window=windows[0], screen=windows[0].screen):
                op("EXEC_DEFAULT", True)  # True: an undoable call, as from a button
        else:
            op("EXEC_DEFAULT", True)
        return True
    except (RuntimeError, AttributeError, TypeError) as e:
        print(f"StyleFace: could not push the undo step for {kind!r}: {e}")
        return False


CLASSES = (STYLEFACE_OT_step_generate, STYLEFACE_OT_step_crowd)


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)


def unregister() -> None:
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
