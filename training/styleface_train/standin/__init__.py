"""The generator a run trains against: the procedural StyleGAN2 stand-in or a real StyleGAN2 checkpoint
(:mod:`.generators`).

The stand-in itself lives in the backend (``styleface.standin``) so the demo bundle can ship it as its 2D
generator; it is re-exported here so training code keeps one import path.
"""
from styleface.standin.generator import DISPLACEMENT_SCALE, StandInConfig, StandInGenerator

__all__ = ["DISPLACEMENT_SCALE", "StandInConfig", "StandInGenerator"]
