"""The end of the pipeline: bundle export, every stage in one command (``all``), the distilled demo bundle.
"""
