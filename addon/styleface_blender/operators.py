"""Operators behind the panel and the preferences.

In the UI a generate request runs in a helper thread and a ``bpy.app.timers`` callback (main thread)
builds the faces as they arrive and redraws the panel's progress bar. In background mode
(``bpy.app.background``) timers never fire, so the same job runs blocking.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import bpy
from bpy.props import EnumProperty

from . import api, backend, build
from .build import BuildOptions

TIMER_INTERVAL = 0.1


@dataclass
class UIState:
    """What the panel shows; plain Python, touched only on the main thread."""

    job: Any = None
    error: str = ""
    message: str = ""
    installer: Any = None
    test_report: list[str] = field(default_factory=list)


STATE = UIState()


def _prefs() -> Any:
    return backend.preferences()


def _redraw() -> None:
    wm = getattr(bpy.context, "window_manager", None)
    if wm is None:
        return
    for window in wm.windows:
        for area in window.screen.areas:
            if area.type in ("VIEW_3D", "PREFERENCES"):
                area.tag_redraw()


def _fail(op: bpy.types.Operator | None, message: str) -> None:
    STATE.error = message
    if op is not None:
        op.report({"ERROR"}, message)


def _finish_job() -> None:
    job = STATE.job
    if job.status == "error":
        _fail(None, str(job.error))
        if getattr(job.error, "details", ""):
            print("StyleFace:", job.error.details)
    else:
        n = len(job.objects)
        STATE.message = f"{'Cancelled: ' if job.status == 'cancelled' else ''}{n} face{'s' * (n != 1)} built"
        if job.ignored_options:
            STATE.message += f" (backend ignored: {', '.join(job.ignored_options)})"
    if job.objects:
        try:
            view_layer = bpy.context.view_layer
            for o in view_layer.objects:
                o.select_set(False)
            for o in job.objects:
                o.select_set(True)
            view_layer.objects.active = job.objects[-1]
        except (ReferenceError, RuntimeError, AttributeError):
            pass
    STATE.job = None


def _tick() -> float | None:
    """Timer: build what arrived, update the progress bar; stops itself when the job is done."""
    job = STATE.job
    if job is None:
        return None
    try:
        done = job.poll(budget_s=0.05)
    except Exception as e:  # noqa: BLE001 - never let a timer die silently
        job.cancel()
        job.status, job.error = "error", backend.BackendError(str(e))
        done = True
    _redraw()
    if done:
        _finish_job()
        _redraw()
        return None
    return TIMER_INTERVAL


def run_job(op: bpy.types.Operator, job: Any) -> set[str]:
    """Blocking in background mode, threaded + timer in the UI."""
    STATE.error, STATE.message = "", ""
    if bpy.app.background:
        try:
            job.run()
        except backend.BackendError as e:
            _fail(op, str(e))
            return {"CANCELLED"}
        STATE.job = job
        _finish_job()
        op.report({"INFO"}, STATE.message)
        return {"FINISHED"}
    STATE.job = job.start()
    if not bpy.app.timers.is_registered(_tick):
        bpy.app.timers.register(_tick, first_interval=TIMER_INTERVAL, persistent=True)
    return {"FINISHED"}


@bpy.app.handlers.persistent
def _on_load_pre(*_args: Any) -> None:
    """Another file is loading: stop building into a scene that is about to disappear."""
    if STATE.job is not None:
        STATE.job.cancel()
        STATE.job = None
    STATE.error = STATE.message = ""


def _base_options(context: bpy.types.Context, collection: Any = None) -> BuildOptions:
    s = context.scene.styleface
    prefs = _prefs()
    return BuildOptions(collection=collection, location=tuple(context.scene.cursor.location), yaw=s.yaw,
                        pitch=s.pitch, displacement_strength=s.displacement_strength,
                        displacement_method=s.displacement_method, subdivision_viewport=s.subdiv_viewport,
                        subdivision_render=s.subdiv_render,
                        image_storage=prefs.image_storage if prefs is not None else "PACK",
                        texture_dir=prefs.texture_dir if prefs is not None else "//styleface_textures")


def _worker_options(s: Any, batch_size: int | None = None) -> dict[str, Any]:
    opts = api.worker_options(truncation=round(s.truncation, 6), texture_size=s.texture_size or None,
                              batch_size=batch_size)
    opts.update(s.expression_options())
    return opts


class _NeedsIdle:
    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return STATE.job is None


class STYLEFACE_OT_random_seed(bpy.types.Operator):
    """Roll a random seed"""
    bl_idname = "styleface.random_seed"
    bl_label = "Random Seed"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context: bpy.types.Context) -> set[str]:
        context.scene.styleface.seed = random.randint(0, 2**31 - 1)
        return {"FINISHED"}


class STYLEFACE_OT_generate(_NeedsIdle, bpy.types.Operator):
    """Generate the face of the current seed at the 3D cursor"""
    bl_idname = "styleface.generate"
    bl_label = "Generate"

    def execute(self, context: bpy.types.Context) -> set[str]:
        s = context.scene.styleface
        try:
            config = backend.resolve_config()
        except backend.BackendError as e:
            _fail(self, str(e))
            return {"CANCELLED"}
        job = api.create_job([s.seed], _worker_options(s), _base_options(context, context.collection), config,
                             lighting=s.match_lighting, label="Generating")
        return run_job(self, job)


class STYLEFACE_OT_populate_crowd(_NeedsIdle, bpy.types.Operator):
    """Generate a crowd of faces (seeds from the current one on) and place them"""
    bl_idname = "styleface.populate_crowd"
    bl_label = "Populate Crowd"

    def execute(self, context: bpy.types.Context) -> set[str]:
        s = context.scene.styleface
        try:
            config = backend.resolve_config()
            layout = s.crowd_layout.lower()
            if layout == "vertices" and s.crowd_target is None:
                raise ValueError("choose a target mesh for the 'Vertices' layout")
            seeds = list(range(s.seed, s.seed + s.count))
            placements = api.crowd_positions(len(seeds), layout, s.crowd_spacing, seed=s.seed,
                                             target=s.crowd_target, origin=tuple(context.scene.cursor.location))
        except (backend.BackendError, ValueError) as e:
            _fail(self, str(e))
            return {"CANCELLED"}
        coll = api.ensure_collection("StyleFace Crowd")
        base = _base_options(context, coll)
        base.subdivision_render = min(base.subdivision_render, 1)  # crowds: keep memory in check
        base.shape_keys = False
        job = api.create_job(seeds, _worker_options(s, batch_size=4), base, config, placements,
                             lighting=False, label="Crowd")
        return run_job(self, job)


class STYLEFACE_OT_regenerate(_NeedsIdle, bpy.types.Operator):
    """Rebuild the active StyleFace object from its seed and options (or vary them)"""
    bl_idname = "styleface.regenerate"
    bl_label = "Regenerate"
    bl_options = {"REGISTER", "UNDO"}

    mode: EnumProperty(name="Mode", items=[("REPRODUCE", "Reproduce", ""), ("SEED", "Next seed", ""),
                                           ("SETTINGS", "Panel settings", "")], default="REPRODUCE")

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return STATE.job is None and build.is_styleface(context.active_object)

    def execute(self, context: bpy.types.Context) -> set[str]:
        s = context.scene.styleface
        obj = context.active_object
        overrides: dict[str, Any] = {}
        if self.mode == "SETTINGS":
            overrides = {"truncation": round(s.truncation, 6), **{k: v for k, v in s.expression_options().items()
                                                          if k == "expression"}}
            if s.expression_mode == "FROM_SEED":
                overrides["expression_seed"] = s.expression_seed
        try:  # a single face: blocking is a short wait and keeps the swap atomic
            new = api.regenerate(obj, vary="seed" if self.mode == "SEED" else None, **overrides)
        except (backend.BackendError, ValueError) as e:
            _fail(self, str(e))
            return {"CANCELLED"}
        context.view_layer.objects.active = new
        new.select_set(True)
        STATE.error, STATE.message = "", f"Regenerated {new.name}"
        return {"FINISHED"}


class STYLEFACE_OT_cancel(bpy.types.Operator):
    """Stop the running generation; faces already built stay"""
    bl_idname = "styleface.cancel"
    bl_label = "Cancel"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return STATE.job is not None

    def execute(self, context: bpy.types.Context) -> set[str]:
        STATE.job.cancel()
        return {"FINISHED"}


class STYLEFACE_OT_match_lighting(bpy.types.Operator):
    """Set the world colour and a sun from the active face's estimated lighting"""
    bl_idname = "styleface.match_lighting"
    bl_label = "Match Lighting"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return build.is_styleface(context.active_object)

    def execute(self, context: bpy.types.Context) -> set[str]:
        if api.match_lighting(context.active_object, context.scene) is None:
            self.report({"WARNING"}, "This face carries no lighting coefficients")
            return {"CANCELLED"}
        return {"FINISHED"}


