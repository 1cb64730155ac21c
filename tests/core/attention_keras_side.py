"""Real Keras 3 half of ``test_attention_keras.py`` (run in a subprocess with
KERAS_BACKEND=torch): ``python attention_keras_side.py DIR``.

``DIR/cases.json`` lists ``{"name", "layer": <our serialized layer>, "kwargs": {...}}``;
``DIR/<name>.npz`` holds ``query``, ``value``, optional ``key``, ``attention_mask``,
``query_mask``, ``value_mask``, ``key_mask`` (attached to the tensors as Keras masks)
and the weights ``w0, w1...``. Keras deserializes our config, takes our weights, calls
the layer and writes ``DIR/<name>.out.npz`` (``o0, o1``).

Files: ``ours.keras`` (our model) is loaded, trained one SGD step on ``train.npz`` and
its weights after the step written to ``ours.trained.npz``; Keras also writes its own
``keras_mha.keras`` model (cross-attention with a key, a causal mask and an Embedding
mask) with inputs and predictions in ``keras_mha.npz``, and ``keras_kw.keras`` (called
with keywords, ``mha(query=q, value=q)``) with ``keras_kw.npz``; ``resaved.keras`` (that file
after our load and save) is loaded back and predicts into ``resaved.out.npz``.
"""

import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras.src import backend as kbackend  # noqa: E402


def _tensor(a):
    return keras.ops.convert_to_tensor(a)


def run_cases(folder):
    with open(os.path.join(folder, "cases.json")) as f:
        cases = json.load(f)
    for case in cases:
        d = np.load(os.path.join(folder, case["name"] + ".npz"))
        layer = keras.layers.deserialize(case["layer"])
        q, v = _tensor(d["query"]), _tensor(d["value"])
        k = _tensor(d["key"]) if "key" in d.files else None
        if not layer.built:  # our build_config already built it
            layer.build(q.shape, v.shape, None if k is None else k.shape)
        n = len([f for f in d.files if f.startswith("w")])
        layer.set_weights([d[f"w{i}"] for i in range(n)])
        for name, t in (("query_mask", q), ("value_mask", v), ("key_mask", k)):
            if name in d.files:
                kbackend.set_keras_mask(t, _tensor(d[name]))
        kwargs = dict(case["kwargs"])
        if "attention_mask" in d.files:
            kwargs["attention_mask"] = _tensor(d["attention_mask"])
        if k is not None:
            kwargs["key"] = k
        out = layer(q, v, **kwargs)
        outs = list(out) if isinstance(out, (list, tuple)) else [out]
        np.savez(os.path.join(folder, case["name"] + ".out.npz"),
                 **{f"o{i}": keras.ops.convert_to_numpy(o) for i, o in enumerate(outs)})


def train_ours(folder):
    model = keras.saving.load_model(os.path.join(folder, "ours.keras"))
    d = np.load(os.path.join(folder, "train.npz"))
    y0 = model.predict(d["x"], verbose=0)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    model.train_on_batch(d["x"], d["y"])
    np.savez(os.path.join(folder, "ours.trained.npz"), y0=y0,
             **{f"w{i}": w for i, w in enumerate(model.get_weights())})


def keras_model(folder):
    keras.utils.set_random_seed(5)
    ids = keras.Input((6,), dtype="int32")
    ctx = keras.Input((4, 5))
    e = keras.layers.Embedding(20, 8, mask_zero=True)(ids)
    mha = keras.layers.MultiHeadAttention(2, 3, value_dim=4, name="mha")
    y = mha(e, ctx, key=ctx, use_causal_mask=True)
    y = keras.layers.LayerNormalization()(keras.layers.Add()([e, y]))
    out = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling1D()(y))
    model = keras.Model([ids, ctx], out)
    rng = np.random.default_rng(6)
    x_ids = rng.integers(1, 20, size=(3, 6)).astype("int32")
    x_ids[0, 4:] = 0
    x_ctx = rng.normal(size=(3, 4, 5)).astype("float32")
    model.save(os.path.join(folder, "keras_mha.keras"))
    np.savez(os.path.join(folder, "keras_mha.npz"), ids=x_ids, ctx=x_ctx,
             y=model.predict([x_ids, x_ctx], verbose=0))
    q = keras.Input((5, 3))
    kw = keras.Model(q, keras.layers.MultiHeadAttention(2, 2)(query=q, value=q))
    x_kw = rng.normal(size=(2, 5, 3)).astype("float32")
    kw.save(os.path.join(folder, "keras_kw.keras"))
    np.savez(os.path.join(folder, "keras_kw.npz"), x=x_kw, y=kw.predict(x_kw, verbose=0))


def main(folder):
    resaved = os.path.join(folder, "resaved.keras")
    if os.path.exists(resaved):  # second run: only our re-save of Keras' file
        d = np.load(os.path.join(folder, "keras_mha.npz"))
        y = keras.saving.load_model(resaved).predict([d["ids"], d["ctx"]], verbose=0)
        np.savez(os.path.join(folder, "resaved.out.npz"), y=y)
    else:
        run_cases(folder)
        train_ours(folder)
        keras_model(folder)
    print(f"keras {keras.__version__} on {keras.backend.backend()}")


if __name__ == "__main__":
    main(sys.argv[1])
