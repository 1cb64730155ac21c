"""``Picture`` -> SVG text: a ``<g class="layer">`` per box (title band, lines of
text), a ``<path class="edge">`` with an arrow head per connection, dashed frames for
expanded nested models. Plain SVG 1.1, no scripts, text escaped.

>>> text = to_svg(picture(model))   # doctest: +SKIP
"""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from core.plotting.graph import LINE_H, PAD, Picture, edge_points

TITLE_BG, BODY_BG, INK, EDGE = "#1f2430", "#ffffff", "#1b1e23", "#5b6270"
GREEN, RED = "#228b22", "#b22222"


def _text(x, y, s, colour, bold=False) -> str:
    weight = ' font-weight="bold"' if bold else ""
    return (f'<text x="{x:.1f}" y="{y:.1f}" fill="{colour}"{weight}>{escape(s)}</text>')


def to_svg(pic: Picture, dpi: int = 96) -> str:
    """The picture as an SVG document; ``dpi`` sets the physical size (96 = 1:1)."""
    scale = dpi / 96.0
    w, h = pic.width, pic.height
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{w * scale:.0f}" '
        f'height="{h * scale:.0f}" viewBox="0 0 {w:.0f} {h:.0f}" '
        'font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="14">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" '
        f'markerHeight="8" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="{EDGE}"/>'
        '</marker></defs>',
        f'<rect width="{w:.0f}" height="{h:.0f}" fill="#ffffff"/>',
    ]
    for cl in pic.clusters:
        if not cl.w:
            continue
        out.append(f'<g class="cluster"><rect x="{cl.x:.1f}" y="{cl.y:.1f}" '
                   f'width="{cl.w:.1f}" height="{cl.h:.1f}" rx="6" fill="none" '
                   f'stroke="{EDGE}" stroke-dasharray="6,4"/>'
                   + _text(cl.x + PAD, cl.y + LINE_H, cl.name, EDGE, bold=True) + "</g>")
    boxes = {bx.key: bx for bx in pic.boxes}
    for src, dst in pic.edges:
        x0, y0, x1, y1 = edge_points(pic, boxes[src], boxes[dst])
        out.append(f'<path class="edge" d="M{x0:.1f},{y0:.1f} L{x1:.1f},{y1:.1f}" '
                   f'stroke="{EDGE}" stroke-width="1.5" fill="none" '
                   'marker-end="url(#arrow)"/>')
    for bx in pic.boxes:
        title_h = LINE_H + PAD * 2 if len(bx.lines) > 1 else bx.h
        parts = [f'<g class="layer" id={quoteattr(f"layer-{bx.key}")}>',
                 f'<rect x="{bx.x:.1f}" y="{bx.y:.1f}" width="{bx.w:.1f}" '
                 f'height="{bx.h:.1f}" fill="{BODY_BG}" stroke="{TITLE_BG}"/>',
                 f'<rect x="{bx.x:.1f}" y="{bx.y:.1f}" width="{bx.w:.1f}" '
                 f'height="{title_h:.1f}" fill="{TITLE_BG}"/>',
                 _text(bx.x + PAD, bx.y + PAD + LINE_H - 4, bx.lines[0], "#ffffff", True)]
        for k, line in enumerate(bx.lines[1:]):
            colour = INK
            if bx.trainable is not None and k == len(bx.lines) - 2:
                colour = GREEN if bx.trainable else RED
            parts.append(_text(bx.x + PAD, bx.y + 2 * PAD + (k + 2) * LINE_H - 4 + PAD / 2,
                               line, colour))
        parts.append("</g>")
        out.append("".join(parts))
    out.append("</svg>")
    return "\n".join(out) + "\n"
