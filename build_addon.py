"""Build the Blender extension zip: the add-on plus the bundled backend source.

    python build_addon.py                 # -> dist/styleface-<version>.zip
    python build_addon.py --out my.zip

Layout of the zip (what ``blender --command extension build`` produces: manifest at the root)::

    blender_manifest.toml, __init__.py, build.py, ...     the add-on (bpy + numpy only)
    backend_src/styleface/...                              the backend package (worker, client, models)
    backend_src/pyproject.toml                             its dependencies, for "Install backend"

The add-on vendors ``backend_src/styleface/client.py`` under a private module name and runs the worker
from the same source, so client and worker always match. The manifest's required fields are checked
first (the extension platform rejects a zip that lacks them); errors print one line and exit 1.
"""
from __future__ import annotations

import argparse
import fnmatch
import os
import re
import sys
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
ADDON_DIR = ROOT / "addon" / "styleface_blender"
BACKEND_DIR = ROOT / "backend" / "styleface"
EXCLUDE = ("__pycache__", "*.pyc", "*.pyo", ".*", "*.zip", "backend_src")

REQUIRED = ("schema_version", "id", "version", "name", "tagline", "maintainer", "type",
            "blender_version_min", "license")
PERMISSIONS = ("files", "network", "clipboard", "camera", "microphone")
PLATFORMS = ("windows-x64", "windows-arm64", "macos-x64", "macos-arm64", "linux-x64")


class ManifestError(ValueError):
    """The manifest would be rejected by Blender or the extensions platform."""


def _parse_toml(text: str) -> dict[str, Any]:
    try:
        import tomllib
        return tomllib.loads(text)
    except ModuleNotFoundError:  # Python 3.10: the manifest uses only flat tables, strings and lists
        import ast
        out: dict[str, Any] = {}
        table = out
        for raw in text.splitlines():
            line = raw.split(" #")[0].strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("["):
                table = out
                for part in line.strip("[]").split("."):
                    table = table.setdefault(part.strip(), {})
                continue
            key, _, value = line.partition("=")
            table[key.strip()] = ast.literal_eval(value.strip())
        return out


def _version_tuple(text: str) -> tuple[int, ...]:
    if not re.fullmatch(r"\d+\.\d+\.\d+", text):
        raise ManifestError(f"version {text!r} must look like 4.2.0")
    return tuple(int(p) for p in text.split("."))


def validate_manifest(manifest: dict[str, Any]) -> None:
    """Raise ManifestError naming the first problem (required fields, formats, limits)."""
    missing = [k for k in REQUIRED if k not in manifest]
    if missing:
        raise ManifestError(f"blender_manifest.toml lacks required field(s): {', '.join(missing)}")
    for k, v in manifest.items():
        if v in ("", [], {}):
            raise ManifestError(f"manifest field '{k}' is empty; omit optional fields instead")
    if manifest["schema_version"] != "1.0.0":
        raise ManifestError(f"schema_version must be \"1.0.0\", got {manifest['schema_version']!r}")
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", str(manifest["id"])):
        raise ManifestError(f"id {manifest['id']!r} must be a Python identifier")
    if not re.fullmatch(r"\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?", str(manifest["version"])):
        raise ManifestError(f"version {manifest['version']!r} is not semantic (1.2.3)")
    tagline = str(manifest["tagline"])
    if len(tagline) > 64 or tagline[-1:] in ".!?,;:":
        raise ManifestError("tagline must be at most 64 characters without end punctuation")
    if manifest["type"] not in ("add-on", "theme"):
        raise ManifestError(f"type must be 'add-on' or 'theme', got {manifest['type']!r}")
    if _version_tuple(str(manifest["blender_version_min"])) < (4, 2, 0):
        raise ManifestError("blender_version_min must be 4.2.0 or later (extensions start at 4.2)")
    if "blender_version_max" in manifest:
        _version_tuple(str(manifest["blender_version_max"]))
    lic = manifest["license"]
    if not isinstance(lic, list) or not all(isinstance(x, str) and x.startswith("SPDX:") for x in lic):
        raise ManifestError("license must be a list of 'SPDX:<id>' strings")
    perms = manifest.get("permissions", {})
    if not isinstance(perms, dict):
        raise ManifestError("permissions must be a table of name = \"reason\"")
    for k, reason in perms.items():
        if k not in PERMISSIONS:
            raise ManifestError(f"unknown permission '{k}'; use {', '.join(PERMISSIONS)}")
        if not isinstance(reason, str) or not reason or len(reason) > 64 or reason[-1] in ".!?,;:":
            raise ManifestError(f"permission '{k}' needs a reason of at most 64 characters without end "
                                "punctuation")
    for p in manifest.get("platforms", []):
        if p not in PLATFORMS:
            raise ManifestError(f"unknown platform '{p}'; use {', '.join(PLATFORMS)}")


