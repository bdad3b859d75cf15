"""Argument types and checks for the ``styleface`` command line: every option has a range.

Why a module of its own: argparse's ``type=int``/``type=float`` accept ``1_000``, non-ASCII digits,
``nan``, ``inf`` and ``1e308``; these types refuse them with one line naming the option. The ranges
come from ``styleface.limits`` so the CLI and the worker agree.
"""
from __future__ import annotations

import argparse
import math
from typing import Callable

from . import limits as L
from .errors import StyleFaceError


def ascii_int(lo: int, hi: int) -> Callable[[str], int]:
    """argparse type: an integer in [lo, hi] written with ASCII digits only (optionally signed if lo < 0)."""

    def parse(text: str) -> int:
        t = text.strip()
        body = t[1:] if t[:1] in "+-" and lo < 0 else t
        if not body or not body.isascii() or not body.isdigit() or len(body) > 20:
            raise argparse.ArgumentTypeError(f"'{text[:40]}' is not an integer (ASCII digits 0-9)")
        v = int(t)
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"{v} is out of range [{lo}, {hi}]")
        return v

    parse.__name__ = "integer"
    return parse


def finite_float(lo: float, hi: float) -> Callable[[str], float]:
    """argparse type: a finite number in [lo, hi]."""

    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text[:40]}' is not a number") from None
        if not text.strip().isascii() or not math.isfinite(v) or not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"'{text[:40]}' must be a finite number in [{lo:g}, {hi:g}]")
        return v

    parse.__name__ = "number"
    return parse


def device(text: str) -> str:
    """argparse type: auto, cpu, mps, cuda or cuda:N (availability is checked when a bundle loads)."""
    t = text.strip().lower()
    if t in ("auto", "cpu", "mps", "cuda") or (t.startswith("cuda:") and t[5:].isascii() and t[5:].isdigit()
                                                and len(t) <= 8):
        return t
    raise argparse.ArgumentTypeError(f"unknown device '{text[:40]}': use auto, cpu, cuda, cuda:N or mps")


SEED = ascii_int(0, L.MAX_SEED)
COUNT = ascii_int(1, L.MAX_SEEDS_PER_RUN)
BATCH_SIZE = ascii_int(1, L.MAX_BATCH_SIZE)
TEXTURE_SIZE = ascii_int(L.MIN_TEXTURE_SIZE, L.MAX_TEXTURE_SIZE)
TRUNCATION = finite_float(-L.MAX_TRUNCATION, L.MAX_TRUNCATION)
EXPRESSION_STRENGTH = finite_float(-L.MAX_EXPRESSION_STRENGTH, L.MAX_EXPRESSION_STRENGTH)
DISPLACEMENT_STRENGTH = finite_float(0.0, L.MAX_DISPLACEMENT_STRENGTH)
MAX_REFERENCE_YAWS = 16


def check_yaws(values: list[float], what: str = "--reference-yaws") -> list[float]:
    """At most MAX_REFERENCE_YAWS finite yaws in [-180, 180] degrees."""
    if len(values) > MAX_REFERENCE_YAWS or not all(math.isfinite(v) and -180 <= v <= 180 for v in values):
        raise StyleFaceError(f"{what}: give at most {MAX_REFERENCE_YAWS} finite angles in [-180, 180] degrees")
    return values
