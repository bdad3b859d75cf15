"""``--cluster ray[:ADDRESS]``: parse the option and import Ray with a one-line hint when missing."""
from __future__ import annotations

from types import ModuleType

from ..errors import StyleFaceError

INSTALL_HINT = "--cluster needs Ray: pip install 'styleface[cluster]' (or: pip install 'ray>=2.9' fsspec)"


def parse_cluster(spec: str) -> str | None:
    """'ray' -> None (the Ray of $RAY_ADDRESS or this machine, started if none runs);
    'ray:ADDRESS' -> ADDRESS ('auto', 'local', 'HOST:6379' or 'ray://HOST:10001')."""
    kind, sep, address = str(spec).strip().partition(":")
    if kind.lower() != "ray":
        raise StyleFaceError(f"unknown cluster '{spec}': use ray or ray:ADDRESS (e.g. ray:auto, ray:HOST:6379)")
    if sep and not address.strip():
        raise StyleFaceError(f"empty Ray address in '{spec}': use ray or ray:ADDRESS")
    return address.strip() or None


def import_ray() -> ModuleType:
    """The ``ray`` module, or a StyleFaceError telling how to install it."""
    try:
        import ray
    except ImportError:
        raise StyleFaceError(INSTALL_HINT) from None
    return ray
