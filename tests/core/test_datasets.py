"""Data sets: IDX reader, user-file loaders, Keras-style load_data, downloads, the sample."""

import gzip
import hashlib
import io
import struct
import zipfile

import numpy as np
import pytest

from core.datasets import download, fashion_mnist, files, idx, mnist, sample
from resources import resource_path


def _idx_bytes(arr: np.ndarray, code: int) -> bytes:
    be = arr.astype(arr.dtype.newbyteorder(">"))
    return bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) + be.tobytes()


@pytest.fixture(autouse=True)
def _no_real_cache(tmp_path, monkeypatch):
    # Never read or fill the user's ~/.keras or a Debian install during tests.
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.delenv("NETWEAVER_DATA", raising=False)
    monkeypatch.setattr(fashion_mnist, "DEBIAN_DIR", str(tmp_path / "no_debian"))


# ----------------------------------------------------------------------------- IDX
@pytest.mark.parametrize("gz", [False, True])
def test_idx_round_trip_uint8_and_int32(tmp_path, gz):
    a = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    b = np.array([-5, 70000, 3], dtype=np.int32)
    for arr, code, name in ((a, 0x08, "a.idx"), (b, 0x0C, "b.idx")):
        data = _idx_bytes(arr, code)
        p = tmp_path / name
        p.write_bytes(gzip.compress(data) if gz else data)
        out = idx.read_idx(p)
        assert out.dtype == arr.dtype and out.dtype.isnative
        np.testing.assert_array_equal(out, arr)
        out[0] = 1  # writable, owns its memory


@pytest.mark.parametrize("mutate, words", [
    (lambda d: b"\x01" + d[1:], "not an IDX file"),
    (lambda d: d[:2] + b"\x07" + d[3:], "unknown IDX data type"),
    (lambda d: d[:-1], "truncated"),
    (lambda d: d + b"\x00", "trailing bytes"),
    (lambda d: d[:6], "truncated IDX header"),
])
def test_idx_rejects_bad_files_naming_them(tmp_path, mutate, words):
    data = _idx_bytes(np.zeros((2, 2, 2), np.uint8), 0x08)
    p = tmp_path / "bad-images.idx"
    p.write_bytes(mutate(data))
    with pytest.raises(ValueError, match=words) as e:
        idx.read_idx(p)
    assert "bad-images.idx" in str(e.value)


def test_idx_truncated_gzip_is_a_value_error(tmp_path):
    p = tmp_path / "x.gz"
    noise = np.random.default_rng(0).integers(0, 256, (50, 28, 28), dtype=np.uint8)
    p.write_bytes(gzip.compress(_idx_bytes(noise, 8))[:2000])
    with pytest.raises(ValueError, match=r"x\.gz.*corrupt or truncated"):
        idx.read_idx(p)


def test_idx_pair_count_mismatch(tmp_path):
    (tmp_path / "i").write_bytes(_idx_bytes(np.zeros((3, 2, 2), np.uint8), 8))
    (tmp_path / "l").write_bytes(_idx_bytes(np.zeros((4,), np.uint8), 8))
    with pytest.raises(ValueError, match="3 images but .* 4 labels"):
        idx.read_idx_pair(tmp_path / "i", tmp_path / "l")


# ----------------------------------------------------------------------------- user files
def test_load_npz_split_and_xy(tmp_path):
    p = tmp_path / "d.npz"
    np.savez(p, x_train=np.zeros((5, 2)), y_train=np.arange(5), x_test=np.ones((2, 2)),
             y_test=np.arange(2))
    (xt, yt), (xv, yv) = files.load_npz(p)
    assert xt.shape == (5, 2) and yv.tolist() == [0, 1]
    q = tmp_path / "e.npz"
    np.savez(q, x=np.zeros((3, 4)), y=np.arange(3))
    (x, y), test = files.load_npz(q)
    assert x.shape == (3, 4) and test is None


def test_load_npz_refuses_pickled_objects_and_bad_layouts(tmp_path):
    p = tmp_path / "obj.npz"
    np.savez(p, x=np.array([{"a": 1}, None], dtype=object), y=np.arange(2))
    with pytest.raises(ValueError, match=r"obj\.npz.*allow_pickle"):
        files.load_npz(p)
    q = tmp_path / "keys.npz"
    np.savez(q, images=np.zeros(3))
    with pytest.raises(ValueError, match=r"keys\.npz: expected arrays named .*\['images'\]"):
        files.load_npz(q)
    r = tmp_path / "len.npz"
    np.savez(r, x=np.zeros((3, 2)), y=np.arange(4))
    with pytest.raises(ValueError, match=r"len\.npz: 'x' has 3 samples but 'y' has 4"):
        files.load_npz(r)
    s = tmp_path / "junk.npz"
    s.write_bytes(b"this is not a zip file at all")
    with pytest.raises(ValueError, match=r"junk\.npz"):
        files.load_npz(s)


