"""Region labels of the ICT head, for procedural texturing and the StyleGAN2 stand-in.

ICT-FaceKit has no semantic labels beyond its material groups, so the skin's regions (lips, brows, nose,
cheeks, forehead, ears, scalp, neck, mouth and eye sockets) are derived from the neutral geometry and the
68 landmarks, in the shared frame (+y up, facing +z, decimetres). The eyeball, teeth, gum and lash parts
label themselves. Labels are per render vertex, in [0, 1], soft at their edges where a hard edge would
show in a painted texture.
"""
from __future__ import annotations

import numpy as np

from .model import FaceModel


def _inside_polygon(p: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Even-odd test of 2D points (N, 2) against a closed polygon (M, 2)."""
    x, y = p[:, 0:1], p[:, 1:2]
    ax, ay = poly[:, 0][None], poly[:, 1][None]
    bx, by = np.roll(poly[:, 0], -1)[None], np.roll(poly[:, 1], -1)[None]
    cross = (ay > y) != (by > y)
    xs = ax + (y - ay) * (bx - ax) / np.where(by == ay, 1e-12, by - ay)
    return ((cross & (x < xs)).sum(1) % 2) == 1


def _dist_to_polyline(p: np.ndarray, line: np.ndarray) -> np.ndarray:
    """Distance of 2D points (N, 2) to a polyline (M, 2)."""
    best = np.full(len(p), np.inf)
    for a, b in zip(line[:-1], line[1:]):
        ab = b - a
        t = np.clip(((p - a) @ ab) / max(float(ab @ ab), 1e-12), 0, 1)
        best = np.minimum(best, np.linalg.norm(p - (a + t[:, None] * ab), axis=1))
    return best


def _smooth(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def ict_regions(model: FaceModel) -> dict[str, np.ndarray]:
    """Soft region labels (float32 in [0, 1]) per render vertex, keyed by region name."""
    topo = model.mesh_topology
    part = topo.vertex_parts()
    names = topo.part_names
    v = model.mean_shape.astype(np.float64)
    x, y, z = v.T
    lm = v[model.landmarks]
    skin = (part == names.index("skin")).astype(np.float64)
    out: dict[str, np.ndarray] = {}
    front = _smooth((z - (lm[:, 2].min() - 0.35)) / 0.15)  # the front of the head, where the face is

    # Lips: inside the outer lip contour (landmarks 48-59), feathered, on the front surface.
    lip_poly = lm[48:60, :2]
    centre = lip_poly.mean(0)
    grown = centre + (lip_poly - centre) * 1.08
    inside = _inside_polygon(v[:, :2], grown).astype(np.float64)
    lip_depth = _smooth((z - (lm[48:60, 2].min() - 0.12)) / 0.05)
    out["lips"] = inside * lip_depth * skin
    # Mouth and eye sockets: skin behind the lips / eyelids (the inside of the head).
    mouth_in = _inside_polygon(v[:, :2], centre + (lip_poly - centre) * 1.3) & (z < lm[60:68, 2].min() - 0.03)
    out["socket"] = (mouth_in.astype(np.float64) * skin)
    for eye in (lm[36:42], lm[42:48]):
        c = eye.mean(0)
        deep = _inside_polygon(v[:, :2], c[:2] + (eye[:, :2] - c[:2]) * 1.4) & (z < c[2] - 0.06)
        out["socket"] = np.maximum(out["socket"], deep * skin)
    # Brows: a band along landmarks 17-21 and 22-26, a little above them.
    brow = np.zeros(len(v))
    for ids in (slice(17, 22), slice(22, 27)):
        line = lm[ids, :2] + np.array([0.0, 0.03])
        d = _dist_to_polyline(v[:, :2], line)
        brow = np.maximum(brow, _smooth(1 - (d - 0.035) / 0.03))
    out["brows"] = brow * front * skin * (z > lm[17:27, 2].min() - 0.15)
    # Nose: between the eyes' inner corners, from the bridge to under the tip.
    nose_y0, nose_y1 = lm[33, 1] - 0.03, lm[27, 1] + 0.05
    half = np.interp(y, [nose_y0, lm[29, 1], nose_y1], [abs(lm[35, 0] - lm[31, 0]) * 0.75, 0.14, 0.1])
    out["nose"] = (_smooth((half - np.abs(x)) / 0.05) * (y > nose_y0) * (y < nose_y1)
                   * _smooth((z - (lm[31, 2] - 0.1)) / 0.06) * skin)
    # Cheeks: soft discs below the outer eye corners.
    cheeks = np.zeros(len(v))
    for c in ((lm[36] + lm[48]) / 2, (lm[45] + lm[54]) / 2):
        c = c + np.array([np.sign(c[0]) * 0.1, 0.05, 0.0])
        d = np.linalg.norm(v[:, :2] - c[:2], axis=1)
        cheeks = np.maximum(cheeks, _smooth(1 - d / 0.3))
    out["cheeks"] = cheeks * front * skin * (1 - out["lips"])
    # Hairline: front at brow height + 0.6 dm, dropping over the temples and to the nape at the back.
    brow_y = lm[17:27, 1].mean()
    hair_y = np.interp(z, [-1.2, -0.5, 0.0, 0.35, 0.6, 1.2],
                       [lm[57, 1], lm[33, 1] + 0.1, lm[36:48, 1].mean() + 0.35, brow_y + 0.5, brow_y + 0.62,
                        brow_y + 0.62])
    # Ears: the lateral lobes of the skin between brow and mouth height, around z of the jaw's end.
    ear = (np.abs(x) > np.abs(lm[0, 0]) + 0.03) & (y < brow_y + 0.2) & (y > lm[48, 1] - 0.25) & \
          (z < lm[0, 2] + 0.05) & (z > lm[0, 2] - 0.7)
    out["ears"] = ear * skin
    out["scalp"] = _smooth((y - hair_y) / 0.08) * skin * (1 - out["ears"])
    # A receding hairline: the front of the hairline 0.25 dm higher, temples cleared (mixed by the stand-in).
    out["scalp_receded"] = out["scalp"] * _smooth((y - (hair_y + 0.25 * front)) / 0.08)
    # Beard area: upper lip, chin, jaw and lower cheeks, down the throat a little; not the lips.
    order = np.argsort(lm[0:17, 0])
    jaw_line = np.interp(x, lm[0:17, 0][order], lm[0:17, 1][order])
    under_nose = _smooth((lm[33, 1] - 0.02 - y) / 0.05)
    low_cheek = _smooth(np.abs(x) / 0.05) * _smooth(((lm[33, 1] + lm[48, 1]) / 2 + 0.1 - y) / 0.12)
    beard = np.maximum(under_nose * _smooth((0.32 - np.abs(x)) / 0.06), low_cheek) * front
    beard *= _smooth((y - (jaw_line - 0.35)) / 0.1)  # fades out under the jaw
    out["forehead"] = (_smooth((y - (brow_y + 0.1)) / 0.05) * (1 - out["scalp"]) * front * skin
                       * (np.abs(x) < 0.55))
    out["neck"] = _smooth((lm[8, 1] - 0.05 - y) / 0.1) * skin * (1 - out["scalp"])
    out["beard"] = np.clip(beard, 0, 1) * skin * (1 - _smooth(out["lips"] * 3)) * (1 - out["ears"])
    out["face"] = front * skin * (1 - out["scalp"]) * (1 - out["neck"]) * (1 - out["socket"])
    out["skin"] = skin * (1 - out["socket"])
    # Parts that label themselves.
    out["eyes"] = np.isin(part, [names.index("sclera"), names.index("iris")]).astype(np.float64)
    out["iris"] = (part == names.index("iris")).astype(np.float64)
    for name in ("teeth", "gums", "eyelashes"):
        out[name] = (part == names.index(name)).astype(np.float64)
    return {k: np.clip(a, 0, 1).astype(np.float32) for k, a in out.items()}


def ict_uv_regions(model: FaceModel) -> dict:
    """Atlas-space centres for texture painters: the iris patches (u, v, iris radius) and pupil radius."""
    from .ict import ATLAS

    iris = []
    for key in ("M_IrisLeft", "M_IrisRight"):
        u0, v0, u1, v1 = ATLAS[key]
        iris.append([(u0 + u1) / 2, (v0 + v1) / 2, 0.3 * (u1 - u0)])
    return {"iris_centres": iris, "eye_centres": [list(c) for c in iris],
            "pupil_radius": 0.09 * (ATLAS["M_IrisLeft"][2] - ATLAS["M_IrisLeft"][0])}
