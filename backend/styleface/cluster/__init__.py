"""Generate faces on a Ray cluster (optional extra: ``pip install 'styleface[cluster]'``).

    from styleface.cluster import generate_on_ray
    report = generate_on_ray(range(1000), "s3://bucket/faces", address="auto")

Modules: ``completion`` (the resume rule), ``store`` (atomic writes to a path or fsspec URL),
``worker`` (the actor body), ``driver`` (scheduling, retries, progress), ``address`` (``--cluster``),
``render`` (headless Blender renders as Ray tasks). Importing this package does not import Ray.
"""
from __future__ import annotations

from .address import INSTALL_HINT, parse_cluster
from .completion import face_stem, is_face_complete, sidecar_name
from .driver import ClusterReport, generate_on_ray

__all__ = ["INSTALL_HINT", "ClusterReport", "face_stem", "generate_on_ray", "is_face_complete",
           "parse_cluster", "sidecar_name"]
