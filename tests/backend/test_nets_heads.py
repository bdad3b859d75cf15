"""F3D, Fyaw / yaw symmetry and the UV generator: official layouts, output order, initialisation."""
from __future__ import annotations

import pytest
import torch

from styleface.errors import StyleFaceError
from styleface.facemodel.coeffs import BFM_LAYOUT, CoeffLayout
from styleface.nets.f3d import F3D
from styleface.nets.stylegan2 import Generator
from styleface.nets.uvgen import UVGenerator
from styleface.nets.yaw import Fyaw, YawSymmetry

from test_nets_stylegan2 import TINY, rosinality_generator_shapes, tiny_generator


def shapes(module: torch.nn.Module) -> dict[str, tuple]:
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def mlp_shapes(prefix: str, widths: list[int]) -> dict[str, tuple]:
    out = {}
    for i in range(len(widths) - 1):
        out[f"{prefix}.{2 * i}.weight"] = (widths[i + 1], widths[i])
        out[f"{prefix}.{2 * i}.bias"] = (widths[i + 1],)
    return out


def test_official_f3d_and_fyaw_layouts():
    with torch.device("meta"):
        f3d, fyaw = F3D(), Fyaw()
    assert shapes(f3d) == {**mlp_shapes("Net1", [7168, 4608, 3072, 1536, 512, 177]),
                           **mlp_shapes("Net2", [7168, 4608, 3072, 1536, 512, 80])}
    assert shapes(fyaw) == mlp_shapes("Net", [7168, 4608, 3072, 1536, 512, 1])
    assert isinstance(f3d.Net1[1], torch.nn.Tanh) and isinstance(f3d.Net2[1], torch.nn.ELU)
    assert f3d.layout == BFM_LAYOUT


def test_f3d_output_follows_the_layout_order():
    torch.manual_seed(0)
    layout = CoeffLayout(n_id=5, n_exp=4, n_tex=3)
    f3d = F3D(n_latent=6, style_dim=8, layout=layout, hidden=(12,)).eval()
    w = torch.randn(2, 6, 8)
    with torch.no_grad():
        out, main, tex = f3d(w), f3d.Net1(w.reshape(2, -1)), f3d.Net2(w.reshape(2, -1))
        assert torch.equal(f3d(w.reshape(2, -1)), out)
    assert out.shape == (2, layout.size)
    c = layout.split(out)
    assert torch.equal(torch.cat([c.id, c.exp], 1), main[:, :9])
    assert torch.equal(c.tex, tex)
    assert torch.equal(torch.cat([c.rot, c.gamma, c.trans], 1), main[:, 9:])


def test_f3d_without_texture_has_no_net2():
    layout = CoeffLayout(n_id=5, n_exp=4, n_tex=0)
    f3d = F3D(n_latent=6, style_dim=8, layout=layout, hidden=(12,))
    assert f3d.Net2 is None and not any(k.startswith("Net2") for k in f3d.state_dict())
    assert f3d(torch.randn(3, 48)).shape == (3, layout.size)
    again = F3D.from_state_dict(f3d.state_dict(), layout, style_dim=8)
    assert again.config() == f3d.config()
    with pytest.raises(StyleFaceError, match="pass style_dim"):
        F3D.from_state_dict(f3d.state_dict(), layout)
    with pytest.raises(StyleFaceError, match="W\\+ code"):
        f3d(torch.randn(3, 47))


def test_f3d_from_state_dict_infers_sizes_and_checks_the_layout():
    layout = CoeffLayout(n_id=5, n_exp=4, n_tex=3)
    f3d = F3D(n_latent=6, style_dim=8, layout=layout)
    again = F3D.from_state_dict(f3d.state_dict(), layout)
    assert (again.n_latent, again.style_dim, again.hidden) == (6, 8, (72, 48, 24, 8))
    with pytest.raises(StyleFaceError, match="Net1 predicts"):
        F3D.from_state_dict(f3d.state_dict(), CoeffLayout(n_id=6, n_exp=4, n_tex=3))
    with pytest.raises(StyleFaceError, match="Net2"):
        F3D.from_state_dict({k: v for k, v in f3d.state_dict().items() if k.startswith("Net1")}, layout)


