"""Every size and number a user, a request or a file can set, with its documented maximum.

Why one module: the worker, the CLI and the bundle loader must agree on what they accept, and memory
must be bounded by design (checked before work starts), not by what the machine happens to survive.
The estimates are deliberately simple upper bounds measured on the procedural face and the demo bundle
(see tests/robustness/README.md); they are meant to refuse absurd requests early with a clear
message, not to predict memory to the megabyte.

Override the memory budget with ``STYLEFACE_MAX_MEMORY_MB`` (e.g. on a large workstation).
"""
from __future__ import annotations

import math
import os
from typing import Any

from .errors import StyleFaceError

MAX_SEED = 2**63 - 1  # seeds feed torch.Generator.manual_seed / numpy default_rng: 63 bits
MAX_SEEDS_PER_REQUEST = 100_000  # worker requests (a JSON list; the 1 MiB header caps it anyway)
MAX_SEEDS_PER_RUN = 10_000_000  # CLI --seeds/--count: seeds are iterated, never listed
MAX_BATCH_SIZE = 64
MIN_TEXTURE_SIZE = 16
MAX_TEXTURE_SIZE = 2048  # procedural UV maps; 4096 needs ~7 GB in the procedural painter
MAX_QUEUED_REQUESTS = 16  # worker requests waiting behind the running one
MAX_EXPRESSION_VALUE = 10.0  # |strength| of one named expression preset
MAX_EXPRESSION_STRENGTH = 10.0  # |--expression-strength|
MAX_DISPLACEMENT_STRENGTH = 100.0  # --displacement-strength in [0, 100]
MAX_TRUNCATION = 10.0  # |truncation psi|; 0.5..1 is usual
MAX_POSE = 2 * math.pi  # radians per pose angle
MAX_LIGHTING = 100.0  # |SH lighting coefficient|
MAX_EXPRESSION_NAMES = 64
DEFAULT_MEMORY_BUDGET_MB = 8192

# Working memory while generating (bytes): a fixed part per face in a network batch (mesh,
# coefficients, activations: ~20 MB per face measured on the demo bundle), plus, for the procedural
# painter (one face at a time), ~420 bytes per texel (6.9 GB measured at 4096^2).
BYTES_PER_TEXEL = 420
BYTES_PER_BATCH_FACE = 20 << 20


def memory_budget_bytes() -> int:
    """The memory budget for one generation batch; ``STYLEFACE_MAX_MEMORY_MB`` overrides the default."""
    text = os.environ.get("STYLEFACE_MAX_MEMORY_MB", "")
    if text.strip().isascii() and text.strip().isdigit():
        return int(text.strip()) << 20
    return DEFAULT_MEMORY_BUDGET_MB << 20


def estimate_batch_bytes(batch_size: int, texture_size: int | None) -> int:
    """Upper-bound estimate of the working memory of one generation batch (``texture_size``: the
    procedural painter's map size, None for network bundles whose map size is fixed)."""
    return batch_size * BYTES_PER_BATCH_FACE + (texture_size or 0) ** 2 * BYTES_PER_TEXEL


def check_memory(batch_size: int, texture_size: int | None, what: str = "generation") -> int:
    """Raise StyleFaceError when a batch would exceed the memory budget; returns the estimate."""
    need, budget = estimate_batch_bytes(batch_size, texture_size), memory_budget_bytes()
    if need > budget:
        raise StyleFaceError(
            f"{what} with batch size {batch_size}" + (f" and texture size {texture_size}" if texture_size else "")
            + f" needs about "
            f"{need >> 20} MiB, over the {budget >> 20} MiB budget; use a smaller batch or texture size "
            "(or raise STYLEFACE_MAX_MEMORY_MB)")
    return need


def check_int(value: Any, name: str, lo: int, hi: int) -> int:
    """An int (not bool) in [lo, hi], else a one-line StyleFaceError."""
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise StyleFaceError(f"{name} must be an integer in [{lo}, {hi}], got {_short(value)}")
    return value


def check_number(value: Any, name: str, lo: float, hi: float) -> float:
    """A finite int/float (not bool) in [lo, hi], else a one-line StyleFaceError."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise StyleFaceError(f"{name} must be a number, got {_short(value)}")
    try:
        v = float(value)
    except OverflowError:
        v = math.inf
    if not math.isfinite(v) or not lo <= v <= hi:
        raise StyleFaceError(f"{name} must be a finite number in [{lo:g}, {hi:g}], got {_short(value)}")
    return v


def check_expression(expression: Any, name: str = "expression") -> dict[str, float]:
    """{preset name: strength} with at most MAX_EXPRESSION_NAMES short names and bounded strengths."""
    if not isinstance(expression, dict) or len(expression) > MAX_EXPRESSION_NAMES:
        raise StyleFaceError(f"{name} must be an object of at most {MAX_EXPRESSION_NAMES} name: strength pairs")
    out = {}
    for k, v in expression.items():
        if not isinstance(k, str) or not k or len(k) > 64:
            raise StyleFaceError(f"{name}: preset names must be non-empty strings of at most 64 characters")
        out[k] = check_number(v, f"{name} '{k}'", -MAX_EXPRESSION_VALUE, MAX_EXPRESSION_VALUE)
    return out


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
