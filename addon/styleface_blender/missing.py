"""The add-on's stand-in UI when Blender's Python lacks what it needs (see ``deps``): a sidebar panel
and preferences that say what is missing and how to fix it, instead of failing to enable."""
from __future__ import annotations

from typing import Any

import bpy

from . import deps, ui_text

ADDON_ID = __package__


def _draw_message(layout: Any, context: "bpy.types.Context") -> None:
    box = layout.box()
    box.alert = True
    ui_text.draw_wrapped(box, context, deps.advice(deps.missing()), icon="ERROR")


class STYLEFACE_PT_missing(bpy.types.Panel):
    bl_label = "StyleFace"
    bl_idname = "STYLEFACE_PT_missing"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "StyleFace"

    def draw(self, context: "bpy.types.Context") -> None:
        _draw_message(self.layout, context)


class StyleFaceMissingPreferences(bpy.types.AddonPreferences):
    bl_idname = ADDON_ID

    def draw(self, context: "bpy.types.Context") -> None:
        _draw_message(self.layout, context)


CLASSES = (STYLEFACE_PT_missing, StyleFaceMissingPreferences)


def register() -> None:
    print("StyleFace:", deps.advice(deps.missing()))
    for cls in CLASSES:
        bpy.utils.register_class(cls)


def unregister() -> None:
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
