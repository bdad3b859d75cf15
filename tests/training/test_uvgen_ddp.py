"""``torchrun --nproc-per-node 2 -m styleface_train.cli uvgen``: two CPU processes (gloo) train on
different batches (seed * world + rank) and end with identical G, D and G-EMA (DDP all-reduces the
gradients, lazy R1 included); only rank 0 writes the run's files."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from uvgenhelpers import cli_generator_args, parts_for, uvgen_standin


@pytest.mark.skipif(sys.platform == "win32", reason="torchrun's gloo rendezvous is tested on POSIX")
def test_two_processes_end_with_identical_parameters(tmp_path, toy_npz, toy_model):
    f3d, yaw = parts_for(uvgen_standin(toy_npz, toy_model), tmp_path / "parts")
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "styleface_train.cli", "--threads", "1", "--quiet", "uvgen", "--f3d", str(f3d), "--yaw", str(yaw),
           *cli_generator_args(toy_npz), "--batch-size", "2", "--channel-max", "16", "--channel-multiplier", "1",
           "--perceptual", "none", "--val-batches", "1", "--steps", "3", "--n-critic", "2", "--d-reg-every", "1",
           "--image-every", "2", "--checkpoint-every", "2", "--out", str(out), "--debug-digest"]
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.loads(proc.stdout[proc.stdout.index("{"):])          # printed once, by rank 0
    assert metrics["world_size"] == 2 and metrics["steps"] == 3
    d0 = json.loads((out / "digest_rank0.json").read_text())
    d1 = json.loads((out / "digest_rank1.json").read_text())
    assert set(d0) == {"g", "d", "g_ema"} and d0 == d1
    assert sorted(p.name for p in (out / "grids").iterdir()) == ["step_000000.png", "step_000002.png"]
    assert (out / "uvgen.safetensors").is_file() and (out / "checkpoint.safetensors").is_file()
