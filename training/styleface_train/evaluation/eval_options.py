"""Options of ``styleface-train eval`` (kept free of heavy imports: the CLI builds its parser from here)."""
from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from styleface.errors import StyleFaceError

STANDIN_OPTIONS = ("style_dim", "n_latent", "image_size", "texture_size", "seed", "antialias")
FID_FAKE = ("auto", "generator2d", "render")


@dataclass
class EvalOptions:
    """What ``evaluate_bundle`` measures and how (the CLI flags, documented in training/README.md)."""

    count: int = 200                    # stylecodes (seeds seed .. seed + count - 1)
    seed: int = 0
    batch_size: int = 16
    truncation: float | None = None     # None: the bundle's
    yaw_max: float = 60.0               # views at -yaw_max .. yaw_max degrees
    yaw_step: float = 15.0
    views_count: int | None = None      # codes rendered at every yaw (None: count)
    view_coeffs: str = "bundle"         # 'bundle' (F3D) or 'truth' non-yaw coefficients
    variety_count: int = 100            # codes whose pairwise spread is compared with the stand-in's (0: skip)
    compare: tuple[Path, ...] = ()      # other bundles of the same world whose UV maps are scored beside
    strip: Path | None = None
    strip_faces: int = 4
    standin: bool = True
    standin_overrides: dict[str, Any] | None = None
    fid_real: Path | None = None
    inception: Path | None = None
    fid_count: int | None = None        # None: as many as real images
    fid_fake: str = "auto"
    fid_image_size: int | None = None   # renders: None -> the bundle's image resolution or 256
    fid_method: str = "sqrtm"           # 'sqrtm' (pytorch-fid's) or 'eigh' (same value, faster on CPU)
    device: str = "cpu"
    progress: bool = True

    def __post_init__(self) -> None:
        if self.count < 1 or self.batch_size < 1:
            raise StyleFaceError("--count and --batch-size must be at least 1")
        if self.variety_count < 0 or self.variety_count == 1:
            raise StyleFaceError("--variety-count must be 0 (skip) or at least 2")
        if self.views_count is not None and self.views_count < 0:
            raise StyleFaceError("--views-count must be >= 0")
        if not (0 < self.yaw_step <= 180 and 0 <= self.yaw_max <= 90):
            raise StyleFaceError("--yaw-step must be in (0, 180] and --yaw-max in [0, 90]")
        if self.view_coeffs not in ("bundle", "truth"):
            raise StyleFaceError("--view-coeffs must be 'bundle' or 'truth'")
        if self.fid_method not in ("sqrtm", "eigh"):
            raise StyleFaceError("--fid-method must be 'sqrtm' or 'eigh'")
        if self.fid_fake not in FID_FAKE:
            raise StyleFaceError(f"--fid-fake must be one of {', '.join(FID_FAKE)}")
        if not self.standin and self.fid_real is None:
            raise StyleFaceError("nothing to evaluate: --no-standin needs --fid-real")
        if self.truncation is not None and not 0 <= self.truncation <= 2:
            raise StyleFaceError("--truncation must be in [0, 2]")

    @property
    def yaws(self) -> list[float]:
        n = int(math.floor(2 * self.yaw_max / self.yaw_step + 1e-9))
        return [round(-self.yaw_max + i * self.yaw_step, 6) for i in range(n + 1)]


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The ``eval`` subcommand's flags."""
    p.add_argument("bundle", help="bundle folder or .zip")
    p.add_argument("--out", type=Path, help="write the JSON report here")
    p.add_argument("--count", type=int, default=200, help="stylecodes, seeds SEED.. (default 200)")
    p.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    p.add_argument("--batch-size", type=int, default=16, help="codes / images per batch (default 16)")
    p.add_argument("--truncation", type=float, help="truncation psi (default: the bundle's)")
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    g = p.add_argument_group("stand-in evaluation")
    g.add_argument("--no-standin", action="store_true", help="skip it (FID only)")
    g.add_argument("--yaw-max", type=float, default=60.0, help="views at -MAX..MAX degrees (default 60)")
    g.add_argument("--yaw-step", type=float, default=15.0, help="degrees between views (default 15)")
    g.add_argument("--views-count", type=int, help="codes rendered at every yaw (default: --count)")
    g.add_argument("--view-coeffs", default="bundle", choices=("bundle", "truth"),
                   help="non-yaw coefficients of the renders: the bundle's F3D (default) or the stand-in's truth")
    g.add_argument("--variety-count", type=int, default=100,
                   help="codes (the first of --count) whose mean pairwise shape and diffuse distance is compared "
                        "with the stand-in's own faces of the same codes (default 100; 0: skip)")
    g.add_argument("--compare", type=Path, action="append", default=[], metavar="BUNDLE",
                   help="also score this bundle's UV maps on the same codes (repeatable; same W+ size), e.g. one "
                        "distilled from the truth: the report gives the evaluated bundle's error per region "
                        "relative to each")
    g.add_argument("--strip", type=Path, help="PNG: stand-in (top) vs bundle render (bottom) per yaw for a few faces")
    g.add_argument("--strip-faces", type=int, default=4, help="faces in the strip (default 4)")
    for name in STANDIN_OPTIONS:
        g.add_argument(f"--standin-{name.replace('_', '-')}", type=int, dest=f"standin_{name}",
                       help=f"stand-in {name.replace('_', ' ')} (default: the bundle's provenance)")
    h = p.add_argument_group("FID")
    h.add_argument("--fid-real", type=Path, help="folder of real images (e.g. StyleGAN2 samples)")
    h.add_argument("--inception", type=Path, help="pt_inception-2015-12-05-6726825d.pth "
                                                  "(default: $STYLEFACE_INCEPTION, then the torch cache)")
    h.add_argument("--fid-count", type=int, help="bundle images (default: as many as real images)")
    h.add_argument("--fid-fake", default="auto", choices=FID_FAKE,
                   help="bundle images: its 2D generator's, renders of its 3D faces, or auto (2D when present)")
    h.add_argument("--fid-image-size", type=int, help="render size (default: the bundle's image size or 256)")
    h.add_argument("--fid-method", default="sqrtm", choices=("sqrtm", "eigh"),
                   help="matrix square root: scipy sqrtm as pytorch-fid (default) or the faster symmetric "
                        "eigendecomposition (same value up to rounding)")


def options_from_args(args: argparse.Namespace) -> EvalOptions:
    """EvalOptions from parsed ``eval`` flags (plus the global ``--quiet``)."""
    overrides = {n: getattr(args, f"standin_{n}") for n in STANDIN_OPTIONS}
    opts = EvalOptions(count=args.count, seed=args.seed, batch_size=args.batch_size, truncation=args.truncation,
                       yaw_max=args.yaw_max, yaw_step=args.yaw_step, views_count=args.views_count,
                       view_coeffs=args.view_coeffs, compare=tuple(args.compare), strip=args.strip,
                       variety_count=args.variety_count,
                       strip_faces=args.strip_faces,
                       standin=not args.no_standin, standin_overrides=overrides, fid_real=args.fid_real,
                       inception=args.inception, fid_count=args.fid_count, fid_fake=args.fid_fake,
                       fid_image_size=args.fid_image_size, fid_method=args.fid_method, device=args.device,
                       progress=not args.quiet)
    if opts.strip is not None and opts.strip_faces < 1:
        raise StyleFaceError("--strip-faces must be at least 1")
    return opts
