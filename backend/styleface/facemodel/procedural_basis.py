"""Identity and expression bases of the procedural demo head, as smooth displacement fields.

Every component is a displacement field evaluated at the vertices' anchor positions (the mean shape,
except that mouth-slit vertices use the lip point they were pulled from). Seam-duplicate vertices share a
position, so they always move together and the mesh never tears. Identity components are local windows
(nose, eyes, brows, cheeks, jaw, chin, lips, ears, neck) plus a few global ones; each is scaled so a
coefficient of 1 is about one standard deviation of that trait, i.e. coefficients are ~N(0, 1).
Expression components are named; a coefficient of 1 is the full expression (e.g. eyes fully closed).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import procedural_shape as S
from .procedural_mesh import HeadMesh, ear_frame, EAR_CENTRE


def _ss(e0: float, e1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


@dataclass
class FieldContext:
    """What the fields need about the vertices: anchors, a smooth normal field and masks."""

    a: np.ndarray          # (N, 3) anchor positions
    normal: np.ndarray     # (N, 3) unit outward direction (head field gradient; ear frame on ears)
    head: np.ndarray       # (N,) 1 on the head and neck, 0 on the ears
    ear: np.ndarray        # (N,) 1 on the ears
    lower: np.ndarray      # (N,) jaw side of the mouth slit
    eyes: np.ndarray       # (N,) 1 on the eyeballs

    @property
    def mirrored(self) -> np.ndarray:
        return np.stack([np.abs(self.a[:, 0]), self.a[:, 1], self.a[:, 2]], -1)

    @property
    def side(self) -> np.ndarray:
        """+1 on the subject's left (x >= 0), -1 on the right: flips x of mirrored displacements."""
        return np.where(self.a[:, 0] >= 0, 1.0, -1.0)


def window(p: np.ndarray, centre, radii, core: float = 0.0) -> np.ndarray:
    """Compact smooth window: 1 inside the ``core`` fraction of the ellipsoid, 0 outside it (C2)."""
    s = np.linalg.norm((p - np.asarray(centre, float)) / np.asarray(radii, float), axis=-1)
    if core > 0:
        s = np.clip((s - core) / (1.0 - core), 0.0, None)
    return np.clip(1.0 - s * s, 0.0, None) ** 3


def _mirror(ctx: FieldContext, disp_left: np.ndarray) -> np.ndarray:
    """A displacement written for the left side (in mirrored coordinates) applied to both sides.

    Its x component fades out towards the midline, where the two mirrored halves meet, so the field
    stays continuous there (no tear along x = 0).
    """
    out = disp_left.copy()
    out[:, 0] *= ctx.side * _ss(0.0, 0.08, np.abs(ctx.a[:, 0]))
    return out


def _local(ctx: FieldContext, centre, radii, vec, core: float = 0.0, mirrored: bool = True,
           mask: np.ndarray | None = None) -> np.ndarray:
    """Translate a window by ``vec`` (written for the left side when mirrored)."""
    p = ctx.mirrored if mirrored else ctx.a
    w = window(p, centre, radii, core)
    if mask is not None:
        w = w * mask
    d = w[:, None] * np.asarray(vec, float)[None, :]
    return _mirror(ctx, d) if mirrored else d


def _push(ctx: FieldContext, centre, radii, amount: float, core: float = 0.0, mirrored: bool = True,
          mask: np.ndarray | None = None) -> np.ndarray:
    """Move a window along the outward normal by ``amount`` (inflate / deflate)."""
    p = ctx.mirrored if mirrored else ctx.a
    w = window(p, centre, radii, core)
    if mask is not None:
        w = w * mask
    return (amount * w)[:, None] * ctx.normal


def _scale(ctx: FieldContext, centre, radii, factors, core: float = 0.5, mirrored: bool = True,
           mask: np.ndarray | None = None) -> np.ndarray:
    """Scale a window about its centre by (1 + factors) per axis."""
    p = ctx.mirrored if mirrored else ctx.a
    w = window(p, centre, radii, core)
    if mask is not None:
        w = w * mask
    d = w[:, None] * (p - np.asarray(centre, float)) * np.asarray(factors, float)
    return _mirror(ctx, d) if mirrored else d


