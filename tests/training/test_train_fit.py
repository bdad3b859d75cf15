"""3DMM fitting on stand-in images: pose recovered, better than the mean face, batch-independent."""
from __future__ import annotations

import math

import pytest
import torch
from styleface.errors import StyleFaceError
from trainhelpers import main_cli

from styleface_train.fitting.fit import FitConfig, Fitter, photometric
from styleface_train.fitting.landmarks import landmark_weights, make_source
from styleface_train.data.shards import read_tensors, shard_paths

QUICK = FitConfig(rigid_iters=250, nonrigid_iters=40)


@pytest.fixture(scope="module")
def batch(standin):
    z = torch.randn(6, standin.style_dim, generator=torch.Generator().manual_seed(11))
    img, truth = standin.synthesis(standin.to_wplus(z), return_truth=True)
    return (img + 1) / 2, truth


@pytest.fixture(scope="module")
def fitted(toy_model, batch):
    images, truth = batch
    fitter = Fitter(toy_model, QUICK)
    return fitter, fitter.fit(images, truth["landmarks"])


def test_fit_recovers_pose(fitted, batch, standin):
    _, res = fitted
    _, truth = batch
    yi = standin.layout.yaw_index
    err = (res.coeffs[:, yi] - truth["coeffs"][:, yi]).abs() * 180 / math.pi
    assert err.mean() < 3.0, err
    assert res.landmark_rmse.mean() < 1.0
    rot = standin.layout.slice("rot")
    assert ((res.coeffs[:, rot] - truth["coeffs"][:, rot]).abs() * 180 / math.pi).mean() < 3.0


def test_fit_beats_the_mean_face(fitted, batch):
    fitter, res = fitted
    images, truth = batch
    mean_img, _ = fitter.render_mean_face(images)
    fit_err = photometric(res.render, images, truth["mask"])
    mean_err = photometric(mean_img, images, truth["mask"])
    assert (fit_err < mean_err).all() and fit_err.mean() < 0.5 * mean_err.mean()


def test_batch_fits_each_image_independently(toy_model, batch, fitted):
    images, truth = batch
    _, res = fitted
    alone = Fitter(toy_model, QUICK).fit(images[2:3], truth["landmarks"][2:3])
    assert torch.allclose(alone.coeffs, res.coeffs[2:3], atol=2e-3)


def test_input_checks_and_sources(toy_model):
    f = Fitter(toy_model, FitConfig(rigid_iters=1, nonrigid_iters=1))
    with pytest.raises(StyleFaceError, match="images must be"):
        f.fit(torch.zeros(1, 3, 8, 9), torch.zeros(1, 68, 2))
    with pytest.raises(StyleFaceError, match="landmarks must be"):
        f.fit(torch.zeros(1, 3, 8, 8), torch.zeros(1, 5, 2))
    with pytest.raises(StyleFaceError, match="no albedo"):
        Fitter(toy_model, FitConfig(albedo="model"))
    with pytest.raises(StyleFaceError, match="unknown landmark source"):
        make_source("nope")
    with pytest.raises(StyleFaceError, match="needs a dataset with truth"):
        make_source("truth")(torch.zeros(1, 8, 8, 3, dtype=torch.uint8), {})
    w = landmark_weights()
    assert torch.isclose(w.sum(), torch.tensor(1.0)) and w[48] == 10 * w[0]


def test_face_alignment_source_optional():
    try:
        import face_alignment  # noqa: F401
    except ImportError:
        with pytest.raises(StyleFaceError, match="face-alignment package"):
            make_source("face_alignment")
        return
    pytest.skip("face_alignment installed: its weights are fetched on first use, not in CI")


def test_fit_cli_on_shards(tmp_path, samples_dir):
    out = tmp_path / "fits"
    args = ["fit", "--samples", str(samples_dir), "--out", str(out), "--limit", "2", "--rigid-iters", "200",
            "--nonrigid-iters", "20", "--shard-index", "0", "--num-shards", "3"]
    code, _, err = main_cli(*args)
    assert code == 0, err
    assert sorted(p.name for p in out.glob("fit-*")) == ["fit-00000.safetensors", "fit-00003.safetensors"]
    t = read_tensors(shard_paths(out, "fit", 6)[::3])
    assert t["coeffs"].shape[0] == 4 and t["valid"].all()
    assert (t["yaw_error_deg"] < 5).all()
    assert (t["photo_truth_mask"] < t["photo_truth_mask_mean_face"]).all()
    code, _, err = main_cli("fit", "--samples", str(tmp_path / "nothing"), "--out", str(out))
    assert code == 2 and "sample shard folder" in err and err.count("\n") == 1
