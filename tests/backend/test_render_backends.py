"""Backend selection, and equivalence of the optional pytorch3d / nvdiffrast backends with 'torch'.

The equivalence tests run only where the optional library imports (and, for nvdiffrast, a GPU exists).
"""
from __future__ import annotations

import pytest
import torch

from styleface.errors import StyleFaceError
from styleface.render import PinholeCamera, available_backends, get_backend, rasterize
from styleface.render.backends import pytorch3d_backend, nvdiffrast_backend
from styleface.render.synthetic import cap_mesh


def test_torch_backend_is_always_there_and_unknown_names_fail_cleanly():
    assert "torch" in available_backends()
    with pytest.raises(StyleFaceError, match="unknown render backend"):
        get_backend("opengl")
    for name, module in (("pytorch3d", pytorch3d_backend), ("nvdiffrast", nvdiffrast_backend)):
        if not module.is_available():
            with pytest.raises(StyleFaceError, match="not usable here"):
                get_backend(name)


@pytest.mark.parametrize("name", ["pytorch3d", "nvdiffrast"])
def test_optional_backend_matches_torch(name):
    module = {"pytorch3d": pytorch3d_backend, "nvdiffrast": nvdiffrast_backend}[name]
    if not module.is_available():
        pytest.skip(f"{name} backend unavailable: {module.why_unavailable()}")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    v, f, _ = cap_mesh(n=80)
    v2 = v * torch.tensor([0.8, 1.1, 1.0])
    verts = torch.stack([v, v2]).to(device).requires_grad_()
    faces = f.to(device)
    cam = PinholeCamera(128)
    ref = rasterize(verts, faces, cam, backend="torch")
    out = rasterize(verts, faces, cam, backend=name)
    same = ref.pix_to_face == out.pix_to_face
    assert same.float().mean() > 0.999
    m = same & (ref.pix_to_face >= 0)
    torch.testing.assert_close(out.bary_coords[m], ref.bary_coords[m])
    torch.testing.assert_close(out.zbuf[m], ref.zbuf[m])
    out.bary_coords[m].sum().backward()  # gradients come from the shared barycentric step
    assert verts.grad is not None and torch.isfinite(verts.grad).all()
