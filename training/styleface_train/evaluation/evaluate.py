"""``styleface-train eval``: measure a model bundle against the stand-in's truth and / or by FID.

Stand-in evaluation needs the bundle's world: ``provenance.standin`` (the demo bundle builder),
``provenance.generator`` of kind 'standin' (``styleface-train`` bundle export) or ``--standin-*`` options.
The stand-in is always built on the bundle's own face model, so true and generated maps share one UV
layout. Stylecodes come from seeds exactly as
``styleface generate`` draws them (``seed_to_z``), through the stand-in's mapping and truncation.
FID compares a folder of real images with the bundle's 2D generator images, or renders of its 3D faces.
"""
from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import torch
from styleface.bundle import Bundle, open_bundle
from styleface.errors import StyleFaceError
from styleface.pipeline import Pipeline, seed_to_z

from ..common.atomic import atomic_path
from .eval_options import EvalOptions, options_from_args
from .eval_standin import (BundleFaces, FaceSource, feature_masks, mean_maps, uv_errors, uv_face_mask,
                           variety, view_errors)
from ..standin import StandInConfig, StandInGenerator

# -- stand-in world --------------------------------------------------------------------------------
def standin_for_bundle(bundle: Bundle, overrides: dict[str, Any] | None = None
                       ) -> tuple[StandInGenerator, str] | None:
    """The stand-in the bundle was built in (provenance, then ``overrides``), on the bundle's face model;
    None when neither names one. ``provenance.standin`` (demo bundle builder) and ``provenance.generator``
    with kind 'standin' (``styleface-train`` bundle export) both describe it."""
    prov = recorded_standin(bundle.manifest.provenance)
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    if prov is None and not given:
        return None
    names = {f.name for f in fields(StandInConfig)}
    kw = {k: v for k, v in (prov or {}).items() if k in names and k != "face_model"}
    kw.update(given)
    try:
        config = StandInConfig(**kw)
    except TypeError as e:
        raise StyleFaceError(f"bundle {bundle.root}: unusable stand-in description ({e})") from None
    fm_name = (prov or {}).get("face_model_name")
    if fm_name is not None and fm_name != bundle.face_model.name:
        raise StyleFaceError(f"bundle {bundle.root}: its stand-in used face model '{fm_name}' but the bundle holds "
                             f"'{bundle.face_model.name}'")
    m = bundle.manifest
    if (config.style_dim, config.n_latent) != (m.style_dim, m.n_latent):
        raise StyleFaceError(f"stand-in W+ is {config.n_latent}x{config.style_dim} but the bundle's is "
                             f"{m.n_latent}x{m.style_dim} (check the --standin-* options)")
    source = "provenance" if prov is not None and not given else "options" if prov is None else "provenance + options"
    return StandInGenerator(config, model=bundle.face_model).eval(), source


def recorded_standin(provenance: dict[str, Any]) -> dict[str, Any] | None:
    """The stand-in description a bundle's provenance records, if any."""
    for key in ("standin", "generator"):
        d = provenance.get(key)
        if isinstance(d, dict) and (key == "standin" or d.get("kind") == "standin"):
            return d
    return None


def standin_wplus(standin: StandInGenerator, seeds: Sequence[int], truncation: float) -> torch.Tensor:
    """W+ of seeds in the stand-in's world: ``seed_to_z`` (as the pipeline), its mapping, truncation."""
    z = torch.cat([seed_to_z(s, standin.style_dim) for s in seeds])
    return standin.to_wplus(z.to(standin.latent_avg.device), "z", truncation=truncation).contiguous()


def _batches(standin: StandInGenerator, seeds: Sequence[int], psi: float, batch: int) -> list[torch.Tensor]:
    return [standin_wplus(standin, seeds[i:i + batch], psi) for i in range(0, len(seeds), batch)]


def _mapping_matches(bundle: Bundle, standin: StandInGenerator, psi: float) -> bool | None:
    mapping = bundle.networks.get("mapping")
    if mapping is None:
        return None
    seeds = list(range(8))
    z = torch.cat([seed_to_z(s, standin.style_dim) for s in seeds]).to(bundle.device)
    with torch.no_grad():
        ours = mapping.to_wplus(z, truncation=psi).cpu()
    return bool(torch.allclose(ours, standin_wplus(standin, seeds, psi).cpu(), atol=1e-4, rtol=1e-4))


