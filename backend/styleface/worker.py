"""``python -m styleface.worker``: a long-lived generator process that speaks ``styleface.protocol``.

Why a process: Blender must not import torch (CUDA/NumPy clashes, crashes that would take Blender
down), and models should load once and stay resident between requests. The add-on starts this module
with the backend's own Python and talks to it through ``styleface.client.WorkerClient``.

Design: stdout carries protocol frames only. At start the real stdout/stdin file descriptors are
duplicated for the protocol and fd 1 is pointed at stderr (fd 0 at the null device), so stray prints of
Python code *and* C libraries land in stderr, which the client captures as a log. A reader thread reads
frames and queues requests; the main thread handles them one at a time. ``cancel`` is handled on the
reader thread (it sets a flag the running ``generate`` checks between faces), so it works mid-batch.

Generators: any object with ``generate(seed, **options) -> FaceAssets`` (see ``Generator``); options
with value None are not passed. An optional ``generate_batch(seeds, **options) -> list`` is used for
``batch_size > 1``; an optional ``device`` attribute is reported. ``load_bundle`` with path None or
``"procedural"`` selects the procedural demo face; other paths go to ``styleface.bundle.load_bundle``.

Testing/extension hook: ``STYLEFACE_WORKER_GENERATOR=module:callable`` replaces the default
(procedural) generator; the callable is called without arguments whenever that default is loaded and
must return a Generator. Tests use it for fake, slow and crashing generators.
"""
from __future__ import annotations

import importlib
import logging
import os
import platform
import queue
import sys
import threading
import time
import traceback
from typing import Any, BinaryIO, Mapping, Protocol

from . import limits as L
from . import protocol as P
from .errors import StyleFaceError

log = logging.getLogger("styleface.worker")

GENERATOR_ENV = "STYLEFACE_WORKER_GENERATOR"
PROCEDURAL = "procedural"
MAX_SEED = L.MAX_SEED
MAX_SEEDS_PER_REQUEST = L.MAX_SEEDS_PER_REQUEST
GENERATE_OPTIONS = ("seeds", "expression", "texture_size", "batch_size", "device", "truncation",
                    "expression_strength", "expression_from_seed", "pose", "lighting", "displacement_strength",
                    "rig_expressions")
#: rig_expressions: which faces of a request carry the rig's expression shapes (``rig.expression_deltas``,
#: ~17.5 MB per ICT-FaceKit face, the same for every face of a model). "each" (default, as before),
#: "first" (the first face only; clients cache them per face model) or "none".
RIG_EXPRESSIONS = ("each", "first", "none")
_NUMBER_OPTIONS = {"truncation": (-L.MAX_TRUNCATION, L.MAX_TRUNCATION),
                   "expression_strength": (-L.MAX_EXPRESSION_STRENGTH, L.MAX_EXPRESSION_STRENGTH),
                   "displacement_strength": (0.0, L.MAX_DISPLACEMENT_STRENGTH)}
_LIST_OPTIONS = {"pose": (3, L.MAX_POSE), "lighting": (27, L.MAX_LIGHTING)}
_STOP = object()


class Generator(Protocol):
    """What the worker needs from a generation backend; models stay resident inside it."""

    def generate(self, seed: int, **options: Any) -> Any:  # -> FaceAssets (or anything with to_arrays())
        ...


class _ProceduralAdapter:
    """The procedural source behind the Generator interface; texture_size is a per-call option."""

    device = "cpu"

    def __init__(self) -> None:
        from .generation import ProceduralSource  # imports torch: only when asked for

        self._src = ProceduralSource()
        self.model = self._src.model
        self._default_size = self._src.gen.texture_size

    def generate(self, seed: int, texture_size: int | None = None, pose: list[float] | None = None,
                 lighting: list[float] | None = None, **options: Any) -> Any:
        import numpy as np

        self._src.gen.texture_size = int(texture_size or self._default_size)
        face = self._src.generate([seed], **options)[0]
        for values, group in ((pose, "rot"), (lighting, "gamma")):
            if values is not None:
                face.coefficients[group] = np.asarray(values, np.float32)
        return face


class _Request:
    __slots__ = ("id", "op", "args")

    def __init__(self, rid: int | None, op: str, args: dict[str, Any]):
        self.id, self.op, self.args = rid, op, args


class _Cancelled(Exception):
    pass


