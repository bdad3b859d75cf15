"""The add-on with the real worker process: generate, crowds with cancel, worker death, threaded jobs,
operators in background mode, regenerate, and the real demo generator when the backend has torch."""
from __future__ import annotations

import json
import os
import signal
import threading
import time

import numpy as np
import pytest

bpy = pytest.importorskip("bpy", reason="needs Blender as a Python module (pip install bpy)")

import blender_fakes  # noqa: E402
from conftest import REPO, backend_has_demo_generator  # noqa: E402
from styleface_blender import api, backend, build  # noqa: E402
from styleface_blender.build import image_to_array  # noqa: E402
from styleface_blender.facedata import FaceData  # noqa: E402

KINDS = ("objects", "meshes", "materials", "images", "textures")


def _positions(mesh) -> np.ndarray:
    co = np.empty(len(mesh.vertices) * 3, np.float32)
    mesh.vertices.foreach_get("co", co)
    return co.reshape(-1, 3)


def assert_whole_face(obj) -> None:
    """Everything a built face consists of is there and linked."""
    assert obj.type == "MESH" and build.is_styleface(obj)
    assert len(obj.data.polygons) > 0 and obj.data.uv_layers.get(build.UV_NAME) is not None
    assert obj.active_material is not None
    assert [m.name for m in obj.modifiers] == [build.SUBSURF_NAME, build.DISPLACE_NAME]
    assert obj.modifiers[build.DISPLACE_NAME].texture.image is not None
    assert obj.active_material.node_tree.nodes["StyleFace Diffuse"].image is not None


def _rig(arrays: dict):
    from styleface_blender.rigdata import RigData
    if "rig.source_vertex" not in arrays:
        return None
    return RigData(*(arrays[f"rig.{k}"] for k in ("polygon_sizes", "polygon_corners", "polygon_parts",
                                                    "source_vertex")))


def _evaluated(obj, displace: bool) -> np.ndarray:
    obj.modifiers[build.SUBSURF_NAME].levels = 0
    shown = obj.modifiers[build.DISPLACE_NAME].show_viewport
    obj.modifiers[build.DISPLACE_NAME].show_viewport = displace
    ev = obj.evaluated_get(bpy.context.evaluated_depsgraph_get())
    me = ev.to_mesh()
    try:
        return _positions(me)
    finally:
        ev.to_mesh_clear()
        obj.modifiers[build.DISPLACE_NAME].show_viewport = shown


def assert_matches_arrays(obj, arrays: dict) -> None:
    rig = _rig(arrays)
    if rig is not None:  # a face with a rig: the welded mesh; its shape keys reproduce the face
        assert np.allclose(_evaluated(obj, False), rig.weld(arrays["vertices"]) * 0.1, atol=2e-6)
        assert len(obj.data.polygons) == rig.n_polygons
    else:
        assert np.allclose(_positions(obj.data), arrays["vertices"] * 0.1, atol=1e-7)
        assert len(obj.data.polygons) == len(arrays["faces"])
    disp = image_to_array(obj.modifiers[build.DISPLACE_NAME].texture.image)
    assert np.array_equal(disp, arrays["displacement"])
    dif = image_to_array(obj.active_material.node_tree.nodes["StyleFace Diffuse"].image)
    assert np.abs(dif - arrays["diffuse"]).max() <= 0.5 / 255 + 1e-6


def test_generate_face_equals_worker_arrays(bpy_clean, worker_env):
    obj = api.generate_face(11, texture_size=32, expression="smile", expression_strength=0.5,
                            truncation=0.7, lighting=True)
    assert_whole_face(obj)
    arrays, _ = blender_fakes.face_arrays(11, 32)
    arrays["vertices"] = arrays["vertices"] + 0.5 * arrays["expression_deltas"][1]
    assert_matches_arrays(obj, arrays)
    props = build.face_props(obj)
    assert props["seed"] == 11
    assert props["options"] == {"texture_size": 32, "expression": {"smile": 0.5}, "truncation": 0.7}
    assert "ignored_options" not in props  # the worker advertises truncation among its generate_options
    assert [k.name for k in obj.data.shape_keys.key_blocks] == ["Basis", "jaw_open", "smile"]
    assert "jaw_open" in api.known_expressions()
    assert bpy.data.objects.get("StyleFace Sun") is not None


def test_expression_basis_sent_once_still_gives_every_face_keys(bpy_clean, worker_env):
    worker_env("basis_once")
    from styleface_blender import api as api_mod
    api_mod._BASES.clear()
    first = api.generate_face(1, texture_size=16)
    second = api.generate_face(2, texture_size=16)
    crowd = api.populate_crowd(2, seed_start=3, texture_size=16, shape_keys=True)
    for o in (first, second, *crowd):
        assert [k.name for k in o.data.shape_keys.key_blocks] == ["Basis", "jaw_open", "smile"]
    assert api.populate_crowd(1, seed_start=9, texture_size=16)[0].data.shape_keys is None  # crowd default


