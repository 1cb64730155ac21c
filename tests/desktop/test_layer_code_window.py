"""A project's own layer code in the window: "Add layer code…" puts its layers in the
palette under Custom; opening the project asks before running the code (a no keeps the
project closed), a yes is remembered for those exact bytes, an edit asks again."""

import numpy as np

from core.layers.spec import registered_layers, unregister_layer

CODE = '''
import core as keras


@keras.saving.register_keras_serializable(package="WindowTest")
class {cls}(keras.layers.Layer):
    def __init__(self, factor: float = 2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x):
        return keras.ops.multiply(x, self.factor)

    def get_config(self):
        return {{**super().get_config(), "factor": self.factor}}
'''


def _project_with_code(window, tmp_path, cls):
    from core.graph.project_file import save_project

    code = tmp_path / "elsewhere" / "my_layers.py"
    code.parent.mkdir()
    code.write_text(CODE.format(cls=cls))
    project = tmp_path / "p.nwproj"
    save_project(window.document, str(project))
    assert window.project.open(str(project))
    assert window.layer_code.add_layer_code(str(code))
    return project, tmp_path / "my_layers.py"


def test_added_layer_code_fills_the_custom_palette_and_saves(window, tmp_path):
    cls = "TimesFactorA"
    try:
        project, beside = _project_with_code(window, tmp_path, cls)
        assert beside.exists()  # copied beside the project
        assert window.palette.groups()["Custom"] == [cls]
        nid = window.document.add_node(cls, {"factor": 3.0})
        assert window.document.state(nid).error is None or "input" in \
            window.document.state(nid).error.lower()
        assert window.project.save()
        assert registered_layers()[cls].params[0].name == "factor"
    finally:
        window.project.new(confirm=False)  # no node of the class outlives it
        unregister_layer(cls)


def test_opening_asks_first_and_a_no_keeps_the_project_closed(window, tmp_path,
                                                               monkeypatch, qtbot):
    from core.graph.document import GraphDocument

    cls = "TimesFactorB"
    try:
        project, beside = _project_with_code(window, tmp_path, cls)
        doc = window.document
        ids = [doc.add_node("InputLayer", {"shape": [3]}), doc.add_node(cls, {})]
        doc.connect(*ids)
        assert window.project.save()
        window.project.new(confirm=False)
        unregister_layer(cls)  # as in a fresh session: the class is not known yet
        window.settings.remove("layerCode/trusted")
        asked = []
        monkeypatch.setattr(window, "ask_yes_no", lambda t, text: asked.append(text) or False)
        assert not window.project.open(str(project))
        assert asked and str(beside) in asked[0] and "SHA-256" in asked[0]
        assert cls not in registered_layers()
        assert "chose not to run" in window.errors[-1]
        assert isinstance(window.document, GraphDocument) and not window.document.nodes

        monkeypatch.setattr(window, "ask_yes_no", lambda t, text: asked.append(text) or True)
        assert window.project.open(str(project))
        assert len(asked) == 2 and cls in registered_layers()
        assert [n.type for n in window.document.nodes.values()] == ["InputLayer", cls]
        model = window.document.build_model()
        np.testing.assert_allclose(model.predict(np.ones((2, 3), "float32"), verbose=0), 2.0)

        window.project.new(confirm=False)  # trusted bytes: no second question
        assert window.project.open(str(project)) and len(asked) == 2
        beside.write_text(beside.read_text() + "\n# edited\n")
        window.project.new(confirm=False)
        assert window.project.open(str(project)) and len(asked) == 3
    finally:
        window.project.new(confirm=False)  # no node of the class outlives it
        unregister_layer(cls)


def test_adding_code_needs_a_saved_project(window, tmp_path):
    code = tmp_path / "x.py"
    code.write_text("x = 1\n")
    assert not window.layer_code.add_layer_code(str(code))
    assert "Save the project first" in window.errors[-1]


def test_broken_code_is_reported_with_its_line(window, tmp_path):
    from core.graph.project_file import save_project

    project = tmp_path / "p.nwproj"
    save_project(window.document, str(project))
    window.project.open(str(project))
    code = tmp_path / "bad.py"
    code.write_text("import core\nraise RuntimeError('boom')\n")
    assert not window.layer_code.add_layer_code(str(code))
    assert "line 2: RuntimeError: boom" in window.errors[-1]
    assert "layer_code" not in window.document.meta
