"""StyleFace scripting API: generate faces, populate crowds and render views from Python.

Works the same in the Blender UI, in ``blender -b --python script.py`` and with the PyPI ``bpy``
module in a plain Python process; it uses the data API (no ``bpy.ops`` except the render call,
which has no data-API equivalent), so scripts get no context warnings.

Example::

    from styleface_blender import api
    face = api.generate_face(seed=7, expression="jaw_open", expression_strength=0.6)
    crowd = api.populate_crowd(100, layout="scatter")
    api.render_views(face, yaws=[-30, 0, 30], path="renders/")
    api.import_arkit_capture(face, "take.csv")   # Live Link Face CSV -> shape-key keyframes

The backend Python is found through the add-on preferences, ``$STYLEFACE_BACKEND_PYTHON`` or
``<repo>/.venv`` (see ``backend.discover_python``); pass ``backend_python=`` to choose explicitly.
Calls block until done; ``should_cancel`` (checked after every face) stops a crowd early and leaves
only whole faces. Failures raise ``BackendError`` whose ``objects`` lists the faces that were built.
"""
from __future__ import annotations

import math
import os
import random
from typing import Any, Callable, Iterable, Sequence

import bpy
import numpy as np

from . import build as _build
from .backend import BackendConfig, BackendError, GenerateJob, resolve_config
from .build import BuildOptions, build_face, configure_displacement, face_props, remove_face
from .capture import CaptureError, CaptureResult, import_arkit_capture
from .facedata import FaceData
from .lighting import ensure_default_lighting, match_lighting
from .placement import stand_on_ground

__all__ = ["generate_face", "populate_crowd", "render_views", "build_from_data", "regenerate",
           "match_lighting", "configure_displacement", "remove_face", "face_props", "crowd_positions",
           "worker_options", "BackendError", "FaceData", "known_expressions", "import_arkit_capture",
           "CaptureResult", "CaptureError"]

#: Expression component names seen in faces so far (the panel offers them as presets).
_KNOWN_EXPRESSIONS: list[str] = []
#: Expression bases by (face model, vertex count): a worker may send them with the first face only.
_BASES: dict[tuple[str, int], tuple[list[str], np.ndarray]] = {}
#: Rig expression shapes by (face model, welded vertex count, names): the worker sends them with the
#: first face of a request only (``rig_expressions='first'``), ~17.5 MB for the ICT-FaceKit head.
_RIG_BASES: dict[tuple[str, int, tuple[str, ...]], np.ndarray] = {}
_RIG_CACHE_SIZE = 4

#: Focal length of the backend camera (1015 px at 256 px image width) as a 36 mm-sensor lens.
CAMERA_LENS_MM = 1015.0 / 256.0 * 36.0
CAMERA_DISTANCE_M = 1.0   # the backend camera sits at z = 10 model units = 1 m


def known_expressions() -> list[str]:
    return list(_KNOWN_EXPRESSIONS)


def _remember_expressions(data: FaceData) -> None:
    """Note the expression names, and cache/reuse the basis so faces that arrive without it (the
    basis is the same for every face of a model) still get their shape keys."""
    model = str(data.provenance.get("face_model") or data.bundle_id)
    rig = data.rig
    if rig is not None and rig.expression_names:
        rkey = (model, rig.n_welded, tuple(rig.expression_names))
        if rig.expression_deltas is not None:
            _RIG_BASES.pop(rkey, None)
            _RIG_BASES[rkey] = rig.expression_deltas
            while len(_RIG_BASES) > _RIG_CACHE_SIZE:
                _RIG_BASES.pop(next(iter(_RIG_BASES)))
        elif rkey in _RIG_BASES:
            rig.expression_deltas = _RIG_BASES[rkey]
    key = (model, data.n_vertices)
    if data.expression_deltas is not None:
        _BASES[key] = (list(data.expression_names), data.expression_deltas)
    elif key in _BASES:
        data.expression_names, data.expression_deltas = list(_BASES[key][0]), _BASES[key][1]
    for n in (rig.expression_names if rig is not None else data.expression_names):
        if n not in _KNOWN_EXPRESSIONS:
            _KNOWN_EXPRESSIONS.append(n)


