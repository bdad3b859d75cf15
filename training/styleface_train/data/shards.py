"""Sharded datasets on disk: fixed-size safetensors shards, a manifest, worker assignment, merge, reading.

Why this layout: item i always lands in shard i // shard_size whatever the number of workers, so a
dataset is byte-identical however it was produced (1 process, torchrun, a Slurm array, a resumed run).
Worker k of n writes the shards j with j % n == k; a shard file exists only once complete (atomic
rename), so resuming means skipping existing files.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as st_save
from styleface.errors import StyleFaceError

from ..common.atomic import atomic_write_bytes, atomic_write_text, remove_stale_temps

MANIFEST = "manifest.json"
MERGED = "merged.safetensors"


def shard_name(prefix: str, index: int) -> str:
    return f"{prefix}-{index:05d}.safetensors"


@dataclass(frozen=True)
class Worker:
    """Which shards this process writes: those with ``index % count == rank``."""

    rank: int = 0
    count: int = 1

    def owns(self, shard: int) -> bool:
        return shard % self.count == self.rank


def resolve_worker(shard_index: int | None, num_shards: int | None, env: dict[str, str] | None = None) -> Worker:
    """--shard-index/--num-shards, else RANK/WORLD_SIZE (torchrun), else a single worker."""
    env = os.environ if env is None else env
    if (shard_index is None) != (num_shards is None):
        raise StyleFaceError("give both --shard-index and --num-shards, or neither")
    if shard_index is None:
        try:
            shard_index, num_shards = int(env.get("RANK", 0)), int(env.get("WORLD_SIZE", 1))
        except ValueError:
            raise StyleFaceError("RANK and WORLD_SIZE must be integers") from None
    if num_shards < 1 or not 0 <= shard_index < num_shards:
        raise StyleFaceError(f"need 0 <= shard index < number of shards, got {shard_index} of {num_shards}")
    return Worker(shard_index, num_shards)


def write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    """Write the manifest, or check that an existing one describes the same dataset (resume)."""
    path = folder / MANIFEST
    if path.exists():
        old = json.loads(path.read_text())
        if old != json.loads(json.dumps(manifest)):
            diff = sorted(k for k in set(old) | set(manifest) if old.get(k) != manifest.get(k))
            raise StyleFaceError(f"{folder} already holds a different dataset (differs in: {', '.join(diff)}); "
                                 "use another output folder or the same options")
        return
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(manifest, indent=1, sort_keys=True))


def read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of a shard folder, or the one a merged file carries in its metadata."""
    folder = Path(folder)
    if folder.is_file():
        try:
            with safe_open(str(folder), framework="pt") as fh:
                return json.loads((fh.metadata() or {}).get("meta", "{}"))
        except (SafetensorError, ValueError) as exc:
            raise StyleFaceError(f"{folder} is not a readable dataset file ({exc})") from None
    path = folder / MANIFEST
    if not path.exists():
        raise StyleFaceError(f"{folder} has no {MANIFEST}: not a sharded dataset")
    return json.loads(path.read_text())


def write_shard(path: Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    remove_stale_temps(path)
    data = st_save({k: v.contiguous() for k, v in tensors.items()}, {"meta": json.dumps(meta, sort_keys=True)})
    atomic_write_bytes(path, data)


def shard_complete(path: Path) -> bool:
    """True when ``path`` is a readable shard (renamed into place means complete; the header check
    catches files that were copied in half)."""
    if not path.exists():
        return False
    try:
        with safe_open(str(path), framework="pt") as fh:
            fh.keys()
        return True
    except (SafetensorError, OSError):
        return False


def shard_paths(folder: Path, prefix: str, n: int) -> list[Path]:
    return [Path(folder) / shard_name(prefix, j) for j in range(n)]


def read_tensors(paths: Iterable[Path], keys: Iterable[str] | None = None) -> dict[str, torch.Tensor]:
    """Concatenate the named tensors (all when None) of several safetensors files along dim 0."""
    parts: dict[str, list[torch.Tensor]] = {}
    for p in paths:
        try:
            with safe_open(str(p), framework="pt") as fh:
                names = list(fh.keys()) if keys is None else list(keys)
                for k in names:
                    if k not in fh.keys():
                        raise StyleFaceError(f"{p} has no tensor '{k}'")
                    parts.setdefault(k, []).append(fh.get_tensor(k))
        except SafetensorError as exc:
            raise StyleFaceError(f"{p} is not a readable safetensors file ({exc})") from None
        except FileNotFoundError:
            raise StyleFaceError(f"{p} is missing") from None
    return {k: torch.cat(v, 0) for k, v in parts.items()}


def dataset_files(path: str | os.PathLike, prefix: str = "shard") -> list[Path]:
    """The files of a dataset: a merged file, or every shard of a complete folder (in order)."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise StyleFaceError(f"{path} does not exist")
    if (path / MERGED).exists():
        return [path / MERGED]
    man = read_manifest(path)
    paths = shard_paths(path, prefix, int(man["n_shards"]))
    missing = [p.name for p in paths if not p.exists()]
    if missing:
        raise StyleFaceError(f"{path} is incomplete: {len(missing)} of {len(paths)} shards missing "
                             f"(first: {missing[0]}); finish the run first")
    return paths


def tensor_keys(path: Path) -> list[str]:
    with safe_open(str(path), framework="pt") as fh:
        return list(fh.keys())


def merge_folder(folder: str | os.PathLike, out: str | os.PathLike | None = None, prefix: str = "shard") -> Path:
    """Concatenate every shard of a complete folder into one file (default ``folder/merged.safetensors``)."""
    folder = Path(folder)
    man = read_manifest(folder)
    paths = shard_paths(folder, prefix, int(man["n_shards"]))
    missing = [p.name for p in paths if not shard_complete(p)]
    if missing:
        raise StyleFaceError(f"cannot merge {folder}: {len(missing)} of {len(paths)} shards missing or "
                             f"unreadable (first: {missing[0]})")
    tensors = read_tensors(paths)
    out_path = Path(out) if out is not None else folder / MERGED
    atomic_write_bytes(out_path, st_save(tensors, {"meta": json.dumps(man, sort_keys=True)}))
    return out_path
