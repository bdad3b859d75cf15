"""Fixtures of the training tests: the toy head (as a model and as an .npz the CLI can load), a small
stand-in on it, and a small sample dataset. Everything is tiny so the suite runs in CI on 2 cores."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from styleface.facemodel import save_face_model
from toyhead import toy_head
from trainhelpers import small_config

from styleface_train.standin.generators import GeneratorHandle
from styleface_train.data.sample import SampleOptions, generate_dataset
from styleface_train.standin import StandInGenerator


@pytest.fixture(scope="session")
def toy_model():
    return toy_head()


@pytest.fixture(scope="session")
def toy_npz(tmp_path_factory, toy_model) -> Path:
    path = tmp_path_factory.mktemp("model") / "toy.npz"
    save_face_model(toy_model, path)
    return path


@pytest.fixture(scope="session")
def standin(toy_npz, toy_model) -> StandInGenerator:
    return StandInGenerator(small_config(toy_npz), model=toy_model).eval()


@pytest.fixture(scope="session")
def samples_dir(tmp_path_factory, standin) -> Path:
    """600 stand-in samples in 6 shards of 100 (the F3D / Fyaw training set of the tests)."""
    out = tmp_path_factory.mktemp("samples")
    handle = GeneratorHandle(standin, standin.config_dict(), True)
    generate_dataset(handle, SampleOptions(out=out, count=600, shard_size=100, batch_size=50, progress=False))
    return out


@pytest.fixture(scope="session", autouse=True)
def _one_thread():
    """Small tensors run faster on one thread (and CI machines are often shared). Session-scoped so
    it is in force before the module- and session-scoped fixtures that fit and render."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
