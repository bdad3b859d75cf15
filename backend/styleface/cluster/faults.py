"""Fault injection for the cluster tests, from $STYLEFACE_CLUSTER_FAULTS (read by the driver and
handed to every actor). Comma list of:

    fail:SEED            the face of SEED raises (a face that fails for a reason of its own)
    crash:SEED           the actor process exits abruptly before writing SEED (every time)
    crash:SEED@MARKER    the same, once: only while the file MARKER does not exist (it is created)
    delay:SECONDS        sleep before writing each face (to kill a driver mid-run)

Never set in normal use; an empty or unset variable injects nothing.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

ENV = "STYLEFACE_CLUSTER_FAULTS"


class InjectedFault(RuntimeError):
    pass


@dataclass(frozen=True)
class Faults:
    fail: frozenset[int] = frozenset()
    crash: tuple[tuple[int, str | None], ...] = ()
    delay: float = 0.0
    spec: str = field(default="", compare=False)

    @classmethod
    def parse(cls, spec: str | None) -> "Faults":
        fail, crash, delay = set(), [], 0.0
        for part in (spec or "").split(","):
            kind, _, arg = part.strip().partition(":")
            if not kind:
                continue
            if kind == "fail":
                fail.add(int(arg))
            elif kind == "crash":
                seed, _, marker = arg.partition("@")
                crash.append((int(seed), marker or None))
            elif kind == "delay":
                delay = float(arg)
            else:
                raise ValueError(f"unknown fault '{part}' in ${ENV}")
        return cls(frozenset(fail), tuple(crash), delay, spec or "")

    @classmethod
    def from_env(cls) -> "Faults":
        return cls.parse(os.environ.get(ENV))

    def before_face(self, seed: int) -> None:
        if self.delay:
            time.sleep(self.delay)
        for s, marker in self.crash:
            if s != seed:
                continue
            if marker is None:
                os._exit(17)
            try:
                fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                continue
            os.close(fd)
            os._exit(17)
        if seed in self.fail:
            raise InjectedFault(f"injected failure for seed {seed}")
