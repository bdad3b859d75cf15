"""Shared test fixtures: tiny meshes that need no face-model data."""
from __future__ import annotations

import pytest
import torch

from tinyface import FaceModel, tiny_face_model  # noqa: F401  (re-exported for older imports)


@pytest.fixture
def tiny_model() -> FaceModel:
    return tiny_face_model()


@pytest.fixture
def no_tf32():
    """Full float32 on CUDA for the comparison with the CPU (cuDNN convolutions default to TF32)."""
    old = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = old

