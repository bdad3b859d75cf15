"""Real GUI: start a crowd when /tmp/rbtest/go exists and log the job state to /tmp/rbtest/redraw.jsonl;
keep the mouse outside the sidebar and take screenshots during and after the job (buttons greyed, then
enabled again without a mouse move). Started like undo_gui_check.py."""
import json
import os
import time
import importlib
import bpy
LOG = "/tmp/rbtest/redraw.jsonl"
STATE = importlib.import_module("bl_ext.user_default.styleface.state").STATE
started = False
def tick():
    global started
    if not started and os.path.exists("/tmp/rbtest/go"):
        win = bpy.context.window_manager.windows[0]
        area = next(a for a in win.screen.areas if a.type == "VIEW_3D")
        s = bpy.context.scene.styleface
        s.count, s.texture_size, s.seed = 6, 64, 10
        with bpy.context.temp_override(window=win, area=area, screen=win.screen):
            bpy.ops.styleface.populate_crowd()
        started = True
    with open(LOG, "a") as f:
        f.write(json.dumps({"t": round(time.time(), 1), "started": started, "job": STATE.job is not None,
                            "msg": STATE.message, "err": STATE.error}) + "\n")
    return 0.5
for p in (LOG, "/tmp/rbtest/go"):
    if os.path.exists(p):
        os.remove(p)
def show_panel():
    win = bpy.context.window_manager.windows[0]
    area = next(a for a in win.screen.areas if a.type == "VIEW_3D")
    area.spaces[0].show_region_ui = True
    ui = next(r for r in area.regions if r.type == "UI")
    try:
        ui.active_panel_category = "StyleFace"
    except Exception as e:
        print("TAB", e)
bpy.app.timers.register(show_panel, first_interval=1.0)
bpy.app.timers.register(tick, first_interval=2.0)
