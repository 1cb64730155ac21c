"""The official Keras 3 guides run against ``core`` with only ``import keras`` changed.

The guide sources (keras-io, Apache 2.0) are not committed here: the project keeps
third-party code out of its history. Put the raw guide sources of the keras-io
repository (``guides/keras_core/<name>.py``, or ``guides/<name>.py`` where the manifest
says so) in ``../shared/data/keras-io-guides/<name>.py`` to run them; that folder's
README lists each file's path and commit. Each guide is skipped when its file is
absent. ``guide_manifest.py`` lists, per guide, the excluded blocks (each with its
reason), the blocks known to fail (each with its reason), the blocks real Keras 3.15.1
fails too (each with the error they must fail with here) and the data substitutions.
The test asserts that exactly the other blocks pass, so a fix or a regression both show.

Run by hand on a folder of guide sources::

    python -m tests.guides.guide_runner ../shared/data/keras-io-guides
"""

from __future__ import annotations

import pytest

from core.saving import get_custom_objects
from tests.guides.guide_manifest import GUIDES
from tests.guides.guide_runner import adapt, run_guide, split_blocks


@pytest.mark.parametrize("name", sorted(GUIDES))
def test_guide_blocks(shared_data, name, tmp_path):
    path = shared_data / "keras-io-guides" / f"{name}.py"
    if not path.is_file():
        pytest.skip(f"{path} is not present (keras-io guide source)")
    spec = GUIDES[name]
    before = dict(get_custom_objects())  # the serialization guide clears the registry
    try:
        result = run_guide(name, path.read_text(encoding="utf-8"), spec["excluded"],
                           spec["substitutions"], workdir=str(tmp_path))
    finally:
        get_custom_objects().clear()
        get_custom_objects().update(before)
    failed = {o.index: o.detail for o in result.outcomes if o.status == "failed"}
    as_keras = spec.get("keras_failures", {})
    unexpected = {i: d for i, d in failed.items()
                  if i not in spec["known_failures"] and i not in as_keras}
    fixed = sorted(set(spec["known_failures"]) - set(failed))
    assert not unexpected, f"{result.summary()}; unexpected failures: {unexpected}"
    assert not fixed, f"{result.summary()}; blocks {fixed} pass now: update the manifest"
    for i, (snippet, _why) in as_keras.items():  # fails, and the way Keras fails
        assert snippet in failed.get(i, ""), \
            f"{name} block {i} should fail as on real Keras ({snippet!r}): {failed.get(i)}"


# ---------------------------------------------------------------- the runner itself
GUIDE = '''"""
Title: a tiny guide
"""
import keras
from keras import ops

"""
Some prose.
"""

# A comment that belongs to the block.
x = ops.ones((2, 3))
data = keras.datasets.mnist.load_data()

"""
More prose.
"""

y = keras.layers.Dense(4)(x)
assert y.shape == (2, 4)

"""
A block that cannot run here.
"""

import tensorflow as tf
'''


def test_runner_splits_adapts_and_reports():
    blocks = split_blocks(GUIDE)
    assert [b.index for b in blocks] == [0, 1, 2, 3]
    assert blocks[1].source.startswith("# A comment")
    assert adapt(blocks[0].source) == "import core as keras\nfrom core import ops"
    shrink = {1: [("keras.datasets.mnist.load_data()", "None")]}
    result = run_guide("tiny", GUIDE, {3: ("tensorflow", "needs TensorFlow")}, shrink)
    assert [o.status for o in result.outcomes] == ["passed", "passed", "passed", "excluded"]
    assert result.summary() == "tiny: 3 passed, 0 failed, 1 excluded of 4 blocks"
    # Without the substitution the download fails and is reported; later blocks still run.
    result = run_guide("tiny", GUIDE, {3: ("tensorflow", "needs TensorFlow")}, {})
    assert [o.status for o in result.outcomes][:3] == ["passed", "failed", "passed"]
    # A block that leaves weights untrained fails; a guide's environment edits are undone.
    untrained = ("import os, warnings\nos.environ['GUIDE_RUNNER_PROBE'] = 'jax'\n"
                 "\"prose\"\nwarnings.warn(\"Gradients do not exist for variables ['w']\")\n")
    result = run_guide("untrained", untrained, {}, {})
    assert [o.status for o in result.outcomes] == ["passed", "failed"]
    assert result.outcomes[1].detail.startswith("Gradients do not exist")
    assert "GUIDE_RUNNER_PROBE" not in __import__("os").environ
    with pytest.raises(ValueError, match="does not contain 'tf.data'"):
        run_guide("tiny", GUIDE, {3: ("tf.data", "needs TensorFlow")}, shrink)
    with pytest.raises(ValueError, match="does not occur"):
        adapt("x = 1", [("y", "z")])
