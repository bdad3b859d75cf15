"""UV-generator training on the toy stand-in: it learns, writes its outputs, skips the symmetric view
when asked, guards against non-finite losses, and refuses checkpoints of another configuration."""
from __future__ import annotations

import json

import pytest
import torch
from PIL import Image
from styleface.errors import StyleFaceError
from styleface.nets.discriminator import Discriminator
from styleface.nets.io import load_model
from styleface.nets.stylegan2 import Generator
from styleface.nets.uvgen import UVGenerator
from trainhelpers import main_cli
from uvgenhelpers import cli_generator_args, parts_for, tiny_config, uvgen_options, uvgen_standin

import styleface_train.uvgen.uvgen_setup as uvgen_setup
from styleface_train.common.checkpoint import read_checkpoint
from styleface_train.common.modelfile import save_network
from styleface_train.uvgen.uvgen_setup import UVGenOptions
from styleface_train.uvgen.uvgen_train import train_uvgen

pytestmark = pytest.mark.filterwarnings("ignore:.*starts from random weights")


@pytest.fixture(scope="module")
def standin8(toy_npz, toy_model):
    return uvgen_standin(toy_npz, toy_model)


@pytest.fixture(scope="module")
def parts(tmp_path_factory, standin8):
    return parts_for(standin8, tmp_path_factory.mktemp("parts"))


def _quiet(_msg: str) -> None:
    pass


def test_training_learns_and_writes_its_outputs(tmp_path, standin8, parts):
    base = tiny_config(steps=0, val_batches=3, perceptual="none", ema_decay=0.0)
    before = train_uvgen(uvgen_options(tmp_path / "zero", standin8, parts), base, log=_quiet)
    cfg = tiny_config(steps=20, val_batches=3, perceptual="none", ema_decay=0.0, image_every=10)
    out = tmp_path / "run"
    m = train_uvgen(uvgen_options(out, standin8, parts), cfg, log=_quiet)
    assert m["steps"] == 20 and m["skipped_steps"] == 0 and m["init"] == {"g": "random", "d": "random"}
    assert all(torch.isfinite(torch.tensor(v)) for v in m["last"].values())
    for k in ("g_gan", "g_gan_sym", "photo", "photo_sym", "d_loss", "d_loss_sym", "r1", "r1_sym", "d_real", "d_fake"):
        assert k in m["last"], k
    # The same fixed validation batches reconstruct better, and the maps move towards the stand-in's truth.
    assert m["val_photo"] < 0.95 * before["val_photo"]
    assert m["val_diffuse_l1_true"] < before["val_diffuse_l1_true"]
    net = load_model(out / "uvgen.safetensors")
    assert isinstance(net, UVGenerator) and net.size == 32 and net.n_latent == 8
    assert json.loads((out / "metrics.json").read_text())["val_photo"] == m["val_photo"]
    grids = sorted(p.name for p in (out / "grids").iterdir())
    assert grids == ["step_000000.png", "step_000010.png"]
    with Image.open(out / "grids" / grids[0]) as im:   # 6 rows (with the symmetric view) x 4 columns of 32 px
        assert im.size == (2 + 2 * 34, 2 + 6 * 34) and im.mode == "RGB"
    assert list((out / "tb").glob("events.out.tfevents.*"))
    meta = read_checkpoint(out / "checkpoint.safetensors")[1]
    assert meta["counters"]["finished"] and meta["counters"]["step"] == 20
    # A finished run trains nothing more when rerun; more --steps (operational) continue it.
    again = train_uvgen(uvgen_options(out, standin8, parts), cfg, log=_quiet)
    assert again["steps"] == 20 and again["runs"] == 2  # metrics.json still covers the whole run
    assert again["timed_steps"] == 20 and again["seconds_per_step"] == m["seconds_per_step"]
    assert again["last"] == m["last"]