def _load_hook(spec: str) -> Generator:
    mod_name, sep, attr = spec.partition(":")
    if not sep or not mod_name or not attr:
        raise StyleFaceError(f"{GENERATOR_ENV}={spec!r}: use module:callable")
    try:
        factory = getattr(importlib.import_module(mod_name), attr)
    except (ImportError, AttributeError) as e:
        raise StyleFaceError(f"{GENERATOR_ENV}={spec!r} cannot be loaded: {e}") from None
    return factory()


def _coded(err: StyleFaceError, code: str) -> StyleFaceError:
    err.code = code  # type: ignore[attr-defined]
    return err


_check_int = L.check_int


class Worker:
    """Serves requests from ``inp`` and writes frames to ``out`` until shutdown or end of input."""

    def __init__(self, inp: BinaryIO, out: BinaryIO, hook: str | None = None):
        self._inp = inp
        self._out = out
        self._hook = hook
        self._write_lock = threading.Lock()
        self._requests: queue.Queue[Any] = queue.Queue(maxsize=L.MAX_QUEUED_REQUESTS)
        self._state_lock = threading.Lock()
        self._pending: set[int] = set()  # ids queued or running (cancel targets)
        self._cancelled: set[int] = set()
        self._cancel_all = False
        self._current: int | None = None
        self._fatal: str | None = None
        self.generator: Generator | None = None
        self.bundle: str | None = None
        self.device: str = "cpu"
        self._device_requested: str | None = None

    # -- output ----------------------------------------------------------------------------------
    def send(self, header: dict[str, Any], arrays: Mapping[str, Any] | None = None) -> None:
        frame = P.encode_frame(header, arrays)  # encode outside the lock; a bad header raises here
        with self._write_lock:
            P.write_all(self._out, frame)

    def send_error(self, rid: int | None, code: str, message: str, fatal: bool = False) -> None:
        try:
            self.send({"kind": "error", "id": rid,
                       "error": {"code": code, "message": message, "fatal": fatal}})
        except (OSError, ValueError):  # client gone; nothing left to tell
            pass

    # -- reader thread ---------------------------------------------------------------------------
    def _reader(self) -> None:
        """Read frames until end of input or an untrustworthy frame. Nothing may kill this thread
        silently: an unexpected exception is answered and logged, and if the stream itself fails the
        main loop is told to stop, so the worker never outlives its client."""
        try:
            self._read_loop()
        except BaseException as e:  # noqa: BLE001 - last line of defence; the worker must not go deaf
            log.error("reader thread failed, exiting:\n%s", traceback.format_exc())
            self._fatal = self._fatal or f"reader failed: {type(e).__name__}: {e}"
            self._cancel_everything()
            self._put_stop()

    def _put_stop(self, item: Any = _STOP) -> None:
        """Queue the stop marker (or the shutdown request) even when the queue is full: waiting requests
        are dropped to make room, each answered with a ``cancelled`` error, since the worker is exiting."""
        while True:
            try:
                self._requests.put_nowait(item)
                return
            except queue.Full:
                try:
                    dropped = self._requests.get_nowait()
                except queue.Empty:
                    continue
                if isinstance(dropped, _Request):
                    self.send_error(dropped.id, "cancelled", "the worker is shutting down")

    def _enqueue(self, req: _Request) -> None:
        try:
            self._requests.put_nowait(req)
        except queue.Full:
            with self._state_lock:
                self._pending.discard(req.id)
            self.send_error(req.id, "busy", f"{L.MAX_QUEUED_REQUESTS} requests are already waiting; "
                                            "wait for replies before sending more")

    def _read_loop(self) -> None:
        while True:
            try:
                msg = P.read_frame(self._inp, P.MAX_REQUEST_PAYLOAD_BYTES)
            except P.FramingError as e:
                self._fatal = str(e)
                log.error("protocol error, cannot resynchronise, exiting: %s", e)
                self.send_error(None, "protocol", str(e), fatal=True)
                self._cancel_everything()
                self._requests.put(_STOP)
                return
            except P.ProtocolError as e:  # the frame was consumed; keep serving
                log.warning("rejected a malformed frame: %s", e)
                self.send_error(None, "protocol", str(e))
                continue
            except (OSError, ValueError) as e:  # stdin closed under us
                log.info("input closed (%s); exiting", e)
                msg = None
            except MemoryError:  # a frame within the limits but more than this machine has
                self.send_error(None, "protocol", "out of memory reading a frame", fatal=True)
                raise
            if msg is None:  # end of input: the client is gone
                self._cancel_everything()
                self._put_stop()
                return
            try:
                req = self._parse(msg)
                if req is None:
                    continue
                if req.op == "cancel":
                    self._handle_cancel(req)
                    continue
            except Exception as e:  # a bug in request handling on this thread: answer, keep reading
                log.error("reader failed on a frame:\n%s", traceback.format_exc())
                self.send_error(msg.header.get("id") if P._is_int(msg.header.get("id")) else None,
                                "internal", f"{type(e).__name__}: {e}"[:300])
                continue
            if req.id is not None:
                with self._state_lock:
                    self._pending.add(req.id)
            if req.op == "shutdown":
                self._cancel_everything()
                self._put_stop(req)
                return
            self._enqueue(req)

    def _parse(self, msg: P.Message) -> _Request | None:
        h = msg.header
        rid = h.get("id")
        if isinstance(rid, bool) or not isinstance(rid, int):
            self.send_error(None, "bad_request", f"request id must be an integer, got {rid!r}")
            return None
        op, args = h.get("op"), h.get("args", {})
        if args is None:
            args = {}
        if not isinstance(op, str) or op not in P.OPS:
            self.send_error(rid, "unknown_op", f"unknown op {op!r}; the worker understands {', '.join(P.OPS)}")
            return None
        if not isinstance(args, dict):
            self.send_error(rid, "bad_request", f"'{op}' args must be an object")
            return None
        return _Request(rid, op, args)

    def _handle_cancel(self, req: _Request) -> None:
        target = req.args.get("target")
        if target is not None and not P._is_int(target):
            self.send_error(req.id, "bad_request", f"cancel target must be a request id (integer) or null, "
                                                   f"got {L._short(target)}")
            return
        with self._state_lock:
            if target is None:
                target = self._current
            hit = target is not None and target in self._pending
            if hit:
                self._cancelled.add(target)
        log.info("cancel %s: %s", target, "requested" if hit else "nothing to cancel")
        try:
            self.send({"kind": "reply", "id": req.id, "result": {"cancelled": hit, "target": target}})
        except (OSError, ValueError):
            pass

    def _cancel_everything(self) -> None:
        with self._state_lock:
            self._cancel_all = True

    def _check_cancel(self, rid: int) -> None:
        with self._state_lock:
            if self._cancel_all or rid in self._cancelled:
                raise _Cancelled()

    # -- main loop -------------------------------------------------------------------------------
    def serve(self) -> int:
        """Handle requests until shutdown or end of input; the exit status for the process."""
        threading.Thread(target=self._reader, name="styleface-worker-reader", daemon=True).start()
        log.info("worker ready (pid %d, protocol %d)", os.getpid(), P.PROTOCOL_VERSION)
        while True:
            req = self._requests.get()
            if req is _STOP:
                break
            with self._state_lock:
                self._current = req.id
            try:
                if req.op == "shutdown":
                    self.send({"kind": "reply", "id": req.id, "result": {"bye": True}})
                    log.info("shutdown requested")
                    return P.EXIT_OK
                result = getattr(self, f"_op_{req.op}")(req)
                self.send({"kind": "reply", "id": req.id, "result": result})
            except StyleFaceError as e:
                self.send_error(req.id, getattr(e, "code", "bad_request"), str(e))
            except (BrokenPipeError, ConnectionResetError):
                log.info("client went away")
                break
            except Exception as e:  # a bug or a generator failure: report, keep serving
                log.error("request %s (%s) failed:\n%s", req.id, req.op, traceback.format_exc())
                self.send_error(req.id, "internal", f"{type(e).__name__}: {e}")
            finally:
                with self._state_lock:
                    self._current = None
                    self._pending.discard(req.id)
                    self._cancelled.discard(req.id)
        if self._fatal is not None:
            log.error("exiting after protocol error: %s", self._fatal)
            return P.EXIT_PROTOCOL_ERROR
        log.info("end of input; exiting")
        return P.EXIT_OK

    # -- ops -------------------------------------------------------------------------------------
    def _op_hello(self, req: _Request) -> dict[str, Any]:
        from . import __version__

        theirs = req.args.get("protocol", P.PROTOCOL_VERSION)
        if theirs != P.PROTOCOL_VERSION:
            raise _coded(StyleFaceError(f"client speaks protocol {theirs!r}, worker speaks {P.PROTOCOL_VERSION}; "
                                        "install matching StyleFace versions"), "version")
        return {"protocol": P.PROTOCOL_VERSION, "styleface": __version__, "python": platform.python_version(),
                "pid": os.getpid(), "ops": list(P.OPS), "bundle": self.bundle,
                "generator": type(self.generator).__name__ if self.generator is not None else None,
                "device": self.device, "hook": self._hook, "generate_options": list(GENERATE_OPTIONS)}

    def _op_load_bundle(self, req: _Request) -> dict[str, Any]:
        path = req.args.get("path")
        device = req.args.get("device")
        if path is not None and not isinstance(path, str):
            raise StyleFaceError(f"bundle path must be a string or null, got {path!r}")
        if device is not None and not isinstance(device, str):
            raise StyleFaceError(f"device must be a string or null, got {device!r}")
        return self._load(path, device)

    def _load(self, path: str | None, device: str | None) -> dict[str, Any]:
        if path in (None, "") and not self._hook:
            from .bundle import default_bundle_path  # the embedded demo bundle once installed

            default = default_bundle_path()
            path = None if default is None else str(default)
        key = PROCEDURAL if path in (None, "", PROCEDURAL) else path
        t0 = time.perf_counter()
        cached = (self.generator is not None and self.bundle == key
                  and device in (None, self.device, self._device_requested))
        if not cached:
            self.generator = None  # release the old model before loading the next one
            if key == PROCEDURAL:
                gen = _load_hook(self._hook) if self._hook else _ProceduralAdapter()
            else:
                try:
                    from .bundle import load_bundle
                except ImportError as e:
                    if getattr(e, "name", None) in ("styleface.bundle", __package__ + ".bundle"):
                        raise _coded(StyleFaceError(f"cannot load bundle '{path}': bundle loading not "
                                                    "available yet (use 'procedural')"), "unavailable") from None
                    raise
                gen = load_bundle(path, device=device) if device else load_bundle(path)
            self.generator, self.bundle, self._device_requested = gen, key, device
            self.device = str(getattr(gen, "device", "cpu"))
            log.info("loaded generator %s for bundle %s on %s in %.2f s", type(gen).__name__, key,
                     self.device, time.perf_counter() - t0)
        return {"bundle": key, "generator": type(self.generator).__name__, "device": self.device,
                "device_requested": device, "cached": cached, "seconds": time.perf_counter() - t0}

    def _op_generate(self, req: _Request) -> dict[str, Any]:
        a = req.args
        unknown = sorted(set(a) - set(GENERATE_OPTIONS))
        if unknown:
            raise StyleFaceError(f"unknown generate option(s) {', '.join(unknown)}; "
                                 f"known: {', '.join(GENERATE_OPTIONS)}")
        seeds = a.get("seeds")
        if not isinstance(seeds, list) or not seeds:
            raise StyleFaceError(f"seeds must be a non-empty list of integers, got {seeds!r}"[:300])
        if len(seeds) > MAX_SEEDS_PER_REQUEST:
            raise StyleFaceError(f"at most {MAX_SEEDS_PER_REQUEST} seeds per request, got {len(seeds)}")
        for s in seeds:
            _check_int(s, "seed", 0, MAX_SEED)
        options: dict[str, Any] = {}
        if a.get("expression") is not None:
            options["expression"] = L.check_expression(a["expression"])
        for name, (lo, hi) in _NUMBER_OPTIONS.items():
            if a.get(name) is not None:
                options[name] = L.check_number(a[name], name, lo, hi)
        if a.get("expression_from_seed") is not None:
            options["expression_from_seed"] = _check_int(a["expression_from_seed"], "expression_from_seed", 0, MAX_SEED)
        for name, (n, bound) in _LIST_OPTIONS.items():
            v = a.get(name)
            if v is not None:
                if not isinstance(v, list) or len(v) != n:
                    raise StyleFaceError(f"{name} must be a list of {n} numbers")
                options[name] = [L.check_number(x, f"{name}[{i}]", -bound, bound) for i, x in enumerate(v)]
        rig_expressions = a.get("rig_expressions")
        if rig_expressions is not None and rig_expressions not in RIG_EXPRESSIONS:
            raise StyleFaceError(f"rig_expressions must be one of {', '.join(RIG_EXPRESSIONS)}, "
                                 f"got {rig_expressions!r}")
        if a.get("texture_size") is not None:
            options["texture_size"] = _check_int(a["texture_size"], "texture_size", L.MIN_TEXTURE_SIZE,
                                                 L.MAX_TEXTURE_SIZE)
        batch = _check_int(a.get("batch_size", 1), "batch_size", 1, L.MAX_BATCH_SIZE)
        L.check_memory(batch, options.get("texture_size"), "generate")
        device = a.get("device")
        if device is not None and not isinstance(device, str):
            raise StyleFaceError(f"device must be a string or null, got {device!r}")

        if self.generator is None:
            self._load(None, device)
        gen = self.generator
        total, done = len(seeds), 0
        self.send({"kind": "progress", "id": req.id, "done": 0, "total": total})
        t0 = time.perf_counter()
        status = "ok"
        try:
            for start in range(0, total, batch):
                self._check_cancel(req.id)
                chunk = seeds[start:start + batch]
                if len(chunk) > 1 and hasattr(gen, "generate_batch"):
                    faces = list(gen.generate_batch(chunk, **options))  # type: ignore[attr-defined]
                else:
                    faces = [gen.generate(s, **options) for s in chunk]  # type: ignore[union-attr]
                for seed, face in zip(chunk, faces):
                    arrays, meta = face.to_arrays()
                    _check_finite(arrays, seed)
                    if rig_expressions is not None and "rig.source_vertex" in arrays:
                        # a client that asks for this reads the rig: skip the per-render-vertex basis too
                        if rig_expressions == "none" or (rig_expressions == "first" and done > 0):
                            arrays = {k: v for k, v in arrays.items() if k != "rig.expression_deltas"}
                    elif done == 0:
                        _attach_expression_basis(gen, arrays, meta)
                    self.send({"kind": "face", "id": req.id, "index": done, "seed": seed, "meta": meta}, arrays)
                    done += 1
                    self.send({"kind": "progress", "id": req.id, "done": done, "total": total})
        except _Cancelled:
            status = "cancelled"
            log.info("request %s cancelled after %d of %d faces", req.id, done, total)
        return {"status": status, "done": done, "total": total, "device": self.device,
                "device_requested": device, "seconds": time.perf_counter() - t0}


