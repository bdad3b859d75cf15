"""``styleface-train all``: one command from a generator and a face model to a finished bundle.

Stages, each in its own folder under the run folder and skipped when its final output exists (a stage
that was interrupted resumes, because every stage is resumable on its own):

    samples/  stylecodes (+ images when fitting)      sample
    fits/     3DMM fits of the images                 fit            (skipped with --coeffs truth)
    f3d/      f3d.safetensors                         f3d
    yaw/      yaw_direction.safetensors               yaw-direction
    fyaw/     yaw_symmetry.safetensors                fyaw
    uvgen/    uvgen.safetensors                       uvgen
    bundle/   bundle.json + networks                  export
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from styleface.errors import StyleFaceError

from ..common.atomic import atomic_write_text
from ..common.trainloop import LoopConfig

STAGES = ("sample", "fit", "f3d", "yaw-direction", "fyaw", "uvgen", "export")


@dataclass
class AllOptions:
    out: Path
    generator: str = "standin"
    generator_options: dict[str, Any] = field(default_factory=dict)
    face_model: str | None = None          # fitting / UV training face model (None: the stand-in's, else demo)
    coeffs: str = "auto"                   # truth (stand-in only) | fit | auto (truth on the stand-in)
    count: int = 40_000                    # stylecodes for F3D and Fyaw
    sample_batch: int = 64
    truncation: float = 1.0
    fit_limit: int | None = None           # fit only the first N items per shard
    fit_batch: int = 8
    shard_size: int = 1000
    svm_count: int = 200_000
    svm: str = "svc"
    f3d_loop: LoopConfig = field(default_factory=lambda: LoopConfig(epochs=25, batch_size=16, lr=1e-5))
    fyaw_loop: LoopConfig = field(default_factory=lambda: LoopConfig(epochs=25, batch_size=16, lr=1e-3))
    f3d_hidden: tuple[int, ...] | None = None   # None: the paper's widths (9,6,3,1 x style size)
    fyaw_hidden: tuple[int, ...] | None = None
    uvgen: Any = None                      # a UVGenConfig (None: its defaults)
    init_uvgen: Path | None = None         # start the UV generator from this trained one (fine-tuning)
    bundle_id: str = "styleface-trained"
    bundle_name: str = ""
    bundle_description: str = ""
    device: str = "cpu"
    seed: int = 0
    progress: bool = True


def resolve_coeffs(opts: AllOptions) -> str:
    if opts.coeffs not in ("auto", "truth", "fit"):
        raise StyleFaceError(f"--coeffs must be auto, truth or fit, got '{opts.coeffs}'")
    if opts.coeffs == "auto":
        return "truth" if opts.generator == "standin" else "fit"
    if opts.coeffs == "truth" and opts.generator != "standin":
        raise StyleFaceError("--coeffs truth needs the stand-in generator (real images have no true coefficients)")
    return opts.coeffs


def _dataset_done(folder: Path, prefix: str) -> bool:
    from ..data.shards import dataset_files

    if not (folder / "manifest.json").is_file():
        return False
    try:
        dataset_files(folder, prefix)
    except StyleFaceError:
        return False
    return True


def stage_outputs(out: Path) -> dict[str, Callable[[], bool]]:
    """For each stage, whether its final output exists (then the stage is skipped)."""
    return {
        "sample": lambda: _dataset_done(out / "samples", "shard"),
        "fit": lambda: _dataset_done(out / "fits", "fit"),
        "f3d": lambda: (out / "f3d" / "f3d.safetensors").is_file(),
        "yaw-direction": lambda: (out / "yaw" / "yaw_direction.safetensors").is_file(),
        "fyaw": lambda: (out / "fyaw" / "yaw_symmetry.safetensors").is_file(),
        "uvgen": lambda: (out / "uvgen" / "uvgen.safetensors").is_file(),
        "export": lambda: (out / "bundle" / "bundle.json").is_file(),
    }


def run_all(opts: AllOptions, log: Callable[[str], None] = print) -> Path:
    """Run every stage that has not finished yet; return the bundle folder."""
    from ..standin.generators import load_generator

    coeffs = resolve_coeffs(opts)
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    done = stage_outputs(out)
    handle = load_generator(opts.generator, opts.generator_options, opts.device)
    report_path = out / "all_report.json"
    report: dict[str, Any] = json.loads(report_path.read_text()) if report_path.is_file() else {}
    coeff_source = "truth" if coeffs == "truth" else str(out / "fits")

    def stage(name: str, run: Callable[[], Any]) -> None:
        if done[name]():
            log(f"[{name}] skipped: output exists")
            return
        log(f"[{name}] running")
        t0 = time.perf_counter()
        result = run()
        if not done[name]():
            raise StyleFaceError(f"stage {name} finished without writing its output")
        report[name] = {"seconds": round(time.perf_counter() - t0, 1),
                        **({"result": result} if isinstance(result, dict) else {})}
        atomic_write_text(report_path, json.dumps(report, indent=1, default=str))
        log(f"[{name}] done in {report[name]['seconds']:.0f} s")

    def sample() -> None:
        from ..data.sample import SampleOptions, generate_dataset

        generate_dataset(handle, SampleOptions(out=out / "samples", count=opts.count, base_seed=opts.seed,
                                               shard_size=opts.shard_size, truncation=opts.truncation,
                                               batch_size=opts.sample_batch, images=coeffs == "fit",
                                               device=opts.device, progress=opts.progress))

    def fit() -> None:
        from ..fitting.fit import FitConfig
        from ..fitting.fit_run import FitRunOptions, run_fit

        landmarks = "truth" if opts.generator == "standin" else "face_alignment"
        run_fit(FitRunOptions(samples=out / "samples", out=out / "fits", landmarks=landmarks,
                              face_model=opts.face_model, batch_size=opts.fit_batch, device=opts.device,
                              limit=opts.fit_limit, progress=opts.progress), FitConfig())

    def f3d() -> dict:
        from ..f3d_yaw.f3d import F3DOptions, train_f3d

        return train_f3d(F3DOptions(samples=out / "samples", out=out / "f3d", coeffs=coeff_source,
                                    hidden=opts.f3d_hidden, device=opts.device, progress=opts.progress),
                         opts.f3d_loop)

    def yaw_direction() -> dict:
        from ..common.modelfile import load_f3d
        from ..f3d_yaw.yaw_direction import YawDirectionOptions, find_direction

        return find_direction(load_f3d(out / "f3d"), handle,
                              YawDirectionOptions(out=out / "yaw", count=opts.svm_count, svm=opts.svm,
                                                  seed=opts.seed, truncation=opts.truncation, device=opts.device))

    def fyaw() -> dict:
        from ..f3d_yaw.fyaw import FyawOptions, train_fyaw

        return train_fyaw(FyawOptions(samples=out / "samples", f3d=out / "f3d", direction=out / "yaw",
                                      out=out / "fyaw", coeffs=coeff_source, hidden=opts.fyaw_hidden,
                                      device=opts.device, progress=opts.progress), opts.fyaw_loop)

    def uvgen() -> dict:
        from dataclasses import replace

        from ..uvgen.uvgen_config import UVGenConfig
        from ..uvgen.uvgen_setup import UVGenOptions
        from ..uvgen.uvgen_train import train_uvgen

        cfg = replace(opts.uvgen or UVGenConfig(), device=opts.device, progress=opts.progress)
        return train_uvgen(UVGenOptions(out=out / "uvgen", f3d=out / "f3d", yaw=out / "fyaw", generator=handle,
                                        generator_options=opts.generator_options,
                                        face_model=opts.face_model, init_uvgen=opts.init_uvgen), cfg, log=log)

    def export() -> None:
        from .export import ExportOptions, export_bundle

        provenance = {"pipeline": "styleface-train all", "coeffs": coeffs, "count": opts.count,
                      "stages": {k: v for k, v in report.items()}}
        face_model = None
        if opts.generator != "standin":
            from styleface.facemodel import load_face_model

            face_model = load_face_model(opts.face_model or "demo")
        export_bundle(handle, ExportOptions(out=out / "bundle", f3d=out / "f3d", yaw=out / "fyaw",
                                            uvgen=out / "uvgen", bundle_id=opts.bundle_id,
                                            name=opts.bundle_name, description=opts.bundle_description,
                                            provenance=provenance), face_model)

    stage("sample", sample)
    if coeffs == "fit":
        stage("fit", fit)
    stage("f3d", f3d)
    stage("yaw-direction", yaw_direction)
    stage("fyaw", fyaw)
    stage("uvgen", uvgen)
    stage("export", export)
    return out / "bundle"
