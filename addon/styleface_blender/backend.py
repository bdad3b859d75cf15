"""The add-on's side of the backend: find the backend Python, keep one worker, run generate jobs.

Torch never enters Blender's process: the worker is ``python -m styleface.worker`` run with the
backend's own interpreter (a managed environment made by "Install backend", or an existing Python
the user points to) and spoken to through the vendored ``WorkerClient``.

Threads: ``GenerateJob.start()`` runs the blocking ``WorkerClient.generate`` in a helper thread whose
callbacks only put plain data on a queue; ``GenerateJob.poll()`` runs on Blender's main thread (from a
``bpy.app.timers`` callback in the UI, or in a loop in background mode) and is the only place that
builds objects. ``GenerateJob.run()`` does the same work inline for ``bpy.app.background`` and scripts,
where timers never fire.
"""
from __future__ import annotations

import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from . import vendor
from .facedata import FaceData

ENV_PYTHON = "STYLEFACE_BACKEND_PYTHON"
ENV_BUNDLE = "STYLEFACE_BUNDLE"
DEVICES = ("AUTO", "CUDA", "CPU")
#: generate options every worker of protocol 1 accepts; others are sent only if hello lists them.
BASE_OPTIONS = ("expression", "texture_size", "batch_size", "device")
#: lines of the worker's stderr shown with a "worker exited" error
WORKER_TAIL_LINES = 3


class BackendError(RuntimeError):
    """Something the user can fix or must know about: no backend Python, worker died, bad request.

    ``str()`` is for the panel (first line, then the worker's last stderr lines if it exited);
    ``details`` holds the full worker log tail for the console."""

    def __init__(self, message: str, details: str = "", objects: Sequence[Any] = ()):
        super().__init__(message)
        self.details = details
        self.objects = list(objects)


# -- configuration ---------------------------------------------------------------------------------

def venv_python(env_dir: str) -> str:
    sub = ("Scripts", "python.exe") if sys.platform == "win32" else ("bin", "python")
    return os.path.join(env_dir, *sub)


def default_env_dir() -> str:
    """Where "Install backend" puts the managed environment (survives add-on reinstalls)."""
    try:
        import bpy
        try:
            return bpy.utils.extension_path_user(__package__, path="backend_env", create=True)
        except (ValueError, AttributeError, TypeError):  # legacy add-on or plain bpy module
            base = bpy.utils.user_resource("DATAFILES", path="styleface", create=True)
            return os.path.join(base, "backend_env")
    except ImportError:
        return os.path.join(os.path.expanduser("~"), ".styleface", "backend_env")


def preferences() -> Any:
    """The add-on's AddonPreferences, or None when used as a plain module (tests, scripts)."""
    try:
        import bpy
        addon = bpy.context.preferences.addons.get(__package__)
        return addon.preferences if addon is not None else None
    except (ImportError, AttributeError):
        return None


@dataclass
class BackendConfig:
    """Everything that identifies one worker: restart it when any of this changes."""

    python: str
    bundle: str | None = None
    device: str | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    log_path: str | None = None
    request_timeout: float = 300.0

    def key(self) -> tuple:
        return (self.python, self.bundle, self.device, tuple(sorted(self.extra_env.items())))

    def environment(self) -> dict[str, str]:
        """The worker's environment: ours minus Blender's Python settings, plus the backend source."""
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONHOME", "PYTHONSTARTUP")}
        root = vendor.backend_source_root()
        parts = [root] if root else []
        if env.get("PYTHONPATH"):
            parts.append(env["PYTHONPATH"])
        if parts:
            env["PYTHONPATH"] = os.pathsep.join(parts)
        env.setdefault("PYTHONUNBUFFERED", "1")
        env.update(self.extra_env)
        return env


def discover_python(explicit: str | None = None) -> str | None:
    """Backend interpreter: explicit, $STYLEFACE_BACKEND_PYTHON, preferences, <repo>/.venv, managed env."""
    if explicit:
        return explicit
    if os.environ.get(ENV_PYTHON):
        return os.environ[ENV_PYTHON]
    prefs = preferences()
    if prefs is not None:
        if prefs.backend_mode == "EXISTING" and prefs.python_path:
            return bpy_abspath(prefs.python_path)
        if prefs.backend_mode == "MANAGED":
            py = venv_python(prefs.env_dir or default_env_dir())
            if os.path.isfile(py):
                return py
    repo = vendor.repo_root()
    if repo:
        py = venv_python(os.path.join(repo, ".venv"))
        if os.path.isfile(py):
            return py
    py = venv_python(default_env_dir())
    return py if os.path.isfile(py) else None


