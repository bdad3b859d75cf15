"""Undo steps for scene changes made outside an operator's ``execute`` (faces built by a timer).

Why: Blender pushes an undo step, and marks the file modified, only when an operator with the UNDO
flag finishes. A generate job builds its faces later, in a ``bpy.app.timers`` callback, so without
an explicit push the faces belong to no step (Ctrl+Z skips them, redo loses them) and quitting does
not ask to save. ``push`` after the last face gives the job one named step and tags the file as
modified (``ED_undo_push`` does both; in background mode it also creates the undo stack).
"""
from __future__ import annotations

import bpy


def push(message: str) -> bool:
    """One undo step named ``message`` for what was just built; True if Blender took it."""
    try:
        if bpy.ops.ed.undo_push.poll():  # type: ignore[call-arg]
            bpy.ops.ed.undo_push(message=message)
            return True
        wm = getattr(bpy.context, "window_manager", None)
        for window in (wm.windows if wm is not None else ()):  # a timer has no window in its context
            with bpy.context.temp_override(window=window, screen=window.screen):
                if bpy.ops.ed.undo_push.poll():  # type: ignore[call-arg]
                    bpy.ops.ed.undo_push(message=message)
                    return True
    except (RuntimeError, AttributeError, TypeError) as e:
        print(f"StyleFace: could not push the undo step {message!r}: {e}")
    return False
