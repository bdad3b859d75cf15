"""``styleface import-facemodel ict-facekit DIR --out FILE``: the original folder -> a face model file."""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import StyleFaceError
from ._matio import PathLike
from .ict import build_ict_face_model
from .ict_source import load_ict_folder
from .model import FaceModel
from .store import save_face_model


def import_ict_facekit(folder: PathLike, out: PathLike, *, overwrite: bool = False,
                       progress: bool = False) -> tuple[Path, FaceModel]:
    """Read ICT-FaceKit's ``FaceXModel/`` folder and write the compact face-model file (the same format
    as the shipped default). The file is written under a temporary name and renamed when complete."""
    dest = Path(out)
    if dest.suffix != ".npz":
        dest = dest.with_name(dest.name + ".npz")
    if dest.exists() and not overwrite:
        raise StyleFaceError(f"{dest}: exists (use --force to overwrite)")
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=0, unit="shape", desc="reading ICT-FaceKit", leave=False)

    def tick(done: int, total: int) -> None:
        if bar is not None:
            bar.total = total
            bar.n = done
            bar.refresh()

    try:
        model = build_ict_face_model(load_ict_folder(folder, progress=tick))
    finally:
        if bar is not None:
            bar.close()
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.stem}.partial-{os.getpid()}.npz")
    try:
        save_face_model(model, tmp, compact=True)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest, model
