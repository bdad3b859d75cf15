"""Generator factories for the probes (STYLEFACE_WORKER_GENERATOR=fuzz_fakes:NAME): no crash seeds."""
from __future__ import annotations

import time
from typing import Any

import worker_fakes


class SafeFake:
    device = "cpu"

    def __init__(self, delay: float = 0.0):
        self.delay = delay

    def generate(self, seed: int, expression: dict[str, float] | None = None,
                 texture_size: int | None = None, **options: Any):
        if self.delay:
            time.sleep(self.delay)
        return worker_fakes.make_face(seed % 2**32, texture_size or 16, expression)


def quiet() -> SafeFake:
    return SafeFake()


def slow() -> SafeFake:
    return SafeFake(delay=0.3)


class NonFiniteFake(SafeFake):
    """A generator bug or an extreme input: the face comes back with NaN coefficients."""

    def generate(self, seed: int, **options: Any):
        import numpy as np

        face = super().generate(seed, **options)
        for k in face.coefficients:
            face.coefficients[k] = np.full_like(face.coefficients[k], np.nan)
        return face


def nonfinite() -> NonFiniteFake:
    return NonFiniteFake()
