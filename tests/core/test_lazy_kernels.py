"""Training compiles only the kernels the model calls (numba's lazy compile), not every
kernel: an MLP's first ``fit`` on an empty cache must not wait for the convolution,
recurrent or normalisation kernels (seconds, not minutes, for a new user)."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SCRIPT = """
import numpy as np
import core as keras
from core import kernels
from core.kernels import conv, conv_pool, norm, recurrent, activations
rng = np.random.default_rng(0)
m = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="relu"),
                      keras.layers.Dense(3, activation="softmax")])
m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
m.fit(rng.normal(size=(32, 6)).astype("float32"), rng.integers(0, 3, 32), verbose=0)
m.train_on_batch(rng.normal(size=(8, 6)).astype("float32"), rng.integers(0, 3, 8))
assert not kernels.is_warm()
unused = [f for f in (conv.im2col, conv_pool.conv2d_relu_maxpool, recurrent.lstm_step)
          if f.signatures]
assert not unused, unused
assert activations.bias_relu_forward.signatures, "the model's own kernel compiled"
print("ok")
"""


def test_fit_compiles_only_the_kernels_the_model_uses():
    run = subprocess.run([sys.executable, "-c", SCRIPT], cwd=REPO, capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0 and "ok" in run.stdout, run.stdout + run.stderr


def test_python_m_core_kernels_reports_each_module(tmp_path):
    """The app's child process: one ``done total name`` line per kernel module."""
    from core import kernels

    run = subprocess.run([sys.executable, "-c", "import core.kernels.__main__ as m; "
                          "import core.kernels as k; k.kernel_modules = lambda: ['dropout']; "
                          "m.main()"], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["1", "1", "dropout"]
    assert "dropout" in kernels.kernel_modules()
