"""Checkpoint loaders: rosinality .pt, NVlabs .pkl (synthetic, same pickle structure), official StyleFaceUV
.ckpt files; malicious pickles are refused without running; bad files give one-line errors."""
from __future__ import annotations

import argparse
import collections
import io
import os
import pickle
import sys
import types
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import torch

from styleface.errors import StyleFaceError
from styleface.facemodel.coeffs import CoeffLayout
from styleface.nets.checkpoints import load_nvlabs, load_rosinality, load_stylegan2
from styleface.nets.f3d import F3D
from styleface.nets.nvlabs import convert_generator
from styleface.nets.official import load_official, load_pose_direction
from styleface.nets.stylegan2 import Discriminator, Generator
from styleface.nets.uvgen import UVGenerator
from styleface.nets.yaw import Fyaw

from test_nets_stylegan2 import TINY, rosinality_generator_shapes, tiny_generator

LAYOUT = CoeffLayout(n_id=4, n_exp=3, n_tex=2)


def tiny_discriminator(seed: int = 1, size: int = 32) -> Discriminator:
    torch.manual_seed(seed)
    return Discriminator(size, channel_base=256, channel_max=16).eval()


def same_state(a: torch.nn.Module | dict, b: torch.nn.Module | dict) -> bool:
    sa = a.state_dict() if isinstance(a, torch.nn.Module) else a
    sb = b.state_dict() if isinstance(b, torch.nn.Module) else b
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@contextmanager
def fake_modules(**modules: dict):
    """Register throw-away modules (dotted names, parents included) only while a pickle is written."""
    added = []
    for name, attrs in modules.items():
        parts = name.split(".")
        for i in range(1, len(parts) + 1):
            sub = ".".join(parts[:i])
            if sub not in sys.modules:
                sys.modules[sub] = types.ModuleType(sub)
                added.append(sub)
        for k, v in attrs.items():
            if isinstance(v, (type, types.FunctionType)):
                v.__module__, v.__qualname__ = name, k
            setattr(sys.modules[name], k, v)
    try:
        yield
    finally:
        for sub in added:
            del sys.modules[sub]


