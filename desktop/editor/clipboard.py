"""Copy / paste of a selection of nodes as JSON (types, configs, call arguments,
shared-layer links, relative positions and the wires between them) — plain data,
never code.

A node's recorded call arguments (``NodeData.call``, ``core.graph.calls``) travel with
it. A shared layer (one layer, a card per call, ``NodeData.shares``) pastes as a *new*
layer: the pasted calls are linked among themselves as the copied ones were, never to
the original (Keras' copy of a layer is a new layer with its own weights). When the
selection held only some calls of a shared layer, ``paste_notes`` says so.

>>> # payload = copy_payload(doc, ["n2", "n3"]); new_ids = paste_payload(doc, payload, (40, 40))
"""

from __future__ import annotations

import json

from core.graph.calls import owner, parse_call, share_set
from core.graph.datatypes import GraphError, copy_json

NODES_MIME = "application/x-netweaver-nodes"


def copy_payload(doc, node_ids) -> dict:
    """The selection as plain data. ``shares`` names the copied node's owner (the card
    holding the layer); ``share_calls`` the number of calls its layer had, so paste can
    tell a whole shared layer from a part of one."""
    keep = set(node_ids)
    ids = [i for i in doc.nodes if i in keep]  # network order: owners before later calls
    nodes = []
    for i in ids:
        n = doc.nodes[i]
        item = {"id": i, "type": n.type, "config": copy_json(n.config), "pos": list(n.pos)}
        if n.call:
            item["call"] = copy_json(n.call)
        calls = share_set(doc, i)
        if len(calls) > 1:
            item["shares"] = owner(doc, i)
            item["share_calls"] = len(calls)
        nodes.append(item)
    return {
        "nodes": nodes,
        "edges": [[e.src, e.dst, e.dst_port] for e in doc.edges
                  if e.src in keep and e.dst in keep],
    }


def encode(payload: dict) -> bytes:
    return json.dumps(payload).encode("utf-8")


def decode(data: bytes) -> dict | None:
    """Parse clipboard bytes; None when they are not a node payload."""
    try:
        payload = json.loads(bytes(data).decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("nodes"), list):
        return None
    return payload


def _share_groups(items) -> dict:
    """Copied owner id -> the payload items calling its layer (payload order)."""
    groups: dict = {}
    for item in items:
        s = item.get("shares")
        if s is None:
            continue
        if not isinstance(s, str) or isinstance(item.get("share_calls"), bool) or \
                not isinstance(item.get("share_calls"), int) or item["share_calls"] < 2:
            raise GraphError(f"Pasted node {item.get('id')!r} has a bad shared-layer link.")
        groups.setdefault(s, []).append(item)
    return groups


def paste_notes(payload: dict) -> list[str]:
    """What the status bar says after a paste: shared layers of which only some calls
    were copied (they became a layer of their own)."""
    out = []
    try:
        groups = _share_groups(payload.get("nodes", []))
    except GraphError:
        return out
    for items in groups.values():
        total = items[0]["share_calls"]
        if len(items) < total:
            out.append(f"{len(items)} of the {total} calls of a shared "
                       f"{items[0].get('type', 'layer')} were pasted: they got a layer of "
                       "their own (new weights), not linked to the original.")
    return out


def paste_payload(doc, payload: dict, offset=(40.0, 40.0)) -> list[str]:
    """Add the payload's nodes (fresh ids and names), their call arguments and shared
    links, and the inner wires; return the new ids.

    Meant to run inside ``doc.batch()`` (``DocStateCommand``) so a bad payload
    changes nothing.
    """
    items = payload["nodes"]
    groups = _share_groups(items)
    mapping = {}  # copied id -> new id
    for item in items:
        x, y = item["pos"]
        new = doc.add_node(item["type"], dict(item["config"]),
                           (x + offset[0], y + offset[1]))
        doc.nodes[new].call = parse_call(item.get("call"), f"pasted node {item['id']!r}")
        mapping[item["id"]] = new
    for s, calls in groups.items():
        if len(calls) < 2:
            continue  # one call of a shared layer: a layer of its own
        ids = [c["id"] for c in calls]
        # The copied owner stays the owner (it comes first in the network, and the
        # checks order a layer's later calls after it); else the first pasted call.
        first = mapping[s] if s in ids else mapping[ids[0]]
        base = doc.nodes[first].name
        for i in ids:
            if mapping[i] == first:
                continue
            doc.nodes[mapping[i]].shares = first
            k = 2
            while doc.node_by_name(f"{base} (call {k})") is not None:
                k += 1
            doc.rename_node(mapping[i], f"{base} (call {k})")
    for src, dst, port in payload.get("edges", []):
        if src in mapping and dst in mapping:
            doc.connect(mapping[src], mapping[dst], port)
    if groups or any(item.get("call") for item in items):
        doc.revalidate_all()  # links and call arguments were set on the nodes directly
    return list(mapping.values())
