"""Stand-in evaluation: the yaw move, the seen/unseen split, zero error for the truth, and a model that
knows only the seen texels scoring perfectly in the original view and worse away from it."""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from styleface.render.visibility import direct_visibility

from styleface_train.evaluation.eval_standin import (StandInFaces, mean_maps, uv_errors, uv_face_mask, view_errors,
                                          visibility_regions, yaw_shift)
from styleface_train.evaluation.evaluate import standin_wplus


@pytest.fixture(scope="module")
def codes(standin):
    return standin_wplus(standin, list(range(6)), 0.8)


def test_yaw_shift_changes_the_yaw_only(standin, codes):
    yi = standin.layout.yaw_index
    target = math.radians(-35.0)
    moved = yaw_shift(standin, codes, target)
    before, after = standin.coefficients(codes), standin.coefficients(moved)
    torch.testing.assert_close(after[:, yi], torch.full_like(after[:, yi], target), atol=1e-5, rtol=0)
    keep = torch.ones(before.shape[1], dtype=torch.bool)
    keep[yi] = False
    assert (after[:, yi] - before[:, yi]).abs().max() > 0.05  # it did move
    torch.testing.assert_close(after[:, keep], before[:, keep], atol=1e-4, rtol=0)
    for a, b in zip(standin.maps(moved), standin.maps(codes)):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=0)


def test_seen_and_unseen_partition_the_mask(standin, codes):
    size = 64
    gen = torch.Generator().manual_seed(1)
    mask = torch.rand(size, size, generator=gen) > 0.3
    _, disp = standin.maps(codes)
    reg = visibility_regions(standin, standin.coefficients(codes), disp, mask, size)
    assert torch.equal(reg["seen"] | reg["unseen"], reg["all"])
    assert not (reg["seen"] & reg["unseen"]).any()
    assert torch.equal(reg["all"], mask.expand(len(codes), 1, size, size))
    frac = reg["seen"].sum() / reg["all"].sum()
    assert 0.1 < float(frac) < 0.9  # a real split, not everything on one side


def test_uv_mask_source(toy_model):
    corner = dataclasses.replace(toy_model, uvs=toy_model.uvs * 0.5)  # layout squeezed into the lower-left quarter
    cover, why = uv_face_mask(corner, 32)  # no uv_mask: the texels the triangles cover
    assert "coverage" in why and cover[16:, :16].all() and not cover[:16].any() and not cover[:, 16:].any()
    m = np.zeros((64, 64), bool)
    m[:, :32] = True
    half, why = uv_face_mask(dataclasses.replace(toy_model, uv_mask=m), 16)
    assert why == "model uv_mask" and half[:, :8].all() and not half[:, 8:].any()


def test_the_truth_scores_zero(standin, codes):
    truth = StandInFaces(standin)
    mask, _ = uv_face_mask(standin.face_model, truth.uv_size)
    baseline = mean_maps(standin, [standin_wplus(standin, list(range(50, 60)), 0.8)], truth.uv_size)
    acc, seen = uv_errors(truth, standin, [codes[:3], codes[3:]], baseline, mask)
    table = acc.table()
    for m in ("diffuse", "displacement"):
        for r in ("seen", "unseen", "all"):
            assert table["bundle"][m][r] == 0.0
        assert table["mean_baseline"][m]["all"] > 1e-3
    assert 0 < seen < 1
    for source in ("bundle", "truth"):
        views, images = view_errors(truth, standin, [codes], [-45.0, 0.0, 45.0], source, keep=2)
        s = views.summary(15.0)
        assert max(s["l1"]) < 1e-5 and min(s["psnr_db"]) > 80
    assert images["standin"].shape == images["bundle"].shape == (2, 3, 3, standin.size, standin.size)
    assert images["standin"].amax() > 0.2  # faces, not empty frames


class SeenOnly(StandInFaces):
    """True maps on the texels the original view accesses, grey elsewhere: never learned the hidden side."""

    def uv_maps(self, wplus):
        d, p = self.standin.maps(wplus)
        vis = direct_visibility(self.standin.renderer, self.standin.coefficients(wplus), (self.uv_size,) * 2, p)
        return torch.where(vis, d, torch.full_like(d, 0.5)), torch.where(vis, p, torch.zeros_like(p))


def test_seen_only_model_is_exact_in_the_original_view(standin, codes):
    src = SeenOnly(standin)
    mask, _ = uv_face_mask(standin.face_model, src.uv_size)
    acc, _ = uv_errors(src, standin, [codes], None, mask)
    t = acc.table()["bundle"]["diffuse"]
    assert t["seen"] == 0.0 and t["unseen"] > 0.02

    at30 = yaw_shift(standin, codes, math.radians(30.0))
    yaws = [-60.0, -30.0, 0.0, 30.0, 60.0]
    views, _ = view_errors(src, standin, [at30], yaws, "truth")
    s = views.summary(15.0)
    l1 = dict(zip(yaws, s["l1"]))
    assert l1[30.0] < 1e-4                          # the original view: identical renders
    assert l1[-60.0] > l1[0.0] > l1[30.0] and l1[60.0] > l1[30.0]
    assert all(np.isfinite(s["l1"])) and np.isfinite(s["mean_psnr_db"])
    bins = s["by_yaw_change"]
    assert bins[0]["from_deg"] == 0 and bins[0]["l1"] == min(b["l1"] for b in bins)
    assert sum(b["views"] for b in bins) == len(codes) * len(yaws)
