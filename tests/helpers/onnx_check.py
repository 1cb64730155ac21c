"""Shared by the ONNX export tests: random weights, and "export, check, run in
onnxruntime, compare with the engine's predict within 1e-5"."""

import numpy as np


def randomize(model, seed=0, scale=0.5):
    rng = np.random.default_rng(seed)
    for w in model.weights:
        value = rng.normal(0.0, scale, w.shape)
        if "variance" in w.name:
            value = rng.uniform(0.5, 2.0, w.shape)
        w.assign(value.astype(np.float32))


def check_same(model, path, batch=5, seed=1, xs=None):
    """Export ``model`` to ``path`` and compare onnxruntime with ``model.predict`` on
    ``xs`` (a list, one array per input; default: standard normal floats). Returns the
    onnxruntime session."""
    import onnx
    import onnxruntime as ort

    from core.export.onnx import OPSET, export_onnx
    export_onnx(model, path)
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    assert proto.opset_import[0].version == OPSET
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    if xs is None:
        rng = np.random.default_rng(seed)
        xs = [rng.normal(0, 1, (batch, *i.shape[1:])).astype(np.float32)
              for i in sess.get_inputs()]
    feeds = {i.name: x for i, x in zip(sess.get_inputs(), xs)}
    ref = model.predict(xs if len(xs) > 1 else xs[0], verbose=0)
    refs = ref if isinstance(ref, list) else [ref]
    outs = sess.run(None, feeds)
    assert len(outs) == len(refs)
    for out, r in zip(outs, refs):
        assert out.shape == r.shape
        np.testing.assert_allclose(out, r, atol=1e-5, rtol=1e-5)
    return sess
