"""Results of a trained model on held-out data, in the form that fits the task (no Qt).

``compute_results(model, prepared)`` evaluates on the test set when there is one, else
on the validation tail ``fit`` held out (Keras takes the last ``validation_split`` of the
samples, before shuffling), and returns a dict for the results panel:

* always: ``task``, ``kind`` (image / text / series / tabular), ``source``, ``count``,
  ``scores`` (``evaluate``'s loss and metrics).
* classification: ``accuracy``, ``confusion`` (rows true, columns predicted), the first
  misclassified samples (``wrong_images`` for images, ``wrong_texts`` for text) with
  their true and predicted class and confidence, and the majority-class accuracy.
* regression (first output, first value): ``predicted`` and ``actual`` in the data's
  own units, ``time`` (each target's time, or its sample number), ``regression``
  (mean_absolute_error, root_mean_squared_error, r2_score — Keras' names) and, for a
  time series, the same errors of the naive forecast "the value stays the last one"
  (``baseline``) and ``mae_vs_baseline`` (model MAE / naive MAE).

>>> regression_scores(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 4.0]))["mean_absolute_error"]
0.3333333333333333
"""

from __future__ import annotations

import numpy as np

MAX_GALLERY = 48


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """Rows: true class, columns: predicted class; counts (int64)."""
    labels = np.asarray(labels, np.int64).reshape(-1)
    predicted = np.asarray(predicted, np.int64).reshape(-1)
    flat = labels * num_classes + predicted
    return np.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes,
                                                                          num_classes)


def predicted_classes(probs: np.ndarray) -> np.ndarray:
    probs = np.asarray(probs)
    if probs.ndim == 2 and probs.shape[1] > 1:
        return np.argmax(probs, axis=1)
    return (probs.reshape(-1) > 0.5).astype(np.int64)


def regression_scores(actual, predicted) -> dict:
    """MAE, RMSE and R² (1 - SS_res / SS_tot; NaN for a constant target)."""
    a = np.asarray(actual, np.float64).reshape(-1)
    p = np.asarray(predicted, np.float64).reshape(-1)
    err = p - a
    ss_tot = float(np.sum((a - a.mean()) ** 2))
    return {"mean_absolute_error": float(np.mean(np.abs(err))),
            "root_mean_squared_error": float(np.sqrt(np.mean(err ** 2))),
            "r2_score": float(1.0 - np.sum(err ** 2) / ss_tot) if ss_tot > 0 else float("nan")}


def _take(x, sl):
    if isinstance(x, dict):
        return {k: v[sl] for k, v in x.items()}
    if isinstance(x, list):
        return [v[sl] for v in x]
    return x[sl]


def _first(y):
    return y[0] if isinstance(y, list) else y


def _count(x):
    return len(next(iter(x.values()))) if isinstance(x, dict) else len(x)


def evaluation_split(p):
    """``(x, y, rows, source)``: held-out data and which rows of the set it is
    (``("test", None)`` or ``("train", slice)``); None when there is nothing held out."""
    if p.x_test is not None:
        return p.x_test, p.y_test, ("test", slice(None)), "Test set"
    if p.validation_split > 0:
        n = _count(p.x_train)
        at = int(np.floor(n * (1.0 - p.validation_split)))
        if at < n:
            sl = slice(at, n)
            return _take(p.x_train, sl), _take(p.y_train, sl), ("train", sl), \
                "Validation split"
    return None


def _kind(p, x) -> str:
    if p.extra.get("texts_train") is not None:
        return "text"
    if p.series is not None:
        return "series"
    first = next(iter(x.values())) if isinstance(x, dict) else x
    s = first.shape[1:]
    return "image" if len(s) == 2 or (len(s) == 3 and s[-1] in (1, 3)) else "tabular"


def compute_results(model, p, batch_size: int = 256) -> dict | None:
    """The results dict of the module doc, or None when nothing was held out."""
    split = evaluation_split(p)
    if split is None:
        return None
    x, y, (part, rows), source = split
    scores = model.evaluate(x, y, batch_size=batch_size, verbose=0, return_dict=True)
    preds = model.predict(x, batch_size=batch_size, verbose=0)
    if isinstance(preds, dict):
        preds = [preds[k] for k in sorted(preds)]
    pred = np.asarray(preds[0] if isinstance(preds, (list, tuple)) else preds)
    out = {"task": p.task, "kind": _kind(p, x), "source": source, "count": _count(x),
           "scores": {k: float(v) for k, v in dict(scores).items()}}
    if p.task == "reconstruction":  # an autoencoder: errors and a few reconstructions
        from core.session.reconstruction import reconstruction_results

        first = next(iter(x.values())) if isinstance(x, dict) else x
        out.update(reconstruction_results(pred, first, p.x_train))
    elif p.task == "regression":
        out.update(_regression(p, pred, _first(y), part, rows))
    else:
        out.update(_classification(p, x, pred, _first(y), part, rows))
    return out


