"""Exact parity with the official StyleFaceUV code for imported weights: its UV maps are sampled with
grid_sample's zero padding, which bundles record as ``uv_padding`` and every sampling path honours.

The official files are tiny ones in the official formats, written here (``official_files`` from
test_importers). The tiny model's UVs span [0, 1] with rows at v = 1.0 and u = 0 / 1, where the padding
matters, like BFM's v = 1.0 rows.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from styleface.assets import FaceAssets, sample_uv_map
from styleface.bundle import read_manifest
from styleface.errors import StyleFaceError
from styleface.export.obj import write_obj
from styleface.geometry import face_shape
from styleface.importers import import_official
from styleface.nets.yaw import Fyaw
from styleface.pipeline import Pipeline
from styleface.render import FaceRenderer
from test_importers import NL, SD, official_files  # noqa: F401  (fixture)


def official_sample(maps: torch.Tensor, uvs: np.ndarray) -> torch.Tensor:
    """The official FaceRenderer's lookup, written out: pixel coordinates (u * 255, 255 - 255 v) / 255
    mapped to [-1, 1], grid_sample with PyTorch's defaults (zero padding, align_corners False)."""
    uv = torch.as_tensor(uvs, dtype=torch.float32)
    px, py = uv[:, 0] * 255, 255 - 255 * uv[:, 1]
    grid = torch.stack([px / 255 * 2 - 1, py / 255 * 2 - 1], -1).view(1, 1, -1, 2).expand(maps.shape[0], -1, -1, -1)
    return F.grid_sample(maps, grid, mode="bilinear", align_corners=False)[:, :, 0].transpose(1, 2)


@pytest.mark.parametrize("padding", ["border", "zeros"])
def test_numpy_sampler_matches_grid_sample(padding):
    rng = np.random.default_rng(1)
    maps = rng.uniform(-1, 1, (3, 9, 13)).astype(np.float32)
    uvs = np.concatenate([rng.uniform(0, 1, (200, 2)), [[0, 0], [1, 1], [0, 1], [1, 0], [0.5, 1.0], [0.02, 0.99]]])
    grid = torch.as_tensor(np.stack([2 * uvs[:, 0] - 1, 1 - 2 * uvs[:, 1]], -1), dtype=torch.float32)
    ref = F.grid_sample(torch.as_tensor(maps)[None], grid.view(1, 1, -1, 2), padding_mode=padding,
                        align_corners=False)[0, :, 0].T.numpy()
    np.testing.assert_allclose(sample_uv_map(maps, uvs, padding), ref, atol=5e-6)  # float32 grid
    with pytest.raises(StyleFaceError, match="uv_padding"):
        sample_uv_map(maps, uvs, "reflection")


def _import(f, tmp_path, **kw):
    out = import_official(f["ckpt"], tmp_path / "bundle", bfm=f["bfm"], uv=f["uv"], stylegan2=f["sg2"], **kw)
    return out, Pipeline.load(out, device="cpu")


def test_official_import_reproduces_the_official_sampling(official_files, tmp_path):
    f = official_files
    out, pipe = _import(f, tmp_path)
    assert read_manifest(out).uv_padding == "zeros"
    assert json.loads((out / "bundle.json").read_text())["uv_padding"] == "zeros"
    uvs = pipe.model.uvs
    half = 0.5 / pipe.bundle.manifest.uv_resolution  # within half a texel of the border, padding is read
    edge = ((uvs < half) | (uvs > 1 - half)).any(1)
    assert (uvs[:, 1] == 1.0).sum() >= 10  # a row at v = 1.0, as in real BFM UVs
    face = pipe.generate_one(5)
    assert face.uv_padding == "zeros"
    wp = pipe.wplus(seeds=[5])
    with torch.no_grad():
        diffuse, disp = f["uvgen"](wp, noise="const")
    diffuse, disp = diffuse.clamp(0, 1), disp.clamp(-1, 1)  # what FaceAssets stores
    official_offset = 0.01 * official_sample(disp, uvs)[0].numpy()
    official_albedo = official_sample(diffuse, uvs)[0].numpy()

    # Baked vertices (displaced_vertices, which OBJ/GLB use) and the renderer's geometry and albedo.
    baked = face.displaced_vertices() - face.vertices
    renderer = FaceRenderer(pipe.model, padding_mode=pipe.bundle.manifest.uv_padding)
    c = pipe.coefficients(wp)
    geo = renderer.geometry(c, disp)
    t = pipe.model.tensors("cpu")
    render_offset = (geo.shape - face_shape(t, c.id, c.exp))[0].numpy()
    albedo = renderer.sample_vertices(diffuse)[0].numpy()
    errs = {"baked": np.abs(baked - official_offset).max(), "render": np.abs(render_offset - official_offset).max(),
            "albedo": np.abs(albedo - official_albedo).max()}
    print("parity vs the official sampling (max abs):", {k: float(v) for k, v in errs.items()})
    assert max(errs.values()) < 1e-6, errs
    # The border padding the project's own bundles use differs exactly at those vertices.
    border = FaceAssets.from_arrays(*_with_padding(face, "border"))
    off_b = border.displaced_vertices() - border.vertices
    diff = np.abs(off_b - official_offset).max(1)
    print("border padding instead: max abs offset error at edge vertices", float(diff[edge].max()),
          "elsewhere", float(diff[~edge].max()))
    assert diff[~edge].max() < 1e-6 and diff[edge].max() > 1e-4
    # Exporters bake with the face's padding.
    obj = tmp_path / "face.obj"
    write_obj(face, obj, bake_displacement=True)
    v = np.array([[float(x) for x in ln.split()[1:4]] for ln in obj.read_text().splitlines() if ln.startswith("v ")])
    np.testing.assert_allclose(v, face.displaced_vertices(), atol=1e-5)


