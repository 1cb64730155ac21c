"""``ModelCheckpoint("best_model.h5", save_best_only=True)``, as the training guide
writes it: a full legacy-HDF5 model (``core.saving.legacy_h5``) that ``load_model``
reads back here and that real Keras 3.15.1 loads with the same predictions (a
subprocess with Keras; skipped when none is available).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest

import core as keras


def test_best_h5_checkpoint_loads_here_and_in_real_keras(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = rng.integers(0, 3, 64)
    inputs = keras.Input((4,), name="digits")
    h = keras.layers.Dense(8, activation="relu", name="dense_1")(inputs)
    outputs = keras.layers.Dense(3, activation="softmax", name="predictions")(h)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy",
                  metrics=["sparse_categorical_accuracy"])
    path = tmp_path / "best_model.h5"
    best = keras.callbacks.ModelCheckpoint(str(path), save_best_only=True,
                                           monitor="val_loss", verbose=0)
    history = model.fit(x[:48], y[:48], validation_data=(x[48:], y[48:]), epochs=3,
                        batch_size=16, callbacks=[best], verbose=0)
    with h5py.File(path, "r") as f:  # the legacy layout: config + weights in one file
        assert "model_config" in f.attrs and "model_weights" in f
    again = keras.saving.load_model(str(path))
    want = again.predict(x, verbose=0)
    if int(np.argmin(history.history["val_loss"])) == 2:  # the last epoch was the best
        np.testing.assert_allclose(want, model.predict(x, verbose=0), rtol=1e-6)
    np.save(tmp_path / "x.npy", x)
    python = os.environ.get("NETWEAVER_KERAS_PYTHON")
    if not python and importlib.util.find_spec("keras") is not None:
        python = sys.executable
    if not python:
        pytest.skip("no Python with Keras (set NETWEAVER_KERAS_PYTHON)")
    script = textwrap.dedent(f"""
        import os; os.environ["KERAS_BACKEND"] = "torch"
        import keras, numpy as np
        m = keras.saving.load_model({str(path)!r})
        np.save({str(tmp_path / "keras_pred.npy")!r},
                m.predict(np.load({str(tmp_path / "x.npy")!r}), verbose=0))
        print(type(m.optimizer).__name__, [ly.name for ly in m.layers])
    """)
    run = subprocess.run([python, "-c", script], capture_output=True, text=True, timeout=600,
                         cwd=tmp_path)  # not the repo: our core must not shadow anything
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.split()[0] == "RMSprop"
    assert "predictions" in run.stdout
    np.testing.assert_allclose(np.load(tmp_path / "keras_pred.npy"), want, rtol=1e-5,
                               atol=1e-6)
