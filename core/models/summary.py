"""``Model.summary()`` in Keras 3's exact text layout (no ``rich`` dependency).

Keras 3 renders the summary with ``rich`` (a heavy-head box table, one rule
between rows) at ``min(88, terminal columns - 4)`` characters for sequential
models and ``min(108, ...)`` with a "Connected to" column otherwise. This
module reproduces rich's column-width reduction and word wrapping for that
table, so the text matches character for character.

>>> from core.models import Sequential
>>> from core.layers import Dense
>>> model = Sequential([Dense(2, input_shape=(3,))], name="tiny")
>>> lines = []
>>> model.summary(line_length=40, print_fn=lines.append)
>>> print(lines[0].splitlines()[0])
Model: "tiny"
"""

from __future__ import annotations

import re
import shutil
import sys

from core.models.mask_graph import (
    MaskOp,
    MaskTensor,
    graph_items,
    recorded_mask,
)

# rich's HEAVY_HEAD box: top, header row, header rule, body row, row rule, bottom.
_TOP = ("┏", "━", "┳", "┓")
_HEAD = ("┃", "┃", "┃")
_HEAD_RULE = ("┡", "━", "╇", "┩")
_ROW = ("│", "│", "│")
_ROW_RULE = ("├", "─", "┼", "┤")
_BOTTOM = ("└", "─", "┴", "┘")


def readable_memory_size(size: float) -> str:
    """Keras' ``readable_memory_size``: B, KB, MB, ... with two decimals (base 1024)."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size / 1024 < 1:
            return f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} PB"


def _count_and_bytes(variables) -> tuple[int, int]:
    unique = {id(v): v for v in variables}.values()
    count = sum(int(v.size) for v in unique)
    nbytes = sum(int(v.size) * v.dtype.itemsize for v in unique)
    return count, nbytes


def _ratio_reduce(total: int, ratios, maximums, values) -> list[int]:
    """rich's ``ratio_reduce``: take ``total`` off ``values`` in proportion to ``ratios``."""
    ratios = [r if m else 0 for r, m in zip(ratios, maximums)]
    total_ratio = sum(ratios)
    if not total_ratio:
        return list(values)
    remaining = total
    out = []
    for ratio, maximum, value in zip(ratios, maximums, values):
        if ratio and total_ratio > 0:
            distributed = min(maximum, round(ratio * remaining / total_ratio))
            out.append(value - distributed)
            remaining -= distributed
            total_ratio -= ratio
        else:
            out.append(value)
    return out


def column_widths(line_length: int, positions) -> list[int]:
    """Cell widths (padding included, borders excluded) as rich lays out Keras' table."""
    if all(p <= 1 for p in positions):
        positions = [int(line_length * p) for p in positions]
    widths, current = [], 0
    for pos in positions:
        width = pos - current
        if width < 4:
            raise ValueError("Insufficient console width to print summary.")
        widths.append(width)
        current += width
    # Each fixed-width column grows by its padding (1 + 1), then rich shrinks the
    # table back into line_length minus the borders.
    cells = [w + 2 for w in widths]
    max_width = line_length - (len(cells) + 1)
    if sum(cells) > max_width:
        cells = _ratio_reduce(sum(cells) - max_width, [1] * len(cells), cells, cells)
    return [min(c, max_width) for c in cells]


def _wrap(text: str, width: int) -> list[str]:
    """rich's word wrap without folding: long words stay whole, then get an ellipsis."""
    breaks, offset = [], 0
    for m in re.finditer(r"\s*\S+\s*", text):
        word = m.group(0)
        word_len = len(word.rstrip())
        if width - offset >= word_len:
            offset += len(word)
        elif word_len > width:
            # Too long for any line: it starts a line of its own (cropped later), and
            # that line counts as full even when it is the first one.
            if m.start():
                breaks.append(m.start())
            offset = len(word)
        elif offset and m.start():
            breaks.append(m.start())
            offset = len(word)
    bounds = [0] + breaks + [len(text)]
    lines = [text[a:b] for a, b in zip(bounds, bounds[1:])] or [""]
    out = []
    for line in lines:
        excess = len(line) - width
        if excess > 0:  # rich's rstrip_end: drop trailing blanks beyond the width
            trailing = len(line) - len(line.rstrip())
            line = line[:len(line) - min(trailing, excess)]
        if len(line) > width:
            line = line[:width - 1] + "…"
        out.append(line)
    return out


def _render_row(cells, widths, justify, side) -> list[str]:
    wrapped = [_wrap(str(c), w - 2) for c, w in zip(cells, widths)]
    height = max(len(w) for w in wrapped)
    lines = []
    for i in range(height):
        parts = []
        for lines_of_cell, w, j in zip(wrapped, widths, justify):
            text = lines_of_cell[i] if i < len(lines_of_cell) else ""
            inner = w - 2
            if j == "right":
                text = text.rstrip().rjust(inner)
            elif j == "center":
                text = text.strip().center(inner)
            else:
                text = text.ljust(inner)
            parts.append(" " + text + " ")
        lines.append(side[0] + side[1].join(parts) + side[2])
    return lines


def _rule(chars, widths) -> str:
    return chars[0] + chars[2].join(chars[1] * w for w in widths) + chars[3]


def _format_shape(shape) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ")"


def format_layer_shape(layer) -> str:
    if layer._inbound_nodes:
        outs = layer._inbound_nodes[-1].output_tensors
        shapes = [_format_shape(t.shape) for t in outs]
        if len(shapes) == 1 and not layer._inbound_nodes[-1].is_multi_output:
            return shapes[0]
        return "[" + ", ".join(shapes) + "]"
    if not layer.built or layer._build_input_shape is None:
        return "?"
    try:
        shape = layer.compute_output_shape(layer._build_input_shape)
    except NotImplementedError:
        return "?"
    if isinstance(shape, list):
        return "[" + ", ".join(_format_shape(s) for s in shape) + "]"
    return _format_shape(shape)


