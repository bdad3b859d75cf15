"""``styleface-train fyaw``: train Fyaw so that F3D(w + Fyaw(w) d) has the opposite yaw of w.

As in StyleFaceUV: F3D is frozen, the loss is L1 between the predicted yaw of w_sym and minus the yaw
target of w (the dataset's fitted coefficient by default, or F3D's own prediction), Adam at 1e-3 with
MultiStepLR at 5/10/15, batch 16, 25 epochs. With stand-in data the validation also measures the true
mean |yaw(w_sym) + yaw(w)| in degrees, from the stand-in's exact decoding of both codes.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import torch
from styleface.errors import StyleFaceError
from styleface.nets.yaw import Fyaw, YawSymmetry

from ..common.atomic import atomic_write_text
from ..common.modelfile import load_direction, load_f3d, save_network, save_tensors
from ..data.pairs import load_pairs
from ..common.trainloop import LoopConfig, run_loop

DEFAULT_LOOP = LoopConfig(epochs=25, batch_size=16, lr=1e-3, milestones=(5, 10, 15))
TARGETS = ("data", "f3d")


@dataclass
class FyawOptions:
    samples: Path
    f3d: Path
    direction: Path
    out: Path
    coeffs: str = "truth"
    target: str = "data"
    val_fraction: float = 0.1
    hidden: tuple[int, ...] | None = None
    device: str = "cpu"
    progress: bool = True


def standin_for_samples(samples: Path):
    """The stand-in that made ``samples`` (to read true yaw), or None for other generators."""
    from ..data.shards import read_manifest

    gen = read_manifest(samples).get("generator", {})
    if gen.get("kind") != "standin":
        return None
    from ..standin.generators import make_standin
    from ..standin import StandInConfig

    fields = StandInConfig.__dataclass_fields__
    return make_standin(StandInConfig(**{k: v for k, v in gen.items() if k in fields}))


def train_fyaw(opts: FyawOptions, loop: LoopConfig = DEFAULT_LOOP) -> dict:
    if opts.target not in TARGETS:
        raise StyleFaceError(f"--target must be one of {', '.join(TARGETS)}")
    f3d = load_f3d(opts.f3d).to(opts.device)
    for p in f3d.parameters():
        p.requires_grad_(False)
    direction, dmeta = load_direction(opts.direction)
    pairs = load_pairs(opts.samples, opts.coeffs)
    n_latent, style_dim = pairs.wplus.shape[1:]
    if (f3d.n_latent, f3d.style_dim) != (n_latent, style_dim) or tuple(direction.shape) != (n_latent, style_dim):
        raise StyleFaceError("F3D, the yaw direction and the samples disagree on the W+ shape")
    yaw_i = f3d.layout.yaw_index
    if pairs.coeffs.shape[1] != f3d.layout.size:
        raise StyleFaceError(f"the coefficients have {pairs.coeffs.shape[1]} entries, F3D predicts {f3d.layout.size}")
    train, val = pairs.split(opts.val_fraction)
    dev = opts.device
    d = direction.to(dev)
    with torch.no_grad():
        def target_of(p):
            if opts.target == "data":
                return p.coeffs[:, yaw_i].to(dev)
            return torch.cat([f3d(p.wplus[i:i + 1024].to(dev))[:, yaw_i] for i in range(0, p.wplus.shape[0], 1024)])
        t_train, t_val = target_of(train), target_of(val)
    tw, vw = train.wplus.to(dev), val.wplus.to(dev)
    torch.manual_seed(loop.seed)
    net = Fyaw(n_latent, style_dim, opts.hidden).to(dev)
    opt = torch.optim.Adam(net.parameters(), lr=loop.lr)
    standin = standin_for_samples(Path(opts.samples))

    def symmetric(w: torch.Tensor) -> torch.Tensor:
        return w + net(w).view(-1, 1, 1) * d

    def step(idx: torch.Tensor) -> dict[str, float]:
        pred = f3d(symmetric(tw[idx]))[:, yaw_i]
        loss = (pred + t_train[idx]).abs().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"l1": loss.item()}

    def validate() -> dict[str, float]:
        if vw.shape[0] == 0:
            return {}
        out: dict[str, float] = {}
        wsym = torch.cat([symmetric(vw[i:i + 1024]) for i in range(0, vw.shape[0], 1024)])
        pred = torch.cat([f3d(wsym[i:i + 1024])[:, yaw_i] for i in range(0, wsym.shape[0], 1024)])
        out["l1"] = float((pred + t_val).abs().mean())
        out["f3d_yaw_sum_deg"] = float((pred + t_val).abs().mean() * 180 / math.pi)
        if standin is not None:
            s = standin.to(dev)
            true_w = s.coefficients(vw)[:, yaw_i]
            true_sym = s.coefficients(wsym)[:, yaw_i]
            out["true_yaw_sum_deg"] = float((true_w + true_sym).abs().mean() * 180 / math.pi)
            out["true_yaw_abs_deg"] = float(true_w.abs().mean() * 180 / math.pi)
        return out

    config = {"trainer": "fyaw", "data": pairs.source, "net": net.config(), "target": opts.target,
              "val_fraction": opts.val_fraction, "direction": dmeta.get("report", {}).get("count")}
    state = run_loop(opts.out, train.index.shape[0], {"fyaw": net}, opt, step, validate, loop, config, opts.progress)
    final = state.history[-1] if state.history else {}
    metrics = {"steps": state.step, "epochs": state.epoch, "n_train": int(train.index.shape[0]),
               "n_val": int(val.index.shape[0]), **final}
    net = net.cpu().eval()
    save_network(opts.out / "fyaw.safetensors", net)
    save_network(opts.out / "yaw_symmetry.safetensors", YawSymmetry.from_parts(net, direction.cpu()))
    save_tensors(opts.out / "yaw_direction.safetensors", {"direction": direction.cpu()},
                 {"kind": "yaw_direction", "report": dmeta.get("report", {})})
    atomic_write_text(opts.out / "metrics.json", json.dumps(metrics, indent=1))
    return metrics