def _check_finite(arrays: Mapping[str, Any], seed: int) -> None:
    """Never ship NaN/inf geometry or maps: the inputs are validated, this is the last gate."""
    import numpy as np

    for name, arr in arrays.items():
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            raise StyleFaceError(f"seed {seed}: the generated '{name}' holds NaN or infinite values; "
                                 "try smaller option values")


def _attach_expression_basis(gen: Any, arrays: dict[str, Any], meta: dict[str, Any]) -> None:
    """With the first face of a request, send the named expression components as per-vertex deltas
    (K, N, 3) in model units per unit coefficient, so clients can build shape keys."""
    model = getattr(getattr(gen, "pipeline", gen), "model", None)
    names = tuple(getattr(model, "exp_names", ()) or ())
    if model is None or not names or model.n_vertices != arrays["vertices"].shape[0]:
        return
    arrays["expression_deltas"] = model.exp_basis[:, :, :len(names)].transpose(2, 0, 1).copy()
    meta["expression_names"] = list(names)


def _protocol_streams() -> tuple[BinaryIO, BinaryIO]:
    """Private binary copies of fd 0/1 for frames; fd 1 -> stderr, fd 0 -> null device for everyone else."""
    sys.stdout.flush()
    in_fd, out_fd = os.dup(0), os.dup(1)
    os.dup2(2, 1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    if sys.platform == "win32":  # pragma: no cover
        import msvcrt
        msvcrt.setmode(in_fd, os.O_BINARY)
        msvcrt.setmode(out_fd, os.O_BINARY)
    sys.stdout = sys.stderr
    sys.stdin = open(os.devnull)  # noqa: SIM115 - lives as long as the process
    # unbuffered raw files: no buffered-object locks held by the reader thread at interpreter exit
    return os.fdopen(in_fd, "rb", buffering=0), os.fdopen(out_fd, "wb", buffering=0)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m styleface.worker``; returns the process exit status."""
    logging.basicConfig(stream=sys.stderr, level=os.environ.get("STYLEFACE_WORKER_LOG", "INFO"),
                        format="styleface.worker %(levelname)s: %(message)s")
    inp, out = _protocol_streams()
    worker = Worker(inp, out, hook=os.environ.get(GENERATOR_ENV) or None)
    code = worker.serve()
    sys.stderr.flush()
    return code


if __name__ == "__main__":
    code = main()
    # The reader thread may still block in a read of the protocol pipe; leave without waiting for it.
    logging.shutdown()
    os._exit(code)
