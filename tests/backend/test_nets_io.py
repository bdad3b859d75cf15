"""safetensors + JSON model files: exact round trips, allow-listed classes, clear errors."""
from __future__ import annotations

import json

import pytest
import torch

from styleface.errors import StyleFaceError
from styleface.facemodel.coeffs import CoeffLayout
from styleface.nets.f3d import F3D
from styleface.nets.io import load_model, model_paths, save_model
from styleface.nets.stylegan2 import Discriminator
from styleface.nets.uvgen import UVGenerator
from styleface.nets.yaw import Fyaw, YawSymmetry

from test_nets_stylegan2 import TINY, tiny_generator


def models() -> dict[str, torch.nn.Module]:
    torch.manual_seed(0)
    g = tiny_generator()
    g.set_latent_avg(torch.randn(16))
    ys = YawSymmetry(4, 8, hidden=(6,))
    ys.set_direction(torch.randn(32))
    return {
        "generator": g,
        "uvgen": UVGenerator(**TINY),
        "disc": Discriminator(32, channel_base=256, channel_max=16, stddev_group=2),
        "f3d": F3D(4, 8, CoeffLayout(n_id=3, n_exp=2, n_tex=2), hidden=(6, 5)),
        "f3d_notex": F3D(4, 8, CoeffLayout(n_id=3, n_exp=2, n_tex=0), hidden=(6,)),
        "fyaw": Fyaw(4, 8, hidden=(6,)),
        "yaw": ys,
    }


def test_round_trips_are_exact(tmp_path):
    for name, m in models().items():
        weights = save_model(m, tmp_path / name)
        assert weights == tmp_path / f"{name}.safetensors" and (tmp_path / f"{name}.json").is_file()
        back = load_model(tmp_path / f"{name}.json")
        assert type(back) is type(m) and back.config() == m.config() and not back.training
        sa, sb = m.state_dict(), back.state_dict()
        assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa), name
    g = load_model(tmp_path / "generator.safetensors")
    assert torch.equal(g.latent_avg, models()["generator"].latent_avg)
    z = torch.randn(2, 16)
    with torch.no_grad():
        assert torch.equal(g(z, noise="const"), models()["generator"].eval()(z, noise="const"))


def test_config_names_only_allowed_classes(tmp_path):
    save_model(models()["fyaw"], tmp_path / "m")
    cfg_path = model_paths(tmp_path / "m")[1]
    cfg = json.loads(cfg_path.read_text())
    cfg["class"] = "os.system"
    cfg_path.write_text(json.dumps(cfg))
    with pytest.raises(StyleFaceError, match="not allowed"):
        load_model(tmp_path / "m")
    cfg["class"] = "Fyaw"
    cfg["kwargs"] = {"n_latent": 4, "style_dim": 8, "hidden": [6], "evil": 1}
    cfg_path.write_text(json.dumps(cfg))
    with pytest.raises(StyleFaceError, match="evil"):
        load_model(tmp_path / "m")
    cfg["kwargs"] = {"n_latent": 4, "style_dim": 8, "hidden": [7]}
    cfg_path.write_text(json.dumps(cfg))
    with pytest.raises(StyleFaceError, match="has shape"):
        load_model(tmp_path / "m")


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(StyleFaceError, match="config not found"):
        load_model(tmp_path / "none")
    save_model(models()["fyaw"], tmp_path / "m")
    weights, cfg = model_paths(tmp_path / "m")
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    with pytest.raises(StyleFaceError, match="cannot read model weights"):
        load_model(tmp_path / "m")
    weights.unlink()
    with pytest.raises(StyleFaceError, match="weights not found"):
        load_model(tmp_path / "m")
    cfg.write_text("{not json")
    with pytest.raises(StyleFaceError, match="not valid JSON"):
        load_model(tmp_path / "m")
    cfg.write_text(json.dumps({"format": "other"}))
    with pytest.raises(StyleFaceError, match="not a StyleFace model config"):
        load_model(tmp_path / "m")


def test_unregistered_classes_cannot_be_saved(tmp_path):
    with pytest.raises(StyleFaceError, match="not a registered model class"):
        save_model(torch.nn.Linear(2, 2), tmp_path / "x")
