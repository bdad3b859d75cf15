"""The "StyleFace" tab in the 3D viewport sidebar (N panel)."""
from __future__ import annotations

import bpy

from . import build, ui_text
from .state import STATE


class STYLEFACE_PT_main(bpy.types.Panel):
    bl_label = "StyleFace"
    bl_idname = "STYLEFACE_PT_main"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "StyleFace"

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        s = context.scene.styleface
        busy = STATE.job is not None

        col = layout.column(align=True)
        row = col.row(align=True)
        row.prop(s, "seed")
        row.operator("styleface.random_seed", text="", icon="FILE_REFRESH")
        col.prop(s, "truncation", slider=True)

        # Property split (label column + widget column) with one property per line: labels such as
        # "Expression" fit the default sidebar width instead of being cut to "Express...".
        box = _split(layout.box())
        box.prop(s, "expression_mode")
        if s.expression_mode == "PRESET":
            box.prop(s, "expression_preset")
            box.prop(s, "expression_strength", slider=True)
        elif s.expression_mode == "FROM_SEED":
            box.prop(s, "expression_seed", text="Seed")

        box = _split(layout.box())
        col = box.column(align=True)
        col.prop(s, "yaw")
        col.prop(s, "pitch")
        row = box.row(align=True)
        row.prop(s, "match_lighting", text="Lighting")
        row.operator("styleface.match_lighting", text="", icon="LIGHT_SUN")

        box = _split(layout.box())
        box.prop(s, "displacement_method")
        box.prop(s, "displacement_strength", text="Strength", slider=True)
        col = box.column(align=True)
        col.prop(s, "subdiv_viewport", text="Viewport")
        col.prop(s, "subdiv_render", text="Render")

        col = layout.column(align=True)
        col.enabled = not busy
        col.scale_y = 1.3
        col.operator("styleface.generate", icon="USER")
        row = col.row(align=True)
        row.scale_y = 1.0
        row.prop(s, "regenerate_mode", text="")
        op = row.operator("styleface.regenerate", text="Regenerate", icon="FILE_REFRESH")
        op.mode = s.regenerate_mode

        box = _split(layout.box())
        box.enabled = not busy
        col = box.column(align=True)
        col.prop(s, "count")
        col.prop(s, "crowd_spacing")
        box.prop(s, "crowd_layout")
        if s.crowd_layout == "VERTICES":
            box.prop(s, "crowd_target")
        box.operator("styleface.populate_crowd", icon="COMMUNITY")

        if busy:
            job = STATE.job
            row = layout.row(align=True)
            if hasattr(row, "progress"):  # Blender 4.0+
                row.progress(factor=job.fraction, type="BAR", text=job.text)
            else:  # pragma: no cover - older Blender
                row.label(text=f"{job.text} ({job.fraction:.0%})")
            row.operator("styleface.cancel", text="", icon="CANCEL")
        if STATE.error:
            box = layout.box()
            box.alert = True
            ui_text.draw_wrapped(box, context, STATE.error, icon="ERROR")
            row = box.row(align=True)
            row.operator("styleface.open_preferences", icon="PREFERENCES")
            row.operator("styleface.dismiss", text="", icon="X")
        elif STATE.message:
            row = layout.row(align=True)
            ui_text.draw_wrapped(row, context, STATE.message, icon="INFO")
            row.operator("styleface.dismiss", text="", icon="X")

        obj = context.active_object
        if obj is not None and build.is_styleface(obj):
            props = build.face_props(obj)
            ui_text.draw_wrapped(layout, context, f"{obj.name}: seed {props.get('seed')}, bundle "
                                 f"{props.get('bundle')}", icon="OBJECT_DATA")


def _split(layout: bpy.types.UILayout) -> bpy.types.UILayout:
    layout.use_property_split = True
    layout.use_property_decorate = False
    return layout


CLASSES = (STYLEFACE_PT_main,)


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)


def unregister() -> None:
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
