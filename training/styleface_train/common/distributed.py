"""Process-group setup for training under ``torchrun`` (DDP), and a no-op single-process stand-in.

The process group is created only when ``WORLD_SIZE`` > 1 (env:// rendezvous, NCCL on CUDA, gloo on
CPU); each rank then runs on ``cuda:LOCAL_RANK`` when the device is CUDA. Everything else (barriers,
reductions) is a no-op in a single process, so the training code has one path.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from styleface.errors import StyleFaceError


@dataclass
class DistContext:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    owns_group: bool = False          # this context created the process group (and destroys it)

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def any_true(self, flag: bool) -> bool:
        """True on every rank when ``flag`` is True on any rank (keeps collective decisions in step)."""
        if not self.enabled:
            return flag
        t = torch.tensor([1.0 if flag else 0.0], device=self.device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item() > 0)

    def close(self) -> None:
        if self.owns_group and dist.is_initialized():
            dist.destroy_process_group()
            self.owns_group = False


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        raise StyleFaceError(f"${name} must be an integer") from None


def init_distributed(device: str) -> DistContext:
    """A DistContext for this process; joins the torchrun process group when WORLD_SIZE > 1."""
    world = _env_int("WORLD_SIZE", 1)
    rank = _env_int("RANK", 0)
    local = _env_int("LOCAL_RANK", rank)
    dev = torch.device(device)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise StyleFaceError(f"device '{device}' requested but CUDA is not available")
        if world > 1:
            dev = torch.device("cuda", local)
        torch.cuda.set_device(dev if dev.index is not None else torch.device("cuda", 0))
    if world <= 1:
        return DistContext(0, 1, 0, dev, False)
    if not 0 <= rank < world:
        raise StyleFaceError(f"RANK {rank} is outside WORLD_SIZE {world}")
    owns = False
    if not dist.is_initialized():
        backend = "nccl" if dev.type == "cuda" else "gloo"
        dist.init_process_group(backend, init_method="env://", world_size=world, rank=rank)
        owns = True
    return DistContext(rank, world, local, dev, owns)
