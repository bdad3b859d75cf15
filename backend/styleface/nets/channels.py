"""Feature-map widths per resolution and reading a StyleGAN2 configuration from checkpoint tensors."""
from __future__ import annotations

import math
from typing import Any, Mapping

import torch

from ..errors import StyleFaceError


def log2_size(size: int) -> int:
    """log2 of a supported resolution (a power of two from 8 to 4096), else a StyleFaceError."""
    log = int(round(math.log2(size))) if size > 0 else 0
    if size < 8 or size > 4096 or 2**log != size:
        raise StyleFaceError(f"StyleGAN2 resolution must be a power of two between 8 and 4096, got {size}")
    return log


def channel_table(
    size: int, channel_multiplier: int = 2, channel_base: int | None = None, channel_max: int = 512,
    channels: Mapping[int | str, int] | None = None,
) -> dict[int, int]:
    """Feature-map width per resolution 4..size.

    ``min(channel_max, channel_base // res)`` with ``channel_base = 16384 * channel_multiplier``
    reproduces rosinality's table (512 up to 32 px, then 256*cm, 128*cm, ...); ``channels`` overrides
    single entries (JSON configs carry string keys, hence the conversion).
    """
    log = log2_size(size)
    base = 16384 * channel_multiplier if channel_base is None else int(channel_base)
    table = {2**i: max(1, min(int(channel_max), base // 2**i)) for i in range(2, log + 1)}
    if channels:
        for k, v in channels.items():
            if int(k) in table:
                table[int(k)] = int(v)
    return table


def binomial(n: int) -> tuple[int, ...]:
    """Binomial taps of length ``n`` ([1, 3, 3, 1] for 4): a placeholder FIR whose values a checkpoint
    overwrites; only its length shapes the network."""
    return tuple(math.comb(n - 1, i) for i in range(n))


def need_tensor(state: Mapping[str, torch.Tensor], key: str, what: str, kind: str) -> torch.Tensor:
    """``state[key]``, or an error saying the file is not a rosinality network of this ``kind``."""
    t = state.get(key)
    if not isinstance(t, torch.Tensor):
        raise StyleFaceError(f"{what} does not look like a rosinality StyleGAN2 {kind} (no '{key}')")
    return t


def with_channel_table(kwargs: dict[str, Any], size: int, channels: dict[int, int]) -> dict[str, Any]:
    """Add ``channel_multiplier`` when the widths are rosinality's table for 2 or 1, else ``channels``."""
    for cm in (2, 1):
        if channel_table(size, cm) == channels:
            kwargs["channel_multiplier"] = cm
            return kwargs
    kwargs["channels"] = {str(k): v for k, v in channels.items()}
    return kwargs
