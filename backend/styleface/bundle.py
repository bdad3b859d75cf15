"""Model bundles: a folder (or a .zip of one) holding everything a generation needs.

Layout::

    bundle.json             manifest (format, version, id, face model, latent sizes, resolutions,
                            displacement metadata, network file stems, provenance, licence notes)
    face_model.npz          embedded face model (styleface.facemodel.save_face_model), or none when the
                            manifest names the built-in demo model
    <stem>.safetensors/.json networks written by styleface.nets.io: mapping or generator2d (one of them),
                            f3d, yaw (YawSymmetry: Fyaw + unit direction), uvgen

Loading validates the manifest and cross-checks shapes (F3D output vs the face model's coefficient
layout, latent sizes, UV resolution) so a bad bundle fails at load time with one clear message.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .assets import DisplacementInfo, check_uv_padding
from .errors import StyleFaceError
from .facemodel.model import FaceModel

FORMAT = "styleface-bundle"
VERSION = 1
MANIFEST = "bundle.json"
NETWORK_ROLES = ("mapping", "generator2d", "f3d", "yaw", "uvgen")
REQUIRED_ROLES = ("f3d", "uvgen")
BUNDLE_ENV = "STYLEFACE_BUNDLE"
DEMO_BUNDLE_DIR = Path(__file__).parent / "data" / "demo_bundle"


@dataclass
class BundleManifest:
    id: str
    face_model: dict[str, str]
    n_latent: int
    style_dim: int
    uv_resolution: int
    networks: dict[str, str]
    image_resolution: int | None = None
    displacement: DisplacementInfo = field(default_factory=DisplacementInfo)
    truncation: float = 0.7
    name: str = ""
    description: str = ""
    provenance: dict[str, Any] = field(default_factory=dict)
    licence: str = ""
    uv_padding: str = "border"  # grid_sample padding of the UV maps: "zeros" for official weights

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "version": VERSION, "id": self.id, "name": self.name,
                "description": self.description, "face_model": self.face_model, "n_latent": self.n_latent,
                "style_dim": self.style_dim, "uv_resolution": self.uv_resolution,
                "image_resolution": self.image_resolution, "displacement": self.displacement.to_dict(),
                "truncation": self.truncation, "networks": self.networks, "provenance": self.provenance,
                "licence": self.licence, "uv_padding": self.uv_padding}

    @classmethod
    def from_json(cls, d: Any, where: str) -> "BundleManifest":
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise StyleFaceError(f"{where}: not a StyleFace bundle manifest (format must be '{FORMAT}')")
        if d.get("version") != VERSION:
            raise StyleFaceError(f"{where}: bundle format version {d.get('version')!r} is not supported "
                                 f"(this StyleFace reads version {VERSION})")
        for key in ("id", "face_model", "n_latent", "style_dim", "uv_resolution", "networks"):
            if key not in d:
                raise StyleFaceError(f"{where}: manifest lacks '{key}'")
        nets = d["networks"]
        if not isinstance(nets, dict) or any(k not in NETWORK_ROLES for k in nets):
            raise StyleFaceError(f"{where}: 'networks' must map roles {', '.join(NETWORK_ROLES)} to file stems")
        missing = [r for r in REQUIRED_ROLES if not nets.get(r)]
        if missing or not (nets.get("mapping") or nets.get("generator2d")):
            raise StyleFaceError(f"{where}: bundle needs networks f3d, uvgen and one of mapping/generator2d "
                                 f"(missing: {', '.join(missing) or 'mapping/generator2d'})")
        fm = d["face_model"]
        if not isinstance(fm, dict) or not ({"builtin", "embedded"} & set(fm)):
            raise StyleFaceError(f"{where}: 'face_model' must be {{'builtin': 'demo'}} or {{'embedded': file}}")
        try:
            check_uv_padding(d.get("uv_padding", "border"))
        except StyleFaceError as e:
            raise StyleFaceError(f"{where}: {e}") from None
        try:
            return cls(id=str(d["id"]), face_model={str(k): str(v) for k, v in fm.items()},
                       n_latent=int(d["n_latent"]), style_dim=int(d["style_dim"]),
                       uv_resolution=int(d["uv_resolution"]),
                       networks={k: str(v) for k, v in nets.items() if v},
                       image_resolution=None if d.get("image_resolution") is None else int(d["image_resolution"]),
                       displacement=DisplacementInfo.from_dict(d.get("displacement", {})),
                       truncation=float(d.get("truncation", 0.7)), name=str(d.get("name", "")),
                       description=str(d.get("description", "")), provenance=dict(d.get("provenance", {})),
                       licence=str(d.get("licence", "")),
                       uv_padding=str(d.get("uv_padding", "border")))
        except (TypeError, ValueError) as e:
            raise StyleFaceError(f"{where}: malformed manifest ({e})") from None


class Bundle:
    """A loaded bundle: manifest, face model and networks (on one device, eval mode, no grad)."""

    def __init__(self, root: Path, manifest: BundleManifest, face_model: FaceModel, networks: dict[str, Any],
                 device: str, _tmp: tempfile.TemporaryDirectory | None = None) -> None:
        self.root, self.manifest, self.face_model, self.networks = root, manifest, face_model, networks
        self.device = device
        self._tmp = _tmp  # keeps an extracted zip alive as long as the bundle

    @property
    def id(self) -> str:
        return self.manifest.id

    def __getattr__(self, name: str) -> Any:
        nets = self.__dict__.get("networks", {})
        if name in NETWORK_ROLES:
            return nets.get(name)
        raise AttributeError(name)


def resolve_device(device: str | None = "auto") -> str:
    """'auto' -> cuda, then mps, then cpu; an explicit device is checked for availability."""
    import torch

    d = (device or "auto").lower()
    if d == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if d.startswith("cuda") and not torch.cuda.is_available():
        raise StyleFaceError(f"device '{device}' requested but CUDA is not available (use --device cpu)")
    if d == "mps" and not (getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()):
        raise StyleFaceError("device 'mps' requested but MPS is not available (use --device cpu)")
    if not (d == "cpu" or d == "mps" or d.startswith("cuda")):
        raise StyleFaceError(f"unknown device '{device}': use auto, cpu, cuda, cuda:N or mps")
    return d


def default_bundle_path() -> Path | None:
    """$STYLEFACE_BUNDLE if set, else the embedded demo bundle when present."""
    env = os.environ.get(BUNDLE_ENV)
    if env:
        return Path(env).expanduser()
    return DEMO_BUNDLE_DIR if (DEMO_BUNDLE_DIR / MANIFEST).is_file() else None


def _safe_extract(zip_path: Path) -> tuple[Path, tempfile.TemporaryDirectory]:
    tmp = tempfile.TemporaryDirectory(prefix="styleface-bundle-")
    root = Path(tmp.name).resolve()
    try:
        from .bundle_zip import safe_extract

        safe_extract(zip_path, root)
    except BaseException:
        tmp.cleanup()
        raise
    manifests = [m for m in root.rglob(MANIFEST) if m.is_file() and not m.is_symlink()]
    if not manifests:
        tmp.cleanup()
        raise StyleFaceError(f"{zip_path}: the zip holds no {MANIFEST}")
    return min(manifests, key=lambda p: len(p.parts)).parent, tmp


def read_manifest(root: Path) -> BundleManifest:
    path = root / MANIFEST
    if not path.is_file():
        raise StyleFaceError(f"{root}: not a bundle ({MANIFEST} not found)")
    from .bundle_schema import inside, read_manifest_json

    inside(root, MANIFEST, str(root), "the manifest")
    return BundleManifest.from_json(read_manifest_json(path), str(path))


def _load_face_model(root: Path, m: BundleManifest) -> FaceModel:
    if "builtin" in m.face_model:
        from .facemodel.store import BUILTIN_NAMES, builtin_face_model
        if m.face_model["builtin"] not in BUILTIN_NAMES:
            raise StyleFaceError(f"{root}: unknown built-in face model '{m.face_model['builtin']}'")
        return builtin_face_model(m.face_model["builtin"])
    from .bundle_schema import inside
    from .facemodel.store import load_face_model_npz
    path = inside(root, m.face_model["embedded"], str(root / MANIFEST), "face_model.embedded")
    if not path.is_file():
        raise StyleFaceError(f"{root}: embedded face model '{m.face_model['embedded']}' not found")
    return load_face_model_npz(path)


def _check_shapes(root: Path, m: BundleManifest, fm: FaceModel, nets: dict[str, Any]) -> None:
    def bad(msg: str) -> None:
        raise StyleFaceError(f"bundle {root}: {msg}")

    f3d = nets["f3d"]
    if f3d.layout != fm.layout:
        bad(f"F3D predicts coefficient layout {f3d.layout.sizes()} but the face model needs {fm.layout.sizes()}")
    for role in ("f3d", "uvgen", "yaw", "generator2d", "mapping"):
        net = nets.get(role)
        if net is None:
            continue
        if getattr(net, "style_dim", m.style_dim) != m.style_dim:
            bad(f"{role} has style_dim {net.style_dim}, the manifest says {m.style_dim}")
        if getattr(net, "n_latent", m.n_latent) != m.n_latent:
            bad(f"{role} expects {net.n_latent} W+ rows, the manifest says {m.n_latent}")
    if nets["uvgen"].size != m.uv_resolution:
        bad(f"UV generator makes {nets['uvgen'].size} px maps, the manifest says {m.uv_resolution}")


def load_bundle(path: str | os.PathLike[str] | None = None, device: str | None = "auto") -> "Any":
    """Load a bundle folder or .zip (None: the default bundle) as the worker's generator
    (``generate(seed, **options)`` / ``generate_batch``), with the Pipeline at ``.pipeline``."""
    from .pipeline import Pipeline, PipelineGenerator

    return PipelineGenerator(Pipeline(open_bundle(path, device)))


def open_bundle(path: str | os.PathLike[str] | None = None, device: str | None = "auto") -> Bundle:
    """Read and validate a bundle; networks are loaded onto ``device`` in eval mode."""
    from .nets.io import load_model

    if path is None:
        path = default_bundle_path()
        if path is None:
            raise StyleFaceError("no bundle given and no default bundle is installed "
                                 f"(pass a bundle path or set {BUNDLE_ENV})")
    p = Path(path).expanduser()
    if not p.exists():
        raise StyleFaceError(f"bundle not found: {p}")
    tmp = None
    root = p
    if p.is_file():
        if p.suffix.lower() != ".zip":
            raise StyleFaceError(f"{p}: a bundle is a folder with {MANIFEST} or a .zip of one")
        root, tmp = _safe_extract(p)
    manifest = read_manifest(root)
    from .bundle_schema import check_weights_memory, inside

    check_weights_memory(root, manifest.networks)  # paths inside the bundle, weights within the budget
    dev = resolve_device(device)
    face_model = _load_face_model(root, manifest)
    nets: dict[str, Any] = {}
    for role, stem in manifest.networks.items():
        net = load_model(inside(root, stem, str(root / MANIFEST), f"networks.{role}"), device=dev)
        net.eval().requires_grad_(False)
        nets[role] = net
    _check_shapes(root, manifest, face_model, nets)
    return Bundle(root, manifest, face_model, nets, dev, tmp)


def write_bundle(out_dir: str | os.PathLike[str], manifest: BundleManifest, networks: dict[str, Any],
                 face_model: FaceModel | None = None, overwrite: bool = False) -> Path:
    """Write a bundle folder atomically (a temp folder renamed into place)."""
    from .facemodel.store import save_face_model
    from .nets.io import save_model

    out = Path(out_dir).expanduser()
    if out.exists() and not overwrite:
        raise StyleFaceError(f"{out} exists (pass overwrite=True / --force to replace it)")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        man = manifest.to_json()
        if face_model is not None:
            # models with an artist mesh (ICT) are large: ship them compact (quantized, compressed)
            save_face_model(face_model, tmp / "face_model.npz", compact=face_model.topology is not None)
            man["face_model"] = {"embedded": "face_model.npz"}
        stems = {}
        for role, net in networks.items():
            if role not in NETWORK_ROLES:
                raise StyleFaceError(f"unknown network role '{role}'")
            save_model(net, tmp / role)
            stems[role] = role
        man["networks"] = stems
        checksums = {f.name: hashlib.sha256(f.read_bytes()).hexdigest()[:16] for f in sorted(tmp.iterdir())}
        man.setdefault("provenance", {})["files_sha256_16"] = checksums
        (tmp / MANIFEST).write_text(json.dumps(man, indent=2) + "\n", encoding="utf-8")
        BundleManifest.from_json(man, str(tmp / MANIFEST))
        _apply_umask(tmp)
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _apply_umask(folder: Path) -> None:
    """Give a mkdtemp folder (0700) and its files the modes a plain mkdir/open would have."""
    mask = os.umask(0)
    os.umask(mask)
    folder.chmod(0o777 & ~mask)
    for f in folder.rglob("*"):
        f.chmod((0o777 if f.is_dir() else 0o666) & ~mask)


def zip_bundle(bundle_dir: str | os.PathLike[str], zip_path: str | os.PathLike[str]) -> Path:
    """Pack a bundle folder into a single .zip (files at the zip's top level)."""
    src = Path(bundle_dir)
    read_manifest(src)
    dst = Path(zip_path)
    with zipfile.ZipFile(dst, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(src.rglob("*")):
            if f.is_file():
                zf.write(f, f.relative_to(src).as_posix())
    return dst
