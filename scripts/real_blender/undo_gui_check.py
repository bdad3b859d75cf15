"""Driven inside the real Blender GUI: generate A, an edit, generate B through the UI path (timers),
logging scene state every 0.5 s to /tmp/rbtest/state.jsonl; keys (Ctrl+Z ...) come from xdotool outside.

    python build_addon.py --out /tmp/rbtest/styleface-0.1.0.zip
    T=/work/shared/tools/real-blender   # (shared tooling: Debian's Blender 4.3 under Xvfb)
    $T/run.sh 'blender -c extension install-file -r user_default -e /tmp/rbtest/styleface-0.1.0.zip'
    RB_ENV="STYLEFACE_BACKEND_PYTHON=$PWD/.venv/bin/python" $T/gui.sh start "--python $PWD/scripts/real_blender/undo_gui_check.py"
    # after READY in state.jsonl: $T/run.sh "DISPLAY=:99 xdotool mousemove 500 500 key ctrl+z" (x3), ctrl+shift+z (x3),
    # Edit > Undo History, ctrl+q ("Save changes?"); $T/gui.sh shot out.png
"""
import json
import os
import time
import bpy

LOG = "/tmp/rbtest/state.jsonl"
PKG = "bl_ext.user_default.styleface"
steps = []


def state():
    import importlib
    st = importlib.import_module(PKG + ".state").STATE
    return st


def log(tag=""):
    st = state()
    rec = {"t": round(time.time(), 1), "tag": tag, "dirty": bpy.data.is_dirty,
           "objects": sorted(o.name for o in bpy.data.objects), "job": st.job is not None,
           "msg": st.message, "err": st.error}
    with open(LOG, "a") as f:
        f.write(json.dumps(rec) + "\n")


def view3d():
    win = bpy.context.window_manager.windows[0]
    area = next(a for a in win.screen.areas if a.type == "VIEW_3D")
    region = next(r for r in area.regions if r.type == "WINDOW")
    return dict(window=win, area=area, region=region, screen=win.screen)


def generate(seed):
    bpy.context.scene.styleface.seed = seed
    bpy.context.scene.styleface.texture_size = 64
    with bpy.context.temp_override(**view3d()):
        bpy.ops.styleface.generate()


def run():
    if not steps:
        return None
    fn = steps[0]
    if fn():
        steps.pop(0)
    return 0.5


def s_save():
    with bpy.context.temp_override(**view3d()):
        sp = view3d()["area"].spaces[0]
        sp.show_region_ui = True
    bpy.ops.wm.save_as_mainfile(filepath="/tmp/rbtest/scene.blend")
    log("saved")
    return True


def s_gen(seed):
    def f():
        generate(seed)
        log(f"generate {seed} started")
        return True
    return f


def s_wait():
    if state().job is None:
        log("job done")
        return True
    return False


def s_edit():
    with bpy.context.temp_override(**view3d()):
        bpy.ops.object.empty_add("EXEC_DEFAULT", True, location=(1.0, 0.0, 0.0))  # undo=True: like a click
    log("empty added")
    return True


def s_ready():
    log("READY")
    bpy.app.timers.register(lambda: (log("tick"), 0.5)[1], first_interval=0.5)
    return True


if os.path.exists(LOG):
    os.remove(LOG)
steps[:] = [s_save, s_gen(1), s_wait, s_edit, s_gen(2), s_wait, s_ready]
bpy.app.timers.register(run, first_interval=3.0)
