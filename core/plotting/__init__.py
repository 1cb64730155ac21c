"""``plot_model``: Keras' ``keras.utils.plot_model`` without graphviz or pydot.

The picture (``graph.picture``: one box per layer, one wire per connection, nested
models as a box or, with ``expand_nested``, a framed cluster) is written as SVG
(``svg``) or PNG (``png``: numpy + zlib, a 5x7 bitmap font). Same arguments as
Keras 3; ``splines`` is accepted and edges are straight lines whatever its value.

>>> plot_model(model, "model.svg", show_shapes=True)   # doctest: +SKIP
"""

from __future__ import annotations

import os

from core import safety_writes
from core.plotting.graph import picture

FORMATS = ("svg", "png")


def plot_model(model, to_file="model.png", show_shapes=False, show_dtype=False,
               show_layer_names=False, rankdir="TB", expand_nested=False, dpi=200,
               show_layer_activations=False, show_trainable=False, splines="ortho",
               **kwargs):
    """Write a picture of ``model`` to ``to_file`` (``.svg`` or ``.png``; no extension
    means PNG, as Keras). Returns None (Keras returns an IPython image in notebooks)."""
    if kwargs.pop("layer_range", None) is not None:
        raise ValueError("Argument `layer_range` is no longer supported.")
    if kwargs:
        raise ValueError(f"Unrecognized keyword arguments: {kwargs}")
    if isinstance(dpi, bool) or not isinstance(dpi, (int, float)) or not 10 <= dpi <= 1200:
        raise ValueError(f"plot_model: dpi={dpi!r}; expected a number from 10 to 1200.")
    to_file = os.fspath(to_file)
    ext = os.path.splitext(to_file)[1][1:].lower() or "png"
    if ext not in FORMATS:
        raise ValueError(f"plot_model: cannot write {ext!r} files; Netweaver writes "
                         f"{' and '.join(FORMATS)} (no graphviz needed).")
    pic = picture(model, show_shapes=show_shapes, show_dtype=show_dtype,
                  show_layer_names=show_layer_names, rankdir=rankdir,
                  expand_nested=expand_nested, show_layer_activations=show_layer_activations,
                  show_trainable=show_trainable)
    if ext == "svg":
        from core.plotting.svg import to_svg
        data = to_svg(pic, dpi=int(dpi)).encode("utf-8")
    else:
        from core.plotting.png import to_png
        data = to_png(pic, dpi=int(dpi))
    safety_writes.atomic_write(to_file, lambda f: f.write(data))
    return None


__all__ = ["plot_model", "picture"]
