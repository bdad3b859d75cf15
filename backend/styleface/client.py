"""WorkerClient: start ``python -m styleface.worker`` in another Python and generate faces through it.

Why: the Blender add-on must not import torch, so it vendors this file and ``protocol.py`` (standard
library + numpy only) and runs the backend in its own process. Faces arrive as ``FaceAssets`` when
``styleface.assets`` is importable next to this module, else as ``(arrays, meta)`` tuples that
``FaceAssets.from_arrays(arrays, meta)`` accepts.

Threads: a reader thread turns the worker's stdout into a queue of messages, so every wait has a
timeout and a dead worker surfaces as ``WorkerExited`` at once instead of a hang; a second thread keeps
the worker's stderr as a log (``log_text()``, optionally also a file). ``generate`` blocks the calling
thread and runs the callbacks on it; ``cancel()`` and ``close()`` may be called from any other thread.
In Blender, run ``generate`` in a helper thread and hand faces to the main thread through a queue
drained by a ``bpy.app.timers`` callback (callbacks must never touch bpy).

Example::

    with WorkerClient(python="/path/to/backend/venv/bin/python") as w:
        w.load_bundle("procedural")
        result = w.generate([0, 1, 2], {"texture_size": 256}, on_progress=lambda d, t: print(d, t))
"""
from __future__ import annotations

import collections
import itertools
import os
import queue
import subprocess
import sys
import threading
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

from . import protocol as P

_EOF = object()


class WorkerError(P._BaseError):
    """The worker could not serve a request: it exited, hung, speaks another version or reported an error."""


class WorkerExited(WorkerError):
    """The worker process is gone (crash, kill, protocol error); ``returncode`` and ``log_tail`` say more."""

    def __init__(self, message: str, returncode: int | None = None, log_tail: str = ""):
        super().__init__(message)
        self.returncode = returncode
        self.log_tail = log_tail


class WorkerTimeout(WorkerError):
    """No message from the worker within the timeout; the worker may still be busy or stuck."""


class WorkerVersionError(WorkerError):
    """Client and worker speak different protocol versions."""


class RequestError(WorkerError):
    """The worker rejected or failed one request (``code``: bad_request, unknown_op, unavailable,
    internal, protocol); it keeps serving."""

    def __init__(self, message: str, code: str = "error"):
        super().__init__(message)
        self.code = code


@dataclass
class GenerateResult:
    """Outcome of one ``generate`` batch: the faces received (unless streamed only) and the status."""

    status: str
    done: int
    total: int
    faces: list[Any] = field(default_factory=list)
    device: str | None = None
    seconds: float = 0.0

    @property
    def cancelled(self) -> bool:
        return self.status == "cancelled"


def _kill(proc: subprocess.Popen) -> None:
    """Finalizer: never leave a worker (and its GPU memory) behind when the client is dropped."""
    if proc.poll() is None:
        try:
            proc.kill()
            proc.wait(5)
        except (OSError, subprocess.TimeoutExpired):  # pragma: no cover
            pass


def _assets_class(as_assets: bool | None) -> Any:
    if as_assets is False:
        return None
    try:
        from .assets import FaceAssets
    except ImportError:
        if as_assets:
            raise WorkerError("as_assets=True needs styleface.assets next to the client") from None
        return None
    return FaceAssets


