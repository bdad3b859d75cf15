"""NVlabs stylegan2-ada-pytorch networks -> rosinality layout.

Mapping (see the research notes, section 4.2): ``mapping.fc{i}`` -> ``style.{i+1}``; ``b4.const`` ->
``input.input``; ``b4.conv1`` -> ``conv1``; ``b{r}.conv0/conv1`` -> ``convs.{2k}/{2k+1}``; ``torgb`` ->
``to_rgb1`` / ``to_rgbs.{k}``; ``affine`` -> ``modulation``; ``bias`` -> ``activate.bias``;
``noise_const`` -> ``noises.noise_{i}``; generator FIR kernels are 4 x ``resample_filter``;
``w_avg`` -> ``latent_avg``. Both codes flip the 3x3 kernels the same way, so no flip is needed. The
discriminator (``resnet`` architecture, unconditional) maps ``fromrgb``/``conv0``/``conv1``/``skip``
and the ``b4`` epilogue onto ``convs.*``, ``final_conv`` and ``final_linear``.

Not reproduced: NVlabs' optional activation clamping (``conv_clamp``, only active beyond +-256) and
its FP16 layers; conditional (``c_dim > 0``) generators are refused.
"""
from __future__ import annotations

from typing import Any

import torch

from ..errors import StyleFaceError
from .nvlabs_pickle import PersistentRecord, record_state_dict


def _get(sd: dict[str, torch.Tensor], key: str, what: str) -> torch.Tensor:
    if key not in sd:
        raise StyleFaceError(f"{what}: NVlabs network has no '{key}'")
    return sd[key]


def _synthesis_resolutions(sd: dict[str, torch.Tensor], what: str) -> list[int]:
    names = {k.split(".")[1] for k in sd if k.startswith("synthesis.b")}
    res = sorted(int(n[1:]) for n in names if n[1:].isdigit())
    if not res or res[0] != 4 or any(b != 2 * a for a, b in zip(res, res[1:])):
        raise StyleFaceError(f"{what}: unexpected synthesis blocks {res}")
    return res


def _layer(sd: dict[str, torch.Tensor], src: str, dst: str, noise_idx: int, what: str,
           out: dict[str, torch.Tensor], upsample: bool) -> None:
    """One SynthesisLayer -> StyledConv (plus its noise buffer)."""
    out[f"{dst}.conv.weight"] = _get(sd, f"{src}.weight", what).unsqueeze(0)
    out[f"{dst}.conv.modulation.weight"] = _get(sd, f"{src}.affine.weight", what)
    out[f"{dst}.conv.modulation.bias"] = _get(sd, f"{src}.affine.bias", what)
    out[f"{dst}.activate.bias"] = _get(sd, f"{src}.bias", what)
    if f"{src}.noise_const" in sd:
        const = sd[f"{src}.noise_const"]
        out[f"noises.noise_{noise_idx}"] = const.reshape(1, 1, *const.shape[-2:])
        out[f"{dst}.noise.weight"] = _get(sd, f"{src}.noise_strength", what).reshape(1)
    else:  # use_noise=False: a zero strength reproduces it
        out[f"{dst}.noise.weight"] = torch.zeros(1)
    if upsample:
        out[f"{dst}.conv.blur.kernel"] = _get(sd, f"{src}.resample_filter", what) * 4.0


def _torgb(sd: dict[str, torch.Tensor], src: str, dst: str, what: str, out: dict[str, torch.Tensor]) -> None:
    out[f"{dst}.conv.weight"] = _get(sd, f"{src}.weight", what).unsqueeze(0)
    out[f"{dst}.conv.modulation.weight"] = _get(sd, f"{src}.affine.weight", what)
    out[f"{dst}.conv.modulation.bias"] = _get(sd, f"{src}.affine.bias", what)
    out[f"{dst}.bias"] = _get(sd, f"{src}.bias", what).reshape(1, -1, 1, 1)


def convert_generator(
    sd: dict[str, torch.Tensor], what: str = "G_ema",
) -> tuple[dict[str, torch.Tensor], torch.Tensor | None]:
    """NVlabs generator state dict -> (rosinality state dict, latent_avg or None)."""
    n_fc = len([k for k in sd if k.startswith("mapping.fc") and k.endswith(".weight")])
    if n_fc == 0:
        raise StyleFaceError(f"{what}: NVlabs generator has no mapping network")
    if any(k.startswith("mapping.embed.") for k in sd):
        raise StyleFaceError(f"{what}: conditional (class-label) generators are not supported")
    out: dict[str, torch.Tensor] = {}
    for i in range(n_fc):
        out[f"style.{i + 1}.weight"] = _get(sd, f"mapping.fc{i}.weight", what)
        out[f"style.{i + 1}.bias"] = _get(sd, f"mapping.fc{i}.bias", what)
    res = _synthesis_resolutions(sd, what)
    out["input.input"] = _get(sd, "synthesis.b4.const", what).unsqueeze(0)
    _layer(sd, "synthesis.b4.conv1", "conv1", 0, what, out, upsample=False)
    _torgb(sd, "synthesis.b4.torgb", "to_rgb1", what, out)
    for k, r in enumerate(res[1:]):
        b = f"synthesis.b{r}"
        if f"{b}.torgb.weight" not in sd:
            raise StyleFaceError(f"{what}: only the 'skip' generator architecture is supported (no {b}.torgb)")
        _layer(sd, f"{b}.conv0", f"convs.{2 * k}", 2 * k + 1, what, out, upsample=True)
        _layer(sd, f"{b}.conv1", f"convs.{2 * k + 1}", 2 * k + 2, what, out, upsample=False)
        _torgb(sd, f"{b}.torgb", f"to_rgbs.{k}", what, out)
        out[f"to_rgbs.{k}.upsample.kernel"] = _get(sd, f"{b}.resample_filter", what) * 4.0
    for i, r in enumerate([4] + [x for x in res[1:] for _ in range(2)]):
        out.setdefault(f"noises.noise_{i}", torch.zeros(1, 1, r, r))
    return out, sd.get("mapping.w_avg")


