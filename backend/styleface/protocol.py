"""The StyleFace worker protocol: framed JSON headers plus raw numpy arrays over a byte stream.

Why: Blender's Python must never import torch (see ARCHITECTURE.md and the Dream Textures lessons), so
the add-on talks to ``python -m styleface.worker`` over its stdin/stdout. This module and
``client.py`` depend only on the standard library and numpy, so the add-on can vendor both files.

Frame layout (all integers little-endian)::

    offset  size  field
    0       4     magic b"SFWP"
    4       2     protocol version (PROTOCOL_VERSION); magic + version stay first in every future version,
                  so a mismatch is always detected
    6       2     flags, reserved, 0
    8       4     header length H in bytes  (<= MAX_HEADER_BYTES)
    12      8     payload length P in bytes (<= the reader's payload limit)
    20      H     header: one UTF-8 JSON object
    20+H    P     payload: the raw bytes of the arrays the header lists

The header's ``"arrays"`` entry lists ``{"name", "dtype", "shape", "offset"}`` per array; dtype is a
little-endian numpy type string (``"<f4"``, ``"<i8"``, ``"|u1"``, ...; numbers and bools only), offset
is the byte offset into the payload (8-byte aligned), and the byte count is implied by shape and dtype.

Messages. Requests (client -> worker) have ``{"op", "id": int, "args": {...}}``:

- ``hello``       args ``{"protocol": int, "client": str}`` -> reply with protocol, styleface and python
                  versions, pid, ops, the loaded generator (if any). A protocol mismatch is an error
                  with code ``"version"``.
- ``load_bundle`` args ``{"path": str | None, "device": str | None}``; None or ``"procedural"`` is the
                  procedural demo face; the generator stays resident until another bundle is loaded.
- ``generate``    args ``{"seeds": [int], "expression": {name: strength} | None,
                  "texture_size": int | None, "batch_size": int (default 1), "device": str | None}``
                  -> a ``progress`` message (done 0), then per face a ``face`` message (arrays + meta of
                  ``FaceAssets.to_arrays``) followed by a ``progress`` message, then a reply with
                  ``status`` ``"ok"`` or ``"cancelled"``, ``done``, ``total`` and ``device``.
- ``cancel``      args ``{"target": id | None}`` (None: the running request) -> reply
                  ``{"cancelled": bool}``; the target stops between faces and replies ``"cancelled"``.
- ``shutdown``    -> reply, then the worker exits with status 0 (it also exits 0 at end of input).

Worker messages (worker -> client) have ``{"kind", "id"}``: ``reply`` (``"result"``), ``error``
(``"error": {"code", "message", "fatal"}``), ``progress`` (``done``, ``total``), ``face`` (``index``,
``seed``, ``meta`` + arrays). Every request ends with exactly one ``reply`` or ``error``.

Limits (enforced by ``read_frame`` before anything is allocated for a frame, so a hostile or broken
client cannot make the worker allocate more than these or recurse deeply):

- header length: MAX_HEADER_BYTES (1 MiB), checked from the preamble before the header is read;
- payload length: MAX_REQUEST_PAYLOAD_BYTES (64 MiB) for requests, the reader's limit for replies,
  checked from the preamble before the payload buffer is allocated;
- JSON nesting depth of the header: MAX_JSON_DEPTH (32); the (bounded, <= 1 MiB) header is parsed with
  the interpreter's recursion limit as a backstop and its depth checked iteratively before use;
- arrays per frame: MAX_ARRAYS (64); dimensions per array: MAX_ARRAY_DIMS (32); every shape entry and
  offset must be a JSON integer (not a float, bool, NaN or Infinity) and every array must lie inside
  the payload (so no array can be larger than the payload).

Numbers in requests are validated by the worker (finite, within each option's documented range; see
``styleface.limits``); a bad value is an ``error`` reply with code ``bad_request`` and the worker keeps
serving. The worker queues at most ``limits.MAX_QUEUED_REQUESTS`` requests behind the running one; more
get code ``busy``, and requests still queued at shutdown get code ``cancelled``.

Errors. A bad request (unknown op, bad option, bad seed, generator failure) gets an ``error`` reply and
the worker keeps serving. A frame whose boundaries are known but whose content is bad (invalid JSON,
bad array table) is consumed and answered with an error (``id`` null if unknown); the worker keeps
serving. A frame whose boundaries cannot be trusted (wrong magic, other protocol version, header or
payload over the limit, end of input inside a frame) cannot be skipped safely: the worker sends a
``fatal`` error, logs the reason to stderr and exits with status EXIT_PROTOCOL_ERROR; the client turns
that into a WorkerError that quotes the reason.
"""
from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Iterable, Mapping