def _rotate(ctx: FieldContext, centre, radii, axis_angle, core: float = 0.5, mirrored: bool = True,
            mask: np.ndarray | None = None, pivot=None) -> np.ndarray:
    """Rotate a window about ``pivot`` (default its centre) by the rotation vector ``axis_angle``
    (linearised: the chord of the rotation at coefficient 1)."""
    p = ctx.mirrored if mirrored else ctx.a
    w = window(p, centre, radii, core)
    if mask is not None:
        w = w * mask
    piv = np.asarray(centre if pivot is None else pivot, float)
    rv = np.asarray(axis_angle, float)
    ang = np.linalg.norm(rv)
    rel = p - piv
    if ang > 0:
        k = rv / ang
        rot = (rel * np.cos(ang) + np.cross(k, rel) * np.sin(ang)
               + k[None, :] * (rel @ k)[:, None] * (1 - np.cos(ang)))
        d = (rot - rel) * w[:, None]
    else:
        d = np.zeros_like(rel)
    return _mirror(ctx, d) if mirrored else d


# --------------------------------------------------------------------------------------------------
# identity

def identity_fields(ctx: FieldContext) -> list[tuple[str, np.ndarray]]:
    """(name, displacement (N, 3)) per identity component; a coefficient of 1 is ~1 sd."""
    a = ctx.a
    x, y, z = a[:, 0], a[:, 1], a[:, 2]
    head, ear = ctx.head, ctx.ear
    out: list[tuple[str, np.ndarray]] = []

    def add(name: str, d: np.ndarray) -> None:
        out.append((name, d))

    def along(axis: int, values: np.ndarray) -> np.ndarray:
        d = np.zeros_like(a)
        d[:, axis] = values
        return d

    # ---- global shape -------------------------------------------------------------------------
    add("head_width", along(0, 0.04 * x * _ss(-0.6, -0.1, y)))
    add("head_length", along(2, -0.045 * _ss(0.1, -0.9, z) * _ss(-0.7, -0.2, y)))
    add("crown_height", along(1, 0.04 * _ss(0.2, 1.2, y)))
    add("face_length", along(1, -0.035 * _ss(-0.25, -0.95, y)))
    add("face_width", along(0, 0.045 * x * _ss(-0.25, 0.35, z) * _ss(0.45, 0.1, y) * _ss(-1.3, -0.9, y)))
    add("overall_size", 0.02 * (a - np.array([0.0, -0.2, -0.1])))
    add("face_depth", along(2, 0.028 * _ss(0.0, 0.9, z) * _ss(0.7, 0.3, y) * _ss(-1.25, -0.8, y)))
    add("forehead_slope", along(2, -0.035 * _ss(0.35, 1.0, y) * _ss(0.1, 0.7, z)))
    add("lower_face_projection", along(2, 0.028 * _ss(-0.3, -0.85, y) * _ss(-0.3, 0.7, z) * _ss(-1.45, -1.0, y)))
    add("occiput", _push(ctx, (0.0, 0.15, -1.0), (0.6, 0.55, 0.5), 0.025, mirrored=False))
    add("temple_width", _push(ctx, (0.7, 0.3, 0.25), (0.25, 0.3, 0.35), 0.02))
    add("face_asymmetry", along(0, 0.012 * window(a, (0.0, -0.5, 0.75), (0.45, 0.7, 0.5)) * head))
    # ---- jaw and chin -------------------------------------------------------------------------
    add("jaw_width", _local(ctx, (0.47, -0.8, -0.02), (0.35, 0.32, 0.4), (0.035, 0.0, 0.0)))
    add("jaw_angle_height", _local(ctx, (0.47, -0.82, -0.05), (0.3, 0.3, 0.35), (0.0, 0.028, 0.0)))
    add("jaw_line", _push(ctx, (0.35, -0.9, 0.3), (0.25, 0.18, 0.4), 0.015))
    add("chin_projection", _local(ctx, (0.0, -0.95, 0.8), (0.32, 0.28, 0.7), (0.0, 0.0, 0.026), mirrored=False))
    add("chin_height", _local(ctx, (0.0, -1.0, 0.75), (0.32, 0.3, 0.45), (0.0, -0.022, 0.0), mirrored=False))
    add("chin_width", _local(ctx, (0.15, -0.95, 0.72), (0.2, 0.22, 0.3), (0.02, 0.0, 0.0)))
    add("chin_roundness", _push(ctx, (0.0, -0.93, 0.85), (0.2, 0.18, 0.24), 0.008, mirrored=False))
    # ---- cheeks -------------------------------------------------------------------------------
    add("cheekbone_prominence", _push(ctx, (0.5, -0.06, 0.62), (0.22, 0.17, 0.28), 0.018))
    add("cheekbone_height", _local(ctx, (0.5, -0.06, 0.62), (0.26, 0.22, 0.32), (0.0, 0.011, 0.0)))
    add("cheek_fullness", _push(ctx, (0.42, -0.42, 0.5), (0.22, 0.22, 0.3), 0.022))
    add("nasolabial_depth", _push(ctx, (0.2, -0.45, 0.82), (0.09, 0.15, 0.14), -0.01))
    # ---- forehead and brows -------------------------------------------------------------------
    add("forehead_bulge", _push(ctx, (0.0, 0.6, 0.8), (0.55, 0.35, 0.45), 0.022, mirrored=False))
    add("brow_ridge", _local(ctx, (0.25, 0.28, 0.8), (0.32, 0.15, 0.3), (0.0, 0.003, 0.012), mask=1 - ctx.eyes))
    add("brow_height", _local(ctx, (0.3, 0.28, 0.75), (0.32, 0.15, 0.28), (0.0, 0.01, 0.0), mask=1 - ctx.eyes))
    add("brow_tilt", _local(ctx, (0.45, 0.27, 0.7), (0.2, 0.14, 0.25), (0.0, 0.008, 0.0), mask=1 - ctx.eyes))
    add("glabella", _local(ctx, (0.0, 0.24, 0.85), (0.16, 0.14, 0.25), (0.0, 0.0, 0.012), mirrored=False))
    # ---- eyes (the window core covers the whole eyeball so it moves rigidly) -------------------
    ec = S.EYE_CENTRE
    eye_r = (0.36, 0.32, 0.42)
    add("eye_spacing", _local(ctx, ec, eye_r, (0.012, 0.0, 0.0), core=0.38))
    add("eye_height", _local(ctx, ec, eye_r, (0.0, 0.011, 0.0), core=0.38))
    add("eye_depth", _local(ctx, ec, eye_r, (0.0, 0.0, -0.012), core=0.38))
    add("eye_size", _scale(ctx, ec, eye_r, (0.04, 0.04, 0.04), core=0.38))
    add("eye_tilt", _rotate(ctx, ec, eye_r, (0.0, 0.0, 0.045), core=0.38))
    add("upper_lid_fullness", _local(ctx, ec + np.array([0.0, 0.11, 0.08]), (0.2, 0.1, 0.16),
                                     (0.0, -0.003, 0.005), mask=1 - ctx.eyes))
    add("eye_bags", _push(ctx, ec + np.array([0.02, -0.1, 0.1]), (0.17, 0.09, 0.16), 0.005, mask=1 - ctx.eyes))
    # ---- nose ---------------------------------------------------------------------------------
    tip = S.NOSE_TIP
    add("nose_length", _local(ctx, tip + np.array([0.0, 0.02, -0.05]), (0.24, 0.3, 0.34),
                              (0.0, -0.016, 0.0), mirrored=False))
    add("nose_projection", _local(ctx, tip + np.array([0.0, 0.02, -0.05]), (0.24, 0.32, 0.36),
                                  (0.0, 0.0, 0.018), mirrored=False))
    add("nose_width", _local(ctx, (0.1, -0.37, 0.93), (0.18, 0.16, 0.22), (0.011, 0.0, 0.0)))
    add("nose_bridge_height", _local(ctx, (0.0, 0.0, 0.95), (0.14, 0.26, 0.22), (0.0, 0.0, 0.012), mirrored=False))
    add("nose_bridge_width", _local(ctx, (0.06, 0.0, 0.9), (0.14, 0.28, 0.22), (0.007, 0.0, 0.0)))
    add("nose_tip_size", _scale(ctx, tip + np.array([0.0, 0.0, -0.04]), (0.2, 0.18, 0.22), (0.07, 0.05, 0.05),
                                core=0.3, mirrored=False))
    add("nose_tip_rotation", _local(ctx, tip, (0.16, 0.15, 0.2), (0.0, 0.012, -0.005), mirrored=False))
    add("nose_hump", _local(ctx, (0.0, -0.06, 0.98), (0.14, 0.15, 0.18), (0.0, 0.0, 0.007), mirrored=False))
    add("nostril_height", _local(ctx, (0.1, -0.38, 0.92), (0.15, 0.12, 0.18), (0.0, 0.008, 0.0)))
    # ---- mouth --------------------------------------------------------------------------------
    corner = (S.MOUTH_HALF_WIDTH, S.MOUTH_Y, 0.8)
    add("mouth_width", _local(ctx, corner, (0.23, 0.16, 0.3), (0.014, 0.0, -0.005)))
    add("mouth_corner_height", _local(ctx, corner, (0.15, 0.17, 0.22), (0.0, 0.008, 0.0)))
    add("upper_lip_fullness", _local(ctx, (0.0, S.MOUTH_Y + 0.065, 0.93), (0.3, 0.065, 0.4),
                                     (0.0, 0.002, 0.006), mirrored=False))
    add("lower_lip_fullness", _local(ctx, (0.0, S.MOUTH_Y - 0.07, 0.9), (0.28, 0.07, 0.4),
                                     (0.0, -0.002, 0.007), mirrored=False))
    add("lip_protrusion", _local(ctx, (0.0, S.MOUTH_Y, 0.9), (0.34, 0.2, 0.55), (0.0, 0.0, 0.012), mirrored=False))
    add("philtrum_length", _local(ctx, (0.0, S.MOUTH_Y - 0.02, 0.85), (0.38, 0.2, 0.4), (0.0, -0.016, 0.0),
                                  mirrored=False))
    # ---- ears (scaled and turned about their root, which stays inside the head) ------------------
    frame = ear_frame()
    root = EAR_CENTRE - 0.12 * frame[0] - 0.02 * frame[2]
    pm = ctx.mirrored
    d = (pm - root) * 0.07 * ear[:, None]
    add("ear_size", _mirror(ctx, d))
    add("ear_protrusion", _rotate(ctx, root, (1.0, 1.0, 1.0), frame[1] * -0.12, core=0.99, mask=ear))
    add("ear_height", _local(ctx, EAR_CENTRE, (0.3, 0.45, 0.4), (0.0, 0.02, 0.0), core=0.5))
    lobe = ear * _ss(-0.12, -0.28, (pm - EAR_CENTRE) @ frame[1])
    add("ear_lobe", _mirror(ctx, lobe[:, None] * (frame[1] * -0.012 + frame[2] * 0.004)[None, :]))
    # ---- neck ---------------------------------------------------------------------------------
    add("neck_width", along(0, 0.05 * x * _ss(-0.95, -1.35, y) * head))
    add("neck_depth", along(2, 0.04 * (z + 0.13) * _ss(-0.95, -1.35, y) * head))
    add("adams_apple", _push(ctx, (0.0, -1.33, 0.38), (0.1, 0.16, 0.16), 0.02, mirrored=False))
    return out


