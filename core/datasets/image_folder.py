"""Image folders as Keras 3's ``keras.utils.image_dataset_from_directory``, on numpy.

``image_dataset_from_directory(directory, labels="inferred", label_mode="int", ...)``
takes Keras' arguments and defaults and indexes the files exactly as Keras does
(class = sub-folder name, sub-folders sorted alphanumerically, files walked in sorted
order, shuffled with ``np.random.RandomState(seed)``, the validation subset taken from
the end). The differences, because there is no tf.data here:

* it returns an ``ImageFolderDataset`` that yields numpy ``(images, labels)`` batches
  (``images`` float32 in [0, 255], as Keras) and has ``class_names`` and
  ``file_paths``; ``batch_size=None`` yields single samples, as Keras;
* images are decoded with Pillow; greyscale uses Pillow's ITU-R 601-2 luma (TensorFlow's
  decoder may differ by one grey level); ``interpolation`` is "bilinear" or "nearest"
  (TensorFlow's half-pixel-centre resize, no antialiasing); the other TF kernels are
  refused by name;
* ``format`` must be "numpy" (Keras: "tf" or "grain").

``load_image_folder`` is the app's form: every image decoded once into uint8 arrays,
unreadable files skipped and named instead of stopping the import.

>>> ds = image_dataset_from_directory("flowers", image_size=(64, 64), seed=1)  # doctest: +SKIP
>>> images, labels = next(iter(ds)); images.shape, ds.class_names           # doctest: +SKIP
((32, 64, 64, 3), ['daisy', 'rose'])
"""

from __future__ import annotations

import os

import numpy as np

ALLOWLIST_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
INTERPOLATIONS = ("bilinear", "nearest")
_TF_ONLY = ("bicubic", "area", "lanczos3", "lanczos5", "gaussian", "mitchellcubic")
_CHANNELS = {"grayscale": 1, "rgb": 3, "rgba": 4}
_PIL_MODE = {1: "L", 3: "RGB", 4: "RGBA"}


def index_directory(directory, labels="inferred", class_names=None, shuffle=True, seed=None,
                    follow_links=False):
    """``(file_paths, labels or None, class_names or None)`` in Keras' order."""
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise ValueError(f"{directory}: no such folder.")
    if labels == "inferred":
        subdirs = [d for d in sorted(os.listdir(directory))
                   if os.path.isdir(os.path.join(directory, d)) and not d.startswith(".")]
        if class_names is not None:
            if not set(class_names).issubset(set(subdirs)):
                raise ValueError("The `class_names` passed did not match the names of the "
                                 f"subdirectories of the target directory. Expected: {subdirs}"
                                 f" (or a subset of it), but received: class_names="
                                 f"{class_names}")
            subdirs = list(class_names)
    else:
        if class_names is not None:
            raise ValueError("When argument `labels` is specified, argument `class_names` "
                             "cannot be specified (the `class_names` will be the sorted "
                             "list of labels)." if labels is not None else
                             "When `labels=None` (no labels), argument `class_names` cannot "
                             "be specified.")
        subdirs = [""]
    paths, found = [], []
    for index, sub in enumerate(subdirs):
        root_dir = os.path.join(directory, sub)
        walk = sorted(os.walk(root_dir, followlinks=follow_links), key=lambda w: w[0])
        for root, _dirs, files in walk:
            for fname in sorted(files):
                if fname.lower().endswith(ALLOWLIST_FORMATS):
                    paths.append(os.path.join(root, fname))
                    found.append(index)
    names = list(subdirs)
    if labels == "inferred":
        out_labels = np.array(found, dtype="int32")
    elif labels is None:
        out_labels, names = None, None
    else:
        if len(labels) != len(paths):
            raise ValueError("Expected the lengths of `labels` to match the number of files "
                             f"in the target directory. len(labels) is {len(labels)} while "
                             f"we found {len(paths)} files in directory {directory}.")
        out_labels = np.asarray(labels)
        names = [str(v) for v in sorted(set(labels))]
    if shuffle:
        if seed is None:
            seed = np.random.randint(1e6)
        np.random.RandomState(seed).shuffle(paths)
        if out_labels is not None:
            np.random.RandomState(seed).shuffle(out_labels)
    return paths, out_labels, names


