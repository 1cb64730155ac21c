"""A project's own layer code: trusted by digest, registered under Custom, trains, saves."""

import numpy as np
import pytest

from core.graph.document import GraphDocument
from core.graph.layer_code import (
    LayerCodeError,
    attach,
    code_path,
    digest,
    load_layer_code,
    params_from_signature,
)
from core.layers.spec import registered_layers, unregister_layer
from tests.graph.helpers import chain

SCALE = '''
import pathlib
import core as keras

pathlib.Path(__file__).with_suffix(".ran").write_text("ran")


@keras.saving.register_keras_serializable(package="{package}")
class {cls}(keras.layers.Layer):
    """Multiplies by one trainable factor per feature."""

    def __init__(self, start: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.start = start

    def build(self, input_shape):
        self.factor = self.add_weight((input_shape[-1],), initializer=keras.initializers.
                                      Constant(self.start), name="factor")

    def call(self, x):
        return keras.ops.multiply(x, self.factor)

    def get_config(self):
        return {{**super().get_config(), "start": self.start}}
'''


@pytest.fixture
def code(tmp_path, request):
    """A layer module beside a project; its class is forgotten after the test."""
    cls = "Scale" + request.node.name.split("[")[0][-12:].title().replace("_", "")
    path = tmp_path / "my_layers.py"
    path.write_text(SCALE.format(cls=cls, package=cls))
    yield path, cls
    unregister_layer(cls)


def test_trusted_layer_code_registers_under_custom_with_fields_from_init(code):
    path, cls_name = code
    (cls,) = load_layer_code(str(path), digest(path))
    assert registered_layers()[cls_name] is cls and cls.group == "Custom"
    assert [(p.name, p.kind, p.default) for p in cls.params] == [("start", "float", 1.0)]


def test_custom_layer_trains_in_a_document_and_its_file_reloads(code, tmp_path):
    from core.saving import load_model

    path, cls_name = code
    load_layer_code(str(path), digest(path))
    doc = GraphDocument()
    chain(doc, [("InputLayer", {"shape": (4,)}), ("Dense", {"units": 3}),
                (cls_name, {"start": 0.5}), ("Dense", {"units": 2, "activation": "softmax"})])
    attach(doc, path)
    model = doc.build_model()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 4)).astype("float32"), rng.integers(0, 2, 64)
    dense = next(ly for ly in model.layers if type(ly).__name__ == "Dense")
    first_dense = dense.kernel.value.copy()
    scale = next(ly for ly in model.layers if type(ly).__name__ == cls_name)
    before = scale.factor.value.copy()
    history = model.fit(x, y, epochs=5, batch_size=16, verbose=0).history["loss"]
    assert history[-1] < history[0]
    # the gradient flows through the user's ops into its weight and the Dense before it
    assert not np.allclose(scale.factor.value, before)
    assert not np.allclose(dense.kernel.value, first_dense)
    saved = tmp_path / "m.keras"
    model.save(saved)
    again = load_model(saved)
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6)


def test_a_file_changed_after_trust_is_refused_and_not_run(code):
    path, _ = code
    trusted = digest(path)
    path.write_text(path.read_text() + "\n# edited\n")
    with pytest.raises(LayerCodeError, match="changed since it was trusted"):
        load_layer_code(str(path), trusted)
    assert not path.with_suffix(".ran").exists()


def test_an_error_in_the_code_names_the_file_and_line(tmp_path):
    path = tmp_path / "broken.py"
    path.write_text("x = 1\ny = undefined_name\n")
    with pytest.raises(LayerCodeError, match=r"broken\.py', line 2: NameError"):
        load_layer_code(str(path), digest(path))


def test_a_class_named_like_a_built_in_is_refused(tmp_path):
    path = tmp_path / "clash.py"
    path.write_text("import core as keras\nclass Dense(keras.layers.Layer):\n    pass\n")
    with pytest.raises(LayerCodeError, match="class Dense has the name of a built-in"):
        load_layer_code(str(path), digest(path))
    assert registered_layers()["Dense"].__module__ == "core.layers.dense"


def test_reloading_edited_code_replaces_the_class(code):
    path, cls_name = code
    (first,) = load_layer_code(str(path), digest(path))
    path.write_text(path.read_text().replace("start: float = 1.0", "start: float = 3.0"))
    (second,) = load_layer_code(str(path), digest(path))
    assert second is not first and registered_layers()[cls_name] is second
    assert second.params[0].default == 3.0


@pytest.mark.parametrize("entry", [{"file": "../elsewhere.py"}, {"file": "/etc/x.py"},
                                   {"file": "notes.txt"}, {"file": ".hidden.py"}, "x.py",
                                   {"file": ["a.py"]}])
def test_the_project_may_only_name_a_py_file_beside_itself(entry, tmp_path):
    doc = GraphDocument()
    doc.meta["layer_code"] = entry
    with pytest.raises(LayerCodeError, match="beside the project"):
        code_path(doc, tmp_path / "p.nwproj")


def test_code_path_is_beside_the_project(tmp_path):
    doc = GraphDocument()
    assert code_path(doc, tmp_path / "p.nwproj") is None
    doc.meta["layer_code"] = {"file": "my_layers.py", "sha256": "0" * 64}
    assert code_path(doc, tmp_path / "p.nwproj") == str(tmp_path / "my_layers.py")


def test_fields_come_from_annotations_then_defaults():
    class Odd:
        def __init__(self, a: int, b=2, flag=False, mode="x", rate=1, name=None, **kw):
            pass

    got = [(p.name, p.kind, p.default) for p in params_from_signature(Odd)]
    assert got == [("a", "int", None), ("b", "int", 2), ("flag", "bool", False),
                   ("mode", "str", "x"), ("rate", "int", 1)]

    class Untyped:
        def __init__(self, thing=None):
            pass

    with pytest.raises(LayerCodeError, match="argument 'thing' has no type"):
        params_from_signature(Untyped)