class STYLEFACE_OT_dismiss(bpy.types.Operator):
    """Hide the message"""
    bl_idname = "styleface.dismiss"
    bl_label = "Dismiss"

    def execute(self, context: bpy.types.Context) -> set[str]:
        STATE.error, STATE.message = "", ""
        return {"FINISHED"}


class STYLEFACE_OT_open_preferences(bpy.types.Operator):
    """Open the StyleFace add-on preferences (backend set-up)"""
    bl_idname = "styleface.open_preferences"
    bl_label = "Backend Settings"

    def execute(self, context: bpy.types.Context) -> set[str]:
        try:
            bpy.ops.screen.userpref_show()
            context.preferences.active_section = "ADDONS"
            bpy.ops.preferences.addon_show(module=__package__)
        except RuntimeError:
            pass
        return {"FINISHED"}


# -- preferences operators ---------------------------------------------------------------------------

def _install_tick() -> float | None:
    inst = STATE.installer
    _redraw()
    if inst is None or inst.finished:
        if inst is not None and inst.error:
            STATE.error = f"Backend install failed: {inst.error}"
        elif inst is not None:
            STATE.message = "Backend installed"
        return None
    return 0.5


class STYLEFACE_OT_install_backend(bpy.types.Operator):
    """Create a Python environment with PyTorch for the backend (downloads several hundred MB)"""
    bl_idname = "styleface.install_backend"
    bl_label = "Install Backend"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return STATE.installer is None or STATE.installer.finished

    def invoke(self, context: bpy.types.Context, event: Any) -> set[str]:
        return context.window_manager.invoke_confirm(self, event)

    def execute(self, context: bpy.types.Context) -> set[str]:
        if not getattr(bpy.app, "online_access", True):
            _fail(self, "Online access is disabled (Preferences > System > Network); enable it, or choose "
                        "'Existing Python'")
            return {"CANCELLED"}
        prefs = _prefs()
        env_dir = (bpy.path.abspath(prefs.env_dir) if prefs and prefs.env_dir else backend.default_env_dir())
        backend.get_backend().release()
        STATE.installer = backend.Installer(env_dir, prefs.torch_variant if prefs else "CPU").start()
        bpy.app.timers.register(_install_tick, first_interval=0.5)
        self.report({"INFO"}, f"Installing the StyleFace backend into {env_dir}")
        return {"FINISHED"}


