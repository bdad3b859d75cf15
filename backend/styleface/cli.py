"""The ``styleface`` command line: generate faces, inspect the installation.

User errors print one line (``styleface: error: ...``) and exit with status 2; no tracebacks.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from . import cli_checks as C
from .errors import StyleFaceError

FORMATS = ("obj", "glb", "exr", "png16", "json")
CONTACT_SHEET_MAX = 64  # faces on contact_sheet.png (a big run keeps only these in memory)
EXTRA_FORMATS = ("usd",)  # not in the default: needs the optional usd-core


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not usage + message
        raise StyleFaceError(f"{message} (see 'styleface {self.prog.split()[-1]} --help')"
                             if " " in self.prog else message)


def _build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="styleface", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", parser_class=_Parser)

    g = sub.add_parser("generate", help="generate textured 3D faces and export them")
    src = g.add_mutually_exclusive_group()
    src.add_argument("--seed", type=C.SEED, help="first seed (with --count)")
    src.add_argument("--seeds", help="seed list such as 0-99 or 3,7,10-12")
    g.add_argument("--count", type=C.COUNT, default=1, help="number of faces from --seed on (default 1)")
    g.add_argument("--out", default="out", help="output folder (default out/); with --cluster any fsspec URL")
    g.add_argument("--bundle", default=None,
                   help="bundle folder or .zip (default: $STYLEFACE_BUNDLE, else the embedded demo bundle); "
                        "'procedural' draws faces from the demo face model's prior without networks")
    g.add_argument("--device", type=C.device, default="auto",
                   help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N, mps")
    g.add_argument("--batch-size", type=C.BATCH_SIZE, default=8, help="faces per network batch (default 8)")
    g.add_argument("--truncation", type=C.TRUNCATION, default=None, help="truncation psi (default: the bundle's)")
    g.add_argument("--formats", default=",".join(FORMATS),
                   help=f"comma list of {', '.join(FORMATS + EXTRA_FORMATS)} (default {','.join(FORMATS)})")
    g.add_argument("--texture-size", type=C.TEXTURE_SIZE, default=256,
                   help="UV map size for --bundle procedural (default 256, at most 2048)")
    g.add_argument("--bake-displacement", action="store_true",
                   help="also move exported vertices by the displacement map")
    g.add_argument("--expression", default=None,
                   help="named expression presets with optional strengths, e.g. smile_left=0.8,brow_raise")
    g.add_argument("--expression-from-seed", type=C.SEED, default=None,
                   help="use the expression of this seed's face")
    g.add_argument("--expression-strength", type=C.EXPRESSION_STRENGTH, default=1.0,
                   help="scale the expression (default 1)")
    g.add_argument("--displacement-strength", type=C.DISPLACEMENT_STRENGTH, default=1.0,
                   help="scale the displacement (default 1)")
    g.add_argument("--no-contact-sheet", action="store_true",
                   help="skip contact_sheet.png (all faces at 0 and 45 degrees yaw)")
    g.add_argument("--reference-yaws", default=None,
                   help="also write 2D StyleGAN2 images at these yaws in degrees, e.g. --reference-yaws=-30,0,30 "
                        "(bundles with a 2D generator)")
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    g.add_argument("--overwrite", action="store_true",
                   help="rewrite faces that are already complete in --out (default: skip them, so an "
                        "interrupted batch resumes)")
    g.add_argument("--cluster", default=None, metavar="ray[:ADDRESS]",
                   help="spread the seeds over a Ray cluster (pip install 'styleface[cluster]'); --out may "
                        "then be any fsspec URL, e.g. s3://bucket/faces; complete faces are skipped")

    io = sub.add_parser("import-official", help="build a bundle from the official StyleFaceUV release files")
    io.add_argument("checkpoint", type=Path, help="full-model Lightning checkpoint (epoch=24-step=74624.ckpt)")
    io.add_argument("--out", type=Path, required=True, help="bundle folder to write")
    io.add_argument("--bfm", type=Path, required=True, help="BFM_model_front.mat")
    io.add_argument("--uv", type=Path, required=True, help="BFM_UV_refined.mat (UV_refine) or face3d BFM_UV.mat")
    io.add_argument("--mask", type=Path, default=None, help="mask.png (UV face mask)")
    io.add_argument("--stylegan2", type=Path, default=None, help="rosinality StyleGAN2 .pt (or NVlabs .pkl)")
    io.add_argument("--pose-direction", type=Path, default=None, help="pose_direction-new.pkl")
    io.add_argument("--f3d", type=Path, default=None, help="separate F3D checkpoint, if the full one lacks it")
    io.add_argument("--fyaw", type=Path, default=None, help="separate Fyaw checkpoint")
    io.add_argument("--force", action="store_true", help="overwrite an existing bundle folder")

    isg = sub.add_parser("import-stylegan2", help="convert a rosinality .pt / NVlabs .pkl StyleGAN2 to safetensors")
    isg.add_argument("checkpoint", type=Path)
    isg.add_argument("--out", type=Path, required=True, help="folder for generator2d/discriminator files")
    isg.add_argument("--force", action="store_true", help="overwrite files in --out")

    ifm = sub.add_parser("import-facemodel", help="convert a face model's original files to a StyleFace face model")
    ifm.add_argument("kind", choices=["ict-facekit"], help="ict-facekit: ICT-FaceKit's FaceXModel/ folder")
    ifm.add_argument("folder", type=Path, help="the FaceXModel/ folder (or the ICT-FaceKit checkout holding it)")
    ifm.add_argument("--out", type=Path, required=True, help="face model file to write (.npz)")
    ifm.add_argument("--force", action="store_true", help="overwrite --out")
    ifm.add_argument("--quiet", action="store_true", help="no progress bar")

    sub.add_parser("info", help="print what is installed and found")
    from .cli_demos import add_demo_parsers
    add_demo_parsers(sub)
    return p


def _parse_formats(text: str) -> tuple[str, ...]:
    fmts = tuple(f.strip().lower() for f in text.split(",") if f.strip())
    bad = [f for f in fmts if f not in FORMATS + EXTRA_FORMATS]
    if bad or not fmts:
        raise StyleFaceError(f"unknown format(s) {', '.join(bad) or '(none)'}; "
                             f"choose from {', '.join(FORMATS + EXTRA_FORMATS)}")
    return fmts


def _seed_list(args: argparse.Namespace):
    """The seeds as lazy ranges (never a list: --seeds 0-9999999 must not allocate them all)."""
    from .seeds import parse_seed_ranges

    if args.seeds is not None:
        return parse_seed_ranges(args.seeds)
    if args.count < 1:
        raise StyleFaceError("--count must be at least 1")
    start = 0 if args.seed is None else args.seed
    return parse_seed_ranges(f"{start}-{start + args.count - 1}")


def _float_list(text: str, what: str) -> list[float]:
    try:
        return [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise StyleFaceError(f"bad {what} '{text}': use numbers separated by commas") from None


def _cmd_generate(args: argparse.Namespace) -> int:
    from .progress import progress

    seeds = _seed_list(args)
    formats = _parse_formats(args.formats)
    from .limits import check_expression, check_memory

    ref_yaws = C.check_yaws(_float_list(args.reference_yaws, "--reference-yaws")) if args.reference_yaws else None
    from .procedural_face import parse_expression

    expression = check_expression(parse_expression(args.expression), "--expression") if args.expression else None
    check_memory(args.batch_size, args.texture_size if args.bundle == "procedural" else None, "generation")
    if args.cluster is not None:
        from .cluster.cli import generate_on_cluster

        return generate_on_cluster(args, seeds, formats, expression, ref_yaws)
    args.out = Path(args.out)
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise StyleFaceError(f"cannot create output folder {args.out}: {e.strerror}") from None

    from .export import export_face, face_is_complete
    from .generation import open_generator

    gen = open_generator(args.bundle, device=args.device, texture_size=args.texture_size)
    options = {"truncation": args.truncation, "expression": expression,
               "expression_from_seed": args.expression_from_seed,
               "expression_strength": args.expression_strength,
               "displacement_strength": args.displacement_strength}
    t0 = time.perf_counter()
    faces = []  # for the contact sheet: the first CONTACT_SHEET_MAX faces written
    skipped = 0
    bar = progress(range(len(seeds)), desc="faces", disable=args.quiet or len(seeds) < 2)
    it = iter(bar)
    resumable = not args.overwrite and "json" in formats  # completeness needs the sidecar
    for chunk in seeds.batches(args.batch_size):
        todo = ([s for s in chunk if not face_is_complete(args.out, f"face_{s:06d}", formats)]
                if resumable else chunk)
        skipped += len(chunk) - len(todo)
        for _ in range(len(chunk) - len(todo)):
            next(it, None)
        if not todo:
            continue
        for seed, assets in zip(todo, gen.generate(todo, **options)):
            export_face(assets, args.out, f"face_{seed:06d}", formats=formats,
                        bake_displacement=args.bake_displacement)
            if len(faces) < CONTACT_SHEET_MAX:
                faces.append(assets)
            next(it, None)
        if ref_yaws:
            gen.write_reference_images(todo, ref_yaws, args.out, truncation=args.truncation)
    next(it, None)
    if not args.no_contact_sheet and faces:
        gen.write_contact_sheet(faces, args.out / "contact_sheet.png")
    if not args.quiet:
        note = f" (skipped {skipped} complete face(s); --overwrite rewrites them)" if skipped else ""
        print(f"wrote {len(seeds) - skipped} face(s) from {gen.describe()} to {args.out}/ "
              f"in {time.perf_counter() - t0:.1f} s{note}")
    return 0


def _cmd_import_official(args: argparse.Namespace) -> int:
    from .importers import import_official

    out = import_official(args.checkpoint, args.out, bfm=args.bfm, uv=args.uv, mask=args.mask,
                          stylegan2=args.stylegan2, pose_direction=args.pose_direction,
                          f3d_checkpoint=args.f3d, fyaw_checkpoint=args.fyaw, overwrite=args.force)
    print(f"wrote bundle {out}")
    return 0


def _cmd_import_stylegan2(args: argparse.Namespace) -> int:
    from .importers import import_stylegan2

    summary = import_stylegan2(args.checkpoint, args.out, overwrite=args.force)
    print(f"wrote {', '.join(summary['networks'])} ({summary['source']}, {summary['size']} px) to {args.out}")
    return 0


def _cmd_import_facemodel(args: argparse.Namespace) -> int:
    from .facemodel.ict_import import import_ict_facekit

    out, model = import_ict_facekit(args.folder, args.out, overwrite=args.force, progress=not args.quiet)
    t = model.mesh_topology
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB): {t.n_welded} vertices, {t.n_polygons} polygons, "
          f"parts {', '.join(t.part_names)}; {model.n_id} identity modes, {model.n_exp} expressions")
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    from .info import collect_info

    for key, value in collect_info().items():
        print(f"{key:>14}: {value}")
    return 0


def _demo_commands() -> dict:
    from .cli_demos import COMMANDS
    return COMMANDS


def main(argv: list[str] | None = None) -> int:
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 2
        return {"generate": _cmd_generate, "info": _cmd_info, "import-official": _cmd_import_official,
                "import-stylegan2": _cmd_import_stylegan2, "import-facemodel": _cmd_import_facemodel,
                **_demo_commands()}[args.command](args)
    except StyleFaceError as e:
        print(f"styleface: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("styleface: interrupted", file=sys.stderr)
        return 130
    except MemoryError:  # the estimates are checked up front; a smaller machine can still run out
        print("styleface: error: out of memory (try a smaller --batch-size or --texture-size)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
