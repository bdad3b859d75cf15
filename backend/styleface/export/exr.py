"""Displacement as a 32-bit float OpenEXR: signed values, mid-level 0, lossless (ZIP).

EXR keeps the generator's float output exactly, which is what VFX tools and Blender's Displace
modifier (mid-level 0, strength = scale) expect. Row 0 of the file is the top of the image (v = 1).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..assets import DisplacementInfo
from ..errors import StyleFaceError
from .atomic import atomic_path

HEADER_KEY = "styleface_displacement"


def write_exr(channels_chw: np.ndarray, path: str | Path, attributes: dict[str, str] | None = None) -> Path:
    """(C, H, W) float32 -> EXR with float channels R, G, B (C = 3) or the single map repeated
    into R, G, B (C = 1), plus optional string header attributes."""
    import OpenEXR

    data = np.asarray(channels_chw, dtype=np.float32)
    if data.ndim != 3 or data.shape[0] not in (1, 3):
        raise StyleFaceError(f"EXR export needs a (1 or 3, H, W) map, got {data.shape}")
    if data.shape[0] == 1:
        data = np.repeat(data, 3, axis=0)
    channels = {name: np.ascontiguousarray(data[i]) for i, name in enumerate("RGB")}
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    header.update(attributes or {})
    path = Path(path)
    try:
        with atomic_path(path) as tmp, OpenEXR.File(header, channels) as f:
            f.write(str(tmp))
    except Exception as e:  # OpenEXR reports I/O problems as plain exceptions
        raise StyleFaceError(f"cannot write EXR {path}: {e}") from None
    return path


def read_exr(path: str | Path) -> tuple[np.ndarray, dict]:
    """EXR -> ((3, H, W) float32 R, G, B, header dict)."""
    import OpenEXR

    path = Path(path)
    if not path.is_file():
        raise StyleFaceError(f"EXR file not found: {path}")
    try:
        with OpenEXR.File(str(path), separate_channels=True) as f:
            header = dict(f.header())
            ch = f.channels()
            missing = [c for c in "RGB" if c not in ch]
            if missing:
                raise StyleFaceError(f"{path}: EXR lacks channels {', '.join(missing)}")
            data = np.stack([np.asarray(ch[c].pixels, dtype=np.float32) for c in "RGB"])
    except StyleFaceError:
        raise
    except Exception as e:  # OpenEXR raises plain RuntimeError/Exception on corrupt files
        raise StyleFaceError(f"{path}: cannot read EXR ({e})") from None
    return data, header


def write_displacement_exr(displacement: np.ndarray, info: DisplacementInfo, path: str | Path) -> Path:
    """The displacement map with its mode/scale/mid-level in the header, so the file stands alone."""
    meta = dict(info.to_dict(), units="model units (decimetres)", space="model",
                convention="offset = (value - mid_level) * scale; row 0 is v = 1")
    return write_exr(displacement, path, {HEADER_KEY: json.dumps(meta)})


def read_displacement_exr(path: str | Path) -> tuple[np.ndarray, DisplacementInfo | None]:
    """Inverse of ``write_displacement_exr``; 1-channel ('normal') maps come back as (1, H, W)."""
    data, header = read_exr(path)
    info = None
    if HEADER_KEY in header:
        try:
            info = DisplacementInfo.from_dict(json.loads(header[HEADER_KEY]))
        except (TypeError, ValueError):
            info = None
    if info is not None and info.channels == 1:
        data = data[:1]
    return data, info
