"""The real-Keras half of ``test_core_to_keras.py``: run under a Python that has Keras.

    KERAS_BACKEND=torch python tests/interop/keras_side.py DIR NAME...

For each NAME it loads ``DIR/NAME.keras`` (written by Netweaver) with
``keras.saving.load_model`` and, on the arrays in ``DIR/NAME.in.npz``, writes
``DIR/NAME.keras_out.npz``: ``pred_<i>``, ``test_loss``, then after one
``train_on_batch`` (Dropout rates set to 0 first, as the test does on our side)
``train_loss``, ``weight_<j>`` and ``opt_<j>``. It also writes Keras' own view of the
loaded model -- ``NAME.keras_config.json`` (``serialize_keras_object`` plus the compile
config, taken before that step), ``NAME.keras_summary.txt``, ``NAME.resaved.keras``
and ``NAME.resaved.weights.h5`` (Keras saving it again, whole and weights only) --
and ``NAME.keras_warnings.json``, every warning Keras raised while loading (it warns,
rather than fails, when optimizer state does not fit).

This file never imports Netweaver and Netweaver never imports it.
"""

import json
import os
import sys
import warnings

os.environ.setdefault("KERAS_BACKEND", "torch")
os.environ["COLUMNS"] = "200"  # rich and shutil: let line_length decide the summary width

import keras  # noqa: E402
import numpy as np  # noqa: E402


def _seq(d, prefix):
    keys = [k for k in d.files if k.startswith(prefix) and k[len(prefix):].isdigit()]
    return [d[k] for k in sorted(keys, key=lambda k: int(k[len(prefix):]))]


def _one_or_list(arrays):
    return arrays[0] if len(arrays) == 1 else arrays


def _first(value):
    return value[0] if isinstance(value, (list, tuple)) else value


def run(folder, name):
    base = os.path.join(folder, name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = keras.saving.load_model(base + ".keras")
    with open(base + ".keras_warnings.json", "w") as f:
        json.dump([str(w.message) for w in caught], f)

    config = keras.saving.serialize_keras_object(model)
    config["compile_config"] = model.get_compile_config()
    with open(base + ".keras_config.json", "w") as f:
        json.dump(config, f)
    lines = []
    model.summary(line_length=int(np.load(base + ".in.npz")["summary_line_length"]),
                  print_fn=lines.append)
    with open(base + ".keras_summary.txt", "w", encoding="utf-8") as f:
        f.write("".join(lines))
    model.save(base + ".resaved.keras")
    model.save_weights(base + ".resaved.weights.h5")

    d = np.load(base + ".in.npz", allow_pickle=False)
    out = {}
    x, y = _one_or_list(_seq(d, "x_")), _one_or_list(_seq(d, "y_"))
    preds = model.predict(x, verbose=0)
    for i, p in enumerate(preds if isinstance(preds, list) else [preds]):
        out[f"pred_{i}"] = np.asarray(p)
    out["test_loss"] = np.asarray(_first(model.test_on_batch(x, y)), "float64")
    dropped = set(d["dropout_layers"].tolist())
    for layer in model.layers:
        if layer.name in dropped:
            layer.rate = 0.0
    out["train_loss"] = np.asarray(_first(model.train_on_batch(
        _one_or_list(_seq(d, "train_x_")), _one_or_list(_seq(d, "train_y_")))), "float64")
    for j, w in enumerate(model.weights):
        out[f"weight_{j}"] = keras.ops.convert_to_numpy(w.value)
    for j, v in enumerate(model.optimizer.variables):
        out[f"opt_{j}"] = keras.ops.convert_to_numpy(v.value)
    np.savez(base + ".keras_out.npz", **out)


def main():
    folder, names = sys.argv[1], sys.argv[2:]
    import torch

    torch.set_num_threads(1)
    print(f"keras {keras.__version__} on {keras.backend.backend()}")
    for name in names:
        run(folder, name)


if __name__ == "__main__":
    main()
