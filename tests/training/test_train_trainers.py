"""F3D, the SVM yaw direction and Fyaw on tiny stand-in data; SIGKILL-resume of every trainer."""
from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file
from styleface.errors import StyleFaceError
from styleface.nets.io import load_model
from trainhelpers import generator_args, kill_mid_run, main_cli

from styleface_train.common.checkpoint import read_checkpoint
from styleface_train.f3d_yaw.f3d import F3DOptions, train_f3d
from styleface_train.f3d_yaw.fyaw import FyawOptions, train_fyaw
from styleface_train.standin.generators import GeneratorHandle
from styleface_train.common.modelfile import load_f3d
from styleface_train.data.pairs import load_pairs
from styleface_train.common.trainloop import LoopConfig
from styleface_train.f3d_yaw.yaw_direction import YawDirectionOptions, find_direction

F3D_LOOP = LoopConfig(epochs=12, batch_size=16, lr=1e-3, milestones=(8,), checkpoint_every=50)
FYAW_LOOP = LoopConfig(epochs=6, batch_size=16, lr=1e-3, milestones=(4,), checkpoint_every=50)
HIDDEN = (256, 128)


@pytest.fixture(scope="module")
def f3d_run(tmp_path_factory, samples_dir):
    out = tmp_path_factory.mktemp("f3d")
    metrics = train_f3d(F3DOptions(samples=samples_dir, out=out, hidden=HIDDEN, progress=False), F3D_LOOP)
    return out, metrics


@pytest.fixture(scope="module")
def direction_run(tmp_path_factory, f3d_run, standin):
    out = tmp_path_factory.mktemp("dir")
    handle = GeneratorHandle(standin, standin.config_dict(), True)
    report = find_direction(load_f3d(f3d_run[0]), handle,
                            YawDirectionOptions(out=out, count=20_000, fraction=0.02, svm="linear-svc"))
    return out, report


def test_f3d_beats_the_mean_baseline(f3d_run):
    out, m = f3d_run
    assert m["steps"] == 12 * 34 and m["n_train"] == 540 and m["n_val"] == 60
    assert m["l1"] < 0.6 * m["baseline_l1"]
    assert m["yaw_error_deg"] < 0.5 * m["baseline_yaw_error_deg"]
    net = load_model(out / "f3d.safetensors")
    assert type(net).__name__ == "F3D"
    assert json.loads((out / "metrics.json").read_text())["l1"] == m["l1"]
    assert list((out / "tb").glob("events.out.tfevents.*")), "TensorBoard scalars"
    meta = read_checkpoint(out / "checkpoint.safetensors")[1]
    assert meta["counters"]["finished"] and meta["counters"]["step"] == m["steps"]


def test_f3d_reports_every_group_and_can_be_linear(f3d_run, tmp_path, samples_dir):
    """Per-group validation L1 (identity, expression, pose, light, translation), and hidden=() gives a linear
    F3D (the default bundle's: the stand-in's coefficients are linear in W+ but for the expression gating)."""
    _, m = f3d_run
    groups = [k for k in m if k.startswith("l1_")]
    assert {"l1_id", "l1_exp", "l1_rot", "l1_gamma", "l1_trans"} <= set(groups)
    lin = train_f3d(F3DOptions(samples=samples_dir, out=tmp_path / "lin", hidden=(), progress=False), F3D_LOOP)
    net = load_model(tmp_path / "lin" / "f3d.safetensors")
    assert net.hidden == () and sum(isinstance(x, torch.nn.Linear) for x in net.modules()) == 1
    assert lin["l1_trans"] < 0.5 * m["l1_trans"] and lin["yaw_error_deg"] < m["yaw_error_deg"]


def test_rerun_of_a_finished_run_trains_nothing(f3d_run, samples_dir):
    out, m = f3d_run
    again = train_f3d(F3DOptions(samples=samples_dir, out=out, hidden=HIDDEN, progress=False), F3D_LOOP)
    assert again["steps"] == m["steps"] and again["l1"] == m["l1"]


