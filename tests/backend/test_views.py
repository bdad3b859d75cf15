"""styleface views / interpolate and the lighting edits, on a tiny random-weight bundle with a 2D generator."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from bundle_fixtures import STYLE_DIM, tiny_manifest, tiny_networks, write_tiny_bundle
from styleface.bundle import write_bundle
from styleface.cli import main
from styleface.errors import StyleFaceError
from styleface.geometry import sh_irradiance
from styleface.lighting import PRESETS, preset_gamma, rotate_gamma, rotation_matrix
from styleface.nets.stylegan2 import Generator
from styleface.pipeline import Pipeline
from styleface.views import Variant, ViewSynthesis, feathered_mask
from test_importers import official_files  # noqa: F401  (fixture)

SIZE = 32  # the 2D generator's image size (the tiny face spans about 20 px of it)


@pytest.fixture
def g2d_bundle(tmp_path, tiny_model):
    nets = tiny_networks(tiny_model)
    del nets["mapping"]
    torch.manual_seed(1)
    g = Generator(SIZE, style_dim=STYLE_DIM, n_mlp=1, channel_max=16)
    nets["generator2d"] = g
    nets["f3d"] = type(nets["f3d"])(g.n_latent, STYLE_DIM, tiny_model.layout, hidden=(24,))
    nets["yaw"] = type(nets["yaw"])(g.n_latent, STYLE_DIM, hidden=(8,))
    nets["yaw"].set_direction(torch.randn(g.n_latent, STYLE_DIM))
    nets["uvgen"] = type(nets["uvgen"])(SIZE, style_dim=STYLE_DIM, n_mlp=1, channel_max=16)
    man = tiny_manifest(n_latent=g.n_latent, image_resolution=SIZE, uv_resolution=SIZE)
    return write_bundle(tmp_path / "g2d", man, nets, face_model=tiny_model)


def test_feathered_mask():
    m = torch.zeros(1, 1, 40, 40)
    m[..., 10:30, 10:30] = 1
    s = feathered_mask(m, 2.0)
    assert s.min() >= 0 and s.max() <= 1
    assert torch.all(s[m == 0] == 0)                  # never outside the render
    assert s[0, 0, 20, 20] > 0.999                     # solid inside
    assert 0 < s[0, 0, 20, 10] < 0.5                   # soft at the silhouette
    row = s[0, 0, 20, 10:21]
    assert torch.all(row[1:] >= row[:-1] - 1e-6)       # rising towards the inside


def test_view_strips(g2d_bundle):
    pipe = Pipeline.load(g2d_bundle, device="cpu")
    vs = ViewSynthesis(pipe, feather=1.0)
    variants = [Variant("3D"), Variant("light", gamma=preset_gamma("left")),
                Variant("own light", light_rotation=90.0), Variant("jaw", expression={"jaw_open": 3.0})]
    yaws = [-20.0, 25.0]
    strip = vs.strips([4], yaws, variants=variants)[0]
    assert strip.seed == 4 and strip.image.shape == (SIZE, SIZE, 3)
    assert strip.edits.shape == (2, SIZE, SIZE, 3)
    assert list(strip.rows) == ["3D", "light", "own light", "jaw"]
    wp = pipe.wplus(seeds=[4])
    np.testing.assert_allclose(strip.edits, pipe.reference_images(wp, yaws)[0].permute(0, 2, 3, 1).numpy(), atol=1e-6)
    # The render is pasted in: outside the face's render mask every composite is the 2D image itself.
    c = pipe.coefficients(wp)
    diffuse, disp = pipe.uv_maps(wp)
    for k, yaw in enumerate([None] + yaws):
        rot = c.rot.clone()
        if yaw is not None:
            rot[:, 1] = math.radians(yaw)
        mask = vs.renderer.render(c.replace(rot=rot), diffuse, disp).mask[0, 0].numpy() > 0
        assert 0 < mask.sum() < mask.size
        comp = strip.rows["3D"][k]
        np.testing.assert_allclose(comp[~mask], strip.image[~mask], atol=1e-6)
        assert np.abs(comp[mask] - strip.image[mask]).max() > 1e-3
        # Relighting changes only pixels inside the face.
        for name in ("light", "own light"):
            diff = np.abs(strip.rows[name][k] - comp).max(-1)
            assert diff[~mask].max() < 1e-6 and diff[mask].max() > 1e-3
    # The expression moves the geometry (the tiny model's jaw_open basis is random).
    assert np.abs(strip.rows["jaw"] - strip.rows["3D"]).max() > 1e-3
    img = strip.to_image()
    assert img.shape == (5 * SIZE, 3 * SIZE, 3) and img.dtype == np.uint8
    # The same W+ given directly makes the same strip.
    again = vs.strips(wplus=wp.numpy(), yaws=yaws, variants=variants[:1])[0]
    np.testing.assert_allclose(again.rows["3D"], strip.rows["3D"], atol=1e-6)
    with pytest.raises(StyleFaceError, match="needs 2 values"):
        vs.strips([1], yaws, variants=[Variant("bad", expression=[1.0, 2.0, 3.0])])


def test_views_need_a_2d_generator(tmp_path, tiny_model):
    pipe = Pipeline.load(write_tiny_bundle(tmp_path / "b", tiny_model), device="cpu")
    with pytest.raises(StyleFaceError, match="no 2D generator"):
        pipe.views([0], [10.0])


def test_lighting_presets_and_rotation():
    n = torch.tensor([[[-1.0, 0, 0], [1.0, 0, 0], [0, 1.0, 0], [0, -1.0, 0]]])
    e = {name: sh_irradiance(n, preset_gamma(name)[None])[0, :, 0] for name in PRESETS}
    assert e["left"][0] > 2 * e["left"][1] and e["right"][1] > 2 * e["right"][0]
    assert e["top"][2] > 2 * e["top"][3] and torch.allclose(e["flat"], torch.full((4,), 0.92), atol=1e-3)
    # Rotating the light: the new irradiance at n is the old one at R^-1 n (any gamma, any angles).
    torch.manual_seed(0)
    gamma = 0.3 * torch.randn(2, 27)
    normals = torch.nn.functional.normalize(torch.randn(2, 50, 3, dtype=torch.float64), dim=-1)
    r = rotation_matrix(40.0, -25.0)
    new = sh_irradiance(normals.float(), rotate_gamma(gamma, 40.0, -25.0))
    old = sh_irradiance((normals @ r).float(), gamma)  # rows n @ R = R^-1 n
    torch.testing.assert_close(new, old, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(rotate_gamma(gamma, 0.0), gamma, atol=1e-5, rtol=0)
    torch.testing.assert_close(rotate_gamma(rotate_gamma(gamma, 30.0), 45.0), rotate_gamma(gamma, 75.0),
                               atol=1e-4, rtol=0)
    # A frontal light turned by +90 degrees lights the image's right side.
    side = sh_irradiance(n, rotate_gamma(preset_gamma("front")[None], 90.0))[0, :, 0]
    assert side[1] > 2 * side[0]
    with pytest.raises(StyleFaceError, match="unknown lighting preset"):
        preset_gamma("disco")


def test_interpolation(g2d_bundle, tmp_path):
    pipe = Pipeline.load(g2d_bundle, device="cpu")
    res = pipe.interpolate(2, 9, steps=5, yaws=[0.0, 30.0], image_size=32)
    assert res.ts == [0.0, 0.25, 0.5, 0.75, 1.0] and len(res.faces) == 5
    assert res.previews.shape == (5, 2, 32, 32, 3) and res.images.shape == (5, SIZE, SIZE, 3)
    ends = pipe.generate([2, 9])
    for face, ref in ((res.faces[0], ends[0]), (res.faces[-1], ends[1])):
        assert face.seed == ref.seed
        np.testing.assert_allclose(face.coefficient_vector(), ref.coefficient_vector(), atol=1e-5)
        np.testing.assert_allclose(face.diffuse, ref.diffuse, atol=1e-5)
    # Smooth: finer steps make proportionally smaller changes of every quantity.
    fine = pipe.interpolate(2, 9, steps=9, yaws=[0.0], image_size=32).step_sizes()
    coarse = pipe.interpolate(2, 9, steps=3, yaws=[0.0], image_size=32).step_sizes()
    for key in ("coefficients", "shape", "diffuse", "displacement"):
        assert max(fine[key]) < 0.5 * max(coarse[key]), key
    # W+ files: .npy (a W+ row) and a torch-saved w.
    np.save(tmp_path / "a.npy", res.extra["wplus_start"])
    torch.save(torch.as_tensor(res.extra["wplus_end"][0]), tmp_path / "b.pt")
    again = pipe.interpolate(tmp_path / "a.npy", str(tmp_path / "b.pt"), steps=2, yaws=[0.0], image_size=32)
    np.testing.assert_allclose(again.faces[0].stylecode, res.faces[0].stylecode, atol=1e-6)
    np.testing.assert_allclose(again.faces[1].stylecode[0], res.faces[-1].stylecode[0], atol=1e-6)
    np.save(tmp_path / "bad.npy", np.zeros(7))
    with pytest.raises(StyleFaceError, match="neither a w"):
        pipe.interpolate(tmp_path / "bad.npy", 1, steps=2)
    with pytest.raises(StyleFaceError, match="steps"):
        pipe.interpolate(1, 2, steps=1)


def test_cli_views_and_interpolate(g2d_bundle, tmp_path, capsys):
    out = tmp_path / "views"
    assert main(["views", "--bundle", str(g2d_bundle), "--seeds", "1,2", "--yaws=-15,15", "--lighting", "top",
                 "--light-rotations=60", "--expression", "jaw_open=2", "--expression", "0.5,0.5",
                 "--out", str(out), "--device", "cpu"]) == 0
    meta = json.loads((out / "views.json").read_text())
    assert [s["file"] for s in meta["strips"]] == ["views_000001.png", "views_000002.png"]
    assert meta["strips"][0]["rows"] == ["3D", "light: top", "own light +60 deg", "expr: jaw_open=2", "expr: values"]
    from PIL import Image
    assert Image.open(out / "views_000001.png").size == (3 * SIZE, 6 * SIZE)
    assert "per strip" in capsys.readouterr().out
    assert main(["views", "--bundle", str(g2d_bundle), "--lighting", "disco", "--out", str(out)]) == 2
    assert "unknown lighting preset" in capsys.readouterr().err
    out2 = tmp_path / "interp"
    assert main(["interpolate", "--bundle", str(g2d_bundle), "--from", "3", "--to", "4", "--steps", "3",
                 "--image-size", "32", "--out", str(out2), "--device", "cpu", "--quiet"]) == 0
    assert sorted(p.name for p in out2.iterdir()) == sorted(
        [f"step_00{k}.{e}" for k in range(3) for e in ("glb", "json")]
        + ["interpolation.png", "interpolation.json", "wplus_from.npy", "wplus_to.npy"])
    meta = json.loads((out2 / "interpolation.json").read_text())
    assert meta["from"] == "seed 3" and len(meta["step_rms"]["shape"]) == 2
    assert main(["views", "--bundle", str(g2d_bundle), "--wplus", str(out2 / "wplus_from.npy"),
                 "--out", str(out), "--device", "cpu", "--quiet"]) == 0
    assert (out / "views_wplus_from.png").is_file()
    assert main(["interpolate", "--bundle", str(g2d_bundle), "--from", "nope.npy", "--to", "4",
                 "--out", str(out2)]) == 2
    assert "not found" in capsys.readouterr().err


def test_views_on_an_official_import(official_files, tmp_path):
    """An imported official release (StyleGAN2 + yaw direction, zero UV padding) makes strips too."""
    from styleface.importers import import_official

    f = official_files
    out = import_official(f["ckpt"], tmp_path / "official", bfm=f["bfm"], uv=f["uv"], stylegan2=f["sg2"])
    pipe = Pipeline.load(out, device="cpu")
    strip = pipe.views([0], [-20.0, 20.0], lighting=["front"])[0]
    assert strip.image.shape == (16, 16, 3) and list(strip.rows) == ["3D", "light: front"]
    assert ViewSynthesis(pipe).renderer.padding_mode == "zeros"
