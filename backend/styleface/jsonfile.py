"""Reading JSON files a user hands us (bundle manifests, network configs) with bounded cost, and a tiny
schema checker whose errors name the file and the field in one line.

Why: ``json.loads`` of a 1 GiB file or of 1,000 nested brackets ends in MemoryError/RecursionError,
and ``int(inf)`` or ``int("x")`` deep inside a constructor ends in a traceback. Here the size is checked
before reading, the depth after parsing (iteratively), NaN/Infinity are refused while parsing, and
every field is checked for type, range and finiteness before use.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Callable, Mapping

from .errors import StyleFaceError
from .protocol import json_depth

Check = Callable[[Any, str], Any]  # (value, field path) -> cleaned value, raises SchemaError


class SchemaError(StyleFaceError):
    """A field of a JSON file has the wrong type or value."""


def _no_constants(name: str) -> Any:
    raise ValueError(f"non-finite number {name} (JSON has no NaN or Infinity)")


def read_json_file(path: str | Path, max_bytes: int, max_depth: int, what: str = "JSON file") -> Any:
    """Parse ``path`` if it is at most ``max_bytes`` large and nests at most ``max_depth`` deep."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise StyleFaceError(f"{path}: {what} is {size} bytes, limit {max_bytes}")
        with open(path, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as e:
        raise StyleFaceError(f"{path}: cannot read {what} ({e.strerror or e})") from None
    if len(data) > max_bytes:
        raise StyleFaceError(f"{path}: {what} is larger than the limit of {max_bytes} bytes")
    try:
        value = json.loads(data.decode("utf-8"), parse_constant=_no_constants)
    except RecursionError:
        raise StyleFaceError(f"{path}: {what} nests too deep (limit {max_depth} levels)") from None
    except (UnicodeDecodeError, ValueError) as e:
        raise StyleFaceError(f"{path}: {what} is not valid JSON ({str(e)[:120]})") from None
    if json_depth(value) > max_depth:
        raise StyleFaceError(f"{path}: {what} nests more than {max_depth} levels deep")
    return value


# -- field checks (each returns the cleaned value) ------------------------------------------------

def fail(field: str, problem: str) -> SchemaError:
    return SchemaError(f"field '{field}': {problem}")


def integer(lo: int, hi: int, power_of_two: bool = False) -> Check:
    def check(v: Any, f: str) -> int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise fail(f, f"must be an integer, got {_show(v)}")
        if not lo <= v <= hi:
            raise fail(f, f"must be in [{lo}, {hi}], got {v}")
        if power_of_two and v & (v - 1):
            raise fail(f, f"must be a power of two, got {v}")
        return v
    return check


def number(lo: float, hi: float, exclusive_lo: bool = False) -> Check:
    def check(v: Any, f: str) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise fail(f, f"must be a number, got {_show(v)}")
        x = float(v) if abs(v) < 1e308 else math.inf
        if not math.isfinite(x) or not lo <= x <= hi or (exclusive_lo and x == lo):
            raise fail(f, f"must be a finite number in {'(' if exclusive_lo else '['}{lo:g}, {hi:g}], got {_show(v)}")
        return x
    return check


def string(max_len: int = 1000, choices: tuple[str, ...] | None = None) -> Check:
    def check(v: Any, f: str) -> str:
        if not isinstance(v, str) or len(v) > max_len:
            raise fail(f, f"must be a string of at most {max_len} characters, got {_show(v)}")
        if choices is not None and v not in choices:
            raise fail(f, f"must be one of {', '.join(choices)}, got {_show(v)}")
        return v
    return check


def optional(check: Check) -> Check:
    return lambda v, f: None if v is None else check(v, f)


def list_of(item: Check, min_len: int = 0, max_len: int = 64) -> Check:
    def check(v: Any, f: str) -> list[Any]:
        if not isinstance(v, list) or not min_len <= len(v) <= max_len:
            raise fail(f, f"must be a list of {min_len} to {max_len} items, got {_show(v)}")
        return [item(x, f"{f}[{i}]") for i, x in enumerate(v)]
    return check


def mapping(fields: Mapping[str, Check], required: tuple[str, ...] = (), extra: bool = True,
            extra_value: Check | None = None, max_keys: int = 256) -> Check:
    """An object: known ``fields`` are checked; unknown keys are kept (``extra``; checked with
    ``extra_value`` if given) or refused."""
    def check(v: Any, f: str) -> dict[str, Any]:
        if not isinstance(v, dict):
            raise fail(f, f"must be an object, got {_show(v)}")
        if len(v) > max_keys:
            raise fail(f, f"has {len(v)} keys, at most {max_keys}")
        for key in required:
            if key not in v:
                raise fail(f"{f}.{key}" if f else key, "is missing")
        out = {}
        for key, value in v.items():
            sub = f"{f}.{key}" if f else key
            if key in fields:
                out[key] = fields[key](value, sub)
            elif not extra:
                raise fail(sub, f"is not a known field (known: {', '.join(fields)})")
            else:
                out[key] = extra_value(value, sub) if extra_value else value
        return out
    return check


def validate(value: Any, check: Check, where: str) -> Any:
    """Run ``check`` and prefix its one-line error with ``where`` (the file)."""
    try:
        return check(value, "")
    except SchemaError as e:
        raise SchemaError(f"{where}: {e}") from None


def _show(v: Any) -> str:
    text = json.dumps(v) if isinstance(v, (str, int, float, bool, type(None))) else type(v).__name__
    return text if len(text) <= 60 else text[:57] + "..."
