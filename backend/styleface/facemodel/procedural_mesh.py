"""Topology, vertices and UV layout of the procedural demo head.

The head and neck are one grid of rays from :data:`procedural_shape.RAY_CENTRE`: columns are azimuths
(seam at the back of the head), rows are polar angles from the crown down to the bottom of the neck
(left open); a cap of rings with fewer and fewer columns closes the crown, so no vertex has more than
eight triangles and ``point_buf`` stays as narrow as BFM's. Rows and columns are spaced by a density
that favours the face, the eyes and the mouth, and the UV of a grid vertex is simply its (column, row)
index scaled to the unit square, so texel density follows vertex density and the layout cannot fold.
Between the lips a few extra rows are pulled into the head: the mouth slit that jaw_open opens.

The ears are separate closed shells (a front and a back sheet sharing a rim) pushed into the side of
the head, each sheet a polar grid (fewer sectors near its centre) with its own disc in UV space. The
ear rims and the back seam are the only seam-duplicate vertices; every shape field is evaluated at
vertex positions (or, for the mouth slit, at the lip points they were pulled from), so duplicates
always move together.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import procedural_shape as S

# Grid resolution of the head (columns must be odd so one column lies on the midline).
N_COLUMNS = 181
N_ROWS = 106
N_NECK_ROWS = 15                  # rows below NECK_START, evenly spaced along each column
THETA_TOP = np.radians(4.0)       # first grid row below the crown
CAP_REDUCTION = (2, 2, 3, 3)      # crown cap rings: each has this many times fewer columns than the last
CAP_THETAS = np.radians([3.0, 2.0, 1.1, 0.45])
NECK_START = np.radians(136.0)
NECK_BOTTOM_Y = -1.9
# The UV square: the head grid fills v in [UV_GRID_BOTTOM, UV_GRID_TOP], ears sit below it.
UV_GRID_TOP = 0.975
UV_GRID_BOTTOM = 0.135
# Mouth slit rows, as polar-angle offsets from the slit centre (degrees): lip edges, then the cavity.
SLIT_EDGE = 0.16
SLIT_INNER = 0.06

# Ear shells (left ear; the right one is mirrored).
EAR_RINGS_FRONT = 9
EAR_RINGS_BACK = 5
EAR_SECTORS = 36
EAR_HALF_HEIGHT = 0.31
EAR_HALF_WIDTH_TOP = 0.175
EAR_HALF_WIDTH_LOBE = 0.12
EAR_FLARE = np.radians(24.0)      # the back edge stands off the head
EAR_TILT = np.radians(14.0)       # the top leans backwards
EAR_CENTRE = np.array([0.735, -0.05, -0.2])


@dataclass
class HeadMesh:
    """Vertices (N, 3), triangles (F, 3), uvs (N, 2) and the bookkeeping the bases and regions need."""

    vertices: np.ndarray
    anchors: np.ndarray          # where shape fields are evaluated (slit vertices: their lip point)
    triangles: np.ndarray
    uvs: np.ndarray
    part: np.ndarray             # 0 head grid, 1 crown cap, 2 left ear, 3 right ear
    lower: np.ndarray            # 1 on the jaw side of the mouth slit (lower lip, chin), 0 above, smooth elsewhere
    slit: np.ndarray             # 0 outside the slit, 1 upper lip edge .. 5 lower lip edge (for mouth rows)
    grid_index: np.ndarray       # (N, 2) (row, column) of grid vertices, -1 elsewhere
    ear_coords: np.ndarray       # (N, 3) (rho, alpha, sheet) of ear vertices (sheet 0 front, 1 back), nan else
    phi: np.ndarray              # (N_ROWS, N_COLUMNS)
    theta: np.ndarray            # (N_ROWS, N_COLUMNS)
    slit_rows: tuple[int, ...] = ()
    islands: dict = field(default_factory=dict)


# --------------------------------------------------------------------------------------------------
# sampling

def _inverse_cdf(density, a: float, b: float, n: int) -> np.ndarray:
    """n positions in [a, b] spaced inversely to ``density`` (first and last exactly a and b)."""
    x = np.linspace(a, b, 4097)
    d = density(x)
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (d[1:] + d[:-1]) * np.diff(x))])
    cdf /= cdf[-1]
    return np.interp(np.linspace(0.0, 1.0, n), cdf, x)


def _plateau(x: np.ndarray, lo: float, hi: float, soft: float) -> np.ndarray:
    """~1 on [lo, hi], falling smoothly to 0 over ``soft`` on both sides."""
    a = np.clip((x - lo + soft) / soft, 0.0, 1.0)
    b = np.clip((hi + soft - x) / soft, 0.0, 1.0)
    return (a * a * (3 - 2 * a)) * (b * b * (3 - 2 * b))


def column_angles(n: int = N_COLUMNS) -> np.ndarray:
    """Azimuths from -pi to pi, symmetric about 0, dense over the face."""
    def density(phi):
        d = np.degrees(np.abs(phi))
        return 1.4 + 1.9 * _plateau(d, 0, 82, 18) + 2.3 * _plateau(d, 0, 38, 10)

    half = _inverse_cdf(density, 0.0, np.pi, (n + 1) // 2)
    return np.concatenate([-half[::-1], half[1:]])


def _row_density(theta: np.ndarray) -> np.ndarray:
    d = np.degrees(theta)
    return (1.0 + 2.6 * _plateau(d, 48, 150, 10) + 1.6 * _plateau(d, 62, 80, 4)
            + 1.6 * _plateau(d, 88, 100, 4) + 1.8 * _plateau(d, 104, 118, 4))


def _column_profiles(phi: np.ndarray, lo: float, hi: float, n: int = 64):
    """Per column, n polar angles in [lo, hi] and the surface points they hit: (theta (C, n), points)."""
    th = np.broadcast_to(np.linspace(lo, hi, n)[None, :], (len(phi), n))
    d = S.ray_directions(np.broadcast_to(phi[:, None], th.shape), th)
    return th, S.RAY_CENTRE + S.raycast(d, tol=1e-6)[..., None] * d


def _theta_for_height(phi: np.ndarray, y: float, lo: float, hi: float) -> np.ndarray:
    """Per azimuth, the polar angle whose surface point has height ``y`` (height falls with theta)."""
    th, pts = _column_profiles(phi, lo, hi)
    return np.array([np.interp(-y, -pts[c, :, 1], th[c]) for c in range(len(phi))])


def mouth_centre_theta() -> float:
    """Polar angle of the mouth slit on the midline."""
    return float(_theta_for_height(np.array([0.0]), S.MOUTH_Y, np.radians(100), np.radians(125))[0])


def row_angles(phi: np.ndarray, n_rows: int = N_ROWS) -> tuple[np.ndarray, tuple[int, ...]]:
    """Polar angles (n_rows, n_cols) per column, and the indices of the five mouth-slit rows.

    Rows follow a density in theta down to the jaw; near the mouth they are bent per column so the slit
    stays at the height of the mouth. Below the jaw every column gets rows evenly spaced along its own
    profile, down to a level cut at NECK_BOTTOM_Y.
    """
    th_m = mouth_centre_theta()
    n_upper = n_rows - N_NECK_ROWS
    base = _inverse_cdf(_row_density, THETA_TOP, NECK_START, n_upper - 5 + 1)[:-1]
    # Make room for the slit: drop the base rows nearest to its centre, then insert the slit rows and
    # re-add as many rows, spread evenly over the band above and below the slit.
    slit = th_m + np.radians([-SLIT_EDGE, -SLIT_INNER, 0.0, SLIT_INNER, SLIT_EDGE])
    band = np.radians(6.0)
    inside = np.abs(base - th_m) < band
    n_band = int(inside.sum())
    n_above = n_band // 2
    above = np.linspace(th_m - band, th_m - np.radians(SLIT_EDGE), n_above + 1, endpoint=False)[1:]
    below = np.linspace(th_m + band, th_m + np.radians(SLIT_EDGE), n_band - n_above + 1, endpoint=False)[1:]
    rows = np.sort(np.concatenate([base[~inside], above, below, slit]))
    slit_idx = tuple(int(np.argmin(np.abs(rows - s))) for s in slit)

    theta = np.broadcast_to(rows[:, None], (len(rows), len(phi))).copy()
    # Bend rows around the mouth so the slit lies at the mouth height across the lips.
    near = np.abs(np.degrees(phi)) < 40
    th_line = np.full(len(phi), th_m)
    th_line[near] = _theta_for_height(phi[near], S.MOUTH_Y, th_m - np.radians(8), th_m + np.radians(8))
    delta = (th_line - th_m) * _plateau(np.degrees(np.abs(phi)), 0, 25, 12)
    wband = np.radians(12.0)
    bend = np.clip(1.0 - ((rows - th_m) / wband) ** 2, 0.0, None) ** 2
    theta += bend[:, None] * delta[None, :]
    # Neck rows: evenly spaced along each column's profile from NECK_START to the level bottom cut.
    th_p, pts = _column_profiles(phi, NECK_START, np.radians(179.0), 96)
    seg = np.linalg.norm(np.diff(pts, axis=1), axis=-1)
    arc = np.concatenate([np.zeros((len(phi), 1)), np.cumsum(seg, axis=1)], 1)
    neck = np.empty((N_NECK_ROWS, len(phi)))
    for c in range(len(phi)):
        end = np.interp(-NECK_BOTTOM_Y, -pts[c, :, 1], arc[c])      # arc length at the bottom cut
        targets = np.linspace(0.0, end, N_NECK_ROWS + 1)[1:]
        neck[:, c] = np.interp(targets, arc[c], th_p[c])
    # The bottom row sits on the cut (to the precision of the profile's sampling).
    neck[-1] = [np.interp(-NECK_BOTTOM_Y, -pts[c, :, 1], th_p[c]) for c in range(len(phi))]
    return np.concatenate([theta, neck]), slit_idx


# --------------------------------------------------------------------------------------------------
# head grid

def _grid_triangles(n_rows: int, n_cols: int) -> np.ndarray:
    """Two CCW (seen from outside) triangles per quad, diagonals mirrored about the midline column."""
    j, i = np.meshgrid(np.arange(n_rows - 1), np.arange(n_cols - 1), indexing="ij")
    a = j * n_cols + i           # (row j, col i): upper-left in UV
    b = a + 1                    # upper-right
    c = a + n_cols               # lower-left
    d = c + 1                    # lower-right
    left = (i < (n_cols - 1) // 2)[..., None]
    t1 = np.where(left, np.stack([a, c, d], -1), np.stack([a, c, b], -1))
    t2 = np.where(left, np.stack([a, d, b], -1), np.stack([b, c, d], -1))
    return np.concatenate([t1.reshape(-1, 3), t2.reshape(-1, 3)])


def _cast_grid(phi: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Surface radii on the grid: a coarse cast gives per-ray brackets for the full one."""
    n_rows, n_cols = theta.shape
    rs = np.unique(np.concatenate([np.arange(0, n_rows, 4), [n_rows - 1]]))
    cs = np.unique(np.concatenate([np.arange(0, n_cols, 4), [n_cols - 1]]))
    coarse = S.raycast(S.ray_directions(phi[None, cs], theta[np.ix_(rs, cs)]))
    # Bilinear interpolation in index space.
    tmp = np.stack([np.interp(np.arange(n_cols), cs, row) for row in coarse])
    guess = np.stack([np.interp(np.arange(n_rows), rs, col) for col in tmp.T], 1)
    return S.raycast(S.ray_directions(phi[None, :], theta), guess=guess, band=0.05)


