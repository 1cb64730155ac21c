"""Zip/gzip bombs, absurd npz headers and non-regular files: refused before the
allocation or the endless read. Memory cases run in a child under RLIMIT_AS; hang
cases under a timeout."""

from __future__ import annotations

import gzip
import os
import struct
import zipfile

import numpy as np
import pytest

from core.datasets import load_csv, load_idx, load_npz, read_idx
from core.saving import ModelFileError, load_model, save_model
from tests.security.helpers import members, run_limited, small_model

LIMIT = 1536 * 1024**2  # the child's address space: a bomb cannot take the machine down
needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")


def _gzip_bomb(path, inflated=2 * 1024**3, chunk=16 * 1024**2):
    """~2 MB on disk, ``inflated`` bytes of '0,0\\n' CSV rows once unpacked."""
    row = b"0,0\n" * (chunk // 4)
    with gzip.open(path, "wb", compresslevel=9) as g:
        for _ in range(inflated // chunk):
            g.write(row)
    return path


@pytest.mark.timeout(180)
def test_keras_zip_bomb_is_refused_within_a_memory_limit(tmp_path):
    good = tmp_path / "good.keras"
    save_model(small_model(), good)
    parts = members(good)
    bomb = tmp_path / "bomb.keras"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("config.json", parts["config.json"])
        with zf.open("model.weights.h5", "w", force_zip64=True) as f:
            block = b"\0" * (16 * 1024**2)
            for _ in range(1900 // 16):
                f.write(block)
    assert bomb.stat().st_size < 4 * 1024**2
    out = run_limited(f"""
        from core.saving import load_model, ModelFileError
        try:
            load_model({str(bomb)!r})
        except ModelFileError as e:
            print("REFUSED", e)
    """, LIMIT)
    assert "REFUSED" in out.stdout and "bomb" in out.stdout, out.stderr[-2000:]


@pytest.mark.timeout(180)
@pytest.mark.parametrize("kind", ["csv", "idx"])
def test_gzip_bomb_is_refused_within_a_memory_limit(tmp_path, kind):
    bomb = _gzip_bomb(tmp_path / f"bomb.{kind}.gz")
    call = (f"load_csv({str(bomb)!r})" if kind == "csv" else f"read_idx({str(bomb)!r})")
    out = run_limited(f"""
        from core.datasets import load_csv, read_idx
        try:
            {call}
        except ValueError as e:
            print("REFUSED", e)
    """, LIMIT)
    assert "REFUSED" in out.stdout and "bomb" in out.stdout, (out.stdout, out.stderr[-2000:])


@pytest.mark.timeout(120)
def test_npz_header_claiming_1e12_elements_is_refused(tmp_path):
    path = tmp_path / "huge.npz"
    header = {"descr": "<f4", "fortran_order": False, "shape": (10**12,)}
    import io
    bio = io.BytesIO()
    np.lib.format.write_array_header_1_0(bio, header)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("x.npy", bio.getvalue() + b"\0" * 64)
        bio2 = io.BytesIO()
        np.save(bio2, np.zeros(4))
        zf.writestr("y.npy", bio2.getvalue())
    out = run_limited(f"""
        from core.datasets import load_npz
        try:
            load_npz({str(path)!r})
        except ValueError as e:
            print("REFUSED", e)
    """, LIMIT)
    assert "REFUSED" in out.stdout and "claims shape" in out.stdout, out.stderr[-2000:]


# ------------------------------------------------------------------ non-regular files

@needs_fifo
@pytest.mark.timeout(30)
@pytest.mark.parametrize("loader", ["keras", "npz", "csv", "idx", "nwproj"])
def test_fifo_is_refused_without_hanging(tmp_path, loader):
    fifo = tmp_path / f"pipe.{loader}"
    os.mkfifo(fifo)
    from core.graph import project_file as pf

    call = {"keras": lambda: load_model(fifo), "npz": lambda: load_npz(fifo),
            "csv": lambda: load_csv(fifo), "idx": lambda: read_idx(fifo),
            "nwproj": lambda: pf.load_project(fifo)}[loader]
    with pytest.raises(ValueError, match="FIFO"):
        call()


@pytest.mark.timeout(30)
@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
def test_dev_zero_as_idx_is_refused():
    with pytest.raises(ValueError, match="device"):
        read_idx("/dev/zero")
    with pytest.raises(ValueError, match="device"):
        load_idx("/dev/zero", "/dev/zero")


# ------------------------------------------------------------------ data content

def _npz_with(path, **members_bytes):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members_bytes.items():
            zf.writestr(name, data)
    return path


def test_npz_member_of_raw_bytes_is_refused(tmp_path):
    import io
    bio = io.BytesIO()
    np.save(bio, np.zeros(3))
    p = _npz_with(tmp_path / "raw.npz", **{"x.npy": b"just some bytes", "y.npy": bio.getvalue()})
    with pytest.raises(ValueError, match="raw.npz.*'x' is not an .npy"):
        load_npz(p)


def test_npz_garbage_header_is_a_clear_error(tmp_path):
    import io
    bio = io.BytesIO()
    np.save(bio, np.zeros(3))
    magic = b"\x93NUMPY\x01\x00"
    text = b"{'descr': '<f8', 'shape': (3," + b" " * 40 + b"\n"
    garbage = magic + struct.pack("<H", len(text)) + text
    p = _npz_with(tmp_path / "bad.npz", **{"x.npy": garbage, "y.npy": bio.getvalue()})
    with pytest.raises(ValueError, match="bad.npz.*malformed .npy header"):
        load_npz(p)


def test_npz_complex_x_is_refused(tmp_path):
    p = tmp_path / "c.npz"
    np.savez(p, x=np.ones((4, 2), dtype=complex), y=np.arange(4))
    with pytest.raises(ValueError, match="c.npz.*complex"):
        load_npz(p)


@pytest.mark.parametrize("cell", ["nan", "inf", "-inf"])
def test_csv_nan_and_inf_cells_are_refused(tmp_path, cell):
    p = tmp_path / "d.csv"
    p.write_text(f"a,b,label\n1,2,0\n3,{cell},1\n")
    with pytest.raises(ValueError, match=r"d\.csv: line 3, column 2.*not a finite"):
        load_csv(p)


def test_idx_dimensions_that_overflow_name_the_file(tmp_path):
    p = tmp_path / "over.idx"
    # 2**32 * 2**32 elements overflows int64 to 0 bytes: the old check then passed.
    p.write_bytes(b"\0\0\x08\x03" + struct.pack(">3I", 2**32 - 1, 2**32 - 1, 0) +
                  b"\0" * 0)
    q = tmp_path / "over2.idx"
    q.write_bytes(b"\0\0\x08\x02" + struct.pack(">2I", 2**32 - 1, 2**32 - 1))
    with pytest.raises(ValueError, match="over2.idx"):
        read_idx(q)
    with pytest.raises(ValueError, match=r"over\.idx: IDX dimensions"):
        read_idx(p)


def test_model_part_of_a_folder_that_is_a_fifo_is_refused(tmp_path):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs")
    folder = tmp_path / "m.keras"
    save_model(small_model(), folder, zipped=False)
    os.unlink(folder / "config.json")
    os.mkfifo(folder / "config.json")
    with pytest.raises(ModelFileError, match="FIFO"):
        load_model(folder)
