"""The operator result type, as Blender's API defines it (so operators type-check against
fake-bpy-module without casts)."""
from __future__ import annotations

from typing import Literal

OpResult = Literal["RUNNING_MODAL", "CANCELLED", "FINISHED", "PASS_THROUGH", "INTERFACE"]
