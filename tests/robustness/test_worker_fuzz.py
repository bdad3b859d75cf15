"""The worker never goes deaf: every malformed frame gets an error reply (and the worker keeps serving)
or, when the stream cannot be trusted, a fatal error and a clean exit; it always exits at end of input.

Bounded: a fixed-seed generator of a few hundred frames per class, a deadline per frame.
"""
from __future__ import annotations

import json
import math
import random
import time

import pytest

from styleface import limits as L
from styleface import protocol as P
from workerprobe import RawWorker, frame

DEADLINE = 10.0
NASTY_NUMBERS = [math.nan, math.inf, -math.inf, 1e308, -1e308, 1e30, 2**64, -(2**63) - 1, 2**63, 0.5, -1,
                 True, None, "3", [1], {"a": 1}, [], {}, 2**31]


def _deep(depth: int, leaf: object = 0, kind: str = "list") -> object:
    v = leaf
    for _ in range(depth):
        v = [v] if kind == "list" else {"k": v}
    return v


def _deep_raw(depth: int) -> bytes:
    return (b'{"op":"generate","id":1,"args":{"seeds":' + b"[" * depth + b"1" + b"]" * depth + b"}}")


def malformed_frames() -> list[tuple[str, bytes, str | None]]:
    """(class, frame bytes, expected error code or None for 'any error or reply')."""
    out: list[tuple[str, bytes, str | None]] = []
    # nesting: inside args, at top level, in the array table, past the parser's recursion limit
    for depth in (33, 64, 500, 999, 1100, 5000, 100_000):
        out.append(("nesting", frame(None, raw_header=_deep_raw(depth)), "protocol"))
        out.append(("nesting", frame(None, raw_header=b'{"op":"hello","id":2,"args":'
                                     + b'{"a":' * depth + b"1" + b"}" * depth + b"}"), "protocol"))
        out.append(("nesting", frame(None, raw_header=b"[" * depth + b"]" * depth), "protocol"))
    # array tables with hostile fields
    good = {"name": "a", "dtype": "<f4", "shape": [2], "offset": 0}
    payload = b"\0" * 8
    for key in ("shape", "offset", "dtype", "name"):
        for bad in NASTY_NUMBERS + [[math.inf], [math.nan], [-1], [2**70, 0], [0, 2**70], [1.5], ["2"],
                                    [True], [[2]], "O", "<U8", "V8", ">f4", "|O", "M8", "x" * 1000]:
            entry = dict(good, **{key: bad})
            out.append(("array-table", frame({"op": "hello", "id": 3, "arrays": [entry]}, payload), None))
    out.append(("array-table", frame({"op": "hello", "id": 3, "arrays": [good] * (P.MAX_ARRAYS + 1)},
                                     payload), None))
    out.append(("array-table", frame({"op": "hello", "id": 3,
                                      "arrays": [dict(good, shape=[1] * (P.MAX_ARRAY_DIMS + 1))]}, payload), None))
    out.append(("array-table", frame({"op": "hello", "id": 3, "arrays": [dict(good, shape=[0] * 32)]}), None))
    out.append(("array-table", frame({"op": "hello", "id": 3, "arrays": "x"}), None))
    out.append(("array-table", frame({"op": "hello", "id": 3, "arrays": [1, 2]}), None))
    # cancel targets
    for bad in NASTY_NUMBERS:
        if bad is None or (isinstance(bad, int) and not isinstance(bad, bool)):
            continue
        out.append(("cancel-target", frame({"op": "cancel", "id": 4, "args": {"target": bad}}), "bad_request"))
    # every number of generate, out of range or non-finite -> bad_request
    options = {"truncation": None, "expression_strength": None, "displacement_strength": None,
               "texture_size": None, "batch_size": None, "expression_from_seed": None}
    for name in options:
        for bad in NASTY_NUMBERS:
            if bad is None or (name == "batch_size" and bad == 0.5):
                continue
            if isinstance(bad, (int, float)) and not isinstance(bad, bool) and math.isfinite(bad) and (
                    name in ("truncation", "expression_strength") and abs(bad) <= 10
                    or name == "displacement_strength" and 0 <= bad <= 100
                    or name == "expression_from_seed" and bad == 2**31):
                continue
            out.append(("generate-number", frame({"op": "generate", "id": 5,
                                                  "args": {"seeds": [1], name: bad}}), "bad_request"))
    for name, n in (("pose", 3), ("lighting", 27)):
        for bad in (math.nan, math.inf, -math.inf, 1e308, "1", None, [1]):
            out.append(("generate-number", frame({"op": "generate", "id": 5,
                                                  "args": {"seeds": [1], name: [bad] * n}}), "bad_request"))
        out.append(("generate-number", frame({"op": "generate", "id": 5, "args": {"seeds": [1], name: [0] * (n + 1)}}),
                    "bad_request"))
    for bad in (math.nan, math.inf, 1e30, "1", None, [1], True):
        out.append(("generate-number", frame({"op": "generate", "id": 5,
                                              "args": {"seeds": [1], "expression": {"smile": bad}}}), "bad_request"))
    for seeds in ([math.nan], [math.inf], [1.5], [-1], [2**63], [True], [[1]], ["1"], [], "0-3", None, 7,
                  list(range(L.MAX_SEEDS_PER_REQUEST + 1))[:0] or [0] * (L.MAX_SEEDS_PER_REQUEST + 1)):
        fr = frame({"op": "generate", "id": 5, "args": {"seeds": seeds}})
        out.append(("generate-number", fr, "bad_request" if len(fr) < P.MAX_HEADER_BYTES else "protocol"))
    out.append(("generate-number", frame({"op": "generate", "id": 5, "args": {"seeds": [1], "batch_size": 4096}}),
                "bad_request"))
    out.append(("generate-number", frame({"op": "generate", "id": 5,
                                          "args": {"seeds": [1], "texture_size": 8192}}), "bad_request"))
    # ids, ops, args of the wrong type
    for bad in NASTY_NUMBERS:
        out.append(("envelope", frame({"op": "hello", "id": bad}), None))
        out.append(("envelope", frame({"op": bad, "id": 6}), None))
        out.append(("envelope", frame({"op": "generate", "id": 6, "args": bad}), None))
        out.append(("envelope", frame({"op": "load_bundle", "id": 6, "args": {"path": bad, "device": bad}}), None))
    # not JSON, not UTF-8, huge integers, empty
    for raw in (b"", b"{", b"nul", b"\xff\xfe", b'{"id": 1' + b"0" * 5000 + b"}", b'"str"', b"[1,2]",
                b'{"op":"hello","id":1}' + b" " * 1000 + b"x", b"\0" * 64, b'{"op":"hello","id":NaN}'):
        out.append(("not-json", frame(None, raw_header=raw), None))
    # random byte mutations of valid requests (frame boundaries kept)
    rng = random.Random(19)
    bases = [json.dumps(h).encode() for h in (
        {"op": "hello", "id": 7, "args": {"protocol": 1}},
        {"op": "generate", "id": 8, "args": {"seeds": [1, 2], "texture_size": 16, "pose": [0.1, 0.2, 0.3],
                                             "expression": {"smile": 0.5}, "batch_size": 2}},
        {"op": "cancel", "id": 9, "args": {"target": 8}},
        {"op": "load_bundle", "id": 10, "args": {"path": "procedural"}},
        {"op": "hello", "id": 11, "arrays": [{"name": "x", "dtype": "<f4", "shape": [2], "offset": 0}]})]
    for _ in range(400):
        b = bytearray(rng.choice(bases))
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(b))
            b[i] = rng.choice(b'{}[]":,0123456789-eE.NIaf \\' + bytes([rng.randrange(256)]))
        out.append(("mutation", frame(None, raw_header=bytes(b), payload=b"\0" * 8), None))
    return out


