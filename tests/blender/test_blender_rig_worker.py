"""Rig faces through the real worker: the rig_expressions transport option (the expression shapes once per
request, cached per face model by the add-on; none for crowds without shape keys), and the real
ICT-FaceKit head from the procedural generator when the backend has torch."""
from __future__ import annotations

import numpy as np
import pytest

bpy = pytest.importorskip("bpy", reason="needs Blender as a Python module (pip install bpy)")

from conftest import backend_has_demo_generator  # noqa: E402
from styleface_blender import api, backend, build  # noqa: E402


@pytest.fixture
def rig_worker(worker_env):
    worker_env("rig")
    api._RIG_BASES.clear()
    yield
    api._RIG_BASES.clear()


def _positions(mesh) -> np.ndarray:
    co = np.empty(len(mesh.vertices) * 3, np.float32)
    mesh.vertices.foreach_get("co", co)
    return co.reshape(-1, 3)


def _evaluated_flat(obj) -> np.ndarray:
    obj.modifiers[build.SUBSURF_NAME].levels = 0
    obj.modifiers[build.DISPLACE_NAME].show_viewport = False
    ev = obj.evaluated_get(bpy.context.evaluated_depsgraph_get())
    me = ev.to_mesh()
    try:
        return _positions(me)
    finally:
        ev.to_mesh_clear()


def _run(seeds, shape_keys: bool):
    """(objects, whether each face arrived with its expression shapes)."""
    carried: list[bool] = []
    job = api.create_job(seeds, api.worker_options(texture_size=16), build.BuildOptions(shape_keys=shape_keys),
                         backend.resolve_config())
    inner = job.on_face
    job.on_face = lambda i, s, d: (carried.append(d.rig.expression_deltas is not None), inner(i, s, d))[1]
    return job.run(), carried, job


def test_expression_shapes_once_per_request_and_cached(bpy_clean, rig_worker):
    objs, carried, job = _run([1, 2, 3], shape_keys=True)
    assert carried == [True, False, False]          # ~17.5 MB once per request, not per face (ICT head)
    assert job.options["rig_expressions"] == "first" and not job.ignored_options
    for obj in objs:                                # every face still gets its keys, from the cache
        keys = obj.data.shape_keys.key_blocks
        assert "jawOpen" in keys and "browInnerUp" in keys
    # a later request reuses the cache for all of its faces as well
    objs2, carried2, _ = _run([4], shape_keys=True)
    assert carried2 == [True] and objs2[0].data.shape_keys is not None
    assert "options" in build.face_props(objs[0])
    assert "rig_expressions" not in build.face_props(objs[0])["options"]  # transport detail, not stored


def test_crowd_without_shape_keys_gets_no_expression_shapes(bpy_clean, rig_worker):
    objs, carried, job = _run([5, 6], shape_keys=False)
    assert carried == [False, False] and job.options["rig_expressions"] == "none"
    assert all(o.data.shape_keys is None for o in objs)
    crowd = api.populate_crowd(3, layout="grid", texture_size=16)
    assert len(crowd) == 3 and all(o.data.shape_keys is None for o in crowd)
    assert all(o.modifiers[build.SUBSURF_NAME].subdivision_type == "CATMULL_CLARK" for o in crowd)


def test_worker_rejects_a_bad_rig_expressions_value(bpy_clean, rig_worker):
    job = api.create_job([1], {"rig_expressions": "some"}, build.BuildOptions(), backend.resolve_config())
    with pytest.raises(backend.BackendError, match="rig_expressions must be one of"):
        job.run()


@pytest.mark.real_backend
def test_real_ict_head(bpy_clean, worker_env, monkeypatch):
    """The procedural generator's ICT-FaceKit head: quads, six part slots, 57 ARKit keys + 2 combined,
    key values = the face's expression, Catmull-Clark before Displace."""
    ok, why = backend_has_demo_generator()
    if not ok:
        pytest.skip(why)
    monkeypatch.delenv("STYLEFACE_WORKER_GENERATOR")
    api._RIG_BASES.clear()
    got = []
    job = api.create_job([3], api.worker_options(texture_size=64, expression={"jawOpen": 0.6}),
                         build.BuildOptions(), backend.resolve_config(bundle="procedural"))
    inner = job.on_face
    job.on_face = lambda i, s, d: (got.append(d), inner(i, s, d))[1]
    (obj,) = job.run()
    data = got[0]
    rig = data.rig
    assert rig is not None and len(rig.expression_names) == 57
    me = obj.data
    assert len(me.vertices) == rig.n_welded > 25000
    sizes = np.empty(len(me.polygons), np.int32)
    me.polygons.foreach_get("loop_total", sizes)
    assert np.array_equal(sizes, rig.polygon_sizes) and (sizes == 4).mean() > 0.9
    assert [s.material.name.split("_styleface_")[-1] for s in obj.material_slots] == \
        ["skin", "sclera", "iris", "teeth", "gums", "eyelashes"]
    assert [(m.type, getattr(m, "subdivision_type", None)) for m in obj.modifiers] == \
        [("SUBSURF", "CATMULL_CLARK"), ("DISPLACE", None)]
    keys = obj.data.shape_keys.key_blocks
    assert len(keys) == 1 + 57 + 2 and {"eyeBlinkLeft", "jawOpen", "mouthSmileRight", "browInnerUp",
                                        "cheekPuff"} <= set(keys.keys())
    exp = data.coefficient("exp")
    assert keys["jawOpen"].value == pytest.approx(float(exp[rig.expression_names.index("jawOpen")]), abs=1e-6)
    assert keys["jawOpen"].value > 0.3
    assert build.face_props(obj)["arkit_missing"] == ["tongueOut"]
    welded = rig.weld(data.vertices) * 0.1
    assert np.abs(_evaluated_flat(obj) - welded).max() < 2e-6      # the keys reproduce the face
