"""A resumed F3D/Fyaw-style run shows one clean TensorBoard curve per tag: what the interrupted process
logged past its checkpoint is purged, the checkpointed step's own scalars are kept."""
from __future__ import annotations

import pytest
import torch
from trainhelpers import tb_steps

from styleface_train.common.trainloop import LoopConfig, run_loop

pytest.importorskip("tensorboard")


class _Stop(Exception):
    pass


def _run(out, stop_at: int | None = None):
    torch.manual_seed(0)
    net = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    x, y = torch.randn(40, 2), torch.randn(40, 1)
    steps = {"n": 0}

    def train_step(idx):
        steps["n"] += 1
        if stop_at is not None and steps["n"] > stop_at:
            raise _Stop()
        loss = ((net(x[idx]) - y[idx]) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return {"loss": float(loss.detach())}

    cfg = LoopConfig(epochs=3, batch_size=2, lr=0.1, milestones=(), checkpoint_every=10)
    return run_loop(out, 40, {"net": net}, opt, train_step, lambda: {"l1": 0.0}, cfg,
                    {"trainer": "toy", "data": "toy"}, progress=False)


def test_resumed_run_has_one_curve_per_tag(tmp_path):
    clean, killed = tmp_path / "clean", tmp_path / "killed"
    _run(clean)
    with pytest.raises(_Stop):
        _run(killed, stop_at=35)  # checkpoint at step 30, steps 31..35 logged (and flushed) then lost
    with pytest.raises(_Stop):
        _run(killed, stop_at=3)  # a second interruption before the next checkpoint
    _run(killed)
    want = tb_steps(clean / "tb")
    assert want["train/loss"] == [10, 20, 30, 40, 50, 60] and want["val/l1"] == [20, 40, 60]
    assert tb_steps(killed / "tb") == want
