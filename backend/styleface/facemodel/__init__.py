"""Face models (the procedural demo head, BFM) and their coefficient layout."""
from .bfm import ExpPca, build_bfm_front, load_bfm_front, load_exp_pca
from .coeffs import BFM_LAYOUT, CoeffLayout, Coeffs
from .model import FaceModel, FaceModelTensors, build_point_buf
from .store import load_face_model, load_face_model_npz, save_face_model
from .uv_files import cylindrical_uvs, load_face3d_uv, load_uv_mask, load_uv_refine, load_uvs

__all__ = [
    "BFM_LAYOUT", "CoeffLayout", "Coeffs", "ExpPca", "FaceModel", "FaceModelTensors", "build_bfm_front",
    "build_point_buf", "cylindrical_uvs", "load_bfm_front", "load_exp_pca", "load_face3d_uv",
    "load_face_model", "load_face_model_npz", "load_uv_mask", "load_uv_refine", "load_uvs",
    "save_face_model",
]
