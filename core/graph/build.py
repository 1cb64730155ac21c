"""Document <-> engine model: ``build_model(doc)`` and ``document_from_model(model, doc)``.

``build_model`` makes a functional ``core.models.Model``: inputs are the
``InputLayer`` nodes in document order, outputs the nodes no wire leaves, layer
names are node names. Weights kept in ``doc.weights`` (layer name -> arrays) are
loaded into the layers whose weight shapes still match; layers the user changed
since start from fresh initial values.

``document_from_model`` reads any Sequential or functional model (its layers and
their inbound ``Node``s), keeps each layer's config in the document's form (Param
defaults where the layer uses the default) and lays the graph out top to bottom.

>>> model = doc.build_model()                          # doctest: +SKIP
>>> again = GraphDocument.from_model(model)            # doctest: +SKIP
"""

from __future__ import annotations

from core.graph.datatypes import Edge, GraphError, NodeData, copy_json, to_json_form

GAP_Y = 120.0
GAP_X = 220.0
_SKIP_KEYS = {"name", "dtype", "batch_input_shape", "batch_shape", "sparse", "ragged",
              "optional"}


def _topological(doc) -> list[str]:
    indeg = {n: len(doc._in.get(n, ())) for n in doc.nodes}
    order_key = list(doc.nodes)
    ready = [n for n in order_key if indeg[n] == 0]
    out = []
    while ready:
        n = ready.pop(0)
        out.append(n)
        for e in doc._out.get(n, ()):
            indeg[e.dst] -= 1
            if indeg[e.dst] == 0:
                ready.append(e.dst)
    if len(out) != len(doc.nodes):
        raise GraphError("The network has a cycle.")
    return out


def build_model(doc):
    """A functional model of ``doc``; raises ``GraphError`` listing every error."""
    from core.models import Model

    errors = [p for p in doc.problems() if p.severity == "error"]
    if errors:
        lines = "\n".join(f"- {p.message}" for p in errors)
        raise GraphError(f"The network cannot be built yet:\n{lines}")
    if not doc.nodes:
        raise GraphError("The network is empty: add an InputLayer and some layers.")
    from core.graph.groups import build_scope
    tensors, layers = {}, {}
    # Groups (nested models) are rebuilt as real nested models; without any, this is
    # the plain layer-by-layer walk.
    build_scope(doc, "", tensors, doc._inferer.make_layer, _topological(doc), layers)
    inputs, outputs = [], []
    for nid in doc.nodes:  # document order, as the user sees them
        if doc.nodes[nid].group:
            if not doc.outputs_of(nid) and nid in tensors:
                outputs.append(tensors[nid])
        elif getattr(type(layers[nid]), "num_inputs", 1) == 0:
            inputs.append(tensors[nid])
        elif not doc.outputs_of(nid):
            outputs.append(tensors[nid])
    name = str(doc.meta.get("name") or "model").replace("/", "_")
    model = Model(inputs[0] if len(inputs) == 1 else inputs,
                  outputs[0] if len(outputs) == 1 else outputs, name=name)
    if doc.weights:
        apply_weights(model, doc.weights)
    return model


def apply_weights(model, weights: dict) -> list[str]:
    """Load ``weights`` (layer name -> arrays) where shapes match; returns loaded names.
    A nested model takes an entry under its own name (all its weights, as the training
    panel copies them) or, failing that, entries for its layers."""
    from core.models import Model
    loaded = []
    for layer in model.layers:
        arrays = weights.get(layer.name)
        if not layer.weights:
            continue
        if arrays is not None and [tuple(w.shape) for w in layer.weights] == \
                [tuple(a.shape) for a in arrays]:
            layer.set_weights(arrays)
            loaded.append(layer.name)
        elif isinstance(layer, Model):
            loaded += apply_weights(layer, weights)
    return loaded


def model_weights(model) -> dict:
    """Layer name -> copies of its weights (Keras order), for ``doc.weights``."""
    from core.graph.groups import leaf_layers
    return {ly.name: ly.get_weights() for ly in leaf_layers(model) if ly.weights}


# ------------------------------------------------------------------ model -> doc

