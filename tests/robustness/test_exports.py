"""Exports are never torn and batches resume: atomic files, sidecar-last completeness, full disks."""
from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from styleface.errors import StyleFaceError
from styleface.export import export_face, face_is_complete
from styleface.export import atomic as atomic_mod

ROOT = Path(__file__).resolve().parents[2]
GEN = ["generate", "--bundle", "procedural", "--texture-size", "32", "--no-contact-sheet", "--quiet"]


def _face():
    sys.path.insert(0, str(ROOT / "tests" / "backend"))
    import worker_fakes

    return worker_fakes.make_face(3, 16)


def _cli(args: list[str], preexec_fn=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "styleface.cli", *args], capture_output=True, text=True,
                          preexec_fn=preexec_fn, timeout=300)


def _no_partial_files(out: Path) -> None:
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")], "temporary files left behind"


@pytest.mark.parametrize("fail_at", range(1, 8))
def test_a_write_error_leaves_no_torn_file_and_no_complete_face(tmp_path, monkeypatch, fail_at, tally):
    """An ENOSPC at the n-th file: earlier files are whole, the failing one does not exist, no sidecar."""
    calls = {"n": 0}
    real_fsync = os.fsync

    def fsync(fd):
        calls["n"] += 1
        if calls["n"] == fail_at:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_fsync(fd)

    monkeypatch.setattr(atomic_mod.os, "fsync", fsync)
    face = _face()
    with pytest.raises(StyleFaceError, match="No space left"):
        export_face(face, tmp_path, "f")
    _no_partial_files(tmp_path)
    ok = not face_is_complete(tmp_path, "f") and len(list(tmp_path.iterdir())) == fail_at - 1
    tally.record("export write error", ok)
    assert ok, sorted(p.name for p in tmp_path.iterdir())
    monkeypatch.setattr(atomic_mod.os, "fsync", real_fsync)
    export_face(face, tmp_path, "f")
    assert face_is_complete(tmp_path, "f", ("obj", "glb", "exr", "png16"))


@pytest.fixture(scope="module")
def reference_face(tmp_path_factory) -> Path:
    ref = tmp_path_factory.mktemp("ref")
    full = _cli([*GEN, "--seeds", "0", "--out", str(ref)])
    assert full.returncode == 0, full.stderr
    return ref


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_FSIZE probe")
@pytest.mark.parametrize("limit_kb,formats", [(1, "obj,glb,exr,png16,json"), (2048, "obj,glb,exr,png16,json"),
                                              (20, "glb,exr,png16,json")])
def test_a_full_disk_leaves_no_partial_file_under_a_final_name(tmp_path, limit_kb, formats, reference_face, tally):
    """The disk fills up inside the first file (the 4 MB OBJ or the 1 MB GLB): before, a truncated file
    was left under its final name."""
    import resource

    def cap() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # write() fails with EFBIG instead of killing us
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_kb << 10, limit_kb << 10))

    out = tmp_path / "out"
    r = _cli([*GEN, "--seeds", "0", "--out", str(out), "--formats", formats], preexec_fn=cap)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    ok = (r.returncode == 2 and len(lines) == 1 and "Traceback" not in r.stderr
          and not face_is_complete(out, "face_000000"))
    _no_partial_files(out)
    for p in out.iterdir():  # every file under a final name is byte-identical to an unconstrained run
        ok = ok and p.read_bytes() == (reference_face / p.name).read_bytes()
    tally.record("export full disk", ok)
    assert ok, (r.returncode, r.stderr[-500:], sorted(p.name for p in out.iterdir()))


def test_generate_skips_complete_faces_and_overwrite_rewrites_them(tmp_path, tally):
    from styleface import cli

    out = tmp_path / "out"  # in-process: the same code path as the command, without a process per run
    assert cli.main([*GEN, "--seeds", "0-2", "--out", str(out), "--formats", "obj,json"]) == 0
    stamp = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    (out / "face_000001.json").unlink()  # as if interrupted before the sidecar
    (out / "face_000001.obj").write_text("torn")
    assert cli.main([*GEN, "--seeds", "0-2", "--out", str(out), "--formats", "obj,json"]) == 0
    after = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    untouched = [n for n in stamp if n.startswith(("face_000000", "face_000002")) and stamp[n] == after[n]]
    ok = (len(untouched) == 8 and face_is_complete(out, "face_000001", ["obj"])
          and (out / "face_000001.obj").read_text().startswith("# StyleFace"))
    # a run asking for a format the complete faces lack rewrites them
    r = cli.main([*GEN, "--seeds", "0", "--out", str(out), "--formats", "obj,glb,json"])
    ok = ok and r == 0 and (out / "face_000000.glb").is_file()
    r = cli.main([*GEN, "--seeds", "0-2", "--out", str(out), "--formats", "obj,json", "--overwrite"])
    ok = ok and r == 0 and (out / "face_000002.obj").stat().st_mtime_ns != after["face_000002.obj"]
    tally.record("export resume", ok)
    assert ok, untouched


def test_bake_with_a_huge_displacement_never_writes_non_finite_geometry(tmp_path, tally):
    from styleface.assets import DisplacementInfo

    face = _face()
    face.displacement_info = DisplacementInfo(face.displacement_info.mode, 1e308, 0.0)
    with pytest.raises(StyleFaceError, match="not finite"):
        export_face(face, tmp_path, "f", bake_displacement=True)
    ok = not list(tmp_path.iterdir())
    tally.record("export non-finite", ok)
    assert ok


def test_sigkill_mid_batch_then_rerun_resumes_and_leaves_no_temporaries(tmp_path, tally):
    import time

    out = tmp_path / "out"
    args = [*GEN, "--seeds", "0-5", "--out", str(out), "--texture-size", "256", "--batch-size", "1"]
    proc = subprocess.Popen([sys.executable, "-m", "styleface.cli", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None and not (out / "face_000001.json").exists():
        time.sleep(0.01)
    proc.kill()
    proc.wait()
    done_before = {s for s in range(6) if face_is_complete(out, f"face_{s:06d}")}
    stamps = {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.name.endswith(".json")}
    (out / ".face_000005.obj.k1ll3d.tmp").write_text("v 1 2")  # as a kill inside a write leaves it
    r = _cli([a for a in args if a != "--quiet"])
    ok = (r.returncode == 0 and {0, 1} <= done_before and len(done_before) < 6
          and f"skipped {len(done_before)} complete face(s)" in r.stdout
          and all(face_is_complete(out, f"face_{s:06d}") for s in range(6))
          and all((out / n).stat().st_mtime_ns == t for n, t in stamps.items())
          and not [p for p in out.iterdir() if p.name.endswith(".tmp")])
    tally.record("export SIGKILL resume", ok)
    assert ok, (done_before, r.stdout[-300:], sorted(p.name for p in out.iterdir()))
