"""``styleface-train yaw-direction``: the unit yaw direction d in W+ from a linear SVM (paper section 1.4).

Map many z to W+, predict each yaw with F3D, label the bottom and top 2% as the two classes, fit a
linear SVM on the flattened W+ and keep its unit normal, oriented so that w + s d with s > 0 turns
the face towards positive yaw. Accuracy is reported on a held-out fifth before the final fit on all.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from styleface.errors import StyleFaceError

from ..common.atomic import atomic_write_text
from ..standin.generators import GeneratorHandle
from ..common.modelfile import save_tensors

SVM_KINDS = ("linear-svc", "svc")


@dataclass
class YawDirectionOptions:
    out: Path
    count: int = 200_000
    fraction: float = 0.02
    svm: str = "svc"            # the paper's SVC(kernel='linear'); linear-svc scales better
    C: float = 1.0
    seed: int = 0
    truncation: float = 1.0
    batch_size: int = 4096
    device: str = "cpu"


@torch.no_grad()
def predicted_yaw(f3d: torch.nn.Module, handle: GeneratorHandle, opts: YawDirectionOptions
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """(W+ (N, L, D) on CPU, yaw (N,) radians) for opts.count stylecodes from seed opts.seed."""
    g = handle.module
    gen = torch.Generator().manual_seed(opts.seed)
    yaw_i = f3d.layout.yaw_index
    ws, yaws = [], []
    for start in range(0, opts.count, opts.batch_size):
        n = min(opts.batch_size, opts.count - start)
        z = torch.randn(n, handle.style_dim, generator=gen).to(opts.device)
        centre = g.latent_avg if opts.truncation != 1.0 else None
        w = g.to_wplus(z, "z", truncation=opts.truncation, truncation_latent=centre)
        ws.append(w.float().cpu())
        yaws.append(f3d(w.float())[:, yaw_i].cpu())
    return torch.cat(ws), torch.cat(yaws)


def _make_svm(kind: str, C: float, seed: int):
    from sklearn.svm import SVC, LinearSVC

    if kind == "svc":
        return SVC(kernel="linear", C=C)
    if kind == "linear-svc":
        return LinearSVC(C=C, max_iter=20_000, random_state=seed)
    raise StyleFaceError(f"--svm must be one of {', '.join(SVM_KINDS)}")


def find_direction(f3d: torch.nn.Module, handle: GeneratorHandle, opts: YawDirectionOptions) -> dict:
    """Fit the SVM and write yaw_direction.safetensors (+ .json) to opts.out; return the report."""
    if not 0 < opts.fraction < 0.5:
        raise StyleFaceError("--fraction must be in (0, 0.5)")
    try:
        import sklearn  # noqa: F401
    except ImportError:
        raise StyleFaceError("yaw-direction needs scikit-learn (pip install scikit-learn)") from None
    if (f3d.n_latent, f3d.style_dim) != (handle.n_latent, handle.style_dim):
        raise StyleFaceError(f"F3D expects W+ of {f3d.n_latent}x{f3d.style_dim}, the generator makes "
                             f"{handle.n_latent}x{handle.style_dim}")
    f3d = f3d.to(opts.device).eval()
    w, yaw = predicted_yaw(f3d, handle, opts)
    k = max(2, int(round(opts.fraction * w.shape[0])))
    order = torch.argsort(yaw)
    lo, hi = order[:k], order[-k:]
    x = torch.cat([w[lo], w[hi]]).reshape(2 * k, -1).numpy().astype(np.float64)
    y = np.concatenate([np.zeros(k), np.ones(k)])
    rng = np.random.default_rng(opts.seed)
    perm = rng.permutation(2 * k)
    n_test = max(1, (2 * k) // 5)
    test, train = perm[:n_test], perm[n_test:]
    held = _make_svm(opts.svm, opts.C, opts.seed).fit(x[train], y[train])
    test_acc = float((held.predict(x[test]) == y[test]).mean())
    svm = _make_svm(opts.svm, opts.C, opts.seed).fit(x, y)
    train_acc = float((svm.predict(x) == y).mean())
    normal = torch.from_numpy(np.asarray(svm.coef_, dtype=np.float64).reshape(-1))
    direction = (normal / normal.norm()).float().reshape(handle.n_latent, handle.style_dim)
    report = {"count": opts.count, "per_class": k, "svm": opts.svm, "C": opts.C, "train_accuracy": train_acc,
              "heldout_accuracy": test_acc, "yaw_low_deg": float(yaw[lo].max() * 180 / math.pi),
              "yaw_high_deg": float(yaw[hi].min() * 180 / math.pi), "generator": handle.description}
    truth = getattr(handle.module, "latent", None)
    if truth is not None and hasattr(truth, "factor_direction"):
        report["cosine_to_true_direction"] = float((truth.factor_direction("yaw") * direction).sum())
    opts.out.mkdir(parents=True, exist_ok=True)
    save_tensors(opts.out / "yaw_direction.safetensors", {"direction": direction},
                 {"kind": "yaw_direction", "report": report, "shape": [handle.n_latent, handle.style_dim]})
    atomic_write_text(opts.out / "yaw_direction_report.json", json.dumps(report, indent=1))
    return report