def test_load_csv_header_label_by_name_and_gzip(tmp_path):
    p = tmp_path / "d.csv.gz"
    p.write_bytes(gzip.compress(b"a,label,b\n1,0,255\n2,1,3\n"))
    (x, y), test = files.load_csv(p, label_column="label")
    assert test is None and x.dtype == np.uint8 and y.dtype == np.uint8
    np.testing.assert_array_equal(x, [[1, 255], [2, 3]])
    np.testing.assert_array_equal(y, [0, 1])
    q = tmp_path / "f.csv"
    q.write_text("0.5,2.5,7\n1.5,-3,8\n")
    (x, y), _ = files.load_csv(q)  # no header, label last
    assert x.dtype == np.float32 and y.tolist() == [7, 8]


@pytest.mark.parametrize("text, kwargs, words", [
    ("1,2,3\n4,5\n", {}, "line 2 has 2 columns, expected 3"),
    ("1,2,3\n4,x,6\n", {"header": False}, "line 2: value 'x' is not a number"),
    ("", {}, "empty"),
    ("1,2\n", {"label_column": 5}, "label_column=5 is out of range"),
    ("a,b\n1,2\n", {"label_column": "c"}, "'c' is not a column name"),
])
def test_load_csv_errors_name_the_file(tmp_path, text, kwargs, words):
    p = tmp_path / "bad.csv"
    p.write_text(text)
    with pytest.raises(ValueError, match=words) as e:
        files.load_csv(p, **kwargs)
    assert "bad.csv" in str(e.value)


# ----------------------------------------------------------------------------- downloads
def _serve(mapping):
    """An opener that serves bytes for URLs like urlopen would (no network)."""
    calls = []

    class Resp(io.BytesIO):
        def __init__(self, data):
            super().__init__(data)
            self.headers = {"Content-Length": str(len(data))}

    def opener(url, timeout=None):
        calls.append(url)
        return Resp(mapping[url])

    opener.calls = calls
    return opener


def test_get_file_file_url_sha256_progress_and_cache(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(b"abc" * 100000)
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    out = io.StringIO()
    path = download.get_file("f.bin", src.as_uri(), file_hash=digest,
                             cache_dir=str(tmp_path / "cache"),
                             progress=download.text_progress(out))
    assert path == str(tmp_path / "cache" / "datasets" / "f.bin")
    assert open(path, "rb").read() == src.read_bytes()
    assert "100.0%" in out.getvalue() and "0.3/0.3 MB" in out.getvalue()
    src.unlink()  # second call must use the cache, not the origin
    assert download.get_file("f.bin", src.as_uri(), file_hash=digest,
                             cache_dir=str(tmp_path / "cache"), progress=lambda *a: None) == path


def test_get_file_checksum_mismatch_leaves_nothing(tmp_path):
    opener = _serve({"http://x/f.bin": b"evil bytes"})
    with pytest.raises(download.ChecksumError, match="f.bin.*expected " + "0" * 64):
        download.get_file("f.bin", "http://x/f.bin", file_hash="0" * 64,
                          cache_dir=str(tmp_path), opener=opener, progress=lambda *a: None)
    assert list((tmp_path / "datasets").iterdir()) == []


def test_get_file_redownloads_a_corrupt_cached_copy(tmp_path):
    good = b"good content"
    target = tmp_path / "datasets" / "g.bin"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"corrupt")
    opener = _serve({"http://x/g.bin": good})
    download.get_file("g.bin", "http://x/g.bin", file_hash=hashlib.md5(good).hexdigest(),
                      cache_dir=str(tmp_path), opener=opener, progress=lambda *a: None)
    assert target.read_bytes() == good and opener.calls == ["http://x/g.bin"]


def _fake_mnist(tmp_path):
    (xt, yt), (xv, yv) = sample.load_sample()
    p = tmp_path / "served_mnist.npz"
    np.savez(p, x_train=xt, y_train=yt, x_test=xv, y_test=yv)
    return p, (xt, yt, xv, yv)


def test_mnist_downloads_into_keras_cache_and_checks_sha256(tmp_path, monkeypatch):
    p, (xt, yt, xv, yv) = _fake_mnist(tmp_path)
    monkeypatch.setattr(mnist, "ORIGIN", p.as_uri())
    monkeypatch.setattr(mnist, "SHA256", hashlib.sha256(p.read_bytes()).hexdigest())
    monkeypatch.chdir(tmp_path)  # no stray ./mnist.npz decides the source
    (a, b), (c, d) = mnist.load_data(cache_dir=str(tmp_path / "cache"), progress=lambda *a: None)
    assert (tmp_path / "cache" / "datasets" / "mnist.npz").is_file()
    np.testing.assert_array_equal(a, xt)
    assert a.dtype == np.uint8 and b.dtype == np.uint8 and c.shape == xv.shape
    monkeypatch.setattr(mnist, "SHA256", "f" * 64)  # cached copy no longer matches
    (tmp_path / "cache" / "datasets" / "mnist.npz").unlink()
    with pytest.raises(download.ChecksumError, match="mnist.npz"):
        mnist.load_data(cache_dir=str(tmp_path / "cache"), progress=lambda *a: None)