class _Progress:
    def __init__(self, total: int, desc: str, enabled: bool) -> None:
        self.bar = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=desc, unit="code", leave=False)

    def __call__(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def evaluate_standin(source: FaceSource, standin: StandInGenerator, opts: EvalOptions, psi: float,
                     others: dict[str, FaceSource] | None = None) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The stand-in part of the report (UV errors, multi-view) and the strip images; ``others``: compared
    sources whose UV maps are scored on the same codes."""
    if opts.yaw_max > standin.config.yaw_max_deg:
        raise StyleFaceError(f"--yaw-max {opts.yaw_max:g} is beyond the stand-in's yaw range "
                             f"(+-{standin.config.yaw_max_deg:g} degrees)")
    seeds = list(range(opts.seed, opts.seed + opts.count))
    base_seeds = list(range(opts.seed + opts.count, opts.seed + 2 * opts.count))
    batches = _batches(standin, seeds, psi, opts.batch_size)
    mask, mask_from = uv_face_mask(source.model, source.uv_size)
    baseline = mean_maps(standin, _batches(standin, base_seeds, psi, opts.batch_size), source.uv_size)
    bar = _Progress(opts.count, "UV maps", opts.progress)
    uv, seen_fraction = uv_errors(source, standin, batches, baseline, mask.to(standin.latent_avg.device), bar,
                                  others=others)
    bar.close()
    features = uv.feature_table()
    report: dict[str, Any] = {
        "uv": {"size": source.uv_size, "truth_size": standin.config.texture_size, "mask": mask_from,
               "mask_texels": int(mask.sum()), "seen_fraction": seen_fraction,
               "feature_texels": {k: int(v.sum()) for k, v in feature_masks(source.model, mask).items()},
               "baseline": f"mean of the true maps over seeds {base_seeds[0]}..{base_seeds[-1]}",
               "l1": uv.table(), "l1_by_feature": features, "ratios": feature_ratios(features)}}
    n_variety = min(opts.variety_count, opts.count)
    if n_variety >= 2:
        report["variety"] = variety(source, standin, _batches(standin, seeds[:n_variety], psi, opts.batch_size),
                                    mask.to(standin.latent_avg.device))
    images: dict[str, torch.Tensor] = {}
    n_views = opts.count if opts.views_count is None else min(opts.views_count, opts.count)
    if n_views > 0:
        view_batches = _batches(standin, seeds[:n_views], psi, opts.batch_size)
        bar = _Progress(n_views, "views", opts.progress)
        views, images = view_errors(source, standin, view_batches, opts.yaws, opts.view_coeffs,
                                    keep=opts.strip_faces if opts.strip else 0, on_batch=bar)
        bar.close()
        report["views"] = {"coefficients": opts.view_coeffs, "render_mode": standin.renderer.mode,
                           "image_size": standin.config.image_size, **views.summary(opts.yaw_step)}
    return report, images


def feature_ratios(features: dict[str, Any]) -> dict[str, dict[str, dict[str, float | None]]]:
    """{other source: {map: {feature: bundle L1 / other's L1}}} over all texels of each feature region."""
    out: dict[str, dict[str, dict[str, float | None]]] = {}
    for src, maps in features.items():
        if src == "bundle":
            continue
        out[src] = {}
        for m, feats in maps.items():
            out[src][m] = {}
            for f, row in feats.items():
                ours, theirs = features["bundle"][m][f]["all"], row["all"]
                out[src][m][f] = ours / theirs if ours is not None and theirs else None
    return out


# -- FID -------------------------------------------------------------------------------------------
def fake_image_batches(pipeline: Pipeline, kind: str, seeds: Sequence[int], batch: int, psi: float,
                       image_size: int) -> Iterator[torch.Tensor]:
    """Bundle images (B, 3, H, W) in [0, 1]: its 2D generator's, or vertex-mode renders of its 3D faces
    (predicted pose and light, black background)."""
    from styleface.camera import PinholeCamera
    from styleface.render.face import FaceRenderer

    bundle = pipeline.bundle
    renderer = None
    if kind == "render":
        info = bundle.manifest.displacement
        renderer = FaceRenderer(bundle.face_model, PinholeCamera(image_size=image_size), mode="vertex",
                                displacement_scale=info.scale, displacement_midlevel=info.mid_level,
                                displacement_mode="xyz" if info.mode == "generalized-xyz" else "normal",
                                padding_mode=bundle.manifest.uv_padding)
    for i in range(0, len(seeds), batch):
        with torch.no_grad():
            wp = pipeline.wplus(seeds=list(seeds[i:i + batch]), truncation=psi)
            if renderer is None:
                img = (bundle.networks["generator2d"].synthesis(wp, noise="const").clamp(-1, 1) + 1) / 2
            else:
                diffuse, disp = pipeline.uv_maps(wp)
                out = renderer.render(pipeline.coefficients(wp), diffuse, disp)
                img = (out.image * out.mask).clamp(0, 1)
        yield img.float().cpu()


def evaluate_fid(bundle: Bundle, opts: EvalOptions, psi: float) -> dict[str, Any]:
    from .fid import activations, fid_from_features, image_batches, list_images
    from .inception import load_fid_inception

    kind = opts.fid_fake
    if kind == "auto":  # the stand-in shipped as a demo bundle's generator2d is no StyleGAN2: render
        from styleface.standin.network import StandInImageGenerator
        g2d = bundle.networks.get("generator2d")
        kind = "generator2d" if g2d is not None and not isinstance(g2d, StandInImageGenerator) else "render"
    if kind == "generator2d" and bundle.networks.get("generator2d") is None:
        raise StyleFaceError(f"bundle '{bundle.id}' has no 2D generator (use --fid-fake render)")
    files = list_images(opts.fid_real)
    n_fake = len(files) if opts.fid_count is None else opts.fid_count
    if n_fake < 2:
        raise StyleFaceError("--fid-count must be at least 2")
    net = load_fid_inception(opts.inception, opts.device)
    bar = _Progress(len(files) + n_fake, "FID", opts.progress)
    real = activations(net, _counted(image_batches(files, opts.batch_size), bar), opts.device)
    size = opts.fid_image_size or bundle.manifest.image_resolution or 256
    seeds = range(opts.seed, opts.seed + n_fake)
    fake = activations(net, _counted(fake_image_batches(Pipeline(bundle), kind, seeds, opts.batch_size, psi, size),
                                     bar), opts.device)
    bar.close()
    return {"value": fid_from_features(real, fake, opts.fid_method), "method": opts.fid_method,
            "real_folder": str(opts.fid_real), "real_images": len(files), "fake_images": n_fake, "fake": kind,
            "fake_seeds": f"{seeds[0]}..{seeds[-1]}", "render_size": size if kind == "render" else None,
            "features": real.shape[1]}


def _counted(batches: Iterator[torch.Tensor], bar: _Progress) -> Iterator[torch.Tensor]:
    for b in batches:
        bar(b.shape[0])
        yield b


# -- the whole evaluation --------------------------------------------------------------------------
def evaluate_bundle(bundle_path: str | Path, opts: EvalOptions) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Run the requested evaluations; returns the JSON report and the strip images (may be empty)."""
    t0 = time.perf_counter()
    if opts.fid_real is not None:  # fail on missing weights before any long computation
        from .inception import FID_INCEPTION
        from ..common.weightfiles import resolve_weights

        opts.inception = resolve_weights(FID_INCEPTION, opts.inception)
    bundle = open_bundle(bundle_path, opts.device)
    psi = bundle.manifest.truncation if opts.truncation is None else float(opts.truncation)
    report: dict[str, Any] = {"bundle": {"id": bundle.id, "path": str(bundle_path)},
                              "stylecodes": {"count": opts.count, "seeds": f"{opts.seed}..{opts.seed + opts.count - 1}",
                                             "truncation": psi}}
    images: dict[str, torch.Tensor] = {}
    found = standin_for_bundle(bundle, opts.standin_overrides) if opts.standin else None
    if opts.standin and found is None and opts.fid_real is None:
        raise StyleFaceError(f"bundle '{bundle.id}' records no stand-in world (provenance.standin / .generator): "
                             "pass --standin-* options for the stand-in evaluation, or --fid-real for FID")
    if opts.standin and found is None:
        report["notes"] = ["stand-in evaluation skipped: the bundle records no stand-in world "
                           "and no --standin-* option was given"]
    if found is not None:
        standin, where = found
        standin.to(bundle.device)
        report["standin"] = {"source": where, **asdict(standin.config), "face_model": bundle.face_model.name,
                             "bundle_mapping_matches": _mapping_matches(bundle, standin, psi)}
        others = compared_sources(bundle, opts.compare)
        if others:
            report["compared"] = {name: str(path) for name, path in zip(others, opts.compare)}
        part, images = evaluate_standin(BundleFaces(bundle), standin, opts, psi, others)
        report.update(part)
    if opts.fid_real is not None:
        report["fid"] = {**evaluate_fid(bundle, opts, psi), "inception": str(opts.inception)}
    report["seconds"] = round(time.perf_counter() - t0, 1)
    return report, images


def compared_sources(bundle: Bundle, paths: Sequence[Path]) -> dict[str, FaceSource]:
    """The ``--compare`` bundles as FaceSources named by their ids; each must take the same W+."""
    out: dict[str, FaceSource] = {}
    m = bundle.manifest
    for path in paths:
        other = open_bundle(path, bundle.device)
        om = other.manifest
        if (om.n_latent, om.style_dim) != (m.n_latent, m.style_dim):
            raise StyleFaceError(f"--compare {path}: its W+ is {om.n_latent}x{om.style_dim}, the evaluated "
                                 f"bundle's {m.n_latent}x{m.style_dim}")
        if other.face_model.name != bundle.face_model.name:
            raise StyleFaceError(f"--compare {path}: face model '{other.face_model.name}', the evaluated bundle's "
                                 f"is '{bundle.face_model.name}' (their UV layouts differ)")
        name = other.id if other.id not in out and other.id not in ("bundle", "mean_baseline") else str(path)
        out[name] = BundleFaces(other)
    return out


def write_strip(images: dict[str, torch.Tensor], path: Path) -> Path:
    """PNG: for each face a stand-in row above a bundle row, one column per yaw, 2 px white gaps."""
    from PIL import Image

    s, b = images["standin"], images["bundle"]  # (F, Y, 3, H, W)
    f, y, _, h, w = s.shape
    gap = 2
    sheet = np.ones((2 * f * (h + gap) - gap, y * (w + gap) - gap, 3), np.float32)
    for i in range(f):
        for r, src in enumerate((s, b)):
            top = (2 * i + r) * (h + gap)
            for j in range(y):
                left = j * (w + gap)
                sheet[top:top + h, left:left + w] = src[i, j].permute(1, 2, 0).cpu().numpy()
    with atomic_path(path) as tmp:
        Image.fromarray((np.clip(sheet, 0, 1) * 255 + 0.5).astype(np.uint8)).save(tmp, format="PNG")
    return path


def _finite(x: Any) -> Any:
    """JSON without Infinity / NaN: non-finite numbers become null (PSNR of identical images is infinite)."""
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def _f(x: float | None, digits: int = 4) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def format_report(r: dict[str, Any]) -> str:
    """The report as a readable text table."""
    lines = [f"bundle {r['bundle']['id']} ({r['bundle']['path']})",
             f"stylecodes: {r['stylecodes']['count']} (seeds {r['stylecodes']['seeds']}, "
             f"truncation {r['stylecodes']['truncation']:g})"]
    if "standin" in r:
        s = r["standin"]
        lines.append(f"stand-in: world seed {s['seed']}, {s['image_size']} px images, {s['texture_size']} px maps, "
                     f"face model {s['face_model']} (from {s['source']}); bundle mapping = stand-in mapping: "
                     f"{s['bundle_mapping_matches']}")
    if "uv" in r:
        u = r["uv"]
        lines += ["", f"UV maps: mean L1 over texels inside the UV mask ({u['size']} px, {u['mask_texels']} texels; "
                      f"{100 * u['seen_fraction']:.1f}% seen by the original view)",
                  f"  {'map':<13}{'source':<15}{'seen':>9}{'unseen':>9}{'all':>9}"]
        width = max([15] + [len(s) + 2 for s in u["l1"]])
        lines[-1] = f"  {'map':<13}{'source':<{width}}{'seen':>9}{'unseen':>9}{'all':>9}"
        for m in ("diffuse", "displacement"):
            for src, row in u["l1"].items():
                v = row[m]
                lines.append(f"  {m:<13}{src:<{width}}{_f(v['seen']):>9}{_f(v['unseen']):>9}{_f(v['all']):>9}")
        if "l1_by_feature" in u:
            texels = ", ".join(f"{k} {n}" for k, n in u["feature_texels"].items())
            lines += ["", f"UV maps by region ({texels} texels)",
                      f"  {'map':<13}{'region':<7}{'source':<{width}}{'seen':>9}{'unseen':>9}{'all':>9}"]
            for m in ("diffuse", "displacement"):
                for f in next(iter(u["l1_by_feature"].values()))[m]:
                    for src, row in u["l1_by_feature"].items():
                        v = row[m][f]
                        lines.append(f"  {m:<13}{f:<7}{src:<{width}}{_f(v['seen']):>9}{_f(v['unseen']):>9}"
                                     f"{_f(v['all']):>9}")
            for src, maps in u.get("ratios", {}).items():
                d = maps["diffuse"]
                lines.append(f"  diffuse L1 bundle / {src}: " + ", ".join(f"{f} {_f(x, 2)}" for f, x in d.items()))
    if "variety" in r:
        v = r["variety"]
        lines += ["", f"variety over {v['count']} codes: mean pairwise RMS distance, bundle vs the stand-in's truth",
                  *(f"  {k:<8} bundle {v[k]['bundle']:.4f}  stand-in {v[k]['standin']:.4f}  ratio "
                    f"{_f(v[k]['ratio'], 2)}" for k in ("shape", "diffuse"))]
    if "views" in r:
        v = r["views"]
        row = lambda name, xs, fmt: f"  {name:<11}" + "".join(f"{x:>8{fmt}}" for x in xs)  # noqa: E731
        by_change = ", ".join(f"{b['from_deg']:g}-{b['to_deg']:g} deg {b['l1']:.4f} ({b['views']})"
                              for b in v["by_yaw_change"])
        lines += ["", f"multi-view: {v['count']} faces rendered ({v['render_mode']} mode, {v['coefficients']} "
                      f"coefficients, yaw set) vs the stand-in's image at the same yaw; union of face masks",
                  row("yaw (deg)", v["yaws_deg"], "g") + f"{'mean':>8}",
                  row("L1", v["l1"] + [v["mean_l1"]], ".4f"),
                  row("PSNR (dB)", v["psnr_db"] + [v["mean_psnr_db"]], ".2f"),
                  f"  L1 by |view yaw - original yaw| (views): {by_change}"]
    if "fid" in r:
        f = r["fid"]
        lines += ["", f"FID {f['value']:.3f} ({f['method']}): {f['real_images']} real images ({f['real_folder']}) "
                      f"vs {f['fake_images']} bundle images ({f['fake']})"]
    lines += [f"note: {n}" for n in r.get("notes", [])]
    lines.append(f"({r['seconds']} s)")
    return "\n".join(lines)

def run(args: argparse.Namespace) -> int:
    """The ``eval`` subcommand: evaluate, print the table, write the JSON report and the strip."""
    opts = options_from_args(args)
    report, images = evaluate_bundle(args.bundle, opts)
    print(format_report(report))
    if args.out is not None:
        with atomic_path(args.out) as tmp:
            tmp.write_text(json.dumps(_finite(report), indent=1) + "\n", encoding="utf-8")
        print(f"wrote {args.out}")
    if opts.strip is not None and images:
        print(f"wrote {write_strip(images, opts.strip)}")
    return 0
