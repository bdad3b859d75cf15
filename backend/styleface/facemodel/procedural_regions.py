"""Per-vertex regions, the mean albedo and the 68 landmarks of the procedural demo head.

Regions are soft weights in [0, 1] computed from the mean shape; the model stores them thresholded as
bool masks (``metadata["regions"]``) for procedural texturing, and the albedo blends colours with the
soft weights so region borders are not jagged.
"""
from __future__ import annotations

import numpy as np

from . import procedural_shape as S
from .procedural_mesh import HeadMesh


def _ss(e0: float, e1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def head_azimuth(p: np.ndarray) -> np.ndarray:
    """Azimuth in degrees around the vertical axis of the skull (0 = front, +90 = subject's left)."""
    return np.degrees(np.arctan2(p[:, 0], p[:, 2] + 0.1))


def hairline_height(az: np.ndarray) -> np.ndarray:
    """Height of the hairline by azimuth: high on the forehead, down in front of the ears (sideburns),
    over the ears, then down to the nape."""
    knots = np.array([0, 25, 50, 68, 80, 88, 96, 112, 135, 180])
    height = np.array([0.86, 0.84, 0.74, 0.5, 0.1, 0.06, 0.3, 0.22, -0.32, -0.5])
    return np.interp(np.abs(az), knots, height)


def brow_curve(ax: np.ndarray) -> np.ndarray:
    """Height of the brow centre line by |x| (inner end at 0.08, outer end at 0.54)."""
    t = np.clip((ax - 0.08) / 0.46, 0.0, 1.0)
    return 0.265 + 0.055 * np.sin(np.pi * np.clip(t * 1.15, 0, 1)) ** 0.7 - 0.03 * t


def soft_regions(mesh: HeadMesh) -> dict[str, np.ndarray]:
    """Soft region weights (N,) in [0, 1] keyed by name."""
    a = mesh.anchors
    x, y, z = a[:, 0], a[:, 1], a[:, 2]
    ax = np.abs(x)
    head = (mesh.part <= 1).astype(float)
    ears = (mesh.part >= 2).astype(float)
    az = head_azimuth(a)

    # Eyeballs: vertices lying on the eyeball spheres (the lids sit on a larger sphere).
    q = np.stack([ax, y, z], -1) - S.EYE_CENTRE
    r_eye = np.linalg.norm(q, axis=1)
    eyes = ((r_eye < S.EYE_RADIUS + 1e-3) * head).astype(float)
    gaze = np.array([0.0, 0.0, 1.0])
    cos_g = (q @ gaze) / np.maximum(r_eye, 1e-9)
    iris_cos = np.cos(np.arcsin(S.IRIS_RADIUS / S.EYE_RADIUS))
    pupil_cos = np.cos(np.arcsin(S.PUPIL_RADIUS / S.EYE_RADIUS))
    iris = eyes * _ss(iris_cos - 0.01, iris_cos + 0.01, cos_g)
    pupil = eyes * _ss(pupil_cos - 0.005, pupil_cos + 0.005, cos_g)

    # Mouth: the pulled slit rows are the mouth cavity; lips are the vermilion around the slit.
    slit_mouth = (mesh.slit >= 2) & (mesh.slit <= 4) & (ax < S.MOUTH_HALF_WIDTH) & (z > 0.4)
    mouth_interior = slit_mouth.astype(float)
    lip_half = S.MOUTH_HALF_WIDTH * (1.0 - 0.1 * np.clip((S.MOUTH_Y - y) / 0.08, 0.0, 1.0))
    upper_edge = -0.538 - 0.012 * np.cos(np.clip(ax / 0.05, 0, np.pi)) - 0.035 * (ax / S.MOUTH_HALF_WIDTH) ** 2
    lower_edge = -0.71 + 0.06 * (ax / S.MOUTH_HALF_WIDTH) ** 2
    lips = (_ss(0.01, -0.01, y - upper_edge) * _ss(-0.01, 0.01, y - lower_edge)
            * _ss(1.04, 0.9, ax / lip_half) * (z > 0.45) * head)
    lips = np.maximum(lips, ((mesh.slit == 1) | (mesh.slit == 5)) * (ax < S.MOUTH_HALF_WIDTH) * (z > 0.4))
    lips = lips * (1 - mouth_interior)

    # Brows: a band above each eye, thicker at the inner end.
    thick = 0.04 - 0.017 * np.clip((ax - 0.1) / 0.44, 0, 1)
    brows = (_ss(thick, thick * 0.45, np.abs(y - brow_curve(ax))) * _ss(0.06, 0.11, ax) * _ss(0.58, 0.5, ax)
             * (z > 0.35) * head)

    # Scalp (hair area): above the hairline.
    # Soft edge measured across the hairline (not just vertically), so steep parts stay smooth.
    slope = np.gradient(hairline_height(np.linspace(-180, 180, 721)), np.radians(0.5) * 0.75)
    slope = np.interp(az, np.linspace(-180, 180, 721), slope)
    hair = _ss(-0.05, 0.06, (y - hairline_height(az)) / np.sqrt(1.0 + slope ** 2)) * head
    # Nose: where the nose relief stands out.
    nose_h = S.face_relief(x, y) * (y > -0.46) * (y < 0.2) * (ax < 0.2)
    nose = _ss(0.01, 0.03, nose_h) * (z > 0.6) * head
    nose = nose * (1 - lips)
    # Cheeks: below the eyes, beside the nose.
    cheeks = (_ss(1.0, 0.6, np.hypot((ax - 0.36) / 0.17, (y + 0.22) / 0.16)) * (z > 0.2) * head)
    # Forehead: between the brows and the hairline, at the front.
    forehead = _ss(0.0, 0.05, y - 0.33) * (1 - hair) * _ss(55, 45, np.abs(az)) * head
    # Neck: below the jaw line and the nape.
    jaw_line = -1.07 + 0.3 * _ss(0.6, -0.2, z)
    neck = _ss(0.02, -0.02, y - jaw_line) * (1 - hair) * head
    neck = np.maximum(neck, (y < -1.25) * head)
    # The front of the face: everything a StyleFaceUV-style loss sees in a frontal crop.
    face = head * (1 - _ss(0.3, 0.7, hair)) * (1 - neck) * _ss(88, 80, np.abs(az))
    skin = np.clip(1.0 - eyes - mouth_interior - hair, 0.0, 1.0)
    return {"skin": skin, "lips": lips, "brows": brows, "eyes": eyes, "iris": iris, "pupil": pupil,
            "nose": nose, "ears": ears, "scalp": hair, "neck": neck, "cheeks": cheeks, "forehead": forehead,
            "mouth_interior": mouth_interior, "face": face}


SKIN = np.array([0.80, 0.61, 0.50])
LIPS = np.array([0.70, 0.40, 0.40])
BROWS = np.array([0.26, 0.18, 0.13])
HAIR = np.array([0.22, 0.15, 0.10])
SCLERA = np.array([0.88, 0.86, 0.82])
IRIS = np.array([0.30, 0.20, 0.12])
PUPIL = np.array([0.03, 0.02, 0.02])
MOUTH = np.array([0.30, 0.08, 0.08])


def mean_albedo(soft: dict[str, np.ndarray]) -> np.ndarray:
    """A plausible per-vertex albedo in [0, 1]: skin with redder cheeks, nose and ears, lips, brows,
    short dark hair, white eyes with a brown iris, a dark mouth cavity."""
    n = len(soft["skin"])
    col = np.broadcast_to(SKIN, (n, 3)).copy()
    red = np.array([0.025, -0.02, -0.02])
    col += red * np.clip(soft["cheeks"] + soft["nose"] + 0.6 * soft["ears"], 0, 1)[:, None]
    for name, c, k in (("lips", LIPS, 1.0), ("brows", BROWS, 0.85), ("scalp", HAIR, 1.0),
                       ("eyes", SCLERA, 1.0), ("iris", IRIS, 1.0), ("pupil", PUPIL, 1.0),
                       ("mouth_interior", MOUTH, 1.0)):
        w = (k * soft[name])[:, None]
        col = col * (1 - w) + c * w
    return np.clip(col, 0.0, 1.0)


# --------------------------------------------------------------------------------------------------
# landmarks

def _nearest(mesh: HeadMesh, target: np.ndarray, mask: np.ndarray) -> int:
    ids = np.flatnonzero(mask)
    return int(ids[np.argmin(np.linalg.norm(mesh.vertices[ids] - target, axis=1))])


def _front_at(mesh: HeadMesh, x: float, y: float, mask: np.ndarray) -> int:
    """The vertex nearest to (x, y) in the frontal projection, preferring the front-most surface."""
    ids = np.flatnonzero(mask)
    v = mesh.vertices[ids]
    d = np.hypot(v[:, 0] - x, v[:, 1] - y) - 0.02 * v[:, 2]
    return int(ids[np.argmin(d)])


def _eye_point(yaw: float, pitch: float, side: float) -> np.ndarray:
    r = S.EYE_RADIUS + S.LID_MARGIN
    d = np.array([np.cos(pitch) * np.sin(yaw), np.sin(pitch), np.cos(pitch) * np.cos(yaw)])
    p = S.EYE_CENTRE + r * d
    return p * np.array([side, 1.0, 1.0])


def landmark_ids(mesh: HeadMesh, soft: dict[str, np.ndarray]) -> np.ndarray:
    """68 vertex ids in the iBUG order (jaw 0-16, brows 17-26, nose 27-35, eyes 36-47, mouth 48-67).

    Image left is the subject's right (x < 0): jaw 0, right brow 17-21, right eye 36-41, mouth 48.
    """
    v = mesh.vertices
    grid = mesh.part == 0
    front = grid & (v[:, 2] > 0.05) & (soft["scalp"] < 0.5) & (soft["mouth_interior"] < 0.5)
    ids: list[int] = []
    # Jaw: a superellipse through the face contour, from the right temple round the chin to the left.
    for k in range(17):
        s = np.pi * k / 16
        c, sn = np.cos(s), np.sin(s)
        x = -0.68 * np.sign(c) * np.abs(c) ** 0.8
        y = 0.04 - 1.095 * np.abs(sn) ** 0.8
        ids.append(_front_at(mesh, x, y, front & (v[:, 2] > 0.1)))
    # Brows: outer to inner on the right, inner to outer on the left.
    for side, xs in ((-1, (0.52, 0.42, 0.32, 0.22, 0.12)), (1, (0.12, 0.22, 0.32, 0.42, 0.52))):
        for ax in xs:
            ids.append(_front_at(mesh, side * ax, float(brow_curve(np.array([ax]))[0]), front))
    # Nose bridge and tip, then the nostril base from right to left.
    for y in (0.12, 0.0, -0.12):
        ids.append(_front_at(mesh, 0.0, y, front))
    mid = front & (np.abs(v[:, 0]) < 0.01)
    ids.append(int(np.flatnonzero(mid)[np.argmax(v[mid, 2])]))
    for x, y in ((-0.09, -0.395), (-0.045, -0.415), (0.0, -0.425), (0.045, -0.415), (0.09, -0.395)):
        ids.append(_front_at(mesh, x, y, front))
    # Eyes: corners and lid points, clockwise in the image starting at the left-most corner.
    yaw_in, yaw_out = S.EYE_YAW_INNER, S.EYE_YAW_OUTER
    lid = grid & (soft["eyes"] < 0.5)

    def lid_pt(t: float, upper: bool, side: float) -> np.ndarray:
        yaw = yaw_in + t * (yaw_out - yaw_in)
        up, lo = S.eyelid_curves(np.array([yaw]))
        return _eye_point(yaw, float((up if upper else lo)[0]), side)

    # Right eye (x < 0): outer corner (t=1) on the image left.
    for t, upper in ((0.97, True), (0.66, True), (0.33, True), (0.03, True), (0.33, False), (0.66, False)):
        ids.append(_nearest(mesh, lid_pt(t, upper, -1.0), lid))
    # Left eye (x > 0): inner corner on the image left.
    for t, upper in ((0.03, True), (0.33, True), (0.66, True), (0.97, True), (0.66, False), (0.33, False)):
        ids.append(_nearest(mesh, lid_pt(t, upper, 1.0), lid))
    # Mouth, outer contour: right corner, upper lip to the left corner, lower lip back.
    hw = S.MOUTH_HALF_WIDTH
    outer = [(-hw, S.MOUTH_Y), (-0.16, -0.56), (-0.06, -0.535), (0.0, -0.54), (0.06, -0.535), (0.16, -0.56),
             (hw, S.MOUTH_Y), (0.16, -0.69), (0.06, -0.71), (0.0, -0.712), (-0.06, -0.71), (-0.16, -0.69)]
    for x, y in outer:
        ids.append(_front_at(mesh, x, y, front))
    # Inner contour: the lip edges of the slit.
    s = mesh.slit
    up_edge, lo_edge = grid & (s == 1), grid & (s == 5)
    inner = [(-hw * 0.85, up_edge), (-0.08, up_edge), (0.0, up_edge), (0.08, up_edge), (hw * 0.85, up_edge),
             (0.08, lo_edge), (0.0, lo_edge), (-0.08, lo_edge)]
    for x, m in inner:
        ids.append(_front_at(mesh, x, S.MOUTH_Y, m & (v[:, 2] > 0.5)))
    return np.array(ids, dtype=np.int64)
