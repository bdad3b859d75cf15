"""Headless renders on Ray: ``python -m styleface_blender.batch --cluster ray[:ADDRESS] ...``.

The add-on's batch command hands ``--cluster`` runs to this driver in the backend's Python (Ray and
torch live there, bpy does not). Each Ray task takes a few seeds, starts the Blender Python
(``--blender-python``, Blender as a module or a ``blender`` binary) on its node to run the ordinary
batch command into a node-local folder, then copies every finished PNG to the output (a local path
or an fsspec URL) atomically. A seed is done when all its views exist there, so a rerun skips it.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

from ..errors import StyleFaceError
from .address import import_ray, parse_cluster
from .store import OutputStore, normalise_output


def view_name(seed: int, yaw: float) -> str:
    """The batch command's PNG name (styleface_blender.api.view_filename)."""
    return f"face_{int(seed):06d}_yaw{int(round(yaw)):+04d}.png"


def seed_rendered(names: set[str], seed: int, yaws: Sequence[float]) -> bool:
    return all(view_name(seed, y) in names for y in yaws)


def blender_command(blender_python: str, addon_path: str) -> list[str]:
    """How to run the batch command with this interpreter: a Python with bpy, or a blender binary."""
    if os.path.basename(blender_python).lower().startswith("blender"):
        return [blender_python, "-b", "--factory-startup", "--python",
                os.path.join(addon_path, "styleface_blender", "batch.py"), "--"]
    return [blender_python, "-m", "styleface_blender.batch"]


def render_chunk(seeds: Sequence[int], out: str, yaws: Sequence[float], passthrough: Sequence[str],
                 blender_python: str, addon_path: str, timeout: float | None = None) -> dict[str, Any]:
    """Body of one Ray task: render the seeds not yet in ``out``; {"done": [...], "failed": {seed: why}}."""
    store = OutputStore(out)
    names = store.names()
    todo = [int(s) for s in seeds if not seed_rendered(names, s, yaws)]
    done = [int(s) for s in seeds if int(s) not in todo]
    failed: dict[int, str] = {}
    if not todo:
        return {"done": done, "failed": failed}
    staging = tempfile.mkdtemp(prefix="styleface-render-")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (addon_path, env.get("PYTHONPATH", "")) if p)
    cmd = [*blender_command(blender_python, addon_path), "--seeds", ",".join(map(str, todo)), "--out", staging,
           "--yaws=" + ",".join(f"{y:g}" for y in yaws), "--backend-python", sys.executable, "--quiet", *passthrough]
    try:
        try:
            r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
            why = (r.stderr.strip().splitlines() or [f"exit status {r.returncode}"])[-1] if r.returncode else ""
        except subprocess.TimeoutExpired:
            why = f"Blender did not finish in {timeout:.0f} s"
        except OSError as e:
            why = f"cannot start {blender_python}: {e.strerror or e}"
        for seed in todo:
            views = [os.path.join(staging, view_name(seed, y)) for y in yaws]
            for path in views:
                if os.path.isfile(path):
                    store.put_file(path, os.path.basename(path))
            if all(os.path.isfile(p) for p in views):
                done.append(seed)
            else:
                failed[seed] = why or "Blender wrote no image for this seed"
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {"done": done, "failed": failed}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m styleface_blender.batch --cluster", allow_abbrev=False,
                                description="headless renders as Ray tasks (other options go to each task's "
                                            "batch command)")
    p.add_argument("--cluster", required=True, help="ray or ray:ADDRESS")
    p.add_argument("--seeds", required=True)
    p.add_argument("--out", required=True, help="local folder or fsspec URL every node can reach")
    p.add_argument("--yaws", default="-30,0,30")
    p.add_argument("--device", default="CPU", choices=["CPU", "GPU"], help="Cycles device; GPU: one GPU per task")
    p.add_argument("--bundle", default=None)
    p.add_argument("--backend-python", default=None, help="ignored here: tasks use their own Python")
    p.add_argument("--blender-python", required=True, help="Python with bpy (or blender binary) on every node")
    p.add_argument("--addon-path", required=True, help="folder that holds styleface_blender on every node")
    p.add_argument("--seeds-per-task", type=int, default=4)
    p.add_argument("--task-timeout", type=float, default=None, help="seconds per task (default none)")
    p.add_argument("--max-retries", type=int, default=2, help="retries of a task whose process died")
    p.add_argument("--quiet", action="store_true")
    return p


