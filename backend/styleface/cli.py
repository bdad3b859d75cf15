"""The ``styleface`` command line: generate faces, inspect the installation.

User errors print one line (``styleface: error: ...``) and exit with status 2; no tracebacks.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .errors import StyleFaceError

FORMATS = ("obj", "glb", "exr", "png16", "json")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not usage + message
        raise StyleFaceError(f"{message} (see 'styleface {self.prog.split()[-1]} --help')"
                             if " " in self.prog else message)


def _build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="styleface", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", parser_class=_Parser)

    g = sub.add_parser("generate", help="generate textured 3D faces and export them")
    src = g.add_mutually_exclusive_group()
    src.add_argument("--seed", type=int, help="first seed (with --count)")
    src.add_argument("--seeds", help="seed list such as 0-99 or 3,7,10-12")
    g.add_argument("--count", type=int, default=1, help="number of faces from --seed on (default 1)")
    g.add_argument("--out", type=Path, default=Path("out"), help="output folder (default out/)")
    g.add_argument("--formats", default=",".join(FORMATS),
                   help=f"comma list of {', '.join(FORMATS)} (default all)")
    g.add_argument("--texture-size", type=int, default=256, help="UV map size in texels (default 256)")
    g.add_argument("--bake-displacement", action="store_true",
                   help="also move exported vertices by the displacement map")
    g.add_argument("--expression", default=None,
                   help="named expression preset with optional strength, e.g. smile_left=0.8")
    g.add_argument("--quiet", action="store_true", help="no progress bar")

    sub.add_parser("info", help="print what is installed and found")
    return p


def _parse_formats(text: str) -> tuple[str, ...]:
    fmts = tuple(f.strip().lower() for f in text.split(",") if f.strip())
    bad = [f for f in fmts if f not in FORMATS]
    if bad or not fmts:
        raise StyleFaceError(f"unknown format(s) {', '.join(bad) or '(none)'}; choose from {', '.join(FORMATS)}")
    return fmts


def _cmd_generate(args: argparse.Namespace) -> int:
    from .seeds import parse_seeds
    from .progress import progress

    if args.seeds is not None:
        seeds = parse_seeds(args.seeds)
    else:
        if args.count < 1:
            raise StyleFaceError("--count must be at least 1")
        start = 0 if args.seed is None else args.seed
        seeds = parse_seeds(f"{start}-{start + args.count - 1}")
    formats = _parse_formats(args.formats)
    if not 16 <= args.texture_size <= 4096:
        raise StyleFaceError("--texture-size must be between 16 and 4096")
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise StyleFaceError(f"cannot create output folder {args.out}: {e.strerror}") from None

    from .export import export_face
    from .procedural_face import ProceduralFaceGenerator, parse_expression

    expression = parse_expression(args.expression) if args.expression else None
    gen = ProceduralFaceGenerator(texture_size=args.texture_size)
    t0 = time.perf_counter()
    for seed in progress(seeds, desc="faces", disable=args.quiet or len(seeds) < 2):
        assets = gen.generate(seed, expression=expression)
        export_face(assets, args.out, f"face_{seed:06d}", formats=formats,
                    bake_displacement=args.bake_displacement)
    if not args.quiet:
        print(f"wrote {len(seeds)} face(s) to {args.out}/ in {time.perf_counter() - t0:.1f} s")
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    from .info import collect_info

    for key, value in collect_info().items():
        print(f"{key:>14}: {value}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 2
        return {"generate": _cmd_generate, "info": _cmd_info}[args.command](args)
    except StyleFaceError as e:
        print(f"styleface: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("styleface: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