def worker_options(truncation: float | None = None, expression: str | dict[str, float] | None = None,
                   expression_strength: float = 1.0, expression_seed: int | None = None,
                   texture_size: int | None = None, batch_size: int | None = None) -> dict[str, Any]:
    """The generate options as the worker protocol names them (None values are not sent)."""
    if isinstance(expression, str):
        expression = {expression: float(expression_strength)} if expression else None
    return {"truncation": truncation, "expression": dict(expression) if expression else None,
            "expression_from_seed": expression_seed, "texture_size": texture_size,
            "batch_size": batch_size}


def _face_builder(base: BuildOptions, options: dict[str, Any], config: BackendConfig,
                  placements: Sequence[tuple[tuple[float, float, float], float]] | None = None,
                  lighting: bool = False, name: str | None = None, ignored: Callable[[], list[str]] | None = None
                  ) -> Callable[[int, int, FaceData], Any]:
    """on_face callback: build one face with its custom properties (seed, bundle, options)."""

    def on_face(index: int, seed: int, data: FaceData) -> Any:
        _remember_expressions(data)
        opts = BuildOptions(**{k: getattr(base, k) for k in base.__dataclass_fields__})
        opts.properties = dict(base.properties)
        if placements is not None:
            opts.location, opts.yaw = placements[index][0], base.yaw + placements[index][1]
        opts.name = name or f"StyleFace_{seed}"
        opts.properties.update({
            "seed": int(seed), "options": {k: v for k, v in options.items() if v is not None},
            "bundle": config.bundle or data.bundle_id,
        })
        if ignored is not None and ignored():
            opts.properties["ignored_options"] = ignored()
        obj = build_face(data, opts)
        if placements is not None:  # crowd spots are floor points: the face stands on them
            stand_on_ground(obj, placements[index][0][2])
        if lighting:
            match_lighting(obj)
        return obj

    return on_face


def create_job(seeds: Sequence[int], options: dict[str, Any], base: BuildOptions, config: BackendConfig,
               placements: Sequence[tuple[tuple[float, float, float], float]] | None = None,
               lighting: bool = False, name: str | None = None, label: str = "Generating") -> GenerateJob:
    """A GenerateJob whose faces are built with ``base`` options: ``.run()`` blocks (scripts,
    background mode), ``.start()`` + ``.poll()`` from a timer keeps the UI responsive."""
    sent = dict(options)
    # rig faces: the expression shapes once per request (cached here per face model), none for crowds
    # without shape keys; the object's stored options stay the user's
    sent.setdefault("rig_expressions", "first" if base.shape_keys else "none")
    job = GenerateJob(seeds, sent, lambda i, s, d: None, config=config, label=label)
    job.on_face = _face_builder(base, options, config, placements, lighting=lighting, name=name,
                                ignored=lambda: job.ignored_options)
    return job


def generate_face(seed: int = 0, *, truncation: float | None = None,
                  expression: str | dict[str, float] | None = None, expression_strength: float = 1.0,
                  expression_seed: int | None = None, texture_size: int | None = None,
                  collection: "bpy.types.Collection | None" = None,
                  location: tuple[float, float, float] = (0.0, 0.0, 0.0), yaw: float = 0.0,
                  pitch: float = 0.0, displacement_strength: float = 1.0,
                  displacement_method: str = "MODIFIER", subdivision_levels: tuple[int, int] = (0, 2),
                  image_storage: str = "PACK", lighting: bool = False, name: str | None = None,
                  shape_keys: bool = True, backend_python: str | None = None, bundle: str | None = None,
                  device: str | None = None) -> "bpy.types.Object":
    """Generate the face of ``seed`` through the backend and build it as one object (angles in
    radians). The object's custom properties record bundle, seed and options for ``regenerate``;
    ``shape_keys`` adds one key per named expression when the backend sends the basis."""
    config = resolve_config(backend_python, bundle, device)
    options = worker_options(truncation, expression, expression_strength, expression_seed, texture_size)
    base = BuildOptions(collection=collection, location=location, yaw=yaw, pitch=pitch,
                        displacement_strength=displacement_strength,
                        displacement_method=displacement_method,
                        subdivision_viewport=subdivision_levels[0], subdivision_render=subdivision_levels[1],
                        image_storage=image_storage, shape_keys=shape_keys)
    objs = create_job([seed], options, base, config, lighting=lighting, name=name).run()
    if not objs:
        raise BackendError(f"the backend returned no face for seed {seed}")
    return objs[0]


