"""Atomic writes and trainer checkpoints: exact round trips, clear errors, no half-written files."""
from __future__ import annotations

import pytest
import torch
from styleface.errors import StyleFaceError

from styleface_train.common.atomic import atomic_path, atomic_write_bytes, remove_stale_temps
from styleface_train.common.checkpoint import load_checkpoint, read_checkpoint, save_checkpoint


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path):
    p = tmp_path / "f.bin"
    atomic_write_bytes(p, b"one")
    atomic_write_bytes(p, b"two")
    assert p.read_bytes() == b"two"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["f.bin"]


def test_atomic_write_failure_keeps_old_file(tmp_path):
    p = tmp_path / "f.bin"
    atomic_write_bytes(p, b"old")
    with pytest.raises(RuntimeError):
        with atomic_path(p) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("killed")
    assert p.read_bytes() == b"old"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["f.bin"]


def test_stale_temps_of_one_target_only(tmp_path):
    (tmp_path / ".a.bin.x1.tmp").write_bytes(b"")
    (tmp_path / ".b.bin.x2.tmp").write_bytes(b"")
    assert remove_stale_temps(tmp_path / "a.bin") == 1
    assert [x.name for x in tmp_path.iterdir()] == [".b.bin.x2.tmp"]


def _train(net, opt, steps, seed):
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        x = torch.randn(8, 4, generator=g)
        loss = (net(x) - x.sum(1, keepdim=True)).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()


def test_checkpoint_resume_is_exact(tmp_path):
    torch.manual_seed(0)
    a = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    oa = torch.optim.Adam(a.parameters(), lr=1e-2)
    _train(a, oa, 5, 1)
    save_checkpoint(tmp_path / "c.safetensors", {"net": a}, {"opt": oa}, {"step": 5}, {"what": "test"})
    torch.manual_seed(1)
    b = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    ob = torch.optim.Adam(b.parameters(), lr=1e-2)
    meta = load_checkpoint(tmp_path / "c.safetensors", {"net": b}, {"opt": ob})
    assert meta["counters"] == {"step": 5} and meta["config"] == {"what": "test"}
    _train(a, oa, 5, 2)
    _train(b, ob, 5, 2)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)


def test_checkpoint_errors(tmp_path):
    with pytest.raises(StyleFaceError, match="does not exist"):
        read_checkpoint(tmp_path / "none.safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    with pytest.raises(StyleFaceError, match="not a styleface training checkpoint"):
        read_checkpoint(bad)
    net = torch.nn.Linear(2, 2)
    save_checkpoint(tmp_path / "c.safetensors", {"net": net})
    with pytest.raises(StyleFaceError, match="no weights for 'other'"):
        load_checkpoint(tmp_path / "c.safetensors", {"other": net})