def test_regenerate_reproduces_and_varies(bpy_clean, worker_env):
    obj = api.generate_face(4, location=(1, 2, 3), texture_size=16)
    obj.name = "Hero"
    before = _positions(obj.data).copy()
    new = api.regenerate(obj)
    assert new.name == "Hero" and tuple(new.location) == pytest.approx((1, 2, 3))
    assert np.array_equal(_positions(new.data), before)
    assert len(bpy.data.objects) == 1 and len(bpy.data.meshes) == 1
    nxt = api.regenerate(new, vary="seed")
    assert build.face_props(nxt)["seed"] == 5 and not np.array_equal(_positions(nxt.data), before)


def test_crowd_cancel_after_five_leaves_five_whole_faces(bpy_clean, worker_env):
    worker_env("slow")
    coll_name = "Crowd"
    built = []
    objs = api.populate_crowd(10, layout="grid", collection=coll_name, texture_size=16,
                              on_progress=lambda done, total: built.append(done),
                              should_cancel=lambda: len(built) >= 5)
    coll = bpy.data.collections[coll_name]
    assert len(objs) == 5 and len(coll.objects) == 5 and len(bpy.data.objects) == 5
    for o in coll.objects:
        assert_whole_face(o)
    assert sorted(build.face_props(o)["seed"] for o in objs) == [0, 1, 2, 3, 4]
    assert {len(getattr(bpy.data, k)) for k in ("meshes", "materials", "textures")} == {5}
    assert len(bpy.data.images) == 10
    locs = {tuple(round(c, 4) for c in o.location) for o in objs}
    assert len(locs) == 5  # placed on distinct grid spots
    # the worker survived the cancel and serves the next request
    assert len(api.populate_crowd(2, seed_start=20, collection=coll_name, texture_size=16)) == 2


def test_threaded_job_with_cancel(bpy_clean, worker_env):
    """The UI path: worker thread + main-thread poll (what the timer calls)."""
    worker_env("slow")
    config = backend.resolve_config()
    base = build.BuildOptions(collection=api.ensure_collection("Async"))
    job = api.create_job(list(range(10)), api.worker_options(texture_size=16), base, config,
                         api.crowd_positions(10, "scatter", 0.4, seed=1))
    job.start()
    deadline = time.time() + 60
    while not job.poll(budget_s=0.02):
        if len(job.objects) >= 5 and not job.cancelled:
            job.cancel()
        assert time.time() < deadline, "job did not finish"
        time.sleep(0.005)
    assert job.status == "cancelled"
    assert len(job.objects) == 5 and len(bpy.data.collections["Async"].objects) == 5
    for o in job.objects:
        assert_whole_face(o)
    assert 0 < job.fraction < 1 and job.text.startswith("Generating 5/10")


def test_worker_killed_mid_request_reports_error(bpy_clean, worker_env):
    worker_env("slow")
    be = backend.get_backend()
    killed = threading.Event()

    def kill_after_three() -> bool:
        if len(bpy.data.objects) >= 3 and not killed.is_set():
            os.kill(be.pid, signal.SIGKILL)
            killed.set()
        return False

    t0 = time.time()
    with pytest.raises(backend.BackendError) as info:
        api.populate_crowd(10, collection="Doomed", texture_size=16, should_cancel=kill_after_three)
    assert time.time() - t0 < 30
    assert "killed by signal" in str(info.value) or "exited" in str(info.value)
    n = len(info.value.objects)  # faces already in the pipe when the kill came are still whole
    assert 3 <= n < 10
    coll = bpy.data.collections["Doomed"]
    assert set(coll.objects) == set(info.value.objects)
    for o in coll.objects:
        assert_whole_face(o)
    assert not be.running
    # the next call starts a fresh worker
    assert build.is_styleface(api.generate_face(1, texture_size=16))


def test_worker_crash_inside_generator(bpy_clean, worker_env):
    worker_env("fast", STYLEFACE_TEST_KILL_AFTER="2")
    with pytest.raises(backend.BackendError, match="worker"):
        api.populate_crowd(5, collection="Crash", texture_size=16, batch_size=1)
    assert len(bpy.data.collections["Crash"].objects) == 2


def test_no_backend_python_is_a_clear_error(bpy_clean, monkeypatch, tmp_path):
    monkeypatch.setenv("STYLEFACE_BACKEND_PYTHON", str(tmp_path / "missing" / "python"))
    with pytest.raises(backend.BackendError, match="does not exist"):
        api.generate_face(0)


