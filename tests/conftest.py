"""Shared fixtures: the default model (prepared once per session), the repo paths, real-data detection."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def real_data_dir() -> Path | None:
    raw = os.environ.get("FINBENCH_DATA_DIR")
    if not raw or raw == "sample" or not Path(raw).is_dir():
        return None
    return Path(raw)


@pytest.fixture(scope="session")
def default_model() -> Path:
    from finbench.default_model import prepare

    return prepare()


@pytest.fixture
def sample_data(monkeypatch):
    monkeypatch.setenv("FINBENCH_DATA_DIR", "sample")
    from finbench import data

    data.clear_cache()
    yield
