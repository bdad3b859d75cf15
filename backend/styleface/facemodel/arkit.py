"""Apple ARKit blendshape names, and how they drive a face model's expressions.

Facial capture tools (Live Link Face, ARKit apps, MetaHuman Animator exports) speak ARKit's 52 names.
ICT-FaceKit's shapes follow them with ``_L``/``_R`` suffixes; the face model renames them to ARKit's
``Left``/``Right`` spelling so a capture drives a face without renaming. Two ARKit shapes are single
where ICT has a pair (``browInnerUp``, ``cheekPuff``): they drive both sides. ARKit's ``tongueOut`` has
no ICT shape. ICT's extra shapes get names in the same style (``cheekRaiserLeft``, ``pupilDilateLeft``).
Sides are the subject's own (``Left`` = the face's left, +x in the model frame), as in ARKit.
"""
from __future__ import annotations

ARKIT_BLENDSHAPES: tuple[str, ...] = (
    "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight",
    "eyeBlinkLeft", "eyeBlinkRight", "eyeLookDownLeft", "eyeLookDownRight", "eyeLookInLeft", "eyeLookInRight",
    "eyeLookOutLeft", "eyeLookOutRight", "eyeLookUpLeft", "eyeLookUpRight", "eyeSquintLeft", "eyeSquintRight",
    "eyeWideLeft", "eyeWideRight",
    "jawForward", "jawLeft", "jawOpen", "jawRight",
    "mouthClose", "mouthDimpleLeft", "mouthDimpleRight", "mouthFrownLeft", "mouthFrownRight", "mouthFunnel",
    "mouthLeft", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthPressLeft", "mouthPressRight",
    "mouthPucker", "mouthRight", "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper",
    "mouthSmileLeft", "mouthSmileRight", "mouthStretchLeft", "mouthStretchRight", "mouthUpperUpLeft",
    "mouthUpperUpRight",
    "noseSneerLeft", "noseSneerRight",
    "tongueOut",
)


def ict_to_arkit(name: str) -> str:
    """ICT-FaceKit shape name -> ARKit-style name: 'eyeBlink_L' -> 'eyeBlinkLeft', 'PupilDilate_R' ->
    'pupilDilateRight', 'jawOpen' -> 'jawOpen'."""
    base, side = name, ""
    if name.endswith(("_L", "_R")):
        base, side = name[:-2], {"_L": "Left", "_R": "Right"}[name[-2:]]
    return base[:1].lower() + base[1:] + side


def arkit_targets(arkit_name: str, model_names: tuple[str, ...] | list[str]) -> list[str]:
    """The model expressions one ARKit blendshape drives: itself, or its Left/Right pair, or none."""
    if arkit_name in model_names:
        return [arkit_name]
    pair = [arkit_name + "Left", arkit_name + "Right"]
    return [n for n in pair if n in model_names]


# The procedural head's expression names, as ARKit shapes, so scripts written for it keep working.
PROCEDURAL_ALIASES: dict[str, tuple[str, ...]] = {
    "jaw_open": ("jawOpen",), "jaw_forward": ("jawForward",), "mouth_left": ("mouthLeft",),
    "smile_left": ("mouthSmileLeft",), "smile_right": ("mouthSmileRight",),
    "brow_raise": ("browInnerUp", "browOuterUpLeft", "browOuterUpRight"), "brow_frown": ("browDownLeft", "browDownRight"),
    "eye_close_left": ("eyeBlinkLeft",), "eye_close_right": ("eyeBlinkRight",), "mouth_pucker": ("mouthPucker",),
    "cheek_puff": ("cheekPuff",), "sneer_left": ("noseSneerLeft",), "sneer_right": ("noseSneerRight",),
    "mouth_stretch": ("mouthStretchLeft", "mouthStretchRight"),
    "lower_lip_down": ("mouthLowerDownLeft", "mouthLowerDownRight"),
    "upper_lip_up": ("mouthUpperUpLeft", "mouthUpperUpRight"),
}


def resolve_expression_name(name: str, model_names: tuple[str, ...] | list[str]) -> list[str]:
    """Model expression names for a user-given name: the name itself, an ARKit name (pairs drive both
    sides), an original ICT name ('eyeBlink_L') or a procedural-head name ('smile_left'); [] when
    nothing matches."""
    targets = arkit_targets(name, model_names)
    if not targets and name in PROCEDURAL_ALIASES:
        targets = [t for a in PROCEDURAL_ALIASES[name] for t in arkit_targets(a, model_names)]
    if not targets and name.endswith(("_L", "_R")):
        alias = ict_to_arkit(name)
        targets = [alias] if alias in model_names else []
    return targets
