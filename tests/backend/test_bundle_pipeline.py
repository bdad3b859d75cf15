"""Bundles (write, validate, zip) and the generation pipeline on a tiny random-weight bundle."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from bundle_fixtures import STYLE_DIM, UV_SIZE, tiny_manifest, tiny_networks, write_tiny_bundle
from styleface.bundle import open_bundle, resolve_device, write_bundle, zip_bundle
from styleface.errors import StyleFaceError
from styleface.facemodel import CoeffLayout
from styleface.pipeline import Pipeline, seed_to_z


@pytest.fixture
def bundle_dir(tmp_path, tiny_model):
    return write_tiny_bundle(tmp_path / "b", tiny_model)


def test_bundle_roundtrip_and_generation(bundle_dir, tiny_model):
    pipe = Pipeline.load(bundle_dir, device="cpu")
    faces = pipe.generate([1, 2, 3], batch_size=2)
    assert [f.seed for f in faces] == [1, 2, 3]
    f = faces[0]
    assert f.vertices.shape == (tiny_model.n_vertices, 3)
    assert f.diffuse.shape == (3, UV_SIZE, UV_SIZE) and f.displacement.shape == (3, UV_SIZE, UV_SIZE)
    assert f.stylecode.shape == (6, STYLE_DIM)
    assert f.provenance["bundle"] == "tiny-test"
    assert set(f.coefficients) == {"id", "exp", "tex", "rot", "gamma", "trans"}
    # Same seed, same face (batch composition does not matter); different seeds differ.
    again = pipe.generate([3], batch_size=1)[0]
    np.testing.assert_allclose(again.vertices, faces[2].vertices, atol=1e-5)
    np.testing.assert_allclose(again.diffuse, faces[2].diffuse, atol=1e-5)
    assert not np.allclose(faces[0].diffuse, faces[1].diffuse)


def test_written_bundle_has_umask_modes(bundle_dir):
    """A bundle is built in a 0700 mkdtemp folder; once in place it must be readable like any file."""
    import os
    import stat
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(bundle_dir.stat().st_mode) == 0o777 & ~mask
    for f in bundle_dir.iterdir():
        assert stat.S_IMODE(f.stat().st_mode) == 0o666 & ~mask, f.name


def test_seed_z_is_stable():
    a = seed_to_z(42, 8)
    torch.manual_seed(0)
    b = seed_to_z(42, 8)
    assert torch.equal(a, b)
    assert not torch.equal(a, seed_to_z(43, 8))


def test_overrides(bundle_dir):
    pipe = Pipeline.load(bundle_dir, device="cpu")
    base = pipe.generate_one(5)
    smile = pipe.generate_one(5, expression={"jaw_open": 2.0})
    assert smile.coefficients["exp"][0] == pytest.approx(2.0)
    assert not np.allclose(smile.vertices, base.vertices)
    borrowed = pipe.generate_one(5, expression_from_seed=9)
    np.testing.assert_allclose(borrowed.coefficients["exp"], pipe.generate_one(9).coefficients["exp"], atol=1e-5)
    posed = pipe.generate_one(5, pose=[0.0, 0.5, 0.0], lighting=[0.1] * 27)
    np.testing.assert_allclose(posed.coefficients["rot"], [0, 0.5, 0])
    np.testing.assert_allclose(posed.coefficients["gamma"], 0.1)
    strong = pipe.generate_one(5, displacement_strength=2.0)
    assert strong.displacement_info.scale == pytest.approx(2 * base.displacement_info.scale)
    flat = pipe.generate_one(5, truncation=0.0)
    flat2 = pipe.generate_one(6, truncation=0.0)
    np.testing.assert_allclose(flat.vertices, flat2.vertices, atol=1e-5)  # psi 0: the mean face
    with pytest.raises(StyleFaceError, match="unknown option"):
        pipe.generate_one(5, colour="blue")
    with pytest.raises(StyleFaceError, match="no expression"):
        pipe.generate_one(5, expression={"wink": 1.0})
    with pytest.raises(StyleFaceError, match="pose needs 3"):
        pipe.generate_one(5, pose=[0.1])


def test_w_input_matches_seed(bundle_dir):
    pipe = Pipeline.load(bundle_dir, device="cpu")
    wp = pipe.wplus(seeds=[4])
    a = pipe.generate(w=wp)[0]
    b = pipe.generate([4])[0]
    np.testing.assert_allclose(a.vertices, b.vertices, atol=1e-6)
    sym = pipe.symmetric(wp)
    assert sym.shape == wp.shape and not torch.allclose(sym, wp)


def test_zip_bundle(bundle_dir, tmp_path):
    z = zip_bundle(bundle_dir, tmp_path / "b.zip")
    pipe = Pipeline.load(z, device="cpu")
    np.testing.assert_allclose(pipe.generate_one(1).diffuse,
                               Pipeline.load(bundle_dir, device="cpu").generate_one(1).diffuse, atol=1e-6)


def test_bundle_validation_errors(bundle_dir, tmp_path, tiny_model):
    with pytest.raises(StyleFaceError, match="bundle not found"):
        open_bundle(tmp_path / "nope")
    man = json.loads((bundle_dir / "bundle.json").read_text())
    bad = dict(man, version=99)
    (bundle_dir / "bundle.json").write_text(json.dumps(bad))
    with pytest.raises(StyleFaceError, match="version 99"):
        open_bundle(bundle_dir)
    (bundle_dir / "bundle.json").write_text(json.dumps(man))
    (bundle_dir / "uvgen.safetensors").unlink()
    with pytest.raises(StyleFaceError, match="uvgen.safetensors"):
        open_bundle(bundle_dir)
    # F3D trained for another face model: caught at load time.
    nets = tiny_networks(tiny_model)
    nets["f3d"] = type(nets["f3d"])(6, STYLE_DIM, CoeffLayout(n_id=5, n_exp=2, n_tex=0), hidden=(8,))
    write_bundle(tmp_path / "mismatch", tiny_manifest(), nets, face_model=tiny_model)
    with pytest.raises(StyleFaceError, match="coefficient layout"):
        open_bundle(tmp_path / "mismatch")
    with pytest.raises(StyleFaceError, match="exists"):
        write_bundle(tmp_path / "mismatch", tiny_manifest(), nets, face_model=tiny_model)


def test_device_resolution():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") in ("cpu", "cuda", "mps")
    with pytest.raises(StyleFaceError):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(StyleFaceError, match="CUDA is not available"):
            resolve_device("cuda")
