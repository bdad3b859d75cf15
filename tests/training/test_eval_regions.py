"""``styleface-train eval`` per feature region, beside compared bundles, and the variety measure."""
from __future__ import annotations

import json
import math

import pytest
import torch
from styleface.bundle import BundleManifest, write_bundle
from styleface.nets.f3d import F3D
from styleface.nets.uvgen import UVGenerator
from trainhelpers import STYLE_DIM, main_cli, small_config

from styleface_train.bundle.demo_bundle import standin_mapping
from styleface_train.evaluation.eval_standin import (FEATURES, StandInFaces, feature_masks, mean_pairwise_distance,
                                                     uv_face_mask, variety)
from styleface_train.evaluation.evaluate import standin_wplus
from styleface_train.standin import StandInGenerator

N_LATENT, UV = 8, 32


def _bundle(path, standin, toy_model, seed: int, bundle_id: str):
    torch.manual_seed(seed)
    nets = {"mapping": standin_mapping(standin),
            "f3d": F3D(N_LATENT, STYLE_DIM, toy_model.layout, hidden=(32,)),
            "uvgen": UVGenerator(UV, style_dim=STYLE_DIM, n_mlp=1, channel_max=16, channels={UV: 8, UV // 2: 8})}
    manifest = BundleManifest(id=bundle_id, face_model={"builtin": "demo"}, n_latent=N_LATENT, style_dim=STYLE_DIM,
                              uv_resolution=UV, networks={}, truncation=0.8,
                              provenance={"standin": standin.config_dict()})
    return write_bundle(path, manifest, nets, face_model=toy_model)


@pytest.fixture(scope="module")
def world(tmp_path_factory, toy_npz, toy_model):
    standin = StandInGenerator(small_config(toy_npz, n_latent=N_LATENT, texture_size=UV), model=toy_model).eval()
    root = tmp_path_factory.mktemp("bundles")
    return standin, _bundle(root / "a", standin, toy_model, 0, "net-a"), _bundle(root / "b", standin, toy_model, 1, "net-b")


def test_feature_masks_partition_the_face(toy_model):
    mask, _ = uv_face_mask(toy_model, UV)
    feats = feature_masks(toy_model, mask)
    assert set(feats) == set(FEATURES)
    for name in ("eyes", "brows", "lips"):
        assert feats[name].any(), name                      # the toy head has every region
        assert not (feats[name] & feats["skin"]).any()      # skin is the rest
    assert torch.equal(feats["skin"] | ((feats["eyes"] | feats["brows"] | feats["lips"]) & mask), mask)


def test_report_per_region_with_a_compared_bundle(world, tmp_path):
    _, a, b = world
    out = tmp_path / "r.json"
    code, stdout, err = main_cli("eval", str(a), "--compare", str(b), "--compare", str(a), "--count", "6",
                                 "--batch-size", "3", "--views-count", "0", "--variety-count", "6", "--out", str(out))
    assert code == 0, err
    r = json.loads(out.read_text())
    uv = r["uv"]
    by = uv["l1_by_feature"]
    assert list(by) == ["bundle", "net-a", "net-b", "mean_baseline"] or list(by) == ["bundle", "net-b", "net-a",
                                                                                      "mean_baseline"]
    for src, maps in by.items():
        for m, feats in maps.items():
            assert set(feats) == set(FEATURES)
            for f, row in feats.items():
                assert math.isfinite(row["all"]) and row["all"] >= 0, (src, m, f)
                # a region the views see whole (or never) has no texels on the other side: None, not 0
                assert all(row[k] is None or 0 <= row[k] < math.inf for k in ("seen", "unseen")), (src, m, f)
    # the bundle compared with itself scores the same in every region; another network does not
    assert by["net-a"] == by["bundle"]
    assert all(x == pytest.approx(1.0) for x in uv["ratios"]["net-a"]["diffuse"].values())
    assert by["net-b"]["diffuse"]["lips"]["all"] != by["bundle"]["diffuse"]["lips"]["all"]
    ratio = uv["ratios"]["mean_baseline"]["diffuse"]["eyes"]
    assert ratio == pytest.approx(by["bundle"]["diffuse"]["eyes"]["all"] / by["mean_baseline"]["diffuse"]["eyes"]["all"])
    assert r["compared"] == {"net-a": str(a), "net-b": str(b)}
    assert "UV maps by region" in stdout and "diffuse L1 bundle / net-b" in stdout
    v = r["variety"]
    assert v["count"] == 6 and 0 < v["shape"]["standin"] and 0 < v["diffuse"]["standin"]
    assert v["diffuse"]["ratio"] == pytest.approx(v["diffuse"]["bundle"] / v["diffuse"]["standin"])
    assert "variety over 6 codes" in stdout


def test_compare_refuses_another_wplus(world, tmp_path, toy_npz, toy_model):
    _, a, _ = world
    torch.manual_seed(0)
    ten = StandInGenerator(small_config(toy_npz, n_latent=10, texture_size=64), model=toy_model)
    nets = {"mapping": standin_mapping(ten), "f3d": F3D(10, STYLE_DIM, toy_model.layout, hidden=(32,)),
            "uvgen": UVGenerator(64, style_dim=STYLE_DIM, n_mlp=1, channel_max=16, channels={64: 8, 32: 8, 16: 8})}
    wide = write_bundle(tmp_path / "wide", BundleManifest(id="wide", face_model={"builtin": "demo"}, n_latent=10,
                                                          style_dim=STYLE_DIM, uv_resolution=64, networks={}),
                        nets, face_model=toy_model)
    code, _, err = main_cli("eval", str(a), "--compare", str(wide), "--count", "2", "--views-count", "0")
    assert code == 2 and "W+ is 10x" in err


def test_mean_pairwise_distance():
    x = torch.tensor([[0.0, 0.0], [3.0, 4.0], [0.0, 0.0]])
    # pairs: (0,1) rms 5/sqrt(2), (0,2) 0, (1,2) 5/sqrt(2)
    assert mean_pairwise_distance(x) == pytest.approx(2 * 5 / math.sqrt(2) / 3)
    assert mean_pairwise_distance(torch.ones(5, 7)) == 0.0


def test_variety_of_the_truth_is_one_and_of_a_constant_is_zero(toy_npz, toy_model):
    standin = StandInGenerator(small_config(toy_npz, n_latent=N_LATENT, texture_size=UV), model=toy_model).eval()
    mask, _ = uv_face_mask(toy_model, UV)
    batches = [standin_wplus(standin, list(range(i, i + 4)), 0.8) for i in (0, 4)]
    v = variety(StandInFaces(standin), standin, batches, mask)
    assert v["count"] == 8 and v["shape"]["ratio"] == pytest.approx(1.0) and v["diffuse"]["ratio"] == pytest.approx(1.0)

    class Clones(StandInFaces):
        def coefficients(self, wplus):
            return super().coefficients(wplus[:1].expand_as(wplus))

        def uv_maps(self, wplus):
            return super().uv_maps(wplus[:1].expand_as(wplus))

    c = variety(Clones(standin), standin, [torch.cat(batches)], mask)
    assert c["shape"]["ratio"] == pytest.approx(0.0, abs=1e-6) and c["diffuse"]["ratio"] == pytest.approx(0.0, abs=1e-6)
