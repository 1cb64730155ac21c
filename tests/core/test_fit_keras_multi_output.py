"""Multi-output ``compile``/``fit``/``evaluate``/``predict`` against real Keras 3 (PyTorch
backend) on the same model and weights: per-output losses, loss weights and metrics
given as lists or dicts, dict inputs and targets, and Keras' log names (``loss``,
``<output>_loss``, ``<output>_<metric>``, ``val_`` prefixes) with their values."""

import os

import numpy as np
import pytest

import core

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

rng = np.random.default_rng(3)
XA = rng.normal(size=(20, 4)).astype("float32")
XB = rng.normal(size=(20, 3)).astype("float32")
Y_SCORE = rng.normal(size=(20, 1)).astype("float32")
Y_CLS = rng.integers(0, 3, 20)
SW = rng.uniform(0.2, 1.5, 20).astype("float32")
SW2 = rng.uniform(0.0, 2.0, 20).astype("float32")


def two_output_model(K, dict_outputs=False, dict_inputs=True):
    a, b = K.Input((4,), name="a"), K.Input((3,), name="b")
    joined = K.layers.Concatenate(name="concat")([a, b])
    h = K.layers.Dense(5, activation="relu", name="h")(joined)
    score = K.layers.Dense(1, name="score")(h)
    cls = K.layers.Dense(3, activation="softmax", name="cls")(h)
    inputs = {"a": a, "b": b} if dict_inputs else [a, b]
    return K.Model(inputs, {"score": score, "cls": cls} if dict_outputs else [score, cls])


def run(K, weights, compile_kw, y, dict_outputs, fit_kw=None):
    """Compile, fit two epochs (with validation), evaluate and predict; ``weights`` are
    set first (Keras' own initial weights are returned for the other run)."""
    model = two_output_model(K, dict_outputs)
    if weights is not None:
        model.set_weights(weights)
    initial = [np.array(w) for w in model.get_weights()]
    model.compile(optimizer=K.optimizers.SGD(0.1), **compile_kw)
    x = {"a": XA, "b": XB}
    history = model.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False,
                        validation_data=(x, y), **(fit_kw or {})).history
    evaluated = model.evaluate(x, y, verbose=0, return_dict=True)
    predicted = model.predict(x, verbose=0)
    return model, history, evaluated, predicted, initial


def assert_same_logs(ours: dict, theirs: dict):
    assert sorted(ours) == sorted(theirs)
    for key in theirs:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=2e-5, atol=1e-6, err_msg=key)


CASES = {
    "dicts": (False, lambda: dict(
        loss={"score": "mse", "cls": "sparse_categorical_crossentropy"},
        loss_weights={"score": 0.5, "cls": 2.0},
        metrics={"score": ["mae"], "cls": ["accuracy"]}), [Y_SCORE, Y_CLS]),
    "lists": (False, lambda: dict(
        loss=["mse", "sparse_categorical_crossentropy"], loss_weights=[1.0, 0.3],
        metrics=[["mae"], ["accuracy"]]), [Y_SCORE, Y_CLS]),
    "dict_outputs": (True, lambda: dict(
        loss={"score": "mse", "cls": "sparse_categorical_crossentropy"},
        metrics={"cls": "accuracy", "score": ["mae", "mse"]}),
        {"score": Y_SCORE, "cls": Y_CLS}),
    "one_loss_for_all": (False, lambda: dict(loss="mse", metrics=[["mae"], ["mse"]]),
                         [Y_SCORE, np.eye(3, dtype="float32")[Y_CLS]]),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("weighted", ["plain", "sample_weight", "per_output_weights"])
def test_multi_output_logs_match_keras(case, weighted):
    dict_outputs, compile_kw, y = CASES[case]
    per_output = {"score": SW, "cls": SW2} if dict_outputs else [SW, SW2]
    fit_kw = {"plain": None, "sample_weight": {"sample_weight": SW},
              "per_output_weights": {"sample_weight": per_output}}[weighted]
    ref, k_hist, k_eval, k_pred, start = run(keras, None, compile_kw(), y, dict_outputs,
                                             fit_kw)
    model, hist, ev, pred, _ = run(core, start, compile_kw(), y, dict_outputs, fit_kw)
    assert_same_logs(hist, k_hist)
    assert any(k.startswith("val_") and k.endswith("_loss") for k in hist)
    assert_same_logs(ev, k_eval)
    assert model.output_names == list(ref.output_names)
    if dict_outputs:
        assert isinstance(pred, dict) and sorted(pred) == sorted(k_pred)
        pairs = [(pred[k], k_pred[k]) for k in k_pred]
    else:
        pairs = list(zip(pred, k_pred))
    for ours, theirs in pairs:
        np.testing.assert_allclose(ours, np.asarray(theirs), rtol=1e-5, atol=1e-6)
    for ours, theirs in zip(model.get_weights(), ref.get_weights()):
        np.testing.assert_allclose(ours, np.asarray(theirs), rtol=1e-4, atol=1e-6)


def test_dict_outputs_are_ordered_by_sorted_key_as_keras():
    ours, theirs = two_output_model(core, True), two_output_model(keras, True)
    assert ours.output_names == list(theirs.output_names) == ["cls", "score"]
    assert [ly.name for ly in ours.layers] == [ly.name for ly in theirs.layers]
    out = ours({"a": XA[:2], "b": XB[:2]})
    assert sorted(out) == ["cls", "score"] and out["cls"].shape == (2, 3)


def test_list_inputs_model_takes_data_keyed_by_input_names():
    model = two_output_model(core, dict_inputs=False)
    model.compile("sgd", loss=["mse", "sparse_categorical_crossentropy"])
    by_name = model.evaluate({"b": XB, "a": XA}, [Y_SCORE, Y_CLS], verbose=0)
    as_list = model.evaluate([XA, XB], [Y_SCORE, Y_CLS], verbose=0)
    assert by_name == as_list
    with pytest.raises(ValueError, match=r"missing data for \['b'\]"):
        model.predict({"a": XA}, verbose=0)


def test_bad_per_output_arguments_name_the_outputs():
    model = two_output_model(core)
    with pytest.raises(ValueError, match=r"not output names \['score', 'cls'\]"):
        model.compile("sgd", loss={"score": "mse", "klass": "mse"})
    with pytest.raises(ValueError, match="3 entries but the model has 2 output"):
        model.compile("sgd", loss=["mse"] * 3)
