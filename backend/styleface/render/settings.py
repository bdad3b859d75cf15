"""Rasterisation settings with PyTorch3D's field names, so ported StyleFaceUV code reads the same."""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import StyleFaceError


@dataclass(frozen=True)
class RasterizationSettings:
    """Options of the hard rasteriser.

    ``image_size`` None takes the camera's size (the pinhole camera is defined in pixels). Only
    ``blur_radius=0`` (hard rasterisation, as StyleFaceUV uses) is supported. ``bin_size`` and
    ``max_faces_per_bin`` are accepted for PyTorch3D compatibility and passed on to that backend only.
    ``max_candidates`` bounds the (face, pixel) pairs tested at once, so huge on-screen triangles are
    processed in chunks instead of exhausting memory. ``cull_backfaces`` removes faces that are
    clockwise as seen by the camera (face models are counter-clockwise seen from outside).
    """

    image_size: int | tuple[int, int] | None = None
    blur_radius: float = 0.0
    faces_per_pixel: int = 1
    bin_size: int | None = None
    max_faces_per_bin: int | None = None
    perspective_correct: bool | None = None
    clip_barycentric_coords: bool | None = None
    cull_backfaces: bool = False
    z_clip_value: float | None = None
    cull_to_frustum: bool = False
    max_candidates: int = 1 << 22

    def __post_init__(self) -> None:
        if self.blur_radius != 0.0:
            raise StyleFaceError("rasterizer: only blur_radius=0 (hard rasterisation) is supported")
        if self.faces_per_pixel < 1:
            raise StyleFaceError("rasterizer: faces_per_pixel must be >= 1")
        if self.max_candidates < 1:
            raise StyleFaceError("rasterizer: max_candidates must be >= 1")

    def resolved_size(self, camera_size: tuple[int, int] | None) -> tuple[int, int]:
        """(H, W) from the settings, else from the camera, else 256."""
        size = self.image_size if self.image_size is not None else camera_size
        if size is None:
            size = 256
        if isinstance(size, int):
            return (size, size)
        h, w = (int(s) for s in size)
        return (h, w)
