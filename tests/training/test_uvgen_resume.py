"""SIGKILL in the middle of ``styleface-train uvgen``, rerun: same final step, bit-identical G, D, G-EMA
and Adam states as an uninterrupted run (batches and noise are a pure function of seed, rank and step)."""
from __future__ import annotations

import json

import pytest
import torch
from trainhelpers import kill_mid_run, main_cli, tb_steps
from uvgenhelpers import cli_generator_args, parts_for, uvgen_standin

from styleface_train.common.checkpoint import read_checkpoint

TOTAL = 8
pytestmark = pytest.mark.filterwarnings("ignore:.*starts from random weights")


def test_uvgen_resumes_after_sigkill(tmp_path, toy_npz, toy_model):
    f3d, yaw = parts_for(uvgen_standin(toy_npz, toy_model), tmp_path / "parts")
    common = ["uvgen", "--f3d", str(f3d), "--yaw", str(yaw), *cli_generator_args(toy_npz), "--batch-size", "2",
              "--channel-max", "16", "--channel-multiplier", "1", "--perceptual", "none", "--val-batches", "1",
              "--steps", str(TOTAL), "--n-critic", "2", "--d-reg-every", "2", "--checkpoint-every", "2",
              "--image-every", "0"]
    killed = tmp_path / "killed"
    kill_mid_run([*common, "--out", str(killed), "--step-delay", "0.4"], killed / "checkpoint.safetensors", TOTAL)
    code, out, err = main_cli(*common, "--out", str(killed))
    assert code == 0, err
    assert json.loads(out)["steps"] == TOTAL and "resuming at step" in err
    metrics = json.loads((killed / "metrics.json").read_text())  # the whole run, not the last process
    assert metrics["runs"] == 2 and metrics["timed_steps"] == TOTAL and metrics["seconds_per_step"] > 0
    assert not list(killed.glob(".*.tmp"))
    clean = tmp_path / "clean"
    assert main_cli(*common, "--out", str(clean))[0] == 0
    a, ma = read_checkpoint(killed / "checkpoint.safetensors")
    b, mb = read_checkpoint(clean / "checkpoint.safetensors")
    assert ma["counters"]["step"] == mb["counters"]["step"] == TOTAL
    assert sorted(a) == sorted(b) and any(k.startswith("model/g_ema/") for k in b)
    for k in b:
        assert torch.equal(a[k], b[k]), k
    assert tb_steps(killed / "tb") == tb_steps(clean / "tb")  # one clean curve per tag after the resume
