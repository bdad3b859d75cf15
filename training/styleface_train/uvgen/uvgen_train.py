"""``styleface-train uvgen``: train the UV generator by differentiable rendering (StyleFaceUV, part 2).

The loop around :class:`uvgen_step.UVGenStep`: set-up, resume, DDP, the non-finite guard, logging and
the final network. Why it is exact to resume: each batch's codes and noise come from a seed that is a
pure function of (seed, rank, step) (``uvgen_views``), and one atomically replaced checkpoint holds G,
D, G-EMA, both Adam states and the counters; a killed run restarts from its last checkpoint and ends
with the same weights as an uninterrupted one.

Under ``torchrun --nproc-per-node N`` every rank trains its own batches (seed * N + rank); G and D are
DDP-wrapped (``broadcast_buffers=False``); only rank 0 logs, draws grids and writes files, between
barriers. Outputs in ``--out``: ``checkpoint.safetensors``, ``tb/`` (TensorBoard), ``grids/*.png``,
and at the end ``uvgen.safetensors`` + ``uvgen.json`` (the EMA generator, ``styleface.nets.io``
format) and ``metrics.json``.
"""
from __future__ import annotations

import copy
import hashlib
import json
import time
from collections import deque
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F
from styleface.errors import StyleFaceError
from torch.nn.parallel import DistributedDataParallel

from ..common.atomic import atomic_write_text
from ..common.checkpoint import clean_temps, load_checkpoint, save_checkpoint
from ..common.distributed import DistContext, init_distributed
from .losses import photometric_loss
from ..common.modelfile import save_network
from ..common.trainloop import Logger
from .uvgen_config import UVGenConfig
from .uvgen_grid import make_grid, training_rows, write_png
from .uvgen_setup import Frozen, UVGenOptions, build_discriminator, build_uvgen, load_frozen, resized_mask
from .uvgen_step import UVGenStep
from .uvgen_views import ViewSampler

CHECKPOINT = "checkpoint.safetensors"
FINAL = "uvgen.safetensors"
LAST_N = 50


@dataclass
class RunState:
    step: int = 0          # batches done (the next batch's index)
    skipped: int = 0       # steps with a skipped update, in total
    bad_streak: int = 0    # consecutive such steps
    finished: bool = False
    # whole-run statistics for metrics.json, carried across resumes in the checkpoint
    runs: int = 0                  # processes that worked on this run (1 + resumes)
    timed_steps: int = 0
    seconds: float = 0.0           # wall seconds of the timed steps
    cpu_seconds: float = 0.0
    recent: list[dict[str, float]] = field(default_factory=list)  # scalars of the last LAST_N steps


def _check_identity(ckpt: Path, old: dict[str, Any], new: dict[str, Any]) -> None:
    if old == new:
        return
    flat_old = {**old.get("config", {}), **{k: v for k, v in old.items() if k != "config"}}
    flat_new = {**new.get("config", {}), **{k: v for k, v in new.items() if k != "config"}}
    keys = sorted(k for k in set(flat_old) | set(flat_new) if flat_old.get(k) != flat_new.get(k))
    detail = ", ".join(f"{k}: {json.dumps(flat_old.get(k))} -> {json.dumps(flat_new.get(k))}" for k in keys[:3])
    raise StyleFaceError(f"{ckpt} belongs to a different run ({detail}); use another --out or delete it")


def state_digest(modules: dict[str, torch.nn.Module]) -> dict[str, str]:
    """sha256 of each module's state dict (sorted keys, raw bytes): equal digests mean equal weights."""
    out = {}
    for name, m in modules.items():
        h = hashlib.sha256()
        for k, v in sorted(m.state_dict().items()):
            h.update(k.encode())
            h.update(v.detach().cpu().contiguous().numpy().tobytes())
        out[name] = h.hexdigest()
    return out


