"""Fixtures for the graph document tests: the engine's layers, an isolated state dir."""

import pytest

import core.layers  # noqa: F401 - registers the engine's layers
from core.graph import GraphDocument


@pytest.fixture(autouse=True)
def _isolated_state_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("NETWEAVER_STATE_DIR", str(tmp_path / "state"))


@pytest.fixture
def doc():
    return GraphDocument()
