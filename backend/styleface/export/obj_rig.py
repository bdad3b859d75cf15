"""OBJ + MTL of a rigged face (ICT head): original polygons (quads), per-corner UVs, a material per part.

``v`` lists the welded vertices (one per position, so the mesh is closed across UV seams); ``vt`` lists
the render vertices' UVs (a render vertex has exactly one UV), so corner ``c`` is ``v/vt/vn`` =
``source_vertex[c]+1 / c+1 / source_vertex[c]+1``. Normals are per welded vertex (smooth across seams).
Each part is a ``usemtl`` group; its MTL entry maps the shared diffuse atlas (textured parts) and
carries colour, specular and roughness from :data:`~styleface.facemodel.parts.PART_MATERIALS`, both as
classic ``Kd/Ks/Ns`` and as the PBR extension ``Pr/Pm`` that Blender's importer reads.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..assets import FaceAssets
from ..facemodel.parts import part_material
from .png import diffuse_png_bytes
from .atomic import atomic_write_bytes as write_bytes_atomic
from .rig_mesh import rig_mesh


def _rows(prefix: str, a: np.ndarray) -> str:
    fmt = prefix + " " + " ".join(["%.9g"] * a.shape[1])
    return "\n".join(fmt % tuple(r) for r in a.astype(np.float64).tolist())


def ns_from_roughness(roughness: float) -> float:
    """Phong exponent for a roughness, the inverse of Blender's importer (roughness = 1 - sqrt(Ns/1000))."""
    return 1000.0 * (1.0 - min(max(float(roughness), 0.0), 1.0)) ** 2


def rig_obj_text(assets: FaceAssets, stem: str, mtl_name: str, bake_displacement: bool = False) -> str:
    """The OBJ text: welded ``v``/``vn``, render-vertex ``vt``, polygons grouped by part."""
    mesh = rig_mesh(assets, bake_displacement)
    topo = mesh.topology
    corners = topo.polygon_corners
    welded = topo.source_vertex[corners] + 1
    render = corners + 1
    offs = topo.polygon_offsets
    seed = "none" if assets.seed is None else str(assets.seed)
    lines = [
        f"# StyleFace face, seed {seed}; model units (decimetres), +y up, facing +z",
        f"# displacement {'baked into vertices' if bake_displacement else 'not applied (see sidecar JSON)'}",
        f"# {len(mesh.posed)} vertices, {topo.n_polygons} polygons, parts: {', '.join(topo.part_names)}",
        f"mtllib {mtl_name}",
        f"o {stem}",
        _rows("v", mesh.posed),
        _rows("vt", assets.uvs),
        _rows("vn", mesh.posed_normals),
        "s 1",
    ]
    face_lines = [""] * topo.n_polygons
    for k in np.unique(topo.polygon_sizes).tolist():  # one format per polygon size, lines keep polygon order
        polys = np.flatnonzero(topo.polygon_sizes == k)
        at = offs[polys][:, None] + np.arange(k)
        vtv = np.stack([welded[at], render[at], welded[at]], axis=2).reshape(len(polys), 3 * k)
        fmt = "f " + " ".join(["%d/%d/%d"] * k)
        for p, row in zip(polys.tolist(), vtv.tolist()):
            face_lines[p] = fmt % tuple(row)
    for part, name in mesh.parts_present():
        lines.append(f"usemtl {part_material(name).name}")
        lines.extend(face_lines[p] for p in np.flatnonzero(topo.polygon_parts == part).tolist())
    lines.append("")
    return "\n".join(lines)


def rig_mtl_text(assets: FaceAssets, diffuse_name: str) -> str:
    """One material per part present; textured parts map the shared diffuse atlas."""
    topo = assets.rig.topology
    lines = ["# StyleFace materials, one per part: diffuse stored as 8-bit sRGB; displacement maps are "
             "listed in the sidecar"]
    for p in np.unique(topo.polygon_parts).tolist():
        m = part_material(topo.part_names[p])
        r, g, b = m.base_color
        s = m.specular
        lines += [f"newmtl {m.name}", "Ka 0 0 0", f"Kd {r:.6g} {g:.6g} {b:.6g}", f"Ks {s:.6g} {s:.6g} {s:.6g}",
                  f"Ns {ns_from_roughness(m.roughness):.6g}", f"Pr {m.roughness:.6g}", "Pm 0", "d 1", "illum 2"]
        if m.textured:
            lines.append(f"map_Kd {diffuse_name}")
        lines.append("")
    return "\n".join(lines)


def write_rig_obj(assets: FaceAssets, path: str | Path, bake_displacement: bool = False) -> dict[str, Path]:
    """Write ``<stem>.obj``, ``<stem>.mtl`` and ``<stem>_diffuse.png``; returns {"obj", "mtl", "diffuse"}."""
    path = Path(path)
    mtl_path = path.with_suffix(".mtl")
    png_path = path.with_name(f"{path.stem}_diffuse.png")
    write_bytes_atomic(png_path, diffuse_png_bytes(assets.diffuse))
    write_bytes_atomic(mtl_path, rig_mtl_text(assets, png_path.name).encode("utf-8"))
    write_bytes_atomic(path, rig_obj_text(assets, path.stem, mtl_path.name, bake_displacement).encode("utf-8"))
    return {"obj": path, "mtl": mtl_path, "diffuse": png_path}