def build_from_data(data: Any, **build_options: Any) -> "bpy.types.Object":
    """Build an object from face arrays you already have (FaceData, (arrays, meta), FaceAssets)."""
    fd = FaceData.from_any(data)
    _remember_expressions(fd)
    return build_face(fd, BuildOptions(**build_options))


# -- crowds ----------------------------------------------------------------------------------------

def crowd_positions(count: int, layout: Any = "grid", spacing: float = 0.4, seed: int = 0,
                    target: "bpy.types.Object | None" = None, origin: Sequence[float] = (0.0, 0.0, 0.0),
                    yaw_jitter: float = 0.5) -> list[tuple[tuple[float, float, float], float]]:
    """(location, yaw) per face. grid: rows on the ground plane, front row nearest the camera side
    (-Y); scatter: random non-overlapping spots with random yaw; vertices: the world positions of a
    mesh object's vertices (``target``, or an Object passed as ``layout``)."""
    if not isinstance(layout, str):
        target, layout = layout, "vertices"
    layout = layout.lower()
    ox, oy, oz = (float(c) for c in origin)
    if count < 0:
        raise ValueError("count must be >= 0")
    if layout == "grid":
        cols = max(1, math.ceil(math.sqrt(count)))
        rows = max(1, math.ceil(count / cols))
        out = []
        for i in range(count):
            r, c = divmod(i, cols)
            out.append(((ox + (c - (cols - 1) / 2) * spacing, oy + (r - (rows - 1) / 2) * spacing, oz), 0.0))
        return out
    if layout == "scatter":
        rng = random.Random(seed)
        side = spacing * math.sqrt(max(count, 1)) * 1.4
        pts: list[tuple[float, float]] = []
        min_d2 = (spacing * 0.8) ** 2
        tries = 0
        while len(pts) < count:
            p = (rng.uniform(-side / 2, side / 2), rng.uniform(-side / 2, side / 2))
            tries += 1
            if tries > 200 * max(count, 1) or all((p[0] - q[0]) ** 2 + (p[1] - q[1]) ** 2 >= min_d2 for q in pts):
                pts.append(p)
        return [((ox + x, oy + y, oz), rng.uniform(-yaw_jitter, yaw_jitter)) for x, y in pts]
    if layout == "vertices":
        if target is None or target.type != "MESH":
            raise ValueError("layout 'vertices' needs a mesh object (target=...)")
        n = len(target.data.vertices)
        if n < count:
            raise ValueError(f"'{target.name}' has {n} vertices, fewer than the {count} faces asked for")
        co = np.empty(n * 3, np.float32)
        target.data.vertices.foreach_get("co", co)
        co = co.reshape(-1, 3)[:count]
        mw = np.array(target.matrix_world, dtype=np.float64)
        world = co @ mw[:3, :3].T + mw[:3, 3]
        return [((float(p[0]), float(p[1]), float(p[2])), 0.0) for p in world]
    raise ValueError(f"layout must be 'grid', 'scatter', 'vertices' or a mesh object, got {layout!r}")


def populate_crowd(count: int | None = None, seeds: Iterable[int] | None = None, layout: Any = "grid", *,
                   collection: "bpy.types.Collection | str | None" = "StyleFace Crowd", spacing: float = 0.4,
                   target: "bpy.types.Object | None" = None, seed_start: int = 0,
                   origin: Sequence[float] = (0.0, 0.0, 0.0), batch_size: int = 4,
                   should_cancel: Callable[[], bool] | None = None,
                   on_progress: Callable[[int, int], Any] | None = None,
                   truncation: float | None = None, expression: str | dict[str, float] | None = None,
                   expression_strength: float = 1.0, texture_size: int | None = None,
                   displacement_strength: float = 1.0, displacement_method: str = "MODIFIER",
                   subdivision_levels: tuple[int, int] = (0, 1), image_storage: str = "PACK",
                   lighting: bool = False, shape_keys: bool = False, backend_python: str | None = None,
                   bundle: str | None = None, device: str | None = None) -> list["bpy.types.Object"]:
    """Generate ``count`` faces (seeds ``seed_start..``, or the given ``seeds``) in worker batches and
    place each as it arrives. Returns the objects; cancelling (``should_cancel()`` true after a face)
    returns the whole faces built so far, and a worker failure raises BackendError with ``.objects``.
    Shape keys are off by default here: a full expression basis per crowd member costs ~5 MB each."""
    seed_list = list(seeds) if seeds is not None else list(range(seed_start, seed_start + int(count or 0)))
    if count is not None and seeds is not None:
        seed_list = seed_list[:count]
    if not seed_list:
        return []
    coll = ensure_collection(collection)
    placements = crowd_positions(len(seed_list), layout, spacing, seed=seed_list[0], target=target,
                                 origin=origin)
    config = resolve_config(backend_python, bundle, device)
    options = worker_options(truncation, expression, expression_strength, None, texture_size, batch_size)
    base = BuildOptions(collection=coll, displacement_strength=displacement_strength,
                        displacement_method=displacement_method,
                        subdivision_viewport=subdivision_levels[0], subdivision_render=subdivision_levels[1],
                        image_storage=image_storage, shape_keys=shape_keys)
    job = create_job(seed_list, options, base, config, placements, lighting=lighting, label="Crowd")
    progress = (lambda j: on_progress(len(j.objects), j.total)) if on_progress else None
    return job.run(should_cancel=should_cancel, on_progress=progress)


