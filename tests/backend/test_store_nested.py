"""Face-model .npz store keeps arrays nested in metadata dicts (the demo model's region masks)."""
import numpy as np

from tinyface import tiny_face_model
from styleface.facemodel import load_face_model_npz, save_face_model


def test_nested_metadata_arrays_roundtrip(tmp_path):
    m = tiny_face_model()
    m.metadata = {"regions": {"lips": np.arange(m.n_vertices) % 2 == 0, "eyes": np.zeros(m.n_vertices, bool)},
                  "uv_regions": {"lips": [0.5, 0.2]}, "flat": np.ones(3), "units": "dm"}
    back = load_face_model_npz(save_face_model(m, tmp_path / "m.npz"))
    np.testing.assert_array_equal(back.metadata["regions"]["lips"], m.metadata["regions"]["lips"])
    assert back.metadata["regions"]["eyes"].dtype == bool
    np.testing.assert_array_equal(back.metadata["flat"], np.ones(3))
    assert back.metadata["uv_regions"] == {"lips": [0.5, 0.2]} and back.metadata["units"] == "dm"