import numpy as np

try:  # one project error type inside styleface; plain Exception when vendored without errors.py
    from .errors import StyleFaceError as _BaseError
except ImportError:  # pragma: no cover - vendored copy
    class _BaseError(Exception):  # type: ignore[no-redef]
        pass

PROTOCOL_VERSION = 1
MAGIC = b"SFWP"
PREAMBLE = struct.Struct("<4sHHIQ")
MAX_HEADER_BYTES = 1 << 20  # 1 MiB of JSON is far more than any header needs
MAX_REQUEST_PAYLOAD_BYTES = 64 << 20  # requests carry no big arrays
DEFAULT_MAX_PAYLOAD_BYTES = 2 << 30  # replies: a face with 4096^2 float maps is ~0.4 GiB
MAX_JSON_DEPTH = 32  # headers are shallow (depth <= 5 in practice); deep nesting would recurse
MAX_ARRAYS = 64  # arrays per frame (a face sends about 10)
MAX_ARRAY_DIMS = 32
ALIGN = 8

EXIT_OK = 0
EXIT_PROTOCOL_ERROR = 3

OPS = ("hello", "load_bundle", "generate", "cancel", "shutdown")
ALLOWED_DTYPE_KINDS = "biuf"


class ProtocolError(_BaseError):
    """A frame or message that does not follow the protocol. ``fatal``: the stream cannot be resynchronised."""

    fatal = False


class FramingError(ProtocolError):
    """The frame boundaries cannot be trusted (bad magic/version, size over limit, truncated input)."""

    fatal = True


class VersionMismatch(FramingError):
    """The other side speaks another protocol version."""


@dataclass
class Message:
    """One decoded frame: its JSON header and the arrays of its payload (writable numpy arrays)."""

    header: dict[str, Any]
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    nbytes: int = 0  # size of the whole frame, for statistics


# -- arrays ---------------------------------------------------------------------------------------

def _le_dtype(dt: np.dtype) -> np.dtype:
    if dt.kind not in ALLOWED_DTYPE_KINDS or dt.fields is not None or dt.subdtype is not None:
        raise ProtocolError(f"array dtype {dt} cannot be sent (numbers and bools only)")
    return dt.newbyteorder("<") if dt.byteorder == ">" else dt


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray) and obj.size <= 4096:
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def encode_frame(header: Mapping[str, Any], arrays: Mapping[str, Any] | None = None) -> list[Any]:
    """Buffers (bytes and memoryviews, no array copies when already little-endian contiguous) of one
    frame. Raises ProtocolError for headers that are not JSON or arrays that cannot be sent."""
    table = []
    chunks: list[Any] = []
    offset = 0
    for name, value in (arrays or {}).items():
        arr = np.asarray(value)
        dt = _le_dtype(arr.dtype)
        arr = np.asarray(arr, dtype=dt, order="C")  # (ascontiguousarray would make 0-d arrays 1-d)
        pad = (-offset) % ALIGN
        if pad:
            chunks.append(b"\0" * pad)
            offset += pad
        table.append({"name": str(name), "dtype": dt.str, "shape": list(arr.shape), "offset": offset})
        if arr.nbytes:
            chunks.append(memoryview(arr.reshape(-1)).cast("B"))
        offset += arr.nbytes
    head = dict(header)
    if table:
        head["arrays"] = table
    try:
        text = json.dumps(head, allow_nan=False, separators=(",", ":"), default=_json_default)
    except (TypeError, ValueError) as e:
        raise ProtocolError(f"message header is not JSON-serialisable: {e}") from None
    hbytes = text.encode("utf-8")
    if len(hbytes) > MAX_HEADER_BYTES:
        raise ProtocolError(f"message header is {len(hbytes)} bytes, limit {MAX_HEADER_BYTES}")
    pre = PREAMBLE.pack(MAGIC, PROTOCOL_VERSION, 0, len(hbytes), offset)
    return [pre + hbytes, *chunks]


