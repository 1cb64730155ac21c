"""Absurd sizes in configs and data: refused from the figure before the allocation,
with an error naming what and how much (``core.safety.AllocationTooLarge``, both a
``ValueError`` and a ``MemoryError``). Every case runs in a child under RLIMIT_AS,
so even a regression cannot take the machine down; a plain ``MemoryError`` from
numpy (what happened before) fails the test."""

from __future__ import annotations

import json

import pytest

from tests.security.helpers import members, run_limited, small_model, write_zip

LIMIT = 1536 * 1024**2
INT64_MAX = 2**63 - 1


def _refused(code: str, timeout: float = 180.0) -> str:
    """Run ``code`` (which must raise) in a limited child; the refusal's type and text."""
    out = run_limited(f"""
        try:
{_indent(code, 12)}
        except BaseException as e:
            print("RAISED", type(e).__name__, "|", e)
        else:
            print("NOT RAISED")
    """, LIMIT, timeout)
    assert "RAISED" in out.stdout, (out.stdout, out.stderr[-2000:])
    return out.stdout


def _indent(code: str, n: int) -> str:
    return "\n".join(" " * n + line for line in code.strip().splitlines())


@pytest.mark.timeout(200)
@pytest.mark.parametrize("build,layer,shape", [
    ("Sequential([Input((10,)), Dense(10**9, name='wide')])", "wide", "(10, 1000000000)"),
    ("Sequential([Input((10,)), Dense(10**12, name='wide')])", "wide",
     "(10, 1000000000000)"),
    ("Sequential([Input((8, 8, 3)), Conv2D(10**10, 3, name='conv')])", "conv",
     "(3, 3, 3, 10000000000)"),
    ("Dense(4, name='d').build((None, 10**12))", "d", "(1000000000000, 4)"),
    ("Sequential([Input((10**12,)), Dense(4, name='d')])", "d", "(1000000000000, 4)"),
], ids=["units=1e9", "units=1e12", "filters=1e10", "build_shape=1e12", "input=1e12"])
def test_absurd_layer_sizes_are_refused_naming_layer_weight_and_figure(build, layer, shape):
    out = _refused(f"""
from core.layers import Conv2D, Dense, Input
from core.models import Sequential
{build}""")
    assert "RAISED AllocationTooLarge" in out, out
    assert f"Layer '{layer}' weight 'kernel' of shape {shape}" in out, out
    assert "would need" in out and ("TB" in out or "GB" in out), out


@pytest.mark.timeout(200)
@pytest.mark.parametrize("key,value", [("units", 10**12), ("units", 10**9)])
def test_keras_file_with_absurd_units_is_refused_with_the_figure(tmp_path, key, value):
    good = tmp_path / "good.keras"
    small_model().save(good)
    parts = members(good)
    cfg = json.loads(parts["config.json"])
    cfg["config"]["layers"][1]["config"][key] = value
    parts["config.json"] = json.dumps(cfg).encode()
    bad = write_zip(tmp_path / "bad.keras", parts)
    out = _refused(f"""
from core.saving import load_model
load_model({str(bad)!r})""")
    assert "would need" in out and "weight 'kernel'" in out, out
    assert "MemoryError |" not in out and "Unable to allocate" not in out, out


@pytest.mark.timeout(200)
def test_project_with_absurd_units_builds_to_a_clear_error(tmp_path):
    from core.graph import GraphDocument
    from core.graph import project_file as pf

    doc = GraphDocument()
    a = doc.add_node("InputLayer", config={"shape": [10]})
    b = doc.add_node("Dense", config={"units": 3})
    doc.connect(a, b)
    pf.save_project(doc, tmp_path / "p.nwproj")
    text = (tmp_path / "p.nwproj").read_text().replace('"units": 3', f'"units": {10**12}')
    (tmp_path / "p.nwproj").write_text(text)
    out = _refused(f"""
from core.graph import project_file as pf
doc, _ = pf.load_project({str(tmp_path / "p.nwproj")!r})
print("NODE", [doc.state(n).error for n in doc.nodes])
doc.build_model()""")
    assert "weight 'kernel' of shape (10, 1000000000000)" in out, out
    assert "would need" in out and "Unable to allocate" not in out, out


@pytest.mark.timeout(120)
@pytest.mark.parametrize("label", [10**12, INT64_MAX], ids=["1e12", "int64_max"])
def test_to_categorical_of_huge_labels_is_refused(label):
    out = _refused(f"""
import numpy as np
from core.utils import to_categorical
to_categorical(np.array([0, {label}], dtype=np.int64))""")
    assert "RAISED AllocationTooLarge" in out and "one-hot labels of shape (2, " in out, out
    assert str(label + 1) in out, out


@pytest.mark.timeout(120)
def test_class_weight_naming_class_1e12_trains_without_a_table():
    """Weights are looked up per sample (Keras' formula), never through a table as wide
    as the largest class id: class 1e12 costs nothing, and the run trains under the
    memory limit."""
    out = _refused("""
import numpy as np
from core.layers import Dense, Input
from core.models import Sequential
m = Sequential([Input((3,)), Dense(2, activation="softmax")])
m.compile("sgd", "sparse_categorical_crossentropy")
h = m.fit(np.zeros((4, 3), "float32"), np.array([0, 1, 0, 1]), class_weight={10**12: 2.0},
          epochs=1, verbose=0)
raise SystemExit("TRAINED %.6f" % h.history["loss"][0])""")
    assert "RAISED SystemExit | TRAINED 0.693147" in out, out


@pytest.mark.timeout(300)
def test_fit_with_batch_size_1e9_is_one_batch_of_all_samples():
    """Keras runs ``batch_size`` past the sample count as one batch; the buffers are sized
    by the data, so this trains exactly as ``batch_size=10`` does."""
    out = run_limited("""
        import numpy as np
        from core.layers import Dense, Input
        from core.models import Sequential
        from core.utils import set_random_seed
        rng = np.random.default_rng(0)
        x = rng.normal(size=(10, 3)).astype("float32")
        y = rng.normal(size=(10, 2)).astype("float32")
        runs = []
        for bs in (10**9, 10):
            set_random_seed(1)
            m = Sequential([Input((3,)), Dense(2)])
            m.compile("sgd", "mse")
            h = m.fit(x, y, batch_size=bs, epochs=2, shuffle=False, verbose=0)
            runs.append((h.history["loss"], m.get_weights()))
        (la, wa), (lb, wb) = runs
        print("SAME", la == lb and all(np.array_equal(a, b) for a, b in zip(wa, wb)), la)
    """, LIMIT, timeout=280)
    assert "SAME True" in out.stdout, (out.stdout, out.stderr[-2000:])


@pytest.mark.timeout(120)
@pytest.mark.parametrize("top", [10**12, INT64_MAX, 10**7 - 1],
                         ids=["1e12", "int64_max", "10M_classes"])
def test_app_data_set_with_absurd_class_ids_is_refused(tmp_path, top):
    import numpy as np

    path = tmp_path / "labels.npz"
    np.savez(path, x=np.zeros((4, 2), "float32"), y=np.array([0, 1, 2, top], np.int64))
    out = _refused(f"""
import sys
sys.modules["PySide6"] = None  # the data source must load without Qt
from core.session.data_source import DataSpec, load_dataset
load_dataset(DataSpec(kind="file", path={str(path)!r}))""")
    assert "RAISED DataError" in out, out
    assert f"labels go up to {top}, i.e. {top + 1} classes" in out and "would need" in out, out
