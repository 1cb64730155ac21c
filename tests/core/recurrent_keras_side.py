"""Real Keras 3 half of ``test_recurrent_keras.py`` (run in a subprocess with
KERAS_BACKEND=torch): ``python recurrent_keras_side.py DIR``.

``DIR/cases.json`` lists ``{"name", "layer": <our serialized layer>}``; ``DIR/<name>.npz``
holds ``x``, optional ``mask`` and the weights ``w0, w1...``. For each case Keras
deserializes *our* config, sets the weights, calls the layer and writes
``DIR/<name>.out.npz`` (``o0, o1...``). It also writes a Keras-made LSTM model file
``DIR/keras_lstm.keras`` with its input and predictions in ``keras_lstm.npz``, and
loads our ``DIR/ours.keras`` to write its predictions on ``ours.npz``'s ``x``.
"""

import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402


def main(folder):
    with open(os.path.join(folder, "cases.json")) as f:
        cases = json.load(f)
    for case in cases:
        d = np.load(os.path.join(folder, case["name"] + ".npz"))
        layer = keras.layers.deserialize(case["layer"])
        x = d["x"]
        layer.build(x.shape)
        weights = [d[f"w{i}"] for i in range(len([k for k in d.files if k[0] == "w"]))]
        layer.set_weights(weights)
        kwargs = {"mask": keras.ops.convert_to_tensor(d["mask"])} if "mask" in d.files else {}
        out = layer(keras.ops.convert_to_tensor(x), **kwargs)
        outs = list(out) if isinstance(out, (list, tuple)) else [out]
        np.savez(os.path.join(folder, case["name"] + ".out.npz"),
                 **{f"o{i}": keras.ops.convert_to_numpy(o) for i, o in enumerate(outs)})
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((6, 3)),
                              keras.layers.LSTM(5, return_sequences=True),
                              keras.layers.GRU(4, go_backwards=True),
                              keras.layers.Dense(2)])
    x = np.random.default_rng(4).normal(size=(3, 6, 3)).astype("float32")
    model.save(os.path.join(folder, "keras_lstm.keras"))
    np.savez(os.path.join(folder, "keras_lstm.npz"), x=x, y=model.predict(x, verbose=0))
    ours = os.path.join(folder, "ours.keras")
    if os.path.exists(ours):  # a file we wrote: Keras loads it and predicts
        d = np.load(os.path.join(folder, "ours.npz"))
        y = keras.saving.load_model(ours).predict(d["x"], verbose=0)
        np.savez(os.path.join(folder, "ours.keras_out.npz"), y=y)
    print(f"keras {keras.__version__} on {keras.backend.backend()}")


if __name__ == "__main__":
    main(sys.argv[1])