class _CountingRenderer(uvgen_setup.FaceRenderer):
    calls = 0

    def render(self, *args, **kwargs):
        type(self).calls += 1
        return super().render(*args, **kwargs)


def test_lambda_mv_zero_skips_the_symmetric_view(tmp_path, standin8, parts, monkeypatch):
    monkeypatch.setattr(uvgen_setup, "FaceRenderer", _CountingRenderer)
    cfg = tiny_config(steps=2, lambda_mv=0.0, perceptual="none")
    m = train_uvgen(uvgen_options(tmp_path / "nosym", standin8, parts, yaw=False), cfg, log=_quiet)
    assert _CountingRenderer.calls == 2 + 1                # one render per step, one validation render
    assert not [k for k in m["last"] if k.endswith("_sym")]
    _CountingRenderer.calls = 0
    m = train_uvgen(uvgen_options(tmp_path / "sym", standin8, parts), tiny_config(steps=2, perceptual="none"),
                    log=_quiet)
    assert _CountingRenderer.calls == 2 * 3 + 1            # both views and the weight map, per step
    assert {"photo_sym", "g_gan_sym", "d_loss_sym"} <= set(m["last"])
    with pytest.raises(StyleFaceError, match="needs --yaw"):
        train_uvgen(uvgen_options(tmp_path / "x", standin8, parts, yaw=False), tiny_config(), log=_quiet)


def test_lpips_gradient_visibility_and_uv_mode_run(tmp_path, standin8, parts):
    cfg = tiny_config(steps=2, perceptual="random", visibility="gradient", render_mode="uv")
    m = train_uvgen(uvgen_options(tmp_path / "run", standin8, parts), cfg, log=_quiet)
    assert m["last"]["lpips"] > 0 and m["last"]["lpips_sym"] > 0 and m["val_lpips"] > 0
    assert all(torch.isfinite(torch.tensor(v)) for v in m["last"].values())


def test_non_finite_loss_skips_the_step_then_stops(tmp_path, standin8, parts):
    lines: list[str] = []
    cfg = tiny_config(steps=2, perceptual="none", debug_nan_steps=(1,))
    m = train_uvgen(uvgen_options(tmp_path / "nan", standin8, parts), cfg, log=lines.append)
    assert m["skipped_steps"] == 1
    assert "step 1: non-finite loss 'photo' (nan); step skipped" in lines
    # Step 1 (not a D step with n_critic 2) changed nothing: G, D, EMA and both Adam states are exactly
    # those after step 0.
    train_uvgen(uvgen_options(tmp_path / "one", standin8, parts), tiny_config(steps=1, perceptual="none"), log=_quiet)
    a = read_checkpoint(tmp_path / "nan" / "checkpoint.safetensors")[0]
    b = read_checkpoint(tmp_path / "one" / "checkpoint.safetensors")[0]
    assert sorted(a) == sorted(b) and any(k.startswith("model/g_ema/") for k in b)
    assert all(torch.equal(a[k], b[k]) for k in b)
    two = tiny_config(steps=2, perceptual="none")
    train_uvgen(uvgen_options(tmp_path / "two", standin8, parts), two, log=_quiet)   # without NaN step 1 does train
    c = read_checkpoint(tmp_path / "two" / "checkpoint.safetensors")[0]
    assert not torch.equal(c["model/g/uv_conv.conv.weight"], b["model/g/uv_conv.conv.weight"])
    cfg = tiny_config(steps=5, perceptual="none", debug_nan_steps=(1, 2, 3), max_bad_steps=3)
    with pytest.raises(StyleFaceError, match="3 consecutive steps with non-finite losses"):
        train_uvgen(uvgen_options(tmp_path / "stop", standin8, parts), cfg, log=_quiet)


