"""Command-line options of the UV-generator training, shared by ``styleface-train uvgen`` and ``all``."""
from __future__ import annotations

import argparse

from .uvgen.uvgen_config import UVGenConfig


def int_list(text: str) -> tuple[int, ...]:
    """argparse type: '1,2,3' -> (1, 2, 3)."""
    try:
        return tuple(int(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got '{text}'") from None


def add_training_arguments(p: argparse.ArgumentParser) -> None:
    """Losses, schedule and run options; every default is the paper's (see :class:`UVGenConfig`)."""
    d = UVGenConfig()
    g = p.add_argument_group("losses and schedule (defaults: the paper's)")
    g.add_argument("--lambda-rec", type=float, default=d.lambda_rec, help=f"reconstruction weight (default {d.lambda_rec:g})")
    g.add_argument("--lambda-percept", type=float, default=d.lambda_percept,
                   help=f"LPIPS weight inside the reconstruction term (default {d.lambda_percept:g})")
    g.add_argument("--lambda-mv", type=float, default=d.lambda_mv,
                   help=f"symmetric-view weight; 0 trains without the symmetric view (default {d.lambda_mv:g})")
    g.add_argument("--no-symmetric", action="store_true", help="same as --lambda-mv 0")
    g.add_argument("--r1-gamma", type=float, default=d.r1_gamma, help=f"R1 gamma (default {d.r1_gamma:g})")
    g.add_argument("--d-reg-every", type=int, default=d.d_reg_every, help=f"R1 every N D steps (default {d.d_reg_every})")
    g.add_argument("--n-critic", type=int, default=d.n_critic, help=f"D step every N batches (default {d.n_critic})")
    g.add_argument("--lr", type=float, default=d.lr, help=f"Adam learning rate of G and D (default {d.lr:g})")
    g.add_argument("--beta1", type=float, default=d.beta1, help=f"Adam beta1 (default {d.beta1:g})")
    g.add_argument("--beta2", type=float, default=d.beta2, help=f"Adam beta2 (default {d.beta2:g})")
    g.add_argument("--ema-decay", type=float, default=d.ema_decay,
                   help=f"per-step EMA decay of G; 0: no EMA (default 0.5^(32/10000) = {d.ema_decay:.6f})")
    g.add_argument("--batch-size", type=int, default=d.batch_size, help=f"batch per process (default {d.batch_size})")
    g.add_argument("--steps", type=int, default=d.steps, help=f"training steps (default {d.steps}: 25 epochs of the paper)")
    g.add_argument("--epochs", type=float, default=None,
                   help="instead of --steps: epochs of --epoch-size codes over all processes")
    g.add_argument("--epoch-size", type=int, default=d.epoch_size, help=f"codes per epoch (default {d.epoch_size})")
    g.add_argument("--image-size", type=int, default=None, help="render/target size (default: the generator's)")
    g.add_argument("--uv-size", type=int, default=d.uv_size, help=f"UV map size (default {d.uv_size})")
    g.add_argument("--max-yaw", type=float, default=d.max_yaw_deg,
                   help=f"keep codes with |F3D yaw| below this, degrees; 0: all (default {d.max_yaw_deg:g})")
    g.add_argument("--truncation", type=float, default=d.truncation, help="truncation psi (default 1: none)")
    g.add_argument("--seed", type=int, default=d.seed, help="seed of the initialisation and the batches (default 0)")
    g.add_argument("--visibility", default=d.visibility, help="texel visibility: direct (default) or gradient (official)")
    g.add_argument("--render-mode", default=d.render_mode, help="vertex (default, official) or uv")
    g.add_argument("--noise", default=d.noise, help="G's noise inputs: random per step (default, official) or const "
                   "(its fixed maps, as at inference; use it to fine-tune a distilled G)")
    g.add_argument("--perceptual", default=d.perceptual,
                   help="lpips (default; VGG16 + LPIPS heads from your files), random (tests only) or none")
    g.add_argument("--vgg-weights", help="vgg16-397923af.pth (default: $STYLEFACE_VGG16, then the torch cache)")
    g.add_argument("--lpips-heads", help="lpips weights/v0.1/vgg.pth (default: $STYLEFACE_LPIPS_HEADS, the cache, "
                   "an installed lpips)")
    g.add_argument("--channel-multiplier", type=int, default=d.channel_multiplier,
                   help="width of randomly initialised G/D (default 2)")
    g.add_argument("--channel-max", type=int, default=d.channel_max, help="widest layer of randomly initialised G/D (default 512)")
    r = p.add_argument_group("run")
    r.add_argument("--time-limit", type=float, default=None, metavar="MINUTES",
                   help="stop after this many minutes of training, checkpoint and write the network as if --steps "
                        "were the steps done (rerunning uvgen resumes)")
    r.add_argument("--checkpoint-every", type=int, default=d.checkpoint_every, help=f"default {d.checkpoint_every}")
    r.add_argument("--image-every", type=int, default=d.image_every, help=f"image grid every N steps; 0: never "
                   f"(default {d.image_every})")
    r.add_argument("--grid-columns", type=int, default=d.grid_columns, help=f"samples per grid (default {d.grid_columns})")
    r.add_argument("--log-every", type=int, default=d.log_every, help="TensorBoard scalars every N steps (default 1)")
    r.add_argument("--val-batches", type=int, default=d.val_batches, help=f"final validation batches (default {d.val_batches})")
    r.add_argument("--max-bad-steps", type=int, default=d.max_bad_steps,
                   help=f"stop after N consecutive steps with non-finite losses (default {d.max_bad_steps})")
    r.add_argument("--device", default=d.device, help="cpu (default) or cuda (cuda:LOCAL_RANK under torchrun)")
    r.add_argument("--amp", action="store_true", help="bf16 autocast of the networks (CUDA only)")
    r.add_argument("--step-delay", type=float, default=0.0, help=argparse.SUPPRESS)
    r.add_argument("--debug-nan-steps", type=int_list, default=(), help=argparse.SUPPRESS)
    r.add_argument("--debug-digest", action="store_true", help=argparse.SUPPRESS)


def uvgen_config(args: argparse.Namespace) -> UVGenConfig:
    """The UVGenConfig that the parsed options of :func:`add_training_arguments` describe."""
    return UVGenConfig(
        lambda_rec=args.lambda_rec, lambda_percept=args.lambda_percept,
        lambda_mv=0.0 if args.no_symmetric else args.lambda_mv, r1_gamma=args.r1_gamma,
        d_reg_every=args.d_reg_every, n_critic=args.n_critic, lr=args.lr, beta1=args.beta1, beta2=args.beta2,
        ema_decay=args.ema_decay, batch_size=args.batch_size, image_size=args.image_size, uv_size=args.uv_size,
        max_yaw_deg=args.max_yaw, truncation=args.truncation, seed=args.seed, visibility=args.visibility,
        render_mode=args.render_mode, noise=args.noise, perceptual=args.perceptual, channel_multiplier=args.channel_multiplier,
        channel_max=args.channel_max, steps=args.steps, epochs=args.epochs, epoch_size=args.epoch_size,
        time_limit_min=args.time_limit, checkpoint_every=args.checkpoint_every, image_every=args.image_every,
        grid_columns=args.grid_columns,
        log_every=args.log_every, val_batches=args.val_batches, max_bad_steps=args.max_bad_steps,
        vgg_weights=args.vgg_weights, lpips_heads=args.lpips_heads, device=args.device, amp=args.amp,
        threads=args.threads, progress=not args.quiet, step_delay=args.step_delay,
        debug_nan_steps=tuple(args.debug_nan_steps), debug_digest=args.debug_digest)
