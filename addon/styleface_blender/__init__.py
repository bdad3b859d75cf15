"""StyleFace Blender extension (not implemented yet; see addon/README.md)."""
