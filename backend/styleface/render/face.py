"""Rendering a face model the way StyleFaceUV does (vertex mode) or per pixel (UV mode).

``FaceRenderer`` holds what does not change between calls (face model tensors, camera, settings,
backend); ``render`` takes coefficients and the two UV maps the UV generator produces:

- geometry: shape = mean + id + exp; the generalised displacement map (3-channel model-space XYZ,
  [-1, 1]) is sampled at vertex UVs, times ``displacement_scale`` (0.01), added *before* rotation;
  normals are recomputed from the displaced shape; then v @ R + t;
- vertex mode: diffuse sampled at vertex UVs, SH-shaded per vertex, colours interpolated;
- UV mode: per-pixel UVs into the diffuse map, SH from interpolated normals.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import StyleFaceError
from ..facemodel.coeffs import CoeffLayout, Coeffs
from ..facemodel.model import FaceModel, FaceModelTensors
from ..geometry import euler_rotation, face_albedo, face_shape, rigid_transform
from .cameras import Camera, PinholeCamera
from .fragments import Fragments, Hits
from .interpolate import interpolate_channels_first, interpolate_rows, scatter_image
from .meshes import batch_counts, sample_uv_points
from .normals import VertexNormals
from .raster import rasterize
from .settings import RasterizationSettings
from .shading import shade_normals, shade_vertices
from .textures import UVSampler

MODES = ("vertex", "uv")
DISPLACEMENT_MODES = ("xyz", "normal")


@dataclass
class FaceGeometry:
    """shape (B, N, 3) displaced model-space vertices; vertices (B, N, 3) posed in the camera frame;
    normals (B, N, 3) posed unit normals; rotation (B, 3, 3) (row vectors: v @ R)."""

    shape: torch.Tensor
    vertices: torch.Tensor
    normals: torch.Tensor
    rotation: torch.Tensor


@dataclass
class FaceRender:
    """image (B, C, H, W) over the background; mask (B, 1, H, W) float; the fragments and geometry used;
    vertex_colors (B, N, C) in vertex mode."""

    image: torch.Tensor
    mask: torch.Tensor
    fragments: Fragments
    geometry: FaceGeometry
    vertex_colors: torch.Tensor | None = None


def _layout_of(m: FaceModelTensors) -> CoeffLayout:
    n_tex = 0 if m.albedo_basis is None else m.albedo_basis.shape[2]
    return CoeffLayout(n_id=m.id_basis.shape[2], n_exp=m.exp_basis.shape[2], n_tex=n_tex)


def _rows(per_vertex: torch.Tensor, batch: int) -> torch.Tensor:
    """(1 or B, N, C) per-vertex values -> (C, B * N) channels-first rows, as interpolate_rows takes."""
    n, c = per_vertex.shape[1:]
    return per_vertex.expand(batch, -1, -1).permute(2, 0, 1).reshape(c, batch * n)


def _check_map(name: str, t: torch.Tensor | None, batch: int, channels: tuple[int, ...]) -> None:
    if t is None:
        return
    if t.dim() != 4 or t.shape[1] not in channels or t.shape[0] not in (1, batch):
        raise StyleFaceError(f"{name} map must be (B, C, H, W) with B in (1, {batch}) and C in {channels}, "
                             f"got {tuple(t.shape)}")


class FaceRenderer:
    """Differentiable renderer of a face model with StyleFaceUV's UV maps.

    ``model`` is a FaceModel (tensors are created per device on demand) or FaceModelTensors;
    ``camera`` defaults to the project pinhole at 256 px; ``mode`` is "vertex" (StyleFaceUV) or "uv";
    ``padding_mode`` is grid_sample's ("border" default, "zeros" as in the official code).
    """

    def __init__(self, model: FaceModel | FaceModelTensors, camera: Camera | None = None,
                 settings: RasterizationSettings | None = None, *, mode: str = "vertex",
                 backend: str = "torch", background: float | torch.Tensor = 0.0,
                 displacement_scale: float = 0.01, displacement_mode: str = "xyz",
                 displacement_midlevel: float = 0.0, padding_mode: str = "border") -> None:
        if mode not in MODES:
            raise StyleFaceError(f"render mode must be one of {MODES}, got '{mode}'")
        if displacement_mode not in DISPLACEMENT_MODES:
            raise StyleFaceError(f"displacement mode must be one of {DISPLACEMENT_MODES}, got '{displacement_mode}'")
        self.model = model
        self.camera = camera if camera is not None else PinholeCamera()
        self.settings = settings or RasterizationSettings()
        self.mode = mode
        self.backend = backend
        self.background = background
        self.displacement_scale = displacement_scale
        self.displacement_mode = displacement_mode
        self.displacement_midlevel = displacement_midlevel
        self.padding_mode = padding_mode

    # -- model access --------------------------------------------------------------------------
    def tensors(self, device: torch.device | str) -> FaceModelTensors:
        if isinstance(self.model, FaceModel):
            return self.model.tensors(device)
        return self.model

    def sample_vertices(self, maps: torch.Tensor) -> torch.Tensor:
        """UV maps (B, C, H, W) sampled at the model's vertex UVs -> (B, N, C) (operator cached)."""
        m = self.tensors(maps.device)
        op = self.__dict__.get("_sampler")
        if op is None or op.uvs is not m.uvs or op.padding_mode != self.padding_mode:
            op = self._sampler = UVSampler(m.uvs, self.padding_mode)
        return op(maps)

    def normals(self, shape: torch.Tensor) -> torch.Tensor:
        """Unit vertex normals of (B, N, 3) model-space vertices (operators cached per device)."""
        m = self.tensors(shape.device)
        op = self.__dict__.get("_normals")
        if op is None or op.triangles is not m.triangles:
            op = self._normals = VertexNormals(m.triangles, m.point_buf)
        return op(shape)

    @property
    def uv_mask(self) -> torch.Tensor | None:
        """(H, W) bool UV face mask of the model (row 0 is v = 1), if it has one."""
        mask = getattr(self.model, "uv_mask", None)
        return None if mask is None else torch.as_tensor(mask).bool()

    def coeffs(self, coeffs: Coeffs | torch.Tensor, device: torch.device | None = None) -> Coeffs:
        """Accept Coeffs or a flat (B, size) vector in the model's layout."""
        if isinstance(coeffs, Coeffs):
            return coeffs
        m = self.tensors(coeffs.device if device is None else device)
        return _layout_of(m).split(coeffs)

    # -- geometry --------------------------------------------------------------------------------
    def geometry(self, coeffs: Coeffs | torch.Tensor, displacement: torch.Tensor | None = None,
                 displacement_scale: float | None = None) -> FaceGeometry:
        """Displaced, posed vertices and normals (differentiable in coefficients and displacement)."""
        c = self.coeffs(coeffs)
        m = self.tensors(c.rot.device)
        b = c.batch
        shape = face_shape(m, c.id, c.exp)
        if shape.shape[0] != b:
            shape = shape.expand(b, -1, -1)
        if displacement is not None:
            _check_map("displacement", displacement, b, (1, 3))
            scale = self.displacement_scale if displacement_scale is None else displacement_scale
            d = self.sample_vertices(displacement.to(shape.dtype)) - self.displacement_midlevel
            if self.displacement_mode == "xyz":
                if d.shape[-1] != 3:
                    raise StyleFaceError("xyz displacement needs a 3-channel map")
                shape = shape + scale * d
            else:
                base_n = self.normals(shape)
                shape = shape + scale * d[..., :1] * base_n
        normals = self.normals(shape)
        rot = euler_rotation(c.rot)
        verts = rigid_transform(shape, rot, c.trans)
        return FaceGeometry(shape=shape, vertices=verts, normals=normals @ rot, rotation=rot)

    # -- rendering -------------------------------------------------------------------------------
    def render(self, coeffs: Coeffs | torch.Tensor, diffuse: torch.Tensor | None = None,
               displacement: torch.Tensor | None = None, *, displacement_scale: float | None = None,
               mode: str | None = None, lighting: bool = True,
               geometry: FaceGeometry | None = None) -> FaceRender:
        """Render faces: diffuse (B or 1, C, H, W) in [0, 1], or None for the model's albedo from the
        tex coefficients; displacement (B or 1, 3, H, W) in [-1, 1] or None; ``lighting=False``
        renders the diffuse map unlit (e.g. the symmetric-view weight map)."""
        mode = self.mode if mode is None else mode
        if mode not in MODES:
            raise StyleFaceError(f"render mode must be one of {MODES}, got '{mode}'")
        c = self.coeffs(coeffs)
        m = self.tensors(c.rot.device)
        geo = geometry if geometry is not None else self.geometry(c, displacement, displacement_scale)
        b = geo.vertices.shape[0]
        _check_map("diffuse", diffuse, b, tuple(range(1, 5)))
        gamma = c.gamma if lighting else None
        if gamma is not None and diffuse is not None and diffuse.shape[1] != 3:
            raise StyleFaceError("lit rendering needs a 3-channel diffuse map (use lighting=False)")

        frags = rasterize(geo.vertices, m.triangles, self.camera, self.settings, self.backend)
        _, h, w, k = frags.pix_to_face.shape
        faces = m.triangles.unsqueeze(0).expand(b, -1, -1)
        hits = frags.hits.layer(0, k)

        if mode == "vertex":
            albedo = self._vertex_albedo(m, c, diffuse, geo.vertices.dtype)
            colors = shade_vertices(albedo.expand(b, -1, -1), geo.normals, gamma)
            vals = interpolate_channels_first(hits, faces, colors)
        else:
            colors = None
            vals = self._shade_pixels(m, c, geo, hits, faces, diffuse, gamma)
        image = scatter_image(hits, vals, b, (h, w), k, self.background, channels_first=True)
        return FaceRender(image, frags.mask(), frags, geo, colors)

    def _shade_pixels(self, m: FaceModelTensors, c: Coeffs, geo: FaceGeometry, hits: Hits, faces: torch.Tensor,
                      diffuse: torch.Tensor | None, gamma: torch.Tensor | None) -> torch.Tensor:
        """UV mode: (C, M) colours of the covered pixels from per-pixel UVs and interpolated normals."""
        b, n_v = geo.vertices.shape[:2]
        dtype = geo.vertices.dtype
        counts = batch_counts(torch.div(hits.face, faces.shape[1], rounding_mode="floor"), b)
        if diffuse is None:
            albedo = interpolate_rows(hits, faces, _rows(self._vertex_albedo(m, c, None, dtype), b), n_v)
        else:
            # The UVs are constants: interpolated on their own, they add no rows to the backward gathers.
            uv = interpolate_rows(hits, faces, _rows(m.uvs.to(dtype).unsqueeze(0), b), n_v)
            albedo = sample_uv_points(diffuse.expand(b, -1, -1, -1), uv, counts, self.padding_mode)
        if gamma is None:
            return albedo
        normals = interpolate_rows(hits, faces, _rows(geo.normals, b), n_v)  # not unit length
        return shade_normals(albedo, normals, gamma, counts)

    def _vertex_albedo(self, m: FaceModelTensors, c: Coeffs, diffuse: torch.Tensor | None,
                       dtype: torch.dtype) -> torch.Tensor:
        if diffuse is not None:
            return self.sample_vertices(diffuse.to(dtype))
        if m.mean_albedo is None:
            raise StyleFaceError("no diffuse map given and the face model has no albedo")
        return face_albedo(m, c.tex).to(dtype)

    def __call__(self, *args, **kwargs) -> FaceRender:
        return self.render(*args, **kwargs)


def render_face(model: FaceModel | FaceModelTensors, coeffs: Coeffs | torch.Tensor,
                diffuse: torch.Tensor | None = None, displacement: torch.Tensor | None = None, *,
                displacement_scale: float = 0.01, mode: str = "vertex", camera: Camera | None = None,
                image_size: int | None = None, background: float | torch.Tensor = 0.0,
                lighting: bool = True, backend: str = "torch") -> FaceRender:
    """One-off render (builds a FaceRenderer); keep a FaceRenderer for repeated calls."""
    settings = RasterizationSettings(image_size=image_size)
    renderer = FaceRenderer(model, camera, settings, mode=mode, backend=backend, background=background,
                            displacement_scale=displacement_scale)
    return renderer.render(coeffs, diffuse, displacement, lighting=lighting)
