"""The managed backend environment: "Install Backend" builds a venv with torch from a pinned set.

Why this shape: an install must never leave a half-made environment (after which the worker only
says "exited with status 1"), must not silently pull a 5 GB CUDA build when the user chose CPU, and
must give every user the versions the project was tested with. So:

- the environment is built in ``<env>.installing`` next to the destination, checked (torch and the
  backend's imports load), and only then renamed into place; a failed or cancelled install removes
  the temporary folder and leaves the previous environment as it was;
- every pip call uses ``backend_constraints.txt`` (shipped with the add-on);
- torch comes from the first reachable index of a list (the chosen one, then fallbacks that give the
  same build: PyPI's Linux torch is the CUDA build, so it is never a fallback for "CPU" on Linux).

Subprocesses only, no bpy: a helper thread runs it; the preferences poll ``finished`` from a timer.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass

from . import backend

HERE = os.path.dirname(os.path.abspath(__file__))
CONSTRAINTS = os.path.join(HERE, "backend_constraints.txt")
PYPI = "https://pypi.org/simple"
TORCH_INDEX = {"CPU": "https://download.pytorch.org/whl/cpu", "CUDA": "https://download.pytorch.org/whl/cu128"}
#: rough disk use of a finished environment (GB); CPU measured from the pinned set on Linux x86-64
SIZE_GB = {"CPU": 1.2, "CUDA": 6.0}
IMPORT_CHECK = "import numpy, scipy, PIL, safetensors, torch; print('torch', torch.__version__)"


@dataclass
class Index:
    label: str
    url: str


def _pypi_torch_build(platform: str) -> str:
    """Which build plain PyPI's torch is on this platform."""
    return "CUDA" if platform.startswith("linux") else "CPU"


def variant_build(variant: str, platform: str = sys.platform) -> str:
    """CPU or CUDA: what a variant installs ('DEFAULT' means PyPI's build for the platform)."""
    return _pypi_torch_build(platform) if variant == "DEFAULT" else variant


def index_candidates(variant: str, choice: str = "PYTORCH", custom_url: str = "", fallback: bool = True,
                     platform: str = sys.platform) -> list[Index]:
    """Indexes to take torch from, in order. ``choice``: PYTORCH (PyTorch's index of the variant),
    PYPI or CUSTOM (``custom_url``, e.g. a company mirror). Fallbacks only add indexes that serve the
    same build as the variant."""
    build = variant_build(variant, platform)
    pytorch = Index(f"PyTorch {build} index", TORCH_INDEX[build]) if variant != "DEFAULT" else None
    pypi = Index("PyPI", PYPI)
    first: list[Index] = []
    if choice == "CUSTOM" and custom_url.strip():
        first.append(Index("custom index", custom_url.strip().rstrip("/")))
    elif choice == "PYPI":
        first.append(pypi)
    elif pytorch is not None:
        first.append(pytorch)
    else:
        first.append(pypi)
    if not fallback:
        return first
    for extra in (pytorch, pypi):
        if extra is None or any(extra.url == i.url for i in first):
            continue
        if extra is pypi and _pypi_torch_build(platform) != build:
            continue  # e.g. CPU on Linux: PyPI would bring the CUDA build
        first.append(extra)
    return first


def reachable(index: Index, timeout: float = 15.0) -> str | None:
    """None if ``index`` answers for torch, else why not (one line)."""
    try:
        with urllib.request.urlopen(index.url + "/torch/", timeout=timeout) as r:
            return None if r.status < 400 else f"HTTP {r.status}"
    except urllib.error.HTTPError as e:
        return f"HTTP {e.code}"
    except (urllib.error.URLError, OSError, ValueError) as e:
        return str(getattr(e, "reason", e))


def size_text(variant: str, platform: str = sys.platform) -> str:
    return f"about {SIZE_GB[variant_build(variant, platform)]:.1f} GB"