def test_checkpoint_of_another_configuration_is_refused(tmp_path, standin8, parts):
    out = tmp_path / "run"
    train_uvgen(uvgen_options(out, standin8, parts), tiny_config(steps=1, perceptual="none"), log=_quiet)
    with pytest.raises(StyleFaceError, match=r"belongs to a different run \(lambda_rec: 10.0 -> 5.0\)"):
        train_uvgen(uvgen_options(out, standin8, parts), tiny_config(steps=2, perceptual="none", lambda_rec=5.0),
                    log=_quiet)
    m = train_uvgen(uvgen_options(out, standin8, parts), tiny_config(steps=2, perceptual="none", checkpoint_every=7),
                    log=_quiet)
    assert m["steps"] == 2
    with pytest.raises(StyleFaceError, match="--uv-size 64 reads 10 W\\+ rows, the generator makes 8"):
        train_uvgen(uvgen_options(tmp_path / "uv", standin8, parts), tiny_config(uv_size=64), log=_quiet)


def test_cli_uvgen(tmp_path, toy_npz, standin8, parts):
    common = ["uvgen", "--f3d", str(parts[0]), *cli_generator_args(toy_npz), "--batch-size", "2",
              "--channel-max", "16", "--channel-multiplier", "1", "--perceptual", "none", "--val-batches", "1"]
    code, out, err = main_cli(*common, "--out", str(tmp_path / "a"), "--steps", "1", "--no-symmetric")
    assert code == 0, err
    assert json.loads(out)["steps"] == 1 and (tmp_path / "a" / "uvgen.json").is_file()
    code, _, err = main_cli(*common, "--out", str(tmp_path / "b"))
    assert code == 2 and err.count("\n") == 1 and "needs --yaw" in err
    code, _, err = main_cli(*common, "--out", str(tmp_path / "c"), "--yaw", str(parts[1]), "--visibility", "x")
    assert code == 2 and "--visibility must be one of direct, gradient" in err
    code, _, err = main_cli(*common, "--out", str(tmp_path / "c"), "--no-symmetric", "--amp")
    assert code == 2 and "--amp needs a CUDA device" in err


def test_stylegan2_checkpoint_initialises_g_and_d(tmp_path, toy_npz, parts):
    torch.manual_seed(0)
    g = Generator(size=32, style_dim=32, n_mlp=2, channel_multiplier=1, channel_max=16)
    d = Discriminator(32, channel_multiplier=1, channel_max=16)
    ckpt = tmp_path / "tiny.pt"
    torch.save({"g_ema": g.state_dict(), "d": d.state_dict(), "latent_avg": torch.zeros(32)}, ckpt)
    opts = UVGenOptions(out=tmp_path / "run", f3d=parts[0], yaw=parts[1], generator=str(ckpt),
                        face_model=str(toy_npz))
    m = train_uvgen(opts, tiny_config(steps=0, max_yaw_deg=0.0, perceptual="none"), log=_quiet)
    assert m["init"] == {"g": "2d", "d": "checkpoint"}
    saved = read_checkpoint(tmp_path / "run" / "checkpoint.safetensors")[0]
    shared = [k for k in g.state_dict() if not k.startswith("noises.")]
    assert all(torch.equal(saved[f"model/g/{k}"], g.state_dict()[k]) for k in shared)
    assert all(torch.equal(saved[f"model/d/{k}"], v) for k, v in d.state_dict().items())
    m = train_uvgen(opts, tiny_config(steps=2, max_yaw_deg=0.0, perceptual="none"), log=_quiet)
    assert m["steps"] == 2 and all(torch.isfinite(torch.tensor(v)) for v in m["last"].values())


