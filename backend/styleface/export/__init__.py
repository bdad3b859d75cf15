"""Export a FaceAssets to files: OBJ/MTL/PNG, GLB, USD, float EXR and 16-bit PNG displacement, JSON sidecar.

One format per module; ``export_face`` picks file names and writes the sidecar last so it lists
exactly the files that exist. Every file is written atomically (``atomic.py``), and a face is complete
exactly when its sidecar exists (``complete.face_is_complete``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np

from ..assets import FaceAssets
from ..errors import StyleFaceError
from .atomic import TMP_SUFFIX
from .complete import face_is_complete, sidecar_path
from .exr import write_displacement_exr
from .glb import write_glb
from .obj import write_obj
from .png import write_diffuse_png, write_displacement_png16
from .sidecar import write_sidecar

FORMATS = ("obj", "glb", "exr", "png16", "json", "diffuse", "usd")
DEFAULT_FORMATS = ("obj", "glb", "exr", "png16", "json")

__all__ = ["FORMATS", "DEFAULT_FORMATS", "export_face", "face_is_complete"]


def export_face(assets: FaceAssets, out_dir: str | Path, stem: str,
                formats: Iterable[str] = DEFAULT_FORMATS, bake_displacement: bool = False) -> dict[str, Path]:
    """Write the requested formats to ``out_dir`` and return {key: path} for every file written.

    Keys: obj, mtl, diffuse (with "obj", "diffuse" or "usd"), glb, usd, exr, png16, json. ``bake_displacement``
    moves the OBJ/GLB vertices by the sampled displacement; the maps are written either way.
    """
    formats = tuple(dict.fromkeys(str(f).lower() for f in formats))
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise StyleFaceError(
            f"unknown export format(s) {', '.join(unknown)}; choose from {', '.join(FORMATS)}")
    if not formats:
        raise StyleFaceError("no export format given")
    if "usd" in formats:
        from .usd import require_usd
        require_usd()  # fail before writing anything when usd-core is missing
    if not stem or stem in (".", "..") or any(c in stem for c in '/\\:*?"<>|'):
        raise StyleFaceError(f"invalid file stem '{stem}': use a plain file name without folders")
    assets.validate()
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise StyleFaceError(f"cannot create output folder {out}: {e.strerror}") from None

    with np.errstate(over="ignore", invalid="ignore"):
        finite = not bake_displacement or bool(np.isfinite(assets.displaced_vertices()).all())
    if not finite:
        raise StyleFaceError("the displaced vertices are not finite (displacement scale "
                             f"{assets.displacement_info.scale:g} too large); lower the displacement strength")

    written: dict[str, Path] = {}
    try:
        if "json" in formats:  # the face stops counting as complete until its new sidecar is written
            sidecar_path(out, stem).unlink(missing_ok=True)
        for stale in out.glob(f".{stem}[._]*{TMP_SUFFIX}"):  # temporaries of a killed export of this face
            stale.unlink(missing_ok=True)
        if "obj" in formats:
            written.update(write_obj(assets, out / f"{stem}.obj", bake_displacement))
        if "diffuse" in formats and "diffuse" not in written:
            written["diffuse"] = write_diffuse_png(assets.diffuse, out / f"{stem}_diffuse.png")
        if "glb" in formats:
            written["glb"] = write_glb(assets, out / f"{stem}.glb", bake_displacement)
        if "usd" in formats:  # optional: needs usd-core
            from .usd import write_usd
            written.update(write_usd(assets, out / f"{stem}.usdc", bake_displacement, written.get("diffuse")))
        if "exr" in formats:
            written["exr"] = write_displacement_exr(assets.displacement, assets.displacement_info,
                                                    out / f"{stem}_displacement.exr")
        if "png16" in formats:
            written["png16"] = write_displacement_png16(assets.displacement,
                                                        out / f"{stem}_displacement16.png")
        if "json" in formats:
            written["json"] = write_sidecar(assets, out / f"{stem}.json", dict(written), bake_displacement)
    except OSError as e:
        raise StyleFaceError(f"cannot write export files to {out}: {e.strerror or e}") from None
    return written
