"""The "Blend to Seed" sub-panel and operator (animation from the active face to another seed).

A separate UI module so the main panel and operators stay untouched; the work is ``blend.blend_to_seed``
(also the scripting API). The operator blocks while the backend generates the one target face.
"""
from __future__ import annotations

import bpy

from . import build
from .optypes import OpResult


def _face(context: bpy.types.Context) -> "bpy.types.Object | None":
    obj = context.active_object
    return obj if build.is_styleface(obj) else None


class STYLEFACE_OT_blend_to_seed(bpy.types.Operator):
    """Animate the active StyleFace face into another seed's face over a frame range"""

    bl_idname = "styleface.blend_to_seed"
    bl_label = "Blend to Seed"
    bl_options = {"REGISTER", "UNDO"}

    seed: bpy.props.IntProperty(name="Target Seed", default=1, min=0)
    frame_start: bpy.props.IntProperty(name="Start", default=1)
    frame_end: bpy.props.IntProperty(name="End", default=48)

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _face(context) is not None

    def execute(self, context: bpy.types.Context) -> set[OpResult]:
        from . import blend

        obj = _face(context)
        assert obj is not None  # poll
        try:
            blend.blend_to_seed(obj, self.seed, self.frame_start, self.frame_end)
        except Exception as e:  # noqa: BLE001 - shown to the user, the scene is left as it was
            self.report({"ERROR"}, f"Blend to seed failed: {e}")
            return {"CANCELLED"}
        self.report({"INFO"}, f"'{obj.name}' blends into seed {self.seed} over frames "
                              f"{self.frame_start}-{self.frame_end}")
        return {"FINISHED"}


class STYLEFACE_OT_blend_remove(bpy.types.Operator):
    """Remove the blend animation from the active StyleFace face"""

    bl_idname = "styleface.blend_remove"
    bl_label = "Remove Blend"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        obj = _face(context)
        from .blend import has_prop

        return obj is not None and has_prop(obj, "blend")

    def execute(self, context: bpy.types.Context) -> set[OpResult]:
        from . import blend

        obj = _face(context)
        assert obj is not None  # poll
        blend.remove_blend(obj)
        return {"FINISHED"}


class STYLEFACE_PT_blend(bpy.types.Panel):
    bl_label = "Blend to Seed"
    bl_idname = "STYLEFACE_PT_blend"
    bl_parent_id = "STYLEFACE_PT_main"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "StyleFace"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        obj = _face(context)
        if obj is None:
            layout.label(text="Select a StyleFace face")
            return
        wm = context.window_manager
        col = layout.column(align=True)
        col.prop(wm, "styleface_blend_seed")
        row = col.row(align=True)
        row.prop(wm, "styleface_blend_start")
        row.prop(wm, "styleface_blend_end")
        op = layout.operator(STYLEFACE_OT_blend_to_seed.bl_idname, icon="ANIM")
        op.seed, op.frame_start, op.frame_end = (wm.styleface_blend_seed, wm.styleface_blend_start,
                                                 wm.styleface_blend_end)
        layout.operator(STYLEFACE_OT_blend_remove.bl_idname, icon="X")


_CLASSES = (STYLEFACE_OT_blend_to_seed, STYLEFACE_OT_blend_remove, STYLEFACE_PT_blend)
_WM_PROPS = {
    "styleface_blend_seed": lambda: bpy.props.IntProperty(name="Target Seed", default=1, min=0),
    "styleface_blend_start": lambda: bpy.props.IntProperty(name="Start", default=1),
    "styleface_blend_end": lambda: bpy.props.IntProperty(name="End", default=48),
}


def register() -> None:
    for cls in _CLASSES:
        bpy.utils.register_class(cls)
    for name, make in _WM_PROPS.items():
        setattr(bpy.types.WindowManager, name, make())


def unregister() -> None:
    for name in _WM_PROPS:
        if hasattr(bpy.types.WindowManager, name):
            delattr(bpy.types.WindowManager, name)
    for cls in reversed(_CLASSES):
        bpy.utils.unregister_class(cls)
