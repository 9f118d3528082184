"""Method material in Telegram: /hjulet draws Barnets bästa-hjulet, /material lists all materials."""

from __future__ import annotations

import io

import numpy as np
from matplotlib.image import imread

from bot.ops.wheel import draw_wheel


def _has_colour(png: bytes, hex_colour: str) -> bool:
    pixels = imread(io.BytesIO(png))[..., :3]
    target = np.array([int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)])
    return bool((np.abs(pixels - target).max(axis=-1) < 0.02).any())


async def test_hjulet_sends_the_coloured_wheel_with_its_questions(fake_api, lotsen, kb):
    """/hjulet sends a PNG in the areas' colours; the caption lists every area's question."""
    photo = await fake_api.user(8001).ask("/hjulet")
    assert photo.method == "sendPhoto"
    png = next(iter(photo.files.values()))[1]
    assert png.startswith(b"\x89PNG")
    assert all(_has_colour(png, area.color) for area in kb.wheel.areas)
    assert all(area.name in photo.text for area in kb.wheel.areas)


async def test_hjulet_ofargat_is_outlines_for_printing(fake_api, lotsen, kb):
    """/hjulet ofärgat sends the outline version: none of the areas' colours."""
    photo = await fake_api.user(8002).ask("/hjulet ofärgat")
    png = next(iter(photo.files.values()))[1]
    assert not any(_has_colour(png, area.color) for area in kb.wheel.areas)
    assert "ofärgat" in photo.text


def test_the_wheel_is_drawn_from_the_knowledge_base(kb):
    """Both versions are PNG images, and they differ."""
    coloured, outline = draw_wheel(kb.wheel), draw_wheel(kb.wheel, coloured=False)
    assert coloured.startswith(b"\x89PNG") and outline.startswith(b"\x89PNG") and coloured != outline


async def test_material_lists_every_material(fake_api, lotsen, kb):
    """/material lists every material's title, in one or more messages."""
    user = fake_api.user(8003)
    first = await user.ask("/material")
    texts = [first.text]
    while not all(m.title.replace("&", "&amp;") in "\n".join(texts) for m in kb.materials.values()):
        texts.append((await user.next_message()).text)
    assert texts[0].startswith("<b>Metodmaterial</b>")
