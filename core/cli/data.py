"""The data behind the command line's ``train``, ``evaluate`` and ``predict``.

Without ``--data`` a project trains on the data set it names, loaded exactly as the
app's data panel loads it (``core.session.project_data``): the embedded digits, the
shipped VADER sentences or Mauna Loa CO2 series of the sequence templates, MNIST, or the
user's own file or folder the project remembers. ``--data FILE.npz`` replaces it:
``x_train``/``y_train`` (and ``x_test``/``y_test``); an array named after an Input node
(``NAME``, ``NAME_test``) feeds that Input; float targets that are not whole numbers
make it a regression. Data that cannot be read is a ``DataMissing`` with one line.

>>> ds = train_dataset(doc, None)          # doctest: +SKIP
>>> ds.name                                 # doctest: +SKIP
'VADER sentences'
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np


class DataMissing(Exception):
    """The data cannot be found or read; the message says which and what to do."""


def _read_npz(path) -> dict:
    if not Path(path).is_file():
        raise DataMissing(f"{path}: no such data file")
    try:
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    except (OSError, ValueError) as exc:  # not an .npz, or object arrays (no pickle)
        raise DataMissing(f"{path}: cannot read it as .npz ({exc})") from None


def npz_dataset(path):
    """``path`` as the fields of the app's ``Dataset`` that training reads."""
    arrays, name = _read_npz(path), Path(path).name
    for key in ("x_train", "y_train"):
        if key not in arrays:
            raise DataMissing(f"{name}: no array {key!r} (it has {sorted(arrays)})")
    y = np.asarray(arrays["y_train"])
    regression = np.issubdtype(y.dtype, np.floating) and not np.all(np.mod(y, 1) == 0)
    extra = {k: (v, arrays.get(k + "_test")) for k, v in arrays.items()
             if not k.startswith(("x_", "y_")) and not k.endswith("_test")}
    return SimpleNamespace(name=name, x_train=arrays["x_train"], y_train=y,
                           x_test=arrays.get("x_test"), y_test=arrays.get("y_test"),
                           task="regression" if regression else "classification",
                           extra_inputs=extra)


def project_dataset(doc):
    """The data set the project names, as the app's data panel loads it."""
    from core.session.data_source import DataError
    from core.session.project_data import load_project_data

    try:
        return load_project_data(doc)
    except DataError as exc:
        raise DataMissing(f"{str(exc).splitlines()[0]} (or pass --data FILE.npz)") from None


def train_dataset(doc, data_file):
    return npz_dataset(data_file) if data_file else project_dataset(doc)


def held_out(doc, data_file):
    """``(x, y, prepared)``: the project's held-out data mapped onto its Inputs and
    outputs, as the results after training use it (the test set, else the validation
    tail ``fit`` kept out); ``DataMissing`` when nothing is held out."""
    from core.session.network_data import NetworkDataError, prepare_network
    from core.session.ports import network_ports
    from core.session.task_results import evaluation_split

    ds = train_dataset(doc, data_file)
    inputs, outputs = network_ports(doc)
    s = doc.training
    try:
        p = prepare_network(ds, inputs, outputs, s.loss, s.validation_split)
    except NetworkDataError as exc:
        raise DataMissing(str(exc)) from None
    split = evaluation_split(p)
    if split is None:
        raise DataMissing(f"{ds.name}: no test set and validation_split is 0, so nothing "
                          "is held out; pass --data FILE.npz with x_test, y_test")
    return split[0], split[1], p


def in_data_units(pred, p) -> np.ndarray:
    """A forecaster predicts the change from the window's last value in units of the
    changes' spread (``network_data``); the data's own units are ``last + pred * scale``."""
    pred = np.asarray(pred)
    if p.series is None:
        return pred
    from core.session.task_results import evaluation_split

    part, rows = evaluation_split(p)[2]
    last = p.series["last_test"] if part == "test" else p.series["last_train"][rows]
    flat = pred.reshape(len(pred), -1).astype(np.float64)
    return last[:, None] + flat * p.series["scale"]


def fit_to_inputs(model, x):
    """A model file's one Input fed ``x``: raw pixels scaled to [0, 1], reshaped."""
    x = np.asarray(x, np.float32)
    if x.max(initial=0) > 1.5:  # raw pixels, as the built-in data sets ship them
        x = x / 255.0
    return x.reshape((len(x), *model.inputs[0].shape[1:]))


def file_arrays(doc, model, data_file) -> dict:
    """``--data`` (or, for a model file, the embedded sample) fitted to a model with one
    Input: ``x*`` arrays scaled and reshaped, the rest as stored."""
    if data_file:
        arrays = _read_npz(data_file)
    elif doc.training.dataset == "sample":
        from core.datasets.sample import load_sample
        (xt, yt), (xv, yv) = load_sample()
        arrays = {"x_train": xt, "y_train": yt, "x_test": xv, "y_test": yv}
    else:
        raise DataMissing(f"data set {doc.training.dataset!r}: pass --data FILE.npz "
                          "(x_train, y_train, x_test, y_test)")
    if len(model.inputs) != 1:
        raise ValueError("a model file with several inputs needs a project (.nwproj) to "
                         "map data onto its Inputs by name")
    return {k: fit_to_inputs(model, v) if k.startswith("x") else v for k, v in arrays.items()}