def test_batches_are_a_pure_function_of_stream_and_step(standin8, parts):
    from styleface_train.common.modelfile import load_f3d
    from styleface_train.uvgen.uvgen_setup import load_yaw_symmetry
    from styleface_train.uvgen.uvgen_views import ViewSampler

    f3d = load_f3d(parts[0])
    sampler = ViewSampler(standin8, f3d, load_yaw_symmetry(parts[1]), 3, 32, 30.0, 1.0, torch.device("cpu"))
    a = sampler.sample(sampler.rng("train:0", 5), True)
    b = sampler.sample(sampler.rng("train:0", 5), True)
    assert torch.equal(a.w, b.w) and torch.equal(a.target_sym, b.target_sym)
    assert not torch.equal(a.w, sampler.sample(sampler.rng("train:1", 5), True).w)   # another rank
    assert not torch.equal(a.w, sampler.sample(sampler.rng("train:0", 6), True).w)   # another step
    yaw = a.coeffs[:, f3d.layout.yaw_index].abs()
    assert a.target.shape == (3, 3, 32, 32) and (yaw < torch.deg2rad(torch.tensor(30.0))).all()
    # The symmetric view turns the other way (by F3D on the fitted Fyaw).
    assert (a.coeffs_sym[:, f3d.layout.yaw_index] * a.coeffs[:, f3d.layout.yaw_index] <= 0).float().mean() >= 2 / 3


def test_init_uvgen_starts_from_a_trained_network(tmp_path, standin8, parts):
    first = tmp_path / "first"
    train_uvgen(uvgen_options(first, standin8, parts), tiny_config(steps=2, perceptual="none"), log=_quiet)
    trained = load_model(first / "uvgen.safetensors")
    opts = uvgen_options(tmp_path / "tune", standin8, parts)
    opts.init_uvgen = first / "uvgen.safetensors"
    # other widths on the command line do not matter: the file's network is fine-tuned
    m = train_uvgen(opts, tiny_config(steps=0, perceptual="none", channel_max=8, render_mode="uv"), log=_quiet)
    assert m["init"]["g"] == "file uvgen.safetensors"
    start = load_model(tmp_path / "tune" / "uvgen.safetensors").state_dict()
    assert all(torch.equal(v, start[k]) for k, v in trained.state_dict().items())
    # resuming with another starting network is refused; a network of another size is refused
    other = tmp_path / "other"
    train_uvgen(uvgen_options(other, standin8, parts), tiny_config(steps=1, perceptual="none", seed=5), log=_quiet)
    opts.init_uvgen = other / "uvgen.safetensors"
    with pytest.raises(StyleFaceError, match="belongs to a different run"):
        train_uvgen(opts, tiny_config(steps=1, perceptual="none", channel_max=8, render_mode="uv"), log=_quiet)
    save_network(tmp_path / "small.safetensors", UVGenerator(16, style_dim=standin8.style_dim, n_mlp=1, channel_max=8))
    opts = uvgen_options(tmp_path / "bad", standin8, parts)
    opts.init_uvgen = tmp_path / "small.safetensors"
    with pytest.raises(StyleFaceError, match="is a 16 px UV generator .* this run needs 32 px"):
        train_uvgen(opts, tiny_config(steps=1, perceptual="none"), log=_quiet)


def test_const_noise_feeds_g_its_fixed_maps(tmp_path, standin8, parts, monkeypatch):
    """--noise const (fine-tuning a distilled G) runs G on the noise maps it was saved with, as at inference."""
    seen: list[object] = []
    forward = UVGenerator.forward

    def spy(self, wplus, *, noise="random", generator=None):
        seen.append(noise)
        return forward(self, wplus, noise=noise, generator=generator)

    monkeypatch.setattr(UVGenerator, "forward", spy)
    train_uvgen(uvgen_options(tmp_path / "c", standin8, parts), tiny_config(steps=2, perceptual="none", noise="const"),
                log=_quiet)
    assert seen and set(seen) == {"const"}
    seen.clear()
    train_uvgen(uvgen_options(tmp_path / "r", standin8, parts), tiny_config(steps=1, perceptual="none"), log=_quiet)
    assert set(seen) == {"random"}
    with pytest.raises(StyleFaceError, match="--noise must be one of random, const"):
        tiny_config(noise="fixed").validate()
