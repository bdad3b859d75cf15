"""``styleface-train all`` on the toy stand-in: every stage runs once, the bundle it exports generates faces,
and a second run skips every finished stage."""
from __future__ import annotations

import json

import pytest
from styleface.pipeline import Pipeline
from trainhelpers import main_cli
from uvgenhelpers import cli_generator_args

pytestmark = pytest.mark.filterwarnings("ignore:.*starts from random weights")

TINY = ["--count", "96", "--shard-size", "48", "--sample-batch", "48", "--svm-count", "600", "--svm", "linear-svc",
        "--f3d-epochs", "2", "--f3d-lr", "1e-3", "--fyaw-epochs", "2", "--f3d-hidden", "24,12", "--fyaw-hidden", "8",
        "--steps", "2", "--batch-size", "2", "--channel-max", "16", "--channel-multiplier", "1",
        "--perceptual", "random", "--image-every", "0", "--val-batches", "1", "--n-critic", "2",
        "--d-reg-every", "2", "--max-yaw", "0", "--bundle-id", "toy-all", "--bundle-description", "a toy"]


def test_all_runs_every_stage_then_skips_them(tmp_path, toy_npz):
    out = tmp_path / "run"
    code, stdout, err = main_cli("all", "--out", str(out), *cli_generator_args(toy_npz), *TINY)
    assert code == 0, err
    bundle = out / "bundle"
    assert json.loads(stdout)["bundle"] == str(bundle)
    report = json.loads((out / "all_report.json").read_text())
    assert list(report) == ["sample", "f3d", "yaw-direction", "fyaw", "uvgen", "export"]  # truth: no fit stage
    assert report["uvgen"]["result"]["steps"] == 2
    assert json.loads((bundle / "f3d.json").read_text())["kwargs"]["hidden"] == [24, 12]
    assert json.loads((bundle / "bundle.json").read_text())["description"] == "a toy"
    assert json.loads((bundle / "yaw.json").read_text())["kwargs"]["hidden"] == [8]

    faces = Pipeline.load(bundle, device="cpu").generate([0, 1], batch_size=2)
    assert faces[0].diffuse.shape == (3, 32, 32) and faces[0].provenance["bundle"] == "toy-all"
    assert faces[0].vertices.shape[1] == 3 and not (faces[0].vertices == faces[1].vertices).all()

    stamp = (bundle / "bundle.json").stat().st_mtime_ns
    code, _, err = main_cli("all", "--out", str(out), *cli_generator_args(toy_npz), *TINY)
    assert code == 0, err
    assert err.count("skipped: output exists") == 6
    assert (bundle / "bundle.json").stat().st_mtime_ns == stamp


def test_all_refuses_truth_coefficients_for_a_real_generator(tmp_path):
    code, _, err = main_cli("all", "--out", str(tmp_path / "r"), "--generator", str(tmp_path / "g.pt"),
                            "--coeffs", "truth")
    assert code == 2 and "--coeffs truth needs the stand-in" in err
