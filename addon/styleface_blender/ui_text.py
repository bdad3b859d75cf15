"""Whole, wrapped messages in a panel or the preferences (a plain ``label`` cuts long text with '...').

Why: errors such as "Online access is disabled ..." must be readable at the default sidebar width.
The width in characters is estimated from the region width and the UI scale (Blender's UI font
averages about 6.5 px per character at scale 1), which errs on the side of shorter lines.
"""
from __future__ import annotations

import textwrap
from typing import Any

CHAR_PX = 6.5
MARGIN_PX = 40


def chars_per_line(context: Any, default: int = 60) -> int:
    """How many characters fit in one label of the current region."""
    region = getattr(context, "region", None)
    width = getattr(region, "width", 0) or 0
    if width <= 0:
        return default
    try:
        scale = float(context.preferences.system.ui_scale) or 1.0
    except AttributeError:
        scale = 1.0
    return max(16, int((width - MARGIN_PX * scale) / (CHAR_PX * scale)))


def wrap(text: str, width: int) -> list[str]:
    """Lines of at most ``width`` characters; paragraphs (newlines) kept, long paths broken anywhere."""
    out: list[str] = []
    for para in str(text).splitlines() or [""]:
        out += textwrap.wrap(para, width, break_long_words=True, break_on_hyphens=False) or [""]
    return out


def draw_wrapped(layout: Any, context: Any, text: str, icon: str = "NONE", max_lines: int = 12) -> None:
    """Labels for ``text``, the icon on the first line, a blank icon indenting the others."""
    lines = wrap(text, chars_per_line(context))
    if len(lines) > max_lines:
        lines = lines[:max_lines - 1] + ["(more in the system console)"]
    col = layout.column(align=True)
    for i, line in enumerate(lines):
        col.label(text=line, icon=icon if i == 0 else ("BLANK1" if icon != "NONE" else "NONE"))
