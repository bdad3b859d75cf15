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


def test_all_on_the_ict_standin_names_the_builtin_head(tmp_path):
    """The whole pipeline on the ICT world: the bundle names the shipped head instead of copying it,
    carries the stand-in as its 2D generator, and generates rigged ICT faces."""
    out = tmp_path / "run"
    tiny = [a for a in TINY if a not in ("toy-all", "a toy")]
    tiny = [a for a in tiny if a not in ("--bundle-id", "--bundle-description")]
    code, _, err = main_cli("all", "--out", str(out), "--standin-face-model", "ict", "--standin-n-latent", "8",
                            "--standin-image-size", "32", "--bundle-id", "toy-ict", *tiny)
    assert code == 0, err
    bundle = out / "bundle"
    manifest = json.loads((bundle / "bundle.json").read_text())
    assert manifest["face_model"] == {"builtin": "ict"} and not (bundle / "face_model.npz").exists()
    assert (bundle / "generator2d.safetensors").is_file()
    pipe = Pipeline.load(bundle, device="cpu")
    face = pipe.generate([3])[0]
    assert pipe.model.name == "ict-facekit" and face.rig is not None
    assert face.coefficients["exp"].shape == (57,)
