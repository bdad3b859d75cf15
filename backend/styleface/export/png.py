"""PNG encodings: the 8-bit diffuse texture and the 16-bit displacement map.

Pillow cannot write (or read) 16-bit RGB PNGs, and 8-bit displacement steps visibly, so the 16-bit
file is written by a small encoder here (zlib + struct) and read back by a matching decoder.
"""
from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import StyleFaceError
from .atomic import atomic_write_bytes

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # colour type -> samples per pixel (no palette)


def diffuse_to_uint8(diffuse: np.ndarray) -> np.ndarray:
    """(3, H, W) in [0, 1] -> (H, W, 3) uint8, values stored as they are (treated as sRGB).

    Row 0 stays the top of the image, which is v = 1, the orientation OBJ and glTF expect.
    """
    hwc = np.clip(np.asarray(diffuse, dtype=np.float32), 0.0, 1.0).transpose(1, 2, 0)
    return np.ascontiguousarray(np.round(hwc * 255.0).astype(np.uint8))


def diffuse_png_bytes(diffuse: np.ndarray) -> bytes:
    """The diffuse map as 8-bit RGB PNG bytes (for files and for embedding in GLB)."""
    buf = io.BytesIO()
    Image.fromarray(diffuse_to_uint8(diffuse)).save(buf, format="PNG")
    return buf.getvalue()


def write_diffuse_png(diffuse: np.ndarray, path: str | Path) -> Path:
    path = Path(path)
    atomic_write_bytes(path, diffuse_png_bytes(diffuse))
    return path


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def encode_png16(image: np.ndarray) -> bytes:
    """(H, W, 3) or (H, W) uint16 -> 16-bit RGB / grey PNG bytes.

    Every row uses the 'Up' filter, which is vectorised both ways and compresses smooth maps well.
    """
    img = np.asarray(image)
    if img.dtype != np.uint16 or img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] != 3):
        raise StyleFaceError(f"16-bit PNG needs (H, W) or (H, W, 3) uint16, got {img.shape} {img.dtype}")
    h, w = img.shape[:2]
    colour_type = 2 if img.ndim == 3 else 0
    rows = np.ascontiguousarray(img.astype(">u2")).view(np.uint8).reshape(h, -1)
    filtered = rows.copy()
    filtered[1:] = rows[1:] - rows[:-1]  # uint8 arithmetic wraps mod 256, as the filter requires
    raw = np.concatenate([np.full((h, 1), 2, np.uint8), filtered], axis=1).tobytes()
    header = struct.pack(">IIBBBBB", w, h, 16, colour_type, 0, 0, 0)
    return (_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw, 6))
            + _chunk(b"IEND", b""))


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def decode_png(data: bytes) -> np.ndarray:
    """Non-interlaced, non-palette 8/16-bit PNG bytes -> (H, W, C) uint8/uint16 array.

    Exists because Pillow truncates 16-bit RGB PNGs to 8 bits on reading.
    """
    if not data.startswith(_SIGNATURE):
        raise StyleFaceError("not a PNG file")
    pos, idat, header = len(_SIGNATURE), [], None
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    if header is None:
        raise StyleFaceError("PNG has no IHDR chunk")
    w, h, depth, colour_type, _, _, interlace = header
    if depth not in (8, 16) or colour_type not in _CHANNELS or interlace:
        raise StyleFaceError(f"unsupported PNG (bit depth {depth}, colour type {colour_type}, "
                             f"interlace {interlace})")
    bpp = _CHANNELS[colour_type] * depth // 8
    stride = w * bpp
    try:
        raw = np.frombuffer(zlib.decompress(b"".join(idat)), np.uint8)
    except zlib.error as e:
        raise StyleFaceError(f"PNG data is corrupt ({e})") from None
    if raw.size != h * (stride + 1):
        raise StyleFaceError("PNG data has the wrong size")
    raw = raw.reshape(h, stride + 1)
    out = np.zeros((h, stride), np.uint8)
    prev = np.zeros(stride, np.uint8)
    for r in range(h):
        kind, line = raw[r, 0], raw[r, 1:]
        if kind == 0:
            cur = line.copy()
        elif kind == 1:
            cur = np.cumsum(line.reshape(w, bpp), axis=0, dtype=np.uint8).reshape(-1)
        elif kind == 2:
            cur = line + prev
        elif kind in (3, 4):
            cur = np.zeros(stride, np.uint8)
            for i in range(stride):
                a = int(cur[i - bpp]) if i >= bpp else 0
                b = int(prev[i])
                if kind == 3:
                    pred = (a + b) // 2
                else:
                    pred = _paeth(a, b, int(prev[i - bpp]) if i >= bpp else 0)
                cur[i] = (int(line[i]) + pred) & 0xFF
        else:
            raise StyleFaceError(f"PNG row {r} has unknown filter {kind}")
        out[r] = cur
        prev = cur
    samples = out.view(">u2").astype(np.uint16) if depth == 16 else out
    return samples.reshape(h, w, _CHANNELS[colour_type])


def read_png(path: str | Path) -> np.ndarray:
    """Read a PNG at full bit depth -> (H, W, C) uint8/uint16."""
    return decode_png(Path(path).read_bytes())


def displacement_to_uint16(displacement: np.ndarray) -> np.ndarray:
    """(C, H, W) in [-1, 1] -> (H, W, 3) uint16 with encoded value map * 0.5 + 0.5 (mid-level 0.5).

    One-channel maps are repeated into RGB so every tool reads the same value from any channel.
    """
    d = np.asarray(displacement, dtype=np.float64)
    if d.shape[0] == 1:
        d = np.repeat(d, 3, axis=0)
    enc = np.clip(d * 0.5 + 0.5, 0.0, 1.0).transpose(1, 2, 0)
    return np.ascontiguousarray(np.round(enc * 65535.0).astype(np.uint16))


def write_displacement_png16(displacement: np.ndarray, path: str | Path) -> Path:
    path = Path(path)
    atomic_write_bytes(path, encode_png16(displacement_to_uint16(displacement)))
    return path


def read_displacement_png16(path: str | Path, channels: int = 3) -> np.ndarray:
    """Inverse of ``write_displacement_png16`` -> (channels, H, W) float32 in [-1, 1]."""
    img = read_png(path)
    if img.dtype != np.uint16:
        raise StyleFaceError(f"{path}: displacement PNG must be 16-bit")
    enc = img.astype(np.float32).transpose(2, 0, 1)[:channels] / 65535.0
    return (enc - 0.5) * 2.0
