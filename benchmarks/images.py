"""Chart-like PNG bytes for benchmarks, made once and varied cheaply."""
from __future__ import annotations

import io
import random
import struct
import zlib
from functools import cache


@cache
def chart_png(width: int = 1000, height: int = 600) -> bytes:
    """A random-walk line chart as PNG, about the size of a real candlestick chart."""
    from PIL import Image, ImageDraw  # Pillow ships with matplotlib

    rng = random.Random(42)
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    y, points = height / 2, []
    for x in range(0, width, 4):
        y = min(max(y + rng.uniform(-12, 12), 10), height - 10)
        points.append((x, y))
        draw.rectangle((x, y - rng.uniform(2, 20), x + 2, y + rng.uniform(2, 20)),
                       fill=("#26a69a" if rng.random() > 0.5 else "#ef5350"))
    draw.line(points, fill="black", width=1)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def variant(png: bytes, n: int) -> bytes:
    """The same PNG with a text chunk naming `n`: distinct bytes (and blob key), still valid."""
    data = b"bench\x00" + str(n).encode()
    chunk = struct.pack(">I", len(data)) + b"tEXt" + data
    chunk += struct.pack(">I", zlib.crc32(b"tEXt" + data) & 0xFFFFFFFF)
    return png[:-12] + chunk + png[-12:]  # before the IEND chunk
