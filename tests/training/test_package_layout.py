"""styleface_train is grouped by pipeline stage, and imports only flow one way: from the CLI down to the
shared infrastructure, never back up, and never between the independent stages."""
from __future__ import annotations

import ast
from pathlib import Path

import styleface_train

ROOT = Path(styleface_train.__file__).parent
# Each stage may import the stages listed before it (and itself); the four middle stages are siblings.
LAYERS = [{"common"}, {"standin"}, {"data"}, {"fitting", "f3d_yaw", "uvgen", "evaluation"}, {"bundle"}, {"cli"}]


def _stage(path: Path) -> str:
    rel = path.relative_to(ROOT).parts
    return rel[0] if len(rel) > 1 else "cli"


def _layer(stage: str) -> int:
    return next(i for i, s in enumerate(LAYERS) if stage in s)


def test_every_module_sits_in_a_stage_and_imports_flow_one_way():
    bad = []
    top = sorted(p.name for p in ROOT.glob("*.py"))
    assert top == ["__init__.py", "cli.py", "cli_all.py", "cli_uvgen.py"]
    for path in ROOT.rglob("*.py"):
        own = _stage(path)
        pkg = path.parent.relative_to(ROOT).parts
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom) or not node.level:
                continue
            base = list(pkg[:len(pkg) - (node.level - 1)]) if node.level > 1 else list(pkg)
            target = (base + (node.module or "").split("."))[0] if (base or node.module) else "cli"
            target = target if (ROOT / target).is_dir() else "cli"
            if target == own:
                continue
            if _layer(target) >= _layer(own):
                bad.append(f"{path.relative_to(ROOT)} imports {target}")
    assert bad == []
