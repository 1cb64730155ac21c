"""Training data for the canvas: which data set, loaded arrays, and fitting them to a network.

No Qt here, so the data panel can run ``load_dataset`` on a worker thread and the
tests can call it directly. ``DataSpec`` is what the project remembers (stored in
``document.training.dataset`` as a dict); ``Dataset`` holds the loaded arrays;
``prepare`` turns them into float32 model inputs/targets for a given network or
refuses with a ``DataError`` that says why.

>>> spec = DataSpec(kind="sample")
>>> ds = load_dataset(spec)                       # doctest: +SKIP
>>> xs = prepare(ds, input_shape=(28, 28, 1), num_outputs=10,
...              loss="sparse_categorical_crossentropy")   # doctest: +SKIP
"""

from __future__ import annotations

import urllib.error
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

KINDS = ("sample", "text_sample", "series_sample", "mnist", "fashion_mnist", "file",
         "image_folder", "table", "text", "series")
OWN_KINDS = ("image_folder", "table", "text", "series")  # core.session.own_data
KIND_LABELS = {
    "sample": "Embedded sample (offline)",
    "text_sample": "Sentences, VADER (offline)",
    "series_sample": "Weekly CO2, Mauna Loa (offline)",
    "mnist": "MNIST digits",
    "fashion_mnist": "Fashion-MNIST",
    "file": "My file (.npz / .csv / IDX)",
    "image_folder": "My image folder (one sub-folder per class)",
    "table": "My CSV table (choose the columns)",
    "text": "My text CSV (a text and a label column)",
    "series": "My time-series CSV",
}
FASHION_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                 "Sneaker", "Bag", "Ankle boot")


class DataError(ValueError):
    """A data set that cannot be read or does not fit the network; the message says why."""


@dataclass
class DataSpec:
    """Where the data comes from and how it is split (stored in the project)."""

    kind: str = "sample"
    path: str = ""            # user file (npz/csv/idx images) or data folder for (fashion_)mnist
    labels_path: str = ""     # IDX labels file when ``path`` is an IDX images file
    test_path: str = ""       # optional separate test file of the same format
    label_column: str = "-1"  # CSV: column name, or an index like "-1" (last column)
    validation_split: float = 0.1
    # The user's own data (OWN_KINDS; see core.session.own_data):
    image_size: tuple = (28, 28)       # image folder: (height, width) after resizing
    color_mode: str = "grayscale"      # image folder: "grayscale" | "rgb"
    feature_columns: tuple = ()        # table / series: the input columns
    target_column: str = ""            # table / series: what is predicted; text: the label
    text_column: str = ""              # text: the column holding the texts
    task: str = "auto"                 # table: "auto" | "classification" | "regression"
    window: int = 24                   # series: steps per input window
    horizon: int = 1                   # series: steps ahead of the window's end
    max_tokens: int = 20000            # text: the largest vocabulary
    sequence_length: int = 0           # text: tokens per sample (0: 95th percentile)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d) -> DataSpec:
        if isinstance(d, DataSpec):
            return d
        if not isinstance(d, dict):
            return cls()
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        for k in ("image_size", "feature_columns"):  # JSON gives lists back
            if isinstance(known.get(k), list):
                known[k] = tuple(known[k])
        spec = cls(**known)
        if spec.kind not in KINDS:
            spec.kind = "sample"
        return spec