class Evil:
    """Unpickling this would create the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


# -- rosinality ------------------------------------------------------------------------------------
def rosinality_file(tmp_path: Path, legacy: bool = False, **extra) -> tuple[Path, Generator, Discriminator]:
    g, d = tiny_generator(), tiny_discriminator()
    ck = {"g_ema": g.state_dict(), "d": d.state_dict(), "g": g.state_dict(),
          "args": argparse.Namespace(size=32, iter=10, path="lmdb", lr=0.002, distributed=False),
          "ada_aug_p": 0.0, "g_optim": {"state": {}, "param_groups": [{"lr": 0.002, "params": [0]}]}}
    ck.update(extra)
    p = tmp_path / ("legacy.pt" if legacy else "ckpt.pt")
    torch.save(ck, p, _use_new_zipfile_serialization=not legacy)
    return p, g, d


@pytest.mark.parametrize("legacy", [False, True])
def test_rosinality_checkpoint_loads_with_namespace_args(tmp_path, legacy):
    p, g, d = rosinality_file(tmp_path, legacy, latent_avg=torch.arange(16.0))
    ck = load_stylegan2(p)
    assert ck.source == "rosinality" and not ck.latent_avg_computed
    assert same_state(ck.generator, g) and torch.equal(ck.generator.latent_avg, torch.arange(16.0))
    assert same_state(ck.discriminator(), d)
    assert same_state(ck.training_generator(), g)
    z = torch.randn(2, 16)
    with torch.no_grad():
        assert torch.equal(ck.generator(z, noise="const"), g(z, noise="const"))


def test_missing_latent_avg_is_the_seeded_mean_of_10000_samples(tmp_path):
    p, g, _ = rosinality_file(tmp_path)
    ck = load_rosinality(p)
    assert ck.latent_avg_computed
    assert torch.allclose(ck.generator.latent_avg, g.mean_latent(10_000, seed=0))
    assert torch.equal(ck.generator.latent_avg, load_rosinality(p).generator.latent_avg)


def test_rosinality_without_g_ema_or_with_wrong_shapes_is_refused(tmp_path):
    torch.save({"d": tiny_discriminator().state_dict()}, tmp_path / "d.pt")
    with pytest.raises(StyleFaceError, match="no 'g_ema' entry"):
        load_rosinality(tmp_path / "d.pt")
    sd = tiny_generator().state_dict()
    sd["to_rgb1.bias"] = torch.zeros(1, 4, 1, 1)
    torch.save({"g_ema": sd}, tmp_path / "bad.pt")
    with pytest.raises(StyleFaceError, match="to_rgb1.bias has shape"):
        load_rosinality(tmp_path / "bad.pt")


@pytest.mark.parametrize("legacy", [False, True])
def test_truncated_garbage_and_missing_files_give_one_line_errors(tmp_path, legacy):
    p, _, _ = rosinality_file(tmp_path, legacy)
    data = p.read_bytes()
    for n in (20, len(data) // 2, len(data) - 10):
        cut = tmp_path / f"cut{n}.pt"
        cut.write_bytes(data[:n])
        with pytest.raises(StyleFaceError) as e:
            load_stylegan2(cut)
        assert "\n" not in str(e.value) and str(cut) in str(e.value)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"this is not a checkpoint at all")
    with pytest.raises(StyleFaceError, match="neither a PyTorch checkpoint"):
        load_stylegan2(junk)
    with pytest.raises(StyleFaceError, match="not a PyTorch checkpoint or it is corrupt"):
        load_rosinality(junk)
    with pytest.raises(StyleFaceError, match="not found"):
        load_stylegan2(tmp_path / "nope.pt")
    with pytest.raises(StyleFaceError, match="not a file"):
        load_stylegan2(tmp_path)


# -- NVlabs ----------------------------------------------------------------------------------------
def _reconstruct_persistent_obj(meta):  # pickled by reference only; never called
    raise AssertionError("the loader must not call the real persistence hook")


class EasyDict(dict):
    pass


class Persistent(torch.nn.Module):
    """Reduces like a torch_utils.persistence-decorated module (meta dict with source and __dict__)."""

    def __init__(self, class_name: str, **attrs) -> None:
        super().__init__()
        self._class_name = class_name
        for k, v in attrs.items():
            setattr(self, k, v)

    def __reduce__(self):
        state = dict(self.__dict__)
        name = state.pop("_class_name")
        meta = dict(type="class", version=6, class_name=name, state=state,
                    module_src=f"import os\nos.system('touch {MARKER_IN_SOURCE}')\nclass {name}: pass\n")
        return (_reconstruct_persistent_obj, (meta,))


MARKER_IN_SOURCE = Path("/tmp/styleface_test_module_src_executed")


def _fc(weight: torch.Tensor, bias: torch.Tensor, lr: float = 1.0) -> Persistent:
    m = Persistent("FullyConnectedLayer", activation="lrelu", weight_gain=np.float64(lr / np.sqrt(weight.shape[1])),
                   bias_gain=lr)
    m.weight, m.bias = torch.nn.Parameter(weight.clone()), torch.nn.Parameter(bias.clone())
    return m


def nvlabs_generator(g: Generator, w_avg: torch.Tensor) -> Persistent:
    """The NVlabs module tree (names and shapes of stylegan2-ada-pytorch) holding ``g``'s weights."""
    sd = {k: v.clone() for k, v in g.state_dict().items()}
    mapping = Persistent("MappingNetwork", z_dim=g.style_dim, c_dim=0, num_ws=g.n_latent, num_layers=g.n_mlp)
    for i in range(g.n_mlp):
        mapping.add_module(f"fc{i}", _fc(sd[f"style.{i + 1}.weight"], sd[f"style.{i + 1}.bias"], 0.01))
    mapping.register_buffer("w_avg", w_avg.clone())

    def layer(src: str, noise_idx: int, up: bool) -> Persistent:
        m = Persistent("SynthesisLayer", up=2 if up else 1, activation="lrelu", use_noise=True)
        m.affine = _fc(sd[f"{src}.conv.modulation.weight"], sd[f"{src}.conv.modulation.bias"])
        m.weight = torch.nn.Parameter(sd[f"{src}.conv.weight"][0])
        noise = sd[f"noises.noise_{noise_idx}"][0, 0]
        m.register_buffer("noise_const", noise)
        m.noise_strength = torch.nn.Parameter(sd[f"{src}.noise.weight"].reshape(()))
        m.bias = torch.nn.Parameter(sd[f"{src}.activate.bias"])
        filt = sd[f"{src}.conv.blur.kernel"] / 4 if up else sd["convs.0.conv.blur.kernel"] / 4
        m.register_buffer("resample_filter", filt)
        return m

    def torgb(src: str) -> Persistent:
        m = Persistent("ToRGBLayer", conv_clamp=None)
        m.affine = _fc(sd[f"{src}.conv.modulation.weight"], sd[f"{src}.conv.modulation.bias"])
        m.weight = torch.nn.Parameter(sd[f"{src}.conv.weight"][0])
        m.bias = torch.nn.Parameter(sd[f"{src}.bias"].reshape(-1))
        return m

    filt = sd["to_rgbs.0.upsample.kernel"] / 4
    synthesis = Persistent("SynthesisNetwork", img_resolution=g.size,
                           block_resolutions=[2**i for i in range(2, g.log_size + 1)])
    b4 = Persistent("SynthesisBlock", in_channels=0, resolution=4, architecture="skip")
    b4.register_buffer("resample_filter", filt.clone())
    b4.const = torch.nn.Parameter(sd["input.input"][0])
    b4.conv1, b4.torgb = layer("conv1", 0, False), torgb("to_rgb1")
    synthesis.b4 = b4
    for k in range(g.log_size - 2):
        r = 2 ** (k + 3)
        b = Persistent("SynthesisBlock", resolution=r, architecture="skip")
        b.register_buffer("resample_filter", sd[f"to_rgbs.{k}.upsample.kernel"] / 4)
        b.conv0 = layer(f"convs.{2 * k}", 2 * k + 1, True)
        b.conv1 = layer(f"convs.{2 * k + 1}", 2 * k + 2, False)
        b.torgb = torgb(f"to_rgbs.{k}")
        synthesis.add_module(f"b{r}", b)
    return Persistent("Generator", z_dim=g.style_dim, c_dim=0, w_dim=g.style_dim, img_resolution=g.size,
                      img_channels=3, _init_kwargs=EasyDict(mapping_kwargs=EasyDict(num_layers=g.n_mlp)),
                      mapping=mapping, synthesis=synthesis)


