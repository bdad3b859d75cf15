"""Import an ARKit facial capture (Live Link Face CSV) as shape-key keyframes on a face object.

Each ARKit column drives the shape key of the same name; ARKit's single ``browInnerUp`` and
``cheekPuff`` drive the face's Left/Right pair (both keys get the column's curve); columns with no
shape key (ARKit's ``tongueOut`` on the ICT-FaceKit head) are reported, never silently dropped. Shape
keys the capture does not mention keep their values. Keyframes are written in bulk (one F-curve per
key, ``foreach_set`` of all points, linear interpolation), so a minute of 60 fps capture takes well
under a second. Works on any mesh with ARKit-named shape keys, not only StyleFace faces.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import bpy
import numpy as np

from .capture_csv import Capture, CaptureError, read_capture
from .rigdata import arkit_pairs, arkit_targets

__all__ = ["CaptureError", "CaptureResult", "import_arkit_capture", "capture_targets"]


@dataclass
class CaptureResult:
    """What an import did: the keys it animated, the ARKit columns it could not use, the frames."""

    object_name: str
    keyed: list[str] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)    # ARKit columns with no shape key (tongueOut)
    ignored: list[str] = field(default_factory=list)     # non-blendshape columns (head/eye rotations)
    frame_start: int = 1
    frame_end: int = 1
    n_keyframes: int = 0
    scene_fps: float = 24.0
    capture_fps: float | None = None
    timing: str = "timecode"                             # 'timecode' or 'row' (one frame per row)
    action: str = ""

    def message(self) -> str:
        text = (f"{self.n_keyframes} frames ({self.frame_start}-{self.frame_end}) on "
                f"{len(self.keyed)} shape keys of {self.object_name}")
        if self.timing == "row":
            text += " (no timecode: one frame per row)"
        if self.unmapped:
            text += f"; no shape for {', '.join(self.unmapped)} (not in this face model)"
        return text


def capture_targets(arkit_names: list[str], key_names: list[str]) -> dict[str, list[str]]:
    """ARKit column -> the shape keys it drives ([] if none). The single-name pairs drive the
    Left/Right keys, not the combined ``browInnerUp``/``cheekPuff`` keys, so per-side values stay
    consistent with the capture."""
    out: dict[str, list[str]] = {}
    pairs = arkit_pairs(key_names)
    for name in arkit_names:
        # a single ARKit shape drives its Left/Right pair even when a combined key of its name exists
        out[name] = pairs[name] if name in pairs else arkit_targets(name, key_names)
    return out


def _fcurves(anim: Any) -> Any:
    """The F-curve collection an ID's animation writes to: the action slot's channel bag (layered
    actions, Blender 4.4+) or the action's own list (4.2-4.3)."""
    action = anim.action if anim is not None else None
    if action is None:
        return None
    slot = getattr(anim, "action_slot", None)
    if slot is not None:
        import bpy_extras.anim_utils

        get_bag = getattr(bpy_extras.anim_utils, "action_get_channelbag_for_slot", None)  # 4.4+
        bag = get_bag(action, slot) if get_bag is not None else None
        if bag is not None:
            return bag.fcurves
    return action.fcurves


def _fresh_fcurve(key: "bpy.types.Key", data_path: str, frame: int) -> Any:
    """A new F-curve for ``data_path`` (an older one of a previous import is replaced)."""
    fcs = _fcurves(key.animation_data)
    old = fcs.find(data_path) if fcs is not None else None
    if old is not None:
        fcs.remove(old)
    key.keyframe_insert(data_path, frame=frame)  # creates action, slot and curve the way Blender does
    return _fcurves(key.animation_data).find(data_path)


def import_arkit_capture(obj: "bpy.types.Object", path: str | Capture, *, frame_start: int | None = None,
                         scene: "bpy.types.Scene | None" = None, capture_fps: float | None = None,
                         extend_scene: bool = True) -> CaptureResult:
    """Key ``obj``'s ARKit-named shape keys from a capture file (or a parsed ``Capture``).

    Frames: ``frame_start`` (default: the scene's start) plus the timecode in seconds x the scene's
    frame rate; ``capture_fps`` is the timecode rate (inferred, default 60). ``extend_scene`` widens the
    scene's frame range to the capture. Raises CaptureError (a bad file, or no shape key matches)."""
    scene = scene or bpy.context.scene
    if obj is None or obj.type != "MESH" or obj.data.shape_keys is None:
        raise CaptureError(f"'{getattr(obj, 'name', obj)}' has no shape keys: generate a face with shape keys "
                           "first")
    cap = path if isinstance(path, Capture) else read_capture(path)
    key = obj.data.shape_keys
    reference = key.reference_key.name if key.reference_key is not None else "Basis"
    key_names = [kb.name for kb in key.key_blocks if kb.name != reference]
    targets = capture_targets(cap.names, key_names)
    if not any(targets.values()):
        raise CaptureError(f"none of the capture's {len(cap.names)} ARKit columns matches a shape key of "
                           f"'{obj.name}'")
    fps = scene.render.fps / scene.render.fps_base
    start = scene.frame_start if frame_start is None else int(frame_start)
    frames, rows = cap.frames(fps, start, capture_fps)
    n = len(frames)
    co = np.empty((n, 2), np.float32)
    co[:, 0] = frames
    linear = np.ones(n, np.int32)  # enum index of 'LINEAR' in the interpolation items
    result = CaptureResult(obj.name, ignored=list(cap.ignored), frame_start=int(frames[0]),
                           frame_end=int(frames[-1]), n_keyframes=n, scene_fps=float(fps),
                           capture_fps=cap.capture_fps(capture_fps) if cap.timecodes is not None else None,
                           timing="timecode" if cap.timecodes is not None else "row")
    had_action = key.animation_data is not None and key.animation_data.action is not None
    for col, name in enumerate(cap.names):
        if not targets[name]:
            result.unmapped.append(name)
            continue
        co[:, 1] = cap.values[rows, col]
        for target in targets[name]:
            data_path = f'key_blocks["{bpy.utils.escape_identifier(target)}"].value'
            fc = _fresh_fcurve(key, data_path, int(frames[0]))
            points = fc.keyframe_points
            points.add(n - len(points))
            points.foreach_set("co", co.ravel())
            points.foreach_set("interpolation", linear)
            fc.update()
            if target not in result.keyed:
                result.keyed.append(target)
    action = key.animation_data.action
    if not had_action:
        action.name = f"{obj.name}_ARKitCapture"
    result.action = action.name
    if extend_scene:
        scene.frame_start = min(scene.frame_start, result.frame_start)
        scene.frame_end = max(scene.frame_end, result.frame_end)
    obj["styleface_capture"] = str(getattr(cap, "path", "") or "")
    return result
