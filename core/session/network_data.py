"""A loaded data set mapped onto every Input and output of a network (no Qt).

``prepare_network(ds, inputs, outputs, loss, validation_split)`` takes the ``Port`` lists
of ``core.session.ports`` and gives float32 arrays keyed the way ``fit`` reads them:

* inputs, by Input name: an array the data set holds under that name
  (``ds.extra_inputs``), else a ``DERIVED`` input computed from its images (the
  *Two inputs* template's ``ink_bands``), else the data set's main ``x`` (one Input
  only, reshaped to the Input's shape when the value count matches). One Input gives a
  plain array, several a dict.
* targets, per output: ``ds.y`` made into what the loss reads (class ids, one-hot, a 0/1
  column, or float regression targets); several outputs give a list in output order.
* a time series (``ds.window`` set): every window and its target minus the window's last
  value, divided by the spread of those changes in the training part, so the network
  learns the change from now (``series`` holds the offsets and scale to undo it).

Nothing is changed when the data does not fit: ``NetworkDataError`` names the Input or
output, the data set and both shapes.

>>> prep = prepare_network(ds, ins, outs, "mse", 0.2)       # doctest: +SKIP
>>> prep.task, prep.input_names                               # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from core.session.derived_inputs import DERIVED
from core.session.targets import TargetError, class_targets, regression_targets, task_for


class NetworkDataError(ValueError):
    """The data does not fit the network; the message says which Input/output and why."""


@dataclass
class Prepared:
    """float32 arrays shaped for the network; ``y_*`` as the loss expects them."""

    x_train: object                 # array, or dict Input name -> array
    y_train: object                 # array, or list (one per output)
    x_test: object | None
    y_test: object | None
    labels_test: np.ndarray | None  # class ids (classification) or actual values
    validation_split: float
    num_classes: int
    task: str = "classification"
    input_names: tuple = ()
    output_names: tuple = ()
    series: dict | None = None      # {"last_train", "last_test", "scale"} for time series
    extra: dict = field(default_factory=dict)


def scale_inputs(x: np.ndarray) -> np.ndarray:
    """uint8 pixels -> [0, 1] float32 (as the Keras MNIST examples); numbers pass through."""
    x = np.asarray(x)
    if x.dtype == np.uint8:
        return np.multiply(x, np.float32(1.0 / 255.0), dtype=np.float32)
    return np.asarray(x, dtype=np.float32)


def fit_shape(what: str, x: np.ndarray, shape: tuple) -> np.ndarray:
    want = tuple(int(d) for d in shape)
    if tuple(x.shape[1:]) == want:
        return x
    if int(np.prod(x.shape[1:])) != int(np.prod(want)):
        raise NetworkDataError(
            f"{what}: each sample has shape {tuple(x.shape[1:])} "
            f"({int(np.prod(x.shape[1:]))} values) but the Input node expects {want} "
            f"({int(np.prod(want))} values). Use 'Set Input shape from data'.")
    return x.reshape((len(x),) + want)


def _is_image(x) -> bool:
    s = np.shape(x)[1:]
    return len(s) == 2 or (len(s) == 3 and s[-1] in (1, 3))


def _input_arrays(ds, inputs) -> tuple[list, list]:
    """Per Input: (train array, test array or None), by the rules of the module doc."""
    extra = getattr(ds, "extra_inputs", None) or {}
    main_taken = None
    train, test = [], []
    has_test = ds.x_test is not None
    for port in inputs:
        if port.shape is None or None in port.shape:
            raise NetworkDataError(f"Input '{port.name}' has an unknown shape "
                                   f"{port.shape}; set it from the data first.")
        what = f"{ds.name} -> Input '{port.name}'"
        if port.name in extra:
            tr, te = extra[port.name]
            tr, te = scale_inputs(tr), None if te is None else scale_inputs(te)
        elif port.name in DERIVED and _is_image(ds.x_train) and len(port.shape) == 1:
            fn = DERIVED[port.name]
            tr = fn(scale_inputs(ds.x_train), port.shape[0])
            te = fn(scale_inputs(ds.x_test), port.shape[0]) if has_test else None
        elif main_taken is None:
            main_taken = port.name
            tr = scale_inputs(ds.x_train)
            te = scale_inputs(ds.x_test) if has_test else None
        else:
            known = sorted(set(extra) | set(DERIVED))
            raise NetworkDataError(
                f"{ds.name}: no data for Input '{port.name}' {port.shape}: the data set's "
                f"samples already feed Input '{main_taken}', and it has no array named "
                f"'{port.name}' (inputs a data set can name: {', '.join(known)}).")
        if len(tr) != len(ds.x_train):
            raise NetworkDataError(f"{what}: {len(tr)} samples but the data set has "
                                   f"{len(ds.x_train)}.")
        train.append(fit_shape(what, tr, port.shape))
        test.append(None if te is None else fit_shape(what + " (test)", te, port.shape))
    return train, test


def _series_offsets(x: np.ndarray) -> np.ndarray:
    """The last value of each window (first feature): where the forecast starts from."""
    a = np.asarray(x, np.float64)
    return a.reshape(len(a), a.shape[1], -1)[:, -1, 0] if a.ndim >= 2 else a


def _targets(what, y, loss, task, units):
    try:
        if task == "regression":
            return regression_targets(what, y, units)
        return class_targets(what, y, loss, units)
    except TargetError as exc:
        raise NetworkDataError(str(exc)) from None


def prepare_network(ds, inputs, outputs, loss: str, validation_split: float = 0.1,
                    target: str = "labels") -> Prepared:
    """Scale, reshape and map ``ds`` onto ``inputs``/``outputs`` (lists of ``Port``).
    ``target="input"``: every output learns the main input itself (an autoencoder,
    task ``"reconstruction"``; ``core.session.reconstruction``)."""
    if not 0.0 <= float(validation_split) < 1.0:
        raise NetworkDataError(f"validation_split={validation_split!r} must be in [0, 1).")
    if not inputs or not outputs:
        raise NetworkDataError("The network needs an Input node and an output layer.")
    if target == "input":
        return _reconstruction(ds, inputs, outputs, validation_split)
    units0 = int(outputs[0].shape[-1]) if outputs[0].shape else None
    task = task_for(loss, getattr(ds, "task", "classification"), units0)
    xs_tr, xs_te = _input_arrays(ds, inputs)
    y_tr = np.asarray(ds.y_train)
    y_te = None if ds.y_test is None else np.asarray(ds.y_test)
    series = None
    if task == "regression" and getattr(ds, "window", None) and len(inputs) == 1:
        last_tr = _series_offsets(xs_tr[0])
        last_te = None if xs_te[0] is None else _series_offsets(xs_te[0])
        n_fit = int(np.floor(len(last_tr) * (1.0 - float(validation_split))))
        change = y_tr.astype(np.float64).reshape(len(y_tr), -1)[:, 0] - last_tr
        scale = float(np.std(change[:max(n_fit, 1)])) or 1.0
        xs_tr[0] = ((xs_tr[0] - last_tr.reshape((-1,) + (1,) * (xs_tr[0].ndim - 1)))
                    / scale).astype(np.float32)
        y_tr = (y_tr.astype(np.float64).reshape(len(y_tr), -1) - last_tr[:, None]) / scale
        if last_te is not None:
            xs_te[0] = ((xs_te[0] - last_te.reshape((-1,) + (1,) * (xs_te[0].ndim - 1)))
                        / scale).astype(np.float32)
            y_te = (y_te.astype(np.float64).reshape(len(y_te), -1) - last_te[:, None]) / scale
        series = {"last_train": last_tr, "last_test": last_te, "scale": scale}
    ys_tr, ys_te = [], []
    for port in outputs:
        units = int(port.shape[-1]) if port.shape else None
        what = f"{ds.name} -> output '{port.name}'"
        ys_tr.append(_targets(what, y_tr, loss, task, units))
        if y_te is not None:
            ys_te.append(_targets(what + " (test)", y_te, loss, task, units))

    def pack_x(xs):
        return xs[0] if len(xs) == 1 else {p.name: a for p, a in zip(inputs, xs)}

    def pack_y(ys):
        return ys[0] if len(ys) == 1 else list(ys)

    has_test = ds.x_test is not None and y_te is not None
    labels = None
    if has_test:
        labels = (np.asarray(ds.y_test) if task == "classification"
                  else np.asarray(ds.y_test, np.float64).reshape(len(ds.y_test), -1))
    n_cls = 0
    if task == "classification":
        n_cls = max(int(np.max(ds.y_train)) + 1 if len(ds.y_train) else 0,
                    int(outputs[0].shape[-1]) if outputs[0].shape else 0)
    # what the results show beside the numbers: the sentences, each target's time
    extra = {k: getattr(ds, k, None) for k in ("texts_train", "texts_test", "time_index_test")}
    return Prepared(pack_x(xs_tr), pack_y(ys_tr), pack_x(xs_te) if has_test else None,
                    pack_y(ys_te) if has_test else None, labels, float(validation_split),
                    n_cls, task, tuple(p.name for p in inputs), tuple(p.name for p in outputs),
                    series, extra)


def _reconstruction(ds, inputs, outputs, validation_split) -> Prepared:
    """``fit(x, x)``: the input's samples are the targets of every output."""
    from core.session.reconstruction import reconstruction_targets

    if len(inputs) != 1:
        raise NetworkDataError("Reconstruction (the input as target) needs exactly one "
                               f"Input; this network has {len(inputs)}.")
    xs_tr, xs_te = _input_arrays(ds, inputs)
    ys_tr, ys_te = [], []
    for port in outputs:
        what = f"{ds.name} -> output '{port.name}'"
        try:
            ys_tr.append(reconstruction_targets(what, xs_tr[0], port.shape))
            if xs_te[0] is not None:
                ys_te.append(reconstruction_targets(what, xs_te[0], port.shape))
        except ValueError as exc:
            raise NetworkDataError(str(exc)) from None
    has_test = xs_te[0] is not None
    return Prepared(xs_tr[0], ys_tr[0] if len(ys_tr) == 1 else ys_tr,
                    xs_te[0] if has_test else None,
                    (ys_te[0] if len(ys_te) == 1 else ys_te) if has_test else None,
                    None, float(validation_split), 0, "reconstruction",
                    tuple(p.name for p in inputs), tuple(p.name for p in outputs))
