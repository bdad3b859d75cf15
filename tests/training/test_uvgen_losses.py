"""Losses of the UV-generator training: the official photometric loss, GAN losses, R1, and LPIPS-VGG
(written here; its weights come from files in torchvision / lpips layout, never downloaded)."""
from __future__ import annotations

import math
import warnings

import pytest
import torch
from styleface.errors import StyleFaceError
from styleface.nets.discriminator import Discriminator

from styleface_train.uvgen.losses import (d_logistic_loss, g_nonsaturating_loss, photometric_loss, r1_objective,
                                    r1_penalty)
from styleface_train.uvgen.perceptual import (LPIPS, SCALE, SHIFT, TAP_CHANNELS, build_perceptual, random_lpips,
                                        vgg16_features)


def test_photometric_loss_matches_a_hand_computation():
    pred = torch.zeros(2, 3, 2, 2)
    target = torch.zeros(2, 3, 2, 2)
    pred[0, :, 0, 0] = torch.tensor([0.3, 0.4, 0.0])      # distance 0.5 -> 127.5 / 255
    pred[0, 0, 1, 1] = 1.0                                # distance 1, but outside the mask
    pred[1, 2, 0, 1] = 0.2                                # distance 0.2 with weight 0.5
    mask = torch.zeros(2, 1, 2, 2)
    mask[0, 0, 0, 0] = 1.0
    mask[0, 0, 1, 0] = 1.0
    mask[1, 0, 0, 1] = 0.5
    mask[1, 0, 1, 1] = 0.5
    eps = math.sqrt(1e-8) / 255                           # +1e-8 inside the square root (0-255 scale)
    img0 = (math.sqrt((0.5 * 255) ** 2 + 1e-8) / 255 + eps) / 2
    img1 = (0.5 * math.sqrt((0.2 * 255) ** 2 + 1e-8) / 255 + 0.5 * eps) / 1.0
    got = photometric_loss(pred, target, mask)
    assert got.item() == pytest.approx((img0 + img1) / 2, rel=1e-6)
    # A (B, H, W) mask is the same thing; an empty mask gives 0, not NaN.
    assert photometric_loss(pred, target, mask[:, 0]).item() == pytest.approx(got.item())
    assert photometric_loss(pred, target, torch.zeros(2, 1, 2, 2)).item() == 0.0


def test_gan_losses():
    real = torch.tensor([[2.0], [-1.0]])
    fake = torch.tensor([[0.5], [-3.0]])
    sp = torch.nn.functional.softplus
    assert g_nonsaturating_loss(fake).item() == pytest.approx(sp(-fake).mean().item())
    assert d_logistic_loss(real, fake).item() == pytest.approx((sp(-real).mean() + sp(fake).mean()).item())
    assert d_logistic_loss(real, fake).item() == pytest.approx(
        (math.log1p(math.exp(-2)) + math.log1p(math.exp(1))) / 2 + (math.log1p(math.exp(0.5)) + math.log1p(math.exp(-3))) / 2)


def test_r1_is_the_squared_gradient_norm():
    # D(x) = sum(a * x^2): dD/dx = 2 a x, so R1 = mean over the batch of sum (2 a x)^2.
    a = torch.tensor(0.7)
    x = torch.randn(3, 2, 4, 4, generator=torch.Generator().manual_seed(0)).requires_grad_(True)
    pred = (a * x.pow(2)).flatten(1).sum(1, keepdim=True)
    want = (2 * a * x.detach()).pow(2).flatten(1).sum(1).mean()
    assert r1_penalty(pred, x).item() == pytest.approx(want.item(), rel=1e-6)


def test_r1_of_a_discriminator_matches_finite_differences():
    torch.manual_seed(0)
    d = Discriminator(8, channel_max=8, channels={8: 4, 4: 8}).double()
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64)
    reg, r1 = r1_objective(d, x, gamma=10.0, every=16)
    # Finite-difference gradient of sum_b D(x_b) along random directions, against autograd's.
    xg = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(d(xg).sum(), xg)
    gen = torch.Generator().manual_seed(1)
    for _ in range(3):
        v = torch.randn(x.shape, generator=gen, dtype=torch.float64)
        h = 1e-5
        fd = (d(x + h * v).sum() - d(x - h * v).sum()) / (2 * h)
        assert fd.item() == pytest.approx((grad * v).sum().item(), rel=1e-5, abs=1e-9)
    assert r1.item() == pytest.approx(grad.pow(2).flatten(1).sum(1).mean().item(), rel=1e-9)
    assert reg.item() == pytest.approx(5.0 * 16 * r1.item(), rel=1e-9)
    # The regulariser reaches every D parameter (double backward), so DDP sees all their gradients.
    reg.backward()
    assert all(p.grad is not None for p in d.parameters())


@pytest.fixture(scope="module")
def lpips_random():
    return random_lpips(seed=3)


