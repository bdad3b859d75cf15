"""What runs inside one Ray actor: a face generator kept resident, turning batches of seeds into
files in the output store.

A plain class (Ray wraps it with ``ray.remote`` at run time), so tests can drive it in-process.
Failures of single faces are caught and reported per seed; only a dying process loses a batch.
"""
from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

from ..errors import StyleFaceError
from .completion import face_stem
from .faults import Faults
from .store import OutputStore


def _reason(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}".rstrip(": ")


class FaceWorker:
    """Holds one generator (a bundle's Pipeline, or the procedural source) and an output store."""

    def __init__(self, out: str, *, bundle: str | None = None, device: str = "cpu", threads: int | None = None,
                 texture_size: int = 256, formats: Sequence[str] = ("json",), options: dict[str, Any] | None = None,
                 bake_displacement: bool = False, reference_yaws: Sequence[float] | None = None,
                 storage_options: dict[str, Any] | None = None, faults: str = "") -> None:
        import torch

        from ..generation import open_generator

        if threads:
            torch.set_num_threads(int(threads))
        self.store = OutputStore(out, storage_options)
        self.setup_error: str | None = None  # a user's mistake (e.g. no bundle there): one line, no traceback
        try:
            self.gen = open_generator(bundle, device=device, texture_size=texture_size)
        except StyleFaceError as e:
            self.setup_error = str(e)
        self.formats = tuple(formats)
        self.options = dict(options or {})
        self.bake = bake_displacement
        self.reference_yaws = list(reference_yaws) if reference_yaws else None
        self.faults = Faults.parse(faults)

    def run_batch(self, seeds: Sequence[int]) -> dict[str, Any]:
        """Generate and write ``seeds``; returns {"done": [seed...], "failed": {seed: reason}, "cpu_s": this
        process's CPU seconds for the batch (the contention-free cost on a shared machine)}."""
        if self.setup_error:
            return {"done": [], "failed": {}, "setup_error": self.setup_error}
        cpu0 = time.process_time()
        seeds = [int(s) for s in seeds]
        failed: dict[int, str] = {}
        faces = self._generate(seeds, failed)
        done: list[int] = []
        staging = Path(tempfile.mkdtemp(prefix="styleface-cluster-"))
        try:
            refs = self._references([s for s in seeds if s in faces], staging, failed)
            for seed in seeds:
                if seed not in faces or seed in failed:  # generation or its reference images failed
                    continue
                try:
                    self.faults.before_face(seed)
                    self._write(faces.pop(seed), seed, staging, refs.get(seed))
                    done.append(seed)
                except Exception as e:  # noqa: BLE001 - one face's failure must not sink the batch
                    failed[seed] = _reason(e)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return {"done": done, "failed": failed, "cpu_s": time.process_time() - cpu0}

    def _generate(self, seeds: list[int], failed: dict[int, str]) -> dict[int, Any]:
        """One network batch; if it raises, seed by seed so that one bad seed spares the others."""
        try:
            return dict(zip(seeds, self.gen.generate(seeds, **self.options)))
        except Exception as e:  # noqa: BLE001
            if len(seeds) == 1:
                failed[seeds[0]] = _reason(e)
                return {}
        faces = {}
        for seed in seeds:
            try:
                faces[seed] = self.gen.generate([seed], **self.options)[0]
            except Exception as e:  # noqa: BLE001
                failed[seed] = _reason(e)
        return faces

    def _references(self, seeds: list[int], staging: Path, failed: dict[int, str]) -> dict[int, Path]:
        if not self.reference_yaws or not seeds:
            return {}
        truncation = self.options.get("truncation")
        try:
            self.gen.write_reference_images(seeds, self.reference_yaws, staging, truncation=truncation)
        except Exception as e:  # noqa: BLE001
            for s in seeds:
                failed[s] = _reason(e)
            return {}
        return {s: staging / f"{face_stem(s)}_reference.png" for s in seeds}

    def _write(self, assets: Any, seed: int, staging: Path, reference: Path | None) -> None:
        from ..export import export_face

        written = export_face(assets, staging, face_stem(seed), formats=self.formats, bake_displacement=self.bake)
        sidecar = written.pop("json")
        files = list(dict.fromkeys(Path(p) for p in written.values()))
        if reference is not None:
            files.append(reference)
        for path in files:  # the sidecar goes last: it marks the face complete
            self.store.put_file(path, path.name)
        self.store.put_file(sidecar, sidecar.name)
        for path in (*files, sidecar):
            path.unlink(missing_ok=True)

