"""Seconds per UV-generator training step on CPU (``styleface-train uvgen``'s loop, one process).

The stand-in on the demo head makes the targets; F3D and Fyaw are tiny networks fitted for a few
seconds (their quality does not change the cost). ``--perceptual random`` costs what LPIPS-VGG costs
(same VGG16), without the weight files. Each step runs as its own resumed call, so the seconds of every
step are reported (wall and process CPU seconds; CPU time is the steadier number on a shared machine):
step 0 is a D step with R1 plus a G step, steps 1-4 are G steps only (D every 5th
batch), so the mean of steps 0-4 is one full cycle (R1 is then every 80 steps, not every 5).

    OMP_NUM_THREADS=1 python benchmarks/uvgen_step.py --threads 1 --size 64 --batch 2
    OMP_NUM_THREADS=1 python benchmarks/uvgen_step.py --threads 1 --size 256 --batch 2 --steps 2 --paper-widths \
        --style-dim 512 --variants full
    python benchmarks/uvgen_step.py --device cuda --size 128 --batch 32 --steps 10 --variants nolpips --ops

``--ops`` then runs the last variant on through its next D step under the profiler and prints, per step,
how many aten operators it called and the ten with the most self time: on a GPU a step of many small
operators is bound by launches, not FLOPs.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
import warnings
from dataclasses import replace
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "training"))

from uvgenhelpers import fit_parts  # noqa: E402

from styleface_train.standin.generators import GeneratorHandle  # noqa: E402
from styleface_train.standin import StandInConfig, StandInGenerator  # noqa: E402
from styleface_train.uvgen.uvgen_config import UVGenConfig  # noqa: E402
from styleface_train.uvgen.uvgen_setup import UVGenOptions  # noqa: E402
from styleface_train.uvgen.uvgen_train import train_uvgen  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=64, help="image and UV size (default 64)")
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--style-dim", type=int, default=128)
    p.add_argument("--steps", type=int, default=5, help="timed steps from step 0 (default 5)")
    p.add_argument("--no-warmup", action="store_true", help="skip the untimed first step (saves time at 256 px)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    p.add_argument("--ops", action="store_true", help="profile one step of the last variant: operator count, top 10")
    p.add_argument("--paper-widths", action="store_true", help="channel multiplier 2, max 512 (default: 1, 128)")
    p.add_argument("--variants", default="full,nolpips,nosym",
                   help="full (LPIPS + symmetric view), nolpips, nosym (comma-separated)")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    warnings.simplefilter("ignore")
    n_latent = 2 * int(math.log2(a.size)) - 2
    standin = StandInGenerator(StandInConfig(style_dim=a.style_dim, n_latent=n_latent, image_size=a.size,
                                             texture_size=a.size)).eval()
    handle = GeneratorHandle(standin, standin.config_dict(), True)
    widths = dict(channel_multiplier=2, channel_max=512) if a.paper_widths else dict(channel_multiplier=1,
                                                                                      channel_max=128)
    variants = {"full": dict(perceptual="random"), "nolpips": dict(perceptual="none"),
                "nosym": dict(perceptual="random", lambda_mv=0.0)}
    report = {"size": a.size, "batch": a.batch, "threads": a.threads, "style_dim": a.style_dim, **widths}
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        f3d, yaw = fit_parts(standin, Path(tmp) / "parts", steps=100)
        report["fit_parts_s"] = round(time.perf_counter() - t0, 1)
        first = True
        for name in a.variants.split(","):
            opts = UVGenOptions(out=Path(tmp) / name, f3d=f3d, yaw=yaw, generator=handle)
            cfg = dict(batch_size=a.batch, image_every=0, val_batches=0, progress=False, max_yaw_deg=60.0,
                       device=a.device, **widths, **variants[name])
            if first and not a.no_warmup:   # untimed: the first convolutions set up their kernels
                train_uvgen(UVGenOptions(out=Path(tmp) / "warmup", f3d=f3d, yaw=yaw, generator=handle),
                            UVGenConfig(steps=1, **cfg), log=lambda m: None)
                first = False
            times, cpu = [], []
            for k in range(1, a.steps + 1):
                m = train_uvgen(opts, UVGenConfig(steps=k, **cfg), log=lambda m: None)
                times.append(round(m["seconds_per_step"], 3))
                cpu.append(round(m["cpu_seconds_per_step"], 3))
            report[name] = {"seconds": times, "mean": round(sum(times) / len(times), 3),
                            "cpu_seconds": cpu, "cpu_mean": round(sum(cpu) / len(cpu), 3)}
            print(json.dumps({name: report[name]}), flush=True)
        if a.ops:
            report["ops"] = profile_step(opts, UVGenConfig(**cfg), a.steps)
    print(json.dumps(report, indent=1))


def profile_step(opts: UVGenOptions, cfg: UVGenConfig, done: int) -> dict:
    """Profile the run in ``opts`` resumed through its next D step (D on every 5th batch), minus the same
    call with no steps left (set-up, loading, saving): operator calls and top self times per step."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cfg.device.startswith("cuda") else [])

    def run(steps: int) -> dict:
        with profile(activities=activities) as prof:
            train_uvgen(opts, replace(cfg, steps=steps), log=lambda m: None)
        return {e.key: (e.count, e.self_cpu_time_total) for e in prof.key_averages() if e.key.startswith("aten::")}

    target = math.ceil((done + 1) / 5) * 5 + 1
    base, full = run(done), run(target)
    steps = target - done
    per = {k: ((c - base.get(k, (0, 0))[0]) / steps, (t - base.get(k, (0, 0))[1]) / 1e3 / steps)
           for k, (c, t) in full.items()}
    top = sorted(per.items(), key=lambda kv: kv[1][1], reverse=True)[:10]
    out = {"steps": steps, "aten_calls_per_step": round(sum(c for c, _ in per.values())),
           "top_self_cpu_ms_per_step": {k: round(t, 2) for k, (_, t) in top}}
    print(json.dumps({"ops": out}, indent=1), flush=True)
    return out


if __name__ == "__main__":
    main()
