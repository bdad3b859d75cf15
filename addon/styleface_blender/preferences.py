"""Add-on preferences: where the backend lives, which bundle and device, install/test/release."""
from __future__ import annotations

import bpy
from bpy.props import BoolProperty, EnumProperty, StringProperty

from . import backend, ui_text
from .state import STATE

ADDON_ID = __package__


def _backend_changed(self: "StyleFacePreferences", context: bpy.types.Context) -> None:
    """A new backend setting makes an earlier test result or error about the old one out of date."""
    STATE.set_prefs()


class StyleFacePreferences(bpy.types.AddonPreferences):
    bl_idname = ADDON_ID

    backend_mode: EnumProperty(
        name="Backend",
        items=[("MANAGED", "Managed environment", "A Python environment with torch that the add-on installs"),
               ("EXISTING", "Existing Python", "A Python interpreter with torch that you already have")],
        default="MANAGED", update=_backend_changed)
    python_path: StringProperty(name="Python", subtype="FILE_PATH", update=_backend_changed,
                                description="Interpreter of an environment with torch and numpy")
    env_dir: StringProperty(name="Environment folder", subtype="DIR_PATH", update=_backend_changed,
                            description="Where 'Install backend' creates the managed environment "
                                        "(empty: the extension's user folder)")
    torch_variant: EnumProperty(
        name="PyTorch build",
        items=[("CPU", "CPU", "Small download, runs everywhere"),
               ("CUDA", "CUDA (NVIDIA)", "GPU build for NVIDIA cards"),
               ("DEFAULT", "PyPI default", "Whatever plain 'pip install torch' picks (MPS on Apple silicon; "
                                           "on Linux the CUDA build, about 6 GB)")],
        default="CPU", update=_backend_changed)
    package_index: EnumProperty(
        name="Package index",
        items=[("PYTORCH", "PyTorch index", "download.pytorch.org for the chosen build"),
               ("PYPI", "PyPI", "pypi.org (on Linux its torch is the CUDA build)"),
               ("CUSTOM", "Custom URL", "A mirror or company index (pip --index-url)")],
        default="PYTORCH", update=_backend_changed)
    custom_index_url: StringProperty(name="Index URL", description="pip index URL that serves torch",
                                     update=_backend_changed)
    index_fallback: BoolProperty(name="Fall back to another index", default=True,
                                 description="When the chosen index cannot be reached, try another one that "
                                             "serves the same build (never a CUDA build for CPU)")
    bundle_path: StringProperty(name="Model bundle", subtype="FILE_PATH", update=_backend_changed,
                                description="A StyleFace bundle folder or .zip (empty: the embedded demo)")
    device: EnumProperty(name="Device", items=[("AUTO", "Auto", "CUDA, then MPS, then CPU"),
                                               ("CUDA", "CUDA", "NVIDIA GPU"), ("CPU", "CPU", "Processor only")],
                         default="AUTO", update=_backend_changed)
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
            col.prop(self, "torch_variant")  # one property per line: labels are not cut
            col.prop(self, "package_index")
            if self.package_index == "CUSTOM":
                col.prop(self, "custom_index_url")
            col.prop(self, "index_fallback")
            inst = STATE.installer
            if inst is not None and not inst.finished:
                col.operator("styleface.cancel_install", text="Cancel Install", icon="CANCEL")
            else:
                col.operator("styleface.install_backend", icon="IMPORT")
            if inst is not None:
                box = col.box()
                ui_text.draw_wrapped(box, context, "Install log: " + inst.log_path, icon="TEXT")
                for line in inst.log_tail(8):
                    ui_text.draw_wrapped(box, context, line, max_lines=3)
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
        draw_messages(col, context)


def draw_messages(layout: bpy.types.UILayout, context: bpy.types.Context) -> None:
    """The last backend action's result, whole (wrapped), replaced by the next action."""
    if STATE.prefs_error:
        box = layout.box()
        box.alert = True
        ui_text.draw_wrapped(box, context, STATE.prefs_error, icon="ERROR")
    elif STATE.prefs_message or STATE.test_report:
        box = layout.box()
        if STATE.prefs_message:
            ui_text.draw_wrapped(box, context, STATE.prefs_message, icon="INFO")
        for line in STATE.test_report:
            ui_text.draw_wrapped(box, context, line)


CLASSES = (StyleFacePreferences,)


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)


def unregister() -> None:
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