def bpy_abspath(path: str) -> str:
    try:
        import bpy
        return bpy.path.abspath(path)
    except ImportError:
        return path


def resolve_config(python: str | None = None, bundle: str | None = None, device: str | None = None
                   ) -> BackendConfig:
    """Config from arguments, then environment, then preferences; BackendError if no Python is found."""
    prefs = preferences()
    py = discover_python(python)
    if not py:
        raise BackendError("No StyleFace backend found: use Preferences > Add-ons > StyleFace > Install "
                           f"backend, point it at a Python with torch, or set {ENV_PYTHON}")
    if not (os.path.isfile(py) or shutil.which(py)):
        raise BackendError(f"Backend Python {py!r} does not exist; fix the path in the StyleFace preferences")
    if bundle is None:
        bundle = os.environ.get(ENV_BUNDLE) or (bpy_abspath(prefs.bundle_path)
                                                if prefs is not None and prefs.bundle_path else None)
    if device is None and prefs is not None:
        device = prefs.device
    dev = None if device in (None, "", "AUTO") else str(device).lower()
    # worker settings from the environment (e.g. STYLEFACE_WORKER_GENERATOR) are part of its identity
    extra = {k: v for k, v in os.environ.items() if k.startswith("STYLEFACE_WORKER_")}
    return BackendConfig(python=py, bundle=bundle or None, device=dev, extra_env=extra)


# -- the worker ------------------------------------------------------------------------------------

class Backend:
    """One resident worker per Blender session; restarted when its config changes or it died."""

    def __init__(self) -> None:
        self._client: Any = None
        self._key: tuple | None = None
        self._lock = threading.Lock()
        self.info: dict[str, Any] = {}
        self.bundle_info: dict[str, Any] = {}

    @property
    def running(self) -> bool:
        return self._client is not None and self._client.alive

    @property
    def pid(self) -> int | None:
        return self._client.pid if self._client is not None else None

    def client(self, config: BackendConfig | None = None) -> Any:
        """A started worker with the configured bundle loaded (starting one takes a few seconds)."""
        cfg = config or resolve_config()
        mod = vendor.client_module()
        with self._lock:
            if self._client is not None and (not self._client.alive or self._key != cfg.key()):
                self._close_locked()
            if self._client is None:
                try:
                    client = mod.WorkerClient(python=cfg.python, env=cfg.environment(), start_timeout=120.0,
                                              request_timeout=cfg.request_timeout, log_path=cfg.log_path,
                                              as_assets=False)
                except mod.WorkerError as e:
                    raise BackendError(_first_line(e), str(e)) from None
                try:
                    self.bundle_info = client.load_bundle(cfg.bundle, device=cfg.device, timeout=600.0)
                except mod.WorkerError as e:
                    client.close(timeout=2.0)
                    raise BackendError(_first_line(e), str(e)) from None
                self._client, self._key, self.info = client, cfg.key(), dict(client.info)
            return self._client

    def release(self) -> bool:
        """Stop the worker (frees its GPU memory); True if one was running."""
        with self._lock:
            was = self._client is not None
            self._close_locked()
            return was

    def _close_locked(self) -> None:
        if self._client is not None:
            try:
                self._client.close(timeout=3.0)
            except Exception:  # noqa: BLE001 - closing must never fail
                pass
        self._client, self._key = None, None

    def supported_options(self) -> set[str]:
        advertised = self.info.get("generate_options")
        return set(advertised) if advertised else set(BASE_OPTIONS)


_BACKEND = Backend()


def get_backend() -> Backend:
    return _BACKEND


def _first_line(e: BaseException) -> str:
    """The worker error for the panel: its first line, plus the last lines of the worker's stderr when
    it exited (e.g. "No module named 'torch'"), so the user sees why without opening a console."""
    text = str(e).strip() or type(e).__name__
    first = text.splitlines()[0]
    tail = getattr(e, "log_tail", "") or ""
    if not tail and "--- worker log" in text:
        tail = text.split("--- worker log", 1)[1].split("\n", 1)[-1]
    lines = [ln.strip() for ln in tail.splitlines() if ln.strip() and not ln.startswith("---")]
    if not lines:
        return first
    return first + "\nWorker's last output:\n" + "\n".join(lines[-WORKER_TAIL_LINES:])


def split_options(options: dict[str, Any], supported: set[str]) -> tuple[dict[str, Any], list[str]]:
    """Worker options it understands, and the names of the ones it does not (reported, not sent)."""
    sent = {k: v for k, v in options.items() if v is not None and k in supported}
    ignored = sorted(k for k, v in options.items() if v is not None and k not in supported)
    return sent, ignored