def nvlabs_discriminator(d: Discriminator, group: int) -> Persistent:
    sd = {k: v.clone() for k, v in d.state_dict().items()}

    def conv(weight: torch.Tensor, bias: torch.Tensor | None, kernel: torch.Tensor) -> Persistent:
        m = Persistent("Conv2dLayer", weight_gain=np.float64(1 / np.sqrt(weight[0].numel())), act_gain=np.sqrt(2.0))
        m.register_buffer("resample_filter", kernel.clone())
        m.weight = torch.nn.Parameter(weight)
        m.bias = torch.nn.Parameter(bias) if bias is not None else None
        return m

    filt = sd["convs.1.conv2.0.kernel"]
    root = Persistent("Discriminator", c_dim=0, img_resolution=d.size, img_channels=3)
    for j in range(1, int(np.log2(d.size)) - 1):
        r = d.size // 2 ** (j - 1)
        c = f"convs.{j}"
        blk = Persistent("DiscriminatorBlock", resolution=r, architecture="resnet")
        blk.register_buffer("resample_filter", filt.clone())
        if j == 1:
            blk.fromrgb = conv(sd["convs.0.0.weight"], sd["convs.0.1.bias"], filt)
        blk.conv0 = conv(sd[f"{c}.conv1.0.weight"], sd[f"{c}.conv1.1.bias"], filt)
        blk.conv1 = conv(sd[f"{c}.conv2.1.weight"], sd[f"{c}.conv2.2.bias"], sd[f"{c}.conv2.0.kernel"])
        blk.skip = conv(sd[f"{c}.skip.1.weight"], None, sd[f"{c}.skip.0.kernel"])
        root.add_module(f"b{r}", blk)
    b4 = Persistent("DiscriminatorEpilogue", cmap_dim=0, resolution=4, architecture="resnet")
    b4.mbstd = Persistent("MinibatchStdLayer", group_size=group, num_channels=1)
    b4.conv = conv(sd["final_conv.0.weight"], sd["final_conv.1.bias"], filt)
    b4.fc = _fc(sd["final_linear.0.weight"], sd["final_linear.0.bias"])
    b4.out = _fc(sd["final_linear.1.weight"], sd["final_linear.1.bias"])
    root.b4 = b4
    return root


