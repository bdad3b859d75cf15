"""Differentiable hard rasteriser in pure PyTorch (CPU and CUDA) with PyTorch3D's data layout.

- ``rasterize`` -> ``Fragments`` (pix_to_face / zbuf / bary_coords), ``interpolate_face_attributes``;
- cameras: the project pinhole, ``FoVPerspectiveCameras`` / ``PerspectiveCameras`` / look-at;
- ``render_vertex_colors`` / ``render_uv_texture`` for any mesh;
- ``FaceRenderer`` / ``render_face``: StyleFaceUV's vertex mode and a per-pixel UV mode;
- texel visibility masks and the symmetric-view weight map;
- optional ``pytorch3d`` / ``nvdiffrast`` backends behind the same interface.
"""
from __future__ import annotations

from .backends import available_backends, get_backend
from .cameras import (FoVPerspectiveCameras, PerspectiveCameras, PinholeCamera, look_at_rotation,
                      look_at_view_transform, pinhole_as_fov, project_to_screen)
from .face import FaceGeometry, FaceRender, FaceRenderer, render_face
from .fragments import Fragments, Hits
from .interpolate import interpolate_face_attributes, interpolate_vertex_attributes, scatter_image
from .meshes import render_uv_texture, render_vertex_colors
from .raster import MeshRasterizer, rasterize, rasterize_screen
from .settings import RasterizationSettings
from .textures import bilinear_footprint, sample_uv, uv_to_grid
from .visibility import (direct_visibility, gradient_visibility, symmetric_view_weights, symmetric_weight_map,
                         visible_vertices)

__all__ = [
    "FaceGeometry", "FaceRender", "FaceRenderer", "FoVPerspectiveCameras", "Fragments", "Hits",
    "MeshRasterizer", "PerspectiveCameras", "PinholeCamera", "RasterizationSettings", "available_backends",
    "bilinear_footprint", "direct_visibility", "get_backend", "gradient_visibility",
    "interpolate_face_attributes", "interpolate_vertex_attributes", "look_at_rotation",
    "look_at_view_transform", "pinhole_as_fov", "project_to_screen", "rasterize", "rasterize_screen",
    "render_face", "render_uv_texture", "render_vertex_colors", "sample_uv", "scatter_image",
    "symmetric_view_weights", "symmetric_weight_map", "uv_to_grid", "visible_vertices",
]