# --------------------------------------------------------------------------------------------------
# expression

def _eye_close(ctx: FieldContext, left: bool) -> np.ndarray:
    """Upper lid down over the eyeball: points above the lower lid turn about the eye centre's
    horizontal axis; the opening (eyeball) is compressed onto the lower lid, the lid above it follows
    and the effect fades out over the lid. Displacement at full closure."""
    pm = ctx.mirrored
    yaw, pitch, dist = S.eye_angles(pm)
    up, lo = S.eyelid_curves(yaw)
    gap = np.maximum(up - lo, 0.0)
    inside = (pitch >= lo) & (pitch <= up)
    above = pitch > up
    new_pitch = pitch.copy()
    new_pitch[inside] = lo[inside]
    fall = _ss(0.75, 0.12, pitch - up)     # the lid band moves as a whole, the skin above follows less
    new_pitch[above] = pitch[above] - gap[above] * fall[above]
    reach = _ss(0.24, 0.16, dist) * ctx.head * (pm[:, 2] > 0.3)
    new_pitch = pitch + (new_pitch - pitch) * reach
    side = (ctx.a[:, 0] > 0) if left else (ctx.a[:, 0] < 0)
    new_pitch = np.where(side, new_pitch, pitch)
    q = pm - S.EYE_CENTRE
    horiz = np.hypot(q[:, 0], q[:, 2])
    dirs_new = np.stack([np.cos(new_pitch) * np.sin(yaw), np.sin(new_pitch), np.cos(new_pitch) * np.cos(yaw)], -1)
    moved = S.EYE_CENTRE + dist[:, None] * dirs_new
    d = moved - pm
    d[horiz < 1e-9] = 0.0
    return _mirror(ctx, d)


