"""Operators behind the panel and the preferences.

In the UI a generate request runs in a helper thread and a ``bpy.app.timers`` callback (main thread)
builds the faces as they arrive and redraws the panel's progress bar. In background mode
(``bpy.app.background``) timers never fire, so the same job runs blocking.
"""
from __future__ import annotations

import random
from typing import Any

import bpy
from bpy.props import EnumProperty

from . import api, backend, build, undo
from .build import BuildOptions
from .optypes import OpResult
from .state import STATE, UIState  # noqa: F401 - UIState re-exported for callers of the old location

TIMER_INTERVAL = 0.1


def _prefs() -> Any:
    return backend.preferences()


def _redraw() -> None:
    """Redraw every region of the viewports and the preferences (sidebar buttons re-run their poll)."""
    wm = getattr(bpy.context, "window_manager", None)
    if wm is None:
        return
    for window in wm.windows:
        for area in window.screen.areas:
            if area.type in ("VIEW_3D", "PREFERENCES"):
                area.tag_redraw()
                for region in area.regions:
                    region.tag_redraw()


def _late_redraw() -> None:
    """Once more a moment after a job ends: the first redraw can run before Blender re-checks the
    buttons' poll, which left them greyed until the mouse moved."""
    _redraw()
    return None


def _fail(op: bpy.types.Operator | None, message: str) -> None:
    STATE.set_panel(error=message)
    if op is not None:
        op.report({"ERROR"}, message.splitlines()[0])


def _finish_job() -> None:
    job = STATE.job
    STATE.job = None
    if job.status == "error":
        _fail(None, str(job.error))
        if getattr(job.error, "details", ""):
            print("StyleFace:", job.error.details)
    else:
        n = len(job.objects)
        message = f"{'Cancelled: ' if job.status == 'cancelled' else ''}{n} face{'s' * (n != 1)} built"
        if job.ignored_options:
            message += f" (backend ignored: {', '.join(job.ignored_options)})"
        STATE.set_panel(message=message)
    if job.objects and not getattr(job, "undone", False):
        try:
            view_layer = bpy.context.view_layer
            for o in view_layer.objects:
                o.select_set(False)
            for o in job.objects:
                o.select_set(True)
            view_layer.objects.active = job.objects[-1]
        except (ReferenceError, RuntimeError, AttributeError):
            pass
        # one step for the whole job, also for a cancelled or failed one (its whole faces stay)
        undo.push("Crowd" if job.label == "Crowd" else "Generate")


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
        if not bpy.app.timers.is_registered(_late_redraw):
            bpy.app.timers.register(_late_redraw, first_interval=0.2)
        return None
    return TIMER_INTERVAL


def _blocking() -> bool:
    """Timers never fire in background mode: run jobs inline there (tests patch this to drive the
    timer path)."""
    return bool(bpy.app.background)


def run_job(op: bpy.types.Operator, job: Any) -> set[OpResult]:
    """Blocking in background mode, threaded + timer in the UI."""
    STATE.set_panel()
    if _blocking():
        try:
            job.run()
        except backend.BackendError as e:
            STATE.job = job  # whole faces built before the failure stay, as one undo step
            _finish_job()
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


def _stop_job(reason: str) -> None:
    """Stop the running job without an undo step: its scene is being replaced (undo, file load)."""
    job = STATE.job
    if job is not None:
        job.cancel()
        job.undone = True
        STATE.job = None
        STATE.set_panel(message=reason)


@bpy.app.handlers.persistent
def _on_load_pre(*_args: Any) -> None:
    """Another file is loading: stop building into a scene that is about to disappear."""
    _stop_job("")
    STATE.set_panel()


@bpy.app.handlers.persistent
def _on_undo_pre(*_args: Any) -> None:
    """Undo/redo while faces are still arriving: the faces not yet in an undo step vanish with it, so
    stop the job (building on would link into data the undo replaced, and a later push would wipe
    the redo history)."""
    _stop_job("Generation stopped by undo")