def write_all(stream: BinaryIO, buffers: Iterable[Any]) -> int:
    """Write every buffer completely (raw, unbuffered streams may write partially); returns bytes written."""
    total = 0
    for buf in buffers:
        view = memoryview(buf).cast("B")
        while len(view):
            n = stream.write(view)
            if n is None:  # non-blocking stream with nothing written; never the case for our pipes
                continue
            view = view[n:]
            total += n
    flush = getattr(stream, "flush", None)
    if flush is not None:
        flush()
    return total


def write_frame(stream: BinaryIO, header: Mapping[str, Any], arrays: Mapping[str, Any] | None = None) -> int:
    """Encode and write one frame; the caller serialises concurrent writers."""
    return write_all(stream, encode_frame(header, arrays))


def _read_into(stream: BinaryIO, buf: bytearray | memoryview) -> int:
    """Fill ``buf`` from ``stream``; returns the bytes read (less than len(buf) only at end of input)."""
    view = memoryview(buf).cast("B")
    got = 0
    while got < len(view):
        n = stream.readinto(view[got:])  # type: ignore[attr-defined]
        if not n:
            break
        got += n
    return got


def read_frame(stream: BinaryIO, max_payload: int = DEFAULT_MAX_PAYLOAD_BYTES) -> Message | None:
    """Read one frame. None at a clean end of input (between frames).

    Raises FramingError when the stream cannot be trusted any more, and ProtocolError (not fatal) after
    consuming a whole frame whose header or array table is bad.
    """
    pre = bytearray(PREAMBLE.size)
    got = _read_into(stream, pre)
    if got == 0:
        return None
    if got < len(pre):
        raise FramingError(f"input ended inside a frame preamble ({got} of {len(pre)} bytes)")
    magic, version, _flags, hlen, plen = PREAMBLE.unpack(pre)
    if magic != MAGIC:
        raise FramingError(f"bad frame magic {bytes(magic)!r} (expected {MAGIC!r}): not a StyleFace "
                           "worker stream or out of sync")
    if version != PROTOCOL_VERSION:
        raise VersionMismatch(f"frame uses protocol version {version}, this side speaks {PROTOCOL_VERSION}; "
                           "install matching StyleFace versions for the add-on and the backend")
    if hlen > MAX_HEADER_BYTES:
        raise FramingError(f"frame header of {hlen} bytes exceeds the limit of {MAX_HEADER_BYTES}")
    if plen > max_payload:
        raise FramingError(f"frame payload of {plen} bytes exceeds the limit of {max_payload}")
    hbytes = bytearray(hlen)
    if _read_into(stream, hbytes) < hlen:
        raise FramingError("input ended inside a frame header")
    payload = bytearray(plen)
    if _read_into(stream, payload) < plen:
        raise FramingError("input ended inside a frame payload")
    total = len(pre) + hlen + plen
    return decode_frame(bytes(hbytes), payload, total)