def config_from_layer(layer, cls) -> dict:
    """The document config of ``layer``: Param defaults where ``layer`` uses the default,
    its Keras config value elsewhere (plus non-Param keys that differ from defaults)."""
    kcfg = layer.get_config()
    params = getattr(cls, "params", ())
    required = {p.name for p in params if p.default is None and not p.optional
                and p.kind not in ("activation", "regularizer", "constraint")}
    # The reference: the same class with every Param at its default (required ones
    # taken from the layer), so "left at the default" can be told from "set".
    init = {p.name: p.default for p in params if p.name not in required}
    init.update({p.name: kcfg[p.name] for p in params if p.name in kcfg and p.name in required})
    try:
        ref = cls(name=layer.name, **init)
        if getattr(layer, "built", False) and layer._build_input_shape is not None:
            # Some configs change when built (Keras writes MultiHeadAttention's
            # attention_axes, LayerNormalization's axis list): compare built with built,
            # leaving the engine's random stream as it was (the initializers draw).
            from core import random as nw_random
            state = nw_random.rng().bit_generator.state
            try:
                ref._maybe_build(layer._build_input_shape)
            finally:
                nw_random.rng().bit_generator.state = state
        ref_cfg = to_json_form(ref.get_config())
    except Exception:  # noqa: BLE001 - without a reference every value is kept
        ref_cfg = {}
    kcfg = to_json_form(kcfg)
    out = {}
    for p in params:
        default = to_json_form(p.default)
        if p.name in kcfg:
            v = kcfg[p.name]
            if p.name not in required and ref_cfg.get(p.name, object()) == v:
                v = default
            elif isinstance(v, dict) and "class_name" in v:
                v = _short_form(cls, init, p.name, v)
            out[p.name] = v
        elif p.kind == "shape" and (kcfg.get("batch_shape") or kcfg.get("batch_input_shape")):
            out[p.name] = list((kcfg.get("batch_shape") or kcfg["batch_input_shape"])[1:])
        else:
            out[p.name] = default
    for k, v in kcfg.items():
        if k in out or k in _SKIP_KEYS:
            continue
        if k in ref_cfg and ref_cfg[k] == v:
            continue
        out[k] = v
    return out


def _in_io_order(model, units: list) -> list:
    """``units`` (layer, node index) with the input units (and output units) permuted
    among their own slots into ``model.inputs`` (``model.outputs``) order, so that a
    model built back from the document takes and returns its tensors in that order."""
    from core.models.graph import tensor_ref
    out = list(units)
    for tensors in (getattr(model, "inputs", None), getattr(model, "outputs", None)):
        refs = [tensor_ref(t) for t in (tensors or [])]
        want = [(id(r.layer), r.node_index) for r in refs if r is not None]
        slots = [k for k, (ly, i) in enumerate(out) if (id(ly), i) in want]
        if len(slots) == len(want):
            by_key = {(id(ly), i): (ly, i) for ly, i in out}
            for k, key in zip(slots, want):
                out[k] = by_key[key]
    return out


def _short_form(cls, init: dict, key: str, value: dict):
    """``"he_normal"`` instead of Keras' dict for it, when the layer says they are equal
    (the name is what the inspector shows and what a document made by hand holds)."""
    from core.backend import to_snake_case
    for name in (to_snake_case(value["class_name"]), value["class_name"]):
        try:
            probe = cls(name="probe", **{**init, key: name}).get_config().get(key)
        except Exception:  # noqa: BLE001 - not a valid short name: try the next
            continue
        if to_json_form(probe) == value:
            return name
    return value


def _model_graph(model):
    """``(units, edges, calls)``: units are (layer, node index), one per call of a
    layer in the model (a shared layer has several); edges are (src unit, dst unit,
    port); ``calls`` maps a unit to its ``NodeData.call``. Read from the model's public
    graph (``core.models.graph``)."""
    from core.graph.calls import call_record
    from core.models.graph import graph_of
    from core.models.sequential import Sequential
    layers = list(model.layers)
    if isinstance(model, Sequential):
        if not model.inputs:
            raise GraphError(f"Sequential '{model.name}' has no input shape yet; build it or "
                             "start it with an Input.")
        input_layer = graph_of(model).nodes[0].layer
        chain = [(ly, 0) for ly in [input_layer] + layers]
        return chain, [(a, b, 0) for a, b in zip(chain, chain[1:])], {}
    try:
        graph = graph_of(model)
    except ValueError:
        raise GraphError(f"Model '{model.name}' is subclassed: its graph is Python code, "
                         "which the editor cannot show. Use a functional or Sequential "
                         "model.") from None
    units, edges, calls = [], [], {}
    for layer in layers:
        mine = graph.nodes_of(layer)
        if not mine:
            units.append((layer, 0))
        for node in mine:
            unit = (layer, node.node_index)
            units.append(unit)
            if getattr(type(layer), "num_inputs", 1) == 0:
                continue
            if node.multi_output:
                raise GraphError(f"Layer '{layer.name}' has several outputs; the editor "
                                 "shows one output per layer. The file still trains "
                                 "and exports outside the editor (core.saving.load_model, "
                                 "netweaver export FILE).")
            calls[unit] = call_record(node.node)
            for port, src in enumerate(node.inbound):
                if src is None:
                    raise GraphError(f"Layer '{layer.name}' has an input without a source "
                                     "layer.")
                edges.append(((src.layer, src.node_index), unit, port))
    return _in_io_order(model, units), edges, calls


