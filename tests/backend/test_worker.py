"""The backend worker as the add-on sees it: a subprocess spoken to through WorkerClient.

Worker subprocesses use the fake generators of worker_fakes.py (STYLEFACE_WORKER_GENERATOR), so these
tests need neither torch nor the demo face model.
"""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from styleface import protocol as P
from styleface.assets import FaceAssets
from styleface.client import (GenerateResult, RequestError, WorkerClient, WorkerExited,
                              WorkerVersionError)

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import worker_fakes  # noqa: E402

START_TIMEOUT = 30.0


def worker_env(factory: str = "fast") -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["STYLEFACE_WORKER_GENERATOR"] = f"worker_fakes:{factory}"
    return env


def start(factory: str = "fast", **kw) -> WorkerClient:
    return WorkerClient(env=worker_env(factory), start_timeout=START_TIMEOUT, request_timeout=20.0, **kw)


@pytest.fixture(scope="module")
def worker():
    """One fast worker shared by the tests that leave it serving."""
    w = start()
    yield w
    w.close()


def raw_frame(header: bytes, payload: bytes = b"", *, magic: bytes = P.MAGIC,
              version: int = P.PROTOCOL_VERSION, plen: int | None = None, hlen: int | None = None) -> bytes:
    pre = P.PREAMBLE.pack(magic, version, 0, len(header) if hlen is None else hlen,
                          len(payload) if plen is None else plen)
    return pre + header + payload


def assert_same_face(got: FaceAssets, want: FaceAssets) -> None:
    g_arr, g_meta = got.to_arrays()
    w_arr, w_meta = want.to_arrays()
    assert g_meta == w_meta
    assert g_arr.keys() == w_arr.keys()
    for k in w_arr:
        assert g_arr[k].dtype == w_arr[k].dtype and np.array_equal(g_arr[k], w_arr[k]), k


# -- protocol (in-process) -------------------------------------------------------------------------

def test_protocol_round_trip_keeps_dtype_shape_and_bytes():
    arrays = {"f": np.arange(12, dtype=np.float32).reshape(3, 4), "big": np.arange(5, dtype=">i8"),
              "b": np.array([True, False]), "u8": np.arange(3, dtype=np.uint8), "empty": np.zeros((0, 3)),
              "scalar": np.float64(2.5), "strided": np.arange(20.0)[::3]}
    buf = io.BytesIO()
    P.write_frame(buf, {"kind": "x", "id": 1, "meta": {"n": np.int64(3)}}, arrays)
    buf.seek(0)
    msg = P.read_frame(buf)
    assert msg.header == {"kind": "x", "id": 1, "meta": {"n": 3}}
    for k, a in arrays.items():
        got = msg.arrays[k]
        assert got.shape == np.shape(a) and np.array_equal(got, a), k
        assert got.dtype.byteorder in "<=|" and got.dtype.kind == np.asarray(a).dtype.kind
    assert msg.arrays["f"].flags.writeable
    assert P.read_frame(buf) is None  # clean end between frames


@pytest.mark.parametrize("frame, fatal, words", [
    (raw_frame(b"{}", magic=b"XXXX"), True, "magic"),
    (raw_frame(b"{}", version=99), True, "version"),
    (raw_frame(b"{}", plen=10 * 2**30), True, "exceeds"),
    (raw_frame(b"{}", hlen=P.MAX_HEADER_BYTES + 1), True, "exceeds"),
    (raw_frame(b'{"id": 1}')[:-3], True, "ended"),
    (raw_frame(b"{not json"), False, "JSON"),
    (raw_frame(b"[1, 2]"), False, "object"),
    (raw_frame(json.dumps({"arrays": [{"name": "a", "dtype": "<f4", "shape": [4], "offset": 0}]}).encode(),
               b"\0" * 8), False, "outside"),
    (raw_frame(json.dumps({"arrays": [{"name": "a", "dtype": "O", "shape": [1], "offset": 0}]}).encode(),
               b"\0" * 8), False, "not allowed"),
])
def test_protocol_rejects_bad_frames(frame, fatal, words):
    with pytest.raises(P.ProtocolError, match=words) as e:
        P.read_frame(io.BytesIO(frame))
    assert e.value.fatal is fatal