def _is_sequential_like(model) -> bool:
    nodes_by_depth = getattr(model, "_nodes_by_depth", None)
    if nodes_by_depth is None:
        return True
    nodes = []
    for group in nodes_by_depth.values():
        if len(group) > 1 or (len(group) == 1 and len(group[0].input_tensors) > 1):
            return False
        nodes.extend(group)
    ids = {id(n) for n in nodes}
    for layer in model.layers:
        if sum(id(n) in ids for n in layer._inbound_nodes) > 1:  # shared layer
            return False
    return True


def _connections(layer, relevant: set, plan=None) -> str:
    if isinstance(layer, MaskOp):
        return ", ".join(_source(t) for t in layer.tensors())
    parts = []
    for node in layer._inbound_nodes:
        if relevant and id(node) not in relevant:
            continue
        parts += [_source(t) for t in node.input_tensors]
        mask = recorded_mask(node, plan) if plan is not None else None
        if mask is not None:
            parts.append(_source(mask))
    return ", ".join(parts) if parts else "-"


def _source(t) -> str:
    if isinstance(t, MaskTensor):
        return f"{t.op.name}[0][0]"
    src, node_index, tensor_index = t._keras_history
    return f"{src.name}[{node_index}][{tensor_index}]"


def _row_head(layer) -> list[str]:
    if isinstance(layer, MaskOp):  # a Keras op computing a mask: a row of its own
        return [f"{layer.name} ({layer.cls})", _format_shape(layer.output.shape), "0"]
    return [f"{layer.name} ({type(layer).__name__})", format_layer_shape(layer),
            _params_text(layer)]


def _params_text(layer) -> str:
    if not layer.built:
        return "0 (unbuilt)"
    return f"{layer.count_params():,}"


def summary_text(model, line_length=None, positions=None, show_trainable=False,
                 layer_range=None) -> str:
    functional = hasattr(model, "_operations")
    layers = list(model._operations) if functional else list(model.layers)
    plan = None
    if functional:  # Keras lists its mask ops as rows
        plan, layers = graph_items(model)
    has_ops = any(isinstance(ly, MaskOp) for ly in layers)
    sequential_like = _is_sequential_like(model) and not has_ops if functional else True
    if sequential_like:
        default_length, default_positions = 88, [0.45, 0.80, 1.0]
        header = ["Layer (type)", "Output Shape", "Param #"]
        justify = ["left", "left", "right"]
    else:
        default_length, default_positions = 108, [0.3, 0.56, 0.74, 1.0]
        header = ["Layer (type)", "Output Shape", "Param #", "Connected to"]
        justify = ["left", "left", "right", "left"]
    positions = list(positions or default_positions)
    if show_trainable:
        default_length += 12
        positions = [p * 0.90 for p in positions] + [1.0]
        header.append("Trainable")
        justify.append("center")
    default_length = min(default_length, shutil.get_terminal_size().columns - 4)
    line_length = line_length or default_length
    widths = column_widths(line_length, positions)
    relevant = {id(n) for group in getattr(model, "_nodes_by_depth", {}).values()
                for n in group}

    if layer_range is not None:
        names = [ly.name for ly in layers]
        lo = [i for i, n in enumerate(names) if re.match(layer_range[0], n)]
        hi = [i for i, n in enumerate(names) if re.match(layer_range[1], n)]
        if not lo or not hi:
            raise ValueError("Passed layer_names do not match the layer names in the model. "
                             f"Received: {layer_range}")
        layers = layers[min(lo):max(hi) + 1]

    lines = [f'Model: "{model.name}"', _rule(_TOP, widths)]
    lines += _render_row(header, widths, justify, _HEAD)
    lines.append(_rule(_HEAD_RULE, widths))
    for i, layer in enumerate(layers):
        row = _row_head(layer)
        if not sequential_like:
            row.append(_connections(layer, relevant, plan))
        if show_trainable:
            weights = not isinstance(layer, MaskOp) and layer.weights
            row.append(("Y" if layer.trainable else "N") if weights else "-")
        if i:
            lines.append(_rule(_ROW_RULE, widths))
        lines += _render_row(row, widths, justify, _ROW)
    lines.append(_rule(_BOTTOM, widths))

    trainable, trainable_bytes = _count_and_bytes(model.trainable_weights)
    frozen, frozen_bytes = _count_and_bytes(model.non_trainable_weights)
    opt = getattr(model, "optimizer", None)
    opt_built = getattr(model, "compiled", False) and opt is not None and \
        getattr(opt, "built", True)
    opt_vars = list(getattr(opt, "variables", None) or []) if opt_built else []
    opt_count, opt_bytes = _count_and_bytes(opt_vars)
    total = trainable + frozen + opt_count
    total_bytes = trainable_bytes + frozen_bytes + opt_bytes
    lines.append(f" Total params: {total:,} ({readable_memory_size(total_bytes)})")
    lines.append(f" Trainable params: {trainable:,} ({readable_memory_size(trainable_bytes)})")
    lines.append(f" Non-trainable params: {frozen:,} ({readable_memory_size(frozen_bytes)})")
    if opt_built:
        lines.append(f" Optimizer params: {opt_count:,} ({readable_memory_size(opt_bytes)})")
    return "\n".join(lines) + "\n"


def print_summary(model, line_length=None, positions=None, print_fn=None,
                  show_trainable=False, layer_range=None) -> None:
    """Print (or hand to ``print_fn`` in one call, as Keras 3 does) the summary text."""
    text = summary_text(model, line_length, positions, show_trainable, layer_range)
    if print_fn is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        print_fn(text)