def ensure_collection(collection: "bpy.types.Collection | str | None") -> "bpy.types.Collection":
    """A collection object, or one made (and linked to the scene) by name; None: the scene's."""
    scene = bpy.context.scene
    if collection is None:
        return scene.collection
    if isinstance(collection, str):
        coll = bpy.data.collections.get(collection) or bpy.data.collections.new(collection)
        if coll.name not in scene.collection.children and coll is not scene.collection:
            scene.collection.children.link(coll)
        return coll
    return collection


def regenerate(obj: "bpy.types.Object", vary: str | None = None, **overrides: Any) -> "bpy.types.Object":
    """Rebuild a StyleFace object from its stored bundle/seed/options (``vary``: None reproduces,
    'seed' takes the next seed, 'expression' keeps the seed and applies ``overrides``). The new
    object takes the old one's name, transform and collections; the old one is removed."""
    props = face_props(obj)
    if "seed" not in props:
        raise ValueError(f"'{obj.name}' is not a StyleFace object")
    seed = int(props["seed"]) + (1 if vary == "seed" else 0)
    opts = dict(props.get("options") or {})
    expression = overrides.pop("expression", opts.get("expression"))
    kwargs = dict(truncation=opts.get("truncation"), expression=expression,
                  expression_seed=opts.get("expression_from_seed"), texture_size=opts.get("texture_size"),
                  displacement_strength=float(props.get("displacement_strength", 1.0)),
                  displacement_method=str(props.get("displacement_method", "MODIFIER")))
    bundle = props.get("bundle")
    if bundle and os.path.exists(str(bundle)):
        kwargs["bundle"] = str(bundle)
    kwargs.update(overrides)
    sub = obj.modifiers.get(_build.SUBSURF_NAME)
    if sub is not None:
        kwargs.setdefault("subdivision_levels", (sub.levels, sub.render_levels))
    collections = list(obj.users_collection)
    name, parent, parent_inv = obj.name, obj.parent, obj.matrix_parent_inverse.copy()
    transform = (obj.location.copy(), obj.rotation_mode, obj.rotation_euler.copy(),
                 obj.rotation_quaternion.copy(), obj.scale.copy())
    new = generate_face(seed, collection=collections[0] if collections else None, **kwargs)
    for c in collections[1:]:
        c.objects.link(new)
    _carry_shape_key_animation(obj, new)
    remove_face(obj)
    new.parent, new.matrix_parent_inverse = parent, parent_inv
    (new.location, new.rotation_mode, new.rotation_euler, new.rotation_quaternion, new.scale) = transform
    new.name = name
    return new


def _carry_shape_key_animation(old: "bpy.types.Object", new: "bpy.types.Object") -> None:
    """A regenerated face keeps the old one's shape-key animation (an imported capture, hand keys):
    the curves name keys, and a face of the same model has the same keys."""
    old_keys = getattr(old.data, "shape_keys", None)
    new_keys = getattr(new.data, "shape_keys", None)
    anim = old_keys.animation_data if old_keys is not None else None
    if new_keys is None or anim is None or anim.action is None:
        return
    target = new_keys.animation_data_create()
    target.action = anim.action
    slot = getattr(anim, "action_slot", None)  # 4.4+: layered actions assign a slot per ID
    if slot is not None:
        target.action_slot = slot