def expression_fields(ctx: FieldContext) -> list[tuple[str, np.ndarray]]:
    """(name, displacement (N, 3)) per named expression; a coefficient of 1 is the full expression."""
    a = ctx.a
    lower, upper = ctx.lower, (1.0 - ctx.lower)
    out: list[tuple[str, np.ndarray]] = []

    def add(name: str, d: np.ndarray) -> None:
        out.append((name, d * ctx.head[:, None]))

    # Jaw open: the jaw side turns about the jaw joints, chin down and back (linearised: the chord).
    hinge = np.array([0.0, -0.02, -0.12])
    ang = np.radians(13.0)
    rel = a - hinge
    rot = np.stack([rel[:, 0], rel[:, 1] * np.cos(ang) - rel[:, 2] * np.sin(ang),
                    rel[:, 1] * np.sin(ang) + rel[:, 2] * np.cos(ang)], -1)
    add("jaw_open", (rot - rel) * lower[:, None])

    corner = np.array([S.MOUTH_HALF_WIDTH, S.MOUTH_Y, 0.8])
    for name, sgn in (("smile_left", 1.0), ("smile_right", -1.0)):
        side = _ss(-0.02, 0.04, sgn * a[:, 0])
        d = _local(ctx, corner, (0.2, 0.17, 0.26), (0.04, 0.05, -0.025)) * side[:, None]
        d += _local(ctx, (0.36, -0.3, 0.62), (0.18, 0.16, 0.26), (0.0, 0.016, 0.01), mask=1 - ctx.eyes) * side[:, None]
        add(name, d)
    brow = _local(ctx, (0.28, 0.32, 0.85), (0.4, 0.2, 0.35), (0.0, 0.045, 0.0), mask=1 - ctx.eyes)
    add("brow_raise", brow)
    add("brow_frown", _local(ctx, (0.12, 0.26, 0.85), (0.17, 0.13, 0.22), (-0.016, -0.02, 0.006),
                             mask=1 - ctx.eyes))
    add("eye_close_left", _eye_close(ctx, True))
    add("eye_close_right", _eye_close(ctx, False))
    w = window(a, (0.0, S.MOUTH_Y, 0.9), (0.34, 0.17, 0.32))
    d = np.stack([-0.45 * a[:, 0] * w, np.zeros_like(w), 0.06 * w], -1)
    add("mouth_pucker", d)
    add("cheek_puff", _push(ctx, (0.38, -0.45, 0.6), (0.24, 0.24, 0.34), 0.055))
    for name, sgn in (("sneer_left", 1.0), ("sneer_right", -1.0)):
        side = _ss(-0.02, 0.04, sgn * a[:, 0])
        d = _local(ctx, (0.1, -0.52, 0.9), (0.15, 0.14, 0.24), (0.0, 0.04, 0.005), mask=upper)
        d += _local(ctx, (0.1, -0.37, 0.93), (0.09, 0.09, 0.14), (0.004, 0.012, 0.0))
        add(name, d * side[:, None])
    add("mouth_stretch", _local(ctx, corner, (0.18, 0.15, 0.24), (0.04, -0.015, -0.015)))
    add("lower_lip_down", _local(ctx, (0.0, S.MOUTH_Y - 0.05, 0.9), (0.28, 0.12, 0.3), (0.0, -0.045, 0.006),
                                 mirrored=False, mask=lower))
    add("upper_lip_up", _local(ctx, (0.0, S.MOUTH_Y + 0.05, 0.9), (0.28, 0.12, 0.3), (0.0, 0.035, 0.006),
                               mirrored=False, mask=upper))
    add("mouth_left", _local(ctx, (0.0, S.MOUTH_Y, 0.85), (0.38, 0.18, 0.35), (0.035, 0.0, 0.0), mirrored=False))
    add("jaw_forward", np.array([0.0, 0.0, 0.035])[None, :] * lower[:, None] * _ss(-0.3, 0.2, a[:, 2])[:, None])
    return out


def build_bases(mesh: HeadMesh, eyes: np.ndarray) -> tuple[np.ndarray, list[str], np.ndarray, list[str]]:
    """id_basis (N, 3, K_id), id names, exp_basis (N, 3, K_exp), expression names (float32)."""
    head = (mesh.part <= 1).astype(float)
    ear = (mesh.part >= 2).astype(float)
    normal = S.head_gradient(mesh.anchors)
    frame = ear_frame()
    ear_n = np.where(mesh.anchors[:, :1] >= 0, frame[2], frame[2] * np.array([-1.0, 1.0, 1.0]))
    normal = np.where(ear[:, None] > 0, ear_n, normal)
    ctx = FieldContext(a=mesh.anchors, normal=normal, head=head, ear=ear, lower=mesh.lower,
                       eyes=(eyes > 0.5).astype(float))
    ident = identity_fields(ctx)
    expr = expression_fields(ctx)
    id_basis = np.stack([d for _, d in ident], -1).astype(np.float32)
    exp_basis = np.stack([d for _, d in expr], -1).astype(np.float32)
    return id_basis, [n for n, _ in ident], exp_basis, [n for n, _ in expr]
