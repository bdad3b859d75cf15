"""The worker's rig_expressions option: the rig's expression shapes (~17.5 MB per ICT face) with every face
(default, as before), the first face of a request only, or none; the rest of the rig always travels."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from styleface.client import RequestError, WorkerClient

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def rig_worker():
    env = dict(os.environ)
    env["STYLEFACE_WORKER_GENERATOR"] = "blender_fakes:rig"  # numpy-only faces with a rig
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "backend"), str(ROOT / "tests" / "blender"),
                                         env.get("PYTHONPATH", "")])
    with WorkerClient(python=sys.executable, env=env, start_timeout=60, request_timeout=120,
                      as_assets=False) as w:
        yield w


@pytest.mark.parametrize("mode, carried", [(None, [True, True, True]), ("each", [True, True, True]),
                                           ("first", [True, False, False]), ("none", [False, False, False])])
def test_rig_expressions_option(rig_worker, mode, carried):
    assert "rig_expressions" in rig_worker.hello()["generate_options"]
    opts = {} if mode is None else {"rig_expressions": mode}
    faces = rig_worker.generate([1, 2, 3], opts).faces
    assert [("rig.expression_deltas" in a) for a, _ in faces] == carried
    for a, m in faces:
        assert "rig.polygon_corners" in a and m["rig"]["expression_names"]


def test_rig_expressions_rejects_unknown_values(rig_worker):
    with pytest.raises(RequestError, match="rig_expressions must be one of"):
        rig_worker.generate([1], {"rig_expressions": "some"})
