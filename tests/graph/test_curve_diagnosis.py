"""Curve diagnoses (issue 14): each rule on logs from a real fit that shows the symptom,
and silence on a healthy run."""

import numpy as np

from core.graph.curve_diagnosis import diagnose


def _fit(x, y, model_layers, loss, lr, epochs, val=None, metrics=()):
    from core import optimizers
    from core.models import Sequential
    from core.utils import set_random_seed

    set_random_seed(0)
    model = Sequential(model_layers)
    opt = optimizers.get("adam")
    opt.learning_rate = lr
    model.compile(optimizer=opt, loss=loss, metrics=list(metrics))
    hist = model.fit(x, y, epochs=epochs, batch_size=16, verbose=0, validation_data=val,
                     shuffle=False)
    keys = list(hist.history)
    return [{k: hist.history[k][e] for k in keys} for e in range(epochs)]


def _kinds(*args, **kw):
    return [d.kind for d in diagnose(*args, **kw)]


def test_overfitting_seen_in_a_real_memorising_fit():
    from core.layers import Dense, Input

    rng = np.random.default_rng(0)
    x, xv = rng.normal(size=(32, 20)).astype("float32"), rng.normal(size=(64, 20)).astype(
        "float32")
    y, yv = rng.integers(0, 2, 32), rng.integers(0, 2, 64)  # labels are noise: memorise
    logs = _fit(x, y, [Input((20,)), Dense(256, activation="relu"),
                       Dense(2, activation="softmax")],
                "sparse_categorical_crossentropy", 0.01, 30, val=(xv, yv))
    (d,) = [d for d in diagnose(logs) if d.kind == "overfitting"]
    assert "Dropout" in d.message and "early stopping" in d.message
    assert d.changes == {"early_stopping": 3} and "early stopping" in d.fix_label


def test_healthy_run_gets_no_diagnosis():
    from core.layers import Dense, Input

    rng = np.random.default_rng(1)
    x = rng.normal(size=(256, 4)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("int64")
    logs = _fit(x, y, [Input((4,)), Dense(2, activation="softmax")],
                "sparse_categorical_crossentropy", 0.05, 3, val=(x[:64], y[:64]),
                metrics=["accuracy"])
    assert diagnose(logs, num_classes=2) == []


def test_nan_and_rising_loss_blame_the_learning_rate():
    (d,) = diagnose([{"loss": 2.3}, {"loss": float("nan")}], learning_rate=5.0)
    assert d.kind == "diverging" and "5" in d.message and "Try 0.5" in d.message
    assert d.changes == {"learning_rate": 0.5}
    assert _kinds([{"loss": 2.3}], nan_at=(1, 3)) == ["diverging"]
    rising = [{"loss": v} for v in (1.0, 0.9, 1.4, 2.0)]
    assert _kinds(rising, learning_rate=0.5) == ["diverging"]
    assert _kinds([{"loss": v} for v in (1.0, 0.9, 0.8, 0.7)]) == []


def test_accuracy_at_chance_and_plateau():
    stuck = [{"loss": 2.302, "accuracy": 0.1}, {"loss": 2.302, "accuracy": 0.105}]
    (d,) = diagnose(stuck, num_classes=10)
    assert d.kind == "chance" and "10 classes" in d.message and "10.5%" in d.message
    assert _kinds([{"loss": 1.0, "accuracy": 0.6}] * 2, num_classes=10) != ["chance"]
    flat = [{"loss": v} for v in (1.0, 0.5, 0.401, 0.400, 0.399, 0.399)]
    assert _kinds(flat) == ["plateau"]
    assert _kinds(flat[:4]) == []  # still falling over its last three epochs


def test_the_stalled_linear_output_run_seen_in_the_app_is_a_plateau():
    # epoch losses/accuracies of the MNIST CNN template with a linear output and
    # sparse crossentropy, trained in the app (5 epochs, Adam 0.001): stuck near 7.3
    logs = [{"loss": v, "accuracy": a} for v, a in
            ((7.5, 0.17), (8.0, 0.2), (7.3, 0.21), (7.3, 0.21), (7.31, 0.21))]
    (d,) = diagnose(logs, num_classes=10)
    assert d.kind == "plateau" and "Problems" in d.message and "7.31" in d.message
