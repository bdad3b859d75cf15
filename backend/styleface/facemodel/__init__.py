"""Face models (the procedural demo head, BFM) and their coefficient layout."""
from .coeffs import BFM_LAYOUT, CoeffLayout, Coeffs
from .model import FaceModel, FaceModelTensors, build_point_buf

__all__ = ["BFM_LAYOUT", "CoeffLayout", "Coeffs", "FaceModel", "FaceModelTensors", "build_point_buf"]
