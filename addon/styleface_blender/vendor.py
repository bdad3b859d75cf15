"""Find the backend source and load its torch-free client modules as a sub-package of the add-on.

Why: the add-on vendors ``styleface.client`` / ``styleface.protocol`` (standard library + numpy) rather
than installing ``styleface`` into Blender's Python. Loading the package as ``<add-on package>.vendored``
(``bl_ext.<repo>.styleface.vendored`` when installed as an extension) keeps Blender's
``sys.modules['styleface']`` free (a user may have another copy installed), keeps every module inside
the extension's own namespace (Blender reports a "policy violation" for top-level modules an extension
adds) and lets the client's relative imports work unchanged. The same source directory goes on the
worker's PYTHONPATH, so the client and the worker always speak the same protocol version.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from types import ModuleType

_HERE = os.path.dirname(os.path.abspath(__file__))
_PRIVATE = f"{__package__ or 'styleface_blender'}.vendored"


def backend_source_root() -> str | None:
    """Directory that contains the ``styleface`` package: bundled copy first, then a repo checkout."""
    candidates = [
        os.path.join(_HERE, "backend_src"),                                  # built extension zip
        os.path.normpath(os.path.join(_HERE, os.pardir, os.pardir, "backend")),  # repository checkout
    ]
    for root in candidates:
        if os.path.isfile(os.path.join(root, "styleface", "client.py")):
            return root
    return None


def repo_root() -> str | None:
    """The repository root when the add-on runs from a checkout (for ``.venv`` discovery)."""
    root = os.path.normpath(os.path.join(_HERE, os.pardir, os.pardir))
    return root if os.path.isfile(os.path.join(root, "backend", "styleface", "client.py")) else None


def _load_package() -> ModuleType:
    pkg = sys.modules.get(_PRIVATE)
    if pkg is not None:
        return pkg
    root = backend_source_root()
    if root is None:
        raise ImportError("StyleFace backend source not found next to the add-on "
                          "(expected backend_src/styleface in the extension); reinstall the extension")
    init = os.path.join(root, "styleface", "__init__.py")
    spec = importlib.util.spec_from_file_location(
        _PRIVATE, init, submodule_search_locations=[os.path.join(root, "styleface")])
    assert spec is not None and spec.loader is not None
    pkg = importlib.util.module_from_spec(spec)
    sys.modules[_PRIVATE] = pkg
    try:
        spec.loader.exec_module(pkg)
    except BaseException:
        del sys.modules[_PRIVATE]
        raise
    return pkg


def backend_module(name: str) -> ModuleType:
    """A torch-free module of the vendored backend, e.g. ``client`` or ``seeds``."""
    _load_package()
    return importlib.import_module(f"{_PRIVATE}.{name}")


def client_module() -> ModuleType:
    """The vendored ``styleface.client`` (WorkerClient, WorkerError, ...)."""
    return backend_module("client")


def unload() -> None:
    """Forget the private modules (used on unregister, so a reinstalled add-on loads fresh code)."""
    for name in [n for n in sys.modules if n == _PRIVATE or n.startswith(_PRIVATE + ".")]:
        del sys.modules[name]
