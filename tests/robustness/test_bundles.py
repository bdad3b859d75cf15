"""Bundles are a closed world: crafted manifests, network configs, paths and zips are refused in one
line naming the file (and field), never with a traceback, and nothing outside the bundle is read."""
from __future__ import annotations

import json
import math
import os
import shutil
import stat
import struct
import zipfile
from pathlib import Path

import pytest

from styleface.bundle import DEMO_BUNDLE_DIR, open_bundle
from styleface.errors import StyleFaceError
from styleface.nets.io import load_model

NASTY = [None, "x", "", -1, 0, 1, 2**31, 2**70, 1e308, math.inf, -math.inf, math.nan, 0.5, True, [], [1], {},
         {"a": 1}, "../../x"]


def _copy(tmp_path: Path, name: str = "b") -> Path:
    dst = tmp_path / name
    shutil.copytree(DEMO_BUNDLE_DIR, dst)
    return dst


def _write(path: Path, data) -> None:
    path.write_text(json.dumps(data, allow_nan=True))


def _outcome(path: Path, must_name: str | None = None, load=None) -> tuple[bool, str]:
    """(handled cleanly, what happened): loading succeeds, or fails with a one-line StyleFaceError."""
    try:
        (load or (lambda p: open_bundle(p, device="cpu")))(path)
        return True, "loaded"
    except StyleFaceError as e:
        msg = str(e)
        ok = "\n" not in msg and len(msg) < 600 and (must_name is None or must_name in msg)
        return ok, msg
    except BaseException as e:  # noqa: BLE001 - any other exception is a finding
        return False, f"{type(e).__name__}: {e}"[:300]


def _paths(d, prefix=""):
    for k, v in d.items():
        p = f"{prefix}{k}"
        yield p, k, d
        if isinstance(v, dict) and k != "provenance":
            yield from _paths(v, p + ".")


def test_every_manifest_field_with_a_bad_value_gets_one_line(tmp_path, tally):
    base = json.loads((DEMO_BUNDLE_DIR / "bundle.json").read_text())
    root = _copy(tmp_path)
    bad = []
    loaded = 0
    for field, key, _ in list(_paths(base)):
        for value in NASTY:
            data = json.loads(json.dumps(base))
            node = data
            for part in field.split(".")[:-1]:
                node = node[part]
            node[key] = value
            _write(root / "bundle.json", data)
            ok, what = _outcome(root, str(root))  # names the bundle (and bundle.json for schema errors)
            loaded += what == "loaded"
            tally.record("bundle.json field", ok)
            if not ok:
                bad.append((field, value, what))
    assert not bad, bad[:9]
    assert loaded < 120  # most nasty values must be refused, not silently accepted


@pytest.mark.parametrize("case", ["deep", "huge", "nan", "not-json", "not-object", "extra-keys", "uv-padding-bad",
                                  "uv-padding-ok", "bom", "utf16"])
def test_manifest_files_of_the_wrong_shape(tmp_path, case, tally):
    root = _copy(tmp_path)
    man = root / "bundle.json"
    base = json.loads(man.read_text())
    if case == "deep":
        man.write_text('{"format":"styleface-bundle","version":1,"provenance":' + "[" * 1000 + "]" * 1000 + "}")
    elif case == "huge":
        with open(man, "w") as fh:
            fh.write('{"format":"styleface-bundle","version":1,"pad":"')
            fh.seek(64 << 20)
            fh.write('"}')
    elif case == "nan":
        man.write_text(json.dumps(dict(base, truncation=math.nan)))
    elif case == "not-json":
        man.write_text("{")
    elif case == "not-object":
        man.write_text("[1, 2]")
    elif case == "extra-keys":
        man.write_text(json.dumps(dict(base, something_new={"x": [1, 2]}, uv_padding="border")))
    elif case == "uv-padding-bad":
        man.write_text(json.dumps(dict(base, uv_padding="mirror")))
    elif case == "uv-padding-ok":
        man.write_text(json.dumps(dict(base, uv_padding="zeros")))
    elif case == "bom":
        man.write_bytes(b"\xef\xbb\xbf" + man.read_bytes())
    elif case == "utf16":
        man.write_bytes(man.read_text().encode("utf-16"))
    ok, what = _outcome(root)
    want_load = case in ("extra-keys", "uv-padding-ok")
    ok = ok and ((what == "loaded") == want_load) and (want_load or "bundle.json" in what)
    tally.record("bundle.json file", ok)
    assert ok, what


NET_VALUES = [None, "x", -1, 0, 2**31, 2**70, 1e308, math.inf, math.nan, 0.5, True, [], {}, [math.inf], ["x"]]


@pytest.mark.parametrize("net", ["f3d", "yaw", "uvgen", "mapping"])
def test_every_network_config_field_with_a_bad_value_gets_one_line(tmp_path, net, tally):
    root = _copy(tmp_path)
    cfg_path = root / f"{net}.json"
    base = json.loads(cfg_path.read_text())
    bad = []
    for key in list(base["kwargs"]) + ["evil"]:
        for value in NET_VALUES:
            data = json.loads(json.dumps(base))
            data["kwargs"][key] = value
            _write(cfg_path, data)
            # the network alone (as open_bundle loads it): names the config, or the weights that no longer fit
            ok, what = _outcome(root / net, f"{net}.", load_model)
            tally.record("network config field", ok)
            if not ok:
                bad.append((net, key, value, what))
    for raw in ("[" * 5000 + "]" * 5000, '{"format": "styleface.nets", "version": 1, "class": "F3D", "kwargs": 1}',
                "NaN", ""):
        cfg_path.write_text(raw)
        ok, what = _outcome(root / net, f"{net}.json", load_model)
        tally.record("network config field", ok)
        if not ok:
            bad.append((net, raw[:30], what))
    assert not bad, bad[:5]