@torch.no_grad()
def evaluate(net: torch.nn.Module, frozen: Frozen, sampler: ViewSampler, cfg: UVGenConfig) -> dict[str, float]:
    """Reconstruction of fixed validation batches (stream 'val', the original view) by ``net``; with the
    stand-in on its own face model also the L1 of the UV maps against its true maps."""
    sums: dict[str, float] = {}
    gen_module = frozen.handle.module
    truth = frozen.handle.has_truth and getattr(gen_module, "face_model", None) is not None \
        and gen_module.face_model.name == frozen.face_model.name
    mask = frozen.uv_mask
    for i in range(cfg.val_batches):
        rng = sampler.rng(f"val:{cfg.seed}", i)
        views = sampler.sample(rng, False)
        diffuse, disp = net(views.w, noise=cfg.noise, generator=rng)
        out = frozen.renderer.render(views.coeffs, diffuse.float(), disp.float())
        m = (out.mask > 0).float()
        fake = out.image.clamp(0, 1)
        vals = {"val_photo": photometric_loss(fake, views.target, m)}
        if frozen.perceptual is not None:
            vals["val_lpips"] = frozen.perceptual(views.target * m * 2 - 1, fake * 2 - 1).float().mean()
        if truth:
            t_diffuse, t_disp = gen_module.maps(views.w)
            size = (cfg.uv_size, cfg.uv_size)
            t_diffuse = F.interpolate(t_diffuse, size=size, mode="bilinear", align_corners=False, antialias=True)
            t_disp = F.interpolate(t_disp, size=size, mode="bilinear", align_corners=False, antialias=True)
            w = torch.ones_like(diffuse[:, :1]) if mask is None else mask.to(diffuse).expand_as(diffuse[:, :1])
            vals["val_diffuse_l1_true"] = ((diffuse - t_diffuse).abs() * w).sum() / (3 * w.sum())
            vals["val_displacement_l1_true"] = ((disp - t_disp).abs() * w).sum() / (3 * w.sum())
        for k, v in vals.items():
            sums[k] = sums.get(k, 0.0) + float(v) / cfg.val_batches
    return sums


def train_uvgen(options: UVGenOptions, config: UVGenConfig | None = None,
                log: Callable[[str], None] = print) -> dict[str, Any]:
    """Train (or resume) the UV generator; write ``uvgen.safetensors`` and metrics.json; return the metrics."""
    cfg = config or UVGenConfig()
    cfg.validate()
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    ctx = init_distributed(cfg.device)
    try:
        return _train(options, cfg, ctx, log if ctx.main else (lambda _msg: None))
    finally:
        ctx.close()


