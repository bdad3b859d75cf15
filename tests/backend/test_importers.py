"""import-official and import-stylegan2 on tiny files in the official formats, written here."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.io
import torch

from tinyface import tiny_face_model
from styleface.cli import main
from styleface.errors import StyleFaceError
from styleface.nets.f3d import F3D
from styleface.nets.stylegan2 import Generator
from styleface.nets.uvgen import UVGenerator
from styleface.nets.yaw import Fyaw
from styleface.pipeline import Pipeline

SD, SIZE, NL = 32, 16, 6


def _write_bfm(path, model):
    n = model.n_vertices
    k_tex = 2
    scipy.io.savemat(path, {
        "meanshape": model.mean_shape.reshape(1, -1).astype(np.float64),
        "idBase": model.id_basis.reshape(3 * n, -1).astype(np.float64),
        "exBase": model.exp_basis.reshape(3 * n, -1).astype(np.float64),
        "meantex": np.full((1, 3 * n), 128.0),
        "texBase": np.ones((3 * n, k_tex)),
        "tri": model.triangles + 1,
        "keypoints": (model.landmarks + 1).reshape(1, 68).astype(np.float64),
    })
    return model.layout.__class__(n_id=model.n_id, n_exp=model.n_exp, n_tex=k_tex)


@pytest.fixture
def official_files(tmp_path):
    torch.manual_seed(0)
    model = tiny_face_model()
    bfm = tmp_path / "BFM_model_front.mat"
    layout = _write_bfm(bfm, model)
    uv = tmp_path / "BFM_UV_refined.mat"
    scipy.io.savemat(uv, {"UV_refine": model.uvs.astype(np.float64)})
    g = Generator(SIZE, style_dim=SD, n_mlp=1, channel_max=16)
    sg2 = tmp_path / "550000.pt"
    torch.save({"g_ema": g.state_dict(), "latent_avg": torch.zeros(SD)}, sg2)
    uvgen = UVGenerator(SIZE, style_dim=SD, n_mlp=1, channel_max=16)
    f3d = F3D(NL, SD, layout)  # the official widths, scaled to style_dim
    fyaw = Fyaw(NL, SD)
    sd = {}
    for prefix, net in (("generator_3d.", uvgen), ("stylecode_to_3dmm_coeff_model.", f3d),
                        ("stylecode_to_scalar_model.", fyaw)):
        sd.update({prefix + k: v for k, v in net.state_dict().items()})
    sd["pose_direction"] = torch.randn(NL, SD)
    sd["uvmask"] = torch.ones(1, 8, 8, dtype=torch.bool)
    ckpt = tmp_path / "epoch=24-step=74624.ckpt"
    torch.save({"state_dict": sd, "epoch": 24, "global_step": 74624}, ckpt)
    return dict(ckpt=ckpt, bfm=bfm, uv=uv, sg2=sg2, model=model, uvgen=uvgen, f3d=f3d)


def test_import_official_builds_a_working_bundle(official_files, tmp_path, capsys):
    f = official_files
    out = tmp_path / "bundle"
    assert main(["import-official", str(f["ckpt"]), "--out", str(out), "--bfm", str(f["bfm"]),
                 "--uv", str(f["uv"]), "--stylegan2", str(f["sg2"])]) == 0
    pipe = Pipeline.load(out, device="cpu")
    assert pipe.model.n_tex == 2 and pipe.bundle.networks["yaw"] is not None
    wp = pipe.wplus(seeds=[3])
    np.testing.assert_allclose(pipe.coefficients(wp).to_vector().numpy(), f["f3d"](wp).detach().numpy(), atol=1e-5)
    diffuse, disp = pipe.uv_maps(wp)
    d2, p2 = f["uvgen"](wp, noise="const")
    np.testing.assert_allclose(diffuse.numpy(), d2.detach().numpy(), atol=1e-5)
    face = pipe.generate_one(3)
    assert face.diffuse.shape == (3, SIZE, SIZE)
    ref = pipe.reference_images(wp, [-20.0, 20.0])
    assert ref.shape == (1, 2, 3, SIZE, SIZE)
    assert "Basel" in pipe.bundle.manifest.licence
    # The CLI runs end to end on it, with reference images and a contact sheet.
    gen_out = tmp_path / "faces"
    assert main(["generate", "--bundle", str(out), "--seeds", "0-1", "--out", str(gen_out), "--formats", "json",
                 "--reference-yaws=-20,20", "--device", "cpu", "--quiet"]) == 0
    assert (gen_out / "face_000001_reference.png").is_file() and (gen_out / "contact_sheet.png").is_file()


def test_import_official_errors(official_files, tmp_path):
    f = official_files
    with pytest.raises(StyleFaceError, match="needs the UV file"):
        from styleface.importers import import_official
        import_official(f["ckpt"], tmp_path / "x", bfm=f["bfm"], uv=None, stylegan2=f["sg2"])
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(StyleFaceError):
        import_official(bad, tmp_path / "y", bfm=f["bfm"], uv=f["uv"], stylegan2=f["sg2"])


def test_import_stylegan2(official_files, tmp_path, capsys):
    out = tmp_path / "sg2"
    assert main(["import-stylegan2", str(official_files["sg2"]), "--out", str(out)]) == 0
    from styleface.nets.io import load_model
    g = load_model(out / "generator2d")
    assert g.size == SIZE and g.style_dim == SD
    assert main(["import-stylegan2", str(official_files["sg2"]), "--out", str(out)]) == 2
    assert "not empty" in capsys.readouterr().err
