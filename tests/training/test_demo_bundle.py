"""The interim demo bundle builder: exact stand-in mapping, a loadable bundle, sensible metrics."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from styleface.pipeline import Pipeline
from styleface_train.bundle.demo_bundle import UVFit, build_demo_bundle, main, standin_mapping, uv_texel_weights
from styleface_train.standin import StandInConfig, StandInGenerator


def test_mapping_copy_is_exact():
    s = StandInGenerator(StandInConfig(style_dim=16, n_latent=6, image_size=32, texture_size=16))
    m = standin_mapping(s)
    z = torch.randn(5, 16)
    torch.testing.assert_close(m(z), s.mapping(z), rtol=0, atol=1e-6)
    torch.testing.assert_close(m.to_wplus(z, 0.7), s.to_wplus(z, truncation=0.7), rtol=0, atol=1e-6)


def test_tiny_build_loads_and_generates(tmp_path):
    uv = UVFit(size=16, channels=((16, 8), (8, 8)), channel_max=8, steps=5, batch=4, warmup=2)
    out = build_demo_bundle(tmp_path / "demo", uv=uv, style_dim=16, f3d_steps=150, fyaw_steps=60,
                            batch=8, svm_samples=1000, log=lambda s: None, command="tiny")
    man = json.loads((out / "bundle.json").read_text())
    metrics = man["provenance"]["metrics"]
    assert metrics["f3d_val_l1"] < metrics["f3d_mean_baseline_l1"]  # F3D learned something
    assert metrics["svm_train_accuracy"] > 0.9
    for k in ("diffuse", "displacement"):
        assert 0 < metrics[f"uv_mean_baseline_l1_{k}"] < 1 and 0 < metrics[f"uv_val_l1_{k}"] < 2
    assert man["provenance"]["command"] == "tiny" and man["provenance"]["uv_fit"]["channels"] == {"16": 8, "8": 8}
    pipe = Pipeline.load(out, device="cpu")
    face = pipe.generate_one(3)
    assert face.vertices.shape == (pipe.model.n_vertices, 3) and face.diffuse.shape == (3, 16, 16)
    np.testing.assert_allclose(pipe.generate_one(3).diffuse, face.diffuse, atol=1e-6)
    # The noise maps were trained from zero and saved: the bundle does not hold the random buffers.
    uvgen = pipe.bundle.networks["uvgen"]
    assert float(getattr(uvgen.noises, f"noise_{uvgen.num_layers - 1}").abs().max()) < 0.5


def test_distillation_continues_from_a_trained_uv_generator(tmp_path):
    """--uv-init: the second run starts from the first run's network and noise maps (its first loss is the
    first run's last, not a fresh network's) and still writes a loadable bundle."""
    from styleface.nets.io import load_model
    from styleface_train.bundle.demo_bundle import fit_uvgen

    s = StandInGenerator(StandInConfig(style_dim=16, n_latent=6, image_size=32, texture_size=16))
    base = UVFit(size=16, channels=((16, 8), (8, 8)), channel_max=8, steps=40, batch=4, warmup=2)
    first, m1 = fit_uvgen(s, base, torch.Generator().manual_seed(0), lambda _: None)
    from styleface_train.common.modelfile import save_network
    save_network(tmp_path / "uvgen.safetensors", first)
    logs: list[str] = []
    cont = UVFit(size=16, channels=((16, 8), (8, 8)), channel_max=8, steps=1, batch=4, lr=1e-9, noise_lr=1e-9, warmup=0,
                 init=str(tmp_path / "uvgen.safetensors"))
    second, m2 = fit_uvgen(s, cont, torch.Generator().manual_seed(0), logs.append)
    # with a vanishing learning rate the continued network is the first one, noise maps included
    for k, v in first.state_dict().items():
        torch.testing.assert_close(second.state_dict()[k], v, atol=1e-6, rtol=0, msg=k)
    assert m2["uv_val_l1_diffuse"] == pytest.approx(m1["uv_val_l1_diffuse"], rel=1e-4)
    assert isinstance(load_model(tmp_path / "uvgen.safetensors"), type(first))
    wrong = UVFit(size=32, channels=((32, 8), (16, 8)), channel_max=8, steps=1, init=str(tmp_path / "uvgen.safetensors"))
    with pytest.raises(ValueError, match="not a 32 px UV generator"):
        fit_uvgen(s, wrong, torch.Generator(), lambda _: None)


def test_texel_weights_favour_features_and_used_texels():
    s = StandInGenerator(StandInConfig(style_dim=16, n_latent=6, image_size=32, texture_size=32))
    w = uv_texel_weights(s, 32, feature_weight=4.0, outside_weight=0.05)[0, 0]
    assert w.shape == (32, 32) and abs(float(w.mean()) - 1) < 1e-5
    assert float(w.max()) > 3 * float(w.median())  # eyes, lips, brows count more than plain skin
    assert float(w.min()) < 0.1 * float(w.median())  # texels no triangle uses barely count


def test_cli_rejects_bad_channels(capsys):
    with pytest.raises(SystemExit):
        main(["--out", "x", "--uv-channels", "128-24"])
    assert "channels must look like" in capsys.readouterr().err


def test_iris_weight_raises_only_the_iris_texels():
    from styleface.texture import UVLayers

    s = StandInGenerator(StandInConfig(style_dim=16, n_latent=6, image_size=32, texture_size=32))
    region = torch.from_numpy(UVLayers.for_model(s.face_model, 32).region("iris"))
    iris, other = region > 0.5, region == 0
    assert iris.any()
    base = uv_texel_weights(s, 32, feature_weight=4.0, outside_weight=0.05)[0, 0]
    more = uv_texel_weights(s, 32, feature_weight=4.0, outside_weight=0.05, iris_weight=20.0)[0, 0]
    rel_base, rel_more = base / base[other].mean(), more / more[other].mean()
    assert float(rel_more[iris].mean()) > 3 * float(rel_base[iris].mean())  # irises count several times more
    torch.testing.assert_close(rel_more[other], rel_base[other])  # every other texel keeps its relative weight


def test_modulation_lr_scales_only_the_modulation_weights():
    """modulation_lr=0 freezes the w -> style weights while everything else trains."""
    from styleface_train.bundle.demo_bundle import fit_uvgen

    from styleface.nets.uvgen import UVGenerator

    s = StandInGenerator(StandInConfig(style_dim=16, n_latent=6, image_size=32, texture_size=16))
    cfg = UVFit(size=16, channels=((16, 8), (8, 8)), channel_max=8, steps=3, batch=4, warmup=0, modulation_lr=0.0)
    torch.manual_seed(0)  # fit_uvgen builds the same network from the same seed
    start = UVGenerator(16, style_dim=16, n_mlp=1, channel_max=8, channels={16: 8, 8: 8}).state_dict()
    torch.manual_seed(0)
    trained, _ = fit_uvgen(s, cfg, torch.Generator().manual_seed(0), lambda _: None)
    after = trained.state_dict()
    mods = [k for k in after if k.endswith("modulation.weight")]
    convs = [k for k in after if k.endswith("conv.weight") and "modulation" not in k]
    assert mods and convs
    for k in mods:  # the fit scales them by style_init once, then never steps them
        torch.testing.assert_close(after[k], start[k] * cfg.style_init, msg=k)
    assert all(not torch.equal(after[k], start[k]) for k in convs)
    with pytest.raises(ValueError, match="modulation_lr must be >= 0"):
        fit_uvgen(s, UVFit(size=16, channels=((16, 8), (8, 8)), channel_max=8, steps=1, modulation_lr=-1.0),
                  torch.Generator(), lambda _: None)