def read_manifest(addon_dir: Path = ADDON_DIR) -> dict[str, Any]:
    path = addon_dir / "blender_manifest.toml"
    if not path.is_file():
        raise ManifestError(f"{path} not found")
    manifest = _parse_toml(path.read_text(encoding="utf-8"))
    validate_manifest(manifest)
    return manifest


def _excluded(rel: Path) -> bool:
    return any(fnmatch.fnmatch(part, pat) for part in rel.parts for pat in EXCLUDE)


def _files(base: Path) -> list[Path]:
    return sorted(p for p in base.rglob("*") if p.is_file() and not _excluded(p.relative_to(base)))


def backend_pyproject() -> str:
    """A pip-installable pyproject for backend_src/ with the project's runtime dependencies."""
    project = _parse_toml((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    deps = ",\n".join(f'    "{d}"' for d in project["dependencies"])
    return (f'[build-system]\nrequires = ["setuptools>=68"]\nbuild-backend = "setuptools.build_meta"\n\n'
            f'[project]\nname = "styleface"\nversion = "{project["version"]}"\n'
            f'requires-python = "{project.get("requires-python", ">=3.10")}"\n'
            f'dependencies = [\n{deps},\n]\n\n'
            f'[tool.setuptools.packages.find]\nwhere = ["."]\ninclude = ["styleface*"]\n\n'
            f'[tool.setuptools.package-data]\nstyleface = ["data/**/*"]\n')


def build_zip(out: Path | None = None) -> Path:
    """Write the extension zip and return its path."""
    manifest = read_manifest()
    if not (BACKEND_DIR / "client.py").is_file() or not (BACKEND_DIR / "worker.py").is_file():
        raise ManifestError(f"backend source incomplete: {BACKEND_DIR} needs client.py and worker.py")
    out = out or ROOT / "dist" / f"{manifest['id']}-{manifest['version']}.zip"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".partial")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for f in _files(ADDON_DIR):
            z.write(f, f.relative_to(ADDON_DIR).as_posix())
        for f in _files(BACKEND_DIR):
            z.write(f, "backend_src/styleface/" + f.relative_to(BACKEND_DIR).as_posix())
        z.writestr("backend_src/pyproject.toml", backend_pyproject())
        license_file = next((ROOT / n for n in ("LICENSE", "LICENSE.txt", "COPYING") if (ROOT / n).is_file()), None)
        if license_file is not None:
            z.write(license_file, "LICENSE")
    os.replace(tmp, out)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=None, help="zip path (default dist/<id>-<version>.zip)")
    p.add_argument("--check", action="store_true", help="only validate the manifest")
    args = p.parse_args(argv)
    try:
        if args.check:
            m = read_manifest()
            print(f"manifest ok: {m['id']} {m['version']}")
            return 0
        path = build_zip(args.out)
    except (ManifestError, OSError) as e:
        print(f"build_addon.py: error: {e}", file=sys.stderr)
        return 1
    with zipfile.ZipFile(path) as z:
        n = len(z.namelist())
    print(f"wrote {path} ({n} files, {path.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
