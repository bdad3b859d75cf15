"""The worker under a hard memory cap (RLIMIT_AS): requests over the documented limits are refused with
a clear error before any work starts, frames at the size limits are read, and the worker keeps serving."""
from __future__ import annotations

import sys

import pytest

from styleface import protocol as P
from workerprobe import RawWorker, frame

resource = pytest.importorskip("resource")
pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS semantics differ off Linux")

CAP = 1536 << 20  # address space: numpy + the fake generator + two max-size frames fit, a 4096 batch does not


def _cap() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (CAP, CAP))


def test_worker_under_a_memory_cap_refuses_big_requests_and_keeps_serving(tally):
    w = RawWorker(env={"STYLEFACE_MAX_MEMORY_MB": "512"}, preexec_fn=_cap)
    try:
        assert w.ping(1)[0]
        probes = [
            ({"seeds": [1], "batch_size": 64}, "bad_request"),  # 64 x 20 MB > 512 MB budget
            ({"seeds": [1], "texture_size": 2048}, "bad_request"),  # 1.7 GB painter estimate
            ({"seeds": [1], "batch_size": 4096}, "bad_request"),  # over MAX_BATCH_SIZE
            ({"seeds": [1], "texture_size": 8192}, "bad_request"),
            ({"seeds": [1, 2], "batch_size": 2, "texture_size": 64}, None),  # fits: served
        ]
        for i, (args, code) in enumerate(probes):
            w.send(frame({"op": "generate", "id": 10 + i, "args": args}))
            answered, seen = w.ping(100 + i)
            finals = [m for m in seen if m.get("id") == 10 + i and m.get("kind") in ("reply", "error")]
            ok = answered and len(finals) == 1 and (
                finals[0]["kind"] == "reply" if code is None else finals[0]["error"]["code"] == code)
            tally.record("worker memory cap", ok)
            assert ok, (args, seen)
        # frames at the size limits: a 64 MiB payload and a 1 MiB header, several times in a row
        for i in range(3):
            payload = b"\0" * P.MAX_REQUEST_PAYLOAD_BYTES
            table = [{"name": "x", "dtype": "|u1", "shape": [len(payload)], "offset": 0}]
            w.send(frame({"op": "hello", "id": 200 + i, "arrays": table, "pad": "x" * 1000}, payload))
            w.send(frame({"op": "hello", "id": 300 + i, "pad": "y" * (P.MAX_HEADER_BYTES - 100)}))
            ok = w.ping(400 + i, 30)[0]
            tally.record("worker memory cap", ok)
            assert ok
        assert w.proc.poll() is None
    finally:
        w.close()
