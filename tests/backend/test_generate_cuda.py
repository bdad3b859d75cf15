"""Generation on CUDA (skipped without a GPU; run on a GPU machine): the default bundle gives the same
face on CUDA as on CPU (seeds are drawn on CPU; TF32 is switched off for the comparison)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from styleface.pipeline import Pipeline

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


def test_default_bundle_same_face_on_cuda_and_cpu(no_tf32):
    cpu = Pipeline.load(None, device="cpu").generate([0, 7], batch_size=2)
    gpu = Pipeline.load(None, device="cuda").generate([0, 7], batch_size=2)
    for a, b in zip(cpu, gpu):
        np.testing.assert_allclose(b.vertices, a.vertices, atol=1e-3)
        np.testing.assert_allclose(b.diffuse, a.diffuse, atol=2e-2)
        assert np.abs(b.diffuse - a.diffuse).mean() < 2e-3
        np.testing.assert_allclose(b.displacement, a.displacement, atol=5e-2)