def _outside_net(tmp_path: Path) -> Path:
    ext = tmp_path / "external"
    ext.mkdir()
    for f in ("uvgen.json", "uvgen.safetensors"):
        shutil.copy(DEMO_BUNDLE_DIR / f, ext / f)
    return ext


@pytest.mark.parametrize("case", ["dotdot", "absolute", "backslash", "drive", "symlink-file", "symlink-dir",
                                  "manifest-symlink", "embedded-dotdot"])
def test_paths_never_leave_the_bundle(tmp_path, case, tally):
    root = _copy(tmp_path)
    ext = _outside_net(tmp_path)
    man = json.loads((root / "bundle.json").read_text())
    if case == "dotdot":
        man["networks"]["uvgen"] = "../external/uvgen"
    elif case == "absolute":
        man["networks"]["uvgen"] = str(ext / "uvgen")
    elif case == "backslash":
        man["networks"]["uvgen"] = "..\\external\\uvgen"
    elif case == "drive":
        man["networks"]["uvgen"] = "C:/external/uvgen"
    elif case == "symlink-file":
        (root / "uvgen.safetensors").unlink()
        os.symlink(ext / "uvgen.safetensors", root / "uvgen.safetensors")
    elif case == "symlink-dir":
        os.symlink(ext, root / "sub")
        man["networks"]["uvgen"] = "sub/uvgen"
    elif case == "manifest-symlink":
        shutil.move(root / "bundle.json", ext / "bundle.json")
        os.symlink(ext / "bundle.json", root / "bundle.json")
    elif case == "embedded-dotdot":
        man["face_model"] = {"embedded": "../external/face_model.npz"}
    if case != "manifest-symlink":
        (root / "bundle.json").write_text(json.dumps(man))
    ok, what = _outcome(root)
    ok = ok and what != "loaded" and ("outside" in what or "inside the bundle" in what)
    tally.record("bundle path escape", ok)
    assert ok, what


def _zip(path: Path, entries: list[tuple[str | zipfile.ZipInfo, bytes]]) -> Path:
    import warnings

    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names on purpose
        for name, data in entries:
            zf.writestr(name, data)
    return path


def _demo_entries() -> list[tuple[str, bytes]]:
    return [(p.name, p.read_bytes()) for p in sorted(DEMO_BUNDLE_DIR.iterdir())]


def _patch_declared_size(path: Path, size: int) -> None:
    data = bytearray(path.read_bytes())
    i = data.rfind(b"PK\x01\x02")  # the last central directory entry
    struct.pack_into("<I", data, i + 24, size)
    path.write_bytes(bytes(data))


def _symlink_info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


ZIPS = {
    "backslash": lambda d: _zip(d / "z.zip", _demo_entries() + [("..\\..\\evil.txt", b"x")]),
    "dotdot": lambda d: _zip(d / "z.zip", _demo_entries() + [("../evil.txt", b"x")]),
    "absolute": lambda d: _zip(d / "z.zip", _demo_entries() + [("/tmp/evil.txt", b"x")]),
    "drive": lambda d: _zip(d / "z.zip", _demo_entries() + [("C:/evil.txt", b"x")]),
    "symlink": lambda d: _zip(d / "z.zip", _demo_entries() + [(_symlink_info("link"), b"/etc/passwd")]),
    "duplicate": lambda d: _zip(d / "z.zip", _demo_entries() + [("f3d.json", b"{}")]),
    "duplicate-case": lambda d: _zip(d / "z.zip", _demo_entries() + [("F3D.json", b"{}")]),
    "many": lambda d: _zip(d / "z.zip", _demo_entries() + [(f"x{i}", b"") for i in range(300)]),
    "bomb": lambda d: _zip(d / "z.zip", _demo_entries() + [("bomb.bin", bytes(64 << 20))]),
    "declares-4GiB": lambda d: (_zip(d / "z.zip", _demo_entries() + [("big.bin", b"x" * 10)]),
                                _patch_declared_size(d / "z.zip", 2**32 - 1))[0],
    "lies-small": lambda d: (_zip(d / "z.zip", _demo_entries() + [("big.bin", os.urandom(4096))]),
                             _patch_declared_size(d / "z.zip", 5))[0],
    "not-a-zip": lambda d: (d / "z.zip").write_bytes(b"PK\x03\x04garbage") and d / "z.zip",
    "truncated": lambda d: (lambda p: (p.write_bytes(p.read_bytes()[:5000]), p)[1])(_zip(d / "z.zip", _demo_entries())),
}


@pytest.mark.parametrize("case", list(ZIPS))
def test_hostile_zips_are_refused_early(tmp_path, case, tally):
    path = ZIPS[case](tmp_path)
    ok, what = _outcome(path, "z.zip")
    ok = ok and what != "loaded" and not (tmp_path.parent / "evil.txt").exists()
    tally.record("bundle zip", ok)
    assert ok, what


def test_a_clean_zip_still_loads(tmp_path):
    assert _outcome(_zip(tmp_path / "z.zip", _demo_entries()))[1] == "loaded"


def test_weights_over_the_memory_budget_are_refused_before_loading(monkeypatch, tally):
    monkeypatch.setenv("STYLEFACE_MAX_MEMORY_MB", "1")
    ok, what = _outcome(DEMO_BUNDLE_DIR)
    ok = ok and "memory budget" in what
    tally.record("bundle memory budget", ok)
    assert ok, what