def _base_options(context: bpy.types.Context, collection: Any = None) -> BuildOptions:
    s = context.scene.styleface
    prefs = _prefs()
    return BuildOptions(collection=collection, location=context.scene.cursor.location.to_tuple(), yaw=s.yaw,
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

    def execute(self, context: bpy.types.Context) -> set[OpResult]:
        context.scene.styleface.seed = random.randint(0, 2**31 - 1)
        return {"FINISHED"}


class STYLEFACE_OT_generate(_NeedsIdle, bpy.types.Operator):
    """Generate the face of the current seed at the 3D cursor"""
    bl_idname = "styleface.generate"
    bl_label = "Generate"

    def execute(self, context: bpy.types.Context) -> set[OpResult]:
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

    def execute(self, context: bpy.types.Context) -> set[OpResult]:
        s = context.scene.styleface
        try:
            config = backend.resolve_config()
            layout = s.crowd_layout.lower()
            if layout == "vertices" and s.crowd_target is None:
                raise ValueError("choose a target mesh for the 'Vertices' layout")
            seeds = list(range(s.seed, s.seed + s.count))
            placements = api.crowd_positions(len(seeds), layout, s.crowd_spacing, seed=s.seed,
                                             target=s.crowd_target, origin=context.scene.cursor.location.to_tuple())
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
    bl_label = "StyleFace Regenerate"  # also the undo step's name; the button says "Regenerate"
    bl_options = {"REGISTER", "UNDO"}

    mode: EnumProperty(name="Mode", items=[("REPRODUCE", "Reproduce", ""), ("SEED", "Next seed", ""),
                                           ("SETTINGS", "Panel settings", "")], default="REPRODUCE")

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return STATE.job is None and build.is_styleface(context.active_object)

    def execute(self, context: bpy.types.Context) -> set[OpResult]:
        s = context.scene.styleface
        obj = context.active_object
        assert obj is not None  # poll
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
        STATE.set_panel(message=f"Regenerated {new.name}")
        return {"FINISHED"}


class STYLEFACE_OT_cancel(bpy.types.Operator):
    """Stop the running generation; faces already built stay"""
    bl_idname = "styleface.cancel"
    bl_label = "Cancel"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return STATE.job is not None

    def execute(self, context: bpy.types.Context) -> set[OpResult]:
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

    def execute(self, context: bpy.types.Context) -> set[OpResult]:
        obj = context.active_object
        assert obj is not None  # poll
        if api.match_lighting(obj, context.scene) is None:
            self.report({"WARNING"}, "This face carries no lighting coefficients")
            return {"CANCELLED"}
        return {"FINISHED"}


class STYLEFACE_OT_dismiss(bpy.types.Operator):
    """Hide the message"""
    bl_idname = "styleface.dismiss"
    bl_label = "Dismiss"

    def execute(self, context: bpy.types.Context) -> set[OpResult]:
        STATE.set_panel()
        return {"FINISHED"}


class STYLEFACE_OT_open_preferences(bpy.types.Operator):
    """Open the StyleFace add-on preferences (backend set-up)"""
    bl_idname = "styleface.open_preferences"
    bl_label = "Backend Settings"

    def execute(self, context: bpy.types.Context) -> set[OpResult]:
        try:
            bpy.ops.screen.userpref_show()
            context.preferences.active_section = "ADDONS"
            bpy.ops.preferences.addon_show(module=__package__)
        except RuntimeError:
            pass
        return {"FINISHED"}


CLASSES = (STYLEFACE_OT_random_seed, STYLEFACE_OT_generate, STYLEFACE_OT_populate_crowd,
           STYLEFACE_OT_regenerate, STYLEFACE_OT_cancel, STYLEFACE_OT_match_lighting, STYLEFACE_OT_dismiss,
           STYLEFACE_OT_open_preferences)


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    bpy.app.handlers.load_pre.append(_on_load_pre)
    bpy.app.handlers.undo_pre.append(_on_undo_pre)
    bpy.app.handlers.redo_pre.append(_on_undo_pre)


def unregister() -> None:
    for handlers, fn in ((bpy.app.handlers.load_pre, _on_load_pre), (bpy.app.handlers.undo_pre, _on_undo_pre),
                         (bpy.app.handlers.redo_pre, _on_undo_pre)):
        if fn in handlers:
            handlers.remove(fn)
    for fn in (_tick, _late_redraw):
        if bpy.app.timers.is_registered(fn):
            bpy.app.timers.unregister(fn)
    if STATE.job is not None:
        STATE.job.cancel()
    STATE.job = None
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
