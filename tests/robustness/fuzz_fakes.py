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
