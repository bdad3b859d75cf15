"""Panel and operator for ARKit captures: import a Live Link Face CSV as shape-key keyframes.

A sub-panel of the StyleFace tab (kept out of ``ui``/``operators`` so the capture feature stays in one
place). The operator is an undo step (``REGISTER``/``UNDO``), like the add-on's other scene edits.
"""
from __future__ import annotations

from typing import Any, Literal

import bpy
from bpy.props import BoolProperty, StringProperty

from . import capture

#: Blender's operator result type (``optypes.OpResult`` where that module exists).
OpResult = Literal["RUNNING_MODAL", "CANCELLED", "FINISHED", "PASS_THROUGH", "INTERFACE"]


def _has_keys(obj: Any) -> bool:
    return obj is not None and obj.type == "MESH" and obj.data.shape_keys is not None \
        and len(obj.data.shape_keys.key_blocks) > 1


class STYLEFACE_OT_import_arkit_capture(bpy.types.Operator):
    """Key the active face's ARKit shape keys from a facial capture (Live Link Face CSV)"""
    bl_idname = "styleface.import_arkit_capture"
    bl_label = "Import ARKit Capture"
    bl_options = {"REGISTER", "UNDO"}

    filepath: StringProperty(name="File", subtype="FILE_PATH")
    filter_glob: StringProperty(default="*.csv;*.txt", options={"HIDDEN"})
    at_current_frame: BoolProperty(name="Start at Current Frame", default=False,
                                   description="Place the first capture frame at the current frame "
                                               "instead of the scene's start frame")

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _has_keys(context.active_object)

    def invoke(self, context: bpy.types.Context, event: Any) -> set[OpResult]:
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context: bpy.types.Context) -> set[OpResult]:
        scene = context.scene
        start = scene.frame_current if self.at_current_frame else None
        obj = context.active_object
        assert obj is not None  # poll
        try:
            result = capture.import_arkit_capture(obj, bpy.path.abspath(self.filepath),
                                                  frame_start=start, scene=scene)
        except capture.CaptureError as e:
            self.report({"ERROR"}, str(e))
            return {"CANCELLED"}
        self.report({"WARNING"} if result.unmapped else {"INFO"}, result.message())
        return {"FINISHED"}


class STYLEFACE_PT_capture(bpy.types.Panel):
    bl_label = "ARKit Capture"
    bl_idname = "STYLEFACE_PT_capture"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "StyleFace"
    bl_parent_id = "STYLEFACE_PT_main"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        obj = context.active_object
        if not _has_keys(obj):
            layout.label(text="Select a face with shape keys", icon="INFO")
            return
        n = len(obj.data.shape_keys.key_blocks) - 1
        layout.label(text=f"{n} shape keys on {obj.name}", icon="SHAPEKEY_DATA")
        missing = obj.get("styleface_arkit_missing")
        if missing:
            text = missing if isinstance(missing, str) else ", ".join(missing)
            layout.label(text=f"No shape for ARKit: {text.strip('[]').replace(chr(34), '')}", icon="ERROR")
        layout.operator("styleface.import_arkit_capture", icon="IMPORT")


CLASSES = (STYLEFACE_OT_import_arkit_capture, STYLEFACE_PT_capture)


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)


def unregister() -> None:
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
