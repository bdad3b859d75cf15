"""One front for the CLI over the two ways of making faces: a bundle's Pipeline, or the procedural
generator (the demo face model's prior with painted textures, no networks)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .assets import FaceAssets
from .errors import StyleFaceError
from .export.atomic import atomic_path
from .facemodel.model import FaceModel

PROCEDURAL = "procedural"


class FaceSource:
    model: FaceModel

    def generate(self, seeds: Sequence[int], **options: Any) -> list[FaceAssets]:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError

    def write_reference_images(self, seeds: Sequence[int], yaws: Sequence[float], out: Path,
                               truncation: float | None = None) -> None:
        raise StyleFaceError(f"{self.describe()} has no 2D generator for --reference-yaws")

    def write_contact_sheet(self, faces: Sequence[FaceAssets], path: Path, yaws: Sequence[float] = (0.0, 45.0)) -> None:
        from PIL import Image

        from .preview import contact_sheet, render_previews

        previews = render_previews(self.model, faces, yaws, image_size=192)
        labels = [f"seed {f.seed}" for f in faces]
        with atomic_path(path) as tmp:
            Image.fromarray(contact_sheet(previews, labels)).save(tmp, format="PNG")


class ProceduralSource(FaceSource):
    def __init__(self, texture_size: int = 256) -> None:
        from .procedural_face import ProceduralFaceGenerator

        self.gen = ProceduralFaceGenerator(texture_size=texture_size)
        self.model = self.gen.model

    def describe(self) -> str:
        return f"the {self.model.name} face model's prior with painted textures (no networks)"

    def generate(self, seeds: Sequence[int], truncation: float | None = None,
                 expression: dict[str, float] | None = None, expression_from_seed: int | None = None,
                 expression_strength: float = 1.0, displacement_strength: float = 1.0) -> list[FaceAssets]:
        from .assets import DisplacementInfo
        from .geometry import face_shape
        import torch

        out = []
        psi = 1.0 if truncation is None else float(truncation)
        for seed in seeds:
            f = self.gen.generate(int(seed), expression=expression)
            c = f.coefficients
            if expression is None and expression_from_seed is not None:
                c["exp"] = self.gen.coefficients(expression_from_seed)["exp"].astype(np.float32)
            c["id"] = (c["id"] * psi).astype(np.float32)
            c["exp"] = (c["exp"] * expression_strength).astype(np.float32)
            with torch.no_grad():
                t = self.model.tensors("cpu")
                f.vertices = face_shape(t, torch.as_tensor(c["id"])[None], torch.as_tensor(c["exp"])[None])[0].numpy()
            if displacement_strength < 0:
                raise StyleFaceError("--displacement-strength must be >= 0")
            info = f.displacement_info
            f.displacement_info = DisplacementInfo(info.mode, max(info.scale * displacement_strength, 1e-12),
                                                   info.mid_level)
            f.validate()
            out.append(f)
        return out


class BundleSource(FaceSource):
    def __init__(self, path: str | None, device: str) -> None:
        from .pipeline import Pipeline

        self.pipe = Pipeline.load(path, device)
        self.model = self.pipe.model

    def describe(self) -> str:
        return f"bundle '{self.pipe.bundle.id}' on {self.pipe.device}"

    def generate(self, seeds: Sequence[int], **options: Any) -> list[FaceAssets]:
        return self.pipe.generate(list(seeds), batch_size=max(1, len(seeds)), **options)

    def write_reference_images(self, seeds: Sequence[int], yaws: Sequence[float], out: Path,
                               truncation: float | None = None) -> None:
        from PIL import Image

        wp = self.pipe.wplus(seeds=list(seeds), truncation=truncation)
        imgs = self.pipe.reference_images(wp, yaws)
        for seed, row in zip(seeds, imgs):
            strip = np.concatenate([im.permute(1, 2, 0).numpy() for im in row], axis=1)
            with atomic_path(out / f"face_{seed:06d}_reference.png") as tmp:
                Image.fromarray((strip * 255 + 0.5).astype(np.uint8)).save(tmp, format="PNG")


def open_generator(bundle: str | None, device: str = "auto", texture_size: int = 256) -> FaceSource:
    """'procedural' -> ProceduralSource; a path -> its bundle; None -> the default bundle, or the
    procedural source while no default bundle is installed."""
    from .bundle import default_bundle_path

    if bundle == PROCEDURAL:
        return ProceduralSource(texture_size)
    if bundle is None and default_bundle_path() is None:
        return ProceduralSource(texture_size)
    return BundleSource(bundle, device)
