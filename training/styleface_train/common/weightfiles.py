"""Finding pretrained weight files users bring (VGG16 / LPIPS heads, Inception for FID).

The project never downloads at run time. A weight file is found by an explicit path, then an
environment variable, then the usual ``$TORCH_HOME/hub/checkpoints`` cache name; otherwise one clear
error names the file, the variable and where to get it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from styleface.errors import StyleFaceError


@dataclass(frozen=True)
class WeightSpec:
    """What a weight file is called, where it is looked for and where a user gets it."""

    what: str                       # e.g. "VGG16 (ImageNet) for the LPIPS perceptual loss"
    env_var: str                    # e.g. "STYLEFACE_VGG16"
    cache_names: tuple[str, ...]    # file names under $TORCH_HOME/hub/checkpoints
    url: str                        # where a user downloads it (printed, never fetched)


def torch_home() -> Path:
    """``$TORCH_HOME``, else ``$XDG_CACHE_HOME/torch``, else ``~/.cache/torch`` (torch.hub's rule)."""
    if os.environ.get("TORCH_HOME"):
        return Path(os.environ["TORCH_HOME"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "torch"


def resolve_weights(spec: WeightSpec, explicit: str | os.PathLike[str] | None = None) -> Path:
    """The weight file's path by the rule explicit path > environment variable > torch cache."""
    if explicit is not None:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise StyleFaceError(f"{spec.what}: weight file {path} does not exist")
        return path
    env = os.environ.get(spec.env_var)
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise StyleFaceError(f"{spec.what}: ${spec.env_var} points to {path}, which does not exist")
        return path
    cache = torch_home() / "hub" / "checkpoints"
    for name in spec.cache_names:
        if (cache / name).is_file():
            return cache / name
    names = " or ".join(spec.cache_names)
    raise StyleFaceError(f"{spec.what}: no weights found; pass the file's path, set ${spec.env_var}, or put "
                         f"{names} in {cache} (download it from {spec.url}; StyleFace never downloads)")
