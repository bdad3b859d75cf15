"""Sharded data generation: per-item seeds, worker sharding, SIGKILL resume with identical bytes, merge."""
from __future__ import annotations

import json
import signal
import time

import pytest
import torch
from styleface.errors import StyleFaceError
from trainhelpers import IMAGE, N_LATENT, STYLE_DIM, generator_args, main_cli, popen_cli

from styleface_train.standin.generators import GeneratorHandle
from styleface_train.data.sample import SampleOptions, generate_dataset
from styleface_train.data.shards import Worker, merge_folder, read_tensors, resolve_worker, shard_paths


def _handle(standin):
    return GeneratorHandle(standin, standin.config_dict(), True)


def _files(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.glob("shard-*.safetensors"))}


def test_shards_content(samples_dir, standin):
    man = json.loads((samples_dir / "manifest.json").read_text())
    assert man["count"] == 600 and man["n_shards"] == 6 and man["has_truth"]
    t = read_tensors(shard_paths(samples_dir, "shard", 6))
    assert torch.equal(t["index"], torch.arange(600)) and torch.equal(t["seed"], torch.arange(600))
    assert t["image"].shape == (600, IMAGE, IMAGE, 3) and t["image"].dtype == torch.uint8
    assert t["wplus"].shape == (600, N_LATENT, STYLE_DIM)
    assert t["truth_coeffs"].shape == (600, standin.layout.size)
    assert t["truth_landmarks"].shape == (600, 68, 2)
    # Item 7 alone, from its own seed, is the same as inside its batch.
    z = torch.randn(STYLE_DIM, generator=torch.Generator().manual_seed(7))
    assert torch.allclose(t["z"][7], z)
    img = standin.synthesis(standin.to_wplus(z[None]))
    assert (((img + 1) * 127.5).round().clamp(0, 255).byte()[0].permute(1, 2, 0).int() - t["image"][7].int()
            ).abs().max() <= 1


def test_workers_write_the_same_bytes(tmp_path, standin):
    opts = dict(count=50, shard_size=20, batch_size=10, progress=False)
    one = tmp_path / "one"
    generate_dataset(_handle(standin), SampleOptions(out=one, **opts))
    two = tmp_path / "two"
    for k in (1, 0):
        written = generate_dataset(_handle(standin), SampleOptions(out=two, **opts), Worker(k, 2))
        assert [p.name for p in written] == [f"shard-{j:05d}.safetensors" for j in range(3) if j % 2 == k]
    assert _files(one) == _files(two) and len(_files(one)) == 3
    # A second run has nothing left to do.
    assert generate_dataset(_handle(standin), SampleOptions(out=one, **opts)) == []


def test_manifest_mismatch_is_refused(tmp_path, standin):
    out = tmp_path / "d"
    generate_dataset(_handle(standin), SampleOptions(out=out, count=4, shard_size=4, progress=False))
    with pytest.raises(StyleFaceError, match="different dataset.*base_seed"):
        generate_dataset(_handle(standin), SampleOptions(out=out, count=4, shard_size=4, base_seed=3, progress=False))


def test_worker_from_torchrun_env():
    assert resolve_worker(None, None, {"RANK": "2", "WORLD_SIZE": "4"}) == Worker(2, 4)
    assert resolve_worker(1, 3, {"RANK": "2", "WORLD_SIZE": "4"}) == Worker(1, 3)
    assert resolve_worker(None, None, {}) == Worker(0, 1)
    with pytest.raises(StyleFaceError):
        resolve_worker(3, 3, {})
    with pytest.raises(StyleFaceError):
        resolve_worker(1, None, {})


def test_killed_run_resumes_to_identical_shards(tmp_path, toy_npz, standin):
    out = tmp_path / "killed"
    args = ["sample", "--out", str(out), "--count", "1500", "--shard-size", "50", "--batch-size", "25",
            *generator_args(toy_npz)]
    proc = popen_cli(*args)
    deadline = time.time() + 120
    while time.time() < deadline and len(list(out.glob("shard-*.safetensors"))) < 3 and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = len(list(out.glob("shard-*.safetensors")))
    assert 3 <= done < 30, "the run must be killed mid-way"
    code, _, err = main_cli(*args)
    assert code == 0, err
    assert not list(out.glob(".*.tmp"))
    ref = tmp_path / "ref"
    generate_dataset(_handle(standin), SampleOptions(out=ref, count=1500, shard_size=50, batch_size=25,
                                                     progress=False))
    a, b = _files(out), _files(ref)
    assert len(a) == 30 and a == b


def test_cli_sharding_env_and_merge(tmp_path, toy_npz, monkeypatch):
    out = tmp_path / "env"
    base = ["sample", "--out", str(out), "--count", "30", "--shard-size", "10", "--batch-size", "10",
            *generator_args(toy_npz)]
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    code, _, err = main_cli(*base)
    assert code == 0, err
    assert [p.name for p in sorted(out.glob("shard-*"))] == ["shard-00001.safetensors"]
    code, _, err = main_cli("merge", str(out))
    assert code == 2 and "missing" in err and err.count("\n") == 1
    assert main_cli(*base, "--shard-index", "0", "--num-shards", "2")[0] == 0
    code, _, err = main_cli("merge", str(out))
    assert code == 0, err
    merged = read_tensors([out / "merged.safetensors"])
    assert torch.equal(merged["index"], torch.arange(30))
    parts = read_tensors(shard_paths(out, "shard", 3))
    assert all(torch.equal(merged[k], parts[k]) for k in parts)
    assert merge_folder(out, tmp_path / "m2.safetensors").exists()


def test_no_images_keeps_codes_and_truth(tmp_path, standin, samples_dir):
    out = tmp_path / "codes"
    generate_dataset(_handle(standin), SampleOptions(out=out, count=120, shard_size=100, batch_size=50,
                                                     images=False, progress=False))
    t = read_tensors(shard_paths(out, "shard", 2))
    ref = read_tensors(shard_paths(samples_dir, "shard", 2), ["wplus", "truth_coeffs", "truth_landmarks"])
    assert "image" not in t
    assert torch.equal(t["wplus"], ref["wplus"][:120]) and torch.equal(t["truth_coeffs"], ref["truth_coeffs"][:120])
    assert torch.allclose(t["truth_landmarks"], ref["truth_landmarks"][:120], atol=1e-4)
    code, _, err = main_cli("fit", "--samples", str(out), "--out", str(tmp_path / "f"))
    assert code == 2 and "--no-images" in err
