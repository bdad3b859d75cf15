"""Helpers shared by the training tests (sizes of the tiny configs, CLI runners)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from styleface_train.standin import StandInConfig

STYLE_DIM, N_LATENT, IMAGE, TEXTURE = 32, 4, 48, 64


def small_config(toy_npz: Path, **kw) -> StandInConfig:
    base = dict(style_dim=STYLE_DIM, n_latent=N_LATENT, image_size=IMAGE, texture_size=TEXTURE,
                face_model=str(toy_npz))
    base.update(kw)
    return StandInConfig(**base)


def generator_args(toy_npz: Path) -> list[str]:
    return ["--standin-face-model", str(toy_npz), "--standin-style-dim", str(STYLE_DIM),
            "--standin-n-latent", str(N_LATENT), "--standin-image-size", str(IMAGE),
            "--standin-texture-size", str(TEXTURE)]


def _env(extra: dict | None) -> dict:
    return {**os.environ, "PYTHONWARNINGS": "ignore", **(extra or {})}


def run_cli(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``python -m styleface_train.cli`` in a subprocess (one thread, no progress bars)."""
    return subprocess.run([sys.executable, "-m", "styleface_train.cli", "--threads", "1", "--quiet", *args],
                          capture_output=True, text=True, env=_env(env), timeout=timeout)


def main_cli(*args: str) -> tuple[int, str, str]:
    """Run the CLI in this process (fast: no interpreter start); returns (status, stdout, stderr)."""
    import contextlib
    import io

    from styleface_train.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["--threads", "1", "--quiet", *args])
    return code, out.getvalue(), err.getvalue()


def popen_cli(*args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "styleface_train.cli", "--threads", "1", "--quiet", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(env))


def kill_mid_run(args: list[str], ckpt: Path, total: int) -> int:
    """Start a trainer CLI, SIGKILL it once a mid-run checkpoint exists, return the step it had reached."""
    import signal
    import time

    from styleface.errors import StyleFaceError

    from styleface_train.common.checkpoint import read_checkpoint

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
    assert 0 < step < total, f"expected a mid-run kill, got step {step} of {total}: {err[-2000:]}"
    return step


def tb_steps(log_dir: Path) -> dict[str, list[int]]:
    """{scalar tag: steps} as TensorBoard shows them (purged events dropped), asserting no tag repeats a step."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(log_dir), size_guidance={"scalars": 0})
    acc.Reload()
    out = {}
    for tag in acc.Tags()["scalars"]:
        steps = [e.step for e in acc.Scalars(tag)]
        assert steps == sorted(set(steps)), f"{tag}: steps repeat or go back: {steps}"
        out[tag] = steps
    return out
