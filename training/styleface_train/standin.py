"""The procedural stand-in moved to the backend (``styleface.standin``) so the demo bundle can ship it as
its 2D generator; this module keeps the training package's import path."""
from styleface.standin.generator import DISPLACEMENT_SCALE, StandInConfig, StandInGenerator

__all__ = ["DISPLACEMENT_SCALE", "StandInConfig", "StandInGenerator"]
