"""The cluster code that runs without Ray: the resume rule, atomic stores (local folder and fsspec's
memory file system), the actor body driven in-process, fault hooks, and the one-line install hint."""
from __future__ import annotations

import json
import sys

import fsspec
import pytest

from styleface.cli import main
from styleface.cluster import INSTALL_HINT, face_stem, is_face_complete, parse_cluster, sidecar_name
from styleface.cluster.faults import Faults, InjectedFault
from styleface.cluster.store import OutputStore, normalise_output
from styleface.cluster.worker import FaceWorker
from styleface.errors import StyleFaceError


def test_resume_rule_is_the_sidecar():
    assert face_stem(7) == "face_000007" and sidecar_name(7) == "face_000007.json"
    names = {"face_000001.obj", "face_000001.glb", "face_000002.json"}
    assert not is_face_complete(names, 1)  # meshes without the sidecar: incomplete
    assert is_face_complete(names, 2)


@pytest.mark.parametrize("spec, address", [("ray", None), ("ray:auto", "auto"), ("RAY:10.0.0.1:6379", "10.0.0.1:6379"),
                                           ("ray:ray://head:10001", "ray://head:10001")])
def test_parse_cluster(spec, address):
    assert parse_cluster(spec) == address


@pytest.mark.parametrize("spec", ["dask", "ray:", "slurm:x"])
def test_parse_cluster_rejects(spec):
    with pytest.raises(StyleFaceError):
        parse_cluster(spec)


