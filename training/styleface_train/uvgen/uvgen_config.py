"""Settings of the UV-generator training (``styleface-train uvgen``); every paper default is a field.

Defaults are StyleFaceUV's (``trainer_3d_lightning.py`` and ``StyleFaceUV.training_step``):
lambda_rec 10 (the official ``photo_weight``), LPIPS 0.2 and symmetric view 0.75 inside it, R1 gamma 10
every 16 D steps, D every 5th batch and G every batch, Adam 1e-3 (0.9, 0.999) for both, batch 12,
256 px images and UV maps (the UV generator takes the 2D generator's W+, so its size follows from the
number of W+ rows: 14 rows, 256 px), |yaw| < 30 degrees. The official run is 25 epochs of 35,820 images at
batch 12, i.e. 74,625 steps. EMA of G uses rosinality's decay 0.5 ** (32 / 10,000) per step.

Fields marked ``run=False`` are operational (how long, how often to save, where to run): a checkpoint
written with other values of them resumes; a checkpoint written with other values of the rest is refused.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from styleface.errors import StyleFaceError

VISIBILITY = ("direct", "gradient")
RENDER_MODES = ("vertex", "uv")
NOISE_MODES = ("random", "const")
PAPER_STEPS = 74_625
PAPER_EPOCH_SIZE = 35_820


def _op(default: Any) -> Any:
    """An operational field (not part of the run's identity)."""
    if isinstance(default, (list, dict, tuple)):
        return field(default_factory=lambda: type(default)(default), metadata={"run": False})
    return field(default=default, metadata={"run": False})


@dataclass
class UVGenConfig:
    # loss weights and schedule
    lambda_rec: float = 10.0
    lambda_percept: float = 0.2
    lambda_mv: float = 0.75          # symmetric (multi-view) terms; 0 skips the symmetric view entirely
    r1_gamma: float = 10.0
    d_reg_every: int = 16            # R1 every d_reg_every-th D step (lazy), scaled by d_reg_every
    n_critic: int = 5                # D steps on every n_critic-th batch; G steps on every batch
    lr: float = 1e-3
    beta1: float = 0.9
    beta2: float = 0.999
    ema_decay: float = 0.5 ** (32 / 10_000)   # 0: no EMA (the final network is G itself)
    # data
    batch_size: int = 12             # per process
    image_size: int | None = None    # None: the generator's (targets are resized otherwise)
    uv_size: int | None = None       # None: the size whose W+ has the generator's rows (256 for 14 rows)
    max_yaw_deg: float = 30.0        # keep codes whose F3D yaw is within +-max_yaw_deg (0: no filter)
    truncation: float = 1.0
    seed: int = 0
    # method
    visibility: str = "direct"       # direct (from the renders' fragments) | gradient (the official probe)
    render_mode: str = "vertex"      # vertex (official) | uv
    noise: str = "random"            # G's noise inputs: random per step (official) | const (its fixed maps, as at
                                     # inference: keeps the maps a distilled G learned when fine-tuning it)
    perceptual: str = "lpips"        # lpips | random (tests) | none
    # networks initialised at random (the stand-in, or sizes that differ from the 2D generator's)
    channel_multiplier: int = 2
    channel_max: int = 512
    # operational
    steps: int = _op(PAPER_STEPS)
    epochs: float | None = _op(None)          # when set: steps = ceil(epochs * epoch_size / (batch * world))
    epoch_size: int = _op(PAPER_EPOCH_SIZE)
    time_limit_min: float | None = _op(None)  # stop after this many minutes of training (as if --steps were
                                              # the steps done); a rerun of ``uvgen`` resumes from there
    checkpoint_every: int = _op(500)
    image_every: int = _op(500)               # image grid (TensorBoard + grids/step_XXXXXX.png); 0: never
    grid_columns: int = _op(4)
    log_every: int = _op(1)
    val_batches: int = _op(2)                 # fixed batches scored with the final network
    max_bad_steps: int = _op(10)              # stop after this many consecutive steps with a non-finite loss
    vgg_weights: str | None = _op(None)
    lpips_heads: str | None = _op(None)
    device: str = _op("cpu")
    amp: bool = _op(False)                    # bf16 autocast of the networks (CUDA only)
    threads: int | None = _op(None)
    progress: bool = _op(True)
    step_delay: float = _op(0.0)              # tests: seconds of sleep per step (to kill a run mid-way)
    debug_nan_steps: tuple[int, ...] = _op(())  # tests: make the 'photo' loss NaN at these steps
    debug_digest: bool = _op(False)           # tests: every rank writes digest_rank{R}.json at the end

    @property
    def symmetric(self) -> bool:
        return self.lambda_mv > 0

    def validate(self) -> None:
        ints = {"batch_size": self.batch_size, "d_reg_every": self.d_reg_every,
                "n_critic": self.n_critic, "checkpoint_every": self.checkpoint_every,
                "max_bad_steps": self.max_bad_steps, "grid_columns": self.grid_columns,
                "log_every": self.log_every}
        low = [k for k, v in ints.items() if v < 1]
        if low:
            raise StyleFaceError(f"--{low[0].replace('_', '-')} must be at least 1")
        if self.steps < 0 or self.image_every < 0 or self.val_batches < 0:
            raise StyleFaceError("--steps, --image-every and --val-batches must not be negative")
        if self.time_limit_min is not None and not self.time_limit_min > 0:
            raise StyleFaceError("--time-limit must be a positive number of minutes")
        if self.epochs is not None and not self.epochs > 0:
            raise StyleFaceError("--epochs must be positive")
        neg = [k for k in ("lambda_rec", "lambda_percept", "lambda_mv", "r1_gamma", "max_yaw_deg")
               if not getattr(self, k) >= 0]
        if neg:
            raise StyleFaceError(f"--{neg[0].replace('_', '-')} must not be negative")
        if not self.lr > 0 or not (0 <= self.beta1 < 1 and 0 <= self.beta2 < 1):
            raise StyleFaceError("--lr must be positive and the Adam betas in [0, 1)")
        if not 0 <= self.ema_decay < 1:
            raise StyleFaceError("--ema-decay must be in [0, 1)")
        if self.visibility not in VISIBILITY:
            raise StyleFaceError(f"--visibility must be one of {', '.join(VISIBILITY)}")
        if self.render_mode not in RENDER_MODES:
            raise StyleFaceError(f"--render-mode must be one of {', '.join(RENDER_MODES)}")
        if self.noise not in NOISE_MODES:
            raise StyleFaceError(f"--noise must be one of {', '.join(NOISE_MODES)}")
        for name in ("uv_size", "image_size"):
            v = getattr(self, name)
            if v is not None and (v < 8 or v & (v - 1)):
                raise StyleFaceError(f"--{name.replace('_', '-')} must be a power of two >= 8, got {v}")
        if self.amp and not str(self.device).startswith("cuda"):
            raise StyleFaceError("--amp needs a CUDA device")

    def total_steps(self, world: int) -> int:
        if self.epochs is None:
            return self.steps
        return math.ceil(self.epochs * self.epoch_size / (self.batch_size * world))

    def with_uv_size(self, n_latent: int) -> "UVGenConfig":
        """This config with ``uv_size`` resolved for a generator with ``n_latent`` W+ rows (a UV
        generator of size S reads 2 log2(S) - 2 rows, and must read the 2D generator's W+ as it is)."""
        if n_latent < 4 or n_latent % 2:
            raise StyleFaceError(f"the generator's W+ has {n_latent} rows; a UV generator needs an even number >= 4 "
                                 "(2 log2(size) - 2)")
        size = 2 ** ((n_latent + 2) // 2)
        if self.uv_size is not None and self.uv_size != size:
            raise StyleFaceError(f"--uv-size {self.uv_size} reads {2 * int(math.log2(self.uv_size)) - 2} W+ rows, the "
                                 f"generator makes {n_latent} (use --uv-size {size}; for the stand-in, "
                                 f"--standin-n-latent sets the rows)")
        return replace(self, uv_size=size)

    def identity(self) -> dict[str, Any]:
        """The fields that define the run (a checkpoint must agree on all of them to be resumed)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.metadata.get("run", True)}

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["debug_nan_steps"] = list(self.debug_nan_steps)
        return d
