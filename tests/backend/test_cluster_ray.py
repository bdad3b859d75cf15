"""Generation on a real local Ray (2 CPUs, started once for this module): a bad seed among good
ones, an actor dying mid-batch, a driver killed with SIGKILL and resumed. Skipped without Ray
(``pip install -e '.[cluster]'``; CI installs it)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

if os.environ.get("STYLEFACE_REQUIRE_RAY"):  # CI sets it: a missing extra must fail, not skip
    import ray
else:
    ray = pytest.importorskip("ray")

from styleface.cluster import generate_on_ray, is_face_complete, sidecar_name  # noqa: E402
from styleface.cluster.faults import ENV as FAULTS  # noqa: E402

pytestmark = pytest.mark.slow
FORMATS = ("png16", "json")


@pytest.fixture(scope="module")
def cluster():
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


def _complete(out: Path, seeds) -> list[int]:
    names = set(os.listdir(out))
    return [s for s in seeds if is_face_complete(names, s)]


def _no_debris(out: Path) -> None:
    assert not [n for n in os.listdir(out) if n.startswith(".")], os.listdir(out)


def test_bad_seed_is_reported_and_the_rest_done(cluster, tmp_path, monkeypatch):
    monkeypatch.setenv(FAULTS, "fail:3")
    out = tmp_path / "faces"
    report = generate_on_ray(range(6), out, formats=FORMATS, batch_size=3, workers=2, progress=False)
    assert sorted(report.done) == [0, 1, 2, 4, 5]
    assert list(report.failed) == [3] and "injected failure for seed 3" in report.failed[3]
    assert report.actor_restarts == 0 and report.workers == 2
    assert _complete(out, range(6)) == [0, 1, 2, 4, 5]
    assert not (out / "face_000003_displacement16.png").exists()
    monkeypatch.delenv(FAULTS)  # the cause is gone: a rerun does only the failed face
    again = generate_on_ray(range(6), out, formats=FORMATS, workers=2, progress=False)
    assert again.done == [3] and again.skipped == 5 and again.ok
    _no_debris(out)


def test_dying_actor_is_replaced_and_its_batch_retried(cluster, tmp_path, monkeypatch):
    marker = tmp_path / "crashed-once"
    # seed 1 kills its actor once (mid-batch: seed 0 of that batch is already written);
    # seed 4 kills every actor that tries it: reported after 1 + max_retries attempts.
    monkeypatch.setenv(FAULTS, f"crash:1@{marker},crash:4")
    out = tmp_path / "faces"
    report = generate_on_ray(range(6), out, formats=FORMATS, batch_size=3, workers=2, max_retries=1,
                             progress=False)
    assert marker.exists()
    assert sorted(report.done) == [0, 1, 2, 3, 5]
    assert list(report.failed) == [4] and "worker died 2 time(s)" in report.failed[4]
    assert report.actor_restarts == 3
    assert _complete(out, range(6)) == [0, 1, 2, 3, 5]
    for s in (0, 1, 2, 3, 5):
        assert (out / f"face_{s:06d}_displacement16.png").is_file()
    _no_debris(out)


def test_killed_driver_resumes_without_loss_or_duplicates(cluster, tmp_path):
    out = tmp_path / "faces"
    seeds = list(range(12))
    env = dict(os.environ, **{FAULTS: "delay:0.5"})
    cmd = [sys.executable, "-m", "styleface.cli", "generate", "--seeds", "0-11", "--out", str(out),
           "--formats", ",".join(FORMATS), "--batch-size", "2", "--cluster", f"ray:{cluster}", "--quiet"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if out.is_dir() and len(_complete(out, seeds)) >= 3:
            break
        time.sleep(0.1)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = _complete(out, seeds)
    assert 3 <= len(before) < 12
    report = generate_on_ray(seeds, out, formats=FORMATS, workers=2, progress=False)
    assert report.ok
    assert report.skipped + len(report.done) == 12 and len(set(report.done)) == len(report.done)
    assert not set(report.done) & set(before)
    assert _complete(out, seeds) == seeds
    expected = {sidecar_name(s) for s in seeds} | {f"face_{s:06d}_displacement16.png" for s in seeds}
    assert set(os.listdir(out)) == expected  # no temporary files, nothing extra


def test_workers_that_cannot_start_stop_the_job_with_one_line(cluster, tmp_path):
    from styleface.errors import StyleFaceError

    with pytest.raises(StyleFaceError, match="Ray workers cannot start") as info:
        generate_on_ray([0, 1], tmp_path / "faces", bundle=str(tmp_path / "no-such-bundle"), workers=1,
                        progress=False)
    assert "\n" not in str(info.value)


def test_cli_lists_failed_faces_and_exits_1(cluster, tmp_path, monkeypatch, capsys):
    from styleface.cli import main

    monkeypatch.setenv(FAULTS, "fail:1")
    out = tmp_path / "faces"
    argv = ["generate", "--seeds", "0-2", "--out", str(out), "--formats", "json", "--cluster", f"ray:{cluster}"]
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert "styleface: face 1 failed: InjectedFault: injected failure for seed 1" in captured.err
    assert "2 face(s) written, 0 already complete, 1 failed" in captured.out
    monkeypatch.delenv(FAULTS)
    assert main(argv + ["--quiet"]) == 0
    assert _complete(out, range(3)) == [0, 1, 2]
