"""What ``styleface info`` reports: versions, compute device, face models and bundles found."""
from __future__ import annotations

import platform
import sys


def collect_info() -> dict[str, str]:
    from . import __version__

    out = {"styleface": __version__, "python": sys.version.split()[0], "platform": platform.platform()}
    try:
        import numpy
        out["numpy"] = numpy.__version__
    except ImportError:  # pragma: no cover - numpy is a hard dependency
        out["numpy"] = "missing"
    try:
        import torch
        out["torch"] = torch.__version__
        if torch.cuda.is_available():
            out["device"] = f"cuda ({torch.cuda.get_device_name(0)})"
        elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            out["device"] = "mps"
        else:
            out["device"] = "cpu"
        out["threads"] = str(torch.get_num_threads())
    except ImportError:
        out["torch"] = "missing (pip install torch)"
        out["device"] = "unavailable"
    from .facemodel.store import ICT_FILE

    ict = (f"default/ict (ICT-FaceKit head, MIT, {ICT_FILE.stat().st_size / 1e6:.1f} MB)" if ICT_FILE.is_file()
           else "default/ict MISSING (reinstall StyleFace)")
    out["face models"] = f"{ict}; procedural/demo (built in); BFM via import-official"
    from .bundle import BUNDLE_ENV, default_bundle_path, read_manifest

    path = default_bundle_path()
    if path is None:
        out["bundle"] = f"none installed (procedural faces; set {BUNDLE_ENV} or pass --bundle)"
    else:
        try:
            out["bundle"] = f"{read_manifest(path).id} ({path})"
        except Exception as e:  # report, never crash: info is what users run when things are broken
            out["bundle"] = f"{path}: unreadable ({e})"
    return out