class STYLEFACE_OT_cancel_install(bpy.types.Operator):
    """Stop the backend installation"""
    bl_idname = "styleface.cancel_install"
    bl_label = "Cancel Install"

    def execute(self, context: bpy.types.Context) -> set[str]:
        if STATE.installer is not None:
            STATE.installer.cancel()
        return {"FINISHED"}


class STYLEFACE_OT_test_backend(bpy.types.Operator):
    """Start the backend and report its versions and device"""
    bl_idname = "styleface.test_backend"
    bl_label = "Test Backend"

    def execute(self, context: bpy.types.Context) -> set[str]:
        try:
            r = backend.test_backend()
        except backend.BackendError as e:
            STATE.test_report = [f"Failed: {e}"]
            _fail(self, str(e))
            return {"CANCELLED"}
        gpu = f" ({r['gpu']})" if r.get("gpu") else ""
        STATE.test_report = [
            f"Python {r.get('python')}, torch {r.get('torch') or 'missing'}, StyleFace {r.get('styleface')}",
            f"CUDA: {'yes' + gpu if r.get('cuda') else 'no'}, MPS: {'yes' if r.get('mps') else 'no'}",
            f"Bundle: {r.get('bundle')} ({r.get('generator')}) on {r.get('device')}",
        ]
        self.report({"INFO"}, " | ".join(STATE.test_report))
        return {"FINISHED"}


class STYLEFACE_OT_release_backend(bpy.types.Operator):
    """Stop the backend worker and free its (GPU) memory; it restarts on the next Generate"""
    bl_idname = "styleface.release_backend"
    bl_label = "Release Backend"

    def execute(self, context: bpy.types.Context) -> set[str]:
        if STATE.job is not None:
            STATE.job.cancel()
        was = backend.get_backend().release()
        self.report({"INFO"}, "Backend stopped" if was else "Backend was not running")
        return {"FINISHED"}


CLASSES = (STYLEFACE_OT_random_seed, STYLEFACE_OT_generate, STYLEFACE_OT_populate_crowd,
           STYLEFACE_OT_regenerate, STYLEFACE_OT_cancel, STYLEFACE_OT_match_lighting, STYLEFACE_OT_dismiss,
           STYLEFACE_OT_open_preferences, STYLEFACE_OT_install_backend, STYLEFACE_OT_cancel_install,
           STYLEFACE_OT_test_backend, STYLEFACE_OT_release_backend)


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    bpy.app.handlers.load_pre.append(_on_load_pre)


def unregister() -> None:
    if _on_load_pre in bpy.app.handlers.load_pre:
        bpy.app.handlers.load_pre.remove(_on_load_pre)
    for fn in (_tick, _install_tick):
        if bpy.app.timers.is_registered(fn):
            bpy.app.timers.unregister(fn)
    if STATE.job is not None:
        STATE.job.cancel()
    if STATE.installer is not None and not STATE.installer.finished:
        STATE.installer.cancel()
    STATE.job = None
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
