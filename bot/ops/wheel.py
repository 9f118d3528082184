"""Drawing Barnets bästa-hjulet (knowledge/hjulet.yaml) as a PNG for /hjulet.

The wheel is a ring of equal sectors, one per life area, around the child in
the middle. The coloured version uses each area's colour; the uncoloured one
is black outlines on white, for printing and for filling in by hand.
Drawn with matplotlib's Agg canvas directly (no pyplot: no global state, no GUI).
"""

from __future__ import annotations

import io
import math
import textwrap

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Circle, Wedge

from bot.knowledge.schema import Wheel

SIZE_INCHES = 8
DPI = 110
INNER = 0.34  # radius of the centre circle
OUTER = 1.0  # radius of the ring


def _text_colour(hex_colour: str) -> str:
    """Black or white, whichever reads better on the colour."""
    r, g, b = (int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return "black" if luminance > 0.5 else "white"


def draw_wheel(wheel: Wheel, *, coloured: bool = True) -> bytes:
    """Returns the wheel as PNG bytes; `coloured=False` gives the outline version."""
    fig = Figure(figsize=(SIZE_INCHES, SIZE_INCHES + 0.6), dpi=DPI, facecolor="white")
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.02, 0.02, 0.96, 0.88))
    ax.set_xlim(-1.12, 1.12)
    ax.set_ylim(-1.12, 1.12)
    ax.set_aspect("equal")
    ax.axis("off")

    n = len(wheel.areas)
    step = 360 / n
    for i, area in enumerate(wheel.areas):
        # Clockwise from the top, as the wheel is read.
        start = 90 - (i + 1) * step
        face = area.color if coloured else "white"
        ax.add_patch(Wedge((0, 0), OUTER, start, start + step, width=OUTER - INNER,
                           facecolor=face, edgecolor="black" if not coloured else "white", linewidth=2))
        middle = math.radians(start + step / 2)
        radius = (OUTER + INNER) / 2
        colour = _text_colour(area.color) if coloured else "black"
        label = "\n".join(textwrap.wrap(area.name, 12))
        ax.text(radius * math.cos(middle), radius * math.sin(middle), label, ha="center", va="center",
                fontsize=13, fontweight="bold", color=colour)
    centre_face = "#ffffff" if not coloured else "#fdf6e3"
    ax.add_patch(Circle((0, 0), INNER, facecolor=centre_face, edgecolor="black", linewidth=2))
    ax.text(0, 0, wheel.center, ha="center", va="center", fontsize=16, fontweight="bold", color="black")
    fig.suptitle(wheel.title, fontsize=18, fontweight="bold", y=0.97)

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", facecolor="white")
    return buffer.getvalue()