def test_svm_direction_finds_yaw(direction_run, standin):
    out, report = direction_run
    assert report["per_class"] == 400
    assert report["train_accuracy"] > 0.97 and report["heldout_accuracy"] > 0.95
    assert report["cosine_to_true_direction"] > 0.7
    d = load_file(str(out / "yaw_direction.safetensors"))["direction"]
    assert d.shape == (standin.n_latent, standin.style_dim) and abs(float(d.norm()) - 1) < 1e-5


def test_fyaw_mirrors_the_yaw(tmp_path, samples_dir, f3d_run, direction_run):
    out = tmp_path / "fyaw"
    opts = FyawOptions(samples=samples_dir, f3d=f3d_run[0], direction=direction_run[0], out=out, hidden=HIDDEN,
                       progress=False)
    m = train_fyaw(opts, FYAW_LOOP)
    assert m["steps"] == 6 * 34
    # The true yaw of w_sym is close to minus the true yaw of w (much closer than doing nothing: 2|yaw|).
    assert m["true_yaw_sum_deg"] < 0.5 * 2 * m["true_yaw_abs_deg"]
    sym = load_model(out / "yaw_symmetry.safetensors")
    assert type(sym).__name__ == "YawSymmetry"


def test_pairs_from_fits_and_errors(tmp_path, samples_dir):
    with pytest.raises(StyleFaceError):
        load_pairs(samples_dir, tmp_path / "no-fits")
    p = load_pairs(samples_dir)
    tr, va = p.split(0.1)
    assert tr.index[-1] < va.index[0] and torch.equal(torch.cat([tr.index, va.index]), torch.arange(600))


@pytest.mark.parametrize("trainer", ["f3d", "fyaw"])
def test_trainer_resumes_after_sigkill(tmp_path, samples_dir, f3d_run, direction_run, trainer):
    common = ["--samples", str(samples_dir), "--epochs", "3", "--milestones", "2", "--lr", "1e-3",
              "--hidden", "64", "--checkpoint-every", "10"]
    if trainer == "fyaw":
        common += ["--f3d", str(f3d_run[0]), "--direction", str(direction_run[0])]
    total = 3 * 34
    killed = tmp_path / "killed"
    args = [trainer, *common, "--out", str(killed)]
    kill_mid_run([*args, "--step-delay", "0.03"], killed / "checkpoint.safetensors", total)
    code, out, err = main_cli(*args)
    assert code == 0, err
    assert json.loads(out)["steps"] == total
    assert not list(killed.glob(".*.tmp"))
    clean = tmp_path / "clean"
    assert main_cli(trainer, *common, "--out", str(clean))[0] == 0
    a = read_checkpoint(killed / "checkpoint.safetensors")
    b = read_checkpoint(clean / "checkpoint.safetensors")
    assert a[1]["counters"]["step"] == b[1]["counters"]["step"] == total
    assert a[1]["counters"]["history"] == b[1]["counters"]["history"]
    for k in b[0]:
        assert torch.equal(a[0][k], b[0][k]), k


def test_cli_errors_are_one_line(tmp_path, toy_npz):
    code, _, err = main_cli("f3d", "--samples", str(tmp_path / "none"), "--out", str(tmp_path / "o"))
    assert code == 2 and err.count("\n") == 1 and "does not exist" in err
    code, _, err = main_cli("yaw-direction", "--f3d", str(tmp_path / "none"), "--out", str(tmp_path / "o"),
                            *generator_args(toy_npz))
    assert code == 2 and err.count("\n") == 1
    code, _, err = main_cli("sample", "--out", str(tmp_path / "o"))
    assert code == 2 and "--count" in err
    code, _, err = main_cli("sample", "--out", str(tmp_path / "o"), "--count", "3", "--generator",
                            str(tmp_path / "x.pt"))
    assert code == 2 and "neither 'standin' nor an existing checkpoint" in err
    code, _, err = main_cli("f3d", "--samples", "x", "--out", "y", "--hidden", "a,b")
    assert code == 2 and "comma-separated integers" in err
