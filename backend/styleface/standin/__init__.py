"""The procedural StyleGAN2 stand-in: W+ -> a rendered face of the demo head whose 3D truth is known.

It trains the demo bundle (``styleface_train``) and, shipped in the demo bundle as its ``generator2d``,
gives bundles without a real StyleGAN2 the 2D images the paper's demonstrations need (``styleface views``).
It lives in the backend because the backend never imports the training package.
"""
from .generator import DISPLACEMENT_SCALE, StandInConfig, StandInGenerator

__all__ = ["DISPLACEMENT_SCALE", "StandInConfig", "StandInGenerator"]
