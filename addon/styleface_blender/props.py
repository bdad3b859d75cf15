"""Panel settings (``scene.styleface``): saved with the .blend, so a scene remembers how it was made.

Live controls (displacement, subdivision, yaw/pitch) also update the active StyleFace object at once.
"""
from __future__ import annotations

import bpy
from bpy.props import (BoolProperty, EnumProperty, FloatProperty, IntProperty, PointerProperty,
                       StringProperty)

from . import build

MAX_UI_SEED = 2**31 - 1


def _active_face(context: bpy.types.Context):
    obj = getattr(context, "active_object", None)
    return obj if build.is_styleface(obj) else None


def _update_detail(self: "StyleFaceSettings", context: bpy.types.Context) -> None:
    obj = _active_face(context)
    if obj is not None:
        build.configure_displacement(obj, self.displacement_method, self.displacement_strength,
                                     self.subdiv_viewport, self.subdiv_render)


def _update_pose(self: "StyleFaceSettings", context: bpy.types.Context) -> None:
    obj = _active_face(context)
    if obj is not None:
        obj.rotation_euler = build.object_rotation(self.yaw, self.pitch)


def _expression_search(self: "StyleFaceSettings", context: bpy.types.Context, text: str):
    from . import api
    return [n for n in api.known_expressions() if text.lower() in n.lower()]


class StyleFaceSettings(bpy.types.PropertyGroup):
    seed: IntProperty(name="Seed", min=0, max=MAX_UI_SEED, default=0,
                      description="Same seed, bundle and options give the same face")
    truncation: FloatProperty(name="Truncation", min=0.0, max=1.5, default=0.7,
                              description="Truncation psi: lower is closer to the average face")
    count: IntProperty(name="Count", min=1, max=10000, default=10, description="Faces in a crowd")
    expression_mode: EnumProperty(
        name="Expression",
        items=[("SEED", "From face", "The expression the seed's face comes with"),
               ("PRESET", "Preset", "A named expression of the face model at a given strength"),
               ("FROM_SEED", "Other seed", "Take the expression of another seed")],
        default="SEED")
    expression_preset: StringProperty(name="Preset", default="", search=_expression_search,
                                      description="Named expression component of the face model")
    expression_strength: FloatProperty(name="Strength", min=-2.0, max=2.0, default=1.0)
    expression_seed: IntProperty(name="Expression seed", min=0, max=MAX_UI_SEED, default=1)
    yaw: FloatProperty(name="Yaw", subtype="ANGLE", min=-3.1416, max=3.1416, default=0.0,
                       update=_update_pose, description="Turn of the placed face (positive: to its left)")
    pitch: FloatProperty(name="Pitch", subtype="ANGLE", min=-1.5708, max=1.5708, default=0.0,
                         update=_update_pose, description="Tilt of the placed face (positive: up)")
    match_lighting: BoolProperty(name="Match lighting", default=False,
                                 description="Set the world and a sun from the face's estimated lighting")
    displacement_method: EnumProperty(
        name="Detail",
        items=[("MODIFIER", "Modifier", "Subdivision + Displace modifiers (viewport, all engines, export)"),
               ("SHADER", "Shader (Cycles)", "True displacement in the material (Cycles renders)"),
               ("NONE", "Off", "Base mesh only")],
        default="MODIFIER", update=_update_detail)
    displacement_strength: FloatProperty(name="Displacement", min=0.0, max=5.0, default=1.0,
                                         update=_update_detail,
                                         description="Multiplier of the map's own scale (1 = as trained)")
    subdiv_viewport: IntProperty(name="Viewport levels", min=0, max=4, default=0, update=_update_detail)
    subdiv_render: IntProperty(name="Render levels", min=0, max=6, default=2, update=_update_detail)
    texture_size: IntProperty(name="Texture size", min=0, max=2048, default=0,
                              description="UV map size (0: the bundle's default)")
    crowd_layout: EnumProperty(
        name="Layout",
        items=[("GRID", "Grid", "Rows on the ground plane"),
               ("SCATTER", "Scatter", "Random spots and turns"),
               ("VERTICES", "Vertices", "One face on each vertex of a mesh object")],
        default="GRID")
    crowd_spacing: FloatProperty(name="Spacing", subtype="DISTANCE", min=0.05, default=0.4)
    crowd_target: PointerProperty(name="Target", type=bpy.types.Object,
                                  poll=lambda self, o: o.type == "MESH")
    regenerate_mode: EnumProperty(
        name="Regenerate",
        items=[("REPRODUCE", "Reproduce", "Same seed and options"),
               ("SEED", "Next seed", "Same options, next seed"),
               ("SETTINGS", "Panel settings", "Same seed, the panel's expression and truncation")],
        default="REPRODUCE")

    def expression_options(self) -> dict:
        """Worker options for the expression part of the panel."""
        if self.expression_mode == "PRESET" and self.expression_preset:
            # float32 property -> a short decimal, so stored options read back as typed
            return {"expression": {self.expression_preset: round(self.expression_strength, 6)}}
        if self.expression_mode == "FROM_SEED":
            return {"expression_from_seed": self.expression_seed}
        return {}


CLASSES = (StyleFaceSettings,)


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    bpy.types.Scene.styleface = PointerProperty(type=StyleFaceSettings)  # type: ignore[attr-defined, func-returns-value]


def unregister() -> None:
    if hasattr(bpy.types.Scene, "styleface"):
        del bpy.types.Scene.styleface
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
