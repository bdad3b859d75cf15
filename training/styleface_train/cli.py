"""The ``styleface-train`` command line: sample, preview, merge, fit, f3d, yaw-direction, fyaw, uvgen, eval, all.

User errors print one line (``styleface-train: error: ...``) and exit with status 2; no tracebacks.
Run as ``styleface-train ...`` or ``python -m styleface_train.cli ...``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from styleface.errors import StyleFaceError

from .cli_uvgen import int_list as _ints

PROG = "styleface-train"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line instead of usage + message
        raise StyleFaceError(message)


def _generator_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("generator")
    g.add_argument("--generator", default="standin",
                   help="'standin' (procedural, default) or a StyleGAN2 checkpoint (.pt rosinality / .pkl NVlabs)")
    g.add_argument("--standin-style-dim", type=int, help="stand-in: style size (default 128)")
    g.add_argument("--standin-n-latent", type=int, help="stand-in: W+ rows (default 8)")
    g.add_argument("--standin-image-size", type=int, help="stand-in: image size (default 256)")
    g.add_argument("--standin-texture-size", type=int, help="stand-in: UV map size (default 256)")
    g.add_argument("--standin-seed", type=int, help="stand-in: world seed fixing its projections (default 0)")
    g.add_argument("--standin-antialias", type=int, help="stand-in: supersampling factor (default 1)")
    g.add_argument("--standin-face-model", help="stand-in: 'demo' (default) or a face model .npz/.mat")


def _generator_options(args: argparse.Namespace) -> dict:
    return {"standin_style_dim": args.standin_style_dim, "standin_n_latent": args.standin_n_latent,
            "standin_image_size": args.standin_image_size, "standin_texture_size": args.standin_texture_size,
            "standin_seed": args.standin_seed, "standin_antialias": args.standin_antialias,
            "standin_face_model": args.standin_face_model}


def _shard_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--shard-index", type=int, help="this worker's index (default: $RANK or 0)")
    p.add_argument("--num-shards", type=int, help="number of workers (default: $WORLD_SIZE or 1)")


def _loop_args(p: argparse.ArgumentParser, epochs: int, lr: float) -> None:
    g = p.add_argument_group("optimisation")
    g.add_argument("--epochs", type=int, default=epochs, help=f"epochs (default {epochs})")
    g.add_argument("--batch-size", type=int, default=16, help="batch size (default 16)")
    g.add_argument("--lr", type=float, default=lr, help=f"Adam learning rate (default {lr:g})")
    g.add_argument("--milestones", type=_ints, default=(5, 10, 15),
                   help="epochs at which the learning rate is multiplied by --lr-gamma (default 5,10,15)")
    g.add_argument("--lr-gamma", type=float, default=0.1, help="MultiStepLR factor (default 0.1)")
    g.add_argument("--seed", type=int, default=0, help="initialisation and shuffling seed (default 0)")
    g.add_argument("--checkpoint-every", type=int, default=500, help="steps between checkpoints (default 500)")
    g.add_argument("--val-fraction", type=float, default=0.1, help="last fraction kept for validation (default 0.1)")
    g.add_argument("--hidden", type=_ints, default=None,
                   help="hidden widths, e.g. 512,256 (default: 9,6,3,1 x style size as in the paper)")
    g.add_argument("--step-delay", type=float, default=0.0, help=argparse.SUPPRESS)


def _loop_config(args: argparse.Namespace):
    from .common.trainloop import LoopConfig

    return LoopConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, milestones=tuple(args.milestones),
                      lr_gamma=args.lr_gamma, seed=args.seed, checkpoint_every=args.checkpoint_every,
                      step_delay=args.step_delay)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description="StyleFace training: data generation, 3DMM fitting, F3D, yaw direction, Fyaw")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)

    s = sub.add_parser("sample", help="stylecodes and images (+ stand-in truth) in resumable shards")
    s.add_argument("--out", type=Path, required=True, help="output folder")
    s.add_argument("--count", type=int, required=True, help="number of stylecodes")
    s.add_argument("--seed", type=int, default=0, help="base seed: item i uses seed + i (default 0)")
    s.add_argument("--shard-size", type=int, default=256, help="items per shard file (default 256)")
    s.add_argument("--truncation", type=float, default=1.0, help="truncation psi (default 1: none)")
    s.add_argument("--batch-size", type=int, default=16, help="images generated at once (default 16)")
    s.add_argument("--save-uv", action="store_true", help="also store the stand-in's true UV maps (float16)")
    s.add_argument("--no-images", action="store_true",
                   help="store stylecodes (and the stand-in's true coefficients) only: fast data for f3d/fyaw")
    s.add_argument("--device", default="cpu", help="torch device (default cpu)")
    _shard_args(s)
    _generator_args(s)

    v = sub.add_parser("preview", help="a PNG grid of generated images (seeds SEED .. SEED+COUNT-1)")
    v.add_argument("--out", type=Path, required=True, help="PNG file")
    v.add_argument("--count", type=int, default=16, help="images (default 16)")
    v.add_argument("--seed", type=int, default=0)
    v.add_argument("--truncation", type=float, default=1.0)
    v.add_argument("--landmarks", action="store_true", help="draw the stand-in's true landmarks")
    v.add_argument("--uv-out", type=Path, help="also write the stand-in's true diffuse maps as a grid here")
    v.add_argument("--device", default="cpu")
    _generator_args(v)

    m = sub.add_parser("merge", help="concatenate the shards of a finished folder into one file")
    m.add_argument("folder", type=Path)
    m.add_argument("--out", type=Path, help="merged file (default FOLDER/merged.safetensors)")
    m.add_argument("--prefix", default=None, help="shard prefix (default: 'shard', or 'fit' for fit folders)")

    f = sub.add_parser("fit", help="3DMM fitting of a sample folder (rigid, then non-rigid)")
    f.add_argument("--samples", type=Path, required=True, help="sample folder (from 'sample')")
    f.add_argument("--out", type=Path, required=True, help="output folder for fit shards")
    f.add_argument("--landmarks", default="truth", help="landmark source: truth (stand-in) or face_alignment")
    f.add_argument("--face-model", default=None, help="face model to fit (default: the stand-in's, else demo)")
    f.add_argument("--batch-size", type=int, default=8, help="images fitted together (default 8)")
    f.add_argument("--device", default="cpu", help="torch device (default cpu)")
    f.add_argument("--limit", type=int, default=None, help="fit only the first N items of each shard")
    from .fitting.fit import FitConfig

    d = FitConfig()
    f.add_argument("--rigid-iters", type=int, default=d.rigid_iters, help=f"default {d.rigid_iters}")
    f.add_argument("--rigid-lr", type=float, default=d.rigid_lr, help=f"default {d.rigid_lr:g}")
    f.add_argument("--nonrigid-iters", type=int, default=d.nonrigid_iters, help=f"default {d.nonrigid_iters}")
    f.add_argument("--nonrigid-lr", type=float, default=d.nonrigid_lr, help=f"default {d.nonrigid_lr:g}")
    f.add_argument("--w-landmark", type=float, default=d.w_landmark, help=f"default {d.w_landmark:g}")
    f.add_argument("--w-photo", type=float, default=d.w_photo, help=f"default {d.w_photo:g}")
    f.add_argument("--w-id", type=float, default=d.w_id, help=f"default {d.w_id:g}")
    f.add_argument("--w-exp", type=float, default=d.w_exp, help=f"default {d.w_exp:g}")
    f.add_argument("--w-tex", type=float, default=d.w_tex, help=f"default {d.w_tex:g}")
    f.add_argument("--w-reflectance", type=float, default=d.w_reflectance, help=f"default {d.w_reflectance:g}")
    f.add_argument("--albedo", default=d.albedo, help="auto | model | uv (default auto)")
    f.add_argument("--albedo-uv-size", type=int, default=d.albedo_uv_size, help=f"default {d.albedo_uv_size}")
    f.add_argument("--w-albedo-smooth", type=float, default=d.w_albedo_smooth, help=f"default {d.w_albedo_smooth:g}")
    f.add_argument("--photo-size", type=int, default=None, help="render size of the photometric term (default: image)")
    _shard_args(f)

    t = sub.add_parser("f3d", help="train F3D: W+ -> 3DMM coefficients (L1)")
    t.add_argument("--samples", type=Path, required=True, help="sample folder or merged file")
    t.add_argument("--coeffs", default="truth", help="'truth' (stand-in) or a fit folder/merged file (default truth)")
    t.add_argument("--out", type=Path, required=True, help="run folder (checkpoint, TensorBoard logs, f3d.safetensors)")
    t.add_argument("--device", default="cpu")
    _loop_args(t, epochs=25, lr=1e-5)

    y = sub.add_parser("yaw-direction", help="the unit yaw direction in W+ from a linear SVM on F3D's yaw")
    y.add_argument("--f3d", type=Path, required=True, help="f3d.safetensors (or its run folder)")
    y.add_argument("--out", type=Path, required=True, help="output folder")
    y.add_argument("--count", type=int, default=200_000, help="stylecodes to sample (default 200000)")
    y.add_argument("--fraction", type=float, default=0.02, help="top/bottom fraction per class (default 0.02)")
    y.add_argument("--svm", default="svc", help="svc (SVC linear kernel, the paper's) or linear-svc (faster)")
    y.add_argument("--C", type=float, default=1.0, help="SVM C (default 1)")
    y.add_argument("--seed", type=int, default=0)
    y.add_argument("--truncation", type=float, default=1.0)
    y.add_argument("--device", default="cpu")
    _generator_args(y)

    w = sub.add_parser("fyaw", help="train Fyaw so that F3D(w + Fyaw(w) d) has the opposite yaw")
    w.add_argument("--samples", type=Path, required=True, help="sample folder or merged file")
    w.add_argument("--coeffs", default="truth", help="'truth' or a fit folder (yaw targets; default truth)")
    w.add_argument("--f3d", type=Path, required=True, help="f3d.safetensors (or its run folder)")
    w.add_argument("--direction", type=Path, required=True, help="yaw_direction.safetensors (or its folder)")
    w.add_argument("--out", type=Path, required=True, help="run folder")
    w.add_argument("--target", default="data", help="yaw target: data (the coefficients) or f3d (default data)")
    w.add_argument("--device", default="cpu")
    _loop_args(w, epochs=25, lr=1e-3)

    from .evaluation.eval_options import add_arguments as _eval_arguments

    _eval_arguments(sub.add_parser("eval", help="evaluate a bundle: UV and multi-view errors against the "
                                                "stand-in's truth, FID against real images"))
    _uvgen_parser(sub)
    from .cli_all import add_parser as _all_parser

    _all_parser(sub, _generator_args)
    return p


def _uvgen_parser(sub) -> None:
    from .cli_uvgen import add_training_arguments

    u = sub.add_parser("uvgen", help="train the UV generator by differentiable rendering (the paper's part 2)")
    u.add_argument("--f3d", type=Path, required=True, help="f3d.safetensors (or its run folder)")
    u.add_argument("--yaw", type=Path, help="the fyaw run folder or its yaw_symmetry.safetensors "
                   "(needed unless --lambda-mv 0)")
    u.add_argument("--face-model", default=None, help="'demo' or a face model file (default: the stand-in's, else demo)")
    u.add_argument("--out", type=Path, required=True, help="run folder (checkpoint, tb/, grids/, uvgen.safetensors)")
    u.add_argument("--discriminator", type=Path, help="checkpoint whose 'd' initialises D (default: --generator's)")
    u.add_argument("--init-uvgen", type=Path, help="start G from this trained UV generator (uvgen.safetensors, a "
                   "uvgen run folder or a bundle's uvgen.safetensors) to fine-tune it, e.g. with other settings")
    _generator_args(u)
    add_training_arguments(u)


def _cmd_sample(args: argparse.Namespace) -> int:
    from .standin.generators import load_generator
    from .data.sample import SampleOptions, generate_dataset
    from .data.shards import resolve_worker

    worker = resolve_worker(args.shard_index, args.num_shards)
    handle = load_generator(args.generator, _generator_options(args), args.device)
    opts = SampleOptions(out=args.out, count=args.count, base_seed=args.seed, shard_size=args.shard_size,
                         truncation=args.truncation, batch_size=args.batch_size, save_uv=args.save_uv,
                         images=not args.no_images, device=args.device, progress=not args.quiet)
    written = generate_dataset(handle, opts, worker)
    print(f"wrote {len(written)} shard(s) to {args.out}")
    return 0


def _cmd_preview(args: argparse.Namespace) -> int:
    from .standin.generators import load_generator
    from .data.preview import write_preview

    if not 1 <= args.count <= 1024:
        raise StyleFaceError("--count must be in [1, 1024]")
    handle = load_generator(args.generator, _generator_options(args), args.device)
    path = write_preview(handle, args.out, args.count, args.seed, args.truncation, args.landmarks, args.uv_out,
                         args.device)
    print(f"wrote {path}")
    return 0


def _cmd_merge(args: argparse.Namespace) -> int:
    from .data.shards import merge_folder, read_manifest

    prefix = args.prefix or ("fit" if str(read_manifest(args.folder).get("format", "")).startswith("styleface-fits")
                             else "shard")
    print(f"merged into {merge_folder(args.folder, args.out, prefix)}")
    return 0


def _cmd_fit(args: argparse.Namespace) -> int:
    from .fitting.fit import FitConfig
    from .fitting.fit_run import FitRunOptions, run_fit
    from .data.shards import resolve_worker

    cfg = FitConfig(rigid_iters=args.rigid_iters, rigid_lr=args.rigid_lr, nonrigid_iters=args.nonrigid_iters,
                    nonrigid_lr=args.nonrigid_lr, w_landmark=args.w_landmark, w_photo=args.w_photo, w_id=args.w_id,
                    w_exp=args.w_exp, w_tex=args.w_tex, w_reflectance=args.w_reflectance, albedo=args.albedo,
                    albedo_uv_size=args.albedo_uv_size, w_albedo_smooth=args.w_albedo_smooth,
                    photo_size=args.photo_size)
    opts = FitRunOptions(samples=args.samples, out=args.out, landmarks=args.landmarks, face_model=args.face_model,
                         batch_size=args.batch_size, device=args.device, limit=args.limit, progress=not args.quiet)
    written = run_fit(opts, cfg, resolve_worker(args.shard_index, args.num_shards))
    print(f"wrote {len(written)} fit shard(s) to {args.out}")
    return 0


def _cmd_f3d(args: argparse.Namespace) -> int:
    from .f3d_yaw.f3d import F3DOptions, train_f3d

    opts = F3DOptions(samples=args.samples, out=args.out, coeffs=args.coeffs, val_fraction=args.val_fraction,
                      hidden=args.hidden, device=args.device, progress=not args.quiet)
    print(json.dumps(train_f3d(opts, _loop_config(args)), indent=1))
    return 0


def _cmd_yaw_direction(args: argparse.Namespace) -> int:
    from .standin.generators import load_generator
    from .common.modelfile import load_f3d
    from .f3d_yaw.yaw_direction import YawDirectionOptions, find_direction

    f3d = load_f3d(args.f3d)
    handle = load_generator(args.generator, _generator_options(args), args.device)
    opts = YawDirectionOptions(out=args.out, count=args.count, fraction=args.fraction, svm=args.svm, C=args.C,
                               seed=args.seed, truncation=args.truncation, device=args.device)
    print(json.dumps(find_direction(f3d, handle, opts), indent=1))
    return 0


def _cmd_fyaw(args: argparse.Namespace) -> int:
    from .f3d_yaw.fyaw import FyawOptions, train_fyaw

    opts = FyawOptions(samples=args.samples, f3d=args.f3d, direction=args.direction, out=args.out,
                       coeffs=args.coeffs, target=args.target, val_fraction=args.val_fraction, hidden=args.hidden,
                       device=args.device, progress=not args.quiet)
    print(json.dumps(train_fyaw(opts, _loop_config(args)), indent=1))
    return 0


def _cmd_uvgen(args: argparse.Namespace) -> int:
    from .cli_uvgen import uvgen_config
    from .uvgen.uvgen_setup import UVGenOptions
    from .uvgen.uvgen_train import train_uvgen

    opts = UVGenOptions(out=args.out, f3d=args.f3d, yaw=args.yaw, generator=args.generator,
                        generator_options=_generator_options(args), discriminator=args.discriminator,
                        face_model=args.face_model, init_uvgen=args.init_uvgen)
    metrics = train_uvgen(opts, uvgen_config(args), log=lambda msg: print(msg, file=sys.stderr, flush=True))
    if os.environ.get("RANK", "0") == "0":  # under torchrun only rank 0 reports
        print(json.dumps(metrics, indent=1))
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from .evaluation.evaluate import run

    return run(args)


def _cmd_all(args: argparse.Namespace) -> int:
    from .cli_all import run

    return run(args, _generator_options(args))


COMMANDS = {"sample": _cmd_sample, "preview": _cmd_preview, "merge": _cmd_merge, "fit": _cmd_fit, "f3d": _cmd_f3d,
            "yaw-direction": _cmd_yaw_direction, "fyaw": _cmd_fyaw, "uvgen": _cmd_uvgen, "eval": _cmd_eval,
            "all": _cmd_all}


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if args.command is None:
            build_parser().print_help()
            return 2
        if args.threads is not None:
            if args.threads < 1:
                raise StyleFaceError("--threads must be at least 1")
            import torch

            torch.set_num_threads(args.threads)
        return COMMANDS[args.command](args)
    except StyleFaceError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
