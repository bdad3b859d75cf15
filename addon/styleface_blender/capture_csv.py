"""Read an ARKit facial capture in the Live Link Face CSV layout (numpy and the standard library only).

Layout: a ``Timecode`` column (``HH:MM:SS:FF.fff``: frame FF at the capture's timecode rate, with a
sub-frame fraction), a ``BlendShapeCount`` column, one column per ARKit blendshape (``EyeBlinkLeft`` in
Live Link Face, ``eyeBlinkLeft`` in other tools: both are accepted, case-insensitively), then head and
eye rotations (``HeadYaw``, ``LeftEyePitch``...), which are reported as ignored. Separate from the bpy
side (``capture``) so the parsing and the frame mapping can be tested and reused anywhere.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field

import numpy as np

from .rigdata import arkit_blendshapes

#: Timecode rates a capture may use; an inferred rate is rounded up to the next of these.
STANDARD_RATES = (24.0, 25.0, 30.0, 48.0, 50.0, 60.0, 120.0)
#: Live Link Face records ARKit at 60 frames per second: the rate when the file cannot tell.
DEFAULT_CAPTURE_FPS = 60.0
_TIMECODE = re.compile(r"^\s*(\d+):(\d{1,2}):(\d{1,2})[:;.](\d+(?:\.\d+)?)\s*$")


class CaptureError(ValueError):
    """A capture file the importer cannot read (one line, shown to the user)."""


@dataclass
class Capture:
    """names: ARKit blendshape names of the value columns; values (rows, len(names)) float32;
    timecodes (rows, 4) [h, m, s, frame+fraction] or None when the file has no usable timecode."""

    names: list[str]
    values: np.ndarray
    timecodes: np.ndarray | None = None
    ignored: list[str] = field(default_factory=list)
    path: str = ""

    @property
    def n_rows(self) -> int:
        return int(self.values.shape[0])

    def capture_fps(self, explicit: float | None = None) -> float:
        """The timecode rate: ``explicit``, else inferred from the largest frame number in a second
        that rolls over (rounded up to a standard rate), else 60 (Live Link Face's ARKit rate)."""
        if explicit:
            return float(explicit)
        tc = self.timecodes
        if tc is None or len(tc) < 2:
            return DEFAULT_CAPTURE_FPS
        seconds = tc[:, 0] * 3600 + tc[:, 1] * 60 + tc[:, 2]
        if seconds.max() == seconds.min():  # shorter than a second: the frame numbers cannot tell
            return DEFAULT_CAPTURE_FPS
        top = float(np.floor(tc[:, 3].max())) + 1.0
        return next((r for r in STANDARD_RATES if r >= top), top)

    def seconds(self, capture_fps: float | None = None) -> np.ndarray | None:
        """Seconds from the first row (None without timecodes); a timecode that passes midnight wraps."""
        tc = self.timecodes
        if tc is None:
            return None
        fps = self.capture_fps(capture_fps)
        t = tc[:, 0] * 3600.0 + tc[:, 1] * 60.0 + tc[:, 2] + tc[:, 3] / fps
        t = t - t[0]
        t[t < -43200.0] += 86400.0
        return t

    def frames(self, scene_fps: float, frame_start: int = 1, capture_fps: float | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
        """(frames, rows): one scene frame per keyframe and the capture row it takes. Frames come from
        the timecode at ``scene_fps`` (several rows on one frame: the row nearest the frame's time),
        or one frame per row when the file has no timecode."""
        t = self.seconds(capture_fps)
        rows = np.arange(self.n_rows)
        if t is None or not np.all(np.isfinite(t)) or np.any(np.diff(t) < 0):
            return frame_start + rows, rows
        exact = t * float(scene_fps)
        frame = np.rint(exact).astype(np.int64)
        order = np.lexsort((np.abs(exact - frame), frame))  # by frame, then closest first
        keep = order[np.concatenate([[True], np.diff(frame[order]) != 0])]
        return frame_start + frame[keep], rows[keep]


def _parse_timecode(text: str) -> tuple[float, float, float, float] | None:
    m = _TIMECODE.match(text or "")
    if m is None:
        return None
    h, mi, s, f = m.groups()
    return float(h), float(mi), float(s), float(f)


def read_capture(path: str) -> Capture:
    """Parse a Live Link Face-style CSV. Raises CaptureError for a file with no ARKit columns, no rows
    or a non-numeric value."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = [r for r in csv.reader(fh) if r and any(c.strip() for c in r)]
    except OSError as e:
        raise CaptureError(f"cannot read capture {path}: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise CaptureError(f"capture {path} is not a text CSV file") from None
    if not rows:
        raise CaptureError(f"capture {path} is empty")
    header = [h.strip() for h in rows[0]]
    body = rows[1:]
    if not body:
        raise CaptureError(f"capture {path} has a header but no rows")
    cols: list[int] = []
    names: list[str] = []
    ignored: list[str] = []
    tc_col = None
    by_lower = {n.lower(): n for n in arkit_blendshapes()}
    for i, h in enumerate(header):
        low = h.lower()
        if low == "timecode":
            tc_col = i
        elif low == "blendshapecount":
            continue
        elif low in by_lower and by_lower[low] not in names:
            cols.append(i)
            names.append(by_lower[low])
        elif h:
            ignored.append(h)
    if not names:
        raise CaptureError(f"capture {path} has no ARKit blendshape columns (expected e.g. 'EyeBlinkLeft' "
                           "or 'jawOpen' in the header)")
    values = np.zeros((len(body), len(names)), np.float32)
    for r, row in enumerate(body):
        for k, c in enumerate(cols):
            cell = row[c].strip() if c < len(row) else ""
            if cell == "":
                continue
            try:
                values[r, k] = float(cell)
            except ValueError:
                raise CaptureError(f"capture {path}, row {r + 2}, column {header[c]}: "
                                   f"{cell[:20]!r} is not a number") from None
    if not np.all(np.isfinite(values)):
        raise CaptureError(f"capture {path} contains non-finite blendshape values")
    timecodes = None
    if tc_col is not None:
        parsed = [_parse_timecode(row[tc_col]) if tc_col < len(row) else None for row in body]
        if all(p is not None for p in parsed):
            timecodes = np.array(parsed, np.float64)
    return Capture(names, values, timecodes, ignored, str(path))
