"""The one error type a user can cause; the CLI prints it as a single line."""
from __future__ import annotations


class StyleFaceError(Exception):
    """A problem the user can fix: missing file, wrong format, bad shape, bad option."""