@dataclass
class Dataset:
    """Loaded arrays (raw dtype as read) and what the panel shows about them."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    class_names: tuple = field(default_factory=tuple)
    # What the task is and what the samples are (the contract with the loaders):
    # regression y is float32, classification y class ids.
    task: str = "classification"          # "classification" | "regression"
    feature_names: tuple = field(default_factory=tuple)
    target_name: str = ""
    texts_train: list | None = None       # raw strings behind x (text data), or None
    texts_test: list | None = None
    vocabulary: list | None = None        # TextVectorization vocabulary (specials first)
    window: int | None = None             # time series: steps per window ...
    horizon: int | None = None            # ... and how far ahead the target lies
    time_index_test: np.ndarray | None = None  # each test target's time (series)
    warnings: tuple = field(default_factory=tuple)
    # Arrays for further Input nodes, by Input name: name -> (train, test or None).
    extra_inputs: dict = field(default_factory=dict)

    @property
    def sample_shape(self) -> tuple:
        return tuple(self.x_train.shape[1:])

    @property
    def num_classes(self) -> int:
        """Classes of a classification set (0 for regression: its targets are values)."""
        if self.task == "regression":
            return 0
        ys = [self.y_train] + ([self.y_test] if self.y_test is not None else [])
        return int(max(int(np.max(y)) for y in ys if y.size) + 1)

    @property
    def is_image(self) -> bool:
        s = self.sample_shape
        if self.window is not None or self.texts_train is not None:
            return False  # (steps, features) windows and token ids are not pictures
        return len(s) == 2 or (len(s) == 3 and s[-1] in (1, 3))

    def suggested_input_shape(self) -> tuple:
        """Keras image layout: (H, W) greyscale becomes (H, W, 1); tabular stays (F,),
        time-series windows (steps, features)."""
        s = self.sample_shape
        return s + (1,) if len(s) == 2 and self.is_image else s


# ---------------------------------------------------------------------- loading
def _check_pair(name: str, x, y) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x)
    y = np.asarray(y)
    if x.ndim < 2:
        raise DataError(f"{name}: inputs must have a sample axis and at least one feature "
                        f"axis, got shape {x.shape}.")
    if y.ndim == 2 and y.shape[1] > 1:  # one-hot labels -> class ids
        y = np.argmax(y, axis=1)
    y = y.reshape(-1)
    if len(x) != len(y):
        raise DataError(f"{name}: {len(x)} input samples but {len(y)} labels.")
    if len(x) == 0:
        raise DataError(f"{name}: the file holds no samples.")
    if not np.issubdtype(x.dtype, np.number):
        raise DataError(f"{name}: inputs have dtype {x.dtype}, expected numbers.")
    if np.issubdtype(x.dtype, np.floating) and not np.all(np.isfinite(x)):
        raise DataError(f"{name}: inputs contain NaN or infinite values.")
    if not (np.issubdtype(y.dtype, np.integer) or
            (np.issubdtype(y.dtype, np.floating) and np.all(np.mod(y, 1) == 0))):
        raise DataError(f"{name}: labels must be whole class numbers, got dtype {y.dtype}.")
    y = y.astype(np.int64)
    if y.min() < 0:
        raise DataError(f"{name}: labels must be >= 0, found {int(y.min())}.")
    return x, y


def _load_file(path: str, spec: DataSpec):
    """``((x, y), test_or_None)`` from a user file through ``core.datasets.files``."""
    from core.datasets import files

    p = Path(path)
    if not p.is_file():
        raise DataError(f"Data file {str(p)!r} does not exist.")
    low = p.name.lower()
    try:
        if low.endswith(".npz"):
            return files.load_npz(str(p))
        if low.endswith((".csv", ".csv.gz", ".txt")):
            col = spec.label_column.strip() or "-1"
            label = int(col) if col.lstrip("-").isdigit() else col
            return files.load_csv(str(p), label_column=label)
        if "idx" in low or low.endswith(("-ubyte", "-ubyte.gz")):
            if not spec.labels_path:
                raise DataError(f"{p.name}: an IDX images file needs its IDX labels file too.")
            return files.load_idx(str(p), spec.labels_path)
    except DataError:
        raise
    except Exception as exc:  # the reader says what is wrong (it names the file)
        raise DataError(f"Cannot read {p.name}: {exc}") from exc
    raise DataError(f"{p.name}: unknown data file type; use .npz (arrays x and y, or "
                    "x_train/y_train/x_test/y_test), .csv (one row per sample with a label "
                    "column) or an IDX images + labels pair.")


def load_dataset(spec: DataSpec) -> Dataset:
    """Read the arrays ``spec`` names (slow: call it off the GUI thread)."""
    kind = spec.kind
    if kind == "sample":
        from core.datasets import sample

        (xtr, ytr), (xte, yte) = sample.load_sample()
        name, classes = "Embedded sample", tuple(str(i) for i in range(10))
    elif kind in ("text_sample", "series_sample"):
        from core.session.shipped_samples import LOADERS

        return LOADERS[kind]()  # the sequence templates' data (tokens / windows)
    elif kind in ("mnist", "fashion_mnist"):
        from core import datasets

        mod = getattr(datasets, kind)
        try:
            (xtr, ytr), (xte, yte) = (mod.load_data(spec.path) if spec.path else mod.load_data())
        except OSError as exc:
            if not isinstance(exc.__cause__, urllib.error.URLError):
                raise DataError(f"Cannot load {KIND_LABELS[kind]}: {exc}") from exc
            # Offline / server unreachable: say so plainly instead of urllib's raw
            # "<urlopen error [Errno -3] ...>" text, and say how to work without the network.
            file = "mnist.npz" if kind == "mnist" else "the four Fashion-MNIST .gz files"
            raise DataError(
                f"Cannot download {KIND_LABELS[kind]}: the computer seems to be offline or "
                f"the server cannot be reached. Put {file} in ~/.keras/datasets, or type the "
                "folder that holds it in the path box, or choose the embedded sample."
            ) from exc
        except Exception as exc:
            raise DataError(f"Cannot load {KIND_LABELS[kind]}: {exc}") from exc
        name = KIND_LABELS[kind]
        classes = FASHION_NAMES if kind == "fashion_mnist" else tuple(str(i) for i in range(10))
    elif kind in OWN_KINDS:
        from core.session.own_data import load_own

        return load_own(spec)[0]
    elif kind == "file":
        if not spec.path:
            raise DataError("Choose a data file first.")
        (xtr, ytr), test = _load_file(spec.path, spec)
        xte, yte = test if test is not None else (None, None)
        if spec.test_path:
            (xte, yte), _ = _load_file(spec.test_path, DataSpec(
                kind="file", path=spec.test_path, label_column=spec.label_column))
        if xte is not None and np.asarray(xte).shape[1:] != np.asarray(xtr).shape[1:]:
            raise DataError(f"Test samples have shape {np.asarray(xte).shape[1:]} but "
                            f"training samples have shape {np.asarray(xtr).shape[1:]}.")
        name, classes = Path(spec.path).name, ()
    else:
        raise DataError(f"Unknown data source {kind!r}; expected one of {', '.join(KINDS)}.")
    xtr, ytr = _check_pair(name, xtr, ytr)
    if xte is not None:
        xte, yte = _check_pair(name + " (test)", xte, yte)
    ds = Dataset(name, xtr, ytr, xte, yte, tuple(classes))
    _check_class_count(ds)
    if not ds.class_names:
        ds.class_names = tuple(str(i) for i in range(ds.num_classes))
    return ds


def _check_class_count(ds: Dataset) -> None:
    """Labels are class ids: the app names every class and counts a classes x classes
    confusion matrix, so labels up to 1e12 (or 10 million classes) are refused here,
    with the figure, instead of filling memory."""
    from core.safety import array_bytes, check_allocation

    n = ds.num_classes
    check_allocation(array_bytes((n, n), 8), f"{ds.name}: labels go up to {n - 1}, i.e. "
                     f"{n} classes (labels are class ids); their {n} x {n} confusion matrix",
                     DataError)


# ------------------------------------------------------------------ preparing
# The mapping onto a network lives in core.session.network_data (the CLI shares it);
# ``prepare`` is its one-Input, one-output form.
from core.session.network_data import (  # noqa: E402 - kept beside its use
    NetworkDataError,
    Prepared,
    prepare_network,
    scale_inputs,
)
from core.session.ports import Port  # noqa: E402

__all__ = ["DataError", "DataSpec", "Dataset", "Prepared", "load_dataset", "prepare",
           "prepare_ports", "scale_inputs"]


def prepare_ports(ds: Dataset, inputs, outputs, loss: str,
                  validation_split: float = 0.1) -> Prepared:
    """``core.session.network_data.prepare_network`` with its refusals as ``DataError``."""
    try:
        return prepare_network(ds, inputs, outputs, loss, validation_split)
    except NetworkDataError as exc:
        raise DataError(str(exc)) from None


def prepare(ds: Dataset, input_shape: tuple, num_outputs: int | None, loss: str,
            validation_split: float = 0.1) -> Prepared:
    """Scale and reshape ``ds`` for a network with ``input_shape`` (no batch dim).

    Raises ``DataError`` naming both shapes when they do not fit; nothing is modified.
    """
    shape = tuple(input_shape)
    if None in shape:
        raise DataError(f"The Input node shape {shape} has an unknown dimension; "
                        "set it from the data first.")
    out = Port("", "output", None if num_outputs is None else (int(num_outputs),))
    return prepare_ports(ds, [Port("", "input", shape)], [out], loss, validation_split)
