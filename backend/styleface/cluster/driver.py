"""``generate_on_ray``: spread seeds over a Ray cluster, one long-lived actor per GPU or CPU slot.

The driver lists what is already complete (``completion.is_face_complete``), cuts the rest into
batches and hands each to an idle actor. An actor that dies (node lost, out of memory, crash) is
replaced and its unfinished seeds are retried one seed per batch, at most ``max_retries`` times, so a
seed that kills its process cannot stall the job; a face that raises is reported, not retried.
Kill the driver at any point and run it again: nothing complete is redone, nothing is lost.
"""
from __future__ import annotations

import logging
import math
import os
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from ..errors import StyleFaceError
from .address import import_ray
from .completion import is_face_complete
from .faults import Faults
from .store import OutputStore, normalise_output
from .worker import FaceWorker


@dataclass
class ClusterReport:
    """What one run did. ``failed`` maps seed -> one-line reason; rerunning retries only those."""
    total: int
    skipped: int = 0
    done: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    workers: int = 0
    actor_restarts: int = 0
    ray_start_s: float = 0.0
    worker_cpu_s: float = 0.0  # CPU seconds the actors spent in finished batches (not their start-up)
    seconds: float = 0.0
    out: str = ""

    @property
    def ok(self) -> bool:
        return not self.failed


def connect(address: str | None, **init_kwargs: Any) -> tuple[Any, bool, float]:
    """(ray, whether we started/joined it here, seconds). An already initialised Ray is reused."""
    ray = import_ray()
    if ray.is_initialized():
        return ray, False, 0.0
    t0 = time.perf_counter()
    kwargs = {"include_dashboard": False, "logging_level": logging.WARNING, "log_to_driver": True}
    kwargs.update(init_kwargs)
    try:
        ray.init(address=address, **kwargs)
    except (ConnectionError, RuntimeError, ValueError) as e:
        raise StyleFaceError(f"cannot reach Ray at {address or 'the default address'}: "
                             f"{str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__}") from None
    return ray, True, time.perf_counter() - t0