def split(paths, labels, validation_split, subset):
    """Keras' ``get_training_or_validation_split``: validation is the last part."""
    if not validation_split:
        return paths, labels
    n_val = int(validation_split * len(paths))
    if subset == "training":
        return paths[:len(paths) - n_val], None if labels is None else labels[:len(paths) - n_val]
    return paths[len(paths) - n_val:], None if labels is None else labels[len(paths) - n_val:]


def _source_index(out_size: int, in_size: int, interpolation: str):
    """TensorFlow's half-pixel-centre sampling: output i reads input (i + .5) * s - .5."""
    scale = in_size / out_size
    if interpolation == "nearest":
        idx = np.floor((np.arange(out_size) + 0.5) * scale).astype(np.int64)
        return np.minimum(idx, in_size - 1), None, None
    pos = (np.arange(out_size) + 0.5) * scale - 0.5
    lo = np.floor(pos)
    frac = (pos - lo).astype(np.float32)
    return (np.clip(lo, 0, in_size - 1).astype(np.int64),
            np.clip(lo + 1, 0, in_size - 1).astype(np.int64), frac)


def resize_image(image, size, interpolation="bilinear") -> np.ndarray:
    """``(H, W, C)`` -> ``(size[0], size[1], C)`` float32, as ``tf.image.resize``."""
    img = np.asarray(image, dtype=np.float32)
    (h, w), (oh, ow) = img.shape[:2], (int(size[0]), int(size[1]))
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"interpolation={interpolation!r}: Netweaver resizes with "
                         f"{' or '.join(INTERPOLATIONS)}; "
                         f"{interpolation!r} needs TensorFlow.")
    r0, r1, fy = _source_index(oh, h, interpolation)
    c0, c1, fx = _source_index(ow, w, interpolation)
    if interpolation == "nearest":
        return img[r0][:, c0]
    top = img[r0][:, c0] * (1 - fx)[None, :, None] + img[r0][:, c1] * fx[None, :, None]
    bot = img[r1][:, c0] * (1 - fx)[None, :, None] + img[r1][:, c1] * fx[None, :, None]
    return top * (1 - fy)[:, None, None] + bot * fy[:, None, None]


def _crop_box(h, w, size):
    """Keras' ``smart_resize`` crop: the largest centred window with the target ratio."""
    th, tw = size
    ch = max(min(h, int(float(w * th) / tw)), 1)
    cw = max(min(w, int(float(h * tw) / th)), 1)
    top, left = int(float(h - ch) / 2), int(float(w - cw) / 2)
    return top, left, ch, cw


def read_image(path, num_channels=3) -> np.ndarray:
    """Decode one file to ``(H, W, num_channels)`` uint8 (first frame of a GIF)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.seek(0)
            mode = _PIL_MODE[num_channels]
            if im.mode in ("I;16", "I") and mode == "L":
                im = im.point(lambda v: v / 256)
            arr = np.asarray(im.convert(mode), dtype=np.uint8)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ValueError(f"{path}: not a readable image ({exc}).") from None
    return arr.reshape(arr.shape[0], arr.shape[1], num_channels)


def load_image(path, image_size, num_channels=3, interpolation="bilinear",
               crop_to_aspect_ratio=False, pad_to_aspect_ratio=False) -> np.ndarray:
    """One image read and resized as Keras' loader does (float32, 0..255)."""
    if crop_to_aspect_ratio and pad_to_aspect_ratio:
        raise ValueError("Only one of `pad_to_aspect_ratio`, `crop_to_aspect_ratio` can be "
                         "set to `True`.")
    img = read_image(path, num_channels)
    if crop_to_aspect_ratio:
        top, left, ch, cw = _crop_box(img.shape[0], img.shape[1], image_size)
        return resize_image(img[top:top + ch, left:left + cw], image_size, interpolation)
    if pad_to_aspect_ratio:  # tf.image.resize_with_pad: fit inside, centre, zeros around
        th, tw = image_size
        ratio = min(th / img.shape[0], tw / img.shape[1])
        nh, nw = max(int(img.shape[0] * ratio), 1), max(int(img.shape[1] * ratio), 1)
        out = np.zeros((th, tw, num_channels), np.float32)
        top, left = (th - nh) // 2, (tw - nw) // 2
        out[top:top + nh, left:left + nw] = resize_image(img, (nh, nw), interpolation)
        return out
    return resize_image(img, image_size, interpolation)