def run(argv: Sequence[str] | None = None) -> int:
    try:
        return _run(argv)
    except StyleFaceError as e:
        print(f"styleface batch: error: {e}", file=sys.stderr)
        return 2


def _run(argv: Sequence[str] | None) -> int:
    from ..seeds import parse_seeds

    args, passthrough = build_parser().parse_known_args(argv)
    address = parse_cluster(args.cluster)
    seeds = parse_seeds(args.seeds)
    try:
        yaws = [float(y) for y in args.yaws.split(",") if y.strip()]
    except ValueError:
        raise StyleFaceError(f"bad --yaws '{args.yaws}': use numbers separated by commas") from None
    if args.seeds_per_task < 1:
        raise StyleFaceError("--seeds-per-task must be at least 1")
    passthrough = list(passthrough) + ["--device", args.device]
    if args.bundle:
        bundle = args.bundle
        if os.path.exists(os.path.expanduser(bundle)):
            bundle = str(Path(bundle).expanduser().resolve())
        passthrough += ["--bundle", bundle]
    ray = import_ray()
    out = normalise_output(args.out)
    store = OutputStore(out)
    store.makedirs()
    store.remove_stale_parts()
    names = store.names()
    todo = [s for s in seeds if not seed_rendered(names, s, yaws)]
    say = (lambda *a: None) if args.quiet else (lambda *a: print(*a, flush=True))
    say(f"StyleFace batch on Ray: {len(seeds)} seeds x {len(yaws)} views -> {out}; "
        f"{len(seeds) - len(todo)} already done, {len(todo)} to render")
    if not todo:
        return 0
    from .driver import connect

    t0 = time.perf_counter()
    ray, started, _ = connect(address)
    failed: dict[int, str] = {}
    try:
        resources = {"num_gpus": 1} if args.device == "GPU" else {"num_cpus": 1}
        task = ray.remote(max_retries=args.max_retries, **resources)(render_chunk)
        size = args.seeds_per_task
        chunks = {task.remote(todo[i:i + size], out, yaws, passthrough, args.blender_python, args.addon_path,
                              args.task_timeout): todo[i:i + size] for i in range(0, len(todo), size)}
        pending = list(chunks)
        from tqdm.auto import tqdm

        with tqdm(total=len(seeds), initial=len(seeds) - len(todo), desc="seeds", unit="seed",
                  dynamic_ncols=True, disable=args.quiet) as bar:
            while pending:
                ready, pending = ray.wait(pending, num_returns=1)
                try:
                    result = ray.get(ready[0])
                except ray.exceptions.RayError as e:  # the task's process died more than max_retries times
                    lines = [ln for ln in str(e).strip().splitlines() if ln.strip()]
                    why = lines[-1] if lines else type(e).__name__
                    result = {"done": [], "failed": {s: why for s in chunks[ready[0]]}}
                failed.update({int(k): v for k, v in result["failed"].items()})
                bar.update(len(result["done"]) + len(result["failed"]))
    finally:
        if started:
            ray.shutdown()
    store.remove_stale_parts()
    for seed, why in sorted(failed.items()):
        print(f"styleface batch: seed {seed} failed: {why}", file=sys.stderr)
    if failed:
        print(f"styleface batch: {len(failed)} failure(s); run the same command again to resume", file=sys.stderr)
        return 1
    say(f"done: {len(todo)} seeds in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(run())