def free_gb(path: str) -> float | None:
    probe = path
    while probe and not os.path.isdir(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            return None
        probe = parent
    try:
        return shutil.disk_usage(probe).free / 1e9
    except OSError:
        return None


def install_commands(env_dir: str, torch_index: Index | None, base_python: str | None = None,
                     constraints: str = CONSTRAINTS) -> list[list[str]]:
    """venv, torch (from ``torch_index``), the other backend requirements; all pinned by ``constraints``."""
    py = base_python or sys.executable
    env_py = backend.venv_python(env_dir)
    reqs = backend.backend_requirements()
    torch_reqs = [r for r in reqs if r.split(">")[0].split("=")[0].split("<")[0].strip() == "torch"] or ["torch"]
    rest = [r for r in reqs if r not in torch_reqs]
    pip = [env_py, "-m", "pip", "install", "--disable-pip-version-check", "--no-input", "-c", constraints]
    index = ["--index-url", torch_index.url] if torch_index is not None and torch_index.url != PYPI else []
    return [[py, "-m", "venv", env_dir], pip + index + torch_reqs, pip + rest]


class Installer:
    """One install run into ``env_dir`` (see the module docstring); the log is ``log_path``."""

    def __init__(self, env_dir: str, variant: str = "CPU", base_python: str | None = None,
                 choice: str = "PYTORCH", custom_url: str = "", fallback: bool = True,
                 check_reachable: bool = True):
        self.env_dir = os.path.abspath(env_dir)
        self.work_dir = self.env_dir + ".installing"
        self.variant = variant
        self.base_python = base_python
        self.candidates = index_candidates(variant, choice, custom_url, fallback)
        self.check_reachable = check_reachable
        self.log_path = os.path.join(os.path.dirname(self.env_dir), "styleface_install.log")
        self.returncode: int | None = None
        self.error: str | None = None
        self.index: Index | None = None
        self.commands: list[list[str]] = []
        self._proc: subprocess.Popen | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def finished(self) -> bool:
        return self._thread is not None and not self._thread.is_alive()

    def start(self) -> "Installer":
        os.makedirs(os.path.dirname(self.log_path), exist_ok=True)
        self._thread = threading.Thread(target=self._run_logged, name="styleface-install", daemon=True)
        self._thread.start()
        return self

    def run(self) -> "Installer":
        """Blocking install (scripts, tests)."""
        os.makedirs(os.path.dirname(self.log_path), exist_ok=True)
        self._run_logged()
        return self

    def cancel(self) -> None:
        self._stop.set()
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()

    def log_tail(self, lines: int = 12) -> list[str]:
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return [ln.rstrip() for ln in f.readlines()[-lines:]]
        except OSError:
            return []

    # -- the work ----------------------------------------------------------------------------------
    def _run_logged(self) -> None:
        with open(self.log_path, "w", encoding="utf-8") as log:
            try:
                self._install(log)
                self.returncode = 0
                log.write(f"backend installed in {self.env_dir}\n")
            except _Failed as e:
                self.returncode, self.error = 1, str(e)
                log.write(f"FAILED: {e}\n")
            except Exception as e:  # noqa: BLE001 - reported in the preferences, never lost in a thread
                self.returncode, self.error = 1, f"{type(e).__name__}: {e}"
                log.write(f"FAILED: {self.error}\n")
            finally:
                if self.returncode != 0:
                    shutil.rmtree(self.work_dir, ignore_errors=True)

    def _install(self, log) -> None:
        log.write(f"StyleFace backend install: {self.variant} build into {self.env_dir}\n"
                  f"building in {self.work_dir}; versions pinned by {CONSTRAINTS}\n")
        log.flush()
        self.index = self._pick_index(log)
        shutil.rmtree(self.work_dir, ignore_errors=True)  # a stale run's leftovers
        self.commands = install_commands(self.work_dir, self.index, self.base_python)
        for cmd in self.commands:
            self._call(cmd, log)
        self._call([backend.venv_python(self.work_dir), "-c", IMPORT_CHECK], log)
        self._swap_into_place(log)

    def _pick_index(self, log) -> Index:
        if not self.check_reachable:
            return self.candidates[0]
        why = []
        for index in self.candidates:
            self._check_stop()
            problem = reachable(index)
            if problem is None:
                log.write(f"torch from {index.label}: {index.url}\n")
                return index
            log.write(f"{index.label} ({index.url}) cannot be reached: {problem}\n")
            why.append(f"{index.label} ({problem})")
        raise _Failed("no package index for torch can be reached: " + "; ".join(why) + ". Check the network "
                      "or proxy, or set a custom index (a mirror) in the StyleFace preferences")

    def _check_stop(self) -> None:
        if self._stop.is_set():
            raise _Failed("cancelled; the previous environment is unchanged")

    def _call(self, cmd: list[str], log) -> None:
        self._check_stop()
        log.write("$ " + " ".join(cmd) + "\n")
        log.flush()
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONHOME", "PYTHONPATH")}
        env["PYTHONNOUSERSITE"] = "1"
        try:
            self._proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                          creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0))
            rc = self._proc.wait()
        except OSError as e:
            raise _Failed(f"cannot run {cmd[0]}: {e}") from None
        finally:
            self._proc = None
        self._check_stop()
        if rc != 0:
            log.flush()
            raise _Failed(f"'{' '.join(os.path.basename(c) for c in cmd[:4])} ...' failed with status {rc}"
                          + _last_error(self.log_path) + "; the previous environment is unchanged")

    def _swap_into_place(self, log) -> None:
        old = self.env_dir + ".old"
        shutil.rmtree(old, ignore_errors=True)
        if os.path.exists(self.env_dir):
            os.replace(self.env_dir, old)
        try:
            os.replace(self.work_dir, self.env_dir)
        except OSError:
            if os.path.exists(old):
                os.replace(old, self.env_dir)
            raise
        shutil.rmtree(old, ignore_errors=True)
        # a moved venv keeps working through "python -m" (pyvenv.cfg holds no own path); check once more
        self._call([backend.venv_python(self.env_dir), "-c", "import torch"], log)


class _Failed(Exception):
    """An install step failed; the message is one line for the preferences."""


def _last_error(log_path: str) -> str:
    """': <last ERROR line of pip>' or ''."""
    try:
        with open(log_path, encoding="utf-8", errors="replace") as f:
            lines = [ln.strip() for ln in f.readlines()[-40:] if ln.strip()]
    except OSError:
        return ""
    errs = [ln for ln in lines if ln.startswith("ERROR") or "Error:" in ln]
    return f": {errs[-1]}" if errs else (f": {lines[-1]}" if lines else "")