def test_operators_in_background_mode(bpy_clean, worker_env):
    import styleface_blender
    styleface_blender.register()
    try:
        s = bpy.context.scene.styleface
        s.seed, s.texture_size, s.count = 3, 16, 3
        s.expression_mode, s.expression_preset, s.expression_strength = "PRESET", "jaw_open", 0.4
        assert bpy.ops.styleface.generate() == {"FINISHED"}
        face = bpy.data.objects["StyleFace_3"]
        assert build.face_props(face)["options"]["expression"] == {"jaw_open": 0.4}
        s.crowd_layout = "SCATTER"
        assert bpy.ops.styleface.populate_crowd() == {"FINISHED"}
        assert len(bpy.data.collections["StyleFace Crowd"].objects) == 3
        bpy.context.view_layer.objects.active = face
        s.displacement_strength = 2.0  # live update of the active face
        assert face.modifiers[build.DISPLACE_NAME].strength == pytest.approx(0.002)
        assert bpy.ops.styleface.regenerate(mode="SEED") == {"FINISHED"}
        assert build.face_props(bpy.context.view_layer.objects.active)["seed"] == 4
        bpy.ops.styleface.random_seed()
        assert bpy.ops.styleface.release_backend() == {"FINISHED"}
        assert not backend.get_backend().running
    finally:
        styleface_blender.unregister()


@pytest.mark.real_backend
def test_real_demo_generator(bpy_clean, worker_env, monkeypatch):
    ok, why = backend_has_demo_generator()
    if not ok:
        pytest.skip(why)
    monkeypatch.delenv("STYLEFACE_WORKER_GENERATOR")
    received: list[FaceData] = []
    config = backend.resolve_config()
    job = api.create_job([0], api.worker_options(texture_size=64), build.BuildOptions(), config)
    inner = job.on_face
    job.on_face = lambda i, s, d: (received.append(d), inner(i, s, d))[1]
    (obj,) = job.run()
    assert_whole_face(obj)
    arrays, meta = received[0].to_arrays()
    assert_matches_arrays(obj, arrays)
    # the default is $STYLEFACE_BUNDLE, else the embedded demo bundle when shipped, else the procedural head
    manifest = REPO / "backend" / "styleface" / "data" / "demo_bundle" / "bundle.json"
    if manifest.is_file() and not os.environ.get("STYLEFACE_BUNDLE"):
        assert meta["provenance"].get("bundle") == json.loads(manifest.read_text())["id"]
    elif not os.environ.get("STYLEFACE_BUNDLE"):
        assert meta["provenance"].get("generator") == "procedural"
    # the detail in Blender is the backend's own displaced_vertices(), converted to metres
    import importlib
    from styleface_blender import vendor
    vendor.client_module()
    fa = importlib.import_module(vendor._PRIVATE + ".assets").FaceAssets.from_arrays(arrays, meta)
    want = fa.displaced_vertices() * 0.1
    rig = _rig(arrays)
    if rig is None:
        assert np.abs(_evaluated(obj, True) - want).max() < 1e-7
    else:  # welded: compare away from the UV seams, where one vertex has one UV
        welded_index = rig.face_rig().topology.welded_index
        single = np.bincount(rig.source_vertex)[rig.source_vertex[welded_index]] == 1
        assert np.abs(_evaluated(obj, True) - rig.weld(want))[single].max() < 2e-6


def test_ui_timer_path_builds_and_reports(bpy_clean, worker_env):
    """What the panel does: a threaded job drained by the timer callback until it unregisters."""
    import styleface_blender
    from styleface_blender import operators
    styleface_blender.register()
    try:
        config = backend.resolve_config()
        job = api.create_job([7, 8], api.worker_options(texture_size=16, truncation=0.5),
                             build.BuildOptions(), config)
        operators.STATE.job = job.start()
        deadline = time.time() + 60
        while operators._tick() is not None:
            assert time.time() < deadline
            time.sleep(0.01)
        assert operators.STATE.job is None and operators.STATE.error == ""
        assert operators.STATE.message == "2 faces built"
        assert {o.name for o in bpy.context.selected_objects} == {"StyleFace_7", "StyleFace_8"}
    finally:
        styleface_blender.unregister()


def test_crowd_stands_on_the_ground(bpy_clean, worker_env):
    objs = api.populate_crowd(3, layout="scatter", origin=(1.0, 2.0, 0.5), texture_size=16)
    bpy.context.view_layer.update()
    for o in objs:
        mw = np.array(o.matrix_world)
        z = _positions(o.data) @ mw[2, :3] + mw[2, 3]
        assert z.min() == pytest.approx(0.5, abs=1e-5)  # the lowest point on the floor, not below it
        assert o.location.z > 0.5