def test_protocol_refuses_unsendable_arrays_and_headers():
    with pytest.raises(P.ProtocolError):
        P.encode_frame({"id": 1}, {"o": np.array(["text"], dtype=object)})
    with pytest.raises(P.ProtocolError):
        P.encode_frame({"x": float("nan")})


# -- worker subprocess -----------------------------------------------------------------------------

def test_hello_reports_protocol_and_versions(worker):
    import styleface

    info = worker.hello()
    assert info["protocol"] == P.PROTOCOL_VERSION
    assert info["styleface"] == styleface.__version__
    assert info["pid"] == worker.pid and set(P.OPS) <= set(info["ops"])
    with pytest.raises(RequestError) as e:  # a client of another version is refused, worker serves on
        worker._request("hello", {"protocol": 999})
    assert e.value.code == "version"
    assert worker.hello()["protocol"] == P.PROTOCOL_VERSION


def test_generate_streams_faces_equal_to_in_process(worker):
    progress, streamed = [], []
    options = {"texture_size": 24, "expression": {"smile": 0.5}}
    result = worker.generate([5, 7, 9], options, on_progress=lambda d, t: progress.append((d, t)),
                             on_face=lambda i, f: streamed.append((i, f)), collect=True)
    assert isinstance(result, GenerateResult)
    assert (result.status, result.done, result.total, result.device) == ("ok", 3, 3, "cpu")
    assert progress == [(0, 3), (1, 3), (2, 3), (3, 3)]
    assert [i for i, _ in streamed] == [0, 1, 2]
    gen = worker_fakes.fast()
    for seed, face in zip([5, 7, 9], result.faces):
        assert isinstance(face, FaceAssets)
        assert_same_face(face, gen.generate(seed, expression={"smile": 0.5}, texture_size=24))
    # stray prints of the generator (Python and fd 1) went to the log, not into the frames
    time.sleep(0.2)
    assert "stray print while generating seed 9" in worker.log_text()
    assert "stray fd-1 write for seed 9" in worker.log_text()


def test_batch_size_uses_generate_batch_and_reports_each_face():
    with start("batching") as w:
        progress = []
        result = w.generate([1, 2, 3], {"batch_size": 2}, on_progress=lambda d, t: progress.append(d))
        assert progress == [0, 1, 2, 3]
        for seed, face in zip([1, 2, 3], result.faces):
            assert_same_face(face, worker_fakes.make_face(seed))
        time.sleep(0.1)
        assert "fake batch of 2" in w.log_text()


def test_timeout_cancels_the_abandoned_request():
    from styleface.client import WorkerTimeout

    with start("slow") as w:
        with pytest.raises(WorkerTimeout):
            w.generate(range(100), timeout=0.05)
        t0 = time.monotonic()
        assert w.generate([1]).done == 1  # the abandoned batch was cancelled, not run to its end
        assert time.monotonic() - t0 < 10  # running its 100 faces out would take 20 s


def test_raw_faces_without_assets_class():
    with start(as_assets=False) as w:
        result = w.generate([3])
        arrays, meta = result.faces[0]
        assert isinstance(arrays["vertices"], np.ndarray) and meta["seed"] == 3
        assert_same_face(FaceAssets.from_arrays(arrays, meta), worker_fakes.make_face(3))


