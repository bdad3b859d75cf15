"""What the panel and the preferences show between redraws: plain Python, main thread only.

Why a module of its own: the preferences, the panel and the operators all read it, and it must import
without numpy or bpy so that the add-on can still register (and explain what is missing) when
Blender's Python lacks numpy.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class UIState:
    """``error``/``message``: the sidebar panel (generation). ``prefs_error``/``prefs_message``:
    the preferences (backend install, test, release). Each action replaces its own area's text."""

    job: Any = None
    error: str = ""
    message: str = ""
    installer: Any = None
    prefs_error: str = ""
    prefs_message: str = ""
    test_report: list[str] = field(default_factory=list)

    def set_panel(self, error: str = "", message: str = "") -> None:
        self.error, self.message = error, message

    def set_prefs(self, error: str = "", message: str = "", report: list[str] | None = None) -> None:
        """Replace what the preferences show (an old test report goes with any new backend action)."""
        self.prefs_error, self.prefs_message = error, message
        self.test_report = list(report or [])


STATE = UIState()
