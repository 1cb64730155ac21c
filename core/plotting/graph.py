"""The picture of a model as data: boxes (one per layer, labelled as Keras'
``model_to_dot`` labels them), edges (one per input of each layer call), clusters
(nested models when ``expand_nested``) and a layered layout. ``svg`` and ``png``
draw the same ``Picture``.

A shared layer is one box with a wire for every call. A nested model is one box, or
with ``expand_nested=True`` its layers inside a framed cluster named after it.

>>> pic = picture(model, show_shapes=True)   # doctest: +SKIP
>>> len(pic.boxes), len(pic.edges)           # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field

CHAR_W, LINE_H, PAD, GAP_RANK, GAP_SIDE, CLUSTER_PAD = 12, 18, 8, 60, 28, 14


@dataclass
class Box:
    key: int                  # id() of the layer
    lines: list[str]          # first line is the title band
    trainable: bool | None    # None: not shown
    cluster: str | None = None
    x: float = 0.0
    y: float = 0.0
    w: float = 0.0
    h: float = 0.0


@dataclass
class Cluster:
    name: str
    parent: str | None = None  # the cluster this nested model sits in
    x: float = 0.0
    y: float = 0.0
    w: float = 0.0
    h: float = 0.0


@dataclass
class Picture:
    boxes: list[Box] = field(default_factory=list)
    edges: list[tuple[int, int]] = field(default_factory=list)  # (src key, dst key)
    clusters: list[Cluster] = field(default_factory=list)
    width: float = 0.0
    height: float = 0.0
    rankdir: str = "TB"


def _is_model(layer) -> bool:
    from core.models import Model
    return isinstance(layer, Model)


def _is_functional(model) -> bool:
    """A graph of layer calls (``model.graph``); otherwise drawn as a chain."""
    from core.models import Functional
    return isinstance(model, Functional)


def _fmt(shape) -> str:
    if shape is None:
        return "?"
    if isinstance(shape, list):
        return "[" + ", ".join(_fmt(s) for s in shape) + "]"
    return str(tuple(shape))


def _label(layer, in_shape, out_shape, opts) -> tuple[list[str], bool | None]:
    cls = type(layer).__name__
    if _is_model(layer):
        cls = "Functional" if _is_functional(layer) else "Sequential"
    lines = [f"{layer.name} ({cls})" if opts["show_layer_names"] else cls]
    act = getattr(layer, "activation", None)
    if opts["show_layer_activations"] and act is not None:
        from core import activations
        try:
            lines.append(f"Activation: {activations.serialize(act)}")
        except (ValueError, TypeError):
            lines.append(f"Activation: {getattr(act, 'name', act)}")
    if opts["show_shapes"]:
        if cls != "InputLayer":
            lines.append(f"Input shape: {_fmt(in_shape)}")
        lines.append(f"Output shape: {_fmt(out_shape)}")
    if opts["show_dtype"]:
        lines.append(f"Output dtype: {getattr(layer, 'dtype', None) or 'float32'}")
    trainable = None
    if opts["show_trainable"] and layer.weights:
        trainable = bool(layer.trainable)
        lines.append("Trainable" if trainable else "Non-trainable")
    return lines, trainable


class _Builder:
    def __init__(self, opts):
        self.opts, self.pic, self.seen = opts, Picture(rankdir=opts["rankdir"]), {}

    def box(self, layer, in_shape, out_shape, cluster) -> int:
        key = id(layer)
        if key not in self.seen:  # a shared layer: one box, labelled by its first call
            lines, trainable = _label(layer, in_shape, out_shape, self.opts)
            self.seen[key] = Box(key, lines, trainable, cluster)
            self.pic.boxes.append(self.seen[key])
        return key

    def call(self, layer, srcs, in_shape, out_shape, cluster, n_out=1):
        """A layer call from boxes ``srcs``: returns the box keys of its outputs."""
        if _is_model(layer) and self.opts["expand_nested"]:
            if all(c.name != layer.name for c in self.pic.clusters):
                self.pic.clusters.append(Cluster(layer.name, cluster))
            return self.model(layer, srcs, layer.name)
        key = self.box(layer, in_shape, out_shape, cluster)
        self.pic.edges.extend((s, key) for s in srcs)
        return [key] * n_out

    def model(self, model, srcs, cluster):
        if not _is_functional(model):  # Sequential: a chain of shapes
            shape = tuple(model.inputs[0].shape)
            prev = srcs
            for layer in model.layers:
                out = layer.compute_output_shape(shape)
                prev = self.call(layer, prev, shape, out, cluster)[:1]
                shape = out
            return prev
        env = {id(t): s for t, s in zip(model.inputs, srcs)}
        for node in model.graph.nodes:  # the order Functional runs them
            if node.is_input:
                continue
            ins = [env[id(t)] for t in node.inputs]
            shapes = [tuple(t.shape) for t in node.inputs]
            outs = [tuple(t.shape) for t in node.outputs]
            keys = self.call(node.layer, ins, shapes if node.node.is_multi_input else shapes[0],
                             outs if node.multi_output else outs[0], cluster, len(node.outputs))
            for t, k in zip(node.outputs, keys):
                env[id(t)] = k
        return [env[id(t)] for t in model.outputs]


def picture(model, show_shapes=False, show_dtype=False, show_layer_names=False,
            rankdir="TB", expand_nested=False, show_layer_activations=False,
            show_trainable=False) -> Picture:
    """Boxes, edges and positions for ``model`` (built Sequential or functional)."""
    if rankdir not in ("TB", "LR"):
        raise ValueError(f"plot_model: rankdir={rankdir!r}; expected 'TB' or 'LR'.")
    if not getattr(model, "built", False) or not getattr(model, "inputs", None):
        raise ValueError("This model has not yet been built. Build the model first by calling "
                         "`build()` or by calling the model on a batch of data.")
    b = _Builder(dict(show_shapes=show_shapes, show_dtype=show_dtype, rankdir=rankdir,
                      show_layer_names=show_layer_names, expand_nested=expand_nested,
                      show_layer_activations=show_layer_activations,
                      show_trainable=show_trainable))
    srcs = []
    from core.models.graph import tensor_ref
    for t in model.inputs:  # the InputLayer boxes (a Sequential's too, as Keras draws it)
        layer = tensor_ref(t).layer
        srcs.append(b.box(layer, None, tuple(t.shape), None))
    b.model(model, srcs, None)
    _layout(b.pic)
    return b.pic


def _layout(pic: Picture) -> None:
    """Ranks by longest path; boxes in a rank ordered under their parents; LR swaps axes."""
    lr = pic.rankdir == "LR"
    for box in pic.boxes:
        box.w = max(len(s) for s in box.lines) * CHAR_W + 2 * PAD
        box.h = len(box.lines) * LINE_H + 2 * PAD + (PAD if len(box.lines) > 1 else 0)
    parents: dict[int, list[int]] = {}
    for s, d in pic.edges:
        parents.setdefault(d, []).append(s)
    rank: dict[int, int] = {}
    for box in pic.boxes:  # boxes are in call order, so parents come first
        rank[box.key] = max((rank.get(p, 0) + 1 for p in parents.get(box.key, ())),
                            default=0)
    ranks: dict[int, list[Box]] = {}
    for box in pic.boxes:
        ranks.setdefault(rank[box.key], []).append(box)
    along = lambda bx: bx.h if not lr else bx.w        # noqa: E731 - the rank direction
    across = lambda bx: bx.w if not lr else bx.h       # noqa: E731
    centre: dict[int, float] = {}
    pos = CLUSTER_PAD + LINE_H
    for r in sorted(ranks):
        row = ranks[r]
        want = {bx.key: sum(centre[p] for p in parents.get(bx.key, ()) if p in centre)
                / max(1, len([p for p in parents.get(bx.key, ()) if p in centre]))
                if any(p in centre for p in parents.get(bx.key, ())) else k * 1e-3
                for k, bx in enumerate(row)}
        row.sort(key=lambda bx: want[bx.key])
        total = sum(across(bx) for bx in row) + GAP_SIDE * (len(row) - 1)
        mean = sum(want.values()) / len(row) if r else 0.0
        start = mean - total / 2
        thick = max(along(bx) for bx in row)
        for bx in row:
            c = start + across(bx) / 2
            centre[bx.key] = c
            start += across(bx) + GAP_SIDE
            a0 = pos + (thick - along(bx)) / 2
            if lr:
                bx.x, bx.y = a0, c - bx.h / 2
            else:
                bx.x, bx.y = c - bx.w / 2, a0
        pos += thick + GAP_RANK
    parent = {c.name: c.parent for c in pic.clusters}

    def inside(name, cl):
        while name is not None:
            if name == cl:
                return True
            name = parent.get(name)
        return False
    for cl in pic.clusters:
        members = [bx for bx in pic.boxes if inside(bx.cluster, cl.name)]
        if not members:
            continue
        cl.x = min(bx.x for bx in members) - CLUSTER_PAD
        cl.y = min(bx.y for bx in members) - CLUSTER_PAD - LINE_H
        cl.w = max(bx.x + bx.w for bx in members) + CLUSTER_PAD - cl.x
        cl.h = max(bx.y + bx.h for bx in members) + CLUSTER_PAD - cl.y
    items = [(bx.x, bx.y, bx.w, bx.h) for bx in pic.boxes] + \
        [(c.x, c.y, c.w, c.h) for c in pic.clusters if c.w]
    x0 = min(i[0] for i in items) - CLUSTER_PAD
    y0 = min(i[1] for i in items) - CLUSTER_PAD
    for obj in list(pic.boxes) + list(pic.clusters):
        obj.x -= x0
        obj.y -= y0
    pic.width = max(i[0] + i[2] for i in items) - x0 + CLUSTER_PAD
    pic.height = max(i[1] + i[3] for i in items) - y0 + CLUSTER_PAD


def edge_points(pic: Picture, src: Box, dst: Box) -> tuple[float, float, float, float]:
    """Start (the source's bottom / right middle) and end (the target's top / left)."""
    if pic.rankdir == "LR":
        return src.x + src.w, src.y + src.h / 2, dst.x, dst.y + dst.h / 2
    return src.x + src.w / 2, src.y + src.h, dst.x + dst.w / 2, dst.y
