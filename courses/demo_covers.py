"""Demo course covers drawn with Pillow (``seed_demo``): no downloads, one look per course."""

import hashlib
import io
import random
import textwrap

from PIL import Image, ImageDraw, ImageFont

SIZE = (1280, 720)
# (top-left, bottom-right) gradient colours; dark enough for white text (contrast > 4.5).
PALETTES = [
    ((14, 60, 110), (6, 120, 150)),
    ((70, 24, 110), (150, 40, 110)),
    ((18, 90, 60), (20, 130, 110)),
    ((120, 30, 30), (170, 80, 20)),
    ((30, 40, 90), (80, 60, 160)),
    ((20, 70, 90), (40, 110, 60)),
]


# Pillow's built-in font covers ASCII only: typographic punctuation is drawn as its plain form.
_PLAIN = str.maketrans({"–": "-", "—": "-", "’": "'", "‘": "'", "“": '"', "”": '"', "·": "-"})


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType: the small bitmap font
        return ImageFont.load_default()


def draw_cover(*, title: str, subtitle: str, index: int) -> bytes:
    """A JPEG cover: a diagonal gradient, a pattern seeded by the title, the title in white."""
    top, bottom = PALETTES[index % len(PALETTES)]
    width, height = SIZE
    image = Image.new("RGB", SIZE)
    pixels = ImageDraw.Draw(image)
    for y in range(height):
        share = y / (height - 1)
        colour = tuple(round(a + (b - a) * share) for a, b in zip(top, bottom, strict=True))
        pixels.line([(0, y), (width, y)], fill=colour)

    seed = int(hashlib.sha256(title.encode()).hexdigest()[:8], 16)
    rng = random.Random(seed)
    overlay = Image.new("RGBA", SIZE, (0, 0, 0, 0))
    shapes = ImageDraw.Draw(overlay)
    for _ in range(14):
        x, y, r = rng.randrange(width), rng.randrange(height), rng.randrange(40, 260)
        shapes.ellipse([x - r, y - r, x + r, y + r], outline=(255, 255, 255, 38), width=6)
    image = Image.alpha_composite(image.convert("RGBA"), overlay).convert("RGB")

    title, subtitle = title.translate(_PLAIN), subtitle.translate(_PLAIN)
    text = ImageDraw.Draw(image)
    y = 250
    for line in textwrap.wrap(title, width=24)[:3]:
        text.text((80, y), line, font=_font(72), fill="white")
        y += 88
    for line in textwrap.wrap(subtitle, width=52)[:2]:
        text.text((80, y + 20), line, font=_font(34), fill=(235, 240, 245))
        y += 44
    text.text((80, 80), "MaalEdu", font=_font(40), fill="white")

    out = io.BytesIO()
    image.save(out, "JPEG", quality=88, optimize=True)
    return out.getvalue()