# -- rendering -------------------------------------------------------------------------------------

def _camera(scene: "bpy.types.Scene") -> "bpy.types.Object":
    cam = bpy.data.objects.get("StyleFace Camera")
    if cam is None or cam.type != "CAMERA":
        cam = bpy.data.objects.new("StyleFace Camera", bpy.data.cameras.new("StyleFace Camera"))
    if cam.name not in scene.objects:
        scene.collection.objects.link(cam)
    cam.data.lens = CAMERA_LENS_MM
    cam.data.sensor_fit = "HORIZONTAL"
    cam.data.sensor_width = 36.0
    cam.data.clip_start = 0.01
    return cam


def _set_cycles(scene: "bpy.types.Scene", samples: int, device: str) -> None:
    cy = scene.cycles
    cy.samples = samples
    cy.use_denoising = False
    if hasattr(cy, "use_adaptive_sampling"):
        cy.use_adaptive_sampling = False
    cy.device = "GPU" if device.upper() != "CPU" else "CPU"
    if cy.device == "GPU":
        try:
            prefs = bpy.context.preferences.addons["cycles"].preferences
            prefs.get_devices()
            for kind in ("OPTIX", "CUDA", "HIP", "METAL", "ONEAPI"):
                if any(d.type == kind for d in prefs.devices):
                    prefs.compute_device_type = kind
                    for d in prefs.devices:
                        d.use = d.type == kind
                    break
            else:
                cy.device = "CPU"
        except (KeyError, AttributeError, TypeError):
            cy.device = "CPU"


def eevee_engine_id() -> str:
    """'BLENDER_EEVEE_NEXT' on 4.2-4.4, 'BLENDER_EEVEE' later: read from the enum at run time."""
    items = bpy.types.RenderSettings.bl_rna.properties["engine"].enum_items.keys()  # type: ignore[attr-defined]
    return "BLENDER_EEVEE_NEXT" if "BLENDER_EEVEE_NEXT" in items else "BLENDER_EEVEE"


def render_views(obj: "bpy.types.Object", yaws: Iterable[float], path: str, *, degrees: bool = True,
                 resolution: int = 256, engine: str = "CYCLES", samples: int = 16, device: str = "CPU",
                 isolate: bool = True, film_transparent: bool = False, skip_existing: bool = False
                 ) -> list[str]:
    """Render ``obj`` turned by each yaw (degrees unless ``degrees=False``) through the backend's
    camera (same focal length and distance, so a face fills the frame like an FFHQ crop) to PNG.

    ``path``: a folder (files ``<object>_yaw+030.png``), a ``.png`` file (one yaw: that file; several:
    ``x_yaw+030.png`` beside it) or a pattern with ``{name}``, ``{seed}``, ``{yaw}``. Files are written
    under a temporary name and renamed, so an interrupted render never leaves a PNG that looks
    complete. Scene settings that are changed are restored afterwards, and what was added for the
    render (camera, default light and world) is removed again."""
    yaws = list(yaws)
    scene = bpy.context.scene
    assert scene is not None
    added = _RenderSetup(scene)
    render = scene.render
    saved: dict[str, Any] = dict(camera=scene.camera, engine=render.engine, x=render.resolution_x, y=render.resolution_y,
                 pct=render.resolution_percentage, filepath=render.filepath,
                 transparent=render.film_transparent, ext=render.use_file_extension)
    saved_fmt = (render.image_settings.file_format, render.image_settings.color_mode)
    hidden: list[Any] = []
    base_rot = (obj.rotation_euler[0], obj.rotation_euler[1], obj.rotation_euler[2])
    cam = _camera(scene)
    ensure_default_lighting(scene)
    seed = face_props(obj).get("seed", "")
    out: list[str] = []
    try:
        if isolate:
            for o in scene.objects:
                if o is not obj and o.type in ("MESH", "CURVE", "SURFACE", "META", "FONT", "VOLUME",
                                               "CURVES", "POINTCLOUD", "GREASEPENCIL") and not o.hide_render:
                    o.hide_render = True
                    hidden.append(o)
        engine_id = eevee_engine_id() if engine.upper().startswith("BLENDER_EEVEE") else engine.upper()
        render.engine = engine_id  # type: ignore[assignment]  # 4.2 stubs list only EEVEE_NEXT
        if engine_id == "CYCLES":
            _set_cycles(scene, samples, device)
        render.resolution_x = render.resolution_y = int(resolution)
        render.resolution_percentage = 100
        render.film_transparent = film_transparent
        render.use_file_extension = False
        render.image_settings.file_format = "PNG"
        render.image_settings.color_mode = "RGBA" if film_transparent else "RGB"
        loc = _build.world_matrix(obj).translation
        cam.location = (loc.x, loc.y - CAMERA_DISTANCE_M, loc.z)
        cam.rotation_euler = (math.pi / 2, 0.0, 0.0)
        scene.camera = cam
        for yaw in yaws:
            yaw_deg = float(yaw) if degrees else math.degrees(float(yaw))
            target = _view_path(path, obj.name, seed, yaw_deg, single=len(yaws) == 1)
            if skip_existing and os.path.isfile(target):
                out.append(target)
                continue
            os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
            obj.rotation_euler = (base_rot[0], base_rot[1], base_rot[2] + math.radians(yaw_deg))
            tmp = target + ".partial.png"
            render.filepath = tmp
            bpy.ops.render.render(write_still=True)  # no data-API equivalent for rendering
            os.replace(tmp, target)
            out.append(target)
    finally:
        obj.rotation_euler = base_rot
        for o in hidden:
            o.hide_render = False
        scene.camera = saved["camera"]
        render.engine = saved["engine"]
        render.resolution_x, render.resolution_y = saved["x"], saved["y"]
        render.resolution_percentage = saved["pct"]
        render.filepath = saved["filepath"]
        render.film_transparent = saved["transparent"]
        render.use_file_extension = saved["ext"]
        render.image_settings.file_format, render.image_settings.color_mode = saved_fmt
        added.undo()
    return out


