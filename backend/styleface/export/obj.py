"""Wavefront OBJ + MTL + diffuse PNG.

OBJ has no units; we write model units (decimetres) so the displacement scale in the sidecar applies
to this mesh unchanged. UVs are per vertex, so v/vt/vn share one index. Floats use 9 significant
digits, enough for float32 to round-trip exactly.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..assets import FaceAssets, vertex_normals
from .atomic import atomic_write_text
from .png import write_diffuse_png

MATERIAL_NAME = "styleface_skin"


def _rows(prefix: str, a: np.ndarray) -> str:
    fmt = prefix + " " + " ".join(["%.9g"] * a.shape[1])
    return "\n".join(fmt % tuple(r) for r in a.astype(np.float64).tolist())


def write_obj(assets: FaceAssets, path: str | Path, bake_displacement: bool = False) -> dict[str, Path]:
    """Write ``<stem>.obj``, ``<stem>.mtl`` and ``<stem>_diffuse.png`` next to each other.

    Returns {"obj", "mtl", "diffuse"} paths. With ``bake_displacement`` the vertices (and normals)
    carry the sampled displacement, for tools that cannot apply the map.
    """
    assets.validate()
    if assets.rig is not None:  # artist mesh: quads, corner UVs, a material per part
        from .obj_rig import write_rig_obj
        return write_rig_obj(assets, path, bake_displacement)
    path = Path(path)
    stem = path.stem
    mtl_path = path.with_suffix(".mtl")
    png_path = path.with_name(f"{stem}_diffuse.png")

    verts = assets.displaced_vertices() if bake_displacement else assets.vertices
    normals = vertex_normals(verts, assets.faces)
    idx = (assets.faces + 1).astype(np.int64)
    face_lines = "\n".join("f %d/%d/%d %d/%d/%d %d/%d/%d" % (a, a, a, b, b, b, c, c, c)
                           for a, b, c in idx.tolist())
    seed = "none" if assets.seed is None else str(assets.seed)
    text = "\n".join([
        f"# StyleFace face, seed {seed}; model units (decimetres), +y up, facing +z",
        f"# displacement {'baked into vertices' if bake_displacement else 'not applied (see sidecar JSON)'}",
        f"mtllib {mtl_path.name}",
        f"o {stem}",
        _rows("v", verts),
        _rows("vt", assets.uvs),
        _rows("vn", normals),
        f"usemtl {MATERIAL_NAME}",
        "s 1",
        face_lines,
        "",
    ])
    atomic_write_text(path, text)

    atomic_write_text(mtl_path, "\n".join([
        "# StyleFace material: diffuse stored as 8-bit sRGB; displacement maps are listed in the sidecar",
        f"newmtl {MATERIAL_NAME}",
        "Ka 0 0 0",
        "Kd 1 1 1",
        "Ks 0 0 0",
        "Ns 10",
        "d 1",
        "illum 1",
        f"map_Kd {png_path.name}",
        "",
    ]))
    write_diffuse_png(assets.diffuse, png_path)
    return {"obj": path, "mtl": mtl_path, "diffuse": png_path}
