"""Stage 2, 3DMM fitting: coefficients for images (landmarks + photometric), run over shards.
"""
