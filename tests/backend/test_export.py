"""FaceAssets and its exporters: every file is read back and compared with what was written."""
from __future__ import annotations

import io
import json
import struct

import numpy as np
import pytest
from PIL import Image

from styleface.assets import DisplacementInfo, FaceAssets, sample_uv_map, vertex_normals
from styleface.errors import StyleFaceError
from styleface.export import export_face
from styleface.export.exr import read_displacement_exr
from styleface.export.glb import METRES_PER_MODEL_UNIT
from styleface.export.png import (decode_png, diffuse_to_uint8, encode_png16, read_displacement_png16,
                                  read_png)


# -- synthetic data ------------------------------------------------------------------------------

def grid_mesh(n: int = 6) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A flat n x n vertex quad in z = 0 facing +z (counter-clockwise seen from +z), uv = (x, y)."""
    t = np.linspace(0.0, 1.0, n)
    x, y = np.meshgrid(t, t)
    uvs = np.stack([x.ravel(), y.ravel()], 1).astype(np.float32)
    verts = np.concatenate([uvs * 2 - 1, np.zeros((n * n, 1), np.float32)], 1).astype(np.float32)
    faces = []
    for r in range(n - 1):
        for c in range(n - 1):
            a = r * n + c
            faces += [[a, a + 1, a + n + 1], [a, a + n + 1, a + n]]
    return verts, np.array(faces, np.int64), uvs


def octahedron() -> tuple[np.ndarray, np.ndarray]:
    v = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]], np.float32)
    f = np.array([[0, 2, 4], [2, 1, 4], [1, 3, 4], [3, 0, 4],
                  [2, 0, 5], [1, 2, 5], [3, 1, 5], [0, 3, 5]], np.int64)
    return v, f


def make_assets(h: int = 16, w: int = 20, mode: str = "generalized-xyz", rng_seed: int = 0,
                **kw) -> FaceAssets:
    rng = np.random.default_rng(rng_seed)
    verts, faces, uvs = grid_mesh()
    c = 3 if mode == "generalized-xyz" else 1
    args = dict(
        vertices=verts, faces=faces, uvs=uvs,
        diffuse=rng.uniform(0, 1, (3, h, w)).astype(np.float32),
        displacement=np.tanh(rng.normal(size=(c, h, w))).astype(np.float32),
        displacement_info=DisplacementInfo(mode=mode),
        coefficients={"id": rng.normal(size=4), "exp": rng.normal(size=3), "rot": [0.0, 0.3, 0.0]},
        stylecode=rng.normal(size=(4, 8)).astype(np.float32),
        seed=7,
        provenance={"bundle": "demo-test", "versions": {"styleface": "0.1.0"},
                    "options": {"truncation": 0.7}},
    )
    args.update(kw)
    return FaceAssets(**args)


# -- tiny readers used only by the tests ---------------------------------------------------------

def parse_obj(path):
    v, vt, vn, f, mtllib = [], [], [], [], None
    for line in path.read_text().splitlines():
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            continue
        if parts[0] == "v":
            v.append([float(x) for x in parts[1:4]])
        elif parts[0] == "vt":
            vt.append([float(x) for x in parts[1:3]])
        elif parts[0] == "vn":
            vn.append([float(x) for x in parts[1:4]])
        elif parts[0] == "f":
            corners = [[int(i) - 1 for i in p.split("/")] for p in parts[1:]]
            for cv, ct, cn in corners:
                assert cv == ct == cn
            f.append([c[0] for c in corners])
        elif parts[0] == "mtllib":
            mtllib = parts[1]
    return (np.array(v, np.float32), np.array(vt, np.float32), np.array(vn, np.float32),
            np.array(f, np.int64), mtllib)


def sample_image_nearest(img: np.ndarray, s: float, t_from_top: float) -> np.ndarray:
    h, w = img.shape[:2]
    return img[min(int(t_from_top * h), h - 1), min(int(s * w), w - 1)]


def glb_arrays(path):
    """Decode the GLB with pygltflib (an independent parser) into numpy arrays."""
    pygltflib = pytest.importorskip("pygltflib")
    g = pygltflib.GLTF2().load(str(path))
    blob = g.binary_blob()
    dtypes = {5126: np.float32, 5125: np.uint32}
    widths = {"SCALAR": 1, "VEC2": 2, "VEC3": 3}

    def accessor(i):
        a = g.accessors[i]
        bv = g.bufferViews[a.bufferView]
        start = (bv.byteOffset or 0) + (a.byteOffset or 0)
        n = a.count * widths[a.type]
        return np.frombuffer(blob, dtypes[a.componentType], n, start).reshape(a.count, -1)

    prim = g.meshes[0].primitives[0]
    img = g.images[g.textures[g.materials[prim.material].pbrMetallicRoughness.baseColorTexture.index].source]
    bv = g.bufferViews[img.bufferView]
    png = blob[(bv.byteOffset or 0):(bv.byteOffset or 0) + bv.byteLength]
    return {
        "gltf": g,
        "positions": accessor(prim.attributes.POSITION),
        "normals": accessor(prim.attributes.NORMAL),
        "texcoords": accessor(prim.attributes.TEXCOORD_0),
        "indices": accessor(prim.indices).reshape(-1, 3).astype(np.int64),
        "image": np.array(Image.open(io.BytesIO(png)).convert("RGB")),
        "mime": img.mimeType,
    }


# -- FaceAssets: sampling, normals, baking -------------------------------------------------------

def test_sample_uv_map_matches_grid_sample():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    m = rng.normal(size=(3, 9, 13)).astype(np.float32)
    uvs = np.concatenate([rng.uniform(0, 1, (200, 2)), [[0, 0], [1, 1], [0, 1], [1, 0], [0.5, 0.5]]])
    uvs = uvs.astype(np.float32)
    grid = torch.from_numpy(np.stack([2 * uvs[:, 0] - 1, 1 - 2 * uvs[:, 1]], -1)).view(1, 1, -1, 2)
    ref = torch.nn.functional.grid_sample(torch.from_numpy(m)[None], grid, mode="bilinear",
                                          padding_mode="border", align_corners=False)[0, :, 0].T.numpy()
    np.testing.assert_allclose(sample_uv_map(m, uvs), ref, atol=1e-5)


def test_vertex_normals_flat_and_closed():
    verts, faces, _ = grid_mesh()
    np.testing.assert_allclose(vertex_normals(verts, faces), np.tile([0, 0, 1], (len(verts), 1)), atol=1e-6)
    v, f = octahedron()
    np.testing.assert_allclose(vertex_normals(v, f), v, atol=1e-6)  # outward, unit length


def test_bake_constant_map():
    a = make_assets()
    const = np.array([0.5, -0.25, 1.0], np.float32)
    a.displacement = np.broadcast_to(const[:, None, None], a.displacement.shape).copy()
    a.displacement_info = DisplacementInfo(scale=0.02)
    moved = a.displaced_vertices()
    np.testing.assert_allclose(moved - a.vertices, np.tile(const * 0.02, (a.n_vertices, 1)), atol=1e-7)
    assert moved.dtype == np.float32 and moved.shape == a.vertices.shape


def test_bake_gradient_map_by_hand():
    """X grows with u and Y with v, each -1..1 across texel centres; Z stays 0."""
    h, w = 8, 10
    a = make_assets(h=h, w=w)
    u_centre = (np.arange(w) + 0.5) / w
    v_centre = 1 - (np.arange(h) + 0.5) / h            # row 0 is v = 1
    disp = np.zeros((3, h, w), np.float32)
    disp[0] = (2 * u_centre - 1)[None, :]
    disp[1] = (2 * v_centre - 1)[:, None]
    a.displacement = disp
    a.validate()
    off = a.displaced_vertices() - a.vertices
    u, v = a.uvs[:, 0].astype(np.float64), a.uvs[:, 1].astype(np.float64)
    expect_x = (2 * np.clip(u, 0.5 / w, 1 - 0.5 / w) - 1) * 0.01   # border padding clamps at the edges
    expect_y = (2 * np.clip(v, 0.5 / h, 1 - 0.5 / h) - 1) * 0.01
    np.testing.assert_allclose(off[:, 0], expect_x, atol=1e-7)
    np.testing.assert_allclose(off[:, 1], expect_y, atol=1e-7)
    np.testing.assert_allclose(off[:, 2], 0, atol=1e-9)
    # one vertex by hand: uv (0.4, 0.6) -> x = 0.4 * 10 - 0.5 = 3.5 -> between texels 3 and 4
    i = int(np.argmin(np.abs(a.uvs - [0.4, 0.6]).sum(1)))
    assert np.allclose(a.uvs[i], [0.4, 0.6])
    assert off[i, 0] == pytest.approx((disp[0, 0, 3] + disp[0, 0, 4]) / 2 * 0.01, abs=1e-8)
    assert off[i, 0] == pytest.approx(-0.002, abs=1e-8)
    assert off[i, 1] == pytest.approx(0.002, abs=1e-8)


def test_bake_normal_mode_and_mid_level():
    a = make_assets(mode="normal", displacement=np.full((1, 4, 4), 0.5, np.float32),
                    displacement_info=DisplacementInfo(mode="normal", scale=0.1, mid_level=0.25))
    off = a.displaced_vertices() - a.vertices
    np.testing.assert_allclose(off, np.tile([0, 0, 0.025], (a.n_vertices, 1)), atol=1e-7)


def test_coefficients_flat_and_named():
    sizes = {"id": 3, "exp": 2, "rot": 3}
    groups = FaceAssets.split_coefficients(np.arange(8), sizes)
    a = make_assets(coefficients=groups)
    assert a.coefficient_sizes() == sizes
    np.testing.assert_array_equal(a.coefficient_vector(), np.arange(8, dtype=np.float32))
    with pytest.raises(StyleFaceError, match="layout expects 8"):
        FaceAssets.split_coefficients(np.arange(7), sizes)


def test_to_from_arrays_round_trip(tmp_path):
    a = make_assets()
    arrays, meta = a.to_arrays()
    assert all(isinstance(x, np.ndarray) and x.dtype != object for x in arrays.values())
    meta = json.loads(json.dumps(meta))                      # JSON-able
    np.savez(tmp_path / "msg.npz", **arrays)
    with np.load(tmp_path / "msg.npz", allow_pickle=False) as z:
        b = FaceAssets.from_arrays(dict(z), meta)
    for name in ("vertices", "faces", "uvs", "diffuse", "displacement", "stylecode"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert list(b.coefficients) == list(a.coefficients)
    for k in a.coefficients:
        np.testing.assert_array_equal(a.coefficients[k], b.coefficients[k])
    assert (b.seed, b.provenance, b.displacement_info) == (a.seed, a.provenance, a.displacement_info)
    with pytest.raises(StyleFaceError, match="format"):
        FaceAssets.from_arrays(arrays, {"format": "other"})
    with pytest.raises(StyleFaceError, match="lacks arrays: uvs"):
        FaceAssets.from_arrays({k: v for k, v in arrays.items() if k != "uvs"}, meta)


_NAN_VERTS = grid_mesh()[0].copy()
_NAN_VERTS[3, 1] = np.nan


@pytest.mark.parametrize("changes, message", [
    ({"vertices": np.zeros((36, 2), np.float32)}, "vertices must be"),
    ({"vertices": _NAN_VERTS}, "vertices contains NaN"),
    ({"faces": np.array([[0, 1, 99]])}, "face indices"),
    ({"faces": np.array([[0.5, 1, 2]])}, "faces must hold integers"),
    ({"uvs": np.zeros((5, 2), np.float32)}, "uvs must be"),
    ({"uvs": np.full((36, 2), 1.5, np.float32)}, "uvs must lie"),
    ({"diffuse": np.zeros((4, 8, 8), np.float32)}, "diffuse must be"),
    ({"diffuse": np.full((3, 8, 8), 2.0, np.float32)}, "diffuse values"),
    ({"displacement": np.full((3, 8, 8), np.nan, np.float32)}, "displacement contains NaN"),
    ({"displacement": np.zeros((1, 8, 8), np.float32)}, r"displacement must be \(3, H, W\)"),
    ({"displacement": np.full((3, 8, 8), 1.5, np.float32)}, "displacement values"),
    ({"displacement_info": DisplacementInfo(mode="tangent")}, "mode 'tangent' unknown"),
    ({"displacement_info": DisplacementInfo(scale=0.0)}, "scale must be"),
    ({"stylecode": np.zeros(8, np.float32)}, "stylecode must be"),
    ({"coefficients": {"id": [np.inf]}}, "coefficient group 'id'"),
    ({"seed": "7"}, "seed must be"),
    ({"provenance": {"x": object()}}, "JSON"),
    ({"vertices": "abc"}, "numeric"),
])
def test_invalid_assets_raise(changes, message):
    with pytest.raises(StyleFaceError, match=message):
        make_assets(**changes)


def test_validate_after_mutation(tmp_path):
    a = make_assets()
    a.diffuse[0, 0, 0] = np.nan
    with pytest.raises(StyleFaceError, match="diffuse contains NaN"):
        a.validate()
    with pytest.raises(StyleFaceError, match="diffuse contains NaN"):
        export_face(a, tmp_path / "out", "x")
    assert not (tmp_path / "out").exists()


# -- exporters -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    a = make_assets()
    out = tmp_path_factory.mktemp("export")
    return a, export_face(a, out, "face"), out


def test_export_returns_all_files(exported):
    _, files, out = exported
    assert set(files) == {"obj", "mtl", "diffuse", "glb", "exr", "png16", "json"}
    assert all(p.is_file() and p.parent == out for p in files.values())
    assert files["obj"].name == "face.obj" and files["glb"].name == "face.glb"


def test_obj_round_trip(exported):
    a, files, _ = exported
    v, vt, vn, f, mtllib = parse_obj(files["obj"])
    np.testing.assert_array_equal(v, a.vertices)             # 9 significant digits: exact for float32
    np.testing.assert_array_equal(vt, a.uvs)
    np.testing.assert_array_equal(f, a.faces)
    np.testing.assert_allclose(vn, vertex_normals(a.vertices, a.faces), atol=1e-7)
    assert mtllib == files["mtl"].name
    mtl = files["mtl"].read_text()
    assert f"map_Kd {files['diffuse'].name}" in mtl
    img = np.array(Image.open(files["diffuse"]))
    assert img.dtype == np.uint8 and img.shape == (a.diffuse.shape[1], a.diffuse.shape[2], 3)
    np.testing.assert_array_equal(img, diffuse_to_uint8(a.diffuse))
    assert np.abs(img / 255.0 - a.diffuse.transpose(1, 2, 0)).max() <= 0.5 / 255 + 1e-6


def test_obj_with_trimesh(exported):
    trimesh = pytest.importorskip("trimesh")
    a, files, _ = exported
    m = trimesh.load(files["obj"], process=False, maintain_order=True)
    np.testing.assert_allclose(m.vertices, a.vertices, atol=1e-7)
    np.testing.assert_array_equal(m.faces, a.faces)
    np.testing.assert_allclose(m.visual.uv, a.uvs, atol=1e-7)


def test_texture_orientation_obj_and_glb(tmp_path):
    """Red top half of the map (row 0 = v = 1): a vertex at v = 0.9 samples red in both formats."""
    h, w = 16, 16
    diffuse = np.zeros((3, h, w), np.float32)
    diffuse[0, : h // 2] = 1.0   # top rows red
    diffuse[2, h // 2:] = 1.0    # bottom rows blue
    a = make_assets(h=h, w=w, diffuse=diffuse)
    files = export_face(a, tmp_path, "tex", formats=("obj", "glb"))
    _, vt, _, _, _ = parse_obj(files["obj"])
    img = np.array(Image.open(files["diffuse"]))
    top = int(np.argmin(np.abs(vt[:, 1] - 1.0) + np.abs(vt[:, 0] - 0.4)))
    i_hi = int(np.argmin(np.abs(vt - [0.4, 0.8]).sum(1)))
    i_lo = int(np.argmin(np.abs(vt - [0.4, 0.2]).sum(1)))
    for i, colour in ((top, [255, 0, 0]), (i_hi, [255, 0, 0]), (i_lo, [0, 0, 255])):
        s, v = vt[i]
        np.testing.assert_array_equal(sample_image_nearest(img, s, 1.0 - v), colour)   # OBJ: v up
    # and the explicit v = 0.9 case with the library sampler
    assert sample_uv_map(diffuse, np.array([[0.3, 0.9]]))[0].tolist() == [1.0, 0.0, 0.0]
    np.testing.assert_array_equal(sample_image_nearest(img, 0.3, 1.0 - 0.9), [255, 0, 0])

    g = glb_arrays(files["glb"])
    for i, colour in ((i_hi, [255, 0, 0]), (i_lo, [0, 0, 255])):
        s, t = g["texcoords"][i]                              # glTF: t from the image top
        np.testing.assert_array_equal(sample_image_nearest(g["image"], s, t), colour)


def test_glb_round_trip(exported):
    a, files, _ = exported
    data = files["glb"].read_bytes()
    magic, version, length = struct.unpack("<4sII", data[:12])
    assert (magic, version, length) == (b"glTF", 2, len(data))
    g = glb_arrays(files["glb"])
    np.testing.assert_allclose(g["positions"], a.vertices * METRES_PER_MODEL_UNIT, rtol=1e-6, atol=1e-8)
    np.testing.assert_array_equal(g["indices"], a.faces)
    np.testing.assert_array_equal(g["texcoords"][:, 0], a.uvs[:, 0])
    np.testing.assert_allclose(g["texcoords"][:, 1], 1.0 - a.uvs[:, 1], atol=1e-7)
    np.testing.assert_allclose(np.linalg.norm(g["normals"], axis=1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(g["image"], diffuse_to_uint8(a.diffuse))
    assert g["mime"] == "image/png"
    acc = g["gltf"].accessors[g["gltf"].meshes[0].primitives[0].attributes.POSITION]
    np.testing.assert_allclose(acc.min, g["positions"].min(0))
    np.testing.assert_allclose(acc.max, g["positions"].max(0))


def test_glb_with_trimesh(exported):
    trimesh = pytest.importorskip("trimesh")
    a, files, _ = exported
    m = trimesh.load(files["glb"], force="mesh", process=False)
    np.testing.assert_allclose(m.vertices, a.vertices * METRES_PER_MODEL_UNIT, atol=1e-7)
    np.testing.assert_array_equal(m.faces, a.faces)
    np.testing.assert_allclose(m.visual.uv, a.uvs, atol=1e-6)   # trimesh flips glTF's t back to v


def test_exr_round_trip_exact(exported):
    a, files, _ = exported
    data, info = read_displacement_exr(files["exr"])
    assert data.dtype == np.float32
    np.testing.assert_array_equal(data, a.displacement)
    assert info == a.displacement_info


def test_exr_and_png16_normal_mode(tmp_path):
    a = make_assets(mode="normal")
    files = export_face(a, tmp_path, "n", formats=("exr", "png16", "json"))
    data, info = read_displacement_exr(files["exr"])
    assert info.mode == "normal" and data.shape == a.displacement.shape
    np.testing.assert_array_equal(data, a.displacement)
    png = read_displacement_png16(files["png16"], channels=1)
    assert np.abs(png - a.displacement).max() <= 2 / 65535
    side = json.loads(files["json"].read_text())
    assert side["displacement"]["channels"] == 1
    assert "along the vertex normal" in side["displacement"]["applied"]


def test_png16_round_trip(exported):
    a, files, _ = exported
    raw = read_png(files["png16"])
    assert raw.dtype == np.uint16 and raw.shape == (*a.displacement.shape[1:], 3)
    encoded = raw.astype(np.float64).transpose(2, 0, 1) / 65535
    assert np.abs(encoded - (a.displacement * 0.5 + 0.5)).max() <= 2 / 65535
    assert np.abs(read_displacement_png16(files["png16"]) - a.displacement).max() <= 2 / 65535
    # Pillow opens the file (valid PNG) but only at 8 bits, which is why the project decodes it itself
    with Image.open(files["png16"]) as im:
        assert im.size == (a.displacement.shape[2], a.displacement.shape[1])
        assert np.abs(np.array(im, dtype=np.float64) / 255 - encoded.transpose(1, 2, 0)).max() < 1.01 / 255


def test_png_decoder_handles_all_filters(tmp_path):
    """Pillow picks per-row adaptive filters (Sub/Average/Paeth) for noisy RGB; our decoder agrees."""
    rng = np.random.default_rng(3)
    img = np.cumsum(rng.integers(0, 9, (12, 17, 3)), axis=1).astype(np.uint8)
    Image.fromarray(img).save(tmp_path / "a.png", optimize=True)
    np.testing.assert_array_equal(read_png(tmp_path / "a.png"), img)
    grey = (np.arange(30 * 7).reshape(30, 7) * 300).astype(np.uint16)
    np.testing.assert_array_equal(decode_png(encode_png16(grey))[..., 0], grey)
    with pytest.raises(StyleFaceError, match="not a PNG"):
        decode_png(b"nope")


def _reference_png(rows: np.ndarray, bpp: int, filters: list[int], depth: int, colour_type: int) -> bytes:
    """A deliberately naive PNG encoder (byte by byte) using a given filter per row."""
    import zlib

    def paeth(a, b, c):
        p = a + b - c
        pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
        return a if pa <= pb and pa <= pc else (b if pb <= pc else c)

    h, stride = rows.shape
    out = bytearray()
    prev = [0] * stride
    for r in range(h):
        cur = [int(x) for x in rows[r]]
        kind = filters[r % len(filters)]
        out.append(kind)
        for i in range(stride):
            a = cur[i - bpp] if i >= bpp else 0
            c = prev[i - bpp] if i >= bpp else 0
            pred = [0, a, prev[i], (a + prev[i]) // 2, paeth(a, prev[i], c)][kind]
            out.append((cur[i] - pred) & 0xFF)
        prev = cur

    def chunk(k, d):
        return struct.pack(">I", len(d)) + k + d + struct.pack(">I", zlib.crc32(k + d) & 0xFFFFFFFF)

    w = stride // bpp
    ihdr = struct.pack(">IIBBBBB", w, h, depth, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(bytes(out))) + chunk(b"IEND", b""))


def test_png_decoder_every_filter_16bit():
    rng = np.random.default_rng(5)
    img = rng.integers(0, 65536, (10, 7, 3)).astype(np.uint16)
    rows = img.astype(">u2").view(np.uint8).reshape(10, -1)
    data = _reference_png(rows, bpp=6, filters=[0, 1, 2, 3, 4], depth=16, colour_type=2)
    np.testing.assert_array_equal(decode_png(data), img)


def test_json_sidecar_complete(exported):
    a, files, _ = exported
    side = json.loads(files["json"].read_text())
    assert side["format"] == "styleface-face" and side["seed"] == 7
    assert side["coefficient_sizes"] == {"id": 4, "exp": 3, "rot": 3}
    np.testing.assert_allclose(side["coefficients"]["exp"], a.coefficients["exp"], rtol=1e-6)
    assert side["stylecode_shape"] == [4, 8]
    d = side["displacement"]
    assert (d["mode"], d["scale"], d["mid_level"], d["channels"]) == ("generalized-xyz", 0.01, 0.0, 3)
    assert d["encodings"]["exr"] == {"file": "face_displacement.exr", "type": "float32",
                                     "mid_level": 0.0, "scale": 0.01}
    assert d["encodings"]["png16"]["mid_level"] == 0.5
    assert d["encodings"]["png16"]["scale"] == pytest.approx(0.02)
    assert side["files"] == {k: p.name for k, p in files.items() if k != "json"}
    assert side["provenance"] == a.provenance
    assert side["mesh"]["displacement_baked"] is False
    assert side["mesh"]["vertices"] == a.n_vertices and side["mesh"]["faces"] == a.n_faces


def test_bake_option_moves_exported_vertices(tmp_path):
    a = make_assets()
    const = np.array([0.2, -0.4, 0.6], np.float32)
    a.displacement = np.broadcast_to(const[:, None, None], a.displacement.shape).copy()
    files = export_face(a, tmp_path, "baked", formats=("obj", "glb", "json"), bake_displacement=True)
    v, *_ = parse_obj(files["obj"])
    np.testing.assert_allclose(v - a.vertices, np.tile(const * 0.01, (a.n_vertices, 1)), atol=1e-6)
    np.testing.assert_array_equal(v, a.displaced_vertices())
    g = glb_arrays(files["glb"])
    np.testing.assert_allclose(g["positions"], a.displaced_vertices() * METRES_PER_MODEL_UNIT, atol=1e-7)
    assert json.loads(files["json"].read_text())["mesh"]["displacement_baked"] is True


@pytest.mark.parametrize("kwargs, message", [
    ({"formats": ("obj", "fbx")}, "unknown export format"),
    ({"formats": ()}, "no export format"),
    ({"stem": "a/b"}, "invalid file stem"),
    ({"stem": ""}, "invalid file stem"),
])
def test_export_face_bad_options(tmp_path, kwargs, message):
    args = {"stem": "x", **kwargs}
    with pytest.raises(StyleFaceError, match=message):
        export_face(make_assets(), tmp_path, **args)
