"""``--time-limit``: the UV-generator training stops at the limit, checkpoints, writes its network as if
``--steps`` were the steps done, and a rerun resumes from there."""
from __future__ import annotations

import pytest
from styleface.errors import StyleFaceError
from uvgenhelpers import parts_for, tiny_config, uvgen_options, uvgen_standin

from styleface_train.common.checkpoint import read_checkpoint
from styleface_train.uvgen.uvgen_train import train_uvgen

pytestmark = pytest.mark.filterwarnings("ignore:.*starts from random weights")


def test_time_limit_stops_writes_the_network_and_resumes(tmp_path, toy_npz, toy_model):
    standin = uvgen_standin(toy_npz, toy_model)
    opts = uvgen_options(tmp_path / "run", standin, parts_for(standin, tmp_path / "parts"))
    lines: list[str] = []
    cfg = tiny_config(steps=1000, perceptual="none", step_delay=0.2, time_limit_min=0.01)   # 0.6 s
    m = train_uvgen(opts, cfg, log=lines.append)
    done = m["steps"]
    assert 1 <= done < 50 and m["total_steps"] == 1000 and m["stopped_by_time_limit"] is True
    assert any(f"min reached at step {done} of 1000" in line for line in lines)
    assert (tmp_path / "run" / "uvgen.safetensors").is_file()
    meta = read_checkpoint(tmp_path / "run" / "checkpoint.safetensors")[1]
    assert meta["counters"]["step"] == done and not meta["counters"]["finished"]
    # The limit is operational: a rerun without it resumes the same run and finishes it.
    m2 = train_uvgen(opts, tiny_config(steps=done + 2, perceptual="none"), log=lines.append)
    assert m2["steps"] == done + 2 and "stopped_by_time_limit" not in m2
    assert any(f"resuming at step {done}" in line for line in lines)


def test_time_limit_must_be_positive():
    with pytest.raises(StyleFaceError, match="--time-limit must be a positive number of minutes"):
        tiny_config(time_limit_min=0).validate()
