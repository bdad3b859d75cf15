"""FID: the Fréchet formula against hand computations, the FID Inception's key layout and preprocessing,
its weights-only loader and the missing-weights error, and FID behaviour with random Inception weights."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from styleface.errors import StyleFaceError

from styleface_train.evaluation.fid import activations, fid_from_features, frechet_distance, statistics
from styleface_train.evaluation.inception import FIDInceptionV3, load_fid_inception

CACHE_NAME = "pt_inception-2015-12-05-6726825d.pth"


def random_state(seed: int = 0) -> dict[str, torch.Tensor]:
    """A state dict in the FID Inception's layout with He-normal convolutions and identity batch norms."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for k, v in FIDInceptionV3().state_dict().items():
        if k.endswith("conv.weight"):
            out[k] = torch.randn(v.shape, generator=g) * math.sqrt(2.0 / v[0].numel())
        elif k.endswith(("running_var", "bn.weight")):
            out[k] = torch.ones_like(v)
        elif k.startswith("fc."):
            out[k] = 0.01 * torch.randn(v.shape, generator=g)
        elif not k.endswith("num_batches_tracked"):  # the file may lack the batch counters
            out[k] = torch.zeros_like(v)
    return out


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    path = tmp_path_factory.mktemp("inception") / "random_inception.pth"
    torch.save(random_state(), path)
    return path


@pytest.fixture(scope="module")
def net(weights):
    return load_fid_inception(weights)


# -- the Fréchet distance ----------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["sqrtm", "eigh"])
def test_frechet_matches_hand_computation(method):
    # 1-D: (m1 - m2)^2 + (s1 - s2)^2 for standard deviations s.
    assert frechet_distance(np.array([1.0]), np.array([[4.0]]), np.array([-2.0]), np.array([[9.0]]),
                            method=method) == pytest.approx(9.0 + 1.0)
    # Diagonal 2-D: sum over dimensions.
    d = frechet_distance(np.array([0.0, 1.0]), np.diag([1.0, 4.0]), np.array([1.0, 1.0]), np.diag([4.0, 1.0]),
                         method=method)
    assert d == pytest.approx(1.0 + 1.0 + 1.0)
    # Non-commuting 2x2: Tr(S1 + S2 - 2 (S1^1/2 S2 S1^1/2)^1/2) with the roots worked out by hand:
    # S1 = diag(4, 1), S2 = [[2, 1], [1, 2]]: S1^1/2 S2 S1^1/2 = [[8, 2], [2, 2]], eigenvalues 5 +- sqrt(13).
    s1, s2 = np.diag([4.0, 1.0]), np.array([[2.0, 1.0], [1.0, 2.0]])
    root_trace = math.sqrt(5 + math.sqrt(13)) + math.sqrt(5 - math.sqrt(13))
    assert frechet_distance(np.zeros(2), s1, np.zeros(2), s2, method=method) == pytest.approx(9.0 - 2 * root_trace)


def test_singular_covariances():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(12, 40))  # 12 samples in 40-D: rank-deficient covariances
    b = rng.normal(size=(15, 40)) + 0.3
    scale = float(np.trace(np.cov(a.T)))  # ~40: zero up to rounding of the matrix square root
    assert abs(fid_from_features(a, a)) < 1e-6 * scale
    assert abs(fid_from_features(a, a, "eigh")) < 1e-6 * scale
    ab = fid_from_features(a, b)
    assert math.isfinite(ab) and ab == pytest.approx(fid_from_features(a, b, "eigh"), rel=1e-3)
    mu, sigma = statistics(a)
    assert sigma.shape == (40, 40) and np.allclose(sigma, np.cov(a.T))
    with pytest.raises(StyleFaceError, match="shapes"):
        frechet_distance(mu, sigma, mu[:3], sigma[:3, :3])


