"""Add-on preferences: where the backend lives, which bundle and device, install/test/release."""
from __future__ import annotations

import bpy
from bpy.props import EnumProperty, StringProperty

from . import backend, operators

ADDON_ID = __package__


class StyleFacePreferences(bpy.types.AddonPreferences):
    bl_idname = ADDON_ID

    backend_mode: EnumProperty(
        name="Backend",
        items=[("MANAGED", "Managed environment", "A Python environment with torch that the add-on installs"),
               ("EXISTING", "Existing Python", "A Python interpreter with torch that you already have")],
        default="MANAGED")
    python_path: StringProperty(name="Python", subtype="FILE_PATH",
                                description="Interpreter of an environment with torch and numpy")
    env_dir: StringProperty(name="Environment folder", subtype="DIR_PATH",
                            description="Where 'Install backend' creates the managed environment "
                                        "(empty: the extension's user folder)")
    torch_variant: EnumProperty(
        name="PyTorch build",
        items=[("CPU", "CPU", "Small download, runs everywhere"),
               ("CUDA", "CUDA (NVIDIA)", "GPU build for NVIDIA cards"),
               ("DEFAULT", "PyPI default", "Whatever plain 'pip install torch' picks (MPS on Apple silicon)")],
        default="CPU")
    bundle_path: StringProperty(name="Model bundle", subtype="FILE_PATH",
                                description="A StyleFace bundle folder or .zip (empty: the embedded demo)")
    device: EnumProperty(name="Device", items=[("AUTO", "Auto", "CUDA, then MPS, then CPU"),
                                               ("CUDA", "CUDA", "NVIDIA GPU"), ("CPU", "CPU", "Processor only")],
                         default="AUTO")
    image_storage: EnumProperty(
        name="Images",
        items=[("PACK", "Pack into .blend", "Textures travel inside the .blend file"),
               ("EXTERNAL", "Save beside .blend", "Textures are written to a folder next to the .blend")],
        default="PACK")
    texture_dir: StringProperty(name="Texture folder", default="//styleface_textures", subtype="DIR_PATH")

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        col = layout.column()
        col.prop(self, "backend_mode")
        if self.backend_mode == "EXISTING":
            col.prop(self, "python_path")
        else:
            col.prop(self, "env_dir")
            row = col.row(align=True)
            row.prop(self, "torch_variant")
            inst = operators.STATE.installer
            if inst is not None and not inst.finished:
                row.operator("styleface.cancel_install", text="Cancel", icon="CANCEL")
            else:
                row.operator("styleface.install_backend", icon="IMPORT")
            if inst is not None:
                box = col.box()
                box.label(text="Install log (" + inst.log_path + "):")
                for line in inst.log_tail(10):
                    box.label(text=line[-150:])
        col.prop(self, "bundle_path")
        col.prop(self, "device")
        col.prop(self, "image_storage")
        if self.image_storage == "EXTERNAL":
            col.prop(self, "texture_dir")
        row = col.row(align=True)
        row.operator("styleface.test_backend", icon="CHECKMARK")
        row.operator("styleface.release_backend", icon="X")
        be = backend.get_backend()
        col.label(text=f"Worker: running (pid {be.pid})" if be.running else "Worker: not running")
        for line in operators.STATE.test_report:
            col.label(text=line)


CLASSES = (StyleFacePreferences,)


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)


def unregister() -> None:
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