def write_nvlabs_pickle(path: Path, payload: dict, protocol: int = pickle.DEFAULT_PROTOCOL) -> None:
    with fake_modules(**{"torch_utils.persistence": {"_reconstruct_persistent_obj": _reconstruct_persistent_obj},
                         "dnnlib.util": {"EasyDict": EasyDict}}):
        with open(path, "wb") as f:
            pickle.dump(payload, f, protocol=protocol)
    assert "torch_utils" not in sys.modules and "dnnlib" not in sys.modules


@pytest.mark.parametrize("protocol", [2, pickle.DEFAULT_PROTOCOL])
def test_nvlabs_pickle_converts_to_the_rosinality_generator_and_discriminator(tmp_path, protocol):
    MARKER_IN_SOURCE.unlink(missing_ok=True)
    g, d = tiny_generator(), tiny_discriminator()
    w_avg = torch.randn(16)
    p = tmp_path / "network-snapshot.pkl"
    write_nvlabs_pickle(p, {"G": nvlabs_generator(g, w_avg), "D": nvlabs_discriminator(d, group=2),
                            "G_ema": nvlabs_generator(g, w_avg), "augment_pipe": None,
                            "training_set_kwargs": EasyDict(path="ffhq.zip", resolution=32)}, protocol)
    ck = load_stylegan2(p)
    assert ck.source == "nvlabs" and not ck.latent_avg_computed and ck.notes == []
    assert same_state(ck.generator, g)
    assert torch.equal(ck.generator.latent_avg, w_avg)
    disc = ck.discriminator()
    assert same_state(disc, d) and disc.stddev_group == 2
    z = torch.randn(2, 16)
    with torch.no_grad():
        assert torch.equal(ck.generator(z, noise="const"), g(z, noise="const"))
    assert not MARKER_IN_SOURCE.exists()  # the embedded module source never ran


def test_nvlabs_unmappable_discriminator_is_skipped_with_a_note(tmp_path):
    g, d = tiny_generator(), tiny_discriminator()
    nd = nvlabs_discriminator(d, group=4)
    del nd.b32._modules["skip"]  # 'orig' architecture: no residual skip
    p = tmp_path / "orig.pkl"
    write_nvlabs_pickle(p, {"G_ema": nvlabs_generator(g, torch.zeros(16)), "D": nd})
    ck = load_nvlabs(p)
    assert ck.discriminator() is None and "resnet" in ck.notes[0]


