"""Fixed materials for a face model's parts, shared by the exporters (MTL, glTF, USD) and Blender.

Every part samples the face's diffuse atlas (so a face's iris, teeth and gum colours come from its map,
painted or generated), except the eyelashes, which are a flat dark colour. What differs per part is the
surface: glossy wet eyes, semi-glossy teeth and gums, matte skin.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PartMaterial:
    """base_color multiplies the diffuse map (or is the colour when ``textured`` is false)."""

    name: str
    textured: bool = True
    base_color: tuple[float, float, float] = (1.0, 1.0, 1.0)
    roughness: float = 0.55
    specular: float = 0.5


PART_MATERIALS: dict[str, PartMaterial] = {
    "skin": PartMaterial("styleface_skin", roughness=0.55, specular=0.5),
    "sclera": PartMaterial("styleface_sclera", roughness=0.08, specular=0.6),
    "iris": PartMaterial("styleface_iris", roughness=0.05, specular=0.6),
    "teeth": PartMaterial("styleface_teeth", roughness=0.25, specular=0.5),
    "gums": PartMaterial("styleface_gums", roughness=0.3, specular=0.5),
    "eyelashes": PartMaterial("styleface_eyelashes", textured=False, base_color=(0.02, 0.015, 0.012),
                              roughness=0.6, specular=0.3),
}


def part_material(part: str) -> PartMaterial:
    """The material of part ``part`` (an unknown part gets a textured skin-like material of its name)."""
    return PART_MATERIALS.get(part, PartMaterial(f"styleface_{part}"))
