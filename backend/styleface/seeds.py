"""Parsing of seed lists such as ``0-99``, ``3,7,10-12``."""
from __future__ import annotations

from .errors import StyleFaceError

MAX_SEED = 2**32 - 1


def parse_seeds(text: str) -> list[int]:
    """'0-3,7' -> [0, 1, 2, 3, 7]; order kept, duplicates removed."""
    seeds: list[int] = []
    for part in str(text).split(","):
        part = part.strip()
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        try:
            a = int(lo)
            b = int(hi) if sep else a
        except ValueError:
            raise StyleFaceError(f"bad seed list '{text}': use numbers and ranges like 0-99,120") from None
        if a < 0 or b < a or b > MAX_SEED:
            raise StyleFaceError(f"bad seed range '{part}': need 0 <= start <= end <= {MAX_SEED}")
        seeds.extend(range(a, b + 1))
    if not seeds:
        raise StyleFaceError(f"bad seed list '{text}': no seeds")
    return list(dict.fromkeys(seeds))
