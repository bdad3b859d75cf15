"""The extension package: manifest, zip built by build_addon.py, register/unregister, no torch.

The zip and manifest checks need no bpy (they also run in the main test venv)."""
from __future__ import annotations

import importlib
import importlib.util
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
import build_addon  # noqa: E402

if str(REPO / "addon") not in sys.path:
    sys.path.insert(0, str(REPO / "addon"))


@pytest.fixture(scope="module")
def addon_zip(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist") / "styleface.zip"
    r = subprocess.run([sys.executable, str(REPO / "build_addon.py"), "--out", str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return out


def test_manifest_has_required_fields():
    m = build_addon.read_manifest()
    assert m["id"] == "styleface" and m["type"] == "add-on" and m["schema_version"] == "1.0.0"
    assert m["license"] == ["SPDX:GPL-3.0-or-later"] and m["blender_version_min"] == "4.2.0"
    assert "files" in m["permissions"]


@pytest.mark.parametrize("change, message", [
    ({"tagline": None}, "lacks required"),
    ({"tagline": "x" * 65}, "tagline"),
    ({"tagline": "Faces."}, "tagline"),
    ({"blender_version_min": "4.1.0"}, "4.2.0"),
    ({"license": ["GPL-3.0-or-later"]}, "SPDX"),
    ({"permissions": {"files": "Reads files."}}, "reason"),
    ({"permissions": {"disk": "Reads files"}}, "unknown permission"),
    ({"maintainer": ""}, "empty"),
])
def test_manifest_validation_rejects(change, message):
    m = dict(build_addon.read_manifest())
    for k, v in change.items():
        if v is None:
            m.pop(k)
        else:
            m[k] = v
    with pytest.raises(build_addon.ManifestError, match=message):
        build_addon.validate_manifest(m)


def test_zip_contents(addon_zip):
    with zipfile.ZipFile(addon_zip) as z:
        names = set(z.namelist())
        manifest = z.read("blender_manifest.toml").decode()
        pyproject = z.read("backend_src/pyproject.toml").decode()
    for f in ("blender_manifest.toml", "__init__.py", "build.py", "api.py", "backend.py", "batch.py",
              "ui.py", "operators.py", "preferences.py", "props.py", "facedata.py", "vendor.py", "lighting.py",
              "backend_constraints.txt", "installer.py", "undo.py", "deps.py", "missing.py", "state.py",
              "backend_src/styleface/__init__.py", "backend_src/styleface/client.py",
              "backend_src/styleface/protocol.py", "backend_src/styleface/worker.py",
              "backend_src/styleface/assets.py"):
        assert f in names, f
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert not [n for n in names if n.startswith(("tests/", "training/", "styleface_train"))]
    assert 'id = "styleface"' in manifest and '"torch' in pyproject
    # the add-on's own modules never import torch
    with zipfile.ZipFile(addon_zip) as z:
        for n in names:
            if "/" not in n and n.endswith(".py"):
                assert not re.search(r"^\s*(import|from) torch", z.read(n).decode(), re.M), n


def _blender_ext_cli() -> Path | None:
    """Blender's own extension tool (``blender --command extension``) inside the bpy module."""
    bpy = pytest.importorskip("bpy", reason="needs Blender as a Python module")
    path = Path(bpy.utils.system_resource("SCRIPTS")) / "addons_core" / "bl_pkg" / "cli" / "blender_ext.py"
    return path if path.is_file() else None


def test_zip_validates_installs_registers_and_vendors_client(addon_zip, tmp_path):
    cli = _blender_ext_cli()
    if cli is None:
        pytest.skip("this bpy build lacks Blender's extension command line")
    r = subprocess.run([sys.executable, str(cli), "validate", str(addon_zip)], capture_output=True, text=True)
    assert r.returncode == 0 and "Success" in r.stdout, r.stdout + r.stderr
    repo = tmp_path / "user_default"
    repo.mkdir()
    r = subprocess.run([sys.executable, str(cli), "install-files", "--local-dir", str(repo), str(addon_zip)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    pkg = repo / "styleface"
    assert (pkg / "blender_manifest.toml").is_file() and (pkg / "backend_src/styleface/worker.py").is_file()
    # import it the way Blender does (a package named after the repo + id), here as sf_zip_test
    spec = importlib.util.spec_from_file_location("sf_zip_test", pkg / "__init__.py",
                                                  submodule_search_locations=[str(pkg)])
    mod = importlib.util.module_from_spec(spec)
    sys.modules["sf_zip_test"] = mod
    try:
        spec.loader.exec_module(mod)
        vendor = importlib.import_module("sf_zip_test.vendor")
        assert Path(vendor.backend_source_root()) == pkg / "backend_src"
        client = vendor.client_module()
        assert client.WorkerClient.__module__ == "sf_zip_test.vendored.client"
        for _ in range(2):
            mod.register()
            mod.unregister()
        backend = importlib.import_module("sf_zip_test.backend")
        assert any(r.startswith("torch") for r in backend.backend_requirements())
        assert "torch" not in sys.modules
    finally:
        for name in [n for n in sys.modules if n.startswith("sf_zip_test")]:
            del sys.modules[name]


def test_register_unregister_twice():
    bpy = pytest.importorskip("bpy", reason="needs Blender as a Python module")
    import styleface_blender
    for _ in range(2):
        styleface_blender.register()
        assert hasattr(bpy.types, "STYLEFACE_PT_main") and hasattr(bpy.types.Scene, "styleface")
        assert bpy.ops.styleface.generate.idname() == "STYLEFACE_OT_generate"
        assert bpy.context.scene.styleface.truncation == pytest.approx(0.7)
        styleface_blender.register()  # a second register is a no-op, not an error
        styleface_blender.unregister()
        assert not hasattr(bpy.types, "STYLEFACE_PT_main") and not hasattr(bpy.types.Scene, "styleface")
    assert "torch" not in sys.modules


def test_install_commands_use_the_backend_requirements(tmp_path):
    pytest.importorskip("bpy", reason="needs Blender as a Python module")
    from styleface_blender import installer
    idx = installer.index_candidates("CPU", platform="linux")[0]
    cmds = installer.install_commands(str(tmp_path / "env"), idx, base_python="/usr/bin/python3.11")
    assert cmds[0] == ["/usr/bin/python3.11", "-m", "venv", str(tmp_path / "env")]
    assert any(c[-1].startswith("torch") for c in cmds) and "https://download.pytorch.org/whl/cpu" in cmds[1]
    assert any(any(a.startswith("numpy") for a in c) for c in cmds)
    assert all(c[c.index("-c") + 1] == installer.CONSTRAINTS for c in cmds[1:])


class _FakeLayout:
    """Stands in for UILayout in draw() calls: checks every prop/operator name it is given."""

    def __init__(self, log):
        self.log = log

    def __getattr__(self, name):
        if name in ("row", "column", "box", "split", "column_flow"):
            return lambda *a, **k: _FakeLayout(self.log)
        if name in ("label", "separator", "progress"):
            return lambda *a, **k: self.log.append((name, k.get("text")))
        raise AttributeError(name)

    def __setattr__(self, name, value):
        object.__setattr__(self, name, value)

    def prop(self, data, prop, **kw):
        assert prop in data.bl_rna.properties, prop
        self.log.append(("prop", prop))

    def operator(self, idname, **kw):
        import bpy
        cat, name = idname.split(".")
        assert hasattr(getattr(bpy.ops, cat), name), idname
        self.log.append(("operator", idname))
        return type("OpProps", (), {})()


def test_panel_and_preferences_draw(monkeypatch):
    bpy = pytest.importorskip("bpy", reason="needs Blender as a Python module")
    import styleface_blender
    from styleface_blender import operators, ui, preferences
    styleface_blender.register()
    try:
        s = bpy.context.scene.styleface
        log: list = []
        ctx = type("Ctx", (), {"scene": bpy.context.scene, "active_object": None})()
        for mode in ("SEED", "PRESET", "FROM_SEED"):
            s.expression_mode, s.crowd_layout = mode, "VERTICES"
            panel = type("P", (), {"layout": _FakeLayout(log)})()
            ui.STYLEFACE_PT_main.draw(panel, ctx)
        job = type("J", (), {"fraction": 0.5, "text": "Crowd 5/10", "cancel": lambda self: None})()
        monkeypatch.setattr(operators.STATE, "job", job)
        monkeypatch.setattr(operators.STATE, "error", "No backend found\nsecond line")
        ui.STYLEFACE_PT_main.draw(type("P", (), {"layout": _FakeLayout(log)})(), ctx)
        assert ("progress", "Crowd 5/10") in log and ("operator", "styleface.cancel") in log
        assert ("operator", "styleface.open_preferences") in log
        for mode in ("MANAGED", "EXISTING"):
            prefs = type("Prefs", (), {"layout": _FakeLayout(log), "backend_mode": mode, "image_storage": "EXTERNAL",
                                       "package_index": "CUSTOM",
                                       "bl_rna": preferences.StyleFacePreferences.bl_rna})()
            preferences.StyleFacePreferences.draw(prefs, ctx)
        assert ("operator", "styleface.install_backend") in log and ("prop", "python_path") in log
        assert ("prop", "custom_index_url") in log
        # a backend error shows whole in the preferences (wrapped to the region), and the next
        # action's result replaces it
        long = ("Online access is disabled (Preferences > System > Network > Allow Online Access): enable "
                "it to install the backend, or choose 'Existing Python'")
        operators.STATE.set_prefs(error=long)
        narrow = type("Ctx", (), {"scene": bpy.context.scene, "active_object": None,
                                  "region": type("R", (), {"width": 280})(), "preferences": bpy.context.preferences})()
        log.clear()
        prefs = type("Prefs", (), {"layout": _FakeLayout(log), "backend_mode": "EXISTING", "image_storage": "PACK",
                                   "bl_rna": preferences.StyleFacePreferences.bl_rna})()
        preferences.StyleFacePreferences.draw(prefs, narrow)
        labels = [t for k, t in log if k == "label" and t and not t.startswith("Worker")]
        assert " ".join(labels) == long and max(map(len, labels)) < 45
        operators.STATE.set_prefs(message="Backend stopped")
        assert operators.STATE.prefs_error == "" and operators.STATE.test_report == []
        operators.STATE.set_prefs()
    finally:
        styleface_blender.unregister()


_POLICY_SCRIPT = r'''
import importlib, importlib.util, json, os, sys, tempfile
import bpy, addon_utils
zip_path, out = sys.argv[-2], sys.argv[-1]
repo_dir = tempfile.mkdtemp()
bpy.context.preferences.extensions.repos.new(name="sftest", module="sftest", custom_directory=repo_dir,
                                             source="USER")
res = bpy.ops.extensions.package_install_files(repo="sftest", filepath=zip_path, enable_on_install=True)
pkg = "bl_ext.sftest.styleface"
enabled = pkg in bpy.context.preferences.addons
importlib.import_module(pkg + ".vendor").client_module()   # what the first Generate loads
importlib.import_module(pkg + ".batch").parse_seeds("0-2")
ext_dir = os.path.join(repo_dir, "styleface")
outside = sorted(n for n, m in sys.modules.items()
                 if (getattr(m, "__file__", None) or "").startswith(ext_dir) and not n.startswith(pkg))
addon_utils._is_first_reset()
warnings = {k: v for k, v in addon_utils._extensions_warnings_get().items()}
# the check itself is live: a top-level module loaded from the extension is reported
spec = importlib.util.spec_from_file_location("_sf_probe_top", os.path.join(ext_dir, "state.py"))
sys.modules["_sf_probe_top"] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sys.modules["_sf_probe_top"])
addon_utils._is_first_reset()
probe = addon_utils._extensions_warnings_get().get(pkg, [])
json.dump({"install": sorted(res), "enabled": enabled, "outside": outside, "warnings": warnings,
           "probe": probe}, open(out, "w"))
os._exit(0)
'''


def test_enabled_extension_has_no_policy_warnings(addon_zip, tmp_path):
    """Install the zip into an extension repository and enable it as Blender does, load the vendored
    client, then run Blender's own policy check (the one behind the Preferences warning)."""
    pytest.importorskip("bpy", reason="needs Blender as a Python module")
    import json
    script, out = tmp_path / "policy.py", tmp_path / "out.json"
    script.write_text(_POLICY_SCRIPT)
    r = subprocess.run([sys.executable, str(script), str(addon_zip), str(out)], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0 and out.is_file(), r.stdout[-2000:] + r.stderr[-2000:]
    res = json.loads(out.read_text())
    assert res["install"] == ["FINISHED"] and res["enabled"], res
    assert res["outside"] == [] and res["warnings"] == {}, res
    assert res["probe"] == ["Policy violation with top level module: _sf_probe_top"]


def test_manifest_minimum_is_the_oldest_blender_ci_tests():
    script = (REPO / ".ci" / "blender_tests.sh").read_text()
    versions = re.search(r'BPY_VERSIONS=\$\{BPY_VERSIONS:-"([^"]+)"\}', script).group(1).split()
    oldest = min(versions, key=lambda v: tuple(int(x) for x in v.split(".")))
    assert build_addon.read_manifest()["blender_version_min"] == oldest