def _shutdown_like(fr: bytes) -> bool:
    return b"shutdown" in fr


def test_malformed_frames_are_answered_and_the_worker_keeps_serving(tally):
    frames = [f for f in malformed_frames() if not _shutdown_like(f[1])]
    w = RawWorker()
    failures = []
    try:
        for n, (cls, fr, code) in enumerate(frames):
            rid = 1_000_000 + n
            t0 = time.monotonic()
            sent = w.send(fr)
            answered, seen = w.ping(rid, DEADLINE)
            errors = [m for m in seen if m.get("kind") == "error"]
            replies = [m for m in seen if m.get("kind") in ("reply", "error")]
            ok = (sent and answered and len(replies) >= 1 and time.monotonic() - t0 < DEADLINE
                  and (code is None or any(m["error"]["code"] == code for m in errors))
                  and not any(m.get("kind") == "broken-stream" for m in seen))
            tally.record(f"worker {cls}", ok)
            if not ok:
                failures.append((cls, fr[:160], seen[-3:], answered))
                if not answered:  # deaf or dead: start another worker so the rest are still probed
                    w.close()
                    w = RawWorker()
    finally:
        w.close()
    assert not failures, f"{len(failures)} of {len(frames)} frames mishandled, e.g. {failures[:3]}"


FATAL = [
    ("bad magic", lambda: frame({"op": "hello", "id": 1}, magic=b"XXXX")),
    ("other version", lambda: frame({"op": "hello", "id": 1}, version=P.PROTOCOL_VERSION + 1)),
    ("header over limit", lambda: frame({"op": "hello", "id": 1}, hlen=P.MAX_HEADER_BYTES + 1)),
    ("header at 4 GiB", lambda: frame({"op": "hello", "id": 1}, hlen=2**32 - 1)),
    ("payload over limit", lambda: frame({"op": "hello", "id": 1}, plen=P.MAX_REQUEST_PAYLOAD_BYTES + 1)),
    ("payload 2^64-1", lambda: frame({"op": "hello", "id": 1}, plen=2**64 - 1)),
    ("garbage", lambda: b"\xff" * 100),
]


