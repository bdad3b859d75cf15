"""Fake generators for the worker tests, loaded by the worker through STYLEFACE_WORKER_GENERATOR.

Why: worker tests must not depend on the demo face model or torch, and need faces that are slow (to
cancel mid-batch), fail (error replies) or kill the process (crash handling). Faces are deterministic
in (seed, options), so the tests can rebuild the expected arrays in-process.
"""
from __future__ import annotations

import os
import sys
import time
from typing import Any

import numpy as np

from styleface.assets import DisplacementInfo, FaceAssets

CRASH_SEED = 13
FAIL_SEED = 666
CRASH_STATUS = 17


def make_face(seed: int, texture_size: int = 16, expression: dict[str, float] | None = None,
              n_grid: int = 6) -> FaceAssets:
    """A small valid face whose every array depends on the seed."""
    rng = np.random.default_rng(seed)
    g = np.stack(np.meshgrid(np.linspace(0, 1, n_grid), np.linspace(0, 1, n_grid)), -1).reshape(-1, 2)
    verts = np.concatenate([g * 2 - 1, rng.normal(0, 0.1, (len(g), 1))], 1)
    tris = []
    for r in range(n_grid - 1):
        for c in range(n_grid - 1):
            a = r * n_grid + c
            tris += [[a, a + 1, a + n_grid + 1], [a, a + n_grid + 1, a + n_grid]]
    s = texture_size
    return FaceAssets(
        vertices=verts, faces=np.array(tris), uvs=g,
        diffuse=rng.uniform(0, 1, (3, s, s)), displacement=rng.uniform(-1, 1, (3, s, s)),
        displacement_info=DisplacementInfo(),
        coefficients={"id": rng.normal(size=4), "exp": np.zeros(2), "rot": rng.normal(size=3)},
        stylecode=rng.normal(size=(2, 8)), seed=int(seed),
        provenance={"generator": "fake", "expression": expression or {}, "texture_size": s},
    )


class FakeGenerator:
    """Generator protocol object: ``generate(seed, **options) -> FaceAssets``."""

    device = "cpu"

    def __init__(self, delay: float = 0.0, noisy: bool = True):
        self.delay = delay
        self.noisy = noisy

    def generate(self, seed: int, expression: dict[str, float] | None = None,
                 texture_size: int | None = None, **options: Any) -> FaceAssets:
        if self.noisy:  # stray output from "libraries": must end up in the log, not in the protocol
            print(f"stray print while generating seed {seed}")
            os.write(1, f"stray fd-1 write for seed {seed}\n".encode())
        if seed == CRASH_SEED:
            sys.stderr.write("fake generator crashing now\n")
            sys.stderr.flush()
            os._exit(CRASH_STATUS)
        if seed == FAIL_SEED:
            raise RuntimeError("fake generator failure")
        if self.delay:
            time.sleep(self.delay)
        return make_face(seed, texture_size or 16, expression)


class BatchingFakeGenerator(FakeGenerator):
    """Also offers generate_batch, which the worker uses for batch_size > 1."""

    def generate_batch(self, seeds: list[int], **options: Any) -> list[FaceAssets]:
        sys.stderr.write(f"fake batch of {len(seeds)}\n")
        return [self.generate(s, **options) for s in seeds]


def batching() -> BatchingFakeGenerator:
    return BatchingFakeGenerator(noisy=False)


def fast() -> FakeGenerator:
    return FakeGenerator()


def slow() -> FakeGenerator:
    return FakeGenerator(delay=0.2, noisy=False)
