"""Data generation from a real StyleGAN2 checkpoint (a tiny random one in rosinality's format) and the
default stand-in on the demo head."""
from __future__ import annotations

import torch
from styleface.nets.stylegan2 import Generator
from trainhelpers import main_cli

from styleface_train.data.shards import read_manifest, read_tensors, shard_paths
from styleface_train.standin import StandInConfig, StandInGenerator


def _tiny_checkpoint(path):
    torch.manual_seed(0)
    g = Generator(size=16, style_dim=8, n_mlp=2, channel_multiplier=1, channel_max=8)
    torch.save({"g_ema": g.state_dict(), "latent_avg": torch.zeros(8)}, path)


def test_sample_from_a_stylegan2_checkpoint(tmp_path):
    ckpt = tmp_path / "tiny.pt"
    _tiny_checkpoint(ckpt)
    args = ["sample", "--generator", str(ckpt), "--count", "6", "--shard-size", "3", "--truncation", "0.7"]
    code, _, err = main_cli(*args, "--batch-size", "2", "--out", str(tmp_path / "a"))
    assert code == 0, err
    man = read_manifest(tmp_path / "a")
    assert man["generator"]["kind"] == "stylegan2" and not man["has_truth"] and man["image_size"] == 16
    t = read_tensors(shard_paths(tmp_path / "a", "shard", 2))
    assert t["image"].shape == (6, 16, 16, 3) and t["wplus"].shape == (6, 6, 8) and "truth_coeffs" not in t
    # Per-item seeds (z and noise): another batching gives the same images.
    code, _, err = main_cli(*args, "--batch-size", "3", "--out", str(tmp_path / "b"))
    assert code == 0, err
    u = read_tensors(shard_paths(tmp_path / "b", "shard", 2))
    assert torch.equal(t["z"], u["z"])
    assert (t["image"].int() - u["image"].int()).abs().max() <= 1


def test_default_standin_renders_the_demo_head():
    g = StandInGenerator(StandInConfig(style_dim=32, n_latent=4, image_size=64, texture_size=64))
    assert g.face_model.name != "toy-head"
    z = torch.randn(2, 32, generator=torch.Generator().manual_seed(0))
    img, truth = g.synthesis(g.to_wplus(z), return_truth=True)
    cover = truth["mask"].mean((1, 2, 3))
    assert img.shape == (2, 3, 64, 64) and ((cover > 0.3) & (cover < 0.95)).all()
    lm = truth["landmarks"]
    assert ((lm > 0) & (lm < 64)).all()
