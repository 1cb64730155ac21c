"""Formats x templates: every template exported to every format and read back.

For each template (random weights, so loading really matters) the engine's predictions
are the reference, and each cell is the largest absolute difference of what came back:

* ``keras``   — ``.keras`` read back here, and by real Keras 3 (torch backend)
* ``h5``      — the legacy HDF5 model file, read by real Keras 3
* ``weights`` — ``.weights.h5`` loaded into a fresh model here
* ``onnx``    — the ``.onnx`` file in onnxruntime (checked by ``onnx.checker`` on export)
* ``py``      — the Keras script run by real Keras 3 with our weights beside it; the
  cell also says whether its parameter total equals ours

The real-Keras side runs in one subprocess per template (Keras must pick its backend
before it is imported). The tests assert the same thresholds
(``tests/export``, ``tests/interop``, ``tests/cli``); this prints the table for the
closing note.

    python benchmarks/export_matrix.py            # markdown table on stdout
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.export.keras_code import export_keras_code  # noqa: E402
from core.export.onnx import export_onnx  # noqa: E402
from core.graph.build import build_model  # noqa: E402
from core.graph.templates import ALL_TEMPLATES, VOCAB  # noqa: E402
from core.saving import load_model  # noqa: E402

_KERAS_SIDE = r"""
import json, runpy, sys
import numpy as np
import keras
folder = sys.argv[1]
data = np.load(folder + "/inputs.npz")
xs = [data[k] for k in sorted(data.files)]
x = xs if len(xs) > 1 else xs[0]
out = {}
for fmt, path in (("keras", "m.keras"), ("h5", "m.h5")):
    model = keras.saving.load_model(folder + "/" + path, compile=False)
    np.save(folder + f"/{fmt}.npy", np.asarray(model.predict(x, verbose=0)))
ns = runpy.run_path(folder + "/m.py", run_name="export_matrix")
np.save(folder + "/py.npy", np.asarray(ns["model"].predict(x, verbose=0)))
out["py_params"] = ns["model"].count_params()
print(json.dumps(out))
"""


def _inputs(model, rng):
    if any(type(ly).__name__ == "Embedding" for ly in model.layers[:3]):
        x = rng.integers(1, VOCAB, (8, *model.inputs[0].shape[1:])).astype(np.float32)
        x[0, 5:] = 0
        return [x]
    return [rng.normal(0, 1, (8, *t.shape[1:])).astype(np.float32) for t in model.inputs]


def _diff(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def one_template(name: str, folder: Path) -> dict:
    rng = np.random.default_rng(0)
    model = build_model(ALL_TEMPLATES[name]())
    for w in model.weights:
        if w.trainable:
            w.assign(rng.normal(0, 0.3, w.shape).astype(w.dtype))
    xs = _inputs(model, rng)
    x = xs if len(xs) > 1 else xs[0]
    ref = model.predict(x, verbose=0)
    np.savez(folder / "inputs.npz", **{f"x{i}": v for i, v in enumerate(xs)})
    model.save(str(folder / "m.keras"))
    model.save(str(folder / "m.h5"))
    model.save_weights(str(folder / "m.weights.h5"))
    export_onnx(model, str(folder / "m.onnx"))
    export_keras_code(model, folder / "m.py", weights=True)
    cells = {"keras_here": _diff(load_model(str(folder / "m.keras")).predict(x, verbose=0),
                                 ref)}
    fresh = build_model(ALL_TEMPLATES[name]())
    fresh.load_weights(str(folder / "m.weights.h5"))
    cells["weights"] = _diff(fresh.predict(x, verbose=0), ref)
    try:
        import onnxruntime as ort
        sess = ort.InferenceSession(str(folder / "m.onnx"))
        feeds = {i.name: v for i, v in zip(sess.get_inputs(), xs)}
        cells["onnx"] = _diff(sess.run(None, feeds)[0], ref)
    except ImportError:
        cells["onnx"] = None
    (folder / "keras_side.py").write_text(_KERAS_SIDE)
    done = subprocess.run([sys.executable, str(folder / "keras_side.py"), str(folder)],
                          capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, KERAS_BACKEND="torch"))
    if done.returncode != 0:
        cells["error"] = done.stderr.strip().splitlines()[-1]
        return cells
    info = json.loads(done.stdout.strip().splitlines()[-1])
    for fmt in ("keras", "h5", "py"):
        cells[fmt] = _diff(np.load(folder / f"{fmt}.npy"), ref)
    cells["py_params_equal"] = info["py_params"] == model.count_params()
    return cells


def _cell(v) -> str:
    return "n/a" if v is None else f"{v:.1e}"


def main() -> None:
    rows = ["| template | .keras here | .keras in Keras | .h5 in Keras | .weights.h5 | "
            "ONNX (ort) | .py in Keras (params) |", "|---|---|---|---|---|---|---|"]
    for name in ALL_TEMPLATES:
        with tempfile.TemporaryDirectory() as tmp:
            c = one_template(name, Path(tmp))
        if "error" in c:
            rows.append(f"| {name} | {_cell(c['keras_here'])} | error: {c['error']} |")
            continue
        rows.append(f"| {name} | {_cell(c['keras_here'])} | {_cell(c['keras'])} | "
                    f"{_cell(c['h5'])} | {_cell(c['weights'])} | {_cell(c['onnx'])} | "
                    f"{_cell(c['py'])} ({'equal' if c['py_params_equal'] else 'DIFFER'}) |")
        print(rows[-1], file=sys.stderr, flush=True)
    print("\n".join(rows))


if __name__ == "__main__":
    main()
