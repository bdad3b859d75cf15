"""Stand placed faces on the ground: crowd positions are floor points, a face's origin is mid-head.

Why: a crowd member placed by its origin reaches about 0.19 m below the ground plane. Shifting each
face up by the depth of its lowest vertex under the origin (base mesh, with its rotation and scale)
puts the bottom of its bounding box on the placement point.
"""
from __future__ import annotations

import bpy
import numpy as np


def lowest_z_offset(obj: "bpy.types.Object") -> float:
    """World-Z of the object's lowest vertex relative to its origin (no parent; negative below)."""
    mesh = obj.data
    n = len(mesh.vertices)
    if n == 0:
        return 0.0
    co = np.empty(n * 3, np.float32)
    mesh.vertices.foreach_get("co", co)
    basis = np.array(obj.matrix_basis, dtype=np.float64)  # computed from location/rotation/scale at once
    z = co.reshape(-1, 3).astype(np.float64) @ basis[2, :3]
    return float(z.min())


def stand_on_ground(obj: "bpy.types.Object", ground_z: float) -> None:
    """Move ``obj`` vertically so that its lowest point lies at ``ground_z``."""
    obj.location.z = float(ground_z) - lowest_z_offset(obj)