@pytest.mark.parametrize("seeds, options, code, words", [
    ([-1], {}, "bad_request", "seed"),
    (["7"], {}, "bad_request", "seed"),
    ([2**63], {}, "bad_request", "seed"),
    ([True], {}, "bad_request", "seed"),
    ([], {}, "bad_request", "seeds"),
    ([1], {"texture_sise": 64}, "bad_request", "texture_sise"),
    ([1], {"batch_size": 0}, "bad_request", "batch_size"),
    ([1], {"expression": "smile"}, "bad_request", "expression"),
    ([worker_fakes.FAIL_SEED], {}, "internal", "fake generator failure"),
])
def test_bad_request_returns_error_and_worker_keeps_serving(worker, seeds, options, code, words):
    with pytest.raises(RequestError, match=words) as e:
        worker.generate(seeds, options)
    assert e.value.code == code
    assert worker.generate([1]).done == 1


def test_unknown_op_and_bad_args(worker):
    with pytest.raises(RequestError, match="unknown op") as e:
        worker._request("frobnicate", {})
    assert e.value.code == "unknown_op"
    with pytest.raises(RequestError, match="bundle path"):
        worker._request("load_bundle", {"path": 5})
    assert worker.hello()["protocol"] == P.PROTOCOL_VERSION


def test_load_bundle_keeps_generator_resident(worker):
    first = worker.load_bundle("procedural")
    assert first["generator"] == "FakeGenerator" and first["device"] == "cpu"
    again = worker.load_bundle(None, device="cpu")
    assert again["cached"] is True
    with pytest.raises(RequestError, match="bundle") as e:
        worker.load_bundle("/no/such/bundle")
    if e.value.code == "unavailable":
        assert "not available yet" in str(e.value)
    assert worker.generate([2]).done == 1


@pytest.mark.parametrize("frame, words", [
    (raw_frame(b"{not json"), "JSON"),
    (raw_frame(json.dumps({"op": "hello", "id": 1, "arrays": [
        {"name": "a", "dtype": "<f8", "shape": [100], "offset": 0}]}).encode(), b"\0" * 8), "outside"),
    (raw_frame(json.dumps({"op": "hello", "id": "one"}).encode()), "request id"),
])
def test_malformed_frame_with_known_bounds_is_rejected_and_worker_serves_on(worker, frame, words):
    worker._send_raw(frame)
    assert worker.hello()["protocol"] == P.PROTOCOL_VERSION
    assert worker.alive
    time.sleep(0.1)
    assert words in worker.log_text()  # the worker logged it, the client noted the rejection


@pytest.mark.parametrize("frame, words", [
    (b"GARBAGE!" * 8, "bad frame magic"),
    (raw_frame(b"{}", version=P.PROTOCOL_VERSION + 1), "protocol version"),
    (raw_frame(b"{}", plen=10 * 2**30), "exceeds the limit"),
    (raw_frame(b"{}", hlen=2**31), "exceeds the limit"),
])
def test_unsynchronisable_frame_ends_worker_cleanly_and_client_reports_why(frame, words):
    w = start()
    try:
        w._send_raw(frame)
        t0 = time.monotonic()
        with pytest.raises(WorkerExited, match=words) as e:
            w.hello()
        assert time.monotonic() - t0 < 5
        assert e.value.returncode == P.EXIT_PROTOCOL_ERROR
        assert "Traceback" not in w.log_text() and words in w.log_text()
        with pytest.raises(WorkerExited):  # and every later call says so at once
            w.generate([1])
    finally:
        w.close()


def test_cancel_mid_batch_returns_faces_done_so_far():
    with start("slow") as w:
        two_done = threading.Event()

        def on_face(i, face):
            if i == 1:
                two_done.set()

        canceller = threading.Thread(target=lambda: two_done.wait(10) and w.cancel())
        canceller.start()
        result = w.generate(range(30), on_face=on_face, collect=True)
        canceller.join()
        assert result.cancelled and result.total == 30
        assert 2 <= result.done <= 4 and len(result.faces) == result.done
        assert [f.seed for f in result.faces] == list(range(result.done))
        assert w.cancel() is False  # nothing running
        assert w.generate([40]).status == "ok"  # and the worker serves on


