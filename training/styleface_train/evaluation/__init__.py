"""Stage 5, evaluation: UV and multi-view errors against the stand-in's truth, FID.
"""
