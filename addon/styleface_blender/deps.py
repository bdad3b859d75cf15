"""What the add-on needs inside Blender's own Python, and how to get it when it is missing.

Why: Blender from blender.org ships numpy, but a Linux distribution's Blender (Debian's 4.3 package,
for one) runs on the system Python and does not pull numpy in. Then the add-on must still register
and say, in the panel and the preferences, what is missing and exactly how to fix it.
"""
from __future__ import annotations

import importlib.util
import sys

REQUIRED = ("numpy",)


def missing() -> list[str]:
    """Modules of ``REQUIRED`` that Blender's Python cannot import."""
    out = []
    for name in REQUIRED:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            out.append(name)
    return out


def advice(names: list[str]) -> str:
    """One paragraph: what is missing, and the commands that install it for this Blender's Python."""
    mods = ", ".join(names)
    py = sys.executable or "python3"
    ver = f"{sys.version_info.major}.{sys.version_info.minor}"
    system = py.startswith(("/usr/bin/", "/bin/")) and sys.platform.startswith("linux")
    steps = []
    if system:  # the distribution's Blender on the system Python: the distribution's package (its pip
        # refuses to install into a system Python, PEP 668)
        steps.append(f"sudo apt install {' '.join('python3-' + n for n in names)} (Debian/Ubuntu; "
                     f"Fedora: sudo dnf install {' '.join('python3-' + n for n in names)})")
    else:
        steps.append(f'"{py}" -m pip install --user {" ".join(names)}')
    steps.append("or use Blender from blender.org, which includes it")
    return (f"StyleFace needs the Python module {mods}, which this Blender's Python {ver} ({py}) does not "
            f"have. Install it: " + "; or ".join(steps[:-1]) + f"; {steps[-1]}. Then restart Blender.")
