"""Facts about a layer class, declared once on the class (structure note, move 3).

Saving, ``predict``'s fast path, the mask graph, the ONNX exporter and the editor read
these class attributes instead of keeping their own lists of layer names, so a new
layer states them in its own file and every part follows. ``Layer`` inherits them with
the defaults below; a layer overrides only the facts that differ.

>>> from core.layers import Dense, Dropout
>>> Dropout.built_at_init, Dropout.call_training_default, Dropout.inference_identity
(True, False, True)
>>> Dense.built_at_init, Dense.call_takes_mask, Dense.keeps_input_values
(False, False, False)
"""

from __future__ import annotations


class LayerFacts:
    """The defaults of every layer fact (a plain class: no behaviour of its own)."""

    # True where forward(training=False) allocates its outputs (or returns views of
    # its input) and keeps no buffers between calls, so several threads may run it
    # at once (``core.models.batch_threads``). Layers with scratch buffers stay False.
    reentrant_inference = False
    # Keras' flag: the output keeps the input's mask (``core.layers.masks``).
    supports_masking = False
    # Keras marks the layer built in ``__init__`` (``_build_at_init``): it never records
    # a build shape, so Keras writes no ``build_config`` for it (checked on Keras 3.15.1
    # by tests/interop/test_layers_vs_keras.py; read by ``core.saving.serialization``).
    built_at_init = False
    # Keras' ``call`` signature declares ``mask``: Keras fills the mask in and records
    # it in the node's kwargs (``core.models.mask_graph``).
    call_takes_mask = False
    # The default of ``training`` in Keras' ``call`` signature when it is not None
    # (Dropout's ``training=False``): Keras records it in the node the same way.
    call_training_default = None
    # At inference (training=False) the output is the input itself, same shape and
    # values (Dropout, GaussianNoise): predict's input check looks through the layer
    # and the ONNX exporter writes an Identity for it.
    inference_identity = False
    # At inference the output holds exactly the input's values, possibly in another
    # shape (Flatten, Reshape); implied by ``inference_identity``.
    keeps_input_values = False
    # Keras writes the layer's ``dtype`` in its config as a ``DTypePolicy`` dict; False
    # where it writes the plain name (InputLayer, the spatial dropouts, whose Keras
    # get_config returns ``self.dtype``), read by ``core.saving.serialization``.
    dtype_policy_in_config = True


def passes_values(step) -> bool:
    """The inference output of ``step`` (a layer, or a plan step such as ``ConvPool``
    that is no layer) holds exactly its input's values, in any shape."""
    return bool(getattr(step, "inference_identity", False) or
                getattr(step, "keeps_input_values", False))
