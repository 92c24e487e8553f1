"""The app's page icon, drawn here: a row of three houses of different heights.

Streamlit serves an image icon from the app's own server; a Material or emoji icon would be fetched
from a font host, which fails offline and tells that host the page was opened.
"""

from __future__ import annotations

from functools import cache

from PIL import Image, ImageDraw

INK = (38, 70, 140, 255)


@cache
def page_icon(size: int = 64) -> Image.Image:
    """A size × size RGBA icon (drawn once per process)."""
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    unit = size / 16
    for left, height in ((0.5, 7), (5.5, 10), (10.5, 6)):  # in sixteenths of the side: each house's left edge and wall height
        right, ground, eaves = left + 5, 15.5, 15.5 - height
        walls = [
            (left * unit, ground * unit),
            (left * unit, eaves * unit),
            (right * unit, eaves * unit),
            (right * unit, ground * unit),
        ]
        draw.polygon(walls, fill=INK)
        draw.polygon(
            [
                (left * unit - unit / 2, eaves * unit),
                ((left + 2.5) * unit, (eaves - 3) * unit),
                (right * unit + unit / 2, eaves * unit),
            ],
            fill=INK,
        )
        door = ((left + 1.8) * unit, (ground - 2.5) * unit, (left + 3.2) * unit, ground * unit)
        draw.rectangle(door, fill=(0, 0, 0, 0))
    return image