def build_head_grid() -> dict:
    phi = column_angles()
    theta, slit_rows = row_angles(phi)
    n_rows, n_cols = theta.shape
    phi2 = np.broadcast_to(phi[None, :], theta.shape)
    dirs = S.ray_directions(phi2, theta)
    r = _cast_grid(phi, theta)
    anchors = S.RAY_CENTRE + dirs * r[..., None]
    # Pull the three inner slit rows into the head between the lips.
    x = anchors[..., 0]
    depth = S.MOUTH_SLIT_DEPTH * np.sqrt(np.clip(1.0 - (x / S.MOUTH_HALF_WIDTH) ** 2, 0.0, None))
    depth = depth * (anchors[..., 2] > 0.4)
    # Pulled straight back (horizontally), so the cavity stays level with the lips.
    back = np.stack([dirs[..., 0], np.zeros_like(r), dirs[..., 2]], -1)
    back /= np.maximum(np.linalg.norm(back, axis=-1, keepdims=True), 1e-12)
    verts = anchors.copy()
    for k in slit_rows[1:4]:
        verts[k] -= back[k] * depth[k][:, None]
    # Which side of the slit: rows at/below the slit centre belong to the jaw within the lips.
    slit_code = np.zeros(theta.shape, np.int8)
    for n, k in enumerate(slit_rows):
        slit_code[k] = n + 1
    pole_dir = np.array([0.0, 1.0, 0.0])
    pole_r = S.raycast(pole_dir[None])[0]
    return {"phi": phi, "theta": theta, "verts": verts.reshape(-1, 3), "anchors": anchors.reshape(-1, 3),
            "slit_rows": slit_rows, "slit_code": slit_code.reshape(-1),
            "pole": S.RAY_CENTRE + pole_dir * pole_r, "n_rows": n_rows, "n_cols": n_cols}


