"""Stage 1, data: sampling stylecodes with their images and truth into sharded, resumable datasets; (stylecode,
coefficient) pairs; previews.
"""
