"""SIGKILL in the middle of ``styleface-train uvgen``, rerun: same final step, bit-identical G, D, G-EMA
and Adam states as an uninterrupted run (batches and noise are a pure function of seed, rank and step)."""
from __future__ import annotations

import json
import signal
import time

import pytest
import torch
from styleface.errors import StyleFaceError
from trainhelpers import main_cli, popen_cli
from uvgenhelpers import cli_generator_args, parts_for, uvgen_standin

from styleface_train.checkpoint import read_checkpoint

TOTAL = 8
pytestmark = pytest.mark.filterwarnings("ignore:.*starts from random weights")


def _kill_after_checkpoint(args: list[str], ckpt) -> int:
    proc = popen_cli(*args)
    deadline = time.time() + 120
    step = 0
    while time.time() < deadline and proc.poll() is None:
        if ckpt.exists():
            try:
                step = read_checkpoint(ckpt)[1]["counters"]["step"]
            except StyleFaceError:
                step = 0
            if step > 0:
                break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate()
    assert 0 < step < TOTAL, f"expected a mid-run kill, got step {step} of {TOTAL}: {err[-2000:]}"
    return step


def test_uvgen_resumes_after_sigkill(tmp_path, toy_npz, toy_model):
    f3d, yaw = parts_for(uvgen_standin(toy_npz, toy_model), tmp_path / "parts")
    common = ["uvgen", "--f3d", str(f3d), "--yaw", str(yaw), *cli_generator_args(toy_npz), "--batch-size", "2",
              "--channel-max", "16", "--channel-multiplier", "1", "--perceptual", "none", "--val-batches", "1",
              "--steps", str(TOTAL), "--n-critic", "2", "--d-reg-every", "2", "--checkpoint-every", "2",
              "--image-every", "0"]
    killed = tmp_path / "killed"
    _kill_after_checkpoint([*common, "--out", str(killed), "--step-delay", "0.4"], killed / "checkpoint.safetensors")
    code, out, err = main_cli(*common, "--out", str(killed))
    assert code == 0, err
    assert json.loads(out)["steps"] == TOTAL and "resuming at step" in err
    assert not list(killed.glob(".*.tmp"))
    clean = tmp_path / "clean"
    assert main_cli(*common, "--out", str(clean))[0] == 0
    a, ma = read_checkpoint(killed / "checkpoint.safetensors")
    b, mb = read_checkpoint(clean / "checkpoint.safetensors")
    assert ma["counters"]["step"] == mb["counters"]["step"] == TOTAL
    assert sorted(a) == sorted(b) and any(k.startswith("model/g_ema/") for k in b)
    for k in b:
        assert torch.equal(a[k], b[k]), k
