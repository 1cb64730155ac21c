"""``image_dataset_from_directory``: Keras' file order and labels (checked against real
Keras' own indexing code), label modes, and TensorFlow's resize (checked against torch's
half-pixel ``interpolate``, the same sampling)."""

import os

import numpy as np
import pytest

from core.datasets.image_folder import (
    image_dataset_from_directory,
    index_directory,
    load_image_folder,
    resize_image,
)
from core.utils import image_dataset_from_directory as from_utils

PIL = pytest.importorskip("PIL.Image")


def make_folder(root, counts=None, size=(10, 14), formats=("png", "jpg", "bmp", "gif")):
    """One sub-folder per class, images of several formats, a nested folder and a stray
    text file (Keras skips it)."""
    rng = np.random.default_rng(0)
    counts = counts or {"cat": 5, "dog": 4, "bird": 3}
    for name, n in counts.items():
        (root / name / "more").mkdir(parents=True)
        for i in range(n):
            arr = rng.integers(0, 255, size + (3,), dtype=np.uint8)
            sub = root / name / ("more" if i == 0 else "")
            PIL.fromarray(arr).save(sub / f"img{i}.{formats[i % len(formats)]}")
        (root / name / "notes.txt").write_text("not an image")
    return root


def test_order_and_labels_match_real_keras(tmp_path):
    os.environ.setdefault("KERAS_BACKEND", "torch")  # real Keras, without TensorFlow
    keras_utils = pytest.importorskip("keras.src.utils.dataset_utils")
    root = make_folder(tmp_path / "pets")
    for shuffle, seed in ((False, None), (True, 7)):
        mine = index_directory(root, shuffle=shuffle, seed=seed)
        theirs = keras_utils.index_directory(str(root), "inferred", formats=(
            ".bmp", ".gif", ".jpeg", ".jpg", ".png"), shuffle=shuffle, seed=seed,
            verbose=False)
        assert mine[0] == theirs[0] and mine[2] == theirs[2] == ["bird", "cat", "dog"]
        assert np.array_equal(mine[1], theirs[1])
        tr = keras_utils.get_training_or_validation_split(theirs[0], theirs[1], 0.25,
                                                          "training")
        ds_tr, ds_va = image_dataset_from_directory(root, seed=seed or 1, shuffle=shuffle,
                                                    validation_split=0.25, subset="both",
                                                    verbose=False)
        if shuffle:
            assert ds_tr.file_paths == tr[0]
        assert len(ds_tr.file_paths) + len(ds_va.file_paths) == 12
        assert not set(ds_tr.file_paths) & set(ds_va.file_paths)


def test_label_modes_colour_modes_and_unbatched(tmp_path):
    root = make_folder(tmp_path / "pets", counts={"a": 3, "b": 2})
    ds = from_utils(root, image_size=(8, 6), batch_size=4, shuffle=False, verbose=False)
    batches = list(ds)
    assert [b[0].shape for b in batches] == [(4, 8, 6, 3), (1, 8, 6, 3)] and len(ds) == 2
    assert batches[0][0].dtype == np.float32 and batches[0][1].dtype == np.int32
    assert np.concatenate([b[1] for b in batches]).tolist() == [0, 0, 0, 1, 1]
    cat = next(iter(image_dataset_from_directory(root, label_mode="categorical",
                                                 shuffle=False, image_size=4, verbose=False)))
    assert cat[1].shape == (5, 2) and cat[1][-1].tolist() == [0.0, 1.0]
    binary = next(iter(image_dataset_from_directory(root, label_mode="binary",
                                                    color_mode="grayscale", image_size=4,
                                                    shuffle=False, verbose=False)))
    assert binary[0].shape == (5, 4, 4, 1) and binary[1].shape == (5, 1)
    single = next(iter(image_dataset_from_directory(root, batch_size=None, image_size=4,
                                                    color_mode="rgba", verbose=False)))
    assert single[0].shape == (4, 4, 4) and single[1].shape == ()
    only = next(iter(image_dataset_from_directory(root, labels=None, image_size=4,
                                                  verbose=False)))
    assert isinstance(only, np.ndarray) and only.shape == (5, 4, 4, 3)


def test_keras_errors(tmp_path):
    root = make_folder(tmp_path / "pets", counts={"a": 2, "b": 2, "c": 2})
    with pytest.raises(ValueError, match="exactly 2 class_names"):
        image_dataset_from_directory(root, label_mode="binary", verbose=False)
    with pytest.raises(ValueError, match="must provide a `seed`"):
        image_dataset_from_directory(root, validation_split=0.2, subset="training")
    with pytest.raises(ValueError, match="did not match the names"):
        image_dataset_from_directory(root, class_names=["a", "zebra"], verbose=False)
    with pytest.raises(ValueError, match="`color_mode` must be one of"):
        image_dataset_from_directory(root, color_mode="cmyk")
    with pytest.raises(ValueError, match="'bicubic' needs TensorFlow"):
        image_dataset_from_directory(root, interpolation="bicubic")
    ds = image_dataset_from_directory(root, class_names=["c", "a"], shuffle=False,
                                      verbose=False)
    assert ds.class_names == ["c", "a"] and len(ds.file_paths) == 4


@pytest.mark.parametrize("shape,size", [((10, 14), (4, 5)), ((5, 7), (13, 9)), ((8, 8), (8, 3))])
def test_bilinear_and_nearest_resize_match_torch(shape, size):
    torch = pytest.importorskip("torch")
    img = np.random.default_rng(3).uniform(0, 255, shape + (3,)).astype(np.float32)
    t = torch.from_numpy(img).permute(2, 0, 1)[None]
    ref = torch.nn.functional.interpolate(t, size=size, mode="bilinear", align_corners=False,
                                          antialias=False)[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(resize_image(img, size), ref, rtol=1e-5, atol=1e-3)
    near = torch.nn.functional.interpolate(t, size=size, mode="nearest-exact")[0]
    np.testing.assert_array_equal(resize_image(img, size, "nearest"),
                                  near.permute(1, 2, 0).numpy())


def test_app_import_skips_and_names_unreadable_files(tmp_path):
    root = make_folder(tmp_path / "pets", counts={"a": 3, "b": 3}, size=(6, 6))
    (root / "b" / "broken.png").write_bytes(b"\x89PNG not really")
    x, y, names, skipped = load_image_folder(root, image_size=(6, 6), color_mode="rgb")
    assert x.shape == (6, 6, 6, 3) and x.dtype == np.uint8 and names == ["a", "b"]
    assert sorted(np.bincount(y).tolist()) == [3, 3]
    assert len(skipped) == 1 and skipped[0][0].endswith("broken.png")
    assert "not a readable image" in skipped[0][1]
    (tmp_path / "flat").mkdir()
    with pytest.raises(ValueError, match="sub-folder"):
        load_image_folder(tmp_path / "flat")