def test_yaw_symmetry_is_w_plus_step_times_unit_direction():
    torch.manual_seed(0)
    ys = YawSymmetry(n_latent=4, style_dim=8, hidden=(10,)).eval()
    d = torch.randn(32) * 5
    ys.set_direction(d)
    assert torch.isclose(ys.direction.norm(), torch.tensor(1.0))
    w = torch.randn(3, 4, 8)
    with torch.no_grad():
        s = ys.step(w)
        assert s.shape == (3,)
        assert torch.allclose(ys(w), w + s.view(3, 1, 1) * (d / d.norm()).view(4, 8))
    with pytest.raises(StyleFaceError, match="expected 4 x 8"):
        ys.set_direction(torch.randn(31))
    with pytest.raises(StyleFaceError, match="zero"):
        ys.set_direction(torch.zeros(32))
    fy = Fyaw.from_state_dict(ys.fyaw.state_dict(), style_dim=8)
    assert fy.config() == ys.fyaw.config()
    both = YawSymmetry.from_parts(fy, d)
    assert torch.equal(both.direction, ys.direction)


def test_uv_generator_head_follows_the_channel_table():
    with torch.device("meta"):
        uv2, uv1 = UVGenerator(256), UVGenerator(256, channel_multiplier=1)
    expected = rosinality_generator_shapes(256, 2)
    expected.update({"uv_conv.conv.weight": (1, 3, 128, 1, 1), "uv_conv.conv.modulation.weight": (128, 512),
                     "uv_conv.conv.modulation.bias": (128,), "uv_conv.bias": (1, 3, 1, 1),
                     "uv_conv.upsample.kernel": (4, 4)})
    assert shapes(uv2) == expected and len(expected) == 140
    assert shapes(uv1)["uv_conv.conv.weight"] == (1, 3, 64, 1, 1)


def test_uv_generator_from_2d_generator_and_outputs():
    g = tiny_generator()
    g.set_latent_avg(torch.zeros(16))
    uv = UVGenerator.from_generator(g).eval()
    left = [k for k in uv.state_dict() if k.startswith("uv_conv.")]
    assert uv.init_from_2d(g.state_dict()) == left
    wp = g.to_wplus(torch.randn(2, 16)).detach()
    with torch.no_grad():
        diffuse, disp = uv(wp, noise="const")
        rgb = g.synthesis(wp, noise="const")
        # The diffuse map is the 2D image through tanh and [0, 1]; the displacement head is separate.
        assert torch.allclose(diffuse, (torch.tanh(rgb) + 1) / 2, atol=1e-6)
        _, feats, prev = g.synthesis_features(wp, noise="const")
        assert torch.allclose(disp, torch.tanh(uv.uv_conv(feats, wp[:, -1], prev)), atol=1e-6)
    assert diffuse.shape == disp.shape == (2, 3, 32, 32)
    assert 0 <= diffuse.min() and diffuse.max() <= 1 and -1 <= disp.min() and disp.max() <= 1
    assert torch.equal(uv.latent_avg, g.latent_avg)


def test_uv_generator_from_official_style_state_dict():
    torch.manual_seed(1)
    uv = UVGenerator(**TINY).eval()
    again = UVGenerator.from_state_dict(uv.state_dict())
    wp = torch.randn(1, uv.n_latent, 16)
    with torch.no_grad():
        a, b = uv(wp, noise="const"), again(wp, noise="const")
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    with pytest.raises(StyleFaceError, match="no 'uv_conv' head"):
        UVGenerator.from_state_dict(tiny_generator().state_dict())
    other = Generator(size=64, style_dim=8, n_mlp=1, channel_max=8)
    with pytest.raises(StyleFaceError, match="do not fit"):
        uv.init_from_2d(other.state_dict())