def json_depth(value: Any) -> int:
    """Nesting depth of a parsed JSON value (a scalar is 0), iteratively: no recursion to exhaust."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, (dict, list)):
            d += 1
            deepest = max(deepest, d)
            stack.extend((x, d) for x in (v.values() if isinstance(v, dict) else v))
    return deepest


def decode_frame(hbytes: bytes, payload: bytearray, nbytes: int = 0) -> Message:
    """Parse a frame's header and cut its payload into arrays (views on ``payload``, no copies)."""
    if len(hbytes) > MAX_HEADER_BYTES:
        raise ProtocolError(f"frame header of {len(hbytes)} bytes exceeds the limit of {MAX_HEADER_BYTES}")
    try:  # the C parser stops at the interpreter's recursion limit (RecursionError), the walk below at ours
        header = json.loads(hbytes.decode("utf-8"))
    except RecursionError:
        raise ProtocolError(f"frame header nests too deep (limit {MAX_JSON_DEPTH} levels)") from None
    except (UnicodeDecodeError, ValueError) as e:
        raise ProtocolError(f"frame header is not valid UTF-8 JSON: {str(e)[:200]}") from None
    depth = json_depth(header)
    if depth > MAX_JSON_DEPTH:
        raise ProtocolError(f"frame header nests {depth} levels deep, limit {MAX_JSON_DEPTH}")
    if not isinstance(header, dict):
        raise ProtocolError("frame header must be a JSON object")
    table = header.pop("arrays", [])
    if not isinstance(table, list):
        raise ProtocolError("frame header 'arrays' must be a list")
    if len(table) > MAX_ARRAYS:
        raise ProtocolError(f"frame lists {len(table)} arrays, limit {MAX_ARRAYS}")
    arrays: dict[str, np.ndarray] = {}
    for entry in table:
        name, arr = _decode_array(entry, payload)
        if name in arrays:
            raise ProtocolError(f"array '{name}' listed twice")
        arrays[name] = arr
    return Message(header=header, arrays=arrays, nbytes=nbytes)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _decode_array(entry: Any, payload: bytearray) -> tuple[str, np.ndarray]:
    if not isinstance(entry, dict):
        raise ProtocolError("array table entries must be objects")
    name, dtype, shape, offset = (entry.get(k) for k in ("name", "dtype", "shape", "offset"))
    if not isinstance(name, str) or len(name) > 256:
        raise ProtocolError(f"array names must be strings of at most 256 characters, got {str(name)[:80]!r}")
    if not isinstance(dtype, str) or len(dtype) > 8:
        raise ProtocolError(f"array '{name}': dtype must be a short type string, got {str(dtype)[:80]!r}")
    if (not isinstance(shape, list) or len(shape) > MAX_ARRAY_DIMS
            or not all(_is_int(s) and s >= 0 for s in shape)):
        raise ProtocolError(f"array '{name}': shape must be a list of at most {MAX_ARRAY_DIMS} "
                            f"non-negative integers, got {str(shape)[:80]}")
    if not _is_int(offset) or offset < 0:
        raise ProtocolError(f"array '{name}': offset must be a non-negative integer, got {str(offset)[:80]}")
    shape = tuple(shape)
    try:
        dt = np.dtype(dtype)
    except (TypeError, ValueError) as e:
        raise ProtocolError(f"array '{name}': bad dtype {dtype!r}: {e}") from None
    if (dt.kind not in ALLOWED_DTYPE_KINDS or dt.byteorder == ">" or dt.fields is not None
            or dt.subdtype is not None):
        raise ProtocolError(f"array '{name}': dtype {dtype!r} not allowed (little-endian numbers)")
    count = 1
    for s in shape:
        count *= s
    nbytes = count * dt.itemsize
    if offset < 0 or offset + nbytes > len(payload):
        raise ProtocolError(f"array '{name}' ({nbytes} bytes at {offset}) lies outside the "
                            f"{len(payload)}-byte payload")
    try:
        arr = np.frombuffer(payload, dtype=dt, count=count, offset=offset).reshape(shape)
    except (ValueError, OverflowError) as e:  # e.g. a zero-size array with a dimension numpy cannot represent
        raise ProtocolError(f"array '{name}': shape {list(shape)[:8]} cannot be represented: {e}") from None
    if dt.byteorder == "<" and not np.little_endian:  # pragma: no cover - big-endian hosts
        arr = arr.astype(dt.newbyteorder("="))
    return name, arr
