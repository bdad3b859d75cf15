"""The UV-generator training on CUDA (skipped without a GPU; run on a GPU machine): the same batch
gives the same losses as on CPU (codes and noise are drawn on CPU, then moved), and bf16 autocast
(``--amp``) trains without non-finite steps."""
from __future__ import annotations

import pytest
import torch
from uvgenhelpers import parts_for, tiny_config, uvgen_options, uvgen_standin

from styleface_train.uvgen.uvgen_train import train_uvgen

pytestmark = [pytest.mark.filterwarnings("ignore:.*starts from random weights"),
              pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")]


def _train(tmp_path, toy_npz, toy_model, name, **kw):
    standin = uvgen_standin(toy_npz, toy_model)            # fresh: training moves it to the device
    f3d, yaw = parts_for(standin, tmp_path / "parts")
    return train_uvgen(uvgen_options(tmp_path / name, standin, (f3d, yaw)), tiny_config(**kw), log=lambda _m: None)


def test_cuda_step_matches_cpu(tmp_path, toy_npz, toy_model, no_tf32):
    kw = dict(steps=1, perceptual="random", ema_decay=0.0, val_batches=1)
    cpu = _train(tmp_path, toy_npz, toy_model, "cpu", device="cpu", **kw)["last"]
    gpu = _train(tmp_path, toy_npz, toy_model, "cuda", device="cuda", **kw)["last"]
    for k in ("photo", "photo_sym", "lpips", "lpips_sym", "g_gan", "g_gan_sym"):
        assert gpu[k] == pytest.approx(cpu[k], rel=2e-2, abs=1e-4), k


def test_cuda_amp_trains(tmp_path, toy_npz, toy_model):
    before = _train(tmp_path, toy_npz, toy_model, "zero", device="cuda", steps=0, perceptual="none",
                    ema_decay=0.0, val_batches=3)
    m = _train(tmp_path, toy_npz, toy_model, "amp", device="cuda", amp=True, steps=20, perceptual="random",
               ema_decay=0.0, val_batches=3)
    assert m["steps"] == 20 and m["skipped_steps"] == 0
    assert all(torch.isfinite(torch.tensor(v)) for v in m["last"].values())
    assert m["val_photo"] < 0.95 * before["val_photo"]