def _train(opts: UVGenOptions, cfg: UVGenConfig, ctx: DistContext, log: Callable[[str], None]) -> dict[str, Any]:
    out = Path(opts.out)
    dev = ctx.device
    frozen = load_frozen(opts, cfg, dev)
    cfg = cfg.with_uv_size(frozen.handle.n_latent)
    frozen.uv_mask = resized_mask(frozen.uv_mask, cfg.uv_size)
    g, g_init = build_uvgen(frozen, cfg, opts.init_uvgen)
    d, d_init = build_discriminator(frozen, cfg)
    g, d = g.to(dev), d.to(dev)
    ema = copy.deepcopy(g).eval().requires_grad_(False) if cfg.ema_decay > 0 else None
    betas = (cfg.beta1, cfg.beta2)
    opt_g = torch.optim.Adam([p for p in g.parameters() if p.requires_grad], lr=cfg.lr, betas=betas)
    opt_d = torch.optim.Adam(d.parameters(), lr=cfg.lr, betas=betas)
    modules: dict[str, torch.nn.Module] = {"g": g, "d": d, **({"g_ema": ema} if ema is not None else {})}
    optimizers = {"g": opt_g, "d": opt_d}
    identity = {"trainer": "uvgen", "config": cfg.identity(), **frozen.description,
                **({"init_uvgen": state_digest({"g": g})["g"][:16]} if opts.init_uvgen is not None else {})}

    ckpt = out / CHECKPOINT
    if ctx.main:
        out.mkdir(parents=True, exist_ok=True)
        clean_temps(ckpt)
    ctx.barrier()
    state = RunState()
    had_checkpoint = ckpt.exists()
    if had_checkpoint:
        meta = load_checkpoint(ckpt, modules, optimizers)
        _check_identity(ckpt, json.loads(json.dumps(meta.get("config", {}).get("identity", {}))),
                        json.loads(json.dumps(identity)))
        c = meta["counters"]
        state = RunState(**{f.name: c[f.name] for f in fields(RunState) if f.name in c})
    total = cfg.total_steps(ctx.world)

    if ctx.enabled:
        ids = [dev.index] if dev.type == "cuda" else None
        g_train = DistributedDataParallel(g, device_ids=ids, broadcast_buffers=False)
        d_train = DistributedDataParallel(d, device_ids=ids, broadcast_buffers=False)
    else:
        g_train, d_train = g, d
    runner = UVGenStep(g_train, d_train, ema, opt_g, opt_d, frozen.renderer, frozen.perceptual, frozen.uv_mask,
                       cfg, ctx)
    sampler = ViewSampler(frozen.handle.module, frozen.f3d, frozen.yaw, cfg.batch_size, frozen.image_size,
                          cfg.max_yaw_deg, cfg.truncation, dev)

    def save() -> None:
        ctx.barrier()
        if ctx.main:
            save_checkpoint(ckpt, modules, optimizers, {**asdict(state), "total_steps": total},
                            {"identity": identity, "config": cfg.to_json(), "world": ctx.world,
                             "init": {"g": g_init, "d": d_init}})
        ctx.barrier()

    log(f"uvgen: {ctx.world} process(es) on {dev}, G from {g_init} weights, D from {d_init} weights, "
        f"{total} steps" + (f", resuming at step {state.step}" if state.step else ""))
    # step i's scalars are logged at i, and a checkpoint at step s holds steps 0..s-1: purge from s, also when
    # an earlier process logged steps before its first checkpoint (s = 0)
    logger = Logger(out / "tb", purge_step=state.step if (out / "tb").exists() else None) if ctx.main else None
    from tqdm.auto import tqdm

    bar = tqdm(total=total, initial=min(state.step, total), desc="uvgen", unit="step", dynamic_ncols=True,
               disable=not (cfg.progress and ctx.main))
    stream = f"train:{cfg.seed * ctx.world + ctx.rank}"
    recent: deque[dict[str, float]] = deque(state.recent, maxlen=LAST_N)
    state.runs += 1
    state.finished = state.step >= total
    stopped = False                     # --time-limit ended the run
    deadline = None if cfg.time_limit_min is None else time.monotonic() + 60 * cfg.time_limit_min
    try:
        while state.step < total:
            if deadline is not None and ctx.any_true(time.monotonic() > deadline):   # ranks stop together
                stopped = True
                log(f"uvgen: --time-limit {cfg.time_limit_min:g} min reached at step {state.step} of {total}")
                break
            i = state.step
            t0, c0 = time.perf_counter(), time.process_time()
            rng = sampler.rng(stream, i)
            views = sampler.sample(rng, cfg.symmetric)
            result = runner(i, views, rng)
            state.step += 1
            if result.skipped:
                state.skipped += 1
                state.bad_streak += 1
                _, name, value = result.skipped[0]
                what = "gradient" if name == "gradient" else f"loss '{name}'"
                log(f"step {i}: non-finite {what} ({value}); step skipped")
                if state.bad_streak >= cfg.max_bad_steps:
                    raise StyleFaceError(f"{state.bad_streak} consecutive steps with non-finite losses (last: "
                                         f"{what} at step {i}); stopping (the last checkpoint is intact)")
            else:
                state.bad_streak = 0
            dt = time.perf_counter() - t0
            state.timed_steps += 1
            state.seconds += dt
            state.cpu_seconds += time.process_time() - c0  # process CPU time: steadier on a shared machine
            recent.append(result.scalars)
            state.recent = list(recent)
            bar.update(1)
            if logger is not None:
                if i % cfg.log_every == 0:
                    logger.scalars({**{f"train/{k}": v for k, v in result.scalars.items()},
                                    "train/seconds_per_step": dt, "train/skipped_steps": state.skipped}, i)
                if cfg.image_every and i % cfg.image_every == 0:
                    grid = make_grid(training_rows(result, views), cfg.grid_columns)
                    write_png(grid, out / "grids" / f"step_{i:06d}.png")
                    if logger.writer is not None:
                        logger.writer.add_image("train/grid", grid, i)
                bar.set_postfix({k: f"{result.scalars[k]:.4g}" for k in ("photo", "g_total") if k in result.scalars})
            if cfg.step_delay:
                time.sleep(cfg.step_delay)
            if state.step % cfg.checkpoint_every == 0 and state.step < total:
                save()
        if stopped:
            save()
        elif not state.finished or not had_checkpoint:
            state.finished = True
            save()
    finally:
        bar.close()
        if logger is not None:
            logger.close()

    final = ema if ema is not None else g
    metrics: dict[str, Any] = {"steps": state.step, "total_steps": total, "skipped_steps": state.skipped,
                               **({"stopped_by_time_limit": True} if stopped else {}),
                               "world_size": ctx.world, "batch_size": cfg.batch_size, "init": {"g": g_init, "d": d_init}}
    metrics["runs"] = state.runs
    metrics["timed_steps"] = state.timed_steps
    if state.timed_steps:  # over the whole run, resumes included (steps redone after a kill count once)
        metrics["seconds_per_step"] = state.seconds / state.timed_steps
        metrics["cpu_seconds_per_step"] = state.cpu_seconds / state.timed_steps
    if recent:
        keys = sorted({k for r in recent for k in r})
        metrics["last"] = {k: sum(r[k] for r in recent if k in r) / sum(1 for r in recent if k in r) for k in keys}
    if cfg.debug_digest:
        atomic_write_text(out / f"digest_rank{ctx.rank}.json", json.dumps(state_digest(modules), indent=1))
    if ctx.main:
        final.eval()
        metrics.update(evaluate(final, frozen, sampler, cfg))
        save_network(out / FINAL, copy.deepcopy(final).cpu().eval())
        atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=1))
        log(f"uvgen: wrote {out / FINAL}")
    ctx.barrier()
    return metrics
