"""StyleFace: detailed 3D faces from a StyleGAN2 latent space (StyleFaceUV, BMVC 2022)."""
from __future__ import annotations

from .errors import StyleFaceError

__version__ = "0.1.0"
__all__ = ["StyleFaceError", "__version__"]
