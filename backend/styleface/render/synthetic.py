"""Synthetic test meshes (no face model needed): a displaced spherical cap the size of a face.

Used by the tests and the benchmark so CI needs neither BFM nor the demo head.
"""
from __future__ import annotations

import math

import torch


def grid_faces(rows: int, cols: int) -> torch.Tensor:
    """Two counter-clockwise (seen from +z) triangles per quad of a rows x cols vertex grid -> (F, 3)."""
    r, c = torch.meshgrid(torch.arange(rows - 1), torch.arange(cols - 1), indexing="ij")
    v00 = (r * cols + c).reshape(-1)
    v01, v10, v11 = v00 + 1, v00 + cols, v00 + cols + 1
    # Row index grows with +y (see cap_mesh), so (v00, v01, v11) is counter-clockwise seen from +z.
    return torch.cat([torch.stack([v00, v01, v11], 1), torch.stack([v00, v11, v10], 1)], 0)


def cap_mesh(n: int = 189, half_width: float = 1.0, radius: float = 2.0, bumps: float = 0.03,
             seed: int = 0, dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """An n x n grid over [-w, w]^2 lifted onto a sphere cap of ``radius`` with sinusoidal bumps.

    Returns (vertices (N, 3) centred near the origin facing +z, faces (F, 3), uvs (N, 2) in [0, 1]).
    n = 189 gives 35,721 vertices / 70,688 faces, BFM's size, covering ~65% of the 256 px pinhole view.
    """
    g = torch.Generator().manual_seed(seed)
    t = torch.linspace(-half_width, half_width, n, dtype=torch.float64)
    y, x = torch.meshgrid(t, t, indexing="ij")
    z = torch.sqrt(torch.clamp(radius ** 2 - x ** 2 - y ** 2, min=0.0)) - radius
    phase = torch.rand(4, generator=g, dtype=torch.float64) * 2 * math.pi
    z = z + bumps * (torch.sin(7 * x + phase[0]) * torch.cos(5 * y + phase[1])
                     + 0.5 * torch.sin(13 * y + phase[2]) * torch.cos(11 * x + phase[3]))
    verts = torch.stack([x, y, z], -1).reshape(-1, 3).to(dtype)
    uvs = torch.stack([(x + half_width) / (2 * half_width), (y + half_width) / (2 * half_width)], -1)
    return verts, grid_faces(n, n), uvs.reshape(-1, 2).to(dtype)


def cap_face_model(n: int = 60, n_id: int = 4, n_exp: int = 3, n_tex: int = 2, seed: int = 0):
    """A FaceModel built on ``cap_mesh``: random smooth bases, a shaded albedo, 68 landmark ids.

    A stand-in with the face models' frame and array layout for renderer tests and benchmarks.
    """
    import numpy as np

    from ..facemodel.model import FaceModel

    verts, faces, uvs = cap_mesh(n=n, seed=seed)
    g = torch.Generator().manual_seed(seed + 1)
    x, y = verts[:, 0:1], verts[:, 1:2]

    def smooth_basis(k: int, amp: float) -> torch.Tensor:
        fx = torch.randint(1, 4, (1, 3, k), generator=g).float()
        ph = torch.rand(1, 3, k, generator=g) * 6.28
        return amp * torch.sin(fx * x.unsqueeze(-1) * 2 + ph) * torch.cos(fx * y.unsqueeze(-1) * 2 - ph)

    albedo = torch.stack([0.75 + 0.1 * torch.sin(5 * x[:, 0]), 0.55 + 0.1 * torch.cos(4 * y[:, 0]),
                          0.45 + 0.05 * torch.sin(3 * (x[:, 0] + y[:, 0]))], -1)
    lm = torch.linspace(0, verts.shape[0] - 1, 68).long()
    return FaceModel(
        name=f"cap{n}", mean_shape=verts.numpy(), id_basis=smooth_basis(n_id, 0.05).numpy(),
        exp_basis=smooth_basis(n_exp, 0.03).numpy(), triangles=faces.numpy(), uvs=uvs.numpy(),
        landmarks=lm.numpy(), mean_albedo=albedo.numpy(), albedo_basis=smooth_basis(n_tex, 0.05).numpy(),
        uv_mask=np.ones((64, 64), dtype=bool),
    )
