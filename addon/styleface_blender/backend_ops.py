"""Operators of the preferences' backend section: Install Backend, Cancel Install, Test, Release.

Their results go to the preferences (``STATE.prefs_*``), where the user clicked; each action replaces
what an earlier one left there (an old error or test report never sits beside a new result).
"""
from __future__ import annotations

import os
from typing import Any

import bpy

from . import backend, installer, ui_text
from .operators import _redraw
from .optypes import OpResult
from .state import STATE

ONLINE_OFF = ("Online access is disabled (Preferences > System > Network > Allow Online Access): "
              "enable it to install the backend, or choose 'Existing Python' and point it at a Python "
              "that has torch")


def _prefs() -> Any:
    return backend.preferences()


def env_dir_of(prefs: Any) -> str:
    return bpy.path.abspath(prefs.env_dir) if prefs is not None and prefs.env_dir else backend.default_env_dir()


def _index_args(prefs: Any) -> dict[str, Any]:
    if prefs is None:
        return {}
    return dict(choice=prefs.package_index, custom_url=prefs.custom_index_url, fallback=prefs.index_fallback)


def install_summary(prefs: Any) -> list[str]:
    """What the confirmation says: destination, size, free space, where torch comes from."""
    variant = prefs.torch_variant if prefs is not None else "CPU"
    dest = env_dir_of(prefs)
    lines = [f"Destination: {dest}",
             f"Size: {installer.size_text(variant)} on disk "
             f"({installer.variant_build(variant)} build of PyTorch and the backend's packages)"]
    free = installer.free_gb(dest)
    if free is not None:
        need = installer.SIZE_GB[installer.variant_build(variant)]
        lines.append(f"Free there: {free:.1f} GB" + ("  - NOT ENOUGH" if free < need * 1.2 else ""))
    idx = installer.index_candidates(variant, **_index_args(prefs))
    lines.append("PyTorch from: " + ", then ".join(f"{i.label} ({i.url})" for i in idx))
    lines.append(f"Versions: pinned by {os.path.basename(installer.CONSTRAINTS)} (shipped with the add-on)")
    if os.path.exists(dest):
        lines.append("The current environment there is replaced only if the new one installs and loads.")
    return lines


def _install_tick() -> float | None:
    inst = STATE.installer
    _redraw()
    if inst is None or not inst.finished:
        return 0.5 if inst is not None else None
    if inst.error:
        STATE.set_prefs(error=f"Backend install failed: {inst.error}")
    else:
        STATE.set_prefs(message=f"Backend installed in {inst.env_dir}"
                                + (f" (torch from {inst.index.label})" if inst.index else ""))
        STATE.set_panel()  # a "no backend" error in the panel is out of date now
    _redraw()
    return None


class STYLEFACE_OT_install_backend(bpy.types.Operator):
    """Create a Python environment with PyTorch for the backend (downloads several hundred MB)"""
    bl_idname = "styleface.install_backend"
    bl_label = "Install Backend"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return STATE.installer is None or STATE.installer.finished

    def invoke(self, context: bpy.types.Context, event: Any) -> set[OpResult]:
        return context.window_manager.invoke_props_dialog(self, width=560)

    def draw(self, context: bpy.types.Context) -> None:
        col = self.layout.column(align=True)
        col.label(text="Install the StyleFace backend?", icon="IMPORT")
        for line in install_summary(_prefs()):
            ui_text.draw_wrapped(col, context, line)

    def execute(self, context: bpy.types.Context) -> set[OpResult]:
        if not getattr(bpy.app, "online_access", True):
            STATE.set_prefs(error=ONLINE_OFF)
            self.report({"ERROR"}, "Online access is disabled; see the StyleFace preferences")
            return {"CANCELLED"}
        prefs = _prefs()
        env_dir = env_dir_of(prefs)
        backend.get_backend().release()
        try:
            inst = installer.Installer(env_dir, prefs.torch_variant if prefs else "CPU", **_index_args(prefs))
            STATE.installer = inst.start()
        except OSError as e:
            STATE.set_prefs(error=f"Backend install failed: cannot write {env_dir}: {e}")
            return {"CANCELLED"}
        STATE.set_prefs(message=f"Installing the backend into {env_dir} ({installer.size_text(inst.variant)})")
        bpy.app.timers.register(_install_tick, first_interval=0.5)
        self.report({"INFO"}, f"Installing the StyleFace backend into {env_dir}")
        return {"FINISHED"}


class STYLEFACE_OT_cancel_install(bpy.types.Operator):
    """Stop the backend installation (the previous environment stays as it was)"""
    bl_idname = "styleface.cancel_install"
    bl_label = "Cancel Install"

    def execute(self, context: bpy.types.Context) -> set[OpResult]:
        if STATE.installer is not None:
            STATE.installer.cancel()
        return {"FINISHED"}


class STYLEFACE_OT_test_backend(bpy.types.Operator):
    """Start the backend and report its versions and device"""
    bl_idname = "styleface.test_backend"
    bl_label = "Test Backend"

    def execute(self, context: bpy.types.Context) -> set[OpResult]:
        try:
            r = backend.test_backend()
        except backend.BackendError as e:
            STATE.set_prefs(error=f"Test failed: {e}")
            self.report({"ERROR"}, str(e).splitlines()[0])
            return {"CANCELLED"}
        gpu = f" ({r['gpu']})" if r.get("gpu") else ""
        report = [
            f"Python {r.get('python')}, torch {r.get('torch') or 'missing'}, StyleFace {r.get('styleface')}",
            f"CUDA: {'yes' + gpu if r.get('cuda') else 'no'}, MPS: {'yes' if r.get('mps') else 'no'}",
            f"Bundle: {r.get('bundle')} ({r.get('generator')}) on {r.get('device')}",
        ]
        STATE.set_prefs(message="Backend works", report=report)
        self.report({"INFO"}, " | ".join(report))
        return {"FINISHED"}


class STYLEFACE_OT_release_backend(bpy.types.Operator):
    """Stop the backend worker and free its (GPU) memory; it restarts on the next Generate"""
    bl_idname = "styleface.release_backend"
    bl_label = "Release Backend"

    def execute(self, context: bpy.types.Context) -> set[OpResult]:
        if STATE.job is not None:
            STATE.job.cancel()
        was = backend.get_backend().release()
        STATE.set_prefs(message="Backend stopped" if was else "Backend was not running")
        self.report({"INFO"}, STATE.prefs_message)
        return {"FINISHED"}


CLASSES = (STYLEFACE_OT_install_backend, STYLEFACE_OT_cancel_install, STYLEFACE_OT_test_backend,
           STYLEFACE_OT_release_backend)


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)


def unregister() -> None:
    if bpy.app.timers.is_registered(_install_tick):
        bpy.app.timers.unregister(_install_tick)
    if STATE.installer is not None and not STATE.installer.finished:
        STATE.installer.cancel()
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
