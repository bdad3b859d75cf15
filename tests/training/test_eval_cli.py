"""``styleface-train eval`` end to end on a tiny bundle with random networks in the toy stand-in's world:
the JSON report, the table, the strip, the stand-in options, FID with random Inception weights, errors."""
from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
import torch
from PIL import Image
from styleface.bundle import BundleManifest, write_bundle
from styleface.nets.f3d import F3D
from styleface.nets.uvgen import UVGenerator
from test_eval_fid import random_state
from trainhelpers import IMAGE, STYLE_DIM, main_cli, small_config

from styleface_train.bundle.demo_bundle import standin_mapping
from styleface_train.standin import StandInGenerator

N_LATENT, UV = 8, 32  # a 32 px UV generator reads 8 W+ rows


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory, toy_npz, toy_model):
    standin = StandInGenerator(small_config(toy_npz, n_latent=N_LATENT, texture_size=UV), model=toy_model)
    torch.manual_seed(0)
    nets = {"mapping": standin_mapping(standin),
            "f3d": F3D(N_LATENT, STYLE_DIM, toy_model.layout, hidden=(32,)),
            "uvgen": UVGenerator(UV, style_dim=STYLE_DIM, n_mlp=1, channel_max=16, channels={UV: 8, UV // 2: 8})}
    manifest = BundleManifest(id="eval-test", face_model={"builtin": "demo"}, n_latent=N_LATENT, style_dim=STYLE_DIM,
                              uv_resolution=UV, networks={}, truncation=0.8,
                              provenance={"standin": standin.config_dict()})
    return write_bundle(tmp_path_factory.mktemp("bundle") / "b", manifest, nets, face_model=toy_model)


def test_standin_report_table_and_strip(bundle_dir, tmp_path):
    out, strip = tmp_path / "report.json", tmp_path / "strip.png"
    code, stdout, err = main_cli("eval", str(bundle_dir), "--count", "6", "--batch-size", "4", "--views-count", "3",
                                 "--yaw-step", "30", "--out", str(out), "--strip", str(strip), "--strip-faces", "2")
    assert code == 0, err
    r = json.loads(out.read_text())
    assert r["standin"]["source"] == "provenance" and r["standin"]["bundle_mapping_matches"] is True
    uv = r["uv"]
    assert uv["size"] == UV and uv["truth_size"] == UV and 0 < uv["seen_fraction"] < 1
    f = uv["seen_fraction"]
    for src in ("bundle", "mean_baseline"):
        for m in ("diffuse", "displacement"):
            row = uv["l1"][src][m]
            assert all(math.isfinite(row[k]) and row[k] >= 0 for k in ("seen", "unseen", "all"))
            # "all" is the texel-weighted mean of the two halves of the split
            assert row["all"] == pytest.approx(f * row["seen"] + (1 - f) * row["unseen"], rel=1e-6)
    assert uv["l1"]["bundle"]["diffuse"]["all"] > uv["l1"]["mean_baseline"]["diffuse"]["all"]  # random nets lose
    v = r["views"]
    assert v["yaws_deg"] == [-60, -30, 0, 30, 60] and v["count"] == 3 and v["coefficients"] == "bundle"
    assert all(math.isfinite(x) and x > 0 for x in v["l1"]) and all(math.isfinite(x) for x in v["psnr_db"])
    assert "UV maps" in stdout and "multi-view" in stdout and "PSNR" in stdout
    with Image.open(strip) as im:  # 2 faces x (stand-in, bundle) rows, 5 yaw columns, 2 px gaps
        assert im.size == (5 * IMAGE + 4 * 2, 4 * IMAGE + 3 * 2)


def _copy_with_provenance(bundle_dir, dst, **provenance):
    shutil.copytree(bundle_dir, dst)
    man = json.loads((dst / "bundle.json").read_text())
    standin = man["provenance"].pop("standin")
    man["provenance"].update({k: (standin if v == "standin" else v) for k, v in provenance.items()})
    (dst / "bundle.json").write_text(json.dumps(man))
    return dst


def test_standin_recorded_as_exported_generator(bundle_dir, tmp_path):
    exported = _copy_with_provenance(bundle_dir, tmp_path / "exported", generator="standin")  # styleface_train.bundle.export
    code, stdout, err = main_cli("eval", str(exported), "--count", "2", "--views-count", "0")
    assert code == 0, err
    assert "from provenance" in stdout and "multi-view" not in stdout


def test_standin_from_options(bundle_dir, tmp_path):
    bare = _copy_with_provenance(bundle_dir, tmp_path / "bare", generator={"kind": "stylegan2"})
    code, _, err = main_cli("eval", str(bare), "--count", "2")
    assert code == 2 and "--standin-" in err and "Traceback" not in err
    opts = ["--standin-style-dim", str(STYLE_DIM), "--standin-n-latent", str(N_LATENT),
            "--standin-image-size", str(IMAGE), "--standin-texture-size", str(UV)]
    out = tmp_path / "r.json"
    code, _, err = main_cli("eval", str(bare), "--count", "2", "--views-count", "2", "--yaw-step", "60",
                            "--view-coeffs", "truth", "--out", str(out), *opts)
    assert code == 0, err
    r = json.loads(out.read_text())
    assert r["standin"]["source"] == "options" and r["views"]["coefficients"] == "truth"
    code, _, err = main_cli("eval", str(bare), "--count", "2", *opts[:2], "--standin-n-latent", "5")
    assert code == 2 and "W+" in err


@pytest.fixture(scope="module")
def real_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("real")
    rng = np.random.default_rng(0)
    for i in range(4):
        Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    return folder


def test_fid_with_random_inception(bundle_dir, real_folder, tmp_path):
    weights = tmp_path / "inception.pth"
    torch.save(random_state(), weights)
    out = tmp_path / "fid.json"
    code, stdout, err = main_cli("eval", str(bundle_dir), "--no-standin", "--fid-real", str(real_folder),
                                 "--inception", str(weights), "--fid-method", "eigh", "--fid-image-size", "48",
                                 "--out", str(out))
    assert code == 0, err
    fid = json.loads(out.read_text())["fid"]
    assert fid["fake"] == "render" and fid["real_images"] == fid["fake_images"] == 4 and fid["features"] == 2048
    assert math.isfinite(fid["value"]) and fid["value"] > 0 and "FID" in stdout
    code, _, err = main_cli("eval", str(bundle_dir), "--no-standin", "--fid-real", str(real_folder),
                            "--inception", str(weights), "--fid-fake", "generator2d")
    assert code == 2 and "no 2D generator" in err


def test_missing_inception_fails_first(bundle_dir, real_folder, tmp_path, monkeypatch):
    monkeypatch.delenv("STYLEFACE_INCEPTION", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    code, _, err = main_cli("eval", str(bundle_dir), "--fid-real", str(real_folder))
    assert code == 2 and "STYLEFACE_INCEPTION" in err and "pt_inception-2015-12-05-6726825d.pth" in err


@pytest.mark.parametrize("args, message", [
    (["--count", "0"], "--count"), (["--yaw-max", "75"], "yaw range"), (["--yaw-step", "0"], "--yaw-step"),
    (["--strip", "x.png", "--strip-faces", "0"], "--strip-faces"), (["--no-standin"], "nothing to evaluate")])
def test_bad_options(bundle_dir, args, message):
    code, _, err = main_cli("eval", str(bundle_dir), *args)
    assert code == 2 and message in err and "Traceback" not in err
