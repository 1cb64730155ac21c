"""Shared builders for the hostile-input tests: every input is made here, in the test."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import h5py

REPO = Path(__file__).resolve().parents[2]


def small_model():
    from core.layers import Dense, Input
    from core.models import Sequential

    return Sequential([Input((3,)), Dense(4, activation="relu"), Dense(2)])


def members(path) -> dict:
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def write_zip(path, parts: dict, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    return path


def edit_h5(parts: dict, edit) -> dict:
    bio = io.BytesIO(parts["model.weights.h5"])
    with h5py.File(bio, "a") as f:
        edit(f)
    out = dict(parts)
    out["model.weights.h5"] = bio.getvalue()
    return out


def run_limited(code: str, limit_bytes: int = 2 * 1024**3, timeout: float = 120.0):
    """Run ``code`` in a child Python under ``RLIMIT_AS`` (cannot take the machine down);
    returns the CompletedProcess (stdout holds what the code printed)."""
    prelude = textwrap.dedent(f"""
        import resource, sys
        sys.path.insert(0, {str(REPO)!r})
        import core, core.saving, core.datasets, core.graph  # imports before the limit
        import numpy, h5py
        resource.setrlimit(resource.RLIMIT_AS, ({limit_bytes}, {limit_bytes}))
    """)
    env = dict(os.environ, NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1",
               OPENBLAS_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=timeout, env=env,
                          cwd=str(REPO))
