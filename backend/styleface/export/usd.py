"""USD (binary crate ``.usdc``) through Pixar's ``usd-core`` (optional extra ``styleface[usd]``).

Layout (defaultPrim ``/Face``, metersPerUnit 0.1 so points stay in model decimetres, +y up)::

    /Face                 SkelRoot (Xform for a face without expression shapes)
      Mesh                UsdGeom.Mesh: welded points, original polygons (quads), primvars:st
                          faceVarying (indexed: the corner's render vertex), one GeomSubset per part
        <expression>      UsdSkel.BlendShape per expression: sparse offsets + pointIndices
      Skel                Skeleton with one identity joint (blend shapes need a bound skeleton)
        Anim              SkelAnimation: blendShapeWeights = the face's expression (default and frame 1)
      Materials/<part>    UsdPreviewSurface; textured parts read the diffuse PNG via UsdUVTexture

The points are the neutral face and the animation's weights put the face's expression back, as in the
GLB. The diffuse PNG is referenced beside the file (``<stem>_diffuse.png``), not embedded.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..assets import FaceAssets
from ..errors import StyleFaceError
from ..facemodel.parts import part_material
from .png import diffuse_png_bytes
from .atomic import atomic_write_bytes as write_bytes_atomic

USD_SUFFIX = ".usdc"
INSTALL_HINT = "USD export needs usd-core: pip install 'styleface[usd]' (or: pip install usd-core)"


def _pxr() -> Any:
    try:
        from pxr import Gf, Sdf, Tf, Usd, UsdGeom, UsdShade, UsdSkel, Vt
    except ImportError:
        raise StyleFaceError(INSTALL_HINT) from None
    return Gf, Sdf, Tf, Usd, UsdGeom, UsdShade, UsdSkel, Vt


def require_usd() -> None:
    """Raise the one-line install hint unless usd-core is importable."""
    _pxr()


def usd_available() -> bool:
    try:
        _pxr()
    except StyleFaceError:
        return False
    return True


def _geometry(assets: FaceAssets, bake_displacement: bool) -> dict[str, Any]:
    """Points, polygons, corner UV indices, parts and expression shapes (rigged or triangle-only)."""
    if assets.rig is not None:
        from .rig_mesh import rig_mesh

        m = rig_mesh(assets, bake_displacement)
        t = m.topology
        return {"points": m.neutral, "counts": t.polygon_sizes, "indices": t.welded_corners,
                "st_indices": t.polygon_corners, "polygon_parts": t.polygon_parts,
                "parts": m.parts_present(), "names": m.names, "weights": m.weights,
                "deltas": m.deltas if len(m.names) else None}
    verts = assets.displaced_vertices() if bake_displacement else assets.vertices
    n = len(assets.faces)
    return {"points": verts, "counts": np.full(n, 3), "indices": assets.faces.reshape(-1),
            "st_indices": assets.faces.reshape(-1), "polygon_parts": np.zeros(n, np.int64),
            "parts": [(0, "skin")], "names": (), "weights": np.zeros(0, np.float32), "deltas": None}


def _material(stage: Any, path: Any, part: str, diffuse_name: str) -> Any:
    Gf, Sdf, Tf, Usd, UsdGeom, UsdShade, UsdSkel, Vt = _pxr()
    m = part_material(part)
    mat = UsdShade.Material.Define(stage, path)
    surf = UsdShade.Shader.Define(stage, path.AppendChild("PreviewSurface"))
    surf.CreateIdAttr("UsdPreviewSurface")
    surf.CreateInput("roughness", Sdf.ValueTypeNames.Float).Set(float(m.roughness))
    surf.CreateInput("metallic", Sdf.ValueTypeNames.Float).Set(0.0)
    mat.CreateSurfaceOutput().ConnectToSource(surf.ConnectableAPI(), "surface")
    colour = surf.CreateInput("diffuseColor", Sdf.ValueTypeNames.Color3f)
    if not m.textured:
        colour.Set(Gf.Vec3f(*m.base_color))
        return mat
    st_name = mat.CreateInput("frame:stPrimvarName", Sdf.ValueTypeNames.String)  # string since USD 23.xx
    st_name.Set("st")
    reader = UsdShade.Shader.Define(stage, path.AppendChild("stReader"))
    reader.CreateIdAttr("UsdPrimvarReader_float2")
    reader.CreateInput("varname", Sdf.ValueTypeNames.String).ConnectToSource(st_name)
    reader.CreateOutput("result", Sdf.ValueTypeNames.Float2)
    tex = UsdShade.Shader.Define(stage, path.AppendChild("diffuseTexture"))
    tex.CreateIdAttr("UsdUVTexture")
    tex.CreateInput("file", Sdf.ValueTypeNames.Asset).Set(f"./{diffuse_name}")
    tex.CreateInput("st", Sdf.ValueTypeNames.Float2).ConnectToSource(reader.ConnectableAPI(), "result")
    tex.CreateInput("wrapS", Sdf.ValueTypeNames.Token).Set("clamp")
    tex.CreateInput("wrapT", Sdf.ValueTypeNames.Token).Set("clamp")
    tex.CreateInput("sourceColorSpace", Sdf.ValueTypeNames.Token).Set("sRGB")
    if tuple(m.base_color) != (1.0, 1.0, 1.0):
        tex.CreateInput("scale", Sdf.ValueTypeNames.Float4).Set(Gf.Vec4f(*m.base_color, 1.0))
    tex.CreateOutput("rgb", Sdf.ValueTypeNames.Float3)
    colour.ConnectToSource(tex.ConnectableAPI(), "rgb")
    return mat


def usd_stage(assets: FaceAssets, diffuse_name: str, bake_displacement: bool = False,
              name: str = "styleface_face") -> Any:
    """The face as an in-memory ``Usd.Stage`` (see the module docstring)."""
    Gf, Sdf, Tf, Usd, UsdGeom, UsdShade, UsdSkel, Vt = _pxr()
    g = _geometry(assets, bake_displacement)
    stage = Usd.Stage.CreateInMemory()
    UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.y)
    UsdGeom.SetStageMetersPerUnit(stage, 0.1)
    rigged = g["deltas"] is not None
    root = (UsdSkel.Root if rigged else UsdGeom.Xform).Define(stage, "/Face").GetPrim()
    stage.SetDefaultPrim(root)
    root.SetCustomDataByKey("styleface:seed", -1 if assets.seed is None else int(assets.seed))
    root.SetCustomDataByKey("styleface:name", name)
    root.SetCustomDataByKey("styleface:displacementBaked", bool(bake_displacement))

    points = np.ascontiguousarray(g["points"], np.float32)
    mesh = UsdGeom.Mesh.Define(stage, "/Face/Mesh")
    mesh.CreatePointsAttr(Vt.Vec3fArray.FromNumpy(points))
    mesh.CreateExtentAttr(Vt.Vec3fArray([Gf.Vec3f(*map(float, points.min(0))),
                                         Gf.Vec3f(*map(float, points.max(0)))]))
    mesh.CreateFaceVertexCountsAttr(Vt.IntArray.FromNumpy(np.asarray(g["counts"], np.int32)))
    mesh.CreateFaceVertexIndicesAttr(Vt.IntArray.FromNumpy(np.asarray(g["indices"], np.int32)))
    mesh.CreateSubdivisionSchemeAttr(UsdGeom.Tokens.none)
    mesh.CreateOrientationAttr(UsdGeom.Tokens.rightHanded)  # counter-clockwise seen from outside
    st = UsdGeom.PrimvarsAPI(mesh).CreatePrimvar("st", Sdf.ValueTypeNames.TexCoord2fArray,
                                                 UsdGeom.Tokens.faceVarying)
    st.Set(Vt.Vec2fArray.FromNumpy(np.ascontiguousarray(assets.uvs, np.float32)))
    st.SetIndices(Vt.IntArray.FromNumpy(np.asarray(g["st_indices"], np.int32)))

    binding = UsdShade.MaterialBindingAPI.Apply(mesh.GetPrim())
    for part, part_name in g["parts"]:
        mat = _material(stage, Sdf.Path("/Face/Materials").AppendChild(Tf.MakeValidIdentifier(
            part_material(part_name).name)), part_name, diffuse_name)
        faces = np.flatnonzero(np.asarray(g["polygon_parts"]) == part).astype(np.int32)
        subset = binding.CreateMaterialBindSubset(Tf.MakeValidIdentifier(part_name), Vt.IntArray.FromNumpy(faces),
                                                  UsdGeom.Tokens.face)
        UsdShade.MaterialBindingAPI.Apply(subset.GetPrim()).Bind(mat)
    binding.SetMaterialBindSubsetsFamilyType(UsdGeom.Tokens.partition)

    if rigged:
        _blend_shapes(stage, mesh, g["names"], g["deltas"], g["weights"])
    return stage


def _blend_shapes(stage: Any, mesh: Any, names: tuple[str, ...], deltas: np.ndarray, weights: np.ndarray) -> None:
    Gf, Sdf, Tf, Usd, UsdGeom, UsdShade, UsdSkel, Vt = _pxr()
    skel = UsdSkel.Skeleton.Define(stage, "/Face/Skel")
    skel.CreateJointsAttr(["root"])
    skel.CreateBindTransformsAttr(Vt.Matrix4dArray([Gf.Matrix4d(1.0)]))
    skel.CreateRestTransformsAttr(Vt.Matrix4dArray([Gf.Matrix4d(1.0)]))
    anim = UsdSkel.Animation.Define(stage, "/Face/Skel/Anim")
    tokens = [Tf.MakeValidIdentifier(n) for n in names]
    anim.CreateBlendShapesAttr(tokens)
    values = Vt.FloatArray([float(w) for w in weights])
    anim.CreateBlendShapeWeightsAttr(values)
    # also one time sample: importers that read only animated weights (Blender) then pose the face too
    anim.GetBlendShapeWeightsAttr().Set(values, Usd.TimeCode(1))
    stage.SetStartTimeCode(1)
    stage.SetEndTimeCode(1)
    UsdSkel.BindingAPI.Apply(skel.GetPrim()).CreateAnimationSourceRel().SetTargets([anim.GetPath()])

    bind = UsdSkel.BindingAPI.Apply(mesh.GetPrim())
    bind.CreateSkeletonRel().SetTargets([skel.GetPath()])
    bind.CreateJointIndicesPrimvar(True, 1).Set(Vt.IntArray([0]))
    bind.CreateJointWeightsPrimvar(True, 1).Set(Vt.FloatArray([1.0]))
    bind.CreateGeomBindTransformAttr(Gf.Matrix4d(1.0))
    bind.CreateBlendShapesAttr(tokens)
    targets = []
    for token, d in zip(tokens, deltas):
        shape = UsdSkel.BlendShape.Define(stage, mesh.GetPath().AppendChild(token))
        moved = np.flatnonzero(np.any(d != 0, axis=1))
        if not len(moved):
            moved = np.zeros(1, np.int64)  # an explicit zero offset, not an empty (ambiguous) list
        shape.CreateOffsetsAttr(Vt.Vec3fArray.FromNumpy(np.ascontiguousarray(d[moved], np.float32)))
        shape.CreatePointIndicesAttr(Vt.IntArray.FromNumpy(moved.astype(np.int32)))
        targets.append(shape.GetPath())
    bind.CreateBlendShapeTargetsRel().SetTargets(targets)


def write_usd(assets: FaceAssets, path: str | Path, bake_displacement: bool = False,
              diffuse_path: str | Path | None = None) -> dict[str, Path]:
    """Write ``<stem>.usdc`` (and ``<stem>_diffuse.png`` unless ``diffuse_path`` names one already written
    beside it); returns {"usd", "diffuse"}. Needs usd-core (one-line error otherwise)."""
    _pxr()
    assets.validate()
    path = Path(path)
    if path.suffix not in (".usd", ".usda", ".usdc"):
        path = path.with_suffix(USD_SUFFIX)
    written: dict[str, Path] = {}
    if diffuse_path is None or Path(diffuse_path).parent.resolve() != path.parent.resolve():
        png = path.with_name(f"{path.stem}_diffuse.png")
        write_bytes_atomic(png, diffuse_png_bytes(assets.diffuse))
        written["diffuse"] = png
    else:
        png = Path(diffuse_path)
    stage = usd_stage(assets, png.name, bake_displacement, name=path.stem)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")  # USD picks the format by suffix
    try:
        if not stage.GetRootLayer().Export(str(tmp)):
            raise StyleFaceError(f"USD could not write {path}")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    written["usd"] = path
    return written
