"""Shared pytest setup: offscreen Qt, deterministic seeds, the reference data folder."""

import os
from pathlib import Path

import pytest

# Kernel tests test the compiled kernels: no numpy stand-ins while they compile
# (core.kernels._cold); tests/core/test_cold_start.py switches it on where it is tested.
os.environ.setdefault("NETWEAVER_COLD_START", "compile")

import core  # noqa: F401, E402  before numpy, as the app does: OpenBLAS' short thread timeout

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture
def shared_data():
    """Path to ../shared/data; the test is skipped when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA
