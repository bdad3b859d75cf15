"""Stage 4, the UV generator: the paper's self-supervised loop through the differentiable renderer (losses,
symmetric view, GAN + R1), its configuration, set-up, step and trainer.
"""