def convert_discriminator(sd: dict[str, torch.Tensor], what: str = "D") -> dict[str, torch.Tensor]:
    """NVlabs resnet discriminator state dict -> rosinality state dict (StyleFaceError if not mappable)."""
    if any(k.startswith("mapping.") for k in sd):
        raise StyleFaceError(f"{what}: conditional discriminators are not supported")
    blocks = sorted({int(k.split(".")[0][1:]) for k in sd if k.split(".")[0][1:].isdigit()}, reverse=True)
    if not blocks or blocks[-1] != 4:
        raise StyleFaceError(f"{what}: unexpected discriminator blocks {blocks}")
    size = blocks[0]
    out = {
        "convs.0.0.weight": _get(sd, f"b{size}.fromrgb.weight", what),
        "convs.0.1.bias": _get(sd, f"b{size}.fromrgb.bias", what),
    }
    for j, r in enumerate(blocks[:-1], start=1):
        b, c = f"b{r}", f"convs.{j}"
        if f"{b}.skip.weight" not in sd:
            raise StyleFaceError(f"{what}: only the 'resnet' discriminator architecture is supported")
        out[f"{c}.conv1.0.weight"] = _get(sd, f"{b}.conv0.weight", what)
        out[f"{c}.conv1.1.bias"] = _get(sd, f"{b}.conv0.bias", what)
        out[f"{c}.conv2.0.kernel"] = _get(sd, f"{b}.conv1.resample_filter", what)
        out[f"{c}.conv2.1.weight"] = _get(sd, f"{b}.conv1.weight", what)
        out[f"{c}.conv2.2.bias"] = _get(sd, f"{b}.conv1.bias", what)
        out[f"{c}.skip.0.kernel"] = _get(sd, f"{b}.skip.resample_filter", what)
        out[f"{c}.skip.1.weight"] = _get(sd, f"{b}.skip.weight", what)
    out["final_conv.0.weight"] = _get(sd, "b4.conv.weight", what)
    out["final_conv.1.bias"] = _get(sd, "b4.conv.bias", what)
    out["final_linear.0.weight"] = _get(sd, "b4.fc.weight", what)
    out["final_linear.0.bias"] = _get(sd, "b4.fc.bias", what)
    out["final_linear.1.weight"] = _get(sd, "b4.out.weight", what)
    out["final_linear.1.bias"] = _get(sd, "b4.out.bias", what)
    if out["final_linear.1.weight"].shape[0] != 1:
        raise StyleFaceError(f"{what}: discriminator output is not a single logit")
    return out


def discriminator_options(record: PersistentRecord) -> dict[str, Any]:
    """Constructor options not visible in tensors: the minibatch-stddev group size."""
    b4 = record.child("b4")
    mbstd = b4.child("mbstd") if isinstance(b4, PersistentRecord) else None
    if not isinstance(mbstd, PersistentRecord):
        raise StyleFaceError("D: the discriminator has no minibatch-stddev layer")
    if mbstd.attr("num_channels", 1) != 1:
        raise StyleFaceError("D: only one minibatch-stddev channel is supported")
    group = mbstd.attr("group_size", 4)
    return {"stddev_group": int(group) if isinstance(group, int) and group > 0 else 4}


def nvlabs_networks(obj: Any, source: str) -> tuple[dict[str, torch.Tensor], torch.Tensor | None,
                                                        dict[str, torch.Tensor] | None, dict[str, Any], list[str]]:
    """From an unpickled NVlabs dict: (G_ema rosinality sd, latent_avg, D sd or None, D options, notes)."""
    if not isinstance(obj, dict) or not isinstance(obj.get("G_ema"), PersistentRecord):
        raise StyleFaceError(f"{source} is not an NVlabs network pickle (no 'G_ema' network)")
    g_rec = obj["G_ema"]
    for attr, want in (("c_dim", 0), ("img_channels", 3)):
        got = g_rec.attr(attr, want)
        if got != want:
            raise StyleFaceError(f"{source}: G_ema has {attr}={got}; only {attr}={want} is supported")
    z_dim, w_dim = g_rec.attr("z_dim"), g_rec.attr("w_dim")
    if z_dim is not None and w_dim is not None and z_dim != w_dim:
        raise StyleFaceError(f"{source}: z_dim {z_dim} differs from w_dim {w_dim}; not supported")
    g_sd, latent_avg = convert_generator(record_state_dict(g_rec), f"{source}: G_ema")
    notes: list[str] = []
    d_sd, d_opts = None, {}
    d_rec = obj.get("D")
    if isinstance(d_rec, PersistentRecord):
        try:
            d_sd = convert_discriminator(record_state_dict(d_rec), f"{source}: D")
            d_opts = discriminator_options(d_rec)
        except StyleFaceError as e:
            d_sd, d_opts = None, {}
            notes.append(f"discriminator not converted: {e}")
    return g_sd, latent_avg, d_sd, d_opts, notes
