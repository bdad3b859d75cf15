"""Blender without numpy (a Linux distribution's build on the system Python): the add-on still
registers, and its panel and preferences say what is missing and how to install it."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

_SCRIPT = r'''
import json, sys
class NoNumpy:  # as if Blender's Python had no numpy installed
    def find_spec(self, name, path=None, target=None):
        if name == "numpy" or name.startswith("numpy."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, NoNumpy())
sys.modules.pop("numpy", None)
import bpy  # Blender's own C code reports its failed numpy import here: not the add-on's
print("--- bpy imported ---", file=sys.stderr, flush=True)
sys.path.insert(0, sys.argv[-2])
import styleface_blender
styleface_blender.register()
labels = []
class Layout:
    alert = False
    def __getattr__(self, name):
        if name in ("box", "column", "row"):
            return lambda *a, **k: Layout()
        if name == "label":
            return lambda *a, **k: labels.append(k.get("text", ""))
        raise AttributeError(name)
ctx = type("Ctx", (), {"region": type("R", (), {"width": 300})(), "preferences": bpy.context.preferences})()
bpy.types.STYLEFACE_PT_missing.draw(type("P", (), {"layout": Layout()})(), ctx)
panel = list(labels)
labels.clear()
from styleface_blender import missing
missing.StyleFaceMissingPreferences.draw(type("P", (), {"layout": Layout()})(), ctx)
out = {"panel": panel, "prefs": labels, "generate": hasattr(bpy.types, "STYLEFACE_OT_generate"),
       "numpy": "numpy" in sys.modules}
styleface_blender.unregister()
out["after"] = hasattr(bpy.types, "STYLEFACE_PT_missing")
json.dump(out, open(sys.argv[-1], "w"))
'''


def test_registers_without_numpy_and_explains_the_fix(tmp_path):
    pytest.importorskip("bpy", reason="needs Blender as a Python module")
    script, out = tmp_path / "nonumpy.py", tmp_path / "out.json"
    script.write_text(_SCRIPT)
    r = subprocess.run([sys.executable, str(script), str(REPO / "addon"), str(out)], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "Traceback" not in r.stderr.split("--- bpy imported ---")[-1], r.stderr[-2000:]
    res = json.loads(out.read_text())
    assert not res["numpy"] and not res["generate"] and not res["after"]
    for lines in (res["panel"], res["prefs"]):
        text = "".join(lines).replace(" ", "")  # wrapping may break a long path anywhere
        assert "needsthePythonmodulenumpy" in text and f'"{sys.executable}"-mpipinstall--usernumpy' in text, lines
        assert max(len(x) for x in lines) <= 45, lines  # wrapped to the 300 px region, not cut
    assert "StyleFace needs the Python module numpy" in r.stdout
