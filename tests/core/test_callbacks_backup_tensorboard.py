"""``BackupAndRestore`` (an interrupted fit resumes at the right epoch with weights and
optimizer state, ending where an uninterrupted fit ends), ``TensorBoard`` (event files
read back record by record: Keras' tags, steps and values) and ``ModelCheckpoint``
file names checked against real Keras 3."""

import glob
import os
import struct
import sys

import numpy as np
import pytest

import core
from core.callbacks import BackupAndRestore, Callback, ModelCheckpoint, TensorBoard

rng = np.random.default_rng(5)
X = rng.normal(size=(30, 4)).astype("float32")
Y = rng.integers(0, 3, 30)


def model(seed=0):
    core.utils.set_random_seed(seed)
    inputs = core.Input((4,))
    h = core.layers.Dense(5, activation="relu")(inputs)
    m = core.Model(inputs, core.layers.Dense(3, activation="softmax")(h))
    m.compile(optimizer=core.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
    return m


class Crash(Callback):
    def __init__(self, at_epoch):
        super().__init__()
        self.at_epoch = at_epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.at_epoch:
            raise RuntimeError("power cut")


def test_backup_and_restore_resumes_an_interrupted_fit(tmp_path):
    reference = model(seed=1)
    start = reference.get_weights()
    full = reference.fit(X, Y, batch_size=8, epochs=5, shuffle=False, verbose=0).history

    backup_dir = tmp_path / "backup"
    first = model(seed=1)
    first.set_weights(start)
    with pytest.raises(RuntimeError, match="power cut"):
        first.fit(X, Y, batch_size=8, epochs=5, shuffle=False, verbose=0,
                  callbacks=[BackupAndRestore(backup_dir), Crash(at_epoch=2)])
    assert sorted(os.listdir(backup_dir)) == ["latest.weights.h5", "training_metadata.json"]

    resumed = model(seed=2)  # a new process: other initial weights, a fresh optimizer
    seen = []
    hist = resumed.fit(X, Y, batch_size=8, epochs=5, shuffle=False, verbose=0,
                       callbacks=[BackupAndRestore(backup_dir),
                                  core.callbacks.LambdaCallback(
                                      on_epoch_begin=lambda e, logs: seen.append(e))])
    assert seen == [3, 4]  # epochs 0-2 were done before the crash
    np.testing.assert_allclose(hist.history["loss"], full["loss"][3:], rtol=1e-6)
    for ours, theirs in zip(resumed.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-7)
    assert int(resumed.optimizer.iterations) == int(reference.optimizer.iterations) == 20
    assert not backup_dir.exists()  # a completed fit deletes its backup


def test_backup_every_n_batches_and_kept_directory(tmp_path):
    m = model()
    m.fit(X, Y, batch_size=8, epochs=2, verbose=0,
          callbacks=[BackupAndRestore(tmp_path / "b", save_freq=3, delete_checkpoint=False,
                                      double_checkpoint=True)])
    names = sorted(os.listdir(tmp_path / "b"))
    assert names == ["latest.weights.h5", "latest.weights.h5.bkp", "training_metadata.json",
                     "training_metadata.json.bkp"]
    with pytest.raises(ValueError, match="save_freq"):
        BackupAndRestore(tmp_path, save_freq="often")
    with pytest.raises(ValueError, match="Empty `backup_dir`"):
        BackupAndRestore("")


def read_scalars(folder):
    """``{tag: [(step, value)]}`` from every event file in ``folder``: TFRecord framing
    (length, crc, data, crc) around ``Event`` protos, parsed without TensorBoard."""
    from tensorboardX.proto.event_pb2 import Event
    scalars = {}
    for path in sorted(glob.glob(os.path.join(folder, "events.out.tfevents.*"))):
        with open(path, "rb") as f:
            data = f.read()
        pos = 0
        while pos < len(data):
            (length,) = struct.unpack("<Q", data[pos:pos + 8])
            event = Event.FromString(data[pos + 12:pos + 12 + length])
            pos += 12 + length + 4
            for value in event.summary.value:
                if value.HasField("simple_value"):
                    scalars.setdefault(value.tag, []).append((event.step, value.simple_value))
                elif value.HasField("histo"):
                    scalars.setdefault(value.tag, []).append((event.step, value.histo.num))
    return scalars


def test_tensorboard_event_files_hold_keras_tags_and_values(tmp_path):
    pytest.importorskip("tensorboardX")
    m = model()
    hist = m.fit(X, Y, batch_size=8, epochs=3, verbose=0, validation_split=0.2,
                 callbacks=[TensorBoard(tmp_path, update_freq=2, histogram_freq=2)]).history
    train = read_scalars(tmp_path / "train")
    val = read_scalars(tmp_path / "validation")
    for key in ("loss", "accuracy"):
        steps, values = zip(*train[f"epoch_{key}"])
        assert steps == (0, 1, 2)
        np.testing.assert_allclose(values, hist[key], rtol=1e-6)
        steps, values = zip(*val[f"epoch_{key}"])
        np.testing.assert_allclose(values, hist[f"val_{key}"], rtol=1e-6)
    np.testing.assert_allclose([v for _, v in train["epoch_learning_rate"]], [0.05] * 3)
    # 3 batches per epoch (24 samples): batch summaries at global batches 2, 4, 6, 8
    assert [s for s, _ in train["batch_loss"]] == [2, 4, 6, 8]
    assert [s for s, _ in val["evaluation_loss_vs_iterations"]] == [3, 6, 9]
    kernel = [t for t in train if t.endswith("kernel/histogram")]
    assert len(kernel) == 2 and [s for s, _ in train[kernel[0]]] == [0, 2]


def test_tensorboard_without_tensorboardx_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    with pytest.raises(ImportError, match="pip install tensorboardX"):
        TensorBoard(tmp_path)


def test_tensorboard_refuses_what_it_cannot_write(tmp_path):
    pytest.importorskip("tensorboardX")
    for kw in ({"write_images": True}, {"profile_batch": 2}, {"embeddings_freq": 1},
               {"update_freq": 0}):
        with pytest.raises(ValueError):
            TensorBoard(tmp_path, **kw)


def test_model_checkpoint_names_and_best_only_match_keras(tmp_path):
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    pattern = "w.{epoch:02d}-{val_loss:.3f}.weights.h5"
    made = {}
    for K in (keras, core):
        folder = tmp_path / K.__name__
        folder.mkdir()
        inputs = K.Input((4,), name="x")
        m = K.Model(inputs, K.layers.Dense(3, activation="softmax", name="out")(inputs))
        if K is keras:
            start = m.get_weights()
        else:
            m.set_weights(start)
        m.compile(optimizer=K.optimizers.SGD(0.5), loss="sparse_categorical_crossentropy")
        ckpt = K.callbacks.ModelCheckpoint(str(folder / pattern), save_best_only=True,
                                           save_weights_only=True, monitor="val_loss")
        m.fit(X, Y, batch_size=8, epochs=4, shuffle=False, verbose=0,
              validation_data=(X[:6], Y[:6]), callbacks=[ckpt])
        made[K.__name__] = sorted(os.listdir(folder))
        models = made.setdefault("models", []) + [m]
        made["models"] = models
    assert made["core"] == made["keras"] and len(made["core"]) >= 2
    theirs, ours = made["models"]
    best = str(tmp_path / "core" / made["core"][-1])
    theirs.load_weights(best)  # our file loads in Keras, to the weights we load from it
    ours.load_weights(best)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_array_equal(a, np.asarray(b))
    with pytest.raises(ValueError, match=".weights.h5"):
        ModelCheckpoint(str(tmp_path / "w.h5"), save_weights_only=True)
