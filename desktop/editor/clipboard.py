"""Copy / paste of a selection of nodes as JSON (types, configs, relative
positions and the wires between them) — plain data, never code.

>>> # payload = copy_payload(doc, ["n2", "n3"]); new_ids = paste_payload(doc, payload, (40, 40))
"""

from __future__ import annotations

import json

NODES_MIME = "application/x-netweaver-nodes"


def copy_payload(doc, node_ids) -> dict:
    ids = [i for i in node_ids if i in doc.nodes]
    keep = set(ids)
    return {
        "nodes": [{"id": i, "type": doc.nodes[i].type, "config": doc.nodes[i].config,
                   "pos": list(doc.nodes[i].pos)} for i in ids],
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


def paste_payload(doc, payload: dict, offset=(40.0, 40.0)) -> list[str]:
    """Add the payload's nodes (fresh ids and names) and inner wires; return new ids.

    Meant to run inside ``doc.batch()`` (``DocStateCommand``) so a bad payload
    changes nothing.
    """
    mapping = {}
    for item in payload["nodes"]:
        x, y = item["pos"]
        mapping[item["id"]] = doc.add_node(item["type"], dict(item["config"]),
                                           (x + offset[0], y + offset[1]))
    for src, dst, port in payload.get("edges", []):
        if src in mapping and dst in mapping:
            doc.connect(mapping[src], mapping[dst], port)
    return list(mapping.values())
