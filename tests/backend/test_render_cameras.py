"""Cameras: the project pinhole equals PyTorch3D-style FoV / look-at cameras."""
from __future__ import annotations

import math

import torch

from styleface.geometry import euler_rotation
from styleface.render import (FoVPerspectiveCameras, PerspectiveCameras, PinholeCamera, RasterizationSettings,
                              look_at_view_transform, pinhole_as_fov, project_to_screen, rasterize)
from styleface.render.synthetic import cap_mesh


def test_pinhole_equals_fov_camera_at_distance_10():
    fov = math.degrees(2 * math.atan(128 / 1015))
    r, t = look_at_view_transform(10.0, 0.0, 0.0)
    fov_cam = FoVPerspectiveCameras(R=r, T=t, fov=fov, znear=0.01, zfar=50.0)
    pin = PinholeCamera(256)
    pts = torch.randn(1, 500, 3) * torch.tensor([1.0, 1.0, 0.5])
    xy_p, d_p = project_to_screen(pin, pts, (256, 256))
    xy_f, d_f = project_to_screen(fov_cam, pts, (256, 256))
    torch.testing.assert_close(xy_f, xy_p, atol=2e-3, rtol=0)
    torch.testing.assert_close(d_f, d_p, atol=1e-5, rtol=0)
    # ... and the renders agree pixel for pixel (ties aside).
    v, f, _ = cap_mesh(n=60)
    a = rasterize(v[None], f, pin)
    b = rasterize(v[None], f, fov_cam, RasterizationSettings(image_size=256))
    assert (a.pix_to_face == b.pix_to_face).float().mean() > 0.999
    assert abs(pinhole_as_fov(pin)[0].fov - fov) < 1e-9


def test_world_x_is_image_right_and_y_is_up():
    pin = PinholeCamera(256)
    xy, _ = project_to_screen(pin, torch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]]), (256, 256))
    assert xy[0, 0, 0] > 128 and abs(xy[0, 0, 1] - 128) < 1e-4  # +x -> right
    assert xy[0, 1, 1] < 128  # +y -> up (smaller row)


def test_orbiting_camera_equals_rotating_the_mesh():
    v, f, _ = cap_mesh(n=60)
    yaw = 30.0
    r, t = look_at_view_transform(10.0, 0.0, yaw)
    cam = FoVPerspectiveCameras(R=r, T=t, fov=pinhole_as_fov(PinholeCamera())[0].fov)
    orbit = rasterize(v[None], f, cam, RasterizationSettings(image_size=128))
    rot = euler_rotation(torch.tensor([[0.0, -math.radians(yaw), 0.0]]))
    turned = rasterize(v[None] @ rot, f, PinholeCamera(128))
    assert (orbit.pix_to_face == turned.pix_to_face).float().mean() > 0.999


def test_screen_space_perspective_camera_equals_pinhole():
    r, t = look_at_view_transform(10.0, 0.0, 0.0)
    cam = PerspectiveCameras(R=r, T=t, focal_length=1015.0, principal_point=(128.0, 128.0), in_ndc=False,
                             image_size=(256, 256))
    pts = torch.randn(1, 100, 3) * 0.5
    torch.testing.assert_close(project_to_screen(cam, pts, (256, 256))[0],
                               project_to_screen(PinholeCamera(), pts, (256, 256))[0], atol=2e-3, rtol=0)


def test_pinhole_at_other_sizes_keeps_framing():
    pts = torch.randn(1, 50, 3) * 0.5
    xy256, _ = project_to_screen(PinholeCamera(256), pts, (256, 256))
    xy512, _ = project_to_screen(PinholeCamera(256), pts, (512, 512))
    xy512b, _ = project_to_screen(PinholeCamera(512), pts, (512, 512))
    torch.testing.assert_close(xy512, 2 * xy256)
    torch.testing.assert_close(xy512b, xy512, atol=1e-3, rtol=0)
