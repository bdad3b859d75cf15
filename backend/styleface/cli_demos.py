"""``styleface views`` and ``styleface interpolate``: the paper's demonstrations as commands.

Kept out of cli.py so the commands grow here; cli.py only registers them.
"""
from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Any, Callable

from .errors import StyleFaceError


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, default=Path("out"), help="output folder (default out/)")
    p.add_argument("--bundle", default=None,
                   help="bundle folder or .zip (default: $STYLEFACE_BUNDLE, else the embedded demo bundle)")
    p.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N, mps")
    p.add_argument("--truncation", type=float, default=None, help="truncation psi for seeds (default: the bundle's)")
    p.add_argument("--quiet", action="store_true", help="print nothing on success")


def add_demo_parsers(sub: Any) -> None:
    """Add the demonstration subcommands to the ``styleface`` subparsers."""
    v = sub.add_parser("views", help="2D image, its yaw edits and the 3D face pasted in at each yaw (per seed)")
    src = v.add_mutually_exclusive_group()
    src.add_argument("--seeds", default="0", help="seed list such as 0-3 or 3,7 (default 0)")
    src.add_argument("--wplus", type=Path, nargs="+", default=None, help="W+ files (.npy or torch-saved tensors)")
    v.add_argument("--yaws", default="-30,0,30", help="target yaws in degrees (default -30,0,30)")
    v.add_argument("--lighting", default=None,
                   help="extra rows lit by SH presets, comma list of: " + ", ".join(_preset_names()))
    v.add_argument("--light-rotations", default=None,
                   help="extra rows with the face's own light rotated by these yaws in degrees, e.g. =-60,60")
    v.add_argument("--expression", action="append", default=None,
                   help="an extra row with this expression (repeatable): names with strengths, e.g. "
                        "smile_left=1,smile_right=1, or all coefficient values as numbers")
    v.add_argument("--render-mode", choices=("uv", "vertex"), default="uv",
                   help="per-pixel UV texturing (default) or StyleFaceUV's per-vertex colours")
    v.add_argument("--feather", type=float, default=None, help="mask feather radius in pixels (default size/64)")
    v.add_argument("--no-labels", action="store_true", help="no text on the strips")
    _common(v)

    i = sub.add_parser("interpolate", help="faces along the W+ line between two seeds or W+ files")
    i.add_argument("--from", dest="start", required=True, help="a seed or a W+ file")
    i.add_argument("--to", dest="end", required=True, help="a seed or a W+ file")
    i.add_argument("--steps", type=int, default=7, help="faces including both ends (default 7)")
    i.add_argument("--formats", default="glb,json", help="formats of each face, as for generate (default glb,json)")
    i.add_argument("--yaws", default="0,35", help="yaws of the rendered strip in degrees (default 0,35)")
    i.add_argument("--image-size", type=int, default=160, help="size of each render in the strip (default 160)")
    i.add_argument("--no-labels", action="store_true", help="no text on the strip")
    _common(i)


def _preset_names() -> list[str]:
    from .lighting import PRESETS

    return list(PRESETS)


def _floats(text: str | None, what: str) -> list[float]:
    if not text:
        return []
    try:
        return [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise StyleFaceError(f"bad {what} '{text}': use numbers separated by commas") from None


def _expression(text: str) -> Any:
    parts = [t.strip() for t in text.split(",") if t.strip()]
    try:
        return [float(t) for t in parts]
    except ValueError:
        from .procedural_face import parse_expression

        return parse_expression(text)


def _mkdir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise StyleFaceError(f"cannot create output folder {path}: {e.strerror}") from None


def _cmd_views(args: argparse.Namespace) -> int:
    import numpy as np
    from PIL import Image

    from .pipeline import Pipeline
    from .seeds import parse_seeds
    from .views import ViewSynthesis, default_variants

    yaws = _floats(args.yaws, "--yaws")
    if not yaws:
        raise StyleFaceError("--yaws needs at least one angle")
    lighting = [t.strip() for t in args.lighting.split(",") if t.strip()] if args.lighting else []
    variants = default_variants(lighting, _floats(args.light_rotations, "--light-rotations"),
                                [_expression(e) for e in args.expression or []])
    _mkdir(args.out)
    pipe = Pipeline.load(args.bundle, args.device)
    vs = ViewSynthesis(pipe, render_mode=args.render_mode, feather=args.feather)
    t0 = time.perf_counter()
    written = []
    if args.wplus:
        from .interpolate import load_wplus_file

        for path in args.wplus:
            wp = np.stack([load_wplus_file(path, pipe.n_latent, pipe.style_dim)])
            strip = vs.strips(wplus=wp, yaws=yaws, variants=variants)[0]
            written.append((Path(path).stem, strip))
    else:
        for seed in parse_seeds(args.seeds):
            strip = vs.strips([seed], yaws, variants=variants, truncation=args.truncation)[0]
            written.append((f"{seed:06d}", strip))
    summary = []
    for name, strip in written:
        path = args.out / f"views_{name}.png"
        Image.fromarray(strip.to_image(labels=not args.no_labels)).save(path)
        summary.append({"file": path.name, "seed": strip.seed, "yaws": strip.yaws, "rows": list(strip.rows),
                        "predicted_yaw_deg": round(math.degrees(strip.predicted_yaw), 2),
                        "seconds": round(strip.seconds, 3)})
    (args.out / "views.json").write_text(json.dumps({"bundle": pipe.bundle.id, "strips": summary}, indent=2) + "\n")
    if not args.quiet:
        per = sum(s.seconds for _, s in written) / max(1, len(written))
        print(f"wrote {len(written)} view strip(s) from bundle '{pipe.bundle.id}' to {args.out}/ "
              f"in {time.perf_counter() - t0:.1f} s ({per:.2f} s per strip on {pipe.device})")
    return 0


def _endpoint(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        return Path(text)


def _cmd_interpolate(args: argparse.Namespace) -> int:
    import numpy as np
    from PIL import Image

    from .cli import _parse_formats
    from .export import export_face
    from .pipeline import Pipeline

    formats = _parse_formats(args.formats)
    yaws = _floats(args.yaws, "--yaws") or [0.0]
    if not 32 <= args.image_size <= 1024:
        raise StyleFaceError("--image-size must be between 32 and 1024")
    _mkdir(args.out)
    pipe = Pipeline.load(args.bundle, args.device)
    res = pipe.interpolate(_endpoint(args.start), _endpoint(args.end), args.steps, truncation=args.truncation,
                           yaws=yaws, image_size=args.image_size)
    for k, face in enumerate(res.faces):
        export_face(face, args.out, f"step_{k:03d}", formats=formats)
    Image.fromarray(res.strip_image(labels=not args.no_labels)).save(args.out / "interpolation.png")
    np.save(args.out / "wplus_from.npy", res.extra["wplus_start"])
    np.save(args.out / "wplus_to.npy", res.extra["wplus_end"])
    meta = {"bundle": pipe.bundle.id, "from": res.labels[0], "to": res.labels[1], "ts": res.ts,
            "step_rms": res.step_sizes(), "seconds": round(res.seconds, 3)}
    (args.out / "interpolation.json").write_text(json.dumps(meta, indent=2) + "\n")
    if not args.quiet:
        print(f"wrote {len(res.faces)} faces from {res.labels[0]} to {res.labels[1]} and interpolation.png "
              f"to {args.out}/ in {res.seconds:.1f} s")
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {"views": _cmd_views, "interpolate": _cmd_interpolate}
