"""A small resumable training loop shared by the F3D and Fyaw trainers.

Why not a framework: resuming must be exact after SIGKILL. The order of batches is a pure function of
(seed, epoch), the learning rate a pure function of the epoch (MultiStepLR), and the checkpoint holds
weights, Adam state and (epoch, batch, step) in one atomically replaced file. A killed run restarts
at the last checkpoint and replays the same batches, so it ends with the same step count and weights.
"""
from __future__ import annotations

import math
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from styleface.errors import StyleFaceError

from .checkpoint import clean_temps, load_checkpoint, save_checkpoint

CHECKPOINT = "checkpoint.safetensors"


@dataclass
class LoopConfig:
    epochs: int = 25
    batch_size: int = 16
    lr: float = 1e-5
    milestones: tuple[int, ...] = (5, 10, 15)
    lr_gamma: float = 0.1
    seed: int = 0
    checkpoint_every: int = 500       # steps; a checkpoint is also written after every epoch
    shuffle: bool = True
    step_delay: float = 0.0           # seconds of sleep per step (tests use it to kill a run mid-way)
    extra: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.checkpoint_every < 1:
            raise StyleFaceError("--epochs, --batch-size and --checkpoint-every must be at least 1")
        if not self.lr > 0:
            raise StyleFaceError("--lr must be positive")

    def lr_at(self, epoch: int) -> float:
        """MultiStepLR: multiply by lr_gamma at each milestone epoch reached."""
        return self.lr * self.lr_gamma ** sum(1 for m in self.milestones if epoch >= m)


def epoch_order(n: int, seed: int, epoch: int, shuffle: bool) -> torch.Tensor:
    if not shuffle:
        return torch.arange(n)
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100_003 + epoch))


class Logger:
    """TensorBoard scalars when tensorboard is installed (the ``train`` extra), else nothing."""

    def __init__(self, log_dir: Path | None, purge_step: int | None) -> None:
        self.writer = None
        if log_dir is None:
            return
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            warnings.warn("tensorboard is not installed: no TensorBoard logs (pip install tensorboard)")
            return
        self.writer = SummaryWriter(str(log_dir), purge_step=purge_step)

    def scalars(self, values: dict[str, float], step: int) -> None:
        if self.writer is not None:
            for k, v in values.items():
                self.writer.add_scalar(k, v, step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.flush()
            self.writer.close()


@dataclass
class LoopState:
    epoch: int = 0
    batch: int = 0       # next batch index within the epoch
    step: int = 0        # optimiser steps done in total
    finished: bool = False
    history: list[dict[str, float]] = field(default_factory=list)


def run_loop(out: Path, n_train: int, modules: dict[str, torch.nn.Module], optimizer: torch.optim.Optimizer,
             train_step: Callable[[torch.Tensor], dict[str, float]], validate: Callable[[], dict[str, float]],
             cfg: LoopConfig, config_json: dict[str, Any], progress: bool = True) -> LoopState:
    """Train for cfg.epochs over indices [0, n_train), resuming from ``out/checkpoint.safetensors``."""
    cfg.validate()
    if n_train < 1:
        raise StyleFaceError("no training samples")
    out.mkdir(parents=True, exist_ok=True)
    ckpt = out / CHECKPOINT
    clean_temps(ckpt)
    state = LoopState()
    if ckpt.exists():
        meta = load_checkpoint(ckpt, modules, {"opt": optimizer})
        old = meta.get("config", {})
        if old.get("trainer") != config_json.get("trainer") or old.get("data") != config_json.get("data"):
            raise StyleFaceError(f"{ckpt} belongs to a different run (trainer or data differ); "
                                 "use another --out or delete it")
        c = meta["counters"]
        state = LoopState(c["epoch"], c["batch"], c["step"], c["finished"], c.get("history", []))
    steps_per_epoch = math.ceil(n_train / cfg.batch_size)
    total = cfg.epochs * steps_per_epoch
    # Scalars are logged after a step completes, at the step count reached, so the checkpointed step's own
    # scalars are already on disk: a resumed run purges what an interrupted one logged past it, from step+1.
    logger = Logger(out / "tb", purge_step=state.step + 1 if (out / "tb").exists() else None)
    from tqdm.auto import tqdm

    bar = tqdm(total=total, initial=min(state.step, total), desc=config_json.get("trainer", "train"), unit="step",
               disable=not progress, dynamic_ncols=True)
    full_config = {**config_json, "loop": {**asdict(cfg), "milestones": list(cfg.milestones)}}

    def save() -> None:
        counters = {"epoch": state.epoch, "batch": state.batch, "step": state.step, "finished": state.finished,
                    "history": state.history, "steps_per_epoch": steps_per_epoch, "total_steps": total}
        save_checkpoint(ckpt, modules, {"opt": optimizer}, counters, full_config)

    try:
        while state.epoch < cfg.epochs and not state.finished:
            lr = cfg.lr_at(state.epoch)
            for g in optimizer.param_groups:
                g["lr"] = lr
            order = epoch_order(n_train, cfg.seed, state.epoch, cfg.shuffle)
            for m in modules.values():
                m.train()
            while state.batch < steps_per_epoch:
                idx = order[state.batch * cfg.batch_size:(state.batch + 1) * cfg.batch_size]
                scalars = train_step(idx)
                state.batch += 1
                state.step += 1
                bar.update(1)
                if state.step % 10 == 0 or state.batch == steps_per_epoch:
                    logger.scalars({**{f"train/{k}": v for k, v in scalars.items()}, "train/lr": lr}, state.step)
                if cfg.step_delay:
                    time.sleep(cfg.step_delay)
                if state.step % cfg.checkpoint_every == 0 and state.batch < steps_per_epoch:
                    save()
            for m in modules.values():
                m.eval()
            with torch.no_grad():
                val = validate()
            logger.scalars({f"val/{k}": v for k, v in val.items()}, state.step)
            state.history.append({"epoch": state.epoch, "step": state.step, **val})
            bar.set_postfix({k: f"{v:.4g}" for k, v in list(val.items())[:2]})
            state.epoch += 1
            state.batch = 0
            state.finished = state.epoch >= cfg.epochs
            save()
    finally:
        bar.close()
        logger.close()
    return state
