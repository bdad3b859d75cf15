"""(stylecode, coefficients) pairs for F3D and Fyaw: W+ from a sample dataset, coefficients from a fit
dataset (the paper's way) or from the stand-in's truth (to measure what fitting costs).

Pairs are ordered by item index and split without shuffling: first 90% train, last 10% validation, as
the official trainer does.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
from styleface.errors import StyleFaceError

from .shards import dataset_files, read_manifest, read_tensors, tensor_keys

TRUTH = "truth"


@dataclass
class Pairs:
    index: torch.Tensor     # (N,) item indices, ascending
    wplus: torch.Tensor     # (N, n_latent, style_dim)
    coeffs: torch.Tensor    # (N, C)
    source: dict            # what the pairs were made from (recorded in checkpoints)

    def split(self, val_fraction: float) -> tuple["Pairs", "Pairs"]:
        n = self.index.shape[0]
        n_val = int(round(n * val_fraction))
        n_tr = n - n_val
        if n_tr < 1 or (val_fraction > 0 and n_val < 1):
            raise StyleFaceError(f"{n} pairs are too few for a {val_fraction:.0%} validation split")
        mk = lambda s: Pairs(self.index[s], self.wplus[s], self.coeffs[s], self.source)  # noqa: E731
        return mk(slice(0, n_tr)), mk(slice(n_tr, n))


def _describe(path: Path) -> dict:
    try:
        man = read_manifest(path)
    except StyleFaceError:
        man = {}
    return {"path": os.path.basename(os.path.normpath(path)),
            **{k: man[k] for k in ("count", "base_seed", "format") if k in man}}


def load_pairs(samples: str | os.PathLike, coeffs: str | os.PathLike = TRUTH) -> Pairs:
    """W+ of ``samples`` joined by item index with coefficients (``truth`` or a fit folder/file)."""
    samples = Path(samples)
    files = dataset_files(samples, "shard")
    s = read_tensors(files, ["index", "wplus"] + (["truth_coeffs"] if str(coeffs) == TRUTH else []))
    if str(coeffs) == TRUTH:
        if "truth_coeffs" not in s:
            raise StyleFaceError(f"{samples} has no truth coefficients (only the stand-in writes them)")
        idx, w, c = s["index"], s["wplus"], s["truth_coeffs"]
    else:
        fpath = Path(coeffs)
        ffiles = dataset_files(fpath, "fit")
        keys = ["index", "coeffs"] + (["valid"] if "valid" in tensor_keys(ffiles[0]) else [])
        f = read_tensors(ffiles, keys)
        keep = f["valid"].bool() if "valid" in f else torch.ones_like(f["index"], dtype=torch.bool)
        pos = {int(i): k for k, i in enumerate(s["index"].tolist())}
        sel = [(pos[int(i)], k) for k, i in enumerate(f["index"].tolist()) if keep[k] and int(i) in pos]
        if not sel:
            raise StyleFaceError(f"no fitted item of {fpath} matches an item of {samples}")
        si = torch.tensor([a for a, _ in sel])
        fi = torch.tensor([b for _, b in sel])
        idx, w, c = s["index"][si], s["wplus"][si], f["coeffs"][fi]
    order = torch.argsort(idx)
    return Pairs(idx[order], w[order].float(), c[order].float(),
                 {"samples": _describe(samples), "coeffs": TRUTH if str(coeffs) == TRUTH else _describe(Path(coeffs)),
                  "n": int(idx.shape[0])})
