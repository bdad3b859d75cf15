"""Schemas for what a bundle contains: ``bundle.json`` and the network configs, plus the rule that every
path a bundle names stays inside the bundle.

Why: a bundle is a closed world. A bad file must fail at load time with one line naming the file and
the field (not a traceback from a constructor), sizes must be bounded before anything is built (a
config with ``n_mlp = 2**31`` would hang the loader), and a network stem like ``../../x`` or a symlink
must not load anything from outside the bundle folder. Unknown extra keys in ``bundle.json`` are kept
(newer writers may add fields); known fields are checked for type, range and finiteness.
"""
from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from typing import Any

from . import jsonfile as J
from .errors import StyleFaceError

MAX_MANIFEST_BYTES = 4 << 20  # bundle.json: provenance can be long, 4 MiB is plenty
MAX_MANIFEST_DEPTH = 16
MAX_CONFIG_BYTES = 256 << 10  # a network config is a few hundred bytes
MAX_CONFIG_DEPTH = 6
MAX_STYLE_DIM = 4096
MAX_N_LATENT = 64
MAX_RESOLUTION = 4096
MAX_MLP_LAYERS = 32
MAX_HIDDEN = 16384
MAX_CHANNELS = 4096
UV_PADDING_MODES = ("zeros", "border")

_style_dim = J.integer(1, MAX_STYLE_DIM)
_n_latent = J.integer(1, MAX_N_LATENT)
_resolution = J.integer(4, MAX_RESOLUTION, power_of_two=True)
_hidden = J.optional(J.list_of(J.integer(1, MAX_HIDDEN), 0, 16))
_blur = J.list_of(J.number(-1e3, 1e3), 1, 16)
_channels_override = J.optional(J.mapping({}, extra_value=J.integer(1, MAX_CHANNELS), max_keys=16))

_DISPLACEMENT = J.mapping({"mode": J.string(64), "scale": J.number(0.0, 1e3, exclusive_lo=True),
                           "mid_level": J.number(-1e3, 1e3)})
_STEM = J.string(255)
MANIFEST_SCHEMA = J.mapping({
    "format": J.string(64), "version": J.integer(0, 2**31),
    "id": J.string(200), "name": J.string(1000), "description": J.string(100_000), "licence": J.string(100_000),
    "face_model": J.mapping({"builtin": J.string(64), "embedded": _STEM}, extra_value=J.string(1000), max_keys=16),
    "n_latent": _n_latent, "style_dim": _style_dim, "uv_resolution": _resolution,
    "image_resolution": J.optional(_resolution), "displacement": _DISPLACEMENT,
    "truncation": J.number(-10.0, 10.0),
    "networks": J.mapping({r: J.optional(_STEM) for r in ("mapping", "generator2d", "f3d", "yaw", "uvgen")},
                          extra=False),
    "provenance": J.mapping({}, max_keys=1024),
    "uv_padding": J.optional(J.string(16, UV_PADDING_MODES)),
}, required=("format", "version", "id", "face_model", "n_latent", "style_dim", "uv_resolution", "networks"))

_GENERATOR = {"size": _resolution, "style_dim": _style_dim, "n_mlp": J.integer(1, MAX_MLP_LAYERS),
              "channel_multiplier": J.integer(1, 32), "blur_kernel": _blur, "lr_mlp": J.number(0.0, 100.0),
              "channel_base": J.optional(J.integer(1, 1 << 24)), "channel_max": J.integer(1, MAX_CHANNELS),
              "channels": _channels_override}
_LAYOUT = J.optional(J.mapping({}, extra_value=J.integer(0, 100_000), max_keys=16))
NETWORK_SCHEMAS: dict[str, dict[str, J.Check]] = {
    "Generator": _GENERATOR,
    "UVGenerator": _GENERATOR,
    "Discriminator": {k: v for k, v in _GENERATOR.items() if k not in ("style_dim", "n_mlp", "lr_mlp")}
                     | {"stddev_group": J.integer(1, 64)},
    "F3D": {"n_latent": _n_latent, "style_dim": _style_dim, "layout": _LAYOUT, "hidden": _hidden},
    "Fyaw": {"n_latent": _n_latent, "style_dim": _style_dim, "hidden": _hidden},
    "YawSymmetry": {"n_latent": _n_latent, "style_dim": _style_dim, "hidden": _hidden},
    "MappingNetwork": {"style_dim": _style_dim, "n_layers": J.integer(1, MAX_MLP_LAYERS),
                       "n_latent": _n_latent, "gain": J.number(0.0, 100.0, exclusive_lo=True)},
}


def read_manifest_json(path: Path) -> dict[str, Any]:
    """bundle.json, size/depth-bounded and schema-checked (unknown extra keys kept)."""
    data = J.read_json_file(path, MAX_MANIFEST_BYTES, MAX_MANIFEST_DEPTH, "bundle manifest")
    if isinstance(data, dict) and isinstance(data.get("version"), int) and data["version"] != 1:
        return data  # let the caller report the unsupported version (newer format)
    return J.validate(data, MANIFEST_SCHEMA, str(path))


def check_network_kwargs(cls_name: str, kwargs: Any, where: str) -> dict[str, Any]:
    """The constructor kwargs of a saved network, checked for types and ranges (no unknown keys)."""
    schema = NETWORK_SCHEMAS.get(cls_name)
    if schema is None:  # a class registered by a plugin: it validates its own kwargs
        return kwargs
    return J.validate(kwargs, J.mapping(schema,
                                        extra=False), f"{where}: kwargs")


_DRIVE = re.compile(r"^[A-Za-z]:")


def inside(root: Path, relative: str, where: str, what: str) -> Path:
    """``root / relative`` after resolving symlinks, refused unless it stays inside ``root``."""
    if (not relative or "\\" in relative or "\0" in relative or _DRIVE.match(relative)
            or PurePosixPath(relative).is_absolute() or ".." in PurePosixPath(relative).parts):
        raise StyleFaceError(f"{where}: {what} '{relative[:80]}' must be a relative path inside the bundle")
    base = root.resolve()
    target = (base / relative).resolve()
    if target != base and base not in target.parents:
        raise StyleFaceError(f"{where}: {what} '{relative[:80]}' resolves outside the bundle ({target})")
    return target


def check_weights_memory(root: Path, networks: dict[str, str]) -> int:
    """Every network's files lie inside the bundle, and their weights fit the memory budget (checked
    from file sizes before any tensor is read); returns the total weight bytes."""
    from .limits import memory_budget_bytes

    where = str(root / "bundle.json")
    total = 0
    for role, stem in networks.items():
        for suffix in (".json", ".safetensors"):  # both files of the stem, after symlinks
            path = inside(root, stem + suffix, where, f"networks.{role}")
            if suffix == ".safetensors" and path.is_file():
                total += path.stat().st_size
    budget = memory_budget_bytes()
    if total > budget:
        raise StyleFaceError(f"{root}: the networks' weights take {total >> 20} MiB, over the "
                             f"{budget >> 20} MiB memory budget (raise STYLEFACE_MAX_MEMORY_MB)")
    return total
