"""The styleface command line: one-line errors, real output files."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from styleface.cli import main


@pytest.mark.parametrize("argv, needle", [
    (["generate", "--seeds", "5-2"], "bad seed range"),
    (["generate", "--formats", "obj,fbx"], "unknown format"),
    (["generate", "--count", "0"], "--count"),
    (["generate", "--texture-size", "3"], "--texture-size"),
    (["generate", "--bogus"], "unrecognized arguments"),
    (["generate", "--seed", "1", "--seeds", "2"], "not allowed with"),
    (["generate", "--seed", "1", "--expression", "no_such_expression"], "no expression"),
    (["nonsense"], "invalid choice"),
])
def test_bad_options_print_one_line(argv, needle, capsys, tmp_path):
    if argv[0] == "generate":
        argv = argv + ["--out", str(tmp_path / "o"), "--quiet"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("styleface: error:") and needle in err


def test_unwritable_output_folder(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["generate", "--seed", "0", "--out", str(blocker / "sub"), "--quiet"]) == 2
    assert "cannot create output folder" in capsys.readouterr().err


def test_generate_writes_all_formats(tmp_path):
    out = tmp_path / "out"
    assert main(["generate", "--seeds", "3,4", "--out", str(out), "--texture-size", "64", "--quiet"]) == 0
    for seed in (3, 4):
        stem = out / f"face_{seed:06d}"
        for suffix in (".obj", ".mtl", ".glb", ".json"):
            assert (stem.parent / (stem.name + suffix)).is_file(), suffix
        meta = json.loads((stem.parent / (stem.name + ".json")).read_text())
        assert meta["seed"] == seed
    a = json.loads((out / "face_000003.json").read_text())
    b = json.loads((out / "face_000004.json").read_text())
    assert a["coefficients"] != b["coefficients"]


def test_generate_is_reproducible(tmp_path):
    for d in ("a", "b"):
        assert main(["generate", "--seed", "11", "--out", str(tmp_path / d), "--formats", "obj",
                     "--texture-size", "32", "--quiet"]) == 0
    assert (tmp_path / "a/face_000011.obj").read_bytes() == (tmp_path / "b/face_000011.obj").read_bytes()


def test_expression_preset_changes_mesh(tmp_path):
    from styleface.procedural_face import ProceduralFaceGenerator

    gen = ProceduralFaceGenerator(texture_size=32)
    neutral = gen.generate(0, expression={"jaw_open": 0.0})
    open_ = gen.generate(0, expression={"jaw_open": 1.0})
    assert np.abs(open_.vertices - neutral.vertices).max() > 0.05


def test_info_and_entry_point(tmp_path):
    r = subprocess.run([sys.executable, "-m", "styleface.cli", "info"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert "torch" in r.stdout and "device" in r.stdout
    r = subprocess.run([sys.executable, "-m", "styleface.cli", "generate", "--seeds", "x"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