@pytest.mark.parametrize("name,make", FATAL, ids=[f[0] for f in FATAL])
def test_untrustworthy_frames_close_the_worker_cleanly(name, make, tally):
    w = RawWorker()
    try:
        w.send(make())
        seen = []
        while (m := w.next(DEADLINE)) not in (None, "timeout"):
            seen.append(m)
        status = w.wait_exit(DEADLINE)
        ok = status == P.EXIT_PROTOCOL_ERROR and any(m.get("error", {}).get("fatal") for m in seen)
        tally.record("worker fatal frame", ok)
        assert ok, (name, status, seen)
    finally:
        w.close()


@pytest.mark.parametrize("tail", [b"", b"SF", frame({"op": "hello", "id": 1})[:30],
                                  frame({"op": "hello", "id": 1})[:-3], _deep_raw(2000)],
                         ids=["clean", "in-preamble", "in-header", "in-payload-or-header", "deep"])
def test_the_worker_exits_at_end_of_input(tail, tally):
    w = RawWorker()
    try:
        w.send(frame(None, raw_header=_deep_raw(1100)))  # the frame that used to kill the reader thread
        w.send(frame({"op": "cancel", "id": 2, "args": {"target": math.nan}}))
        w.send(tail)
        w.proc.stdin.close()
        status = w.wait_exit(DEADLINE)
        tally.record("worker EOF", status is not None)
        assert status is not None, "worker ignored end of input"
    finally:
        w.close()


def test_a_flood_of_requests_is_bounded_and_every_request_is_answered(tally):
    w = RawWorker("slow")
    try:
        n = L.MAX_QUEUED_REQUESTS * 3
        for i in range(n):
            w.send(frame({"op": "generate", "id": 100 + i, "args": {"seeds": [i]}}))
        finals: dict[int, str] = {}
        deadline = time.monotonic() + 60
        while len(finals) < n and time.monotonic() < deadline:
            m = w.next(DEADLINE)
            if m in (None, "timeout"):
                break
            if m.get("kind") == "reply":
                finals[m["id"]] = "ok"
            elif m.get("kind") == "error":
                finals[m["id"]] = m["error"]["code"]
        busy = sum(v == "busy" for v in finals.values())
        ok = len(finals) == n and busy >= n - L.MAX_QUEUED_REQUESTS - 2 and "ok" in finals.values()
        for _ in range(n):
            tally.record("worker queue flood", ok)
        assert ok, (len(finals), busy)
        assert w.ping(999, DEADLINE)[0]
    finally:
        w.close()


def test_shutdown_behind_a_full_queue_answers_every_request(tally):
    w = RawWorker("slow")
    try:
        n = L.MAX_QUEUED_REQUESTS + 4
        for i in range(n):
            w.send(frame({"op": "generate", "id": 100 + i, "args": {"seeds": [i]}}))
        w.send(frame({"op": "shutdown", "id": 999}))
        finals = set()
        while (m := w.next(DEADLINE)) not in (None, "timeout"):
            if m.get("kind") in ("reply", "error"):
                finals.add(m["id"])
        ok = finals == set(range(100, 100 + n)) | {999} and w.wait_exit(DEADLINE) == 0
        tally.record("worker shutdown under load", ok)
        assert ok, sorted(set(range(100, 100 + n)) | {999} - finals)
    finally:
        w.close()


def test_non_finite_output_is_never_sent(tally):
    w = RawWorker("nonfinite")
    try:
        w.send(frame({"op": "generate", "id": 5, "args": {"seeds": [1]}}))
        answered, seen = w.ping(6)
        faces = [m for m in seen if m.get("kind") == "face"]
        errors = [m for m in seen if m.get("kind") == "error" and m.get("id") == 5]
        ok = answered and not faces and len(errors) == 1 and "NaN" in errors[0]["error"]["message"]
        tally.record("worker non-finite output", ok)
        assert ok, seen
    finally:
        w.close()


def test_the_real_procedural_worker_refuses_the_two_wrong_answers(tally):
    """pose [NaN]*3 and lighting [1e308]*27 used to return faces with NaN/inf coefficients."""
    w = RawWorker(factory=None)
    try:
        w.send(frame({"op": "load_bundle", "id": 1, "args": {"path": "procedural"}}))
        assert w.ping(2, 120)[0]
        for i, args in enumerate(({"pose": [math.nan] * 3}, {"lighting": [1e308] * 27},
                                  {"pose": [math.inf, 0, 0]}, {"texture_size": 8192})):
            w.send(frame({"op": "generate", "id": 10 + i, "args": {"seeds": [1], **args}}))
            answered, seen = w.ping(20 + i, 60)
            codes = [m["error"]["code"] for m in seen if m.get("kind") == "error" and m.get("id") == 10 + i]
            ok = answered and codes == ["bad_request"] and not any(m.get("kind") == "face" for m in seen)
            tally.record("worker procedural numbers", ok)
            assert ok, (args, seen)
        w.send(frame({"op": "generate", "id": 30, "args": {"seeds": [1], "texture_size": 16,
                                                             "pose": [0.1, 0.2, 0.0]}}))
        answered, seen = w.ping(31, 120)
        assert answered and [m["kind"] for m in seen if m.get("id") == 30].count("face") == 1
    finally:
        w.close()
