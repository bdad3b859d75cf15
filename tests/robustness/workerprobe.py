"""A raw driver for ``python -m styleface.worker``: send arbitrary bytes, read frames with a deadline.

Unlike WorkerClient it never validates what it sends, so probes can send any frame.
"""
from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from styleface import protocol as P

HERE = Path(__file__).resolve().parent
FAKES = HERE.parent / "backend"  # worker_fakes.py


def frame(header: Any, payload: bytes = b"", *, raw_header: bytes | None = None, magic: bytes = P.MAGIC,
          version: int = P.PROTOCOL_VERSION, hlen: int | None = None, plen: int | None = None) -> bytes:
    """One frame; ``header`` is JSON-encoded with NaN/Infinity allowed unless ``raw_header`` is given."""
    hb = raw_header if raw_header is not None else json.dumps(header, allow_nan=True).encode()
    pre = P.PREAMBLE.pack(magic, version, 0, len(hb) if hlen is None else hlen,
                          len(payload) if plen is None else plen)
    return pre + hb + payload


class RawWorker:
    """A worker subprocess with a background frame reader."""

    def __init__(self, factory: str | None = "quiet", env: dict[str, str] | None = None,
                 preexec_fn=None) -> None:
        e = dict(os.environ)
        e["PYTHONPATH"] = os.pathsep.join([str(HERE), str(FAKES), e.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        e["STYLEFACE_WORKER_LOG"] = "CRITICAL"
        if factory:
            e["STYLEFACE_WORKER_GENERATOR"] = f"fuzz_fakes:{factory}"
        else:
            e.pop("STYLEFACE_WORKER_GENERATOR", None)
        e.update(env or {})
        self.proc = subprocess.Popen([sys.executable, "-m", "styleface.worker"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=e,
                                     preexec_fn=preexec_fn)
        self.msgs: queue.Queue[Any] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            while True:
                msg = P.read_frame(self.proc.stdout)
                if msg is None:
                    break
                self.msgs.put(msg.header)
        except Exception as e:  # noqa: BLE001 - a broken reply stream is itself a finding
            self.msgs.put({"kind": "broken-stream", "error": repr(e)})
        self.msgs.put(None)

    def send(self, data: bytes) -> bool:
        try:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
            return True
        except (BrokenPipeError, OSError):
            return False

    def next(self, timeout: float) -> Any:
        """The next message header, None at end of the worker's output, or 'timeout'."""
        try:
            return self.msgs.get(timeout=timeout)
        except queue.Empty:
            return "timeout"

    def ping(self, rid: int, timeout: float = 10.0) -> tuple[bool, list[Any]]:
        """Send hello and collect messages until its reply; (answered, messages before it)."""
        if not self.send(frame({"op": "hello", "id": rid, "args": {}})):
            return False, []
        seen = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = self.next(max(0.01, deadline - time.monotonic()))
            if m is None or m == "timeout":
                return False, seen
            if m.get("id") == rid and m.get("kind") == "reply":
                return True, seen
            seen.append(m)
        return False, seen

    def wait_exit(self, timeout: float = 10.0) -> int | None:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def close(self) -> None:
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        if self.wait_exit(10.0) is None:
            self.proc.kill()
            self.proc.wait()