def test_mnist_local_path_and_override_dir(tmp_path, monkeypatch):
    p, (xt, *_rest) = _fake_mnist(tmp_path)
    (a, _), _ = mnist.load_data(path=str(p))
    np.testing.assert_array_equal(a, xt)
    d = tmp_path / "override"
    d.mkdir()
    (d / "mnist.npz").write_bytes(p.read_bytes())
    monkeypatch.setenv("NETWEAVER_DATA", str(d))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(mnist, "ORIGIN", "http://must-not-be-used/")
    (a, _), _ = mnist.load_data()
    np.testing.assert_array_equal(a, xt)


def test_fashion_from_shared_folder(shared_data):
    (xt, yt), (xv, yv) = fashion_mnist.load_data(path=str(shared_data / "fashion-mnist"))
    assert xt.shape == (60000, 28, 28) and xv.shape == (10000, 28, 28)
    assert xt.dtype == np.uint8 and yt.dtype == np.uint8
    assert np.bincount(yt).tolist() == [6000] * 10 and np.bincount(yv).tolist() == [1000] * 10
    assert 60 < xt.mean() < 90  # real clothes images, not zeros/noise (mean ~72.9)


def test_fashion_download_path_and_checksum(shared_data, tmp_path, monkeypatch):
    folder = shared_data / "fashion-mnist"
    served = {download.KERAS_DATASETS + n: (folder / n).read_bytes() for n in fashion_mnist.FILES}
    opener = _serve(served)
    # The shared copies were recompressed, so the upstream MD5s must reject them.
    with pytest.raises(download.ChecksumError, match="train-labels-idx1-ubyte.gz"):
        fashion_mnist.load_data(cache_dir=str(tmp_path), opener=opener, progress=lambda *a: None)
    monkeypatch.setattr(fashion_mnist, "FILES", {n: hashlib.md5(b).hexdigest() for n, b in
                                                 ((u.rsplit("/", 1)[1], b)
                                                  for u, b in served.items())})
    (xt, yt), (xv, yv) = fashion_mnist.load_data(cache_dir=str(tmp_path), opener=opener,
                                                 progress=lambda *a: None)
    assert xt.shape == (60000, 28, 28) and yv.shape == (10000,)
    assert sorted(p.name for p in (tmp_path / "datasets" / "fashion-mnist").iterdir()) == \
        sorted(fashion_mnist.FILES)
    n = len(opener.calls)
    fashion_mnist.load_data(cache_dir=str(tmp_path), opener=opener, progress=lambda *a: None)
    assert len(opener.calls) == n  # served from the cache the second time


def test_fashion_override_env(shared_data, monkeypatch):
    monkeypatch.setenv("NETWEAVER_DATA", str(shared_data))
    assert fashion_mnist.find_local()["t10k-labels-idx1-ubyte.gz"].startswith(
        str(shared_data / "fashion-mnist"))


# ----------------------------------------------------------------------------- sample
def test_sample_shapes_and_balance():
    (xt, yt), (xv, yv) = sample.load_sample()
    assert xt.shape == (4000, 28, 28) and xv.shape == (1000, 28, 28)
    assert xt.dtype == np.uint8 and yt.dtype == np.uint8
    assert np.bincount(yt).tolist() == [400] * 10 and np.bincount(yv).tolist() == [100] * 10
    assert 20 < xt.mean() < 50 and xt.max() == 255  # real digits: mostly black background
    with np.load(resource_path("data", "mnist_sample.npz"), allow_pickle=False) as f:
        assert sorted(f.files) == ["x_test", "x_train", "y_test", "y_train"]
    assert (resource_path("data", "README.md")).read_text().count("CC BY 4.0") >= 1


def test_sample_is_exactly_the_shared_csv(shared_data):
    (x, y), _ = files.load_csv(shared_data / "mnist-5k" / "mnist_5k.csv.gz", header=False)
    (xt, yt), (xv, yv) = sample.load_sample()
    got = {(bytes(img.reshape(-1)), int(lab)) for img, lab in
           zip(np.concatenate([xt, xv]), np.concatenate([yt, yv]))}
    want = {(bytes(img), int(lab)) for img, lab in zip(x, y)}
    assert got == want


def test_resource_path_rejects_escapes():
    with pytest.raises(ValueError, match="'..'"):
        resource_path("..", "secret")
    with pytest.raises(ValueError, match="absolute"):
        resource_path("/etc/passwd")


@pytest.mark.parametrize("method", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_npz_member_with_another_compression_method_is_refused_by_name(tmp_path, method):
    """numpy writes stored or deflated members; anything else (and encrypted members,
    found by the loader fuzz) is a ValueError naming the file and the member."""
    buf = io.BytesIO()
    np.save(buf, np.arange(6, dtype="float32"))
    path = tmp_path / "odd.npz"
    with zipfile.ZipFile(path, "w", compression=method) as zf:
        zf.writestr("x.npy", buf.getvalue())
        zf.writestr("y.npy", buf.getvalue())
    from core.datasets import load_npz
    with pytest.raises(ValueError, match=r"odd\.npz: member 'x' is encrypted or uses "
                                         f"compression method {method}"):
        load_npz(path)
