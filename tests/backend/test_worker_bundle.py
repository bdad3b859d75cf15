"""The worker serving a real bundle through the Pipeline (tiny random weights)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from bundle_fixtures import write_tiny_bundle
from styleface.client import RequestError, WorkerClient
from styleface.pipeline import Pipeline

SRC = str(Path(__file__).resolve().parents[2] / "backend")


def test_worker_generates_from_a_bundle_with_options(tmp_path, tiny_model):
    bundle = write_tiny_bundle(tmp_path / "b", tiny_model)
    env = dict(os.environ)
    env.pop("STYLEFACE_WORKER_GENERATOR", None)
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    with WorkerClient(python=sys.executable, env=env, start_timeout=60, request_timeout=120) as w:
        info = w.load_bundle(str(bundle), device="cpu")
        assert info["device"] == "cpu"
        res = w.generate([7, 8, 9], {"batch_size": 2, "truncation": 0.5, "pose": [0.0, 0.3, 0.0],
                                     "expression": {"jaw_open": 1.0}})
        assert [f.seed for f in res.faces] == [7, 8, 9]
        local = Pipeline.load(bundle, device="cpu").generate([7, 8, 9], truncation=0.5, pose=[0.0, 0.3, 0.0],
                                                               expression={"jaw_open": 1.0})
        for got, want in zip(res.faces, local):
            np.testing.assert_allclose(got.vertices, want.vertices, atol=1e-5)
            np.testing.assert_allclose(got.diffuse, want.diffuse, atol=1e-5)
            np.testing.assert_allclose(got.coefficients["rot"], [0.0, 0.3, 0.0])
        try:
            w.generate([1], {"pose": [1.0]})
            raise AssertionError("bad pose accepted")
        except RequestError as e:
            assert "pose" in str(e)
        assert len(w.generate([1]).faces) == 1  # still serving


def test_worker_sends_expression_basis_with_first_face(tmp_path, tiny_model):
    bundle = write_tiny_bundle(tmp_path / "b", tiny_model)
    env = dict(os.environ)
    env.pop("STYLEFACE_WORKER_GENERATOR", None)
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    with WorkerClient(python=sys.executable, env=env, start_timeout=60, as_assets=False) as w:
        assert "truncation" in w.hello()["generate_options"]
        w.load_bundle(str(bundle), device="cpu")
        (a0, m0), (a1, m1) = w.generate([1, 2]).faces
        assert m0["expression_names"] == ["jaw_open"] and "expression_names" not in m1
        np.testing.assert_array_equal(a0["expression_deltas"][0], tiny_model.exp_basis[:, :, 0])
        assert "expression_deltas" not in a1
