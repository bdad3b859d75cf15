"""Shared test fixtures: tiny meshes that need no face-model data."""
from __future__ import annotations

import pytest

from tinyface import FaceModel, tiny_face_model  # noqa: F401  (re-exported for older imports)


@pytest.fixture
def tiny_model() -> FaceModel:
    return tiny_face_model()