def test_lpips_zero_for_identical_images_and_differentiable(lpips_random):
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 32, 32, generator=gen) * 2 - 1
    assert torch.allclose(lpips_random(x, x), torch.zeros(2))
    y = (x + 0.3 * torch.randn(x.shape, generator=gen)).clamp(-1, 1).requires_grad_(True)
    d = lpips_random(x, y)
    assert d.shape == (2,) and (d > 0).all()
    d.sum().backward()
    assert y.grad is not None and y.grad.abs().sum() > 0
    assert all(p.grad is None for p in lpips_random.parameters())   # the network itself is frozen
    # Each sample's distance depends on that sample only (no mixing across the batch).
    d1 = lpips_random(x[1:], y[1:].detach())
    assert d1.item() == pytest.approx(d[1].item(), rel=1e-5)
    with pytest.raises(StyleFaceError):
        lpips_random(x, y[:1])


def _reference_lpips(net: LPIPS, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """LPIPS spelt out tap by tap (relu1_2 .. relu5_3), to check the module's single loop."""
    shift, scale = torch.tensor(SHIFT).view(1, 3, 1, 1), torch.tensor(SCALE).view(1, 3, 1, 1)
    feats = []
    for img in (x, y):
        h = (img - shift) / scale
        out = []
        for i, layer in enumerate(net.net.features):
            h = layer(h)
            if i in (3, 8, 15, 22, 29):
                out.append(h / (h.pow(2).sum(1, keepdim=True).sqrt() + 1e-10))
        feats.append(out)
    total = 0
    for k, (a, b) in enumerate(zip(*feats)):
        total = total + ((a - b).pow(2) * getattr(net, f"lin{k}")).sum(1).mean((1, 2))
    return total


def test_lpips_loads_torchvision_and_lpips_files(tmp_path, monkeypatch):
    gen = torch.Generator().manual_seed(5)
    vgg = {f"features.{k}": torch.randn(v.shape, generator=gen) * 0.05
           for k, v in vgg16_features().state_dict().items()}
    vgg["classifier.0.weight"] = torch.zeros(4, 4)          # torchvision files carry the classifier too
    vgg_path = tmp_path / "vgg16-397923af.pth"
    torch.save(vgg, vgg_path)
    heads = {f"lin{k}.model.1.weight": torch.rand(1, c, 1, 1, generator=gen) for k, c in enumerate(TAP_CHANNELS)}
    heads_path = tmp_path / "vgg.pth"
    torch.save(heads, heads_path)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("STYLEFACE_VGG16", str(vgg_path))
    monkeypatch.setenv("STYLEFACE_LPIPS_HEADS", str(heads_path))
    net = build_perceptual("lpips")
    assert torch.equal(net.net.features[28].weight, vgg["features.28.weight"])
    assert torch.equal(net.lin4, heads["lin4.model.1.weight"])
    x = torch.rand(2, 3, 32, 32, generator=gen) * 2 - 1
    y = torch.rand(2, 3, 32, 32, generator=gen) * 2 - 1
    assert torch.allclose(net(x, y), _reference_lpips(net, x, y), rtol=1e-5)
    # An explicit path wins over the environment; a wrong file is a clear error.
    torch.save({"something": torch.zeros(1)}, tmp_path / "bad.pth")
    with pytest.raises(StyleFaceError, match="not a torchvision VGG16"):
        build_perceptual("lpips", vgg_weights=tmp_path / "bad.pth")
    with pytest.raises(StyleFaceError, match="not an LPIPS heads file"):
        build_perceptual("lpips", lpips_heads=tmp_path / "bad.pth")
    torch.save({**heads, "lin0.model.1.weight": -heads["lin0.model.1.weight"]}, tmp_path / "neg.pth")
    with pytest.raises(StyleFaceError, match="non-negative"):
        build_perceptual("lpips", lpips_heads=tmp_path / "neg.pth")
    # No heads anywhere: uniform heads with a warning (never silently).
    monkeypatch.delenv("STYLEFACE_LPIPS_HEADS")
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    with pytest.warns(UserWarning, match="uniform heads"):
        net = build_perceptual("lpips")
    assert torch.allclose(net.lin1, torch.full((1, 128, 1, 1), 1 / 128))


def test_missing_vgg_weights_name_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.delenv("STYLEFACE_VGG16", raising=False)
    with pytest.raises(StyleFaceError, match=r"\$STYLEFACE_VGG16.*vgg16-397923af\.pth"):
        build_perceptual("lpips")
    monkeypatch.setenv("STYLEFACE_VGG16", str(tmp_path / "nope.pth"))
    with pytest.raises(StyleFaceError, match="STYLEFACE_VGG16 points to"):
        build_perceptual("lpips")
    with pytest.raises(StyleFaceError, match="perceptual must be one of"):
        build_perceptual("vgg")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert build_perceptual("none") is None
        assert isinstance(build_perceptual("random"), LPIPS)