def test_callback_error_cancels_batch_and_is_raised():
    with start("slow") as w:
        def boom(i, face):
            raise KeyError("callback failed")

        with pytest.raises(KeyError):
            w.generate(range(30), on_face=boom)
        assert w.generate([1]).done == 1


def test_killed_worker_mid_request_raises_quickly():
    with start("slow") as w:
        first = threading.Event()
        threading.Thread(target=lambda: first.wait(10) and w._proc.kill()).start()
        t0 = time.monotonic()
        with pytest.raises(WorkerExited, match="killed|exited") as e:
            w.generate(range(50), on_face=lambda i, f: first.set())
        assert time.monotonic() - t0 < 4
        assert e.value.returncode != 0
        assert not w.alive


def test_crash_mid_request_raises_with_status_and_log():
    with start("fast") as w:
        got = []
        with pytest.raises(WorkerExited, match=f"status {worker_fakes.CRASH_STATUS}") as e:
            w.generate([11, 12, worker_fakes.CRASH_SEED, 14], on_face=lambda i, f: got.append(f.seed))
        assert got == [11, 12]
        assert e.value.returncode == worker_fakes.CRASH_STATUS
        assert "fake generator crashing now" in e.value.log_tail


def test_shutdown_exits_with_status_0_and_end_of_input_too(tmp_path):
    log = tmp_path / "worker.log"
    w = start(log_path=log)
    w.generate([1])
    assert w.close() == 0
    assert not w.alive and "shutdown requested" in log.read_text()
    with pytest.raises(Exception):
        w.hello()
    w2 = start()
    w2._proc.stdin.close()  # the client vanished: the worker leaves on its own
    assert w2._proc.wait(10) == 0
    w2.close()


def test_client_importable_and_usable_without_torch():
    code = r"""
import sys
class BlockTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is blocked in this test")
sys.meta_path.insert(0, BlockTorch())
from styleface.client import WorkerClient
from styleface import protocol
with WorkerClient(start_timeout=30) as w:
    r = w.generate([4])
    print(type(r.faces[0]).__name__, r.done)
assert "torch" not in sys.modules, "torch was imported"
print("NO_TORCH_OK")
"""
    out = subprocess.run([sys.executable, "-c", code], env=worker_env(), capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert "FaceAssets 1" in out.stdout and "NO_TORCH_OK" in out.stdout


def test_bad_python_gives_clear_error():
    from styleface.client import WorkerError

    with pytest.raises(WorkerError, match="cannot start"):
        WorkerClient(python="/no/such/python")


def test_version_mismatch_in_frames_is_a_version_error():
    # a "worker" that answers in a future protocol version
    fake = ("import sys, struct; sys.stdin.buffer.read(1); "
            f"sys.stdout.buffer.write(struct.pack('<4sHHIQ', b'SFWP', {P.PROTOCOL_VERSION + 1}, 0, 2, 0) + b'{{}}'); "
            "sys.stdout.flush(); sys.stdin.buffer.read()")
    with pytest.raises(WorkerVersionError, match="protocol version"):
        WorkerClient(command=[sys.executable, "-c", fake], start_timeout=10)


def test_real_procedural_generator_when_available():
    pytest.importorskip("torch")
    try:
        from styleface.facemodel.procedural import demo_face_model  # noqa: F401
    except ImportError:
        pytest.skip("procedural demo face model not written yet")
    env = worker_env()
    del env["STYLEFACE_WORKER_GENERATOR"]
    with WorkerClient(env=env, start_timeout=30, request_timeout=60) as w:
        info = w.load_bundle("procedural", device="cuda")
        assert info["device"] == "cpu" and info["device_requested"] == "cuda"
        face = w.generate([0], {"texture_size": 32}).faces[0]
        assert isinstance(face, FaceAssets) and face.seed == 0 and face.diffuse.shape == (3, 32, 32)