# --------------------------------------------------------------------------------------------------
# ears

def ear_frame() -> np.ndarray:
    """Rows: e_p (front to back along the ear), e_q (up along the ear), n (lateral) for the left ear."""
    ep = np.array([0.0, 0.0, -1.0])
    eq = np.array([0.0, 1.0, 0.0])
    tilt = S.rot_x(-EAR_TILT)        # top leans back
    ep, eq = tilt @ ep, tilt @ eq
    flare = S.rot_y(-EAR_FLARE)      # back edge outwards (+x)
    ep, eq = flare @ ep, flare @ eq
    n = np.cross(ep, eq)
    return np.stack([ep, eq, n / np.linalg.norm(n)])


def _ear_outline(alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(p, q) of the rim: taller than wide, the top wider than the lobe, the front edge straighter."""
    q = EAR_HALF_HEIGHT * np.sin(alpha)
    half_w = np.where(q > 0, EAR_HALF_WIDTH_TOP, EAR_HALF_WIDTH_LOBE
                      + (EAR_HALF_WIDTH_TOP - EAR_HALF_WIDTH_LOBE) * (1 + q / EAR_HALF_HEIGHT))
    c = np.cos(alpha)
    p = half_w * np.sign(c) * np.abs(c) ** np.where(c < 0, 0.7, 1.0)
    return p, q


def ear_relief(rho: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Height of the ear's front (lateral) sheet above the ear plane: helix rim, antihelix, concha."""
    p, q = _ear_outline(alpha)
    p, q = p * rho, q * rho
    helix = 0.032 * np.exp(-((rho - 0.9) / 0.09) ** 2) * (1 - 0.8 * _front_edge(alpha))
    anti = 0.02 * np.exp(-((rho - 0.6) / 0.1) ** 2) * np.clip(np.sin(alpha) + 0.3, 0, 1)
    concha = -0.028 * np.exp(-(((p + 0.03) / 0.07) ** 2 + ((q + 0.03) / 0.09) ** 2))
    lobe = 0.012 * np.exp(-(((q + 0.23) / 0.06) ** 2))
    return (0.012 + helix + anti + concha + lobe) * (1 - rho ** 8)


def _front_edge(alpha: np.ndarray) -> np.ndarray:
    return np.clip(-np.cos(alpha), 0, 1) ** 2


def ear_back(rho: np.ndarray) -> np.ndarray:
    return -0.03 * (1 - rho ** 4)


def zip_rings(inner: np.ndarray, outer: np.ndarray, closed: bool) -> np.ndarray:
    """Triangles between two rings of vertex ids, the outer one r times finer (r an integer).

    Orientation follows the head grid: with the inner ring "above" the outer one and ids in order of
    increasing angle, every triangle is counter-clockwise. ``closed`` rings wrap around; open rings
    carry a seam duplicate as their last id. Reducing rings this way keeps vertex valence low near poles.
    """
    n_in = len(inner) if closed else len(inner) - 1
    n_out = len(outer) if closed else len(outer) - 1
    r = n_out // n_in
    if r * n_in != n_out:
        raise ValueError("outer ring must be an integer multiple of the inner ring")
    tris = []
    h = r // 2
    for k in range(n_in):
        i0, i1 = inner[k], inner[(k + 1) % len(inner)]
        o = [outer[(k * r + t) % len(outer)] for t in range(r + 1)]
        tris += [[i0, o[t], o[t + 1]] for t in range(h)]
        tris.append([i0, o[h], i1])
        tris += [[i1, o[t], o[t + 1]] for t in range(h, r)]
    return np.array(tris, dtype=np.int64)


def _ear_sheet(rho_rings: np.ndarray, sectors: tuple[int, ...], front: bool, uv_centre, uv_radius: float):
    """One sheet of the left ear: (verts, uvs, tris, coords), centre vertex first, then the rings
    (inner rings have fewer sectors so no vertex has a high valence)."""
    rr = [np.zeros(1)]
    aa = [np.zeros(1)]
    for rho, m in zip(rho_rings, sectors):
        rr.append(np.full(m, rho))
        aa.append(np.linspace(0.0, 2 * np.pi, m, endpoint=False))
    rr, aa = np.concatenate(rr), np.concatenate(aa)
    p, q = _ear_outline(aa)
    p, q = p * rr, q * rr
    h = ear_relief(rr, aa) if front else ear_back(rr)
    frame = ear_frame()
    verts = EAR_CENTRE + p[:, None] * frame[0] + q[:, None] * frame[1] + h[:, None] * frame[2]
    # UV: a disc; the back sheet is mirrored so both sheets keep a positive orientation.
    s = 1.0 if front else -1.0
    uv = np.stack([uv_centre[0] + s * uv_radius * rr * np.cos(aa),
                   uv_centre[1] + uv_radius * rr * np.sin(aa)], -1)
    starts = np.concatenate([[1], 1 + np.cumsum(sectors)])
    rings = [np.arange(starts[k], starts[k + 1]) for k in range(len(sectors))]
    first = rings[0]
    tris = [np.stack([np.zeros(len(first), np.int64), first, np.roll(first, -1)], -1)]
    for inner, outer in zip(rings[:-1], rings[1:]):
        tris.append(zip_rings(inner, outer, closed=True))
    tris = np.concatenate(tris)
    # Seen from the lateral side (+n), increasing alpha runs from +p (back) to +q (up): with
    # n = e_p x e_q that is counter-clockwise, so the front sheet keeps this order; the back is flipped.
    if not front:
        tris = tris[:, ::-1]
    coords = np.stack([rr, aa, np.full_like(rr, 0.0 if front else 1.0)], -1)
    return verts, uv, tris, coords


def build_ear(uv_front, uv_back, r_front: float, r_back: float):
    """Both sheets of the left ear, sharing the rim position (duplicated vertices for the UV seam)."""
    rings_f = np.linspace(0.0, 1.0, EAR_RINGS_FRONT + 1)[1:] ** 0.85
    rings_b = np.linspace(0.0, 1.0, EAR_RINGS_BACK + 1)[1:]
    sec = (6, 12) + (EAR_SECTORS,) * 20
    vf, uf, tf, cf = _ear_sheet(rings_f, sec[:EAR_RINGS_FRONT], True, uv_front, r_front)
    vb, ub, tb, cb = _ear_sheet(rings_b, sec[:EAR_RINGS_BACK], False, uv_back, r_back)
    return (np.concatenate([vf, vb]), np.concatenate([uf, ub]),
            np.concatenate([tf, tb + len(vf)]), np.concatenate([cf, cb]))


# --------------------------------------------------------------------------------------------------
# assembly

def build_head_mesh() -> HeadMesh:
    g = build_head_grid()
    n_rows, n_cols = g["n_rows"], g["n_cols"]
    n_grid = n_rows * n_cols
    tris = [_grid_triangles(n_rows, n_cols)]
    # Crown cap above the first grid row: rings with fewer and fewer columns, then the pole, so no
    # vertex has a high valence (point_buf stays narrow). Each cap ring is a line in UV like a grid row.
    cap_verts, cap_uvs, cap_tris = [], [], []
    outer = np.arange(n_cols)
    n_next = n_grid
    step = 1
    for k, (factor, theta) in enumerate(zip(CAP_REDUCTION, CAP_THETAS)):
        step *= factor
        cols = np.arange(0, n_cols, step)
        ring_dirs = S.ray_directions(g["phi"][cols], np.full(len(cols), theta))
        ring = S.RAY_CENTRE + ring_dirs * S.raycast(ring_dirs)[:, None]
        ids = n_next + np.arange(len(cols))
        v_ring = UV_GRID_TOP + (1.0 - UV_GRID_TOP) * (k + 1) / (len(CAP_REDUCTION) + 1)
        cap_verts.append(ring)
        cap_uvs.append(np.stack([cols / (n_cols - 1), np.full(len(cols), v_ring)], -1))
        cap_tris.append(zip_rings(ids, outer, closed=False))
        outer, n_next = ids, n_next + len(cols)
    pole = n_next
    i = np.arange(len(outer) - 1)
    cap_tris.append(np.stack([np.full_like(i, pole), outer[i], outer[i + 1]], -1))
    cap_verts.append(g["pole"][None])
    cap_uvs.append(np.array([[0.5, 1.0]]))
    tris += cap_tris
    cap = np.concatenate(cap_verts)
    n_cap = len(cap)
    j_idx, i_idx = np.meshgrid(np.arange(n_rows), np.arange(n_cols), indexing="ij")
    u = i_idx / (n_cols - 1)
    v = UV_GRID_TOP - (UV_GRID_TOP - UV_GRID_BOTTOM) * j_idx / (n_rows - 1)
    uvs = [np.stack([u, v], -1).reshape(-1, 2)] + cap_uvs
    verts = [g["verts"], cap]
    anchors = [g["anchors"], cap]
    part = [np.zeros(n_grid, np.int8), np.ones(n_cap, np.int8)]
    grid_index = [np.stack([j_idx, i_idx], -1).reshape(-1, 2), -np.ones((n_cap, 2), np.int64)]
    ear_coords = [np.full((n_grid + n_cap, 3), np.nan)]

    # Ears: front discs larger than back discs, in the strip below the head grid.
    rf, rb = 0.062, 0.05
    y0 = UV_GRID_BOTTOM / 2
    layout = {2: ((0.93, y0), (0.80, y0)), 3: ((0.07, y0), (0.20, y0))}   # left ear right in UV
    islands = {"head": (0.0, UV_GRID_BOTTOM, 1.0, 1.0)}
    offset = n_grid + n_cap
    for code, (cf, cb) in layout.items():
        v_e, uv_e, t_e, c_e = build_ear(cf, cb, rf, rb)
        if code == 3:  # right ear: mirror in x (and in u, which keeps the UV orientation positive)
            v_e = v_e * np.array([-1.0, 1.0, 1.0])
            t_e = t_e[:, ::-1]
            uv_e = uv_e.copy()
            n_front = int(np.sum(c_e[:, 2] == 0))
            uv_e[:n_front, 0] = 2 * cf[0] - uv_e[:n_front, 0]
            uv_e[n_front:, 0] = 2 * cb[0] - uv_e[n_front:, 0]
        verts.append(v_e)
        anchors.append(v_e)
        uvs.append(uv_e)
        tris.append(t_e + offset)
        part.append(np.full(len(v_e), code, np.int8))
        grid_index.append(-np.ones((len(v_e), 2), np.int64))
        ear_coords.append(c_e)
        islands["ear_left" if code == 2 else "ear_right"] = (cf, cb, rf, rb)
        offset += len(v_e)

    verts = np.concatenate(verts)
    n = len(verts)
    slit = np.concatenate([g["slit_code"], np.zeros(n - n_grid, np.int8)])
    mesh = HeadMesh(
        vertices=verts, anchors=np.concatenate(anchors), triangles=np.concatenate(tris).astype(np.int64),
        uvs=np.concatenate(uvs), part=np.concatenate(part), lower=np.zeros(n), slit=slit,
        grid_index=np.concatenate(grid_index).astype(np.int64), ear_coords=np.concatenate(ear_coords),
        phi=g["phi"], theta=g["theta"], slit_rows=g["slit_rows"], islands=islands)
    mesh.lower = lower_weight(mesh)
    return mesh


def lower_weight(mesh: HeadMesh) -> np.ndarray:
    """How much each vertex belongs to the jaw (moves with jaw_open): 1 below the mouth slit and on the
    chin, 0 above the slit; across the lips it switches between slit rows, outside it is smooth."""
    a = mesh.anchors
    x, y, z = a[:, 0], a[:, 1], a[:, 2]
    # Smooth field: below the mouth line, in front of the ears, above the neck.
    below = np.clip((S.MOUTH_Y - y) / 0.12 + 0.5, 0.0, 1.0)
    below = below * below * (3 - 2 * below)
    lateral = np.clip((z + 0.15) / 0.35, 0.0, 1.0)
    neck = np.clip((y + 1.35) / 0.3, 0.0, 1.0)
    w = below * lateral * neck
    # Across the lips: a hard switch at the slit (rows below the slit centre belong to the jaw).
    grid = mesh.part == 0
    row = np.where(grid, mesh.grid_index[:, 0], -1)
    s = mesh.slit_rows
    lip = np.clip(1.3 - 1.3 * np.abs(x) / S.MOUTH_HALF_WIDTH, 0.0, 1.0) * (np.abs(y - S.MOUTH_Y) < 0.2)
    hard = np.where(row > s[2], 1.0, np.where(row == s[2], 0.5, 0.0))
    hard = np.where(row < 0, w, hard)
    return np.where(grid, lip * hard + (1 - lip) * w, w * (mesh.part != 1))
