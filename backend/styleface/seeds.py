"""Parsing of seed lists such as ``0-99``, ``3,7,10-12``.

Why ranges and not lists: ``--seeds 0-999999999`` must not build a billion-element list before the
first face. ``parse_seed_ranges`` keeps the text's ranges (overlaps removed, order kept) and iterates
lazily; ``parse_seeds`` is the list form for small inputs. Only ASCII digits are accepted (``int()``
would also take ``1_000`` and Arabic-Indic digits).
"""
from __future__ import annotations

import itertools
from typing import Iterator, Sequence

from .errors import StyleFaceError
from .limits import MAX_SEED, MAX_SEEDS_PER_RUN

MAX_SEED_PARTS = 1_000  # comma-separated parts in one seed list
MAX_LISTED_SEEDS = 1_000_000  # parse_seeds (a list); larger runs iterate SeedRanges instead


def parse_int(text: str, what: str, lo: int = 0, hi: int = MAX_SEED) -> int:
    """A non-negative integer written in ASCII digits only, within [lo, hi]."""
    t = str(text).strip()
    if not t or not t.isascii() or not t.isdigit():
        raise StyleFaceError(f"bad {what} '{text}': use ASCII digits 0-9 only")
    if len(t) > 20 or not lo <= int(t) <= hi:
        raise StyleFaceError(f"{what} {t[:24]} is out of range: need {lo} <= {what} <= {hi}")
    return int(t)


class SeedRanges(Sequence[int]):
    """Disjoint ascending-inside ranges in the order given; iterates seeds without listing them."""

    def __init__(self, ranges: Sequence[range]):
        self.ranges = tuple(r for r in ranges if len(r))
        self._len = sum(len(r) for r in self.ranges)

    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator[int]:
        return itertools.chain.from_iterable(self.ranges)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return list(itertools.islice(self, *i.indices(self._len)[:2]))
        if i < 0:
            i += self._len
        for r in self.ranges:
            if i < len(r):
                return r[i]
            i -= len(r)
        raise IndexError("seed index out of range")

    def batches(self, size: int) -> Iterator[list[int]]:
        """Consecutive lists of at most ``size`` seeds."""
        it = iter(self)
        while chunk := list(itertools.islice(it, size)):
            yield chunk


def _subtract(r: range, taken: list[range]) -> list[range]:
    parts = [r]
    for t in taken:
        nxt = []
        for p in parts:
            if t.stop <= p.start or t.start >= p.stop:
                nxt.append(p)
                continue
            if p.start < t.start:
                nxt.append(range(p.start, t.start))
            if t.stop < p.stop:
                nxt.append(range(t.stop, p.stop))
        parts = nxt
    return parts


def parse_seed_ranges(text: str, max_count: int = MAX_SEEDS_PER_RUN) -> SeedRanges:
    """'0-3,7,2-9' -> ranges 0..3, 7, then 4..6 and 8..9 (order kept, duplicates removed)."""
    parts = [p.strip() for p in str(text).split(",")]
    parts = [p for p in parts if p]
    if len(parts) > MAX_SEED_PARTS:
        raise StyleFaceError(f"bad seed list: {len(parts)} parts, at most {MAX_SEED_PARTS}")
    out: list[range] = []
    for part in parts:
        lo, sep, hi = part.partition("-")
        if not lo.strip().isascii() or not lo.strip().isdigit() or (sep and not (hi.strip().isascii()
                                                                             and hi.strip().isdigit())):
            raise StyleFaceError(f"bad seed list '{str(text)[:80]}': use ASCII digits and ranges like 0-99,120")
        a = parse_int(lo, "seed")
        b = parse_int(hi, "seed") if sep else a
        if b < a:
            raise StyleFaceError(f"bad seed range '{part}': need 0 <= start <= end <= {MAX_SEED}")
        out.extend(_subtract(range(a, b + 1), out))
        if sum(len(r) for r in out) > max_count:
            raise StyleFaceError(f"seed list '{str(text)[:80]}' has more than {max_count} seeds; "
                                 "split the run")
    seeds = SeedRanges(out)
    if not len(seeds):
        raise StyleFaceError(f"bad seed list '{str(text)[:80]}': no seeds")
    return seeds


def parse_seeds(text: str) -> list[int]:
    """'0-3,7' -> [0, 1, 2, 3, 7]; order kept, duplicates removed; at most MAX_LISTED_SEEDS seeds."""
    return list(parse_seed_ranges(text, max_count=MAX_LISTED_SEEDS))
