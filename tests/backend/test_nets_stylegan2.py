"""StyleGAN2 generator/discriminator: rosinality key layout, latent handling, determinism, FIR ops."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from styleface.errors import StyleFaceError
from styleface.nets.fir import make_kernel, upfirdn2d
from styleface.nets.stylegan2 import (
    Discriminator,
    Generator,
    channel_table,
    discriminator_kwargs_from_state_dict,
    generator_kwargs_from_state_dict,
)

TINY = dict(size=32, style_dim=16, n_mlp=2, channel_base=256, channel_max=16)


def tiny_generator(seed: int = 0, **kw) -> Generator:
    torch.manual_seed(seed)
    g = Generator(**{**TINY, **kw}).eval()
    with torch.no_grad():  # non-zero noise strengths and biases so every path matters
        for name, p in g.named_parameters():
            if name.endswith("noise.weight") or name.endswith("activate.bias"):
                p.normal_(0, 0.2)
    return g


# -- the documented rosinality layout, written out independently of the implementation ------------
def rosinality_generator_shapes(size: int, cm: int, style_dim: int = 512, n_mlp: int = 8) -> dict[str, tuple]:
    ch = {4: 512, 8: 512, 16: 512, 32: 512, 64: 256 * cm, 128: 128 * cm, 256: 64 * cm, 512: 32 * cm, 1024: 16 * cm}
    log = int(math.log2(size))
    s: dict[str, tuple] = {}
    for i in range(1, n_mlp + 1):
        s[f"style.{i}.weight"] = (style_dim, style_dim)
        s[f"style.{i}.bias"] = (style_dim,)
    s["input.input"] = (1, ch[4], 4, 4)

    def styled(p: str, cin: int, cout: int, up: bool) -> None:
        s[f"{p}.conv.weight"] = (1, cout, cin, 3, 3)
        s[f"{p}.conv.modulation.weight"] = (cin, style_dim)
        s[f"{p}.conv.modulation.bias"] = (cin,)
        s[f"{p}.noise.weight"] = (1,)
        s[f"{p}.activate.bias"] = (cout,)
        if up:
            s[f"{p}.conv.blur.kernel"] = (4, 4)

    def torgb(p: str, cin: int, up: bool) -> None:
        s[f"{p}.conv.weight"] = (1, 3, cin, 1, 1)
        s[f"{p}.conv.modulation.weight"] = (cin, style_dim)
        s[f"{p}.conv.modulation.bias"] = (cin,)
        s[f"{p}.bias"] = (1, 3, 1, 1)
        if up:
            s[f"{p}.upsample.kernel"] = (4, 4)

    styled("conv1", ch[4], ch[4], False)
    torgb("to_rgb1", ch[4], False)
    cin = ch[4]
    for k, i in enumerate(range(3, log + 1)):
        cout = ch[2**i]
        styled(f"convs.{2 * k}", cin, cout, True)
        styled(f"convs.{2 * k + 1}", cout, cout, False)
        torgb(f"to_rgbs.{k}", cout, True)
        cin = cout
    for j in range((log - 2) * 2 + 1):
        r = 2 ** ((j + 5) // 2)
        s[f"noises.noise_{j}"] = (1, 1, r, r)
    return s


def rosinality_discriminator_shapes(size: int, cm: int) -> dict[str, tuple]:
    ch = {4: 512, 8: 512, 16: 512, 32: 512, 64: 256 * cm, 128: 128 * cm, 256: 64 * cm, 512: 32 * cm, 1024: 16 * cm}
    log = int(math.log2(size))
    s: dict[str, tuple] = {"convs.0.0.weight": (ch[size], 3, 1, 1), "convs.0.1.bias": (ch[size],)}
    cin = ch[size]
    for j, i in enumerate(range(log, 2, -1), start=1):
        cout = ch[2 ** (i - 1)]
        s[f"convs.{j}.conv1.0.weight"] = (cin, cin, 3, 3)
        s[f"convs.{j}.conv1.1.bias"] = (cin,)
        s[f"convs.{j}.conv2.0.kernel"] = (4, 4)
        s[f"convs.{j}.conv2.1.weight"] = (cout, cin, 3, 3)
        s[f"convs.{j}.conv2.2.bias"] = (cout,)
        s[f"convs.{j}.skip.0.kernel"] = (4, 4)
        s[f"convs.{j}.skip.1.weight"] = (cout, cin, 1, 1)
        cin = cout
    s["final_conv.0.weight"] = (ch[4], cin + 1, 3, 3)
    s["final_conv.1.bias"] = (ch[4],)
    s["final_linear.0.weight"] = (ch[4], ch[4] * 16)
    s["final_linear.0.bias"] = (ch[4],)
    s["final_linear.1.weight"] = (1, ch[4])
    s["final_linear.1.bias"] = (1,)
    return s


def shapes_of(module: torch.nn.Module) -> dict[str, tuple]:
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def test_256_cm2_generator_has_rosinality_keys_and_shapes():
    expected = rosinality_generator_shapes(256, 2)
    assert len(expected) == 135
    with torch.device("meta"):
        g = Generator(256)
    assert shapes_of(g) == expected
    assert g.n_latent == 14 and g.num_layers == 13
    assert expected["convs.0.conv.weight"] == (1, 512, 512, 3, 3)
    assert expected["convs.11.conv.weight"] == (1, 128, 128, 3, 3)


def test_256_cm2_discriminator_has_rosinality_keys_and_shapes():
    expected = rosinality_discriminator_shapes(256, 2)
    assert len(expected) == 50
    with torch.device("meta"):
        d = Discriminator(256)
    assert shapes_of(d) == expected
    assert expected["final_conv.0.weight"] == (512, 513, 3, 3)
    assert expected["final_linear.0.weight"] == (512, 8192)


@pytest.mark.parametrize("size", [32, 64, 128, 512, 1024])
@pytest.mark.parametrize("cm", [1, 2])
def test_other_resolutions_and_multipliers_match_the_layout(size, cm):
    with torch.device("meta"):
        g = Generator(size, channel_multiplier=cm)
        d = Discriminator(size, channel_multiplier=cm)
    assert shapes_of(g) == rosinality_generator_shapes(size, cm)
    assert shapes_of(d) == rosinality_discriminator_shapes(size, cm)
    assert g.n_latent == 2 * int(math.log2(size)) - 2


def test_state_dict_built_from_documented_shapes_loads_strictly_with_detected_config():
    torch.manual_seed(0)
    sd = {k: torch.randn(s) for k, s in rosinality_generator_shapes(256, 2).items()}
    assert generator_kwargs_from_state_dict(sd) == dict(
        size=256, style_dim=512, n_mlp=8, blur_kernel=[1, 3, 3, 1], channel_multiplier=2)
    g = Generator.from_state_dict(sd)
    assert all(torch.equal(v, sd[k]) for k, v in g.state_dict().items())
    dsd = {k: torch.randn(s) for k, s in rosinality_discriminator_shapes(256, 2).items()}
    assert discriminator_kwargs_from_state_dict(dsd)["channel_multiplier"] == 2
    d = Discriminator.from_state_dict(dsd)
    assert all(torch.equal(v, dsd[k]) for k, v in d.state_dict().items())


def test_config_detection_for_cm1_and_custom_tables():
    with torch.device("meta"):
        sd1 = Generator(128, channel_multiplier=1).state_dict()
        sd_tiny = Generator(**TINY).state_dict()
        dsd = Discriminator(64, channel_multiplier=1).state_dict()
    assert generator_kwargs_from_state_dict(sd1)["channel_multiplier"] == 1
    kw = generator_kwargs_from_state_dict(sd_tiny)
    assert kw["channels"] == {str(k): v for k, v in channel_table(32, channel_base=256, channel_max=16).items()}
    assert kw["style_dim"] == 16 and kw["n_mlp"] == 2
    assert discriminator_kwargs_from_state_dict(dsd) == dict(size=64, blur_kernel=[1, 3, 3, 1], channel_multiplier=1)


def test_from_state_dict_reports_wrong_keys_and_shapes():
    g = tiny_generator()
    sd = g.state_dict()
    with pytest.raises(StyleFaceError, match="no 'style.1.weight'"):
        Generator.from_state_dict({k: v for k, v in sd.items() if not k.startswith("style.1.")})
    bad = dict(sd)
    bad["conv1.activate.bias"] = torch.zeros(3)
    with pytest.raises(StyleFaceError, match="conv1.activate.bias has shape"):
        Generator.from_state_dict(bad)
    extra = dict(sd, **{"bogus.weight": torch.zeros(1)})
    with pytest.raises(StyleFaceError, match="unexpected bogus.weight"):
        Generator.from_state_dict(extra)


def test_bad_resolution_is_a_clear_error():
    with pytest.raises(StyleFaceError, match="power of two"):
        Generator(100)


# -- latents ---------------------------------------------------------------------------------------
def test_z_w_and_wplus_inputs_agree_and_latents_are_returned():
    g = tiny_generator()
    z = torch.randn(2, 16)
    with torch.no_grad():
        img, wp = g(z, noise="const", return_latents=True)
        w = g.mapping(z)
        assert wp.shape == (2, g.n_latent, 16)
        assert torch.allclose(wp, w[:, None].expand_as(wp))
        assert torch.equal(g(w, input_space="w", noise="const"), img)
        assert torch.equal(g(wp, input_space="w+", noise="const"), img)
        assert torch.equal(g.synthesis(wp, noise="const"), img)
    assert img.shape == (2, 3, 32, 32)


def test_truncation_uses_latent_avg_or_explicit_centre():
    g = tiny_generator()
    z = torch.randn(3, 16)
    with pytest.raises(StyleFaceError, match="truncation needs a mean latent"):
        g.to_wplus(z, truncation=0.5)
    g.set_latent_avg(g.mean_latent(500, seed=1))
    with torch.no_grad():
        wp0 = g.to_wplus(z, truncation=0.0)
        assert torch.allclose(wp0, g.latent_avg.expand_as(wp0))
        w = g.mapping(z)
        wp = g.to_wplus(z, truncation=0.7)
        assert torch.allclose(wp[:, 0], g.latent_avg + 0.7 * (w - g.latent_avg), atol=1e-6)
        centre = torch.zeros(16)
        assert torch.allclose(g.to_wplus(w, "w", 0.5, centre)[:, 3], 0.5 * w)
        wplus = torch.randn(3, g.n_latent, 16)
        assert torch.allclose(g.to_wplus(wplus, "w+", 0.5, centre), 0.5 * wplus)


def test_mean_latent_is_reproducible():
    g = tiny_generator()
    a, b = g.mean_latent(300, seed=3), g.mean_latent(300, seed=3)
    assert torch.equal(a, b) and a.shape == (16,)
    assert not torch.equal(a, g.mean_latent(300, seed=4))


def test_style_mixing_splices_layers():
    g = tiny_generator()
    z1, z2 = torch.randn(2, 16), torch.randn(2, 16)
    with torch.no_grad():
        wp = g.to_wplus(z1, mix_latent=z2, inject_index=3)
        w1, w2 = g.mapping(z1), g.mapping(z2)
    assert torch.allclose(wp[:, :3], w1[:, None].expand(-1, 3, -1))
    assert torch.allclose(wp[:, 3:], w2[:, None].expand(-1, g.n_latent - 3, -1))
    gen_a, gen_b = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    with torch.no_grad():
        a = g.to_wplus(z1, mix_latent=z2, generator=gen_a)
        assert torch.equal(a, g.to_wplus(z1, mix_latent=z2, generator=gen_b))


def test_bad_latent_shapes_are_clear_errors():
    g = tiny_generator()
    with pytest.raises(StyleFaceError, match=r"z latent must be \(B, 16\)"):
        g(torch.randn(2, 8))
    with pytest.raises(StyleFaceError, match="W\\+ latent"):
        g(torch.randn(2, 3, 16), input_space="w+")
    with pytest.raises(StyleFaceError, match="input space"):
        g(torch.randn(2, 16), input_space="s")
    with pytest.raises(StyleFaceError, match="noise maps"):
        g(torch.randn(1, 16), noise=[torch.zeros(1, 1, 4, 4)])


# -- noise and determinism -------------------------------------------------------------------------
def test_fixed_and_seeded_noise_are_deterministic():
    g = tiny_generator()
    wp = g.to_wplus(torch.randn(2, 16)).detach()
    with torch.no_grad():
        a = g.synthesis(wp, noise="const")
        assert torch.equal(a, g.synthesis(wp, noise="const"))
        r1 = g.synthesis(wp, noise="random", generator=torch.Generator().manual_seed(7))
        r2 = g.synthesis(wp, noise="random", generator=torch.Generator().manual_seed(7))
        r3 = g.synthesis(wp, noise="random", generator=torch.Generator().manual_seed(8))
        assert torch.equal(r1, r2) and not torch.equal(r1, r3)
        maps = g.make_noise(2, torch.Generator().manual_seed(7))
        assert torch.equal(g.synthesis(wp, noise=maps), r1)
        const = [getattr(g.noises, f"noise_{i}") for i in range(g.num_layers)]
        assert torch.equal(g.synthesis(wp, noise=const), a)
        zero = g.synthesis(wp, noise="zero")
        assert not torch.equal(zero, a)


def test_batch_memory_format_and_modulation_paths_agree():
    g = tiny_generator()
    wp = g.to_wplus(torch.randn(3, 16)).detach()
    with torch.no_grad():
        g.channels_last = False
        ref = g.synthesis(wp, noise="const")
        g.channels_last = True
        assert torch.allclose(g.synthesis(wp, noise="const"), ref, atol=1e-5)
        single = torch.cat([g.synthesis(wp[i:i + 1], noise="const") for i in range(3)])
        assert torch.allclose(single, ref, atol=1e-5)
        conv = g.convs[2].conv  # upsampling layer: fused grouped vs shared-weight path
        x, s = torch.randn(3, conv.in_channel, 8, 8), torch.randn(3, 16)
        assert torch.allclose(conv(x, s, fused=True), conv(x, s, fused=False), atol=1e-5)


def test_modulated_conv_matches_a_direct_reference():
    g = tiny_generator()
    conv = g.convs[0].conv
    x, style = torch.randn(2, conv.in_channel, 4, 4), torch.randn(2, 16)
    with torch.no_grad():
        out = conv(x, style)
        s = conv.modulation(style)
        ref = []
        for b in range(2):  # the textbook formula: modulate, demodulate, transposed conv, blur
            w = conv.weight[0] * conv.scale * s[b].view(1, -1, 1, 1)
            w = w * torch.rsqrt(w.pow(2).sum([1, 2, 3], keepdim=True) + 1e-8)
            y = F.conv_transpose2d(x[b:b + 1], w.transpose(0, 1), stride=2)
            ref.append(upfirdn2d(y, conv.blur.kernel, pad=(1, 1)))
    assert torch.allclose(out, torch.cat(ref), atol=1e-5)


def test_gradients_flow_to_latents_and_weights():
    g = tiny_generator()
    g.train()
    wp = g.to_wplus(torch.randn(2, 16)).detach().requires_grad_(True)
    g.synthesis(wp, noise="const").square().mean().backward()
    assert wp.grad is not None and wp.grad.abs().sum() > 0
    assert g.convs[3].conv.weight.grad.abs().sum() > 0


def test_discriminator_scores_any_batch():
    torch.manual_seed(0)
    d = Discriminator(32, channel_base=256, channel_max=16).eval()
    with torch.no_grad():
        for b in (1, 3, 4, 6):
            assert d(torch.randn(b, 3, 32, 32)).shape == (b, 1)


# -- FIR -------------------------------------------------------------------------------------------
def _naive_upfirdn(x: np.ndarray, k: np.ndarray, up: int, down: int, pad: tuple[int, int]) -> np.ndarray:
    h, w = x.shape
    z = np.zeros((h * up, w * up))
    z[::up, ::up] = x
    p0, p1 = pad
    z = np.pad(z, ((max(p0, 0), max(p1, 0)), (max(p0, 0), max(p1, 0))))
    z = z[max(-p0, 0): z.shape[0] - max(-p1, 0), max(-p0, 0): z.shape[1] - max(-p1, 0)]
    kh, kw = k.shape
    out = np.zeros((z.shape[0] - kh + 1, z.shape[1] - kw + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):  # true convolution: kernel flipped
            out[i, j] = (z[i:i + kh, j:j + kw] * k[::-1, ::-1]).sum()
    return out[::down, ::down]


@pytest.mark.parametrize("up,down,pad", [(1, 1, (1, 2)), (2, 1, (2, 1)), (1, 2, (1, 1)), (2, 1, (-1, 0))])
def test_upfirdn2d_matches_naive_definition(up, down, pad):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 6)).astype(np.float32)
    k = rng.normal(size=(4, 3)).astype(np.float32)  # asymmetric: checks the flip
    got = upfirdn2d(torch.from_numpy(x)[None, None].repeat(1, 2, 1, 1), torch.from_numpy(k), up, down, pad)
    ref = _naive_upfirdn(x, k, up, down, pad)
    np.testing.assert_allclose(got[0, 1].numpy(), ref, atol=1e-5)


def test_make_kernel_is_normalised_outer_product():
    k = make_kernel([1, 3, 3, 1])
    assert k.shape == (4, 4) and torch.isclose(k.sum(), torch.tensor(1.0))
    assert torch.allclose(k, torch.outer(torch.tensor([1, 3, 3, 1.0]), torch.tensor([1, 3, 3, 1.0])) / 64)