class ImageFolderDataset:
    """Numpy batches of images (and labels) read on iteration; iterate it each epoch."""

    def __init__(self, file_paths, labels, label_mode, class_names, batch_size, loader):
        self.file_paths, self.class_names = list(file_paths), class_names
        self._labels, self._mode, self.batch_size = labels, label_mode, batch_size
        self._load = loader

    def __len__(self):
        n = len(self.file_paths)
        return n if self.batch_size is None else -(-n // self.batch_size)

    def _encode(self, ids):
        if self._mode == "int":
            return ids.astype("int32")
        if self._mode == "binary":
            return ids.astype("float32").reshape(-1, 1)
        out = np.zeros((len(ids), len(self.class_names)), "float32")
        out[np.arange(len(ids)), ids] = 1.0
        return out

    def _item(self, start, stop):
        x = np.stack([self._load(p) for p in self.file_paths[start:stop]])
        if self._mode is None:
            return x
        return x, self._encode(np.asarray(self._labels[start:stop]))

    def __iter__(self):
        step = self.batch_size or 1
        for b in range(0, len(self.file_paths), step):
            item = self._item(b, b + step)
            if self.batch_size is None:
                item = item[0] if self._mode is None else (item[0][0], item[1][0])
            yield item


def image_dataset_from_directory(directory, labels="inferred", label_mode="int",
                                 class_names=None, color_mode="rgb", batch_size=32,
                                 image_size=(256, 256), shuffle=True, seed=None,
                                 validation_split=None, subset=None, interpolation="bilinear",
                                 follow_links=False, crop_to_aspect_ratio=False,
                                 pad_to_aspect_ratio=False, data_format=None, format="numpy",
                                 verbose=True):
    """Keras 3's function (see the module doc for what differs)."""
    if labels not in ("inferred", None):
        if not isinstance(labels, (list, tuple)):
            raise ValueError("`labels` argument should be a list/tuple of integer labels, of "
                             "the same size as the number of image files in the target "
                             "directory. If you wish to infer the labels from the "
                             'subdirectory names in the target directory, pass `labels="'
                             'inferred"`. If you wish to get a dataset that only contains '
                             f"images (no labels), pass `labels=None`. Received: labels="
                             f"{labels}")
        if class_names:
            raise ValueError('You can only pass `class_names` if `labels="inferred"`. '
                             f"Received: labels={labels}, and class_names={class_names}")
    if label_mode not in {"int", "categorical", "binary", None}:
        raise ValueError('`label_mode` argument must be one of "int", "categorical", '
                         f'"binary", or None. Received: label_mode={label_mode}')
    if labels is None or label_mode is None:
        labels = label_mode = None
    if color_mode not in _CHANNELS:
        raise ValueError('`color_mode` must be one of {"rgb", "rgba", "grayscale"}. '
                         f"Received: color_mode={color_mode}")
    if isinstance(image_size, int):
        image_size = (image_size, image_size)
    elif not isinstance(image_size, (list, tuple)) or len(image_size) != 2:
        raise ValueError("Invalid `image_size` value. Expected a tuple of 2 integers. "
                         f"Received: image_size={image_size}")
    interpolation = interpolation.lower()
    if interpolation not in INTERPOLATIONS + _TF_ONLY:
        raise ValueError("Argument `interpolation` should be one of "
                         f"{INTERPOLATIONS + _TF_ONLY}. Received: interpolation="
                         f"{interpolation}")
    resize_image(np.zeros((1, 1, 1)), (1, 1), interpolation)  # refuses TF-only kernels now
    if format != "numpy":
        raise ValueError(f'format={format!r}: Netweaver has no tf.data or grain; use '
                         '"numpy" (numpy batches).')
    if data_format not in (None, "channels_last"):
        raise ValueError(f"data_format={data_format!r}: only channels_last is supported.")
    if validation_split and not 0 < validation_split < 1:
        raise ValueError(f"`validation_split` must be between 0 and 1, received: "
                         f"{validation_split}")
    if (validation_split or subset) and not (validation_split and subset):
        raise ValueError("If `subset` is set, `validation_split` must be set, and inversely.")
    if subset not in ("training", "validation", "both", None):
        raise ValueError('`subset` must be either "training", "validation" or "both", '
                         f"received: {subset}")
    if validation_split and shuffle and seed is None:
        raise ValueError("If using `validation_split` and shuffling the data, you must "
                         "provide a `seed` argument, to make sure that there is no overlap "
                         "between the training and validation subset.")
    if seed is None:
        seed = np.random.randint(1e6)
    paths, ids, names = index_directory(directory, labels, class_names, shuffle, seed,
                                        follow_links)
    if label_mode == "binary" and len(names) != 2:
        raise ValueError('When passing `label_mode="binary"`, there must be exactly 2 '
                         f"class_names. Received: class_names={names}")
    if verbose:
        print(f"Found {len(paths)} files." if ids is None else
              f"Found {len(paths)} files belonging to {len(names)} classes.")
    channels = _CHANNELS[color_mode]

    def loader(path):
        return load_image(path, image_size, channels, interpolation, crop_to_aspect_ratio,
                          pad_to_aspect_ratio)

    def make(which):
        p, y = split(paths, ids, validation_split, which)
        if not p:
            raise ValueError(f"No {which} images found in directory {directory}. Allowed "
                             f"formats: {ALLOWLIST_FORMATS}")
        return ImageFolderDataset(p, y, label_mode, names, batch_size, loader)

    if subset == "both":
        return make("training"), make("validation")
    if subset is None:
        if not paths:
            raise ValueError(f"No images found in directory {directory}. Allowed formats: "
                             f"{ALLOWLIST_FORMATS}")
        return ImageFolderDataset(paths, ids, label_mode, names, batch_size, loader)
    return make(subset)


def load_image_folder(directory, image_size=(28, 28), color_mode="grayscale",
                      validation_split=0.0, seed=1337, crop_to_aspect_ratio=False):
    """The app's import: ``(x uint8 (n, h, w, c), y int64, class_names, skipped)``.

    Sub-folders are the classes (Keras' order); files are shuffled with ``seed``;
    ``skipped`` lists ``(path, reason)`` of files that are not readable images.
    """
    paths, ids, names = index_directory(directory, "inferred", None, True, seed)
    if len(names) < 2:
        raise ValueError(f"{directory}: found {len(names)} sub-folder(s) "
                         f"{names}; put the images of each class in their own sub-folder "
                         "(at least two classes).")
    if not paths:
        raise ValueError(f"{directory}: no images ({', '.join(ALLOWLIST_FORMATS)}) in its "
                         f"sub-folders {names}.")
    channels = _CHANNELS[color_mode]
    images, labels, skipped = [], [], []
    for path, k in zip(paths, ids):
        try:
            img = load_image(path, image_size, channels, "bilinear", crop_to_aspect_ratio)
        except ValueError as exc:
            skipped.append((path, str(exc)))
            continue
        images.append(np.clip(np.rint(img), 0, 255).astype(np.uint8))
        labels.append(int(k))
    if not images:
        raise ValueError(f"{directory}: none of its {len(paths)} image files could be read "
                         f"(first: {skipped[0][1]}).")
    return np.stack(images), np.array(labels, np.int64), list(names), skipped
