"""Real Keras 3 half of ``test_recurrent_states.py`` (subprocess, KERAS_BACKEND=torch):
``python recurrent_states_keras_side.py DIR``.

* ``DIR/<name>.keras`` (written by us) + ``<name>.npz`` (inputs ``x0, x1...``, targets
  ``y``): Keras loads the file, predicts (``pred``), then takes one SGD
  ``train_on_batch`` step and writes the weights (``w0, w1...``) to ``<name>.out.npz``;
* ``stateful.json`` + ``stateful.npz``: our LSTM(stateful=True) config and weights;
  Keras calls it on ``p0, p1, p2`` and writes each output and state, then the output
  after ``reset_state()`` on ``p0``, to ``stateful.out.npz``;
* writes a Keras-made encoder-decoder (``initial_state=``) ``keras_seq2seq.keras`` and
  its predictions on ``keras_seq2seq.npz``'s inputs.
"""

import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402


def _np(t):
    return keras.ops.convert_to_numpy(t)


def main(folder):
    names = json.load(open(os.path.join(folder, "models.json")))
    for name in names:
        d = np.load(os.path.join(folder, name + ".npz"))
        xs = [d[k] for k in sorted(k for k in d.files if k.startswith("x"))]
        model = keras.saving.load_model(os.path.join(folder, name + ".keras"))
        pred = model.predict(xs if len(xs) > 1 else xs[0], verbose=0)
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
        model.train_on_batch(xs if len(xs) > 1 else xs[0], d["y"])
        np.savez(os.path.join(folder, name + ".out.npz"), pred=pred,
                 **{f"w{i}": w for i, w in enumerate(model.get_weights())})
    spec = json.load(open(os.path.join(folder, "stateful.json")))
    d = np.load(os.path.join(folder, "stateful.npz"))
    layer = keras.layers.deserialize(spec)
    layer.build(d["p0"].shape)
    layer.set_weights([d[f"w{i}"] for i in range(3)])
    out = {}
    for i in range(3):
        out[f"o{i}"] = _np(layer(d[f"p{i}"]))
        out[f"h{i}"], out[f"c{i}"] = (_np(s) for s in layer.states)
    layer.reset_state()
    out["after_reset"] = _np(layer(d["p0"]))
    np.savez(os.path.join(folder, "stateful.out.npz"), **out)

    keras.utils.set_random_seed(5)
    enc_in, dec_in = keras.Input((None,), name="enc"), keras.Input((None,), name="dec")
    _, h, c = keras.layers.LSTM(4, return_state=True)(keras.layers.Embedding(7, 3)(enc_in))
    dec = keras.layers.LSTM(4)(keras.layers.Embedding(9, 3)(dec_in), initial_state=[h, c])
    model = keras.Model([enc_in, dec_in], keras.layers.Dense(2)(dec))
    rng = np.random.default_rng(6)
    x0, x1 = rng.integers(0, 7, (3, 5)), rng.integers(0, 9, (3, 4))
    model.save(os.path.join(folder, "keras_seq2seq.keras"))
    np.savez(os.path.join(folder, "keras_seq2seq.npz"), x0=x0, x1=x1,
             y=model.predict([x0, x1], verbose=0))
    print(f"keras {keras.__version__} on {keras.backend.backend()}")


if __name__ == "__main__":
    main(sys.argv[1])
