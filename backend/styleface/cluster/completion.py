"""The one rule that makes runs resumable: a face is complete when its JSON sidecar exists.

Every writer puts the sidecar LAST (after the meshes and maps it lists), and every file is written
atomically, so a run killed at any moment leaves each face either complete (sidecar present) or
incomplete (regenerated on the next run, overwriting any stray files under the same names).
"""
from __future__ import annotations

from typing import Container


def face_stem(seed: int) -> str:
    """File stem of one face's outputs, as ``styleface generate`` names them."""
    return f"face_{int(seed):06d}"


def sidecar_name(seed: int) -> str:
    return f"{face_stem(seed)}.json"


def is_face_complete(existing_names: Container[str], seed: int) -> bool:
    """True when ``seed``'s sidecar is among ``existing_names`` (file names in the output folder)."""
    return sidecar_name(seed) in existing_names