def test_nvlabs_key_mapping_covers_the_256px_network():
    """Meta tensors named like stylegan2-ada-pytorch's G_ema at 256 px (cm 2 widths) convert to the
    exact rosinality key set and shapes."""
    ch = {4: 512, 8: 512, 16: 512, 32: 512, 64: 512, 128: 256, 256: 128}
    m = lambda *s: torch.empty(s, device="meta")  # noqa: E731
    sd = {"mapping.w_avg": m(512)}
    for i in range(8):
        sd[f"mapping.fc{i}.weight"], sd[f"mapping.fc{i}.bias"] = m(512, 512), m(512)

    def layer(p: str, cin: int, cout: int, r: int) -> None:
        sd.update({f"{p}.weight": m(cout, cin, 3, 3), f"{p}.bias": m(cout), f"{p}.affine.weight": m(cin, 512),
                   f"{p}.affine.bias": m(cin), f"{p}.noise_strength": m(), f"{p}.noise_const": m(r, r),
                   f"{p}.resample_filter": m(4, 4)})

    def torgb(p: str, cin: int) -> None:
        sd.update({f"{p}.weight": m(3, cin, 1, 1), f"{p}.bias": m(3), f"{p}.affine.weight": m(cin, 512),
                   f"{p}.affine.bias": m(cin)})

    sd["synthesis.b4.const"] = m(512, 4, 4)
    sd["synthesis.b4.resample_filter"] = m(4, 4)
    layer("synthesis.b4.conv1", 512, 512, 4)
    torgb("synthesis.b4.torgb", 512)
    for r in (8, 16, 32, 64, 128, 256):
        b = f"synthesis.b{r}"
        sd[f"{b}.resample_filter"] = m(4, 4)
        layer(f"{b}.conv0", ch[r // 2], ch[r], r)
        layer(f"{b}.conv1", ch[r], ch[r], r)
        torgb(f"{b}.torgb", ch[r])
    out, w_avg = convert_generator(sd)
    assert {k: tuple(v.shape) for k, v in out.items()} == rosinality_generator_shapes(256, 2)
    assert len(out) == 135 and tuple(w_avg.shape) == (512,)


def test_nvlabs_malicious_objects_are_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"
    g = tiny_generator()
    ng = nvlabs_generator(g, torch.zeros(16))
    ng.synthesis.b8.conv0.evil = Evil(marker)
    p = tmp_path / "evil.pkl"
    write_nvlabs_pickle(p, {"G_ema": ng})
    with pytest.raises(StyleFaceError, match="refusing to load .*posix.system"):
        load_stylegan2(p)
    assert not marker.exists()


def test_nvlabs_malicious_storage_blob_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    blob = io.BytesIO()
    torch.save({"x": Evil(marker)}, blob, _use_new_zipfile_serialization=False)

    class Storage:
        def __reduce__(self):
            return (torch.storage._load_from_bytes, (blob.getvalue(),))

    p = tmp_path / "evil_storage.pkl"
    with open(p, "wb") as f:
        pickle.dump({"G_ema": Storage()}, f)
    with pytest.raises(StyleFaceError, match="refusing to load .*posix.system"):
        load_nvlabs(p)
    assert not marker.exists()


def test_nvlabs_other_bad_pickles(tmp_path):
    p = tmp_path / "plain.pkl"
    with open(p, "wb") as f:
        pickle.dump({"G_ema": 3}, f)
    with pytest.raises(StyleFaceError, match="no 'G_ema' network"):
        load_nvlabs(p)
    g = tiny_generator()
    good = tmp_path / "good.pkl"
    write_nvlabs_pickle(good, {"G_ema": nvlabs_generator(g, torch.zeros(16))})
    data = good.read_bytes()
    cut = tmp_path / "cut.pkl"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(StyleFaceError, match="cannot read NVlabs network pickle"):
        load_stylegan2(cut)
    tf_like = tmp_path / "tf.pkl"
    with fake_modules(**{"dnnlib.tflib.network": {"Network": type("Network", (), {})}}):
        with open(tf_like, "wb") as f:
            pickle.dump({"G": sys.modules["dnnlib.tflib.network"].Network()}, f)
    with pytest.raises(StyleFaceError, match="dnnlib.tflib.network.Network"):
        load_nvlabs(tf_like)


# -- official StyleFaceUV --------------------------------------------------------------------------
class ModelCheckpoint:  # registered as pytorch_lightning's callback class only while saving
    pass


class AttributeDict(dict):
    pass


def lightning_save(path: Path, state_dict: dict, **extra) -> None:
    """A checkpoint with what PyTorch Lightning 1.x writes around the state dict."""
    param = torch.nn.Parameter(torch.zeros(1))
    sched = torch.optim.lr_scheduler.MultiStepLR(torch.optim.Adam([param], lr=1e-5), milestones=[5, 10, 15])
    ck = {"epoch": 24, "global_step": 55674, "pytorch-lightning_version": "1.2.0",
          "callbacks": {ModelCheckpoint: {"monitor": None, "best_model_score": None, "dirpath": "ckpt/"}},
          "optimizer_states": [{"state": {}, "param_groups": [{"lr": 1e-5, "params": [0]}]}],
          "lr_schedulers": [sched.state_dict()], "state_dict": state_dict, "hparams_name": "kwargs",
          "hyper_parameters": AttributeDict(style_to_3dmm_coeff_config={"target": "x", "params": {}},
                                            ckpt_path=None)}
    ck.update(extra)
    with fake_modules(**{"pytorch_lightning.callbacks.model_checkpoint": {"ModelCheckpoint": ModelCheckpoint},
                         "pytorch_lightning.utilities.parsing": {"AttributeDict": AttributeDict}}):
        torch.save(ck, path)
    assert "pytorch_lightning" not in sys.modules


def tiny_f3d(seed: int = 0) -> F3D:
    torch.manual_seed(seed)
    return F3D(n_latent=8, style_dim=16, layout=LAYOUT).eval()


def prefixed(prefix: str, module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {prefix + k: v for k, v in module.state_dict().items()}


def test_official_f3d_and_fyaw_lightning_checkpoints(tmp_path):
    f3d = tiny_f3d()
    torch.manual_seed(1)
    fyaw = Fyaw(n_latent=8, style_dim=16).eval()
    lightning_save(tmp_path / "f3d.ckpt", prefixed("stylecode_to_3dmm_coeff_model.", f3d))
    lightning_save(tmp_path / "fyaw.ckpt", prefixed("stylecode_to_scalar_model.", fyaw))
    a = load_official(tmp_path / "f3d.ckpt")
    assert a.kind == "lightning" and a.fyaw_state is None and a.uv_generator() is None
    assert same_state(a.f3d(LAYOUT), f3d)
    b = load_official(tmp_path / "fyaw.ckpt")
    assert same_state(b.fyaw(), fyaw)
    with pytest.raises(StyleFaceError, match="no yaw direction"):
        b.yaw_symmetry()
    d = torch.randn(1, 8 * 16)
    ys = b.yaw_symmetry(direction=d)
    assert torch.allclose(ys.direction, d.reshape(8, 16) / d.norm())


def test_official_full_checkpoint_with_all_parts(tmp_path):
    torch.manual_seed(2)
    uv = UVGenerator(**TINY).eval()
    g2, disc, f3d = tiny_generator(3), tiny_discriminator(4), tiny_f3d(5)
    fyaw = Fyaw(n_latent=8, style_dim=16).eval()
    direction = torch.randn(8, 16)
    sd = {**prefixed("generator_3d.", uv), **prefixed("generator_2d.", g2), **prefixed("discriminator_3d.", disc),
          **prefixed("stylecode_to_3dmm_coeff_model.", f3d), **prefixed("stylecode_to_scalar_model.", fyaw),
          "pose_direction": direction, "uvmask": torch.ones(1, 32, 32, dtype=torch.bool),
          "pure_3dmm_model.meanshape": torch.zeros(5, 3), "PerceptLoss.net.slice1.0.weight": torch.zeros(2)}
    lightning_save(tmp_path / "full.ckpt", sd)
    ck = load_official(tmp_path / "full.ckpt")
    assert same_state(ck.uv_generator(), uv) and same_state(ck.generator_2d(), g2)
    assert same_state(ck.discriminator(), disc) and same_state(ck.f3d(LAYOUT), f3d)
    ys = ck.yaw_symmetry()
    assert same_state(ys.fyaw, fyaw) and torch.allclose(ys.direction, direction / direction.norm())
    assert ck.uvmask.dtype == torch.bool and ck.uvmask.shape == (1, 32, 32)


def test_official_legacy_dicts_and_bare_state_dicts(tmp_path):
    f3d = tiny_f3d()
    fyaw = Fyaw(n_latent=8, style_dim=16)
    torch.save({"Stylecode to 3DMM Coeff": f3d.state_dict(), "optimizer": {"state": {}, "param_groups": []}},
               tmp_path / "legacy_f3d.pkl")
    torch.save({"Stylecode to Pose Scalar": fyaw.state_dict()}, tmp_path / "legacy_fyaw.pkl")
    torch.save(f3d.state_dict(), tmp_path / "bare.pt")
    assert same_state(load_official(tmp_path / "legacy_f3d.pkl").f3d(LAYOUT), f3d)
    assert load_official(tmp_path / "legacy_f3d.pkl").kind == "legacy"
    assert same_state(load_official(tmp_path / "legacy_fyaw.pkl").fyaw(), fyaw)
    assert same_state(load_official(tmp_path / "bare.pt").f3d(LAYOUT), f3d)
    with pytest.raises(StyleFaceError, match="Net1 predicts 40 values"):
        load_official(tmp_path / "bare.pt").f3d()  # default BFM layout does not fit
    torch.save({"something": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(StyleFaceError, match="not a StyleFaceUV checkpoint"):
        load_official(tmp_path / "other.pt")


def test_official_unknown_classes_are_refused_by_name(tmp_path):
    class DictConfig(dict):
        pass

    with fake_modules(**{"omegaconf.dictconfig": {"DictConfig": DictConfig}}):
        torch.save({"state_dict": prefixed("stylecode_to_3dmm_coeff_model.", tiny_f3d()),
                    "hyper_parameters": DictConfig(a=1)}, tmp_path / "omega.ckpt")
    with pytest.raises(StyleFaceError, match="'omegaconf.dictconfig.DictConfig', which is not on the allow-list"):
        load_official(tmp_path / "omega.ckpt")


def test_pose_direction_file(tmp_path):
    d = torch.randn(1, 8 * 16)
    torch.save(d, tmp_path / "pose_direction-new.pkl")
    got = load_pose_direction(tmp_path / "pose_direction-new.pkl", 8, 16)
    assert got.shape == (8, 16) and torch.allclose(got, (d / d.norm()).reshape(8, 16))
    with pytest.raises(StyleFaceError, match="expected 14 x 512"):
        load_pose_direction(tmp_path / "pose_direction-new.pkl")


# -- malicious pickles in every container ----------------------------------------------------------
def test_malicious_pickles_are_refused_in_every_container(tmp_path):
    marker = tmp_path / "pwned"
    f3d_sd = prefixed("stylecode_to_3dmm_coeff_model.", tiny_f3d())
    g_sd = tiny_generator().state_dict()
    cases = {
        "rosinality.pt": lambda p: torch.save({"g_ema": g_sd, "args": Evil(marker)}, p),
        "rosinality_legacy.pt": lambda p: torch.save({"g_ema": g_sd, "x": Evil(marker)}, p,
                                                     _use_new_zipfile_serialization=False),
        "lightning.ckpt": lambda p: lightning_save(p, f3d_sd, hyper_parameters={"evil": Evil(marker)}),
        "legacy_f3d.pkl": lambda p: torch.save({"Stylecode to 3DMM Coeff": Evil(marker)}, p),
        "pose_direction.pkl": lambda p: torch.save(Evil(marker), p),
    }
    loaders = {"rosinality.pt": load_stylegan2, "rosinality_legacy.pt": load_rosinality,
               "lightning.ckpt": load_official, "legacy_f3d.pkl": load_official,
               "pose_direction.pkl": load_pose_direction}
    for name, write in cases.items():
        p = tmp_path / name
        write(p)
        with pytest.raises(StyleFaceError, match="refusing to load .*posix.system"):
            loaders[name](p)
        assert not marker.exists(), name
    # The NVlabs container is covered by test_nvlabs_malicious_objects_are_refused_without_running.


def test_counter_and_ordered_dict_survive_the_allow_list(tmp_path):
    # What optimiser/scheduler states really contain must not be mistaken for code.
    sd = prefixed("stylecode_to_3dmm_coeff_model.", tiny_f3d())
    lightning_save(tmp_path / "x.ckpt", collections.OrderedDict(sd), extra_counter=collections.Counter(a=1))
    assert load_official(tmp_path / "x.ckpt").f3d_state is not None