# -- jobs ------------------------------------------------------------------------------------------

class GenerateJob:
    """One generate request and the objects built from it.

    ``on_face(index, seed, FaceData) -> object`` runs on the main thread and must build a whole face
    (or raise). After ``cancel()`` no further face is built, so a cancelled or failed job leaves only
    whole faces: ``objects``. ``status``: pending, running, ok, cancelled, error."""

    def __init__(self, seeds: Sequence[int], options: dict[str, Any],
                 on_face: Callable[[int, int, FaceData], Any], backend: Backend | None = None,
                 config: BackendConfig | None = None, label: str = "Generating"):
        self.seeds = [int(s) for s in seeds]
        self.options = dict(options)
        self.on_face = on_face
        self.backend = backend or _BACKEND
        self.config = config or resolve_config()  # here: preferences may only be read on the main thread
        self.label = label
        self.objects: list[Any] = []
        self.status = "pending"
        self.error: BackendError | None = None
        self.ignored_options: list[str] = []
        self.received = 0
        self.total = len(self.seeds)
        self.started = time.perf_counter()
        self._events: queue.Queue = queue.Queue()
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self._client: Any = None

    # -- state -----------------------------------------------------------------------------------
    @property
    def finished(self) -> bool:
        return self.status in ("ok", "cancelled", "error")

    @property
    def fraction(self) -> float:
        return len(self.objects) / self.total if self.total else 1.0

    @property
    def text(self) -> str:
        if self.status == "pending":
            return "Starting backend..."
        return f"{self.label} {len(self.objects)}/{self.total}"

    def cancel(self) -> None:
        """Stop building at once and ask the worker to stop; thread-safe."""
        self._cancel.set()
        if self._client is not None:
            try:
                self._client.cancel()
            except Exception:  # noqa: BLE001
                pass

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    # -- worker side (no bpy) --------------------------------------------------------------------
    def _generate(self, on_face: Callable[[int, Any], None]) -> None:
        mod = vendor.client_module()
        try:
            client = self.backend.client(self.config)
            self._client = client
            sent, self.ignored_options = split_options(self.options, self.backend.supported_options())
            if self._cancel.is_set():
                self._events.put(("end", "cancelled"))
                return
            self._events.put(("running", None))
            result = client.generate(self.seeds, sent, on_face=on_face,
                                     on_progress=lambda d, t: self._events.put(("progress", d)),
                                     collect=False)
            self._events.put(("end", "cancelled" if result.cancelled or self._cancel.is_set() else "ok"))
        except BackendError as e:
            self._events.put(("error", e))
        except mod.WorkerError as e:
            if isinstance(e, mod.WorkerExited):
                self.backend.release()
            self._events.put(("error", BackendError(_first_line(e), str(e))))
        except _StopBuilding:
            self._events.put(("end", "cancelled"))
        except Exception as e:  # noqa: BLE001 - surfaced on the main thread
            self._events.put(("error", e))

    def _queue_face(self, index: int, face: Any) -> None:
        data = FaceData.from_any(face)
        self._events.put(("face", (index, data)))

    # -- main thread -----------------------------------------------------------------------------
    def _handle(self, kind: str, payload: Any) -> None:
        if kind == "running":
            self.status = "running"
        elif kind == "progress":
            self.received = int(payload)
        elif kind == "face":
            index, data = payload
            if self._cancel.is_set():
                return  # arrived after cancel: dropped, never half-built
            seed = self.seeds[index] if index < len(self.seeds) else data.seed
            obj = self.on_face(index, seed, data)
            self.objects.append(obj)
        elif kind == "end":
            self.status = payload
        elif kind == "error":
            if isinstance(payload, BackendError):
                payload.objects = list(self.objects)
                self.error = payload
            else:
                self.error = BackendError(f"{type(payload).__name__}: {payload}", objects=self.objects)
                self.error.__cause__ = payload
            self.status = "error"

    def start(self) -> "GenerateJob":
        """Run the request in a helper thread; call ``poll()`` from the main thread until finished."""
        self._thread = threading.Thread(target=self._generate, args=(self._queue_face,),
                                        name="styleface-generate", daemon=True)
        self._thread.start()
        return self

    def poll(self, budget_s: float = 0.05) -> bool:
        """Handle queued events for at most ``budget_s`` seconds (UI stays responsive); True when done.

        A face that fails to build cancels the job and becomes its error."""
        deadline = time.perf_counter() + budget_s
        while not self.finished:
            try:
                kind, payload = self._events.get_nowait()
            except queue.Empty:
                break
            try:
                self._handle(kind, payload)
            except Exception as e:  # noqa: BLE001 - building failed: stop the batch, report
                self.cancel()
                self._drain_after_failure(e)
                break
            if time.perf_counter() > deadline:
                break
        return self.finished

    def _drain_after_failure(self, e: BaseException) -> None:
        self.error = BackendError(f"building a face failed: {type(e).__name__}: {e}", objects=self.objects)
        self.error.__cause__ = e
        self.status = "error"

    def run(self, should_cancel: Callable[[], bool] | None = None,
            on_progress: Callable[["GenerateJob"], Any] | None = None) -> list[Any]:
        """Blocking variant for background mode and scripts: builds each face as it arrives on this
        thread. Raises BackendError on failure (``.objects`` lists the whole faces built)."""

        def face_now(index: int, face: Any) -> None:
            if self._cancel.is_set():
                return
            self._handle("face", (index, FaceData.from_any(face)))
            if on_progress is not None:
                on_progress(self)
            if should_cancel is not None and should_cancel():
                self.cancel()
                raise _StopBuilding()

        self._generate(face_now)
        while not self._events.empty():
            kind, payload = self._events.get_nowait()
            if kind != "face":
                self._handle(kind, payload)
        if self.status == "error":
            assert self.error is not None
            raise self.error
        return self.objects

    def wait(self, timeout: float | None = None, sleep: float = 0.01) -> list[Any]:
        """Poll until finished (main thread); for tests and scripts of the threaded path."""
        end = None if timeout is None else time.perf_counter() + timeout
        while not self.poll(budget_s=1.0):
            if end is not None and time.perf_counter() > end:
                raise TimeoutError("StyleFace job did not finish in time")
            time.sleep(sleep)
        if self.status == "error":
            assert self.error is not None
            raise self.error
        return self.objects


