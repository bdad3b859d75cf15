"""Scoring generated faces against the procedural stand-in's ground truth.

The stand-in knows, for every W+ code, the true coefficients and UV maps and can render the same face
at any yaw, so a bundle built in its world can be measured where the paper can only look:

- UV error: mean L1 of the UV generator's diffuse and displacement against the true maps over the
  texels inside the face model's UV mask, split into texels the original view sees (StyleFaceUV's
  texel visibility of the true pose, direct method) and texels it does not: the symmetric-view loss
  exists to fill the unseen ones, so this split shows whether it did. The mean-map baseline (the mean of
  the true maps over other codes) gives the scale. The same errors per feature region (eyes, brows,
  lips, the rest of the skin) show whether the small features were learned: a network can beat the
  mean map over the whole map with smooth skin alone, and those texels are few.
- Multi-view consistency: the generated face (coefficients + UV maps) rendered at fixed yaws with the
  project's renderer in the stand-in's render mode, against the stand-in's image of the same code at the
  same yaw; masked L1 and PSNR over the union of both face masks, both on black.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from styleface.camera import PinholeCamera
from styleface.facemodel.model import FaceModel
from styleface.render.face import FaceRenderer
from styleface.render.visibility import direct_visibility

from ..standin import DISPLACEMENT_SCALE, StandInGenerator

REGIONS = ("seen", "unseen", "all")
FEATURES = ("eyes", "brows", "lips", "skin")  # skin: the UV mask less the three feature regions
MAPS = ("diffuse", "displacement")
COEFF_SOURCES = ("bundle", "truth")


class FaceSource(Protocol):
    """What is evaluated: W+ -> flat coefficients (B, C) and UV maps (diffuse [0, 1], displacement [-1, 1])."""

    model: FaceModel
    uv_size: int
    displacement_scale: float
    displacement_mode: str
    displacement_midlevel: float

    def coefficients(self, wplus: torch.Tensor) -> torch.Tensor: ...

    def uv_maps(self, wplus: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]: ...


class BundleFaces:
    """A loaded bundle (``styleface.bundle.open_bundle``) as a FaceSource: F3D and the UV generator
    with its fixed noise, i.e. exactly what ``styleface generate`` produces for the same W+."""

    def __init__(self, bundle) -> None:
        self.model = bundle.face_model
        self.f3d, self.uvgen = bundle.networks["f3d"], bundle.networks["uvgen"]
        self.uv_size = int(bundle.manifest.uv_resolution)
        info = bundle.manifest.displacement
        self.displacement_scale = float(info.scale)
        self.displacement_mode = "xyz" if info.mode == "generalized-xyz" else "normal"
        self.displacement_midlevel = float(info.mid_level)

    @torch.no_grad()
    def coefficients(self, wplus: torch.Tensor) -> torch.Tensor:
        return self.f3d(wplus)

    @torch.no_grad()
    def uv_maps(self, wplus: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.uvgen(wplus, noise="const")


class StandInFaces:
    """The stand-in's own truth as a FaceSource: every error is zero (a self-check of the evaluation)."""

    def __init__(self, standin: StandInGenerator) -> None:
        self.standin, self.model = standin, standin.face_model
        self.uv_size = standin.config.texture_size
        self.displacement_scale, self.displacement_mode, self.displacement_midlevel = DISPLACEMENT_SCALE, "xyz", 0.0

    @torch.no_grad()
    def coefficients(self, wplus: torch.Tensor) -> torch.Tensor:
        return self.standin.coefficients(wplus)

    @torch.no_grad()
    def uv_maps(self, wplus: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.standin.maps(wplus)


# -- helpers ---------------------------------------------------------------------------------------
def resample_maps(maps: torch.Tensor, size: int) -> torch.Tensor:
    """(B, C, T, T) -> (B, C, size, size): area average when shrinking, bilinear when growing."""
    if maps.shape[-1] == size:
        return maps
    if maps.shape[-1] > size:
        return F.interpolate(maps, size=(size, size), mode="area")
    return F.interpolate(maps, size=(size, size), mode="bilinear", align_corners=False)


def uv_face_mask(model: FaceModel, size: int) -> tuple[torch.Tensor, str]:
    """(size, size) bool mask of the texels that count, and where it came from.

    The model's UV mask (nearest-neighbour resized) when it has one, else every texel a triangle of its
    UV layout covers.
    """
    if model.uv_mask is not None:
        m = torch.as_tensor(np.asarray(model.uv_mask, dtype=np.float32))[None, None]
        return F.interpolate(m, size=(size, size), mode="nearest")[0, 0] > 0.5, "model uv_mask"
    from styleface.facemodel.procedural import rasterize_uv_coverage

    cover = rasterize_uv_coverage(np.asarray(model.uvs), np.asarray(model.triangles), size) > 0
    return torch.as_tensor(cover), "UV coverage of all triangles (the model has no uv_mask)"


def feature_masks(model: FaceModel, mask: torch.Tensor) -> dict[str, torch.Tensor]:
    """{eyes, brows, lips, skin}: (size, size) bool. Eyes, brows and lips are the face model's region
    layers above one half wherever its UV layout has texels (a whole-head model keeps its eyeballs outside
    the face mask); skin is ``mask`` less those three. A model without a region gets an empty mask for it."""
    from styleface.texture import UVLayers

    size = mask.shape[-1]
    layers = UVLayers.for_model(model, size)
    covered = torch.as_tensor(np.asarray(layers.covered) > 0) | mask.cpu()
    out: dict[str, torch.Tensor] = {}
    for name in FEATURES[:-1]:
        out[name] = torch.as_tensor(layers.region(name) > 0.5) & covered
    out["skin"] = mask.cpu() & ~(out["eyes"] | out["brows"] | out["lips"])
    return out


def visibility_regions(standin: StandInGenerator, coeffs: torch.Tensor, displacement: torch.Tensor,
                       mask: torch.Tensor, size: int) -> dict[str, torch.Tensor]:
    """{seen, unseen, all, visible}: (B, 1, size, size) bool; seen and unseen partition ``all`` (the UV
    mask). Seen texels are those of the mask that the stand-in's render of the true pose accesses
    (``direct_visibility``); ``visible`` is every texel it accesses, inside the mask or not.
    """
    vis = direct_visibility(standin.renderer, coeffs, (size, size), displacement)
    inside = mask.to(vis.device).view(1, 1, size, size).expand_as(vis)
    return {"seen": vis & inside, "unseen": ~vis & inside, "all": inside, "visible": vis}


def yaw_shift(standin: StandInGenerator, wplus: torch.Tensor, yaw_rad: float | torch.Tensor) -> torch.Tensor:
    """W+ codes whose stand-in face is the same face at yaw ``yaw_rad`` (clamped to the stand-in's range).

    The stand-in's yaw factor is a fixed projection of whitened W+, orthogonal to every other factor's,
    so moving every row along ``p @ whiten^-1`` (p: the yaw projection) changes the yaw and nothing else.
    """
    lat = standin.latent
    col = lat.slots["yaw"].start
    p = lat.projection[:, col].double()
    step = torch.linalg.solve(lat.whiten.double().T, p).to(wplus)   # whitened change per unit step: p
    per_sigma = standin.config.yaw_deg_per_sigma * math.pi / 180
    target = torch.as_tensor(yaw_rad, dtype=wplus.dtype, device=wplus.device) / per_sigma
    current = lat.factors(wplus)["yaw"][:, 0]
    t = (target - current) / float(p @ p)
    return wplus + t.view(-1, 1, 1) * step.view(1, 1, -1)


def _pool(x: torch.Tensor, aa: int) -> torch.Tensor:
    return F.avg_pool2d(x, aa) if aa > 1 else x


# -- accumulators ----------------------------------------------------------------------------------
@dataclass
class UVErrors:
    """Running sums of |prediction - truth| per (source, map, region) and texel-channel counts per region."""

    sums: dict[tuple[str, str, str], float] = field(default_factory=dict)
    counts: dict[tuple[str, str, str], float] = field(default_factory=dict)

    def add(self, source: str, which: str, pred: torch.Tensor, truth: torch.Tensor,
            regions: dict[str, torch.Tensor]) -> None:
        err = (pred.float() - truth.float()).abs()
        for name, region in regions.items():
            key = (source, which, name)
            self.sums[key] = self.sums.get(key, 0.0) + float((err * region).sum())
            self.counts[key] = self.counts.get(key, 0.0) + float(region.sum()) * err.shape[1]

    def mean(self, source: str, which: str, region: str) -> float | None:
        n = self.counts.get((source, which, region), 0.0)
        return self.sums[(source, which, region)] / n if n > 0 else None

    def sources(self) -> list[str]:
        """The bundle first, the mean-map baseline last, compared bundles between."""
        return sorted({k[0] for k in self.sums}, key=lambda s: (s != "bundle", s == "mean_baseline", s))

    def table(self) -> dict[str, dict[str, dict[str, float | None]]]:
        return {s: {m: {r: self.mean(s, m, r) for r in REGIONS} for m in MAPS} for s in self.sources()}

    def feature_table(self) -> dict[str, dict[str, dict[str, dict[str, float | None]]]]:
        """{source: {map: {feature: {seen, unseen, all}}}} (regions named 'feature/visibility')."""
        return {s: {m: {f: {r: self.mean(s, m, f"{f}/{r}") for r in REGIONS} for f in FEATURES} for m in MAPS}
                for s in self.sources()}


@dataclass
class ViewErrors:
    """Per code and yaw: sum |a - b|, sum (a - b)^2 and the number of values inside the union mask."""

    yaws_deg: list[float]
    l1: list[np.ndarray] = field(default_factory=list)
    sq: list[np.ndarray] = field(default_factory=list)
    n: list[np.ndarray] = field(default_factory=list)
    original_yaw_deg: list[np.ndarray] = field(default_factory=list)

    def add(self, l1: torch.Tensor, sq: torch.Tensor, n: torch.Tensor, yaw0: torch.Tensor) -> None:
        self.l1.append(l1.double().cpu().numpy())
        self.sq.append(sq.double().cpu().numpy())
        self.n.append(n.double().cpu().numpy())
        self.original_yaw_deg.append(yaw0.double().cpu().numpy())

    def summary(self, bin_deg: float) -> dict:
        l1, sq, n = (np.concatenate(x) for x in (self.l1, self.sq, self.n))  # (N, Y)
        yaw0 = np.concatenate(self.original_yaw_deg)
        safe = lambda a, b: float(a / b) if b > 0 else float("nan")  # noqa: E731
        per_l1 = [safe(l1[:, j].sum(), n[:, j].sum()) for j in range(len(self.yaws_deg))]
        per_mse = [safe(sq[:, j].sum(), n[:, j].sum()) for j in range(len(self.yaws_deg))]
        psnr = [10 * math.log10(1 / m) if m > 0 else float("inf") for m in per_mse]
        delta = np.abs(np.asarray(self.yaws_deg)[None, :] - yaw0[:, None])
        bins = np.floor(delta / bin_deg).astype(int)
        by_delta = []
        for b in range(int(bins.max()) + 1):
            sel = bins == b
            if sel.any():
                by_delta.append({"from_deg": b * bin_deg, "to_deg": (b + 1) * bin_deg, "views": int(sel.sum()),
                                 "l1": safe(l1[sel].sum(), n[sel].sum())})
        return {"yaws_deg": list(self.yaws_deg), "l1": per_l1, "psnr_db": psnr,
                "mean_l1": float(np.mean(per_l1)), "mean_psnr_db": float(np.mean(psnr)),
                "by_yaw_change": by_delta, "count": int(l1.shape[0])}


# -- evaluation ------------------------------------------------------------------------------------
@torch.no_grad()
def uv_errors(source: FaceSource, standin: StandInGenerator, batches: Sequence[torch.Tensor],
              baseline: tuple[torch.Tensor, torch.Tensor] | None, mask: torch.Tensor,
              on_batch: Callable[[int], None] | None = None,
              others: dict[str, FaceSource] | None = None) -> tuple[UVErrors, float]:
    """Accumulated UV errors of ``source``, of each of ``others`` (compared bundles, maps resampled to
    ``source``'s size) and of the constant ``baseline`` maps over W+ batches, per visibility region and
    per feature region x visibility; and the mean fraction of mask texels the original view sees."""
    size = source.uv_size
    acc = UVErrors()
    seen = total = 0.0
    features = {k: v.to(mask.device) for k, v in feature_masks(source.model, mask).items()}
    for wp in batches:
        diffuse_t, disp_t = standin.maps(wp)
        coeffs = standin.coefficients(wp)
        regions = visibility_regions(standin, coeffs, disp_t, mask, size)
        for f, fm in features.items():
            fm = fm.view(1, 1, size, size)
            seen_f = regions["visible"] & fm
            regions.update({f"{f}/seen": seen_f, f"{f}/unseen": ~seen_f & fm, f"{f}/all": fm.expand_as(seen_f)})
        del regions["visible"]
        truth = {"diffuse": resample_maps(diffuse_t, size), "displacement": resample_maps(disp_t, size)}
        for i, (which, p) in enumerate(zip(MAPS, source.uv_maps(wp))):
            acc.add("bundle", which, p, truth[which], regions)
            if baseline is not None:
                acc.add("mean_baseline", which, baseline[i].expand_as(p), truth[which], regions)
        for name, other in (others or {}).items():
            for which, p in zip(MAPS, other.uv_maps(wp)):
                acc.add(name, which, resample_maps(p, size), truth[which], regions)
        seen += float(regions["seen"].sum())
        total += float(regions["all"].sum())
        if on_batch is not None:
            on_batch(wp.shape[0])
    return acc, (seen / total if total else float("nan"))


@torch.no_grad()
def mean_maps(standin: StandInGenerator, batches: Sequence[torch.Tensor], size: int
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """The mean true diffuse and displacement maps (1, 3, size, size) over W+ batches."""
    sums, n = None, 0
    for wp in batches:
        d, p = standin.maps(wp)
        s = [resample_maps(d, size).sum(0, keepdim=True), resample_maps(p, size).sum(0, keepdim=True)]
        sums = s if sums is None else [a + b for a, b in zip(sums, s)]
        n += wp.shape[0]
    return sums[0] / n, sums[1] / n


def source_renderer(source: FaceSource, standin: StandInGenerator) -> FaceRenderer:
    """The project's renderer for the evaluated faces with the stand-in's camera and render mode."""
    c = standin.config
    return FaceRenderer(source.model, PinholeCamera(image_size=c.image_size * c.antialias), mode=standin.renderer.mode,
                        displacement_scale=source.displacement_scale, displacement_mode=source.displacement_mode,
                        displacement_midlevel=source.displacement_midlevel)


@torch.no_grad()
def view_errors(source: FaceSource, standin: StandInGenerator, batches: Sequence[torch.Tensor],
                yaws_deg: Sequence[float], coeff_source: str = "bundle", keep: int = 0,
                on_batch: Callable[[int], None] | None = None) -> tuple[ViewErrors, dict[str, torch.Tensor]]:
    """Per-yaw photometric errors of ``source``'s faces against the stand-in's images of the same codes.

    ``coeff_source``: 'bundle' renders the source's own coefficients (F3D) with the yaw replaced, 'truth'
    the stand-in's true coefficients with the yaw replaced (isolates the UV maps). Returns the errors and,
    for the first ``keep`` codes, the images {'standin', 'bundle'}: (keep, Y, 3, H, W) on black.
    """
    if coeff_source not in COEFF_SOURCES:
        raise ValueError(f"coeff_source must be one of {COEFF_SOURCES}")
    renderer = source_renderer(source, standin)
    aa = standin.config.antialias
    yi = source.model.layout.yaw_index
    acc = ViewErrors([float(y) for y in yaws_deg])
    kept: dict[str, list[torch.Tensor]] = {"standin": [], "bundle": []}
    n_kept = 0
    for wp in batches:
        truth_c = standin.coefficients(wp)
        coeffs = (source.coefficients(wp) if coeff_source == "bundle" else truth_c).clone()
        diffuse, disp = source.uv_maps(wp)
        background = standin.background(standin.latent.factors(wp), standin.config.image_size)
        rows = {"l1": [], "sq": [], "n": []}
        imgs: dict[str, list[torch.Tensor]] = {"standin": [], "bundle": []}
        for yaw in yaws_deg:
            rad = math.radians(float(yaw))
            image, truth = standin.synthesis(yaw_shift(standin, wp, rad), return_truth=True)
            mask_s = truth["mask"]
            face_s = ((image + 1) / 2 - background * (1 - mask_s)).clamp(0, 1)
            coeffs[:, yi] = rad
            out = renderer.render(coeffs, diffuse, disp)
            mask_b = _pool(out.mask, aa)
            face_b = _pool(out.image * out.mask, aa).clamp(0, 1)
            union = ((mask_s > 0) | (mask_b > 0)).to(face_s.dtype)
            diff = (face_b - face_s) * union
            rows["l1"].append(diff.abs().sum((1, 2, 3)))
            rows["sq"].append(diff.pow(2).sum((1, 2, 3)))
            rows["n"].append(union.sum((1, 2, 3)) * face_s.shape[1])
            if n_kept < keep:
                imgs["standin"].append(face_s[:keep - n_kept])
                imgs["bundle"].append(face_b[:keep - n_kept])
        acc.add(*(torch.stack(rows[k], 1) for k in ("l1", "sq", "n")), torch.rad2deg(truth_c[:, yi]))
        if n_kept < keep:
            for k in kept:
                kept[k].append(torch.stack(imgs[k], 1))
            n_kept += kept["standin"][-1].shape[0]
        if on_batch is not None:
            on_batch(wp.shape[0])
    images = {k: torch.cat(v) for k, v in kept.items() if v}
    return acc, images


# -- variety ---------------------------------------------------------------------------------------
def mean_pairwise_distance(x: torch.Tensor) -> float:
    """Mean over all pairs i < j of the RMS difference between rows of ``x`` (N, D)."""
    x = x.double().flatten(1)
    sq = (x * x).sum(1)
    d2 = (sq[:, None] + sq[None, :] - 2 * x @ x.T).clamp_min(0) / x.shape[1]
    i, j = torch.triu_indices(len(x), len(x), 1)
    return float(d2[i, j].sqrt().mean())


@torch.no_grad()
def variety(source: FaceSource, standin: StandInGenerator, batches: Sequence[torch.Tensor],
            mask: torch.Tensor) -> dict[str, Any]:
    """How different the faces of distinct codes are, next to the stand-in's own faces of the same codes.

    A network that regresses to the mean makes a crowd of clones while its average error stays small;
    this measures the spread itself: the mean pairwise RMS distance of the neutral-pose shapes (identity
    and expression, model units) and of the diffuse maps inside the UV mask, for the source and for the
    stand-in's truth, and their ratio (1: as varied as the world it learned from).
    """
    from styleface.geometry import face_shape

    tensors = source.model.tensors(mask.device)
    layout = source.model.layout
    shapes: dict[str, list[torch.Tensor]] = {"bundle": [], "standin": []}
    diffuse: dict[str, list[torch.Tensor]] = {"bundle": [], "standin": []}
    inside = mask.flatten()
    for wp in batches:
        for name, coeffs, maps in (("bundle", source.coefficients(wp), source.uv_maps(wp)[0]),
                                   ("standin", standin.coefficients(wp), standin.maps(wp)[0])):
            shapes[name].append(face_shape(tensors, coeffs[:, layout.slice("id")], coeffs[:, layout.slice("exp")]))
            maps = resample_maps(maps, source.uv_size)
            diffuse[name].append(maps.flatten(2)[:, :, inside].float())
    out: dict[str, Any] = {"count": int(sum(len(b) for b in batches))}
    for what, data in (("shape", shapes), ("diffuse", diffuse)):
        ours, theirs = (mean_pairwise_distance(torch.cat(data[k])) for k in ("bundle", "standin"))
        out[what] = {"bundle": ours, "standin": theirs, "ratio": ours / theirs if theirs > 0 else None}
    return out
