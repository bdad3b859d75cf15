"""StyleFace training: data generation, 3DMM fitting, F3D, yaw direction, Fyaw, UV generator.

A separate package: it imports ``styleface`` and is never imported by it.
"""
