"""Constant sparse operators with a cheap backward, for the fixed-topology steps of rendering.

Vertex normals (corner differences, face-to-vertex sums) and per-vertex UV sampling are linear maps that
depend only on the mesh and its UVs. As CSR matrices their forward *and* backward are sparse products,
several times cheaper on CPU than gathers with an accumulating backward.
"""
from __future__ import annotations

import warnings

import torch


class SparseMM(torch.autograd.Function):
    """A @ X for a constant sparse A whose transpose is precomputed (autograd would re-sort A each call)."""

    @staticmethod
    def forward(ctx, a: torch.Tensor, a_t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.a_t = a_t
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "sparse CSR support is in beta"
            return torch.sparse.mm(a, x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return None, None, torch.sparse.mm(ctx.a_t, grad.contiguous())


def csr_matrix(rows: torch.Tensor, cols: torch.Tensor, vals: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """A CSR matrix from COO triplets; duplicate entries are summed."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        coo = torch.sparse_coo_tensor(torch.stack([rows, cols]), vals, shape, check_invariants=False)
        return coo.coalesce().to_sparse_csr()