def _labels_of(y) -> np.ndarray:
    y = np.asarray(y)
    flat = y.reshape(len(y), -1)
    return (flat[:, 0] if flat.shape[1] == 1 else np.argmax(flat, axis=1)).astype(np.int64)


def _classification(p, x, probs, y, part, rows) -> dict:
    labels = (np.asarray(p.labels_test, np.int64).reshape(-1) if part == "test"
              else _labels_of(y))
    pred = predicted_classes(probs)
    n_cls = max(int(p.num_classes), int(pred.max()) + 1, int(labels.max()) + 1)
    wrong = np.flatnonzero(pred != labels)[:MAX_GALLERY]
    conf = probs.max(axis=1) if probs.ndim == 2 and probs.shape[1] > 1 else \
        np.where(pred == 1, probs.reshape(-1), 1.0 - probs.reshape(-1))
    counts = np.bincount(labels, minlength=n_cls)
    res = {"accuracy": float(np.mean(pred == labels)),
           "majority_accuracy": float(counts.max() / max(1, len(labels))),
           "confusion": confusion_matrix(labels, pred, n_cls),
           "wrong_true": labels[wrong].copy(), "wrong_pred": pred[wrong].copy(),
           "wrong_conf": np.asarray(conf)[wrong].copy()}
    texts = p.extra.get("texts_test" if part == "test" else "texts_train")
    if texts is not None:
        held = list(texts) if part == "test" else list(texts)[rows]
        res["wrong_texts"] = [held[i] for i in wrong]
        res["wrong_images"] = None
    else:
        first = next(iter(x.values())) if isinstance(x, dict) else x
        res["wrong_images"] = np.array(first[wrong], copy=True)
    return res


def _regression(p, pred, y, part, rows) -> dict:
    pred = np.asarray(pred, np.float64).reshape(len(pred), -1)[:, 0]
    y = np.asarray(y, np.float64).reshape(len(y), -1)[:, 0]
    res = {}
    if p.series is not None:
        last = p.series["last_test"] if part == "test" else p.series["last_train"][rows]
        scale = p.series["scale"]
        predicted, actual = last + pred * scale, last + y * scale
        res["baseline"] = regression_scores(actual, last)
        res["baseline_predicted"] = np.asarray(last, np.float64)
    else:
        predicted, actual = pred, y
    res["regression"] = regression_scores(actual, predicted)
    if "baseline" in res and res["baseline"]["mean_absolute_error"] > 0:
        res["mae_vs_baseline"] = (res["regression"]["mean_absolute_error"]
                                  / res["baseline"]["mean_absolute_error"])
    times = p.extra.get("time_index_test") if part == "test" else None
    res["time_is_index"] = times is None or len(times) != len(actual)
    if res["time_is_index"]:  # no time stamps: each target's sample number
        start = 0 if part == "test" else rows.start
        times = np.arange(start, start + len(actual), dtype=np.float64)
    res.update(predicted=predicted, actual=actual, time=np.asarray(times))
    return res


def run_summary(res: dict) -> dict:
    """What a run's history entry keeps of its results (small, JSON): the scores, the
    accuracy against the majority class, or the errors against the naive forecast."""
    out = {"source": res["source"], "count": res["count"], "task": res.get("task"),
           **res["scores"]}
    for key in ("accuracy", "majority_accuracy", "mae_vs_baseline"):
        if res.get(key) is not None:
            out[key] = float(res[key])
    for key in ("regression", "baseline", "reconstruction", "mean_image"):
        if res.get(key):
            out[key] = {k: float(v) for k, v in res[key].items()}
    return out


def class_probabilities(raw) -> np.ndarray:
    """``(n, classes)`` probabilities of a classifier's output: a one-unit sigmoid's
    ``p`` becomes ``[1 - p, p]`` (class 0, class 1); a softmax passes through.

    >>> class_probabilities(np.array([[0.75]])).tolist()
    [[0.25, 0.75]]
    """
    a = np.asarray(raw, np.float64)
    a = a.reshape(len(a), -1)
    return np.concatenate([1.0 - a, a], axis=1) if a.shape[1] == 1 else a
