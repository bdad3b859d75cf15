"""Robustness probes: bounded fuzzers and crafted files that every release must survive.

Each probe counts the inputs it tried and how many were handled cleanly (a one-line error, a reply, or
a clean exit); the totals are printed at the end of the pytest run ("robustness probes: ...").
"""
from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "backend"))

TRIED: Counter[str] = Counter()
CLEAN: Counter[str] = Counter()


class Tally:
    """Per-class counts of inputs tried and handled cleanly."""

    def record(self, cls: str, ok: bool) -> None:
        TRIED[cls] += 1
        CLEAN[cls] += int(bool(ok))


@pytest.fixture
def tally() -> Tally:
    return Tally()


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # noqa: ARG001
    if not TRIED:
        return
    tr = terminalreporter
    tr.write_sep("-", "robustness probes (inputs tried / handled cleanly)")
    for cls in sorted(TRIED):
        tr.write_line(f"{cls:>28}: {TRIED[cls]:6d} / {CLEAN[cls]:6d}")
    tr.write_line(f"{'total':>28}: {sum(TRIED.values()):6d} / {sum(CLEAN.values()):6d}")
