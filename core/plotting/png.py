"""``Picture`` -> PNG bytes with numpy and zlib only (no graphviz, pydot, Pillow or Qt).

Boxes are filled rectangles, text is the 5x7 bitmap font (``font5x7``) scaled by a
whole number, edges are 2-pixel lines sampled along their length with a filled
triangle as the arrow head. The PNG is 8-bit RGB, one IDAT chunk, CRCs by zlib.
``dpi`` scales the picture (96 = one layout unit per pixel), as Keras' dpi does.

>>> from core.plotting.graph import Picture
>>> data = to_png(Picture(width=40, height=20), dpi=96)
>>> data[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
True
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

from core.plotting.font5x7 import glyph
from core.plotting.graph import CHAR_W, LINE_H, PAD, Picture, edge_points

MAX_PIXELS = 60_000_000  # ~180 MB of RGB: a picture past this is refused, not drawn


def _rgb(hex_colour: str) -> np.ndarray:
    return np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)], np.uint8)


TITLE_BG, BODY_BG, INK, EDGE = (_rgb(c) for c in ("#1f2430", "#ffffff", "#1b1e23", "#5b6270"))
WHITE, GREEN, RED = _rgb("#ffffff"), _rgb("#228b22"), _rgb("#b22222")


class _Canvas:
    def __init__(self, w, h, scale):
        self.s = scale
        self.img = np.full((h, w, 3), 255, np.uint8)

    def rect(self, x, y, w, h, colour):
        s, (H, W) = self.s, self.img.shape[:2]
        x0, y0 = max(0, int(round(x * s))), max(0, int(round(y * s)))
        x1, y1 = min(W, int(round((x + w) * s))), min(H, int(round((y + h) * s)))
        if x1 > x0 and y1 > y0:
            self.img[y0:y1, x0:x1] = colour

    def frame(self, x, y, w, h, colour, width=1.0, dash=False):
        t = width / self.s
        for (ax, ay, bw, bh) in ((x, y, w, t), (x, y + h - t, w, t), (x, y, t, h),
                                 (x + w - t, y, t, h)):
            if not dash:
                self.rect(ax, ay, bw, bh, colour)
                continue
            horizontal = bw > bh
            length = bw if horizontal else bh
            for k in np.arange(0, length, 10):
                seg = min(6, length - k)
                if horizontal:
                    self.rect(ax + k, ay, seg, bh, colour)
                else:
                    self.rect(ax, ay + k, bw, seg, colour)

    def text(self, x, baseline, s, colour):
        """``s`` in the bitmap font, 7 font rows tall ending at ``baseline``."""
        k = max(1, int(round(CHAR_W / 6 * self.s)))  # pixels per font pixel
        H, W = self.img.shape[:2]
        top = int(round(baseline * self.s)) - 7 * k
        left = int(round(x * self.s))
        for i, ch in enumerate(s):
            g = np.kron(glyph(ch), np.ones((k, k), bool))
            x0 = left + i * 6 * k
            ys, xs = np.nonzero(g)
            ys, xs = ys + top, xs + x0
            ok = (ys >= 0) & (ys < H) & (xs >= 0) & (xs < W)
            self.img[ys[ok], xs[ok]] = colour

    def line(self, x0, y0, x1, y1, colour, width=2.0):
        s = self.s
        n = int(max(abs(x1 - x0), abs(y1 - y0)) * s * 2) + 2
        t = np.linspace(0.0, 1.0, n)
        xs, ys = (x0 + (x1 - x0) * t) * s, (y0 + (y1 - y0) * t) * s
        r = max(1, int(round(width * s / 2)))
        H, W = self.img.shape[:2]
        for dy in range(-r + 1, r):
            for dx in range(-r + 1, r):
                px = np.clip(np.round(xs + dx).astype(int), 0, W - 1)
                py = np.clip(np.round(ys + dy).astype(int), 0, H - 1)
                self.img[py, px] = colour

    def arrow_head(self, x0, y0, x1, y1, colour, size=9.0):
        """A filled triangle with its tip at (x1, y1), pointing along the edge."""
        s = self.s
        d = np.array([x1 - x0, y1 - y0], float)
        d /= max(np.hypot(*d), 1e-9)
        n = np.array([-d[1], d[0]])
        tip = np.array([x1, y1]) * s
        base = tip - d * size * s
        pts = np.array([tip, base + n * size * s / 2, base - n * size * s / 2])
        lo = np.floor(pts.min(0)).astype(int)
        hi = np.ceil(pts.max(0)).astype(int) + 1
        H, W = self.img.shape[:2]
        lo, hi = np.maximum(lo, 0), np.minimum(hi, [W, H])
        if (hi <= lo).any():
            return
        gx, gy = np.meshgrid(np.arange(lo[0], hi[0]) + 0.5, np.arange(lo[1], hi[1]) + 0.5)
        inside = np.ones(gx.shape, bool)
        for a, b in ((pts[0], pts[1]), (pts[1], pts[2]), (pts[2], pts[0])):
            cross = (b[0] - a[0]) * (gy - a[1]) - (b[1] - a[1]) * (gx - a[0])
            inside &= cross <= 0 if _clockwise(pts) else cross >= 0
        self.img[lo[1]:hi[1], lo[0]:hi[0]][inside] = colour


def _clockwise(p) -> bool:
    return ((p[1][0] - p[0][0]) * (p[2][1] - p[0][1])
            - (p[1][1] - p[0][1]) * (p[2][0] - p[0][0])) < 0


def render(pic: Picture, dpi: int = 96) -> np.ndarray:
    """The picture as an (H, W, 3) uint8 array."""
    scale = dpi / 96.0
    w, h = int(np.ceil(pic.width * scale)), int(np.ceil(pic.height * scale))
    if w * h > MAX_PIXELS:
        raise ValueError(f"plot_model: a {w} x {h} image at dpi={dpi} is too large "
                         f"(limit {MAX_PIXELS} pixels); lower dpi or write SVG.")
    c = _Canvas(w, h, scale)
    for cl in pic.clusters:
        if cl.w:
            c.frame(cl.x, cl.y, cl.w, cl.h, EDGE, dash=True)
            c.text(cl.x + PAD, cl.y + LINE_H, cl.name, EDGE)
    boxes = {bx.key: bx for bx in pic.boxes}
    for src, dst in pic.edges:
        x0, y0, x1, y1 = edge_points(pic, boxes[src], boxes[dst])
        c.line(x0, y0, x1, y1, EDGE)
        c.arrow_head(x0, y0, x1, y1, EDGE)
    for bx in pic.boxes:
        title_h = LINE_H + PAD * 2 if len(bx.lines) > 1 else bx.h
        c.rect(bx.x, bx.y, bx.w, bx.h, BODY_BG)
        c.rect(bx.x, bx.y, bx.w, title_h, TITLE_BG)
        c.frame(bx.x, bx.y, bx.w, bx.h, TITLE_BG)
        c.text(bx.x + PAD, bx.y + PAD + LINE_H - 4, bx.lines[0], WHITE)
        for k, line in enumerate(bx.lines[1:]):
            colour = INK
            if bx.trainable is not None and k == len(bx.lines) - 2:
                colour = GREEN if bx.trainable else RED
            c.text(bx.x + PAD, bx.y + 2 * PAD + (k + 2) * LINE_H - 4 + PAD / 2, line, colour)
    return c.img


def png_bytes(img: np.ndarray, dpi: int = 96) -> bytes:
    """An 8-bit RGB PNG of ``img`` (with its pixel density in a pHYs chunk)."""
    h, w = img.shape[:2]
    raw = np.concatenate([np.zeros((h, 1), np.uint8), img.reshape(h, w * 3)], axis=1)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    ppm = int(round(dpi / 0.0254))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"pHYs", struct.pack(">IIB", ppm, ppm, 1))
            + chunk(b"IDAT", zlib.compress(raw.tobytes(), 6))
            + chunk(b"IEND", b""))


def to_png(pic: Picture, dpi: int = 96) -> bytes:
    return png_bytes(render(pic, dpi), dpi)