class WorkerClient:
    """One worker process and the conversation with it; one request at a time (a lock serialises)."""

    def __init__(self, python: str | None = None, env: Mapping[str, str] | None = None, *,
                 cwd: str | None = None, command: Sequence[str] | None = None,
                 start_timeout: float = 60.0, request_timeout: float | None = 300.0,
                 max_payload: int = P.DEFAULT_MAX_PAYLOAD_BYTES, log_path: str | os.PathLike | None = None,
                 log_lines: int = 2000, as_assets: bool | None = None, start: bool = True):
        """``python``: the backend's interpreter (default: this one); ``env``: the worker's whole
        environment (default: inherited); ``command`` replaces ``[python, -m, styleface.worker]``.
        ``request_timeout``: longest silence (seconds) tolerated while waiting for a message of a
        request, None to wait for ever; faces and progress messages reset it."""
        self.command = list(command) if command else [python or sys.executable, "-m", "styleface.worker"]
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.start_timeout = start_timeout
        self.request_timeout = request_timeout
        self.max_payload = int(max_payload)
        self.log_path = os.fspath(log_path) if log_path is not None else None
        self._assets = _assets_class(as_assets)
        self._log: collections.deque[str] = collections.deque(maxlen=log_lines)
        self._log_lock = threading.Lock()
        self._inbox: queue.Queue[Any] = queue.Queue()
        self._write_lock = threading.Lock()
        self._request_lock = threading.Lock()
        self._ids = itertools.count(1)
        self._current_id: int | None = None
        self._fatal_reason: str | None = None
        self._version_error = False
        self._killed_by_client = False
        self._closed = False
        self._proc: subprocess.Popen | None = None
        self._threads: list[threading.Thread] = []
        self.info: dict[str, Any] = {}
        if start:
            self.start()

    # -- life cycle ------------------------------------------------------------------------------
    def start(self) -> dict[str, Any]:
        """Start the process and do the hello handshake; returns the worker's hello reply."""
        if self._proc is not None:
            raise WorkerError("worker already started")
        flags = getattr(subprocess, "CREATE_NO_WINDOW", 0)  # no console window from Blender on Windows
        try:
            self._proc = subprocess.Popen(self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, bufsize=0, env=self.env, cwd=self.cwd,
                                          creationflags=flags)
        except OSError as e:
            raise WorkerError(f"cannot start the StyleFace worker {self.command[0]!r}: {e}") from None
        self._finalizer = weakref.finalize(self, _kill, self._proc)
        for target, name in ((self._read_stdout, "stdout"), (self._read_stderr, "stderr")):
            t = threading.Thread(target=target, name=f"styleface-client-{name}", daemon=True)
            t.start()
            self._threads.append(t)
        try:
            self.info = self.hello(timeout=self.start_timeout)
        except BaseException:
            self.close(timeout=1.0)
            raise
        return self.info

    def close(self, timeout: float = 5.0) -> int | None:
        """Ask the worker to shut down (cancelling running work), kill it if it does not exit within
        ``timeout``; returns its exit status. Safe to call twice and from another thread."""
        proc = self._proc
        if proc is None or self._closed:
            return proc.returncode if proc is not None else None
        self._closed = True
        if proc.poll() is None:
            try:
                self._send({"op": "shutdown", "id": next(self._ids), "args": {}}, "shutdown")
            except WorkerError:
                pass
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.terminate()
                try:
                    proc.wait(2.0)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        for t in self._threads:
            t.join(2.0)
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            try:
                if stream is not None:
                    stream.close()
            except OSError:  # pragma: no cover
                pass
        self._finalizer.detach()
        return proc.returncode

    def __enter__(self) -> "WorkerClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return self._proc.poll() if self._proc is not None else None

    def log_text(self, last: int | None = None) -> str:
        """The worker's stderr (its log), last ``last`` lines or all that are kept."""
        with self._log_lock:
            lines = list(self._log)
        return "\n".join(lines[-last:] if last else lines)

    # -- requests --------------------------------------------------------------------------------
    def hello(self, timeout: float | None = None) -> dict[str, Any]:
        """Version handshake; also a cheap liveness check."""
        try:
            result = self._request("hello", {"protocol": P.PROTOCOL_VERSION, "client": "styleface.client"},
                                   timeout=timeout)
        except RequestError as e:
            if e.code == "version":
                raise WorkerVersionError(str(e)) from None
            raise
        if result.get("protocol") != P.PROTOCOL_VERSION:
            raise WorkerVersionError(f"worker speaks protocol {result.get('protocol')!r}, this client "
                                     f"{P.PROTOCOL_VERSION}; install matching StyleFace versions")
        return result

    def load_bundle(self, path: str | os.PathLike | None = None, device: str | None = None,
                    timeout: float | None = None) -> dict[str, Any]:
        """Select the generator (None or 'procedural': the demo face); it stays resident in the worker."""
        args = {"path": os.fspath(path) if path is not None else None, "device": device}
        return self._request("load_bundle", args, timeout=timeout)

    def generate(self, seeds: Iterable[int], options: Mapping[str, Any] | None = None,
                 on_progress: Callable[[int, int], Any] | None = None,
                 on_face: Callable[[int, Any], Any] | None = None, *, collect: bool | None = None,
                 timeout: float | None = None) -> GenerateResult:
        """Generate one face per seed; ``options``: expression, texture_size, batch_size, device.

        Faces stream to ``on_face(index, face)`` as they arrive and are also kept in the result unless
        ``collect`` is False (default: kept only without ``on_face``). A cancelled batch returns the
        faces done so far with status 'cancelled'. If a callback raises, the batch is cancelled and the
        exception re-raised once the worker has answered.
        """
        seed_list = [int(s) if hasattr(s, "__index__") and not isinstance(s, bool) else s for s in seeds]
        args = dict(options or {})
        args["seeds"] = seed_list
        keep = on_face is None if collect is None else collect
        faces: list[Any] = []
        failure: list[BaseException] = []

        def handle(msg: P.Message) -> None:
            if failure:
                return  # draining after a callback error
            try:
                h = msg.header
                if h.get("kind") == "face":
                    face = self._to_face(msg)
                    if keep:
                        faces.append(face)
                    if on_face is not None:
                        on_face(int(h.get("index", len(faces) - 1)), face)
                elif h.get("kind") == "progress" and on_progress is not None:
                    on_progress(int(h.get("done", 0)), int(h.get("total", len(seed_list))))
            except BaseException as e:  # noqa: BLE001 - re-raised after the worker answers
                failure.append(e)
                self.cancel()

        result = self._request("generate", args, timeout=timeout, on_message=handle)
        if failure:
            raise failure[0]
        return GenerateResult(status=str(result.get("status", "ok")), done=int(result.get("done", 0)),
                              total=int(result.get("total", len(seed_list))), faces=faces,
                              device=result.get("device"), seconds=float(result.get("seconds", 0.0)))

    def cancel(self) -> bool:
        """Ask the worker to stop the running request between faces; False if none is running.
        Thread-safe; the running ``generate`` then returns with status 'cancelled'."""
        target = self._current_id
        if target is None or not self.alive:
            return False
        try:
            self._send({"op": "cancel", "id": next(self._ids), "args": {"target": target}}, "cancel")
        except WorkerError:
            return False
        return True

    # -- internals -------------------------------------------------------------------------------
    def _to_face(self, msg: P.Message) -> Any:
        meta = msg.header.get("meta") or {}
        if self._assets is None:
            return msg.arrays, meta
        try:
            return self._assets.from_arrays(msg.arrays, meta)
        except Exception as e:
            raise WorkerError(f"worker sent an invalid face: {e}") from None

    def _request(self, op: str, args: dict[str, Any], timeout: float | None = None,
                 on_message: Callable[[P.Message], None] | None = None) -> dict[str, Any]:
        wait = self.request_timeout if timeout is None else timeout
        with self._request_lock:
            if self._proc is None:
                raise WorkerError("worker not started")
            if self._closed:
                raise WorkerError("worker client is closed")
            rid = next(self._ids)
            self._current_id = rid
            try:
                self._send({"op": op, "id": rid, "args": args}, op)
                while True:
                    msg = self._receive(wait, op)
                    h = msg.header
                    if h.get("id") != rid:
                        self._unsolicited(msg)
                        continue
                    kind = h.get("kind")
                    if kind == "reply":
                        result = h.get("result")
                        return result if isinstance(result, dict) else {}
                    if kind == "error":
                        err = h.get("error") or {}
                        raise RequestError(f"worker: {err.get('message', 'unknown error')}",
                                           str(err.get("code", "error")))
                    if on_message is not None:
                        on_message(msg)
            except (WorkerTimeout, KeyboardInterrupt):
                self.cancel()  # do not leave the worker busy with a request nobody waits for any more
                raise
            finally:
                self._current_id = None

    def _unsolicited(self, msg: P.Message) -> None:
        """Messages for no running request: late replies (e.g. cancel acks) or frame-level errors."""
        h = msg.header
        if h.get("kind") == "error" and h.get("id") is None:
            err = h.get("error") or {}
            self._note(f"[client] worker rejected a frame: {err.get('message')}")

    def _send(self, header: dict[str, Any], what: str) -> None:
        frame = P.encode_frame(header)
        with self._write_lock:
            try:
                P.write_all(self._proc.stdin, frame)  # type: ignore[union-attr, arg-type]
            except (OSError, ValueError):
                raise self._exited(what) from None

    def _send_raw(self, data: bytes) -> None:
        """Write bytes as they are (tests of the worker's frame checks)."""
        with self._write_lock:
            P.write_all(self._proc.stdin, [data])  # type: ignore[union-attr, arg-type]

    def _receive(self, timeout: float | None, what: str) -> P.Message:
        try:
            item = self._inbox.get(timeout=timeout)
        except queue.Empty:
            raise WorkerTimeout(f"StyleFace worker sent nothing for {timeout:g} s during '{what}' "
                                "(still busy or stuck; close() it to kill it)") from None
        if item is _EOF:
            self._inbox.put(_EOF)  # every later call sees the end too
            raise self._exited(what)
        return item

    def _exited(self, what: str) -> WorkerError:
        proc = self._proc
        assert proc is not None
        try:
            rc = proc.wait(5.0)
        except subprocess.TimeoutExpired:  # stdout closed but process alive: unusable, end it
            proc.kill()
            rc = proc.wait()
        for t in self._threads:  # the stdout reader may still hold a fatal reason; stderr the last lines
            if t is not threading.current_thread():
                t.join(2.0)
        tail = self.log_text(last=15)
        if self._killed_by_client:
            how = "was stopped by the client"
        else:
            how = f"was killed by signal {-rc}" if rc < 0 else f"exited with status {rc}"
        reason = f": {self._fatal_reason}" if self._fatal_reason else ""
        msg = f"StyleFace worker {how} during '{what}'{reason}"
        if tail:
            msg += "\n--- worker log (last lines) ---\n" + tail
        if self._version_error:
            return WorkerVersionError(msg)
        return WorkerExited(msg, rc, tail)

    def _note(self, line: str) -> None:
        with self._log_lock:
            self._log.append(line)
        if self.log_path:
            try:
                with open(self.log_path, "a", encoding="utf-8") as f:
                    f.write(line + "\n")
            except OSError:  # pragma: no cover - logging must not break generation
                pass

    def _read_stdout(self) -> None:
        stream = self._proc.stdout  # type: ignore[union-attr]
        try:
            while True:
                msg = P.read_frame(stream, self.max_payload)  # type: ignore[arg-type]
                if msg is None:
                    break
                h = msg.header
                if h.get("kind") == "error" and h.get("id") is None and (h.get("error") or {}).get("fatal"):
                    self._fatal_reason = str(h["error"].get("message"))  # before the end of stream arrives
                self._inbox.put(msg)
        except P.ProtocolError as e:  # the worker's output cannot be trusted any more
            self._fatal_reason = f"bad frame from the worker: {e}"
            self._version_error = isinstance(e, P.VersionMismatch)
            self._note(f"[client] {self._fatal_reason}")
            self._killed_by_client = True
            _kill(self._proc)  # type: ignore[arg-type]
        except (OSError, ValueError):
            pass
        finally:
            self._inbox.put(_EOF)

    def _read_stderr(self) -> None:
        stream = self._proc.stderr  # type: ignore[union-attr]
        pending = b""
        logf = None
        try:
            if self.log_path:
                logf = open(self.log_path, "ab")  # noqa: SIM115
            while True:
                chunk = stream.read(65536)  # type: ignore[union-attr]
                if not chunk:
                    break
                if logf is not None:
                    logf.write(chunk)
                    logf.flush()
                *lines, pending = (pending + chunk).split(b"\n")
                if lines:
                    with self._log_lock:
                        self._log.extend(ln.decode("utf-8", "replace").rstrip("\r") for ln in lines)
        except (OSError, ValueError):
            pass
        finally:
            if pending:
                with self._log_lock:
                    self._log.append(pending.decode("utf-8", "replace"))
            if logf is not None:
                logf.close()


__all__ = ["WorkerClient", "GenerateResult", "WorkerError", "WorkerExited", "WorkerTimeout",
           "WorkerVersionError", "RequestError"]