def _with_padding(face: FaceAssets, padding: str):
    arrays, meta = face.to_arrays()
    assert meta["uv_padding"] == face.uv_padding
    return arrays, {**meta, "uv_padding": padding}


def test_fyaw_checkpoint_direction_is_read(official_files, tmp_path):
    """The Fyaw trainer's own checkpoint keeps d as 'pose_normal_direction' (with F3D and Fyaw weights);
    that direction, which Fyaw was trained with, is the one the bundle gets."""
    f = official_files
    torch.manual_seed(3)
    fyaw = Fyaw(NL, SD)
    d_fyaw = torch.randn(NL, SD)
    sd = {"stylecode_to_scalar_model." + k: v for k, v in fyaw.state_dict().items()}
    sd.update({"stylecode_to_3dmm_coeff_model." + k: v for k, v in f["f3d"].state_dict().items()})
    sd["pose_normal_direction"] = torch.nn.Parameter(d_fyaw, requires_grad=False)
    ck = tmp_path / "fyaw.ckpt"
    torch.save({"state_dict": sd, "hyper_parameters": {"pose_direction_path": "data/pose_direction-new.pkl"}}, ck)
    _, pipe = _import(f, tmp_path, fyaw_checkpoint=ck)
    yaw = pipe.bundle.networks["yaw"]
    np.testing.assert_allclose(yaw.direction.numpy(), (d_fyaw / d_fyaw.norm()).numpy(), atol=1e-6)
    w = torch.randn(2, NL, SD)
    np.testing.assert_allclose(yaw.step(w).numpy(), fyaw(w).detach().numpy(), atol=1e-5)
    # A Fyaw checkpoint without any direction, and a full checkpoint without one: a clear error.
    del sd["pose_normal_direction"]
    torch.save({"state_dict": sd}, ck)
    full = torch.load(f["ckpt"], weights_only=True)
    del full["state_dict"]["pose_direction"]
    torch.save(full, f["ckpt"])
    with pytest.raises(StyleFaceError, match="no yaw direction"):
        import_official(f["ckpt"], tmp_path / "b2", bfm=f["bfm"], uv=f["uv"], stylegan2=f["sg2"], fyaw_checkpoint=ck)


def test_manifest_padding_defaults_and_validation(official_files, tmp_path):
    out, _ = _import(official_files, tmp_path)
    man = json.loads((out / "bundle.json").read_text())
    del man["uv_padding"]  # bundles written before the key existed
    (out / "bundle.json").write_text(json.dumps(man))
    assert read_manifest(out).uv_padding == "border"
    assert Pipeline.load(out, device="cpu").generate_one(1).uv_padding == "border"
    man["uv_padding"] = "mirror"
    (out / "bundle.json").write_text(json.dumps(man))
    with pytest.raises(StyleFaceError, match="uv_padding"):
        read_manifest(out)


def test_assets_transport_keeps_padding():
    rng = np.random.default_rng(0)
    kw = dict(vertices=rng.normal(size=(3, 3)), faces=[[0, 1, 2]], uvs=[[0, 1], [1, 1], [0.5, 0]],
              diffuse=np.full((3, 4, 4), 0.5), displacement=np.full((3, 4, 4), 0.5))
    a = FaceAssets(**kw, uv_padding="zeros")
    b = FaceAssets.from_arrays(*a.to_arrays())
    assert b.uv_padding == "zeros"
    np.testing.assert_allclose(b.vertex_displacement()[0], 0.01 * 0.5 * 0.25)  # corner (0, 1): 1 of 4 taps
    assert FaceAssets(**kw).vertex_displacement()[0, 0] == pytest.approx(0.005)
    with pytest.raises(StyleFaceError, match="uv_padding"):
        FaceAssets(**kw, uv_padding="wrap")