def document_from_model(model, doc):
    """Fill the empty ``doc`` with ``model``'s layers and wiring; returns ``doc``. A
    layer called several times (a shared layer) gets one node per call: the first owns
    the layer, the others name it in ``NodeData.shares`` (``core.graph.calls``)."""
    units, edges, calls = _model_graph(model)
    ids, first = {}, {}
    for layer, index in units:
        type_name = type(layer).__name__
        try:
            cls = doc.layer_class(type_name)
        except ValueError as exc:
            raise GraphError(f"Layer '{layer.name}': {exc}") from None
        if cls is not type(layer):
            raise GraphError(f"Layer '{layer.name}' is a {type_name} that is not the "
                             "registered class of that name.")
        owner = first.get(id(layer))
        name = layer.name
        if owner is not None:  # a later call of a shared layer: a card of its own
            k = 2
            while doc.node_by_name(f"{layer.name} (call {k})") is not None:
                k += 1
            name = f"{layer.name} (call {k})"
        elif doc.node_by_name(name) is not None:
            raise GraphError(f"Two layers are named '{layer.name}'.")
        nid = doc._new_id()
        config = doc.nodes[owner].config if owner else config_from_layer(layer, cls)
        doc._insert(NodeData(nid, type_name, copy_json(config), (0.0, 0.0), name,
                             call=calls.get((layer, index), {}), shares=owner or ""))
        ids[(id(layer), index)] = nid
        first.setdefault(id(layer), nid)
    for (src, src_index), (dst, dst_index), port in edges:
        key = (id(src), src_index)
        if key not in ids:
            raise GraphError(f"Layer '{dst.name}' takes its input from '{src.name}', which is "
                             "not part of the model.")
        doc._link(Edge(ids[key], ids[(id(dst), dst_index)], port))
    doc.meta["name"] = model.name
    auto_layout(doc)
    seen = {id(ly): ly for ly, _ in units}.values()
    weights = {ly.name: ly.get_weights() for ly in seen if ly.built and ly.weights}
    doc.weights = weights or None
    doc.revalidate_all()
    return doc


def auto_layout(doc, origin=(0.0, 0.0)) -> None:
    """Top-to-bottom layers by longest path from the inputs, children near parents."""
    depth = {}
    try:
        order = _topological(doc)
    except GraphError:
        order = list(doc.nodes)
    for n in order:
        depth[n] = max((depth.get(e.src, 0) + 1 for e in doc._in.get(n, ())), default=0)
    rows: dict[int, list[str]] = {}
    for n in order:
        rows.setdefault(depth[n], []).append(n)
    x_of = {}
    for d in sorted(rows):
        row = rows[d]
        # Each node wants to sit under the mean of its parents (roots spread evenly);
        # a left-to-right sweep keeps GAP_X between neighbours, then the row is shifted
        # back so that on average nodes sit where they wanted to.
        want = {}
        for k, n in enumerate(row):
            xs = [x_of[e.src] for e in doc._in.get(n, ()) if e.src in x_of]
            want[n] = sum(xs) / len(xs) if xs else (k - (len(row) - 1) / 2) * GAP_X
        row.sort(key=lambda n: want[n])
        xs = []
        for n in row:
            xs.append(want[n] if not xs else max(want[n], xs[-1] + GAP_X))
        shift = sum(want[n] - x for n, x in zip(row, xs)) / len(row)
        for n, x in zip(row, xs):
            x_of[n] = x + shift
            doc.nodes[n].pos = (origin[0] + x_of[n], origin[1] + d * GAP_Y)