class _StopBuilding(Exception):
    """Raised from the blocking face callback to end the batch early (the client cancels the worker)."""


# -- backend checks and the managed environment ----------------------------------------------------

TORCH_PROBE = ("import json, platform, sys\n"
               "out = {'python': platform.python_version()}\n"
               "try:\n"
               "    import torch\n"
               "    out['torch'] = torch.__version__\n"
               "    out['cuda'] = torch.cuda.is_available()\n"
               "    out['gpu'] = torch.cuda.get_device_name(0) if out['cuda'] else None\n"
               "    mps = getattr(torch.backends, 'mps', None)\n"
               "    out['mps'] = bool(mps and mps.is_available())\n"
               "except Exception as e:\n"
               "    out['torch'] = None; out['torch_error'] = str(e)\n"
               "print(json.dumps(out))\n")


def probe_python(python: str, timeout: float = 120.0) -> dict[str, Any]:
    """Versions and devices of a backend Python, without starting the worker (for "Test backend")."""
    import json
    flags = getattr(subprocess, "CREATE_NO_WINDOW", 0)
    try:
        out = subprocess.run([python, "-c", TORCH_PROBE], capture_output=True, text=True, timeout=timeout,
                             creationflags=flags)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise BackendError(f"cannot run {python!r}: {e}") from None
    if out.returncode != 0:
        raise BackendError(f"{python!r} failed: {(out.stderr or out.stdout).strip().splitlines()[-1:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_backend(config: BackendConfig | None = None) -> dict[str, Any]:
    """Start (or reuse) the worker and report what it runs on: a one-stop health check."""
    cfg = config or resolve_config()
    report = probe_python(cfg.python)
    client = _BACKEND.client(cfg)
    report.update({"styleface": client.info.get("styleface"), "protocol": client.info.get("protocol"),
                   "bundle": _BACKEND.bundle_info.get("bundle"), "device": _BACKEND.bundle_info.get("device"),
                   "generator": _BACKEND.bundle_info.get("generator")})
    return report


def backend_requirements() -> list[str]:
    """The backend's pip requirements, read from the bundled (or repository) pyproject.toml."""
    import tomllib
    candidates = []
    root = vendor.backend_source_root()
    if root:
        candidates.append(os.path.join(root, "pyproject.toml"))
    repo = vendor.repo_root()
    if repo:
        candidates.append(os.path.join(repo, "pyproject.toml"))
    for path in candidates:
        if os.path.isfile(path):
            with open(path, "rb") as f:
                return list(tomllib.load(f)["project"]["dependencies"])
    return ["numpy>=1.23", "scipy>=1.10", "pillow>=9.0", "torch>=2.1", "safetensors>=0.4", "tqdm>=4.60"]
