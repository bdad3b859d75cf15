"""``styleface-train all``: the options of the one-command pipeline (see :mod:`.pipeline_all`).

The UV-generator options are ``uvgen``'s own (``--steps``, ``--lr``, ``--batch-size`` ...); the F3D and Fyaw
loops take prefixed ones (``--f3d-epochs``, ``--fyaw-lr`` ...). ``--seed``, ``--truncation`` and ``--device``
apply to every stage.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Callable


def add_parser(sub, generator_args: Callable[[argparse.ArgumentParser], None]) -> None:
    from .cli_uvgen import add_training_arguments, int_list

    a = sub.add_parser("all", help="every stage from a generator to a bundle: sample, fit, f3d, yaw-direction, "
                                   "fyaw, uvgen, export (finished stages are skipped)")
    a.add_argument("--out", type=Path, required=True, help="run folder (one subfolder per stage; bundle/ at the end)")
    a.add_argument("--face-model", default=None,
                   help="'demo' or a face model file (default: the stand-in's, else demo)")
    generator_args(a)
    d = a.add_argument_group("data, F3D and yaw")
    d.add_argument("--coeffs", default="auto",
                   help="truth (stand-in only), fit (3DMM fitting of the images) or auto (default: truth on the "
                        "stand-in, fit otherwise)")
    d.add_argument("--count", type=int, default=40_000, help="stylecodes for F3D and Fyaw (default 40000)")
    d.add_argument("--sample-batch", type=int, default=64, help="generator batch while sampling (default 64)")
    d.add_argument("--shard-size", type=int, default=1000, help="items per shard (default 1000)")
    d.add_argument("--fit-limit", type=int, help="fit only the first N items of each shard")
    d.add_argument("--fit-batch", type=int, default=8, help="fitting batch (default 8)")
    d.add_argument("--svm-count", type=int, default=200_000, help="stylecodes for the yaw SVM (default 200000)")
    d.add_argument("--svm", default="svc", help="svc (the paper's) or linear-svc (faster)")
    for name, lr in (("f3d", 1e-5), ("fyaw", 1e-3)):
        d.add_argument(f"--{name}-epochs", type=int, default=25, help=f"{name} epochs (default 25)")
        d.add_argument(f"--{name}-batch-size", type=int, default=16, help=f"{name} batch (default 16)")
        d.add_argument(f"--{name}-lr", type=float, default=lr, help=f"{name} learning rate (default {lr:g})")
        d.add_argument(f"--{name}-hidden", type=int_list, default=None,
                       help=f"{name} hidden widths, e.g. 512,256, or '' for none (a linear map) (default: "
                            "9,6,3,1 x style size as in the paper)")
    a.add_argument("--init-uvgen", type=Path, help="start the UV generator from this trained one (uvgen.safetensors, "
                   "e.g. an earlier run's bundle) to fine-tune it")
    b = a.add_argument_group("bundle")
    b.add_argument("--bundle-id", default="styleface-trained", help="the bundle's id (default styleface-trained)")
    b.add_argument("--bundle-name", default="", help="a human-readable name")
    b.add_argument("--bundle-description", default="", help="what the bundle is, for its users (bundle.json)")
    add_training_arguments(a)


def _loop(epochs: int, batch: int, lr: float, seed: int):
    from .common.trainloop import LoopConfig

    milestones = tuple(m for m in (5, 10, 15) if m < epochs)  # the paper's schedule, cut to short runs
    return LoopConfig(epochs=epochs, batch_size=batch, lr=lr, milestones=milestones, seed=seed)


def options(args: argparse.Namespace, generator_options: dict):
    """The :class:`AllOptions` of parsed ``all`` arguments (``generator_options``: the stand-in sizes)."""
    from .cli_uvgen import uvgen_config
    from .bundle.pipeline_all import AllOptions

    return AllOptions(
        out=args.out, generator=args.generator, generator_options=generator_options,
        face_model=args.face_model, coeffs=args.coeffs, count=args.count, sample_batch=args.sample_batch,
        truncation=args.truncation, fit_limit=args.fit_limit, fit_batch=args.fit_batch, shard_size=args.shard_size,
        svm_count=args.svm_count, svm=args.svm, f3d_hidden=args.f3d_hidden, fyaw_hidden=args.fyaw_hidden,
        f3d_loop=_loop(args.f3d_epochs, args.f3d_batch_size, args.f3d_lr, args.seed),
        fyaw_loop=_loop(args.fyaw_epochs, args.fyaw_batch_size, args.fyaw_lr, args.seed),
        uvgen=uvgen_config(args), init_uvgen=args.init_uvgen, bundle_id=args.bundle_id, bundle_name=args.bundle_name,
        bundle_description=args.bundle_description, device=args.device,
        seed=args.seed, progress=not args.quiet)


def run(args: argparse.Namespace, generator_options: dict) -> int:
    from .bundle.pipeline_all import run_all

    bundle = run_all(options(args, generator_options), log=lambda msg: print(msg, file=sys.stderr, flush=True))
    print(json.dumps({"bundle": str(bundle)}))
    return 0