class _RenderSetup:
    """What ``render_views`` adds to a scene (camera, default sun and world) and how to take it away."""

    def __init__(self, scene: "bpy.types.Scene"):
        self.scene = scene
        self.objects = {o.name for o in bpy.data.objects}
        self.cameras = {c.name for c in bpy.data.cameras}
        self.lights = {x.name for x in bpy.data.lights}
        self.worlds = {w.name for w in bpy.data.worlds}
        self.world = scene.world
        self.world_state = _world_state(scene.world)

    def undo(self) -> None:
        for coll, before in ((bpy.data.objects, self.objects), (bpy.data.cameras, self.cameras),
                             (bpy.data.lights, self.lights)):
            for block in [b for b in coll if b.name not in before]:
                coll.remove(block)  # type: ignore[arg-type]
        self.scene.world = self.world
        for w in [w for w in bpy.data.worlds if w.name not in self.worlds]:
            bpy.data.worlds.remove(w)
        if self.world is not None and self.world_state is not None:
            color, had_tree, bg = self.world_state
            self.world.color = color
            if not had_tree and self.world.node_tree is not None:  # 4.x world that had no nodes
                self.world.use_nodes = False
            node = _background_node(self.world)
            if node is not None and bg is not None:
                node.inputs["Color"].default_value, node.inputs["Strength"].default_value = bg


def _background_node(world: Any) -> Any:
    tree = getattr(world, "node_tree", None)
    return next((n for n in tree.nodes if n.type == "BACKGROUND"), None) if tree is not None else None


def _world_state(world: Any) -> Any:
    if world is None:
        return None
    node = _background_node(world)
    bg = (tuple(node.inputs["Color"].default_value), node.inputs["Strength"].default_value) if node else None
    return tuple(world.color), world.node_tree is not None, bg


def _view_path(path: str, name: str, seed: Any, yaw_deg: float, single: bool = False) -> str:
    path = bpy.path.abspath(path) if path.startswith("//") else path
    yaw_txt = f"{int(round(yaw_deg)):+04d}"
    if "{" in path:
        return path.format(name=bpy.path.clean_name(name), seed=seed, yaw=yaw_txt)
    stem, ext = os.path.splitext(path)
    if ext.lower() == ".png":  # a file name: that file for one view, numbered beside it for several
        return path if single else f"{stem}_yaw{yaw_txt}{ext}"
    return os.path.join(path, f"{bpy.path.clean_name(name)}_yaw{yaw_txt}.png")


def view_filename(seed: int, yaw_deg: float) -> str:
    """File name the batch command uses per view (also how it decides what is already done)."""
    return f"face_{int(seed):06d}_yaw{int(round(yaw_deg)):+04d}.png"