def test_without_ray_cluster_says_how_to_install(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    assert main(["generate", "--seeds", "0-1", "--out", str(tmp_path / "o"), "--cluster", "ray", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"styleface: error: {INSTALL_HINT}"
    assert not (tmp_path / "o").exists()


def test_local_store_writes_atomically_and_cleans_stale_parts(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(b"abc")
    out = tmp_path / "out"
    store = OutputStore(normalise_output(out))
    assert store.local
    store.makedirs()
    (out / ".face_000001.json.part-deadbeef").write_text("half")  # left by a killed run
    store.put_file(src, "face_000001.obj")
    assert (out / "face_000001.obj").read_bytes() == b"abc"
    assert store.remove_stale_parts() == 1
    assert store.names() == {"face_000001.obj"}


def test_relative_output_is_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert normalise_output("faces") == str(tmp_path / "faces")
    assert normalise_output("s3://bucket/faces") == "s3://bucket/faces"
    assert normalise_output("memory://x") == "memory://x"


@pytest.fixture
def memory_out():
    url = "memory://styleface-test-cluster"
    fs = fsspec.filesystem("memory")
    if fs.exists(url):
        fs.rm(url, recursive=True)
    yield url, fs
    if fs.exists(url):
        fs.rm(url, recursive=True)


def test_worker_writes_faces_to_fsspec_memory(memory_out):
    url, fs = memory_out
    w = FaceWorker(url, formats=("png16", "json"), texture_size=32, threads=1)
    result = w.run_batch([3, 4])
    assert result["done"] == [3, 4] and result["failed"] == {} and result["cpu_s"] > 0
    names = OutputStore(url).names()
    assert names == {"face_000003.json", "face_000003_displacement16.png",
                     "face_000004.json", "face_000004_displacement16.png"}
    meta = json.loads(fs.cat(f"{url}/face_000004.json"))
    assert meta["seed"] == 4 and meta["files"]["png16"] == "face_000004_displacement16.png"


def test_worker_reports_a_bad_seed_and_keeps_the_others(memory_out):
    url, _ = memory_out
    w = FaceWorker(url, formats=("json",), texture_size=32, threads=1, faults="fail:5")
    result = w.run_batch([4, 5, 6])
    assert result["done"] == [4, 6]
    assert list(result["failed"]) == [5] and "injected failure for seed 5" in result["failed"][5]
    names = OutputStore(url).names()
    assert [s for s in (4, 5, 6) if is_face_complete(names, s)] == [4, 6]


def test_worker_falls_back_to_single_seeds_when_the_batch_raises(memory_out):
    url, _ = memory_out
    w = FaceWorker(url, formats=("json",), texture_size=32, threads=1)
    real = w.gen.generate

    def generate(seeds, **options):
        if 8 in seeds:
            raise ValueError("seed 8 is cursed")
        return real(seeds, **options)

    w.gen.generate = generate
    result = w.run_batch([7, 8, 9])
    assert result["done"] == [7, 9] and result["failed"] == {8: "ValueError: seed 8 is cursed"}


def test_fault_spec():
    f = Faults.parse("fail:3, crash:4@/tmp/m, delay:0.5")
    assert f.fail == {3} and f.crash == ((4, "/tmp/m"),) and f.delay == 0.5
    with pytest.raises(InjectedFault):
        Faults.parse("fail:3").before_face(3)
    Faults.parse("").before_face(3)
    with pytest.raises(ValueError):
        Faults.parse("explode:1")


# -- headless renders (styleface.cluster.render), with a stand-in for the Blender batch command --------

FAKE_BATCH = '''
import argparse, os, sys
p = argparse.ArgumentParser()
p.add_argument("--seeds"); p.add_argument("--out"); p.add_argument("--yaws")
args, _ = p.parse_known_args()
for s in map(int, args.seeds.split(",")):
    if s == 13:
        sys.exit("seed 13: Cycles ran out of memory")
    for y in map(float, args.yaws.split(",")):
        with open(os.path.join(args.out, "face_%06d_yaw%+04d.png" % (s, round(y))), "wb") as f:
            f.write(b"png")
'''


def test_render_chunk_copies_views_and_reports_missing_ones(tmp_path, memory_out):
    from styleface.cluster.render import render_chunk, seed_rendered, view_name

    url, _ = memory_out
    pkg = tmp_path / "addon" / "styleface_blender"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "batch.py").write_text(FAKE_BATCH)
    store = OutputStore(url)
    store.makedirs()
    src = tmp_path / "v.png"
    src.write_bytes(b"old")
    store.put_file(src, view_name(10, -30))
    store.put_file(src, view_name(10, 0))  # seed 10 already rendered: not redone
    result = render_chunk([10, 11, 13, 12], url, [-30, 0], [], sys.executable, str(tmp_path / "addon"))
    assert result["done"] == [10, 11] and list(result["failed"]) == [13, 12]
    assert "Cycles ran out of memory" in result["failed"][13]
    names = store.names()
    assert seed_rendered(names, 11, [-30, 0]) and not seed_rendered(names, 12, [-30, 0])
    assert store.fs.cat(store.path(view_name(10, 0))) == b"old"
    assert view_name(11, -30) == "face_000011_yaw-030.png"


def test_render_without_ray_says_how_to_install(monkeypatch, capsys, tmp_path):
    from styleface.cluster import render

    monkeypatch.setitem(sys.modules, "ray", None)
    assert render.run(["--cluster", "ray", "--seeds", "0", "--out", str(tmp_path), "--blender-python", "x",
                       "--addon-path", "y"]) == 2
    assert capsys.readouterr().err.strip() == f"styleface batch: error: {INSTALL_HINT}"


def test_blender_command_forms():
    from styleface.cluster.render import blender_command

    assert blender_command("/v/bin/python", "/a") == ["/v/bin/python", "-m", "styleface_blender.batch"]
    cmd = blender_command("/opt/blender/blender", "/a")
    assert cmd[:2] == ["/opt/blender/blender", "-b"] and cmd[-2:] == ["/a/styleface_blender/batch.py", "--"]


def test_worker_reference_image_failure_fails_those_faces(memory_out):
    url, _ = memory_out
    w = FaceWorker(url, bundle="procedural", formats=("json",), threads=1, texture_size=32,
                   reference_yaws=[0.0, 30.0])
    result = w.run_batch([1, 2])  # the procedural source has no 2D generator
    assert result["done"] == [] and set(result["failed"]) == {1, 2}
    assert "2D generator" in result["failed"][1]
    assert OutputStore(url).names() == set()