def _plan(ray: Any, device: str, workers: int | None, cpus_per_worker: int) -> tuple[int, dict[str, float], str]:
    """(actor count, per-actor resources, device string inside the actor)."""
    res = ray.cluster_resources()
    gpus = int(res.get("GPU", 0))
    use_gpu = device.startswith("cuda") or (device == "auto" and gpus > 0)
    if use_gpu:
        if gpus < 1:
            raise StyleFaceError(f"--device {device}: the Ray cluster has no GPU")
        return (workers or gpus), {"num_gpus": 1, "num_cpus": cpus_per_worker}, "cuda"
    slots = max(1, int(res.get("CPU", 1)) // cpus_per_worker)
    return (workers or slots), {"num_cpus": cpus_per_worker}, "cpu" if device == "auto" else device


def _bundle_for_nodes(bundle: str | None) -> str | None:
    """Actors run elsewhere: make a local bundle path absolute and pass $STYLEFACE_BUNDLE on."""
    from ..bundle import BUNDLE_ENV
    from ..generation import PROCEDURAL

    if bundle is None:
        bundle = os.environ.get(BUNDLE_ENV) or None
    if bundle and bundle != PROCEDURAL and os.path.exists(os.path.expanduser(bundle)):
        bundle = str(Path(bundle).expanduser().resolve())
    return bundle


def _batches(seeds: Sequence[int], size: int) -> Iterable[list[int]]:
    for i in range(0, len(seeds), size):
        yield list(seeds[i:i + size])


def _first_line(e: BaseException) -> str:
    lines = [ln.strip() for ln in str(e).strip().splitlines() if ln.strip()]
    return lines[-1] if lines else type(e).__name__


def generate_on_ray(seeds: Sequence[int], out: str | os.PathLike, *, bundle: str | None = None,
                    device: str = "auto", formats: Sequence[str] = ("obj", "glb", "exr", "png16", "json"),
                    options: Mapping[str, Any] | None = None, batch_size: int = 8, workers: int | None = None,
                    address: str | None = None, max_retries: int = 2, texture_size: int = 256,
                    bake_displacement: bool = False, reference_yaws: Sequence[float] | None = None,
                    storage_options: Mapping[str, Any] | None = None, progress: bool = True,
                    cpus_per_worker: int = 1, ray_init: Mapping[str, Any] | None = None) -> ClusterReport:
    """Generate ``seeds`` on Ray into ``out`` (a local path or an fsspec URL every node can reach).

    ``address``: None (Ray of $RAY_ADDRESS / this machine, started if none), 'auto', 'local',
    'HOST:6379' or 'ray://HOST:10001'; a Ray already initialised in this process is used as is and
    left running. ``workers``: actors (default: one per GPU, else one per ``cpus_per_worker`` CPUs,
    which is also each CPU actor's torch thread count). A JSON sidecar is
    always written: it marks a face complete. Returns a ClusterReport; raises StyleFaceError for
    problems of the setup (unreachable cluster, a bundle the actors cannot load).
    """
    seeds = list(dict.fromkeys(int(s) for s in seeds))
    formats = tuple(dict.fromkeys([*formats, "json"]))
    if batch_size < 1 or cpus_per_worker < 1 or max_retries < 0 or (workers is not None and workers < 1):
        raise StyleFaceError("batch_size, workers and cpus_per_worker must be at least 1, max_retries at least 0")
    url = normalise_output(out)
    bundle = _bundle_for_nodes(bundle)
    store = OutputStore(url, storage_options)
    store.makedirs()
    store.remove_stale_parts()
    existing = store.names()
    todo = [s for s in seeds if not is_face_complete(existing, s)]
    report = ClusterReport(total=len(seeds), skipped=len(seeds) - len(todo), out=url)
    if not todo:
        return report
    t_start = time.perf_counter()
    ray, started, report.ray_start_s = connect(address, **dict(ray_init or {}))
    actors: list[Any] = []
    try:
        _run(ray, report, store, todo, bundle=bundle, device=device, formats=formats, options=dict(options or {}),
             batch_size=batch_size, workers=workers, cpus_per_worker=cpus_per_worker, max_retries=max_retries,
             texture_size=texture_size,
             bake_displacement=bake_displacement, reference_yaws=reference_yaws,
             storage_options=dict(storage_options or {}), progress=progress, actors=actors)
    finally:
        for a in actors:
            try:
                ray.kill(a, no_restart=True)
            except Exception:  # noqa: BLE001 - already dead
                pass
        if started:
            ray.shutdown()
    store.remove_stale_parts()  # what workers of an earlier, killed driver may have left meanwhile
    report.seconds = time.perf_counter() - t_start
    return report


def _run(ray: Any, report: ClusterReport, store: OutputStore, todo: list[int], *, batch_size: int,
         workers: int | None, cpus_per_worker: int, max_retries: int, device: str, progress: bool, actors: list[Any],
         **worker_kwargs: Any) -> None:
    from tqdm.auto import tqdm

    n, resources, actor_device = _plan(ray, device, workers, cpus_per_worker)
    size = max(1, min(batch_size, math.ceil(len(todo) / n)))
    queue: deque[tuple[list[int], int]] = deque((b, 0) for b in _batches(todo, size))
    n = min(n, len(queue))
    report.workers = n
    remote_cls = ray.remote(max_restarts=0, max_task_retries=0, **resources)(FaceWorker)
    threads = int(resources.get("num_cpus", 1))
    faults = Faults.from_env().spec

    def new_actor() -> Any:
        a = remote_cls.remote(store.url, device=actor_device, threads=threads, faults=faults, **worker_kwargs)
        actors.append(a)
        return a

    idle: list[Any] = []
    running: dict[Any, tuple[Any, list[int], int]] = {}
    bar = tqdm(total=report.total, initial=report.skipped, desc="faces", unit="face", dynamic_ncols=True,
               disable=not progress)
    try:
        while queue or running:
            while queue and len(actors) < n:  # start, or replace lost workers while work is left
                idle.append(new_actor())
            while idle and queue:
                actor = idle.pop()
                batch, attempt = queue.popleft()
                running[actor.run_batch.remote(batch)] = (actor, batch, attempt)
            ready, _ = ray.wait(list(running), num_returns=1)
            for ref in ready:
                actor, batch, attempt = running.pop(ref)
                try:
                    result = ray.get(ref)
                except ray.exceptions.RayTaskError as e:  # a bug, not a seed: report the batch
                    for s in batch:
                        report.failed[s] = _first_line(e)
                    bar.update(len(batch))
                    idle.append(actor)
                    continue
                except ray.exceptions.RayError as e:  # the actor died (or its node, or the result was lost)
                    if getattr(e, "actor_init_failed", False):
                        raise StyleFaceError(f"Ray workers cannot start: {_first_line(e)}") from None
                    actors.remove(actor)
                    try:
                        ray.kill(actor, no_restart=True)
                    except Exception:  # noqa: BLE001 - already gone
                        pass
                    report.actor_restarts += 1
                    names = store.names()
                    left = [s for s in batch if not is_face_complete(names, s)]
                    report.done.extend(s for s in batch if s not in left)
                    bar.update(len(batch) - len(left))
                    if attempt >= max_retries:
                        for s in left:
                            report.failed[s] = f"worker died {attempt + 1} time(s): {_first_line(e)}"
                        bar.update(len(left))
                    else:  # retry seed by seed, so a seed that kills its worker only takes itself down
                        queue.extendleft(([s], attempt + 1) for s in reversed(left))
                    continue
                if result.get("setup_error"):
                    raise StyleFaceError(f"Ray workers cannot start: {result['setup_error']}")
                report.done.extend(result["done"])
                report.worker_cpu_s += float(result.get("cpu_s", 0.0))
                report.failed.update({int(k): v for k, v in result["failed"].items()})
                bar.update(len(result["done"]) + len(result["failed"]))
                idle.append(actor)
    finally:
        bar.close()
