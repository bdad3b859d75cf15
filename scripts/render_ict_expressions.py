"""Render the ICT head as `styleface generate --bundle procedural` makes it: 8 random identities (the
prior's N(0, 1) identity, painted textures), each neutral and with jawOpen, a smile, a blink and
browInnerUp, with the project renderer (UV mode, SH lighting, slight yaw).

    python scripts/render_ict_expressions.py [--out docs/images/ict_expressions.png] [--size 192]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from styleface.facemodel.store import builtin_face_model
from styleface.preview import contact_sheet, render_previews
from styleface.procedural_face import ProceduralFaceGenerator, expression_vector

EXPRESSIONS = [("neutral", {}), ("jawOpen", {"jawOpen": 0.8}),
               ("smile", {"mouthSmileLeft": 0.9, "mouthSmileRight": 0.9, "cheekSquintLeft": 0.4,
                          "cheekSquintRight": 0.4}),
               ("blink", {"eyeBlinkLeft": 1.0, "eyeBlinkRight": 1.0}), ("browInnerUp", {"browInnerUp": 1.0})]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("docs/images/ict_expressions.png"))
    ap.add_argument("--size", type=int, default=192)
    ap.add_argument("--seeds", default="0,1,2,3,4,5,6,7")
    a = ap.parse_args()
    model = builtin_face_model()
    gen = ProceduralFaceGenerator(model, texture_size=512)
    rows = []
    for seed in (int(s) for s in a.seeds.split(",")):
        base = gen.generate(seed, expression={})
        faces = []
        for _, expr in EXPRESSIONS:
            f = gen.generate(seed, expression=expr or {})
            f.coefficients["exp"] = expression_vector(model, expr).astype(np.float32) if expr else \
                np.zeros(model.n_exp, np.float32)
            f.coefficients["gamma"] = base.coefficients["gamma"]
            faces.append(f)
        views = render_previews(model, faces, (20.0,), image_size=a.size)[:, 0]  # (5, H, W, 3)
        rows.append(views)
    grid = np.stack(rows)  # (8, 5, H, W, 3)
    labels = [f"seed {s}" for s in a.seeds.split(",")]
    sheet = contact_sheet(grid, labels)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(sheet).save(a.out)
    print(f"wrote {a.out} ({', '.join(n for n, _ in EXPRESSIONS)} per row)")


if __name__ == "__main__":
    main()