# -- the network and its weight file -----------------------------------------------------------------
def test_key_layout_is_pytorch_fid():
    state = FIDInceptionV3().state_dict()
    expected = {"Conv2d_1a_3x3.conv.weight": (32, 3, 3, 3), "Conv2d_4a_3x3.bn.running_var": (192,),
                "Mixed_5b.branch_pool.conv.weight": (32, 192, 1, 1), "Mixed_5d.branch5x5_2.conv.weight": (64, 48, 5, 5),
                "Mixed_6a.branch3x3.conv.weight": (384, 288, 3, 3), "Mixed_6b.branch7x7_3.conv.weight": (192, 128, 7, 1),
                "Mixed_6e.branch7x7dbl_5.conv.weight": (192, 192, 1, 7),
                "Mixed_7a.branch7x7x3_4.conv.weight": (192, 192, 3, 3),
                "Mixed_7b.branch3x3dbl_3b.conv.weight": (384, 384, 3, 1),
                "Mixed_7c.branch1x1.conv.weight": (320, 2048, 1, 1), "Mixed_7c.branch_pool.bn.bias": (192,),
                "fc.weight": (1008, 2048), "fc.bias": (1008,)}
    for k, shape in expected.items():
        assert tuple(state[k].shape) == shape, k
    assert not any("AuxLogits" in k for k in state)
    # torchvision's inception_v3 without the aux head has 23,834,568 parameters for 1000 classes;
    # 1008 classes add 8 x 2049.
    assert sum(p.numel() for p in FIDInceptionV3().parameters()) == 23_834_568 + 8 * 2049


def test_missing_weights_name_the_variable(monkeypatch, tmp_path):
    monkeypatch.delenv("STYLEFACE_INCEPTION", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(StyleFaceError, match=r"STYLEFACE_INCEPTION.*" + CACHE_NAME.replace(".", r"\.")):
        load_fid_inception()
    monkeypatch.setenv("STYLEFACE_INCEPTION", str(tmp_path / "nope.pth"))
    with pytest.raises(StyleFaceError, match=r"\$STYLEFACE_INCEPTION points to .*nope\.pth"):
        load_fid_inception()


def test_weights_found_by_env_and_cache(monkeypatch, tmp_path, weights):
    monkeypatch.setenv("STYLEFACE_INCEPTION", str(weights))
    assert isinstance(load_fid_inception(), FIDInceptionV3)
    monkeypatch.delenv("STYLEFACE_INCEPTION")
    cache = tmp_path / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    (cache / CACHE_NAME).write_bytes(weights.read_bytes())
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    assert isinstance(load_fid_inception(), FIDInceptionV3)


class NotWeights:
    pass


def test_bad_weight_files(tmp_path):
    pickled = tmp_path / "object.pth"
    torch.save({"x": NotWeights()}, pickled)  # needs unpickling of a class: refused by weights_only
    with pytest.raises(StyleFaceError, match="cannot read"):
        load_fid_inception(pickled)
    partial = random_state()
    del partial["Mixed_6c.branch7x7_2.conv.weight"]
    partial["fc.weight"] = torch.zeros(1000, 2048)
    path = tmp_path / "partial.pth"
    torch.save(partial, path)
    with pytest.raises(StyleFaceError, match=r"1 missing .*Mixed_6c\.branch7x7_2.*1 mis-shaped .*fc\.weight"):
        load_fid_inception(path)


# -- features and FID with random weights ------------------------------------------------------------
def test_loaded_weights_and_preprocessing(net, weights):
    state = torch.load(weights, weights_only=True)
    torch.testing.assert_close(net.state_dict()["Mixed_7c.branch_pool.conv.weight"],
                               state["Mixed_7c.branch_pool.conv.weight"])
    x = torch.rand(2, 3, 40, 40, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        small = net(x)
        resized = net(F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False))
        # the network sees 2x - 1: feeding [-1, 1] data directly must differ
        shifted = net(2 * F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False) - 1)
    assert small.shape == (2, 2048)
    torch.testing.assert_close(small, resized, atol=1e-5, rtol=1e-4)
    assert (small - shifted).abs().max() > 1e-3


def test_fid_of_random_inception_features(net):
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(6, 3, 32, 32, generator=gen)
    fx = activations(net, [x[:4], x[4:]])  # two batches: features concatenate in order
    near = activations(net, [(x + 0.05).clamp(0, 1)])
    far = activations(net, [(x + 0.25).clamp(0, 1)])
    assert fx.shape == (6, 2048) and fx.std() > 1e-3
    # The first 256 features keep scipy's sqrtm fast; the eigh form checks the full 2048.
    k = 256
    self_d = fid_from_features(fx[:, :k], fx[:, :k])
    d_near, d_far = fid_from_features(fx[:, :k], near[:, :k]), fid_from_features(fx[:, :k], far[:, :k])
    assert abs(self_d) < 1e-6 * max(1.0, float(np.trace(np.cov(fx[:, :k].T))))
    assert 0 < d_near < d_far
    assert d_near == pytest.approx(fid_from_features(fx[:, :k], near[:, :k], "eigh"), rel=1e-3)
    full_self, full_near = fid_from_features(fx, fx, "eigh"), fid_from_features(fx, near, "eigh")
    assert full_near > 0 and abs(full_self) < 1e-3 * full_near
