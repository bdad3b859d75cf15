"""Infrastructure every stage shares: atomic writes, checkpoints, the training loop, distributed set-up,
network files, user-supplied weight files.
"""
